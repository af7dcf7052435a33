package redis

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/rueidis"

	"github.com/thaw-dev/thaw/internal/store"
)

// Leaderboards: one ZSET per (cache, leaderboard) in the cache's
// leaderboard key space (see keys.go), its members the ids as 4-byte
// big-endian strings, so that Redis's bytewise order of tied scores is the
// ids' numeric order and ZREVRANGE its exact reverse.
//
// Flush and delete. A cache's items live under its epoch, which FlushCache
// replaces; its leaderboards live under its generation, the epoch it was
// created with, which FlushCache keeps: a flush never sees them, neither
// the new epoch nor the sweep of the old one (whose SCAN MATCH covers
// "<ns>:{…" only). DeleteCache drops the generation from the registry, so
// that the leaderboards vanish from view at once and a re-created cache
// starts on a new, empty generation, and queues "lb:<gen>:<name>" in the
// sweep set in the same script. The sweep then runs dropLeaderboardsScript
// on the generation's one slot: it sets the tombstone and UNLINKs every
// leaderboard the index names. Leaderboards have no TTL, so, unlike an
// item, one written late into a deleted generation would stay for ever: a
// node that has not yet seen the deletion (at most Config.RegistryPoll)
// can still send an upsert, and the upsert script refuses to write once
// the tombstone is there (store.ErrCacheNotFound). An upsert that ran
// before the drop is in the index, so the drop removes it. The tombstone
// outlives any such straggler by far (leaderboardTombstoneTTL); generations
// are epochs, never given out twice, so it can never hide a live cache.

var _ store.LeaderboardStore = (*Store)(nil)

// leaderboardSweepPrefix starts the sweep-set member of a deleted cache's
// leaderboards, "lb:<gen>:<name>".
const leaderboardSweepPrefix = "lb:"

// leaderboardTombstoneTTL is how long a deleted generation refuses writes.
const leaderboardTombstoneTTL = 24 * time.Hour

var (
	// leaderboardUpsertScript: KEYS the leaderboard, the index and the
	// tombstone; ARGV the leaderboard's name, then score, member pairs.
	leaderboardUpsertScript = newScript(`
local B, I, X = KEYS[1], KEYS[2], KEYS[3]
if redis.call('EXISTS', X) == 1 then
  return redis.error_reply('THAW_NOTFOUND the cache was deleted')
end
call_chunks('ZADD', B, ARGV, 2, #ARGV, 2)
redis.call('SADD', I, ARGV[1])
return 0
`)

	// leaderboardRemoveScript: KEYS the leaderboard and the index; ARGV
	// the leaderboard's name, then the members. A leaderboard left empty
	// (which Redis has deleted) leaves the index too.
	leaderboardRemoveScript = newScript(`
local B, I = KEYS[1], KEYS[2]
if redis.call('EXISTS', B) == 0 then return 0 end
call_chunks('ZREM', B, ARGV, 2, #ARGV, 1)
if redis.call('EXISTS', B) == 0 then redis.call('SREM', I, ARGV[1]) end
return 0
`)

	// leaderboardDeleteScript: KEYS the leaderboard and the index; ARGV
	// the leaderboard's name.
	leaderboardDeleteScript = newScript(`
redis.call('UNLINK', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return 0
`)

	// leaderboardFetchByScoreScript: KEYS the leaderboard; ARGV min, max
	// (ZRANGE BYSCORE bounds), "1" for descending, offset, count. It
	// answers {rank of the first element returned (-1: none), {member,
	// score, ...}}.
	leaderboardFetchByScoreScript = newReadScript(`
local B, desc = KEYS[1], ARGV[3] == '1'
local r
if desc then
  r = redis.call('ZRANGE', B, ARGV[2], ARGV[1], 'BYSCORE', 'REV', 'LIMIT', ARGV[4], ARGV[5], 'WITHSCORES')
else
  r = redis.call('ZRANGE', B, ARGV[1], ARGV[2], 'BYSCORE', 'LIMIT', ARGV[4], ARGV[5], 'WITHSCORES')
end
if #r == 0 then return {-1, r} end
if desc then return {redis.call('ZREVRANK', B, r[1]), r} end
return {redis.call('ZRANK', B, r[1]), r}
`)

	// leaderboardGetRankScript: KEYS the leaderboard; ARGV "1" for
	// descending, then the members. It answers {member, score, rank, ...}
	// for the members the leaderboard holds, in ARGV's order.
	leaderboardGetRankScript = newReadScript(`
local B, desc = KEYS[1], ARGV[1] == '1'
local out = {}
for i = 2, #ARGV do
  local m = ARGV[i]
  local score = redis.call('ZSCORE', B, m)
  if score then
    local rank
    if desc then rank = redis.call('ZREVRANK', B, m) else rank = redis.call('ZRANK', B, m) end
    out[#out + 1] = m
    out[#out + 1] = score
    out[#out + 1] = rank
  end
end
return out
`)

	// leaderboardCompetitionRankScript: as leaderboardGetRankScript, the
	// rank being the number of members with a strictly better score:
	// ZCOUNT below it ascending, above it descending.
	leaderboardCompetitionRankScript = newReadScript(`
local B, desc = KEYS[1], ARGV[1] == '1'
local out = {}
for i = 2, #ARGV do
  local m = ARGV[i]
  local score = redis.call('ZSCORE', B, m)
  if score then
    local rank
    if desc then
      rank = redis.call('ZCOUNT', B, '(' .. score, '+inf')
    else
      rank = redis.call('ZCOUNT', B, '-inf', '(' .. score)
    end
    out[#out + 1] = m
    out[#out + 1] = score
    out[#out + 1] = rank
  end
end
return out
`)

	// dropLeaderboardsScript: KEYS the index and the tombstone; ARGV the
	// tombstone's TTL in ms and the prefix of the leaderboard keys. It
	// marks the generation deleted and removes its leaderboards.
	dropLeaderboardsScript = newScript(`
local I, X = KEYS[1], KEYS[2]
redis.call('SET', X, '1', 'PX', ARGV[1])
for _, name in ipairs(redis.call('SMEMBERS', I)) do
  redis.call('UNLINK', ARGV[2] .. name)
end
redis.call('UNLINK', I)
return 0
`)
)

// leaderboardMember is the ZSET member of id.
func leaderboardMember(id uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], id)
	return string(b[:])
}

// leaderboardID reads a ZSET member back as an id.
func leaderboardID(m *rueidis.RedisMessage) (uint32, error) {
	text, err := m.ToString()
	if err != nil {
		return 0, err
	}
	return memberID(text)
}

// memberID decodes a ZSET member, the 4 bytes of leaderboardMember, as an id.
func memberID(member string) (uint32, error) {
	if len(member) != 4 {
		return 0, fmt.Errorf("malformed leaderboard member %q", member)
	}
	return binary.BigEndian.Uint32([]byte(member)), nil
}

// leaderboardOrder renders order for a script: "1" for descending.
func leaderboardOrder(order store.SortedSetOrder) string {
	return boolArg(order == store.Descending)
}

// LeaderboardUpsert sets the scores of elements' ids, creating the
// leaderboard if needed: ZADD in a script that also records the
// leaderboard in its cache's index and refuses a deleted cache.
func (s *Store) LeaderboardUpsert(ctx context.Context, cacheName, name string, elements []store.LeaderboardElement) error {
	const op = "leaderboard upsert"
	args := make([]string, 1, 1+2*len(elements))
	args[0] = name
	for _, e := range elements {
		if err := store.CheckLeaderboardScore(fmt.Sprintf("the score of id %d", e.ID), e.Score); err != nil {
			return fmt.Errorf("redis: %s: %w", op, err)
		}
		args = append(args, scoreArg(e.Score), leaderboardMember(e.ID))
	}
	c, err := s.cache(ctx, op, cacheName)
	if err != nil || len(elements) == 0 {
		return err
	}
	data, index, tombstone := c.leaderboardKeys(name)
	return s.wrap(ctx, op, leaderboardUpsertScript.Exec(ctx, s.client, []string{data, index, tombstone}, args).Error())
}

// LeaderboardRemove removes ids from the leaderboard: ZREM, and the index
// when the leaderboard is left empty, in one script.
func (s *Store) LeaderboardRemove(ctx context.Context, cacheName, name string, ids []uint32) error {
	const op = "leaderboard remove"
	c, err := s.cache(ctx, op, cacheName)
	if err != nil || len(ids) == 0 {
		return err
	}
	data, index, _ := c.leaderboardKeys(name)
	args := make([]string, 1, 1+len(ids))
	args[0] = name
	for _, id := range ids {
		args = append(args, leaderboardMember(id))
	}
	return s.wrap(ctx, op, leaderboardRemoveScript.Exec(ctx, s.client, []string{data, index}, args).Error())
}

// LeaderboardDelete deletes the leaderboard: UNLINK, and SREM from the
// index, in one script.
func (s *Store) LeaderboardDelete(ctx context.Context, cacheName, name string) error {
	const op = "leaderboard delete"
	c, err := s.cache(ctx, op, cacheName)
	if err != nil {
		return err
	}
	data, index, _ := c.leaderboardKeys(name)
	return s.wrap(ctx, op, leaderboardDeleteScript.Exec(ctx, s.client, []string{data, index}, []string{name}).Error())
}

// LeaderboardLength returns the number of ids: ZCARD.
func (s *Store) LeaderboardLength(ctx context.Context, cacheName, name string) (int, error) {
	const op = "leaderboard length"
	c, err := s.cache(ctx, op, cacheName)
	if err != nil {
		return 0, err
	}
	data, _, _ := c.leaderboardKeys(name)
	n, err := s.client.Do(ctx, s.client.B().Zcard().Key(data).Build()).AsInt64()
	if err != nil {
		return 0, s.wrap(ctx, op, err)
	}
	return int(n), nil
}

// LeaderboardFetchByRank returns the elements of ranks [start, end) in
// order: ZRANGE start end-1 [REV] WITHSCORES.
func (s *Store) LeaderboardFetchByRank(ctx context.Context, cacheName, name string, start, end int, order store.SortedSetOrder) ([]store.RankedElement, error) {
	const op = "leaderboard fetch by rank"
	c, err := s.cache(ctx, op, cacheName)
	if err != nil {
		return nil, err
	}
	start = max(start, 0)
	if start >= end {
		return []store.RankedElement{}, nil
	}
	data, _, _ := c.leaderboardKeys(name)
	cmd := s.client.B().Zrange().Key(data).Min(strconv.Itoa(start)).Max(strconv.Itoa(end - 1))
	var res rueidis.RedisResult
	if order == store.Descending {
		res = s.client.Do(ctx, cmd.Rev().Withscores().Build())
	} else {
		res = s.client.Do(ctx, cmd.Withscores().Build())
	}
	scores, err := res.AsZScores()
	if err != nil {
		return nil, s.wrap(ctx, op, err)
	}
	out := make([]store.RankedElement, len(scores))
	for i, z := range scores {
		id, err := memberID(z.Member)
		if err != nil {
			return nil, s.wrap(ctx, op, err)
		}
		out[i] = store.RankedElement{ID: id, Score: z.Score, Rank: start + i}
	}
	return out, nil
}

// LeaderboardFetchByScore returns the elements with a score in r, in
// order, after skipping offset of them, at most count (all when negative),
// each with its rank in the whole leaderboard: ZRANGE BYSCORE [REV] LIMIT
// WITHSCORES and ZRANK or ZREVRANK of the first element, in one script.
// The ranks of the others follow from it: they are consecutive.
func (s *Store) LeaderboardFetchByScore(ctx context.Context, cacheName, name string, r store.ScoreRange, order store.SortedSetOrder, offset, count int) ([]store.RankedElement, error) {
	const op = "leaderboard fetch by score"
	for _, b := range []store.ScoreBound{r.Min, r.Max} {
		if b.Unbounded {
			continue
		}
		if err := store.CheckLeaderboardScore("a score bound", b.Score); err != nil {
			return nil, fmt.Errorf("redis: %s: %w", op, err)
		}
	}
	c, err := s.cache(ctx, op, cacheName)
	if err != nil {
		return nil, err
	}
	if count == 0 || offset < 0 {
		return []store.RankedElement{}, nil
	}
	if count < 0 {
		count = -1
	}
	data, _, _ := c.leaderboardKeys(name)
	lo, hi := rangeBounds(r)
	args := []string{lo, hi, leaderboardOrder(order), itoa(offset), itoa(count)}
	res, err := leaderboardFetchByScoreScript.Exec(ctx, s.client, []string{data}, args).ToArray()
	if err != nil {
		return nil, s.wrap(ctx, op, err)
	}
	if len(res) != 2 {
		return nil, s.wrap(ctx, op, fmt.Errorf("malformed reply of %d elements", len(res)))
	}
	first, err := res[0].AsInt64()
	if err != nil {
		return nil, s.wrap(ctx, op, err)
	}
	flat, err := res[1].ToArray()
	if err != nil {
		return nil, s.wrap(ctx, op, err)
	}
	out, err := rankedElements(flat, int(first))
	if err != nil {
		return nil, s.wrap(ctx, op, err)
	}
	return out, nil
}

// LeaderboardGetRank returns the ordinal rank of each listed id the
// leaderboard holds, in the order of ids: ZSCORE and ZRANK or ZREVRANK
// per id, in one script.
func (s *Store) LeaderboardGetRank(ctx context.Context, cacheName, name string, ids []uint32, order store.SortedSetOrder) ([]store.RankedElement, error) {
	return s.leaderboardRanks(ctx, "leaderboard get rank", leaderboardGetRankScript, cacheName, name, ids, order)
}

// LeaderboardGetCompetitionRank returns the competition rank of each
// listed id the leaderboard holds, in the order of ids: ZSCORE and ZCOUNT
// per id, in one script.
func (s *Store) LeaderboardGetCompetitionRank(ctx context.Context, cacheName, name string, ids []uint32, order store.SortedSetOrder) ([]store.RankedElement, error) {
	return s.leaderboardRanks(ctx, "leaderboard get competition rank", leaderboardCompetitionRankScript, cacheName, name, ids, order)
}

// leaderboardRanks runs a rank script, which answers {member, score,
// rank, ...}.
func (s *Store) leaderboardRanks(ctx context.Context, op string, script *rueidis.Lua, cacheName, name string, ids []uint32, order store.SortedSetOrder) ([]store.RankedElement, error) {
	c, err := s.cache(ctx, op, cacheName)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return []store.RankedElement{}, nil
	}
	data, _, _ := c.leaderboardKeys(name)
	args := make([]string, 1, 1+len(ids))
	args[0] = leaderboardOrder(order)
	for _, id := range ids {
		args = append(args, leaderboardMember(id))
	}
	flat, err := script.Exec(ctx, s.client, []string{data}, args).ToArray()
	if err != nil {
		return nil, s.wrap(ctx, op, err)
	}
	out, err := rankedElements(flat, -1)
	if err != nil {
		return nil, s.wrap(ctx, op, err)
	}
	return out, nil
}

// rankedElements decodes a script's flat reply of leaderboard elements:
// {member, score, ...} ranked from first on, or, when first is -1,
// {member, score, rank, ...}.
func rankedElements(flat []rueidis.RedisMessage, first int) ([]store.RankedElement, error) {
	stride := 2
	if first < 0 {
		stride = 3
	}
	if len(flat)%stride != 0 {
		return nil, fmt.Errorf("reply of %d elements, not groups of %d", len(flat), stride)
	}
	out := make([]store.RankedElement, len(flat)/stride)
	for i := range out {
		el := flat[stride*i:]
		id, err := leaderboardID(&el[0])
		if err != nil {
			return nil, err
		}
		score, err := parseScore(&el[1])
		if err != nil {
			return nil, err
		}
		rank := int64(first + i)
		if first < 0 {
			if rank, err = el[2].AsInt64(); err != nil {
				return nil, err
			}
		}
		out[i] = store.RankedElement{ID: id, Score: score, Rank: int(rank)}
	}
	return out, nil
}

// sweepLeaderboards removes the leaderboards of a deleted cache, rest
// being "<gen>:<name>" from the sweep-set member, then takes member off
// the sweep set.
func (s *Store) sweepLeaderboards(ctx context.Context, member, rest string) error {
	genText, name, ok := strings.Cut(rest, ":")
	gen, err := strconv.ParseUint(genText, 10, 64)
	if !ok || err != nil {
		return s.forget(ctx, member) // not one of ours
	}
	c := newCacheRef(s.cfg.Namespace, name, 0, gen)
	_, index, tombstone := c.leaderboardKeys("")
	args := []string{millis(leaderboardTombstoneTTL), c.boards + leaderboardBoard}
	op := "sweep: drop the leaderboards of " + member
	err = s.withStableMasters(ctx, op, func(owners []slotOwner, masters map[string]rueidis.Client) error {
		addr := ownerOf(owners, keySlot(index))
		node := masters[addr]
		step, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
		defer cancel()
		return s.wrap(ctx, op+" on "+addr, dropLeaderboardsScript.Exec(step, node, []string{index, tombstone}, args).Error())
	})
	if err != nil {
		return err
	}
	return s.forget(ctx, member)
}
