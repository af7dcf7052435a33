package redis

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/rueidis"

	"github.com/thaw-dev/thaw/internal/store"
)

// Sets: a SET per item, its payload size in the companion.

var (
	// setUnionScript: the write arguments, then the members.
	setUnionScript = newScript(writeArgsLua + `
local exists = exists_as(D, 'set')
local at = exists and expiry(D)
if #ARGV == 4 then
  if exists and refresh then touch(D, M, ttl) end
  return 0
end
local members = unique(ARGV, 5)
local size = exists and current_size(D, M, 'set', keylen) or keylen
if exists then
  local is = mismember(D, members)
  for i, m in ipairs(members) do
    if is[i] == 0 then size = size + #m end
  end
else
  for _, m in ipairs(members) do size = size + #m end
end
check_size(size, maxsize)
call_chunks('SADD', D, members, 1, #members, 1)
finish(D, M, size, (not exists) or refresh, ttl, at)
return 0
`)

	// setRemoveScript: ARGV[1] the key's length, then the members. It
	// answers whether the set existed.
	setRemoveScript = newScript(`
local D, M, keylen = KEYS[1], KEYS[2], tonumber(ARGV[1])
if not exists_as(D, 'set') then return 0 end
if #ARGV == 1 then return 1 end
local at = expiry(D)
local size = current_size(D, M, 'set', keylen)
local members = unique(ARGV, 2)
local is = mismember(D, members)
for i, m in ipairs(members) do
  if is[i] == 1 then size = size - #m end
end
call_chunks('SREM', D, members, 1, #members, 1)
finish(D, M, size, false, nil, at)
return 1
`)

	// setSubtractFromScript: ARGV[1] the key's length, ARGV[2] MaxSize,
	// then the minuend. The set becomes the minuend's members that it did
	// not hold, keeping its expiry; it answers whether the set existed.
	setSubtractFromScript = newScript(`
local D, M, keylen, maxsize = KEYS[1], KEYS[2], tonumber(ARGV[1]), tonumber(ARGV[2])
if not exists_as(D, 'set') then return 0 end
local at = expiry(D)
local minuend = unique(ARGV, 3)
local is = mismember(D, minuend)
local keep = {}
local size = keylen
for i, m in ipairs(minuend) do
  if is[i] == 0 then
    keep[#keep + 1] = m
    size = size + #m
  end
end
check_size(size, maxsize)
redis.call('UNLINK', D)
if #keep == 0 then
  redis.call('DEL', M)
  return 1
end
call_chunks('SADD', D, keep, 1, #keep, 1)
finish(D, M, size, false, nil, at)
return 1
`)

	// setContainsScript: ARGV the elements. It answers {0} for a missing
	// set, else {1, SMISMEMBER}.
	setContainsScript = newReadScript(`
local D = KEYS[1]
if not exists_as(D, 'set') then return {0} end
return {1, mismember(D, ARGV)}
`)

	// setPopScript: ARGV[1] the key's length, ARGV[2] the count (> 0).
	// It answers {0} for a missing set, else {1, the members popped}.
	setPopScript = newScript(`
local D, M, keylen = KEYS[1], KEYS[2], tonumber(ARGV[1])
if not exists_as(D, 'set') then return {0} end
local at = expiry(D)
local size = current_size(D, M, 'set', keylen)
local popped = redis.call('SPOP', D, ARGV[2])
for _, m in ipairs(popped) do size = size - #m end
finish(D, M, size, false, nil, at)
return {1, popped}
`)
)

// SetUnion adds elements to the set: SADD plus the TTL and size
// bookkeeping in one script.
func (s *Store) SetUnion(ctx context.Context, cacheName string, key []byte, elements [][]byte, w store.CollectionWrite) error {
	const op = "set union"
	data, companion, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return err
	}
	if err := checkTTL(op, w.TTL); err != nil {
		return err
	}
	args := writeArgs(key, w, len(elements))
	for _, e := range elements {
		args = append(args, bin(e))
	}
	return s.wrap(ctx, op, setUnionScript.Exec(ctx, s.client, []string{data, companion}, args).Error())
}

// SetRemove removes elements from the set: SREM and the size bookkeeping in
// one script.
func (s *Store) SetRemove(ctx context.Context, cacheName string, key []byte, elements [][]byte) (bool, error) {
	const op = "set remove"
	data, companion, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return false, err
	}
	args := make([]string, 1, 1+len(elements))
	args[0] = itoa(len(key))
	for _, e := range elements {
		args = append(args, bin(e))
	}
	n, err := setRemoveScript.Exec(ctx, s.client, []string{data, companion}, args).AsInt64()
	if err != nil {
		return false, s.wrap(ctx, op, err)
	}
	return n == 1, nil
}

// SetSubtractFrom replaces the set with the members of minuend it lacks:
// SMISMEMBER, UNLINK and SADD in one script.
func (s *Store) SetSubtractFrom(ctx context.Context, cacheName string, key []byte, minuend [][]byte, maxSize int) (bool, error) {
	const op = "set subtract from"
	data, companion, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return false, err
	}
	args := make([]string, 2, 2+len(minuend))
	args[0], args[1] = itoa(len(key)), itoa(max(maxSize, 0))
	for _, e := range minuend {
		args = append(args, bin(e))
	}
	n, err := setSubtractFromScript.Exec(ctx, s.client, []string{data, companion}, args).AsInt64()
	if err != nil {
		// A set too large to take the difference exists, as in the memory store.
		err = s.wrap(ctx, op, err)
		return errors.Is(err, store.ErrItemTooLarge), err
	}
	return n == 1, nil
}

// SetDelete deletes the set: TYPE and UNLINK in one script.
func (s *Store) SetDelete(ctx context.Context, cacheName string, key []byte) (bool, error) {
	return s.deleteCollection(ctx, "set delete", "set", cacheName, key)
}

// SetFetch returns every member: SMEMBERS.
func (s *Store) SetFetch(ctx context.Context, cacheName string, key []byte) ([][]byte, bool, error) {
	const op = "set fetch"
	data, _, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return nil, false, err
	}
	members, err := s.client.Do(ctx, s.client.B().Smembers().Key(data).Build()).AsStrSlice()
	if err != nil {
		return nil, false, s.wrap(ctx, op, err)
	}
	if len(members) == 0 {
		return nil, false, nil
	}
	return byteSlices(members), true, nil
}

// SetSample returns up to limit distinct random members: SRANDMEMBER with
// a positive count, or SCARD for a limit of 0.
func (s *Store) SetSample(ctx context.Context, cacheName string, key []byte, limit int) ([][]byte, bool, error) {
	const op = "set sample"
	if limit <= 0 {
		_, found, err := s.SetLength(ctx, cacheName, key)
		if err != nil || !found {
			return nil, false, err
		}
		return [][]byte{}, true, nil
	}
	data, _, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return nil, false, err
	}
	members, err := s.client.Do(ctx, s.client.B().Srandmember().Key(data).Count(int64(limit)).Build()).AsStrSlice()
	if err != nil {
		return nil, false, s.wrap(ctx, op, err)
	}
	if len(members) == 0 {
		return nil, false, nil
	}
	return byteSlices(members), true, nil
}

// SetContains reports which elements the set holds: EXISTS and SMISMEMBER
// in one script.
func (s *Store) SetContains(ctx context.Context, cacheName string, key []byte, elements [][]byte) ([]bool, bool, error) {
	const op = "set contains"
	data, _, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return nil, false, err
	}
	args := make([]string, len(elements))
	for i, e := range elements {
		args[i] = bin(e)
	}
	res, found, err := s.foundArray(ctx, op, setContainsScript, []string{data}, args)
	if err != nil || !found {
		return nil, false, err
	}
	if len(res) != len(elements) {
		return nil, false, fmt.Errorf("redis: %s: %d answers for %d elements", op, len(res), len(elements))
	}
	out := make([]bool, len(res))
	for i := range res {
		n, err := res[i].AsInt64()
		if err != nil {
			return nil, false, s.wrap(ctx, op, err)
		}
		out[i] = n == 1
	}
	return out, true, nil
}

// SetLength returns the number of members: SCARD.
func (s *Store) SetLength(ctx context.Context, cacheName string, key []byte) (int, bool, error) {
	return s.length(ctx, "set length", cacheName, key, func(k string) rueidis.Completed {
		return s.client.B().Scard().Key(k).Build()
	})
}

// SetPop removes and returns up to count random members: SPOP with a count
// and the size bookkeeping in one script.
func (s *Store) SetPop(ctx context.Context, cacheName string, key []byte, count int) ([][]byte, bool, error) {
	const op = "set pop"
	if count <= 0 {
		_, found, err := s.SetLength(ctx, cacheName, key)
		if err != nil || !found {
			return nil, false, err
		}
		return [][]byte{}, true, nil
	}
	data, companion, err := s.collection(ctx, op, cacheName, key)
	if err != nil {
		return nil, false, err
	}
	res, found, err := s.foundArray(ctx, op, setPopScript, []string{data, companion}, []string{itoa(len(key)), itoa(count)})
	if err != nil || !found {
		return nil, false, err
	}
	out, err := replyBytes(res)
	if err != nil {
		return nil, false, s.wrap(ctx, op, err)
	}
	return out, true, nil
}

// replyBytes converts the bulk strings of an array reply.
func replyBytes(res []rueidis.RedisMessage) ([][]byte, error) {
	out := make([][]byte, len(res))
	for i := range res {
		var err error
		if out[i], err = res[i].AsBytes(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// byteSlices converts the strings of a reply.
func byteSlices(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}
