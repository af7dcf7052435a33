package redis

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/rueidis"

	"github.com/thaw-dev/thaw/internal/store"
)

// Dictionaries: a HASH per item, its payload size in the companion.

// The writes' common arguments: ARGV[1] the key's length, ARGV[2] the TTL
// in ms, ARGV[3] RefreshTTL ("1" or "0"), ARGV[4] MaxSize (0: no bound).
const writeArgsLua = `
local D, M = KEYS[1], KEYS[2]
local keylen, ttl, refresh, maxsize = tonumber(ARGV[1]), ARGV[2], ARGV[3] == '1', tonumber(ARGV[4])
`

var (
	// dictionarySetScript: the write arguments, then field, value pairs.
	dictionarySetScript = newScript(writeArgsLua + `
local exists = exists_as(D, 'hash')
local at = exists and expiry(D)
if #ARGV == 4 then
  if exists and refresh then touch(D, M, ttl) end
  return 0
end
local size = exists and current_size(D, M, 'hash', keylen) or keylen
local final = {}
for i = 5, #ARGV, 2 do final[ARGV[i]] = #ARGV[i + 1] end
for f, vl in pairs(final) do
  if exists and redis.call('HEXISTS', D, f) == 1 then
    size = size + vl - redis.call('HSTRLEN', D, f)
  else
    size = size + #f + vl
  end
end
check_size(size, maxsize)
call_chunks('HSET', D, ARGV, 5, #ARGV, 2)
finish(D, M, size, (not exists) or refresh, ttl, at)
return 0
`)

	// dictionaryIncrementScript: the write arguments, the field and the
	// amount. HINCRBY does the arithmetic on the value in canonical form.
	dictionaryIncrementScript = newScript(writeArgsLua + `
local f, amount = ARGV[5], ARGV[6]
local exists = exists_as(D, 'hash')
local at = exists and expiry(D)
local old = false
if exists then old = redis.call('HGET', D, f) end
local cur = '0'
if old then
  cur = normint(old)
  if not cur then return redis.error_reply('THAW_NOTINT the field does not hold a base-10 int64') end
end
local size = exists and current_size(D, M, 'hash', keylen) or keylen
local function undo()
  if old then redis.call('HSET', D, f, old)
  elseif exists then redis.call('HDEL', D, f)
  else redis.call('DEL', D) end
end
redis.call('HSET', D, f, cur)
local r = redis.pcall('HINCRBY', D, f, amount)
if type(r) == 'table' and r.err then
  undo()
  return redis.error_reply('THAW_OVERFLOW ' .. r.err)
end
local v = redis.call('HGET', D, f)
if old then size = size + #v - #old else size = size + #f + #v end
if maxsize > 0 and size > maxsize then
  undo()
  too_large(size, maxsize)
end
finish(D, M, size, (not exists) or refresh, ttl, at)
return v
`)

	// dictionaryGetScript: ARGV the fields. It answers {0} for a missing
	// dictionary, else {1, values}.
	dictionaryGetScript = newReadScript(`
local D = KEYS[1]
if not exists_as(D, 'hash') then return {0} end
local out = {}
local i = 1
while i <= #ARGV do
  local j = math.min(i + 999, #ARGV)
  local r = redis.call('HMGET', D, unpack(ARGV, i, j))
  for k = 1, #r do out[#out + 1] = r[k] end
  i = j + 1
end
return {1, out}
`)

	// dictionaryRemoveScript: ARGV[1] the key's length, then the fields.
	dictionaryRemoveScript = newScript(`
local D, M, keylen = KEYS[1], KEYS[2], tonumber(ARGV[1])
if not exists_as(D, 'hash') then return 0 end
local at = expiry(D)
local size = current_size(D, M, 'hash', keylen)
local fields = unique(ARGV, 2)
for _, f in ipairs(fields) do
  if redis.call('HEXISTS', D, f) == 1 then
    size = size - #f - redis.call('HSTRLEN', D, f)
  end
end
call_chunks('HDEL', D, fields, 1, #fields, 1)
finish(D, M, size, false, nil, at)
return 0
`)

	// deleteCollectionScript: ARGV[1] the Redis type that the key must
	// hold, if any. It deletes the collection and answers whether it
	// existed.
	deleteCollectionScript = newScript(`
if not exists_as(KEYS[1], ARGV[1]) then return 0 end
redis.call('UNLINK', KEYS[1], KEYS[2])
return 1
`)
)

// writeArgs renders the arguments every collection write starts with.
func writeArgs(key []byte, w store.CollectionWrite, extra int) []string {
	args := make([]string, 4, 4+extra)
	args[0] = itoa(len(key))
	args[1] = millis(w.TTL)
	args[2] = boolArg(w.RefreshTTL)
	args[3] = itoa(max(w.MaxSize, 0))
	return args
}

// collection returns the cache's keys of the collection under key.
func (s *Store) collection(ctx context.Context, op, cacheName string, key []byte) (data, companion string, err error) {
	c, err := s.cache(ctx, op, cacheName)
	if err != nil {
		return "", "", err
	}
	data, companion = c.itemKeys(key)
	return data, companion, nil
}

// DictionaryGet returns the values of fields: EXISTS and HMGET in one
// script.
func (s *Store) DictionaryGet(ctx context.Context, cacheName string, key []byte, fields [][]byte) ([]store.DictionaryValue, bool, error) {
	const op = "dictionary get"
	data, _, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return nil, false, err
	}
	args := make([]string, len(fields))
	for i, f := range fields {
		args[i] = bin(f)
	}
	values, found, err := s.foundArray(ctx, op, dictionaryGetScript, []string{data}, args)
	if err != nil || !found {
		return nil, false, err
	}
	if len(values) != len(fields) {
		return nil, false, fmt.Errorf("redis: %s: %d values for %d fields", op, len(values), len(fields))
	}
	out := make([]store.DictionaryValue, len(values))
	for i := range values {
		if values[i].IsNil() {
			continue
		}
		v, err := values[i].AsBytes()
		if err != nil {
			return nil, false, s.wrap(ctx, op, err)
		}
		out[i] = store.DictionaryValue{Value: v, Found: true}
	}
	return out, true, nil
}

// DictionaryFetch returns every field and value: HGETALL.
func (s *Store) DictionaryFetch(ctx context.Context, cacheName string, key []byte) ([]store.DictionaryField, bool, error) {
	const op = "dictionary fetch"
	data, _, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return nil, false, err
	}
	m, err := s.client.Do(ctx, s.client.B().Hgetall().Key(data).Build()).AsStrMap()
	if err != nil {
		return nil, false, s.wrap(ctx, op, err)
	}
	if len(m) == 0 {
		return nil, false, nil
	}
	out := make([]store.DictionaryField, 0, len(m))
	for f, v := range m {
		out = append(out, store.DictionaryField{Field: []byte(f), Value: []byte(v)})
	}
	return out, true, nil
}

// DictionarySet stores fields: HSET plus the TTL and size bookkeeping in
// one script.
func (s *Store) DictionarySet(ctx context.Context, cacheName string, key []byte, fields []store.DictionaryField, w store.CollectionWrite) error {
	const op = "dictionary set"
	data, companion, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return err
	}
	if err := checkTTL(op, w.TTL); err != nil {
		return err
	}
	args := writeArgs(key, w, 2*len(fields))
	for _, f := range fields {
		args = append(args, bin(f.Field), bin(f.Value))
	}
	return s.wrap(ctx, op, dictionarySetScript.Exec(ctx, s.client, []string{data, companion}, args).Error())
}

// DictionaryIncrement adds amount to the integer in field: HINCRBY plus
// the TTL and size bookkeeping in one script.
func (s *Store) DictionaryIncrement(ctx context.Context, cacheName string, key, field []byte, amount int64, w store.CollectionWrite) (int64, error) {
	const op = "dictionary increment"
	data, companion, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return 0, err
	}
	if err := checkTTL(op, w.TTL); err != nil {
		return 0, err
	}
	args := append(writeArgs(key, w, 2), bin(field), strconv.FormatInt(amount, 10))
	v, err := dictionaryIncrementScript.Exec(ctx, s.client, []string{data, companion}, args).ToString()
	if err != nil {
		return 0, s.wrap(ctx, op, err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("redis: %s: malformed result %q", op, v)
	}
	return n, nil
}

// DictionaryRemove removes fields: HDEL and the size bookkeeping in one
// script.
func (s *Store) DictionaryRemove(ctx context.Context, cacheName string, key []byte, fields [][]byte) error {
	const op = "dictionary remove"
	data, companion, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return err
	}
	args := make([]string, 1, 1+len(fields))
	args[0] = itoa(len(key))
	for _, f := range fields {
		args = append(args, bin(f))
	}
	return s.wrap(ctx, op, dictionaryRemoveScript.Exec(ctx, s.client, []string{data, companion}, args).Error())
}

// DictionaryDelete deletes the dictionary: TYPE and UNLINK in one script.
func (s *Store) DictionaryDelete(ctx context.Context, cacheName string, key []byte) error {
	_, err := s.deleteCollection(ctx, "dictionary delete", "hash", cacheName, key)
	return err
}

// DictionaryLength returns the number of fields: HLEN.
func (s *Store) DictionaryLength(ctx context.Context, cacheName string, key []byte) (int, bool, error) {
	return s.length(ctx, "dictionary length", cacheName, key, func(k string) rueidis.Completed {
		return s.client.B().Hlen().Key(k).Build()
	})
}

// deleteCollection deletes the collection under key if it holds redisType.
func (s *Store) deleteCollection(ctx context.Context, op, redisType, cacheName string, key []byte) (bool, error) {
	data, companion, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return false, err
	}
	n, err := deleteCollectionScript.Exec(ctx, s.client, []string{data, companion}, []string{redisType}).AsInt64()
	if err != nil {
		return false, s.wrap(ctx, op, err)
	}
	return n == 1, nil
}

// length runs a command that counts a collection's elements (HLEN, SCARD,
// LLEN, ZCARD): 0 means the collection does not exist, as Redis deletes
// empty ones.
func (s *Store) length(ctx context.Context, op, cacheName string, key []byte, cmd func(data string) rueidis.Completed) (int, bool, error) {
	data, _, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return 0, false, err
	}
	n, err := s.client.Do(ctx, cmd(data)).AsInt64()
	if err != nil {
		return 0, false, s.wrap(ctx, op, err)
	}
	return int(n), n > 0, nil
}

// foundArray runs a script that answers {0} for a missing collection or
// {1, array} for an existing one, and returns the array.
func (s *Store) foundArray(ctx context.Context, op string, script *rueidis.Lua, keys, args []string) ([]rueidis.RedisMessage, bool, error) {
	res, err := script.Exec(ctx, s.client, keys, args).ToArray()
	if err != nil {
		return nil, false, s.wrap(ctx, op, err)
	}
	if len(res) == 0 {
		return nil, false, fmt.Errorf("redis: %s: empty reply", op)
	}
	if n, _ := res[0].AsInt64(); n == 0 {
		return nil, false, nil
	}
	if len(res) < 2 {
		return []rueidis.RedisMessage{}, true, nil
	}
	arr, err := res[1].ToArray()
	if err != nil {
		return nil, false, s.wrap(ctx, op, err)
	}
	return arr, true, nil
}
