package redis

import "github.com/redis/rueidis"

// luaPrelude is the helpers every collection script starts with.
//
// A collection's companion key M holds its payload size (the size that
// CollectionWrite.MaxSize bounds: the key plus every element's bytes, 8
// per sorted-set score) and always has the collection's expiry. Scripts
// read it, add what they change and write it back with the expiry the
// collection ends up with; when it is missing (it never should be) they
// compute the size from the elements.
const luaPrelude = `
local function wrongtype(t)
  error({err = 'WRONGTYPE key holds a ' .. t})
end

-- exists_as reports whether key holds a want, failing with WRONGTYPE when
-- it holds another type.
local function exists_as(key, want)
  local t = redis.call('TYPE', key)['ok']
  if t == 'none' then return false end
  if t ~= want then wrongtype(t) end
  return true
end

local function too_large(size, max)
  error({err = string.format('THAW_TOOLARGE the collection would be %d bytes, the limit is %d', size, max)})
end

local function check_size(size, max)
  if max > 0 and size > max then too_large(size, max) end
end

-- payload computes the payload size of the collection under D of type t.
local function payload(D, t, keylen)
  local size = keylen
  if t == 'hash' then
    local all = redis.call('HGETALL', D)
    for i = 1, #all do size = size + #all[i] end
  elseif t == 'set' then
    for _, m in ipairs(redis.call('SMEMBERS', D)) do size = size + #m end
  elseif t == 'list' then
    for _, v in ipairs(redis.call('LRANGE', D, 0, -1)) do size = size + #v end
  elseif t == 'zset' then
    for _, v in ipairs(redis.call('ZRANGE', D, 0, -1)) do size = size + #v + 8 end
  end
  return size
end

-- current_size is the payload size of the existing collection under D.
local function current_size(D, M, t, keylen)
  local s = redis.call('GET', M)
  if s then return tonumber(s) end
  return payload(D, t, keylen)
end

-- finish records size in M after a write. A collection left empty (which
-- Redis has deleted) loses M too. With setttl both get the TTL ttl;
-- otherwise the collection keeps the expiry it had before the write, at,
-- (restored when the write recreated the key) and M gets the same.
local function finish(D, M, size, setttl, ttl, at)
  if redis.call('EXISTS', D) == 0 then
    redis.call('DEL', M)
    return
  end
  local s = string.format('%d', size)
  if setttl then
    redis.call('PEXPIRE', D, ttl)
    redis.call('SET', M, s, 'PX', ttl)
    return
  end
  if at and at > 0 then
    if redis.call('PEXPIRETIME', D) ~= at then redis.call('PEXPIREAT', D, at) end
    redis.call('SET', M, s, 'PXAT', at)
  else
    redis.call('SET', M, s)
  end
end

-- expiry is the absolute expiry of D in milliseconds, or nil.
local function expiry(D)
  local at = redis.call('PEXPIRETIME', D)
  if at > 0 then return at end
  return nil
end

-- touch gives an existing collection and M the TTL ttl.
local function touch(D, M, ttl)
  redis.call('PEXPIRE', D, ttl)
  redis.call('PEXPIRE', M, ttl)
end

-- call_chunks calls cmd on D with the arguments args[first..last] in
-- chunks of at most 1000 (Lua's unpack has a limit), keeping pairs
-- together when step is 2.
local function call_chunks(cmd, D, args, first, last, step)
  local i = first
  while i <= last do
    local j = math.min(i + 1000 * step - 1, last)
    redis.call(cmd, D, unpack(args, i, j))
    i = j + 1
  end
end

-- unique returns args[first..] without repeats, in first-seen order.
local function unique(args, first)
  local seen, out = {}, {}
  for i = first, #args do
    local a = args[i]
    if not seen[a] then
      seen[a] = true
      out[#out + 1] = a
    end
  end
  return out
end

-- mismember returns SMISMEMBER D members, in chunks.
local function mismember(D, members)
  local out = {}
  local i = 1
  while i <= #members do
    local j = math.min(i + 999, #members)
    local r = redis.call('SMISMEMBER', D, unpack(members, i, j))
    for k = 1, #r do out[#out + 1] = r[k] end
    i = j + 1
  end
  return out
end

-- normint returns s as a canonical base-10 int64 (no '+', no leading
-- zeros, no "-0"), or nil when s is not one: what strconv.ParseInt
-- accepts in base 10, which Redis's INCRBY and HINCRBY then take.
local function normint(s)
  local sign, digits = string.match(s, '^([+-]?)(%d+)$')
  if not digits then return nil end
  digits = string.gsub(digits, '^0+', '')
  if digits == '' then return '0' end
  if #digits > 19 then return nil end
  if #digits == 19 then
    local limit = '9223372036854775807'
    if sign == '-' then limit = '9223372036854775808' end
    if digits > limit then return nil end
  end
  if sign == '-' then return '-' .. digits end
  return digits
end
`

// luaSHA256 is SHA-256 in Lua (on Redis's bit library), for the hash
// conditions of SetIf on a value that Increment wrote: at most 20 bytes,
// one block, tens of microseconds. Every other write hashes in Go.
const luaSHA256 = `
local sha256hex
do
  local band, bxor, bnot, rshift, ror, tobit, tohex = bit.band, bit.bxor, bit.bnot, bit.rshift, bit.ror, bit.tobit, bit.tohex
  local K = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  }
  sha256hex = function(msg)
    local bits = #msg * 8
    local lenbytes = {}
    for i = 8, 1, -1 do
      lenbytes[i] = string.char(bits % 256)
      bits = math.floor(bits / 256)
    end
    msg = msg .. '\128' .. string.rep('\0', (55 - #msg) % 64) .. table.concat(lenbytes)
    local H = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}
    for i = 1, #msg, 64 do
      local w = {}
      for j = 0, 15 do
        local a, b, c, d = string.byte(msg, i + 4 * j, i + 4 * j + 3)
        w[j] = tobit(a * 16777216 + b * 65536 + c * 256 + d)
      end
      for j = 16, 63 do
        local x, y = w[j - 15], w[j - 2]
        local s0 = bxor(ror(x, 7), ror(x, 18), rshift(x, 3))
        local s1 = bxor(ror(y, 17), ror(y, 19), rshift(y, 10))
        w[j] = tobit(w[j - 16] + s0 + w[j - 7] + s1)
      end
      local a, b, c, d, e, f, g, h = H[1], H[2], H[3], H[4], H[5], H[6], H[7], H[8]
      for j = 0, 63 do
        local S1 = bxor(ror(e, 6), ror(e, 11), ror(e, 25))
        local ch = bxor(band(e, f), band(bnot(e), g))
        local t1 = tobit(h + S1 + ch + K[j + 1] + w[j])
        local S0 = bxor(ror(a, 2), ror(a, 13), ror(a, 22))
        local maj = bxor(band(a, b), band(a, c), band(b, c))
        local t2 = tobit(S0 + maj)
        h, g, f, e, d, c, b, a = g, f, e, tobit(d + t1), c, b, a, tobit(t1 + t2)
      end
      H[1], H[2], H[3], H[4] = tobit(H[1] + a), tobit(H[2] + b), tobit(H[3] + c), tobit(H[4] + d)
      H[5], H[6], H[7], H[8] = tobit(H[5] + e), tobit(H[6] + f), tobit(H[7] + g), tobit(H[8] + h)
    end
    local out = {}
    for i = 1, 8 do out[i] = tohex(H[i], 8) end
    return table.concat(out)
  end
end
`

// newScript builds a script on the prelude.
func newScript(body string) *rueidis.Lua {
	return rueidis.NewLuaScript(luaPrelude + body)
}

// newReadScript builds a read-only script (EVALSHA_RO) on the prelude.
func newReadScript(body string) *rueidis.Lua {
	return rueidis.NewLuaScriptReadOnly(luaPrelude + body)
}
