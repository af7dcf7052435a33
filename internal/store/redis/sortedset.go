package redis

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/redis/rueidis"

	"github.com/thaw-dev/thaw/internal/store"
)

// Sorted sets: a ZSET per item (ties ordered by value bytewise, as the
// store asks), its payload size in the companion.

var (
	// sortedSetPutScript: the write arguments, then score, value pairs.
	sortedSetPutScript = newScript(writeArgsLua + `
local exists = exists_as(D, 'zset')
local at = exists and expiry(D)
if #ARGV == 4 then
  if exists and refresh then touch(D, M, ttl) end
  return 0
end
local size = exists and current_size(D, M, 'zset', keylen) or keylen
local seen = {}
for i = 6, #ARGV, 2 do
  local v = ARGV[i]
  if not seen[v] then
    seen[v] = true
    if not exists or not redis.call('ZSCORE', D, v) then size = size + #v + 8 end
  end
end
check_size(size, maxsize)
call_chunks('ZADD', D, ARGV, 5, #ARGV, 2)
finish(D, M, size, (not exists) or refresh, ttl, at)
return 0
`)

	// sortedSetFetchByRankScript: ARGV start, end, whether the range runs
	// to the end, "1" for descending. It answers {0} for a missing set,
	// else {1, value, score, ...}.
	sortedSetFetchByRankScript = newReadScript(`
local D = KEYS[1]
if not exists_as(D, 'zset') then return {0} end
local n = redis.call('ZCARD', D)
local lo, hi = tonumber(ARGV[1]), tonumber(ARGV[2])
if ARGV[3] == '1' then hi = n end
if lo < 0 then lo = math.max(lo + n, 0) end
if hi < 0 then hi = hi + n end
hi = math.min(hi, n)
if lo >= hi then return {1, {}} end
if ARGV[4] == '1' then
  return {1, redis.call('ZRANGE', D, lo, hi - 1, 'REV', 'WITHSCORES')}
end
return {1, redis.call('ZRANGE', D, lo, hi - 1, 'WITHSCORES')}
`)

	// sortedSetFetchByScoreScript: ARGV min, max (ZRANGE BYSCORE bounds),
	// "1" for descending, offset, count. Answers as by rank.
	sortedSetFetchByScoreScript = newReadScript(`
local D = KEYS[1]
if not exists_as(D, 'zset') then return {0} end
local offset, count = tonumber(ARGV[4]), tonumber(ARGV[5])
if count == 0 or offset < 0 then return {1, {}} end
if ARGV[3] == '1' then
  return {1, redis.call('ZRANGE', D, ARGV[2], ARGV[1], 'BYSCORE', 'REV', 'LIMIT', ARGV[4], ARGV[5], 'WITHSCORES')}
end
return {1, redis.call('ZRANGE', D, ARGV[1], ARGV[2], 'BYSCORE', 'LIMIT', ARGV[4], ARGV[5], 'WITHSCORES')}
`)

	// sortedSetGetScoresScript: ARGV the values. It answers {0} for a
	// missing set, else {1, ZMSCORE}.
	sortedSetGetScoresScript = newReadScript(`
local D = KEYS[1]
if not exists_as(D, 'zset') then return {0} end
local out = {}
local i = 1
while i <= #ARGV do
  local j = math.min(i + 999, #ARGV)
  local r = redis.call('ZMSCORE', D, unpack(ARGV, i, j))
  for k = 1, #r do out[#out + 1] = r[k] end
  i = j + 1
end
return {1, out}
`)

	// sortedSetGetRankScript: ARGV the value, "1" for descending. It
	// answers {0} for a missing set, else {1, rank} (-1: not ranked).
	sortedSetGetRankScript = newReadScript(`
local D = KEYS[1]
if not exists_as(D, 'zset') then return {0} end
local r
if ARGV[2] == '1' then r = redis.call('ZREVRANK', D, ARGV[1]) else r = redis.call('ZRANK', D, ARGV[1]) end
if not r then return {1, -1} end
return {1, r}
`)

	// sortedSetRemoveScript: ARGV[1] the key's length, then the values.
	sortedSetRemoveScript = newScript(`
local D, M, keylen = KEYS[1], KEYS[2], tonumber(ARGV[1])
if not exists_as(D, 'zset') then return 0 end
if #ARGV == 1 then return 0 end
local at = expiry(D)
local size = current_size(D, M, 'zset', keylen)
local values = unique(ARGV, 2)
for _, v in ipairs(values) do
  if redis.call('ZSCORE', D, v) then size = size - #v - 8 end
end
call_chunks('ZREM', D, values, 1, #values, 1)
finish(D, M, size, false, nil, at)
return 0
`)

	// sortedSetIncrementScript: the write arguments, the value and the
	// amount. It answers the new score.
	sortedSetIncrementScript = newScript(writeArgsLua + `
local v, amount = ARGV[5], ARGV[6]
local exists = exists_as(D, 'zset')
local at = exists and expiry(D)
local size = exists and current_size(D, M, 'zset', keylen) or keylen
local old = false
if exists then old = redis.call('ZSCORE', D, v) end
if old then
  -- As Redis refuses +inf plus -inf, before the size check as the memory
  -- store does.
  local sum = tonumber(old) + tonumber(amount)
  if sum ~= sum then return redis.error_reply('THAW_NAN the score would be NaN') end
else
  size = size + #v + 8
end
check_size(size, maxsize)
local r = redis.pcall('ZINCRBY', D, amount, v)
if type(r) == 'table' and r.err then
  return redis.error_reply('THAW_NAN ' .. r.err)
end
finish(D, M, size, (not exists) or refresh, ttl, at)
return r
`)

	// sortedSetLengthByScoreScript: ARGV min and max (ZCOUNT bounds). It
	// answers {0} for a missing set, else {1, count}.
	sortedSetLengthByScoreScript = newReadScript(`
local D = KEYS[1]
if not exists_as(D, 'zset') then return {0} end
return {1, redis.call('ZCOUNT', D, ARGV[1], ARGV[2])}
`)

	// sortedSetStoreScript: ARGV[1] the key's length, ARGV[2] the TTL in
	// ms, ARGV[3] MaxSize, ARGV[4] the new payload size, then score, value
	// pairs. It replaces the sorted set under KEYS[1] with them and
	// answers its length.
	sortedSetStoreScript = newScript(`
local D, M, ttl, maxsize, size = KEYS[1], KEYS[2], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
exists_as(D, 'zset')
check_size(size, maxsize)
redis.call('UNLINK', D, M)
if #ARGV == 4 then return 0 end
call_chunks('ZADD', D, ARGV, 5, #ARGV, 2)
finish(D, M, size, true, ttl, nil)
return redis.call('ZCARD', D)
`)
)

// scoreArg renders a score for ZADD or ZINCRBY, infinities included.
func scoreArg(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// boundArg renders one end of a score range for ZRANGE BYSCORE or ZCOUNT;
// unbounded is the infinity on that side.
func boundArg(b store.ScoreBound, unbounded string) string {
	if b.Unbounded {
		return unbounded
	}
	if b.Exclusive {
		return "(" + scoreArg(b.Score)
	}
	return scoreArg(b.Score)
}

// rangeBounds renders r's ends.
func rangeBounds(r store.ScoreRange) (lo, hi string) {
	return boundArg(r.Min, "-inf"), boundArg(r.Max, "+inf")
}

func zsetNaN(op, what string) error {
	return fmt.Errorf("redis: %s: %s is NaN: %w", op, what, store.ErrInvalidScore)
}

// SortedSetPut adds elements or sets their scores: ZADD plus the TTL and
// size bookkeeping in one script.
func (s *Store) SortedSetPut(ctx context.Context, cacheName string, key []byte, elements []store.SortedSetElement, w store.CollectionWrite) error {
	const op = "sorted set put"
	for _, e := range elements {
		if math.IsNaN(e.Score) {
			return zsetNaN(op, fmt.Sprintf("the score of %q", e.Value))
		}
	}
	data, companion, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return err
	}
	if err := checkTTL(op, w.TTL); err != nil {
		return err
	}
	args := writeArgs(key, w, 2*len(elements))
	for _, e := range elements {
		args = append(args, scoreArg(e.Score), bin(e.Value))
	}
	return s.wrap(ctx, op, sortedSetPutScript.Exec(ctx, s.client, []string{data, companion}, args).Error())
}

// SortedSetFetchByRank returns the elements at ranks r: ZCARD and ZRANGE
// [REV] WITHSCORES in one script.
func (s *Store) SortedSetFetchByRank(ctx context.Context, cacheName string, key []byte, r store.RankRange, order store.SortedSetOrder) ([]store.SortedSetElement, bool, error) {
	const op = "sorted set fetch by rank"
	data, _, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return nil, false, err
	}
	args := []string{itoa(r.Start), itoa(r.End), boolArg(r.ToEnd), boolArg(order == store.Descending)}
	return s.fetchElements(ctx, op, sortedSetFetchByRankScript, data, args)
}

// SortedSetFetchByScore returns the elements with scores in r: ZRANGE
// BYSCORE [REV] LIMIT WITHSCORES after an existence check, in one script.
func (s *Store) SortedSetFetchByScore(ctx context.Context, cacheName string, key []byte, r store.ScoreRange, order store.SortedSetOrder, offset, count int) ([]store.SortedSetElement, bool, error) {
	const op = "sorted set fetch by score"
	if err := r.Valid(); err != nil {
		return nil, false, fmt.Errorf("redis: %s: %w", op, err)
	}
	data, _, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return nil, false, err
	}
	lo, hi := rangeBounds(r)
	if count < 0 {
		count = -1
	}
	args := []string{lo, hi, boolArg(order == store.Descending), itoa(offset), itoa(count)}
	return s.fetchElements(ctx, op, sortedSetFetchByScoreScript, data, args)
}

// fetchElements runs a script that answers {0} or {1, value, score, ...}.
func (s *Store) fetchElements(ctx context.Context, op string, script *rueidis.Lua, data string, args []string) ([]store.SortedSetElement, bool, error) {
	flat, found, err := s.foundArray(ctx, op, script, []string{data}, args)
	if err != nil || !found {
		return nil, false, err
	}
	if len(flat)%2 != 0 {
		return nil, false, fmt.Errorf("redis: %s: odd reply of %d elements", op, len(flat))
	}
	out := make([]store.SortedSetElement, len(flat)/2)
	for i := range out {
		v, err := flat[2*i].AsBytes()
		if err != nil {
			return nil, false, s.wrap(ctx, op, err)
		}
		score, err := parseScore(&flat[2*i+1])
		if err != nil {
			return nil, false, fmt.Errorf("redis: %s: %w", op, err)
		}
		out[i] = store.SortedSetElement{Value: v, Score: score}
	}
	return out, true, nil
}

// parseScore reads a score as a script returns it (a string, "inf" and
// "-inf" included).
func parseScore(m *rueidis.RedisMessage) (float64, error) {
	text, err := m.ToString()
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return 0, fmt.Errorf("malformed score %q", text)
	}
	return f, nil
}

// SortedSetGetScores returns the score of each value: ZMSCORE after an
// existence check, in one script.
func (s *Store) SortedSetGetScores(ctx context.Context, cacheName string, key []byte, values [][]byte) ([]store.SortedSetScore, bool, error) {
	const op = "sorted set get scores"
	data, _, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return nil, false, err
	}
	args := make([]string, len(values))
	for i, v := range values {
		args[i] = bin(v)
	}
	res, found, err := s.foundArray(ctx, op, sortedSetGetScoresScript, []string{data}, args)
	if err != nil || !found {
		return nil, false, err
	}
	if len(res) != len(values) {
		return nil, false, fmt.Errorf("redis: %s: %d scores for %d values", op, len(res), len(values))
	}
	out := make([]store.SortedSetScore, len(res))
	for i := range res {
		if res[i].IsNil() {
			continue
		}
		score, err := parseScore(&res[i])
		if err != nil {
			return nil, false, fmt.Errorf("redis: %s: %w", op, err)
		}
		out[i] = store.SortedSetScore{Score: score, Found: true}
	}
	return out, true, nil
}

// SortedSetGetRank returns the rank of value: ZRANK or ZREVRANK after an
// existence check, in one script.
func (s *Store) SortedSetGetRank(ctx context.Context, cacheName string, key, value []byte, order store.SortedSetOrder) (int, bool, bool, error) {
	const op = "sorted set get rank"
	data, _, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return 0, false, false, err
	}
	res, err := sortedSetGetRankScript.Exec(ctx, s.client, []string{data}, []string{bin(value), boolArg(order == store.Descending)}).AsIntSlice()
	if err != nil {
		return 0, false, false, s.wrap(ctx, op, err)
	}
	if len(res) != 2 || res[0] == 0 {
		return 0, false, false, nil
	}
	if res[1] < 0 {
		return 0, false, true, nil
	}
	return int(res[1]), true, true, nil
}

// SortedSetRemove removes values: ZREM and the size bookkeeping in one
// script.
func (s *Store) SortedSetRemove(ctx context.Context, cacheName string, key []byte, values [][]byte) error {
	const op = "sorted set remove"
	data, companion, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return err
	}
	args := make([]string, 1, 1+len(values))
	args[0] = itoa(len(key))
	for _, v := range values {
		args = append(args, bin(v))
	}
	return s.wrap(ctx, op, sortedSetRemoveScript.Exec(ctx, s.client, []string{data, companion}, args).Error())
}

// SortedSetDelete deletes the sorted set: TYPE and UNLINK in one script.
func (s *Store) SortedSetDelete(ctx context.Context, cacheName string, key []byte) error {
	_, err := s.deleteCollection(ctx, "sorted set delete", "zset", cacheName, key)
	return err
}

// SortedSetIncrement adds amount to the score of value: ZINCRBY plus the
// TTL and size bookkeeping in one script.
func (s *Store) SortedSetIncrement(ctx context.Context, cacheName string, key, value []byte, amount float64, w store.CollectionWrite) (float64, error) {
	const op = "sorted set increment"
	if math.IsNaN(amount) {
		return 0, zsetNaN(op, "the amount")
	}
	data, companion, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return 0, err
	}
	if err := checkTTL(op, w.TTL); err != nil {
		return 0, err
	}
	args := append(writeArgs(key, w, 2), bin(value), scoreArg(amount))
	text, err := sortedSetIncrementScript.Exec(ctx, s.client, []string{data, companion}, args).ToString()
	if err != nil {
		return 0, s.wrap(ctx, op, err)
	}
	score, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return 0, fmt.Errorf("redis: %s: malformed score %q", op, text)
	}
	return score, nil
}

// SortedSetLength returns the number of elements: ZCARD.
func (s *Store) SortedSetLength(ctx context.Context, cacheName string, key []byte) (int, bool, error) {
	return s.length(ctx, "sorted set length", cacheName, key, func(k string) rueidis.Completed {
		return s.client.B().Zcard().Key(k).Build()
	})
}

// SortedSetLengthByScore returns the number of elements with scores in r:
// ZCOUNT after an existence check, in one script.
func (s *Store) SortedSetLengthByScore(ctx context.Context, cacheName string, key []byte, r store.ScoreRange) (int, bool, error) {
	const op = "sorted set length by score"
	if err := r.Valid(); err != nil {
		return 0, false, fmt.Errorf("redis: %s: %w", op, err)
	}
	data, _, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return 0, false, err
	}
	lo, hi := rangeBounds(r)
	res, err := sortedSetLengthByScoreScript.Exec(ctx, s.client, []string{data}, []string{lo, hi}).AsIntSlice()
	if err != nil {
		return 0, false, s.wrap(ctx, op, err)
	}
	if len(res) != 2 || res[0] == 0 {
		return 0, false, nil
	}
	return int(res[1]), true, nil
}

// SortedSetUnionStore replaces dest with the weighted union of the
// sources. The keys of a cache are in different hash slots, so no one
// script can see them all: it reads each source with one ZRANGE WITHSCORES
// (pipelined; each read is atomic), combines them here as ZUNIONSTORE
// would (a NaN product or sum counts as 0), and writes dest in one script
// that checks its type and size and sets its TTL. A write to a source that
// races with the union is seen or not as if it came after or before that
// source's read: the per-source snapshot the store interface describes.
func (s *Store) SortedSetUnionStore(ctx context.Context, cacheName string, dest []byte, sources []store.SortedSetSource, aggregate store.SortedSetAggregate, w store.CollectionWrite) (int, error) {
	const op = "sorted set union store"
	combine, err := aggregate.Combine()
	if err != nil {
		return 0, fmt.Errorf("redis: %s: %w", op, err)
	}
	for _, src := range sources {
		if math.IsNaN(float64(src.Weight)) {
			return 0, zsetNaN(op, fmt.Sprintf("the weight of source %q", src.Key))
		}
	}
	c, err := s.cache(ctx, op, cacheName)
	if err != nil {
		return 0, err
	}
	if err := checkTTL(op, w.TTL); err != nil {
		return 0, err
	}

	// Each distinct source is read once; one listed twice counts twice.
	index := map[string]int{}
	var cmds rueidis.Commands
	for _, src := range sources {
		if _, ok := index[string(src.Key)]; !ok {
			index[string(src.Key)] = len(cmds)
			cmds = append(cmds, s.client.B().Zrange().Key(c.itemKey(src.Key)).Min("0").Max("-1").Withscores().Build())
		}
	}
	read := make([][]rueidis.ZScore, len(cmds))
	if len(cmds) > 0 {
		for i, res := range s.client.DoMulti(ctx, cmds...) {
			if read[i], err = res.AsZScores(); err != nil {
				return 0, s.wrap(ctx, op, err)
			}
		}
	}
	union := map[string]float64{}
	for _, src := range sources {
		weight := float64(src.Weight)
		for _, z := range read[index[string(src.Key)]] {
			score := weight * z.Score
			if math.IsNaN(score) { // 0 × ±Inf, as Redis
				score = 0
			}
			if prev, ok := union[z.Member]; ok {
				score = combine(prev, score)
			}
			union[z.Member] = score
		}
	}

	size := len(dest)
	args := make([]string, 4, 4+2*len(union))
	for value, score := range union {
		size += len(value) + 8
		args = append(args, scoreArg(score), value)
	}
	args[0], args[1], args[2], args[3] = itoa(len(dest)), millis(w.TTL), itoa(max(w.MaxSize, 0)), itoa(size)
	data, companion := c.itemKeys(dest)
	n, err := sortedSetStoreScript.Exec(ctx, s.client, []string{data, companion}, args).AsInt64()
	if err != nil {
		return 0, s.wrap(ctx, op, err)
	}
	return int(n), nil
}
