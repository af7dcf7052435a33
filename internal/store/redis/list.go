package redis

import (
	"context"
	"fmt"

	"github.com/redis/rueidis"

	"github.com/thaw-dev/thaw/internal/store"
)

// Lists: a LIST per item, its payload size in the companion.

// listBoundsLua resolves a store.ListRange (ARGV[i], ARGV[i+1], ARGV[i+2]:
// start, end, whether end bounds it) against n elements as
// store.ListRange.Bounds does: the 0-based [lo, hi).
const listBoundsLua = `
local function resolve(i, n)
  if i < 0 then i = i + n end
  return math.min(math.max(i, 0), n)
end
local function bounds(i, n)
  local lo = resolve(tonumber(ARGV[i]), n)
  local hi = n
  if ARGV[i + 2] == '1' then hi = resolve(tonumber(ARGV[i + 1]), n) end
  if hi < lo then hi = lo end
  return lo, hi
end
-- sum_lengths adds the lengths of the elements [lo, hi) of D.
local function sum_lengths(D, lo, hi)
  local s = 0
  if hi > lo then
    for _, v in ipairs(redis.call('LRANGE', D, lo, hi - 1)) do s = s + #v end
  end
  return s
end
`

var (
	// listPushScript: the write arguments, ARGV[5] the end ("f" or "b"),
	// ARGV[6] truncateTo, then the values. It answers the length.
	listPushScript = newScript(writeArgsLua + listBoundsLua + `
local front, trunc = ARGV[5] == 'f', tonumber(ARGV[6])
local exists = exists_as(D, 'list')
local k = #ARGV - 6
if not exists and k == 0 then return 0 end
local at = exists and expiry(D)
local n = 0
if exists then n = redis.call('LLEN', D) end
local size = exists and current_size(D, M, 'list', keylen) or keylen
local drop = 0
if trunc > 0 and n + k > trunc then drop = n + k - trunc end
local drop_old = math.min(drop, n)
local drop_block = drop - drop_old
local first, last = 7, #ARGV
if drop_block > 0 then
  if front then last = last - drop_block else first = first + drop_block end
end
for i = first, last do size = size + #ARGV[i] end
if drop_old > 0 then
  if front then
    size = size - sum_lengths(D, n - drop_old, n)
  else
    size = size - sum_lengths(D, 0, drop_old)
  end
end
check_size(size, maxsize)
if drop_old == n and n > 0 then
  redis.call('UNLINK', D)
elseif drop_old > 0 then
  if front then redis.call('LTRIM', D, 0, n - drop_old - 1) else redis.call('LTRIM', D, drop_old, -1) end
end
if front then
  -- LPUSH puts each argument at the head in turn, so the block goes in
  -- reversed, from its last chunk to its first.
  local j = last
  while j >= first do
    local i = math.max(j - 999, first)
    local chunk = {}
    for x = j, i, -1 do chunk[#chunk + 1] = ARGV[x] end
    redis.call('LPUSH', D, unpack(chunk))
    j = i - 1
  end
else
  call_chunks('RPUSH', D, ARGV, first, last, 1)
end
finish(D, M, size, (not exists) or refresh, ttl, at)
return redis.call('LLEN', D)
`)

	// listPopScript: ARGV[1] the key's length, ARGV[2] the end. It answers
	// {0} for a missing list, else {1, value, length}.
	listPopScript = newScript(`
local D, M, keylen = KEYS[1], KEYS[2], tonumber(ARGV[1])
if not exists_as(D, 'list') then return {0} end
local at = expiry(D)
local size = current_size(D, M, 'list', keylen)
local v
if ARGV[2] == 'f' then v = redis.call('LPOP', D) else v = redis.call('RPOP', D) end
local n = redis.call('LLEN', D)
finish(D, M, size - #v, false, nil, at)
return {1, v, n}
`)

	// listFetchScript: ARGV the range. It answers {0} for a missing list,
	// else {1, the values}.
	listFetchScript = newReadScript(listBoundsLua + `
local D = KEYS[1]
if not exists_as(D, 'list') then return {0} end
local lo, hi = bounds(1, redis.call('LLEN', D))
if lo == hi then return {1, {}} end
return {1, redis.call('LRANGE', D, lo, hi - 1)}
`)

	// listRetainScript: ARGV[1] the key's length, ARGV[2] the TTL in ms,
	// ARGV[3] RefreshTTL, then the range. It answers {0} for a missing
	// list, else {1, length}.
	listRetainScript = newScript(listBoundsLua + `
local D, M, keylen, ttl, refresh = KEYS[1], KEYS[2], tonumber(ARGV[1]), ARGV[2], ARGV[3] == '1'
if not exists_as(D, 'list') then return {0} end
local n = redis.call('LLEN', D)
local lo, hi = bounds(4, n)
if lo == hi then
  redis.call('UNLINK', D, M)
  return {1, 0}
end
local at = expiry(D)
local size
if n - (hi - lo) < hi - lo then
  size = current_size(D, M, 'list', keylen) - sum_lengths(D, 0, lo) - sum_lengths(D, hi, n)
else
  size = keylen + sum_lengths(D, lo, hi)
end
redis.call('LTRIM', D, lo, hi - 1)
finish(D, M, size, refresh, ttl, at)
return {1, hi - lo}
`)

	// listRemoveValueScript: ARGV[1] the key's length, ARGV[2] the value.
	// It answers {0} for a missing list, else {1, length}.
	listRemoveValueScript = newScript(`
local D, M, keylen, value = KEYS[1], KEYS[2], tonumber(ARGV[1]), ARGV[2]
if not exists_as(D, 'list') then return {0} end
local at = expiry(D)
local size = current_size(D, M, 'list', keylen)
local removed = redis.call('LREM', D, 0, value)
local n = redis.call('LLEN', D)
finish(D, M, size - removed * #value, false, nil, at)
return {1, n}
`)

	// listEraseScript: ARGV[1] the key's length, then begin, count pairs.
	// It rebuilds the list from the parts the spans leave, keeping its
	// expiry, and answers {0} for a missing list, else {1, length}.
	listEraseScript = newScript(listBoundsLua + `
local D, M, keylen = KEYS[1], KEYS[2], tonumber(ARGV[1])
if not exists_as(D, 'list') then return {0} end
local n = redis.call('LLEN', D)
local parts = {}
for i = 2, #ARGV, 2 do
  local b, c = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  if b >= 0 and c >= 1 and b < n then
    parts[#parts + 1] = {b, b + math.min(c, n - b)}
  end
end
if #parts == 0 then return {1, n} end
table.sort(parts, function(x, y) return x[1] < y[1] end)
local kept = {}
local pos = 0
local function keep(lo, hi)
  if hi > lo then
    for _, v in ipairs(redis.call('LRANGE', D, lo, hi - 1)) do kept[#kept + 1] = v end
  end
end
for _, p in ipairs(parts) do
  if p[1] > pos then keep(pos, p[1]) end
  pos = math.max(pos, p[2])
end
keep(pos, n)
if #kept == n then return {1, n} end
local at = expiry(D)
redis.call('UNLINK', D)
if #kept == 0 then
  redis.call('DEL', M)
  return {1, 0}
end
local size = keylen
for _, v in ipairs(kept) do size = size + #v end
call_chunks('RPUSH', D, kept, 1, #kept, 1)
finish(D, M, size, false, nil, at)
return {1, #kept}
`)
)

// listEndArg renders a list end for a script.
func listEndArg(op string, end store.ListEnd) (string, error) {
	switch end {
	case store.ListFront:
		return "f", nil
	case store.ListBack:
		return "b", nil
	}
	return "", fmt.Errorf("redis: %s: unknown list end %d", op, end)
}

// rangeArgs renders a list range for a script.
func rangeArgs(r store.ListRange) []string {
	return []string{itoa(r.Start), itoa(r.End), boolArg(r.EndBounded)}
}

// ListPush adds values at end and truncates the other end: LPUSH or RPUSH,
// LTRIM and the TTL and size bookkeeping in one script.
func (s *Store) ListPush(ctx context.Context, cacheName string, key []byte, end store.ListEnd, values [][]byte, truncateTo int, w store.CollectionWrite) (int, error) {
	const op = "list push"
	data, companion, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return 0, err
	}
	endArg, err := listEndArg(op, end)
	if err != nil {
		return 0, err
	}
	if err := checkTTL(op, w.TTL); err != nil {
		return 0, err
	}
	args := append(writeArgs(key, w, 2+len(values)), endArg, itoa(max(truncateTo, 0)))
	for _, v := range values {
		args = append(args, bin(v))
	}
	n, err := listPushScript.Exec(ctx, s.client, []string{data, companion}, args).AsInt64()
	if err != nil {
		return 0, s.wrap(ctx, op, err)
	}
	return int(n), nil
}

// ListPop removes the element at end: LPOP or RPOP and the size
// bookkeeping in one script.
func (s *Store) ListPop(ctx context.Context, cacheName string, key []byte, end store.ListEnd) ([]byte, int, bool, error) {
	const op = "list pop"
	data, companion, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return nil, 0, false, err
	}
	endArg, err := listEndArg(op, end)
	if err != nil {
		return nil, 0, false, err
	}
	res, err := listPopScript.Exec(ctx, s.client, []string{data, companion}, []string{itoa(len(key)), endArg}).ToArray()
	if err != nil {
		return nil, 0, false, s.wrap(ctx, op, err)
	}
	if n, _ := res[0].AsInt64(); n == 0 || len(res) != 3 {
		return nil, 0, false, nil
	}
	v, err := res[1].AsBytes()
	if err != nil {
		return nil, 0, false, s.wrap(ctx, op, err)
	}
	n, err := res[2].AsInt64()
	if err != nil {
		return nil, 0, false, s.wrap(ctx, op, err)
	}
	return v, int(n), true, nil
}

// ListFetch returns the elements of r: LLEN and LRANGE in one script.
func (s *Store) ListFetch(ctx context.Context, cacheName string, key []byte, r store.ListRange) ([][]byte, bool, error) {
	const op = "list fetch"
	data, _, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return nil, false, err
	}
	res, found, err := s.foundArray(ctx, op, listFetchScript, []string{data}, rangeArgs(r))
	if err != nil || !found {
		return nil, false, err
	}
	out, err := replyBytes(res)
	if err != nil {
		return nil, false, s.wrap(ctx, op, err)
	}
	return out, true, nil
}

// ListRetain keeps the elements of r: LTRIM and the TTL and size
// bookkeeping in one script.
func (s *Store) ListRetain(ctx context.Context, cacheName string, key []byte, r store.ListRange, w store.CollectionWrite) (int, bool, error) {
	const op = "list retain"
	data, companion, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return 0, false, err
	}
	if err := checkTTL(op, w.TTL); err != nil {
		return 0, false, err
	}
	args := append([]string{itoa(len(key)), millis(w.TTL), boolArg(w.RefreshTTL)}, rangeArgs(r)...)
	return s.foundLength(ctx, op, listRetainScript, []string{data, companion}, args)
}

// ListLength returns the number of elements: LLEN.
func (s *Store) ListLength(ctx context.Context, cacheName string, key []byte) (int, bool, error) {
	return s.length(ctx, "list length", cacheName, key, func(k string) rueidis.Completed {
		return s.client.B().Llen().Key(k).Build()
	})
}

// ListRemoveValue removes every element equal to value: LREM and the size
// bookkeeping in one script.
func (s *Store) ListRemoveValue(ctx context.Context, cacheName string, key, value []byte) (int, bool, error) {
	const op = "list remove value"
	data, companion, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return 0, false, err
	}
	return s.foundLength(ctx, op, listRemoveValueScript, []string{data, companion}, []string{itoa(len(key)), bin(value)})
}

// ListErase removes the elements that spans cover, in one script.
func (s *Store) ListErase(ctx context.Context, cacheName string, key []byte, spans []store.ListSpan) (int, bool, error) {
	const op = "list erase"
	data, companion, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return 0, false, err
	}
	args := make([]string, 1, 1+2*len(spans))
	args[0] = itoa(len(key))
	for _, sp := range spans {
		args = append(args, itoa(sp.Begin), itoa(sp.Count))
	}
	return s.foundLength(ctx, op, listEraseScript, []string{data, companion}, args)
}

// foundLength runs a script that answers {0} for a missing list or
// {1, length}.
func (s *Store) foundLength(ctx context.Context, op string, script *rueidis.Lua, keys, args []string) (int, bool, error) {
	res, err := script.Exec(ctx, s.client, keys, args).AsIntSlice()
	if err != nil {
		return 0, false, s.wrap(ctx, op, err)
	}
	if len(res) != 2 || res[0] == 0 {
		return 0, false, nil
	}
	return int(res[1]), true, nil
}
