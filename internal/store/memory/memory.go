// Package memory is thaw's embedded default store: named caches held in the
// server's memory.
//
// Every cache is split into shards by a hash of the key, each with its own
// lock, so that requests on different keys rarely wait for each other; a
// shard is allocated when a request first reaches it, so that an empty
// cache costs little. Caches are found by name in a sync.Map, without a
// lock. The store's counters are striped over cache lines, so that inserts
// on different shards rarely touch the same one. A list of the shards that
// hold items lets the background janitor, which removes expired items, and
// the optional memory limit, which evicts the oldest items of a few sampled
// shards, work in proportion to the items rather than to the number of
// caches.
//
// A shard keeps its scalar items in slab segments indexed by key hash, with
// no pointer per item (package internal/slab), so that the garbage
// collector does not scan them and an item costs little beyond its key and
// value; eviction takes them first in, first out, with a second chance for
// those read since they were written. Collections (dictionaries, sets,
// lists, sorted sets) are entries with pointers in a map of their own,
// evicted least recently used first. Every operation checks both under the
// shard's one lock, so that a key is never both.
package memory

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/thaw-dev/thaw/internal/store"
)

const (
	// expireBatch bounds the expiry work of one lock hold, so that a mass
	// expiry does not stall requests on the shard.
	expireBatch = 128
	// evictionSamples is how many non-empty shards eviction compares to
	// choose the one whose oldest item goes.
	evictionSamples = 5
	// maxIntLen is the length of the longest base-10 int64.
	maxIntLen = len("-9223372036854775808")
)

// errClosed is returned by every method once the store is closed.
var errClosed = fmt.Errorf("memory: %w", store.ErrClosed)

// Store is an in-memory store.Store. Create it with New and release it with
// Close.
type Store struct {
	cfg   Config
	epoch time.Time    // origin of the store clock; see now
	seed  maphash.Seed // seeds the hash of keys: it picks a key's shard and its slot in the shard's index
	// hash is the hash of keys with seed, which every shard's slab log
	// shares.
	hash func(key []byte) uint64

	caches sync.Map // cache name → *cache; read without a lock, written under mu
	closed atomic.Bool
	// lastPage is the last topic sequence page given out (see newTopicPage).
	lastPage atomic.Uint64

	mu     sync.Mutex // guards writes to caches and closed, and sorted
	sorted []*cache   // the caches, by name

	stop chan struct{} // closed by Close to stop the janitor
	done chan struct{} // closed by the janitor when it returns

	// stripes are the store's counters, striped: each shard reports to
	// one, and Stats sums them. len(stripes) is a power of two, four per
	// processor, so that inserts on different shards rarely share one.
	stripes    []counterStripe
	nextStripe atomic.Uint64 // picks the stripe of the next shard made
	// structBytes are the bytes accounted to caches and shards themselves
	// (see CacheOverhead), beside those of their items.
	structBytes atomic.Int64
	// occ lists the shards that may hold items, for eviction and the
	// janitor.
	occ occupancy
	// tomb is the dead shard that DeleteCache and Close put in the shard
	// slots that were never used, so that a request that found the cache
	// before it died allocates no shard in it and fails as if it came after.
	tomb *shard
	// sweepBuf is the janitor's copy of occ; only the janitor uses it.
	sweepBuf []*shard
}

var _ store.Store = (*Store)(nil)

// The bytes accounted to caches and shards themselves, beside their items:
// every cache costs CacheOverhead (its name, its entries in the store's
// indexes, its topic set) plus ShardSlotOverhead per shard slot
// (Config.Shards), and each shard, once a request has reached it,
// ShardOverhead more. Stats().Bytes and Config.MaxMemory count them.
// Measured like ItemOverhead (Go 1.26, linux/amd64): 1,000 empty caches of
// 64 shards grew the Go heap by about 800 bytes each, and one small item
// set in each by about 970 bytes more (BenchmarkEmptyCacheMemory's
// bytes/cache and bytes/first-item): the shard's struct, its slab log with
// the first group of its index, and its first, 256-byte, segment, which
// holds the item.
const (
	CacheOverhead     = 288
	ShardSlotOverhead = 8
	ShardOverhead     = 896
)

// cache is one named cache.
type cache struct {
	name string
	// shards are the cache's shard slots, each nil until a request reaches
	// it; see Store.shardFor.
	shards []atomic.Pointer[shard]
	mask   uint64 // len(shards)-1; len(shards) is a power of two
	store  *Store
	topics topicSet

	// leaderboards are kept apart from the items; see leaderboard.go.
	leaderboards leaderboardSet
}

// New returns a running store configured by cfg; see Config for the defaults.
// It starts the janitor goroutine, which Close stops.
func New(cfg Config) *Store {
	cfg = cfg.withDefaults()
	stripes := 1
	for stripes < 4*runtime.GOMAXPROCS(0) {
		stripes <<= 1
	}
	s := &Store{
		cfg:     cfg,
		epoch:   time.Now(),
		seed:    maphash.MakeSeed(),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		stripes: make([]counterStripe, stripes),
		tomb:    &shard{dead: true},
	}
	s.hash = func(key []byte) uint64 { return maphash.Bytes(s.seed, key) }
	go s.runJanitor()
	return s
}

// now reads the store clock: nanoseconds since the store was created, on the
// monotonic clock.
func (s *Store) now() int64 {
	return int64(time.Since(s.epoch))
}

// deadline returns the store clock reading ttl after now, saturating.
func deadline(now int64, ttl time.Duration) int64 {
	if int64(ttl) > math.MaxInt64-now {
		return math.MaxInt64
	}
	return now + int64(ttl)
}

// CreateCache creates an empty cache named name. It fails with
// store.ErrCacheLimit when the store holds Config.MaxCaches caches.
func (s *Store) CreateCache(_ context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return errClosed
	}
	if _, ok := s.caches.Load(name); ok {
		return fmt.Errorf("memory: create cache %q: %w", name, store.ErrCacheExists)
	}
	if s.cfg.MaxCaches > 0 && len(s.sorted) >= s.cfg.MaxCaches {
		return fmt.Errorf("memory: create cache %q: the store holds its limit of %d caches: %w", name, s.cfg.MaxCaches, store.ErrCacheLimit)
	}
	c := &cache{name: name, shards: make([]atomic.Pointer[shard], s.cfg.Shards), mask: uint64(s.cfg.Shards - 1), store: s}
	i, _ := slices.BinarySearchFunc(s.sorted, name, compareName)
	s.sorted = slices.Insert(s.sorted, i, c)
	s.caches.Store(name, c)
	s.structBytes.Add(c.overhead())
	return nil
}

// compareName orders caches by name, for searching Store.sorted.
func compareName(c *cache, name string) int {
	return strings.Compare(c.name, name)
}

// DeleteCache removes the cache named name and all its items.
func (s *Store) DeleteCache(_ context.Context, name string) error {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return errClosed
	}
	v, ok := s.caches.Load(name)
	if !ok {
		s.mu.Unlock()
		return notFound("delete cache", name)
	}
	c := v.(*cache)
	s.caches.Delete(name)
	if i, found := slices.BinarySearchFunc(s.sorted, name, compareName); found {
		s.sorted = slices.Delete(s.sorted, i, i+1)
	}
	s.mu.Unlock()

	// Requests that found c before it was removed may still hold it;
	// marking every shard dead makes them fail as if they had come after.
	// The cache's subscriptions end as the service ends them: cache not
	// found.
	s.kill(c)
	c.topics.end(notFound("subscribe", name))
	return nil
}

// kill empties every shard of c and marks it dead, puts the tomb in the
// slots of the shards never made, and gives back the bytes accounted to c.
func (s *Store) kill(c *cache) {
	for i := range c.shards {
		slot := &c.shards[i]
		sh := slot.Load()
		for sh == nil {
			if slot.CompareAndSwap(nil, s.tomb) {
				sh = s.tomb
				break
			}
			sh = slot.Load()
		}
		if sh == s.tomb {
			continue
		}
		sh.mu.Lock()
		sh.clearLocked()
		sh.dead = true
		sh.mu.Unlock()
		s.structBytes.Add(-ShardOverhead)
	}
	s.structBytes.Add(-c.overhead())
}

// overhead is the number of bytes accounted to c itself, beside its shards
// and items.
func (c *cache) overhead() int64 {
	return CacheOverhead + ShardSlotOverhead*int64(len(c.shards))
}

// FlushCache removes every item of the cache named name, and resets its
// topics: what they retained is dropped, their subscriptions end with
// store.ErrTopicReset, and their next use starts a new sequence page.
func (s *Store) FlushCache(_ context.Context, name string) error {
	c, err := s.cache("flush cache", name)
	if err != nil {
		return err
	}
	c.topics.reset(fmt.Errorf("memory: cache %q flushed: %w", name, store.ErrTopicReset))
	for i := range c.shards {
		sh := c.shards[i].Load()
		if sh == nil {
			continue // never used: empty
		}
		sh.mu.Lock()
		if sh.dead { // DeleteCache emptied it, or the tomb
			sh.mu.Unlock()
			return s.goneErr("flush cache", name)
		}
		sh.clearLocked()
		sh.mu.Unlock()
	}
	return nil
}

// ListCaches returns the names of all caches, sorted.
func (s *Store) ListCaches(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, errClosed
	}
	names := make([]string, len(s.sorted))
	for i, c := range s.sorted {
		names[i] = c.name
	}
	return names, nil
}

// Get returns the value of key. The value is shared with the store and must
// not be modified: it is the slab record's own bytes, which the store marks
// so that it never writes them again (see slab.Log.Share).
func (s *Store) Get(_ context.Context, cacheName string, key []byte) ([]byte, bool, error) {
	sh, h, err := s.madeShard("get", cacheName, key)
	if err != nil || sh == nil {
		return nil, false, err
	}
	now := s.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.dead {
		return nil, false, s.goneErr("get", cacheName)
	}
	r, ok := sh.scalarLocked(h, key, now)
	if !ok {
		if e := sh.liveCollLocked(key, now); e != nil {
			return nil, false, wrongType("get", e)
		}
		return nil, false, nil
	}
	if sh.trackLRU {
		sh.scalars.Touch(r)
	}
	return sh.scalars.Share(r), true, nil
}

// Set stores a copy of value under key for ttl.
func (s *Store) Set(_ context.Context, cacheName string, key, value []byte, ttl time.Duration) error {
	sh, h, err := s.shard("set", cacheName, key)
	if err != nil {
		return err
	}
	if err := s.checkWrite("set", key, len(value), ttl); err != nil {
		return err
	}
	now := s.now()
	sh.mu.Lock()
	if sh.dead {
		sh.mu.Unlock()
		return s.goneErr("set", cacheName)
	}
	grew := sh.putScalarLocked(h, key, value, deadline(now, ttl), now)
	sh.mu.Unlock()
	s.evictIfOver(grew)
	return nil
}

// SetIf stores a copy of value under key for ttl if cond holds for the
// current value, and reports whether it stored. The condition, hash kinds
// included, is evaluated under the shard's lock, so that the comparison and
// the write are one step.
func (s *Store) SetIf(_ context.Context, cacheName string, key, value []byte, ttl time.Duration, cond store.Condition) (bool, error) {
	sh, h, err := s.shard("set if", cacheName, key)
	if err != nil {
		return false, err
	}
	if err := s.checkWrite("set if", key, len(value), ttl); err != nil {
		return false, err
	}
	now := s.now()
	sh.mu.Lock()
	if sh.dead {
		sh.mu.Unlock()
		return false, s.goneErr("set if", cacheName)
	}
	var current []byte
	r, found := sh.scalarLocked(h, key, now)
	if found {
		current = sh.scalars.Value(r)
	} else if e := sh.liveCollLocked(key, now); e != nil {
		sh.mu.Unlock()
		return false, wrongType("set if", e)
	}
	if !cond.Holds(current, found) {
		sh.mu.Unlock()
		return false, nil
	}
	grew := sh.putScalarLocked(h, key, value, deadline(now, ttl), now)
	sh.mu.Unlock()
	s.evictIfOver(grew)
	return true, nil
}

// Delete removes key.
func (s *Store) Delete(_ context.Context, cacheName string, key []byte) error {
	sh, h, err := s.madeShard("delete", cacheName, key)
	if err != nil || sh == nil {
		return err
	}
	now := s.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.dead {
		return s.goneErr("delete", cacheName)
	}
	if r, ok := sh.scalars.Lookup(h, key); ok {
		sh.removeScalarLocked(r, now) // the slab's expiry heap drops its entry lazily
	} else if e := sh.colls[string(key)]; e != nil {
		sh.removeCollLocked(e)
	}
	return nil
}

// KeysExist reports, for each key in order, whether it holds a live value.
func (s *Store) KeysExist(_ context.Context, cacheName string, keys [][]byte) ([]bool, error) {
	c, err := s.cache("keys exist", cacheName)
	if err != nil {
		return nil, err
	}
	exist := make([]bool, len(keys))
	now := s.now()
	for i, key := range keys {
		h := s.hash(key)
		sh := c.madeShardAt(h)
		if sh == nil {
			continue // a shard never used holds nothing
		}
		sh.mu.Lock()
		if sh.dead {
			sh.mu.Unlock()
			return nil, s.goneErr("keys exist", cacheName)
		}
		_, scalar := sh.scalarLocked(h, key, now)
		exist[i] = scalar || sh.liveCollLocked(key, now) != nil
		sh.mu.Unlock()
	}
	return exist, nil
}

// Increment adds amount to the base-10 int64 stored under key, or stores
// amount if the key has no value, sets the TTL to ttl and returns the result.
func (s *Store) Increment(_ context.Context, cacheName string, key []byte, amount int64, ttl time.Duration) (int64, error) {
	sh, h, err := s.shard("increment", cacheName, key)
	if err != nil {
		return 0, err
	}
	if err := s.checkWrite("increment", key, maxIntLen, ttl); err != nil {
		return 0, err
	}
	now := s.now()
	sh.mu.Lock()
	if sh.dead {
		sh.mu.Unlock()
		return 0, s.goneErr("increment", cacheName)
	}
	sum := amount
	if r, ok := sh.scalarLocked(h, key, now); ok {
		current, err := strconv.ParseInt(string(sh.scalars.Value(r)), 10, 64)
		if err != nil {
			sh.mu.Unlock()
			return 0, fmt.Errorf("memory: increment in cache %q: %w", cacheName, store.ErrNotInteger)
		}
		if (amount > 0 && current > math.MaxInt64-amount) || (amount < 0 && current < math.MinInt64-amount) {
			sh.mu.Unlock()
			return 0, fmt.Errorf("memory: increment %d by %d in cache %q: %w", current, amount, cacheName, store.ErrOverflow)
		}
		sum = current + amount
	} else if e := sh.liveCollLocked(key, now); e != nil {
		sh.mu.Unlock()
		return 0, wrongType("increment", e)
	}
	var digits [maxIntLen]byte
	grew := sh.putScalarLocked(h, key, strconv.AppendInt(digits[:0], sum, 10), deadline(now, ttl), now)
	sh.mu.Unlock()
	s.evictIfOver(grew)
	return sum, nil
}

// UpdateTTL changes the TTL of key as kind says.
func (s *Store) UpdateTTL(_ context.Context, cacheName string, key []byte, kind store.TTLUpdateKind, ttl time.Duration) (store.TTLUpdateResult, error) {
	sh, h, err := s.madeShard("update ttl", cacheName, key)
	if err != nil {
		return 0, err
	}
	if err := checkTTL("update ttl", ttl); err != nil {
		return 0, err
	}
	if kind != store.IncreaseTo && kind != store.DecreaseTo && kind != store.OverwriteTo {
		return 0, fmt.Errorf("memory: update ttl: unknown kind %d", kind)
	}
	if sh == nil {
		return store.TTLMissing, nil
	}
	now := s.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.dead {
		return 0, s.goneErr("update ttl", cacheName)
	}
	expires := deadline(now, ttl)
	notSet := func(current int64) bool {
		return (kind == store.IncreaseTo && expires <= current) || (kind == store.DecreaseTo && expires >= current)
	}
	if r, ok := sh.scalarLocked(h, key, now); ok {
		if notSet(sh.scalars.Expires(r)) {
			return store.TTLNotSet, nil
		}
		sh.scalars.SetExpires(r, expires)
		sh.noteExpiryLocked()
		return store.TTLSet, nil
	}
	e := sh.liveCollLocked(key, now)
	if e == nil {
		return store.TTLMissing, nil
	}
	if notSet(e.expires) {
		return store.TTLNotSet, nil
	}
	sh.setExpiresLocked(e, expires)
	return store.TTLSet, nil
}

// ItemTTL returns the remaining TTL of key.
func (s *Store) ItemTTL(_ context.Context, cacheName string, key []byte) (time.Duration, bool, error) {
	sh, h, err := s.madeShard("item ttl", cacheName, key)
	if err != nil || sh == nil {
		return 0, false, err
	}
	now := s.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.dead {
		return 0, false, s.goneErr("item ttl", cacheName)
	}
	if r, ok := sh.scalarLocked(h, key, now); ok {
		return time.Duration(sh.scalars.Expires(r) - now), true, nil
	}
	e := sh.liveCollLocked(key, now)
	if e == nil {
		return 0, false, nil
	}
	return time.Duration(e.expires - now), true, nil
}

// ItemType returns the kind of value stored under key.
func (s *Store) ItemType(_ context.Context, cacheName string, key []byte) (store.ItemType, bool, error) {
	sh, h, err := s.madeShard("item type", cacheName, key)
	if err != nil || sh == nil {
		return 0, false, err
	}
	now := s.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.dead {
		return 0, false, s.goneErr("item type", cacheName)
	}
	if _, ok := sh.scalarLocked(h, key, now); ok {
		return store.ItemScalar, true, nil
	}
	e := sh.liveCollLocked(key, now)
	if e == nil {
		return 0, false, nil
	}
	return e.kind(), true, nil
}

// Stats returns the store's gauges and counters. Bytes counts the items
// and, beside them, the caches and shards themselves (see CacheOverhead).
func (s *Store) Stats() store.Stats {
	var st store.Stats
	for i := range s.stripes {
		stripe := &s.stripes[i]
		st.Items += stripe.items.Load()
		st.Bytes += stripe.bytes.Load()
		st.Evictions += stripe.evictions.Load()
		st.Expirations += stripe.expirations.Load()
	}
	st.Bytes += s.structBytes.Load()
	return st
}

// accountedBytes is Stats().Bytes, which the memory limit bounds.
func (s *Store) accountedBytes() int64 {
	n := s.structBytes.Load()
	for i := range s.stripes {
		n += s.stripes[i].bytes.Load()
	}
	return n
}

// Close stops the janitor, waits for it to return and drops every cache.
// Later calls of every method, Close included, return store.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return errClosed
	}
	s.closed.Store(true)
	old := s.sorted
	s.sorted = nil
	s.caches.Clear()
	s.mu.Unlock()

	close(s.stop)
	<-s.done
	for _, c := range old {
		s.kill(c)
		c.topics.end(errClosed)
	}
	return nil
}

// cache returns the cache named name. op names the operation in errors.
func (s *Store) cache(op, name string) (*cache, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	v, ok := s.caches.Load(name)
	if !ok {
		return nil, notFound(op, name)
	}
	return v.(*cache), nil
}

// shard returns the shard of key in the cache named name, and the key's
// hash, for a write: it makes the shard if no request has reached it yet.
func (s *Store) shard(op, name string, key []byte) (*shard, uint64, error) {
	c, err := s.cache(op, name)
	if err != nil {
		return nil, 0, err
	}
	h := s.hash(key)
	return c.shardAt(h), h, nil
}

// madeShard returns the shard of key in the cache named name, for a read
// (or a write that only changes what exists): nil, with a nil error, when no
// request has made the shard yet, which therefore holds nothing. Reads thus
// allocate nothing, and change no accounted bytes.
func (s *Store) madeShard(op, name string, key []byte) (*shard, uint64, error) {
	c, err := s.cache(op, name)
	if err != nil {
		return nil, 0, err
	}
	h := s.hash(key)
	return c.madeShardAt(h), h, nil
}

// madeShardAt returns the shard that holds the keys of hash h, or nil if no
// request has made it yet. A cache that was deleted meanwhile has the tomb,
// not nil, in every slot, so nil means the cache was live when the slot was
// read.
func (c *cache) madeShardAt(h uint64) *shard {
	return c.shards[h&c.mask].Load()
}

// shardAt returns the shard that holds the keys of hash h, making it if no
// request has reached it yet. In a deleted cache it may return the store's
// tomb, a dead shard.
func (c *cache) shardAt(h uint64) *shard {
	slot := &c.shards[h&c.mask]
	if sh := slot.Load(); sh != nil {
		return sh
	}
	return c.store.makeShard(slot)
}

// makeShard fills the empty shard slot with a new shard, unless another
// request or DeleteCache filled it first, and returns the slot's shard.
func (s *Store) makeShard(slot *atomic.Pointer[shard]) *shard {
	sh := new(shard)
	stripe := &s.stripes[s.nextStripe.Add(1)&uint64(len(s.stripes)-1)]
	sh.init(s.hash, stripe, &s.occ, s.cfg.MaxMemory > 0)
	if slot.CompareAndSwap(nil, sh) {
		s.structBytes.Add(ShardOverhead)
		s.evictIfOver(ShardOverhead)
		return sh
	}
	return slot.Load()
}

// goneErr is the error for a request that found its cache and then a dead
// shard: the cache was deleted or the store closed meanwhile.
func (s *Store) goneErr(op, name string) error {
	if s.closed.Load() {
		return errClosed
	}
	return notFound(op, name)
}

// wrongType is the error for a scalar operation on the collection e.
func wrongType(op string, e *entry) error {
	return fmt.Errorf("memory: %s: key holds a %s, not a scalar: %w", op, typeName(e.kind()), store.ErrWrongType)
}

// notFound is the error for a cache that does not exist.
func notFound(op, name string) error {
	return fmt.Errorf("memory: %s: cache %q: %w", op, name, store.ErrCacheNotFound)
}

// checkWrite validates the TTL of a write and, under a memory limit, that an
// item with this key and a value of valueLen bytes can fit at all.
func (s *Store) checkWrite(op string, key []byte, valueLen int, ttl time.Duration) error {
	if err := checkTTL(op, ttl); err != nil {
		return err
	}
	if size := int64(len(key)+valueLen) + ItemOverhead; s.cfg.MaxMemory > 0 && size > s.cfg.MaxMemory {
		return fmt.Errorf("memory: %s: item of %d bytes exceeds the memory limit of %d bytes: %w", op, size, s.cfg.MaxMemory, store.ErrItemTooLarge)
	}
	return nil
}

// checkTTL rejects a TTL that is not positive.
func checkTTL(op string, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("memory: %s: ttl %v is not positive: %w", op, ttl, store.ErrInvalidTTL)
	}
	return nil
}

// evictIfOver evicts items while the store exceeds its memory limit, after a
// write that grew the accounted bytes by grew.
func (s *Store) evictIfOver(grew int64) {
	if grew <= 0 || s.cfg.MaxMemory <= 0 {
		return
	}
	for s.accountedBytes() > s.cfg.MaxMemory {
		if !s.evictOne() {
			return
		}
	}
}

// evictOne frees memory once: it removes the expired items of the first
// sampled shard that has any, or else the oldest item in eviction order
// (see shard.evictLocked) of the oldest of a few shards sampled from those
// that hold items. It
// reports false when every cache is empty. Its cost does not depend on the
// number of caches: the samples come from the store's list of shards that
// may hold items, and each empty one sampled leaves the list.
func (s *Store) evictOne() bool {
	now := s.now()
	var (
		victim  *shard
		oldest  int64 = math.MaxInt64
		samples [evictionSamples]*shard
	)
	for victim == nil {
		picked := s.occ.sample(samples[:0], evictionSamples)
		if len(picked) == 0 {
			return false
		}
		for _, sh := range picked {
			sh.mu.Lock()
			if sh.dead {
				sh.mu.Unlock()
				continue
			}
			if removed, _ := sh.expireLocked(now, expireBatch); removed > 0 {
				sh.unlistIfEmptyLocked()
				sh.mu.Unlock()
				return true
			}
			if used, ok := sh.oldestLocked(); !ok {
				sh.unlistIfEmptyLocked()
			} else if used < oldest {
				oldest, victim = used, sh
			}
			sh.mu.Unlock()
		}
	}
	victim.mu.Lock()
	defer victim.mu.Unlock()
	// The oldest item may have changed since sampling; any item of the
	// shard is a fair approximation, and the caller checks the limit again.
	if !victim.dead {
		victim.evictLocked(s.now())
	}
	return true
}

// runJanitor removes expired items every JanitorInterval until Close.
func (s *Store) runJanitor() {
	defer close(s.done)
	ticker := time.NewTicker(s.cfg.JanitorInterval)
	defer ticker.Stop()
	topicSweep := time.Now()
	for {
		select {
		case <-s.stop:
			return
		case now := <-ticker.C:
			if stopped := s.sweep(); stopped {
				return
			}
			if now.Sub(topicSweep) >= s.topicSweepInterval() {
				topicSweep = now
				s.sweepTopics()
			}
		}
	}
}

// topicSweepInterval is how often the janitor looks for idle topics: a
// tenth of Config.TopicIdleTTL, within [JanitorInterval, 10 s].
func (s *Store) topicSweepInterval() time.Duration {
	return min(max(s.cfg.TopicIdleTTL/10, s.cfg.JanitorInterval), 10*time.Second)
}

// sweepCheckStop is how many shards the janitor visits between checks for
// Close.
const sweepCheckStop = 256

// sweep removes every expired item, a batch per lock hold, and shrinks the
// shards that have lost most of their items. It visits only the shards that
// may hold items, and locks only those with an item due (see
// shard.nextExpiry), so that idle caches cost it next to nothing. It stops
// early and reports true if Close was called meanwhile.
func (s *Store) sweep() (stopped bool) {
	s.sweepBuf = s.occ.snapshot(s.sweepBuf[:0])
	defer clear(s.sweepBuf) // let deleted shards go
	var now int64
	for i, sh := range s.sweepBuf {
		if i%sweepCheckStop == 0 {
			select {
			case <-s.stop:
				return true
			default:
			}
			now = s.now()
		}
		// A shard with nothing due is skipped; one with an empty heap
		// holds no items and is visited to leave the list.
		if next := sh.nextExpiry.Load(); next > now && next != math.MaxInt64 {
			continue
		}
		for done := false; !done; {
			now := s.now()
			sh.mu.Lock()
			_, done = sh.expireLocked(now, expireBatch)
			if done {
				sh.shrinkLocked()
				sh.unlistIfEmptyLocked()
			}
			sh.mu.Unlock()
		}
	}
	return false
}
