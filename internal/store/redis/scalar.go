package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/thaw-dev/thaw/internal/store"
)

// Scalars: one STRING per item, Hash(value) followed by value (see the
// package comment). Get and Set are single commands; SetIf and Increment
// are scripts.
//
// Hashing in Lua costs tens of microseconds of the master's time per value
// (70 µs on a small test machine), even for one SHA-256 block, so Increment
// does not: it writes unhashedMark where the hash goes, and the hash
// conditions of SetIf hash such a value (an Increment result, at most 20
// bytes) when they meet one. Counters thus cost no more than other writes,
// and only a hash condition on a counter pays for its hash.

// unhashedMark stands for the hash of a value that Increment wrote: 64
// bytes that no hex digest equals.
const unhashedMark = "----------------------------------------------------------------"

// condCodes numbers the conditions of SetIf for setIfScript.
var condCodes = map[store.ConditionKind]string{
	store.Present:                "1",
	store.PresentAndNotEqual:     "2",
	store.Absent:                 "3",
	store.Equal:                  "4",
	store.AbsentOrEqual:          "5",
	store.NotEqual:               "6",
	store.PresentAndHashEqual:    "7",
	store.PresentAndNotHashEqual: "8",
	store.AbsentOrHashEqual:      "9",
	store.AbsentOrNotHashEqual:   "10",
}

var (
	// setIfScript: KEYS[1] the item; ARGV the condition's code and
	// comparand, the new stored value, the TTL in ms and unhashedMark. It
	// evaluates the condition as store.Condition.Holds does: the Equal
	// kinds compare the value, the hash kinds the stored hash (computed
	// here for a value that Increment wrote).
	setIfScript = newScript(luaSHA256 + `
local D = KEYS[1]
local t = redis.call('TYPE', D)['ok']
if t ~= 'none' and t ~= 'string' then wrongtype(t) end
local exists = t == 'string'
local kind, cmp = tonumber(ARGV[1]), ARGV[2]
local holds
if kind == 1 then
  holds = exists
elseif kind == 3 then
  holds = not exists
else
  local cur = exists and redis.call('GET', D) or ''
  local eq = exists and #cur - 64 == #cmp and string.sub(cur, 65) == cmp
  local heq = false
  if exists and kind >= 7 then
    local h = string.sub(cur, 1, 64)
    if h == ARGV[5] then h = sha256hex(string.sub(cur, 65)) end
    heq = h == cmp
  end
  if kind == 2 then holds = exists and not eq
  elseif kind == 4 then holds = exists and eq
  elseif kind == 5 then holds = not exists or eq
  elseif kind == 6 then holds = not exists or not eq
  elseif kind == 7 then holds = exists and heq
  elseif kind == 8 then holds = exists and not heq
  elseif kind == 9 then holds = not exists or heq
  elseif kind == 10 then holds = not exists or not heq
  else return redis.error_reply('ERR unknown condition ' .. ARGV[1]) end
end
if not holds then return 0 end
redis.call('SET', D, ARGV[3], 'PX', ARGV[4])
return 1
`)

	// incrementScript: KEYS[1] the item; ARGV the amount, the TTL in ms
	// and unhashedMark. Redis does the arithmetic (INCRBY, exact over
	// int64, refusing overflow) on the value brought into its canonical
	// form; the script then stores the result after unhashedMark.
	incrementScript = newScript(`
local D = KEYS[1]
local t = redis.call('TYPE', D)['ok']
local old
local cur = '0'
if t == 'string' then
  old = redis.call('GET', D)
  cur = normint(string.sub(old, 65))
  if not cur then return redis.error_reply('THAW_NOTINT the value is not a base-10 int64') end
elseif t ~= 'none' then
  wrongtype(t)
end
redis.call('SET', D, cur, 'KEEPTTL')
local r = redis.pcall('INCRBY', D, ARGV[1])
if type(r) == 'table' and r.err then
  if old then redis.call('SET', D, old, 'KEEPTTL') else redis.call('DEL', D) end
  return redis.error_reply('THAW_OVERFLOW ' .. r.err)
end
local v = redis.call('GET', D)
redis.call('SET', D, ARGV[3] .. v, 'PX', ARGV[2])
return v
`)

	// updateTTLScript: KEYS the item and its companion; ARGV the TTL in
	// ms and PEXPIRE's GT or LT (empty to overwrite). It answers 0 for a
	// missing item, 1 when the TTL was set, 2 when it was not.
	updateTTLScript = newScript(`
local D, M = KEYS[1], KEYS[2]
if redis.call('EXISTS', D) == 0 then return 0 end
local r
if ARGV[2] == '' then r = redis.call('PEXPIRE', D, ARGV[1]) else r = redis.call('PEXPIRE', D, ARGV[1], ARGV[2]) end
if r == 0 then return 2 end
if redis.call('EXISTS', M) == 1 then redis.call('PEXPIREAT', M, redis.call('PEXPIRETIME', D)) end
return 1
`)
)

// Get returns the value of key: GET, less the stored hash.
func (s *Store) Get(ctx context.Context, cacheName string, key []byte) ([]byte, bool, error) {
	const op = "get"
	c, err := s.cache(ctx, op, cacheName)
	if err != nil {
		return nil, false, err
	}
	v, err := s.client.Do(ctx, s.client.B().Get().Key(c.itemKey(key)).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, s.wrap(ctx, op, err)
	}
	if len(v) < hashLen {
		return nil, false, fmt.Errorf("redis: %s: the stored value is %d bytes, shorter than its hash", op, len(v))
	}
	return v[hashLen:], true, nil
}

// Set stores value under key for ttl: SET PX, replacing any type.
func (s *Store) Set(ctx context.Context, cacheName string, key, value []byte, ttl time.Duration) error {
	const op = "set"
	c, err := s.cache(ctx, op, cacheName)
	if err != nil {
		return err
	}
	if err := checkTTL(op, ttl); err != nil {
		return err
	}
	cmd := s.client.B().Set().Key(c.itemKey(key)).Value(scalarValue(value)).Px(roundTTL(ttl)).Build()
	return s.wrap(ctx, op, s.client.Do(ctx, cmd).Error())
}

// SetIf stores value under key for ttl if cond holds, in one script.
func (s *Store) SetIf(ctx context.Context, cacheName string, key, value []byte, ttl time.Duration, cond store.Condition) (bool, error) {
	const op = "set if"
	c, err := s.cache(ctx, op, cacheName)
	if err != nil {
		return false, err
	}
	if err := checkTTL(op, ttl); err != nil {
		return false, err
	}
	code, ok := condCodes[cond.Kind]
	if !ok {
		return false, fmt.Errorf("redis: %s: unknown condition %v", op, cond.Kind)
	}
	n, err := setIfScript.Exec(ctx, s.client, []string{c.itemKey(key)},
		[]string{code, bin(cond.Value), scalarValue(value), millis(ttl), unhashedMark}).AsInt64()
	if err != nil {
		return false, s.wrap(ctx, op, err)
	}
	return n == 1, nil
}

// Delete removes key and its companion: UNLINK, whatever the type.
func (s *Store) Delete(ctx context.Context, cacheName string, key []byte) error {
	const op = "delete"
	c, err := s.cache(ctx, op, cacheName)
	if err != nil {
		return err
	}
	data, companion := c.itemKeys(key)
	return s.wrap(ctx, op, s.client.Do(ctx, s.client.B().Unlink().Key(data, companion).Build()).Error())
}

// KeysExist reports whether each key holds a value: one EXISTS per key,
// pipelined (the keys are in different slots).
func (s *Store) KeysExist(ctx context.Context, cacheName string, keys [][]byte) ([]bool, error) {
	const op = "keys exist"
	c, err := s.cache(ctx, op, cacheName)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	cmds := make(rueidis.Commands, len(keys))
	for i, k := range keys {
		cmds[i] = s.client.B().Exists().Key(c.itemKey(k)).Build()
	}
	for i, res := range s.client.DoMulti(ctx, cmds...) {
		n, err := res.AsInt64()
		if err != nil {
			return nil, s.wrap(ctx, op, err)
		}
		out[i] = n == 1
	}
	return out, nil
}

// Increment adds amount to the integer under key, in one script.
func (s *Store) Increment(ctx context.Context, cacheName string, key []byte, amount int64, ttl time.Duration) (int64, error) {
	const op = "increment"
	c, err := s.cache(ctx, op, cacheName)
	if err != nil {
		return 0, err
	}
	if err := checkTTL(op, ttl); err != nil {
		return 0, err
	}
	v, err := incrementScript.Exec(ctx, s.client, []string{c.itemKey(key)},
		[]string{strconv.FormatInt(amount, 10), millis(ttl), unhashedMark}).ToString()
	if err != nil {
		return 0, s.wrap(ctx, op, err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("redis: %s: malformed result %q", op, v)
	}
	return n, nil
}

// UpdateTTL changes the TTL of key as kind says: PEXPIRE with GT, LT or
// neither, in a script that tells a missing key from a condition that
// failed and keeps the companion's expiry the same.
func (s *Store) UpdateTTL(ctx context.Context, cacheName string, key []byte, kind store.TTLUpdateKind, ttl time.Duration) (store.TTLUpdateResult, error) {
	const op = "update ttl"
	c, err := s.cache(ctx, op, cacheName)
	if err != nil {
		return 0, err
	}
	if err := checkTTL(op, ttl); err != nil {
		return 0, err
	}
	var flag string
	switch kind {
	case store.IncreaseTo:
		flag = "GT"
	case store.DecreaseTo:
		flag = "LT"
	case store.OverwriteTo:
	default:
		return 0, fmt.Errorf("redis: %s: unknown kind %d", op, kind)
	}
	data, companion := c.itemKeys(key)
	n, err := updateTTLScript.Exec(ctx, s.client, []string{data, companion}, []string{millis(ttl), flag}).AsInt64()
	if err != nil {
		return 0, s.wrap(ctx, op, err)
	}
	switch n {
	case 0:
		return store.TTLMissing, nil
	case 1:
		return store.TTLSet, nil
	}
	return store.TTLNotSet, nil
}

// ItemTTL returns the remaining TTL of key: PTTL.
func (s *Store) ItemTTL(ctx context.Context, cacheName string, key []byte) (time.Duration, bool, error) {
	const op = "item ttl"
	c, err := s.cache(ctx, op, cacheName)
	if err != nil {
		return 0, false, err
	}
	ms, err := s.client.Do(ctx, s.client.B().Pttl().Key(c.itemKey(key)).Build()).AsInt64()
	if err != nil {
		return 0, false, s.wrap(ctx, op, err)
	}
	switch {
	case ms == -2:
		return 0, false, nil
	case ms < 0:
		// No expiry: thaw never writes one, but another client might.
		return time.Duration(1<<63 - 1), true, nil
	}
	return time.Duration(ms) * time.Millisecond, true, nil
}

// itemTypes maps TYPE's answers to item types.
var itemTypes = map[string]store.ItemType{
	"string": store.ItemScalar,
	"hash":   store.ItemDictionary,
	"set":    store.ItemSet,
	"list":   store.ItemList,
	"zset":   store.ItemSortedSet,
}

// ItemType returns the kind of value stored under key: TYPE.
func (s *Store) ItemType(ctx context.Context, cacheName string, key []byte) (store.ItemType, bool, error) {
	const op = "item type"
	c, err := s.cache(ctx, op, cacheName)
	if err != nil {
		return 0, false, err
	}
	t, err := s.client.Do(ctx, s.client.B().Type().Key(c.itemKey(key)).Build()).ToString()
	if err != nil {
		return 0, false, s.wrap(ctx, op, err)
	}
	if t == "none" {
		return 0, false, nil
	}
	typ, ok := itemTypes[t]
	if !ok {
		return 0, false, fmt.Errorf("redis: %s: key holds a Redis %s, which thaw does not write", op, t)
	}
	return typ, true, nil
}

// roundTTL rounds a TTL up to whole milliseconds, at least 1.
func roundTTL(ttl time.Duration) time.Duration {
	return max((ttl+time.Millisecond-1)/time.Millisecond*time.Millisecond, time.Millisecond)
}
