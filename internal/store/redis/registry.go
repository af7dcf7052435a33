package redis

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// registry is a node's snapshot of the caches: each cache's name and epoch,
// and the registry version it was read at. It is replaced, never modified.
type registry struct {
	version uint64
	refs    map[string]cacheRef
}

// nextEpochLua gives out the next epoch: the time of the registry's master
// in milliseconds, or one more than the last epoch when that is not less.
// Epochs thus grow, and a topic page taken from one (see topic.go) is later
// than every page of an earlier epoch. Every change of the registry takes
// one, so the last epoch is also the registry's version.
const nextEpochLua = `
local function next_epoch(key)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local last = tonumber(redis.call('GET', key) or '0')
  local e = string.format('%d', math.max(now, last + 1))
  redis.call('SET', key, e)
  return e
end
`

// Registry scripts: KEYS[1] the caches hash, KEYS[2] the epoch, KEYS[3]
// the sweep set, KEYS[4] the leaderboard generations; ARGV[1] the cache
// name. A cache's leaderboard generation is the epoch it was created with;
// flushes keep it (see keys.go). A cache that a version without
// leaderboards created has none in KEYS[4]: its generation is 0.
var (
	// createCacheScript adds the cache with a new epoch, which is also its
	// leaderboard generation, unless the registry already holds ARGV[2]
	// caches (0: no limit). The registry is one hash, so the count is the
	// whole cluster's and the check is atomic with the add.
	createCacheScript = rueidis.NewLuaScript(nextEpochLua + `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return redis.error_reply('THAW_EXISTS cache exists')
end
local limit = tonumber(ARGV[2])
if limit > 0 and redis.call('HLEN', KEYS[1]) >= limit then
  return redis.error_reply('THAW_CACHELIMIT cache limit reached')
end
local e = next_epoch(KEYS[2])
redis.call('HSET', KEYS[1], ARGV[1], e)
redis.call('HSET', KEYS[4], ARGV[1], e)
return e
`)
	// deleteCacheScript removes the cache and queues its key space and its
	// leaderboards for sweeping. It answers {old epoch, generation}.
	deleteCacheScript = rueidis.NewLuaScript(nextEpochLua + `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return redis.error_reply('THAW_NOTFOUND cache not found') end
local gen = redis.call('HGET', KEYS[4], ARGV[1]) or '0'
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
next_epoch(KEYS[2])
redis.call('SADD', KEYS[3], old .. ':' .. ARGV[1], 'lb:' .. gen .. ':' .. ARGV[1])
return {old, gen}
`)
	// flushCacheScript gives the cache a new epoch and queues the old key
	// space for sweeping; the leaderboards stay. It answers {old epoch, new
	// epoch, generation}.
	flushCacheScript = rueidis.NewLuaScript(nextEpochLua + `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return redis.error_reply('THAW_NOTFOUND cache not found') end
local e = next_epoch(KEYS[2])
redis.call('HSET', KEYS[1], ARGV[1], e)
redis.call('SADD', KEYS[3], old .. ':' .. ARGV[1])
return {old, e, redis.call('HGET', KEYS[4], ARGV[1]) or '0'}
`)
	// snapshotScript reads the version, every cache with its epoch and
	// every leaderboard generation.
	snapshotScript = rueidis.NewLuaScriptReadOnly(`
return {redis.call('GET', KEYS[2]) or '0', redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[4])}
`)
	// lookupCacheScript reads one cache: {epoch, generation}, or nil when
	// there is none.
	lookupCacheScript = rueidis.NewLuaScriptReadOnly(`
local e = redis.call('HGET', KEYS[1], ARGV[1])
if not e then return false end
return {e, redis.call('HGET', KEYS[4], ARGV[1]) or '0'}
`)
)

func (s *Store) registryKeys() []string {
	return []string{s.keys.caches, s.keys.epoch, s.keys.sweep, s.keys.leaderboards}
}

// CreateCache adds the cache to the registry with a new epoch.
func (s *Store) CreateCache(ctx context.Context, name string) error {
	const op = "create cache"
	if s.closed.Load() {
		return errClosed
	}
	res, err := createCacheScript.Exec(ctx, s.client, s.registryKeys(), []string{name, strconv.Itoa(s.cfg.MaxCaches)}).ToString()
	if err != nil {
		return s.wrap(ctx, fmt.Sprintf("%s %q", op, name), err)
	}
	epoch, err := strconv.ParseUint(res, 10, 64)
	if err != nil {
		return fmt.Errorf("redis: %s %q: malformed epoch %q", op, name, res)
	}
	ref := newCacheRef(s.cfg.Namespace, name, epoch, epoch)
	s.changed(ctx, name, &ref)
	return nil
}

// DeleteCache removes the cache from the registry, which ends its key
// space and its leaderboards at once, and sweeps their keys in the
// background.
func (s *Store) DeleteCache(ctx context.Context, name string) error {
	const op = "delete cache"
	if s.closed.Load() {
		return errClosed
	}
	res, err := deleteCacheScript.Exec(ctx, s.client, s.registryKeys(), []string{name}).AsStrSlice()
	if err != nil {
		return s.wrap(ctx, fmt.Sprintf("%s %q", op, name), err)
	}
	if len(res) != 2 {
		return fmt.Errorf("redis: %s %q: malformed reply %q", op, name, res)
	}
	s.changed(ctx, name, nil)
	s.startSweep(res[0] + ":" + name)
	s.startSweep(leaderboardSweepPrefix + res[1] + ":" + name)
	return nil
}

// FlushCache gives the cache a new epoch, which empties it at once, and
// sweeps the old epoch's keys in the background. The cache's topics start
// again on a new page; their subscriptions end with store.ErrTopicReset.
func (s *Store) FlushCache(ctx context.Context, name string) error {
	const op = "flush cache"
	if s.closed.Load() {
		return errClosed
	}
	res, err := flushCacheScript.Exec(ctx, s.client, s.registryKeys(), []string{name}).AsStrSlice()
	if err != nil {
		return s.wrap(ctx, fmt.Sprintf("%s %q", op, name), err)
	}
	if len(res) != 3 {
		return fmt.Errorf("redis: %s %q: malformed reply %q", op, name, res)
	}
	epoch, err := strconv.ParseUint(res[1], 10, 64)
	if err != nil {
		return fmt.Errorf("redis: %s %q: malformed epoch %q", op, name, res[1])
	}
	gen, err := strconv.ParseUint(res[2], 10, 64)
	if err != nil {
		return fmt.Errorf("redis: %s %q: malformed leaderboard generation %q", op, name, res[2])
	}
	ref := newCacheRef(s.cfg.Namespace, name, epoch, gen)
	s.changed(ctx, name, &ref)
	s.startSweep(res[0] + ":" + name)
	return nil
}

// ListCaches returns the names of all caches in the registry, sorted.
func (s *Store) ListCaches(ctx context.Context) ([]string, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	names, err := s.client.Do(ctx, s.client.B().Hkeys().Key(s.keys.caches).Build()).AsStrSlice()
	if err != nil {
		return nil, s.wrap(ctx, "list caches", err)
	}
	slices.Sort(names)
	return names, nil
}

// changed brings this node's snapshot up to a change it made: it applies
// the change (ref nil: the cache is gone) at once, so that this node never
// serves the old state again, and then reads the whole registry, which
// also brings in what other nodes changed meanwhile.
func (s *Store) changed(ctx context.Context, name string, ref *cacheRef) {
	for {
		old := s.reg.Load()
		next := &registry{version: old.version, refs: maps.Clone(old.refs)}
		if ref == nil {
			delete(next.refs, name)
		} else {
			next.refs[name] = *ref
		}
		if s.reg.CompareAndSwap(old, next) {
			break
		}
	}
	if err := s.refresh(ctx); err != nil {
		s.cfg.Logger.Warn("redis: refreshing the cache registry", "err", err)
	}
}

// refresh reads the whole registry and makes it this node's snapshot,
// unless the snapshot is already of a later version.
func (s *Store) refresh(ctx context.Context) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	res, err := snapshotScript.Exec(ctx, s.client, s.registryKeys(), nil).ToArray()
	if err != nil {
		return s.wrap(ctx, "read registry", err)
	}
	if len(res) != 3 {
		return fmt.Errorf("redis: read registry: malformed reply of %d elements", len(res))
	}
	v, _ := res[0].ToString()
	version, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return fmt.Errorf("redis: read registry: malformed version %q", v)
	}
	flat, err := res[1].AsStrSlice()
	if err != nil || len(flat)%2 != 0 {
		return fmt.Errorf("redis: read registry: malformed caches: %v", err)
	}
	gens, err := res[2].AsStrMap()
	if err != nil {
		return fmt.Errorf("redis: read registry: malformed leaderboard generations: %v", err)
	}
	next := &registry{version: version, refs: make(map[string]cacheRef, len(flat)/2)}
	for i := 0; i < len(flat); i += 2 {
		name := flat[i]
		epoch, err := strconv.ParseUint(flat[i+1], 10, 64)
		if err != nil {
			return fmt.Errorf("redis: read registry: cache %q has a malformed epoch %q", name, flat[i+1])
		}
		var gen uint64
		if g, ok := gens[name]; ok {
			if gen, err = strconv.ParseUint(g, 10, 64); err != nil {
				return fmt.Errorf("redis: read registry: cache %q has a malformed leaderboard generation %q", name, g)
			}
		}
		next.refs[name] = newCacheRef(s.cfg.Namespace, name, epoch, gen)
	}
	if cur := s.reg.Load(); cur.version > version {
		return nil
	}
	s.reg.Store(next)
	return nil
}

// runRegistryPoll reads the registry's version every RegistryPoll and
// refreshes the snapshot when it changed, until Close.
func (s *Store) runRegistryPoll() {
	ticker := time.NewTicker(s.cfg.RegistryPoll)
	defer ticker.Stop()
	for {
		select {
		case <-s.bg.Done():
			return
		case <-ticker.C:
		}
		ctx, cancel := context.WithTimeout(s.bg, s.cfg.DialTimeout)
		v, err := s.client.Do(ctx, s.client.B().Get().Key(s.keys.epoch).Build()).ToString()
		if rueidis.IsRedisNil(err) {
			v, err = "0", nil
		}
		err = s.wrap(s.bg, "poll the registry", err)
		if err == nil {
			if version, perr := strconv.ParseUint(v, 10, 64); perr == nil && version != s.reg.Load().version {
				err = s.refresh(ctx)
			}
		}
		cancel()
		if err != nil && s.bg.Err() == nil {
			s.cfg.Logger.Warn("redis: polling the cache registry", "err", err)
		}
	}
}
