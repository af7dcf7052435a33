package memory

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/thaw-dev/thaw/internal/store/memory/internal/slab"
)

// counterStripe is one stripe of the store's gauges and counters behind
// Stats. Every shard reports to one stripe, chosen when the shard is made,
// and Stats sums the stripes, so that inserts into different shards rarely
// update the same cache line (see Store.stripes). The padding keeps each
// stripe on cache lines of its own.
type counterStripe struct {
	items       atomic.Int64
	bytes       atomic.Int64
	evictions   atomic.Int64
	expirations atomic.Int64
	_           [128 - 4*8]byte
}

// shard is an independently locked part of a cache. Its scalars live in a
// slab log, without pointers (see scalar.go); its collections are entries
// in a map (see collection_entry.go). A key is in at most one of the two:
// every operation checks both under mu, so that a scalar replacing a
// collection, or a wrong-type error, is one step.
type shard struct {
	mu sync.Mutex // guards scalars, colls, collPeak, bytes, lru, expiry, dead, listed and the entries they hold
	// scalars holds the shard's scalar items, their expiries and their
	// eviction order.
	scalars *slab.Log
	// colls maps keys to live (and expired but not yet removed)
	// collections; nil until the shard holds one.
	colls map[string]*entry
	// collPeak is the largest len(colls) since colls was made. Go maps
	// never shrink, so shrinkLocked rebuilds one that has lost most of its
	// entries.
	collPeak int
	// bytes is the sum of the bytes accounted to the shard's items.
	bytes int64
	// lru is the sentinel of a circular list of the collections, most
	// recently used first. Only eviction reads the order, so reads and
	// overwrites update it only when trackLRU is set, as they mark scalars
	// read only then.
	lru      entry
	trackLRU bool
	// expiry holds the collections in a min-heap ordered by heapKey.
	expiry expiryHeap
	// dead is set when the cache is deleted or the store closed; a dead shard
	// holds nothing and refuses every operation.
	dead bool
	// listed says whether the shard is in occ, the store's list of shards
	// that may hold items. It is set when the shard gains an item and
	// cleared when eviction or the janitor finds it empty, or it dies.
	listed bool
	// nextExpiry is the earliest of the scalars' next expiry and the
	// collections' heap root (math.MaxInt64 when neither has one): no item
	// of the shard expires before it. It is written under mu and read
	// without it by the janitor, which skips the shards with nothing due.
	nextExpiry atomic.Int64
	// stats is the stripe of the store's counters that the shard keeps up
	// to date.
	stats *counterStripe
	// occ is the store's list of shards that may hold items.
	occ *occupancy
	// occIndex is the shard's position in occ.shards; guarded by occ.mu.
	occIndex int
	_        [64]byte // keeps neighbouring shards' locks off one cache line
}

// init prepares an empty shard whose scalar keys hash with hash, that
// reports to stats and joins occ when it gains an item and, if trackLRU is
// set, keeps the order eviction needs.
func (sh *shard) init(hash func([]byte) uint64, stats *counterStripe, occ *occupancy, trackLRU bool) {
	sh.scalars = slab.New(hash)
	sh.lru.next = &sh.lru
	sh.lru.prev = &sh.lru
	sh.trackLRU = trackLRU
	sh.stats = stats
	sh.occ = occ
	sh.nextExpiry.Store(math.MaxInt64)
}

// lenLocked is the number of items in the shard, expired or not.
func (sh *shard) lenLocked() int { return sh.scalars.Len() + len(sh.colls) }

// noteExpiryLocked publishes the earliest expiry in nextExpiry after a
// change to the expiry indexes.
func (sh *shard) noteExpiryLocked() {
	next := sh.scalars.NextExpiry()
	if len(sh.expiry) > 0 {
		next = min(next, sh.expiry[0].heapKey)
	}
	if sh.nextExpiry.Load() != next {
		sh.nextExpiry.Store(next)
	}
}

// listLocked puts the shard, which has just gained an item, in the store's
// list of shards that may hold items.
func (sh *shard) listLocked() {
	if !sh.listed {
		sh.occ.add(sh)
		sh.listed = true
	}
}

// accountLocked adds items and bytes (either may be negative) to the
// shard's byte count and the store's counters.
func (sh *shard) accountLocked(items int, bytes int64) {
	if items != 0 {
		sh.stats.items.Add(int64(items))
	}
	if bytes != 0 {
		sh.bytes += bytes
		sh.stats.bytes.Add(bytes)
	}
}

// unlistIfEmptyLocked takes an empty shard out of the store's list of shards
// that may hold items, and lets go of the memory its indexes and segments
// hold, which the janitor no longer visits.
func (sh *shard) unlistIfEmptyLocked() {
	if sh.lenLocked() != 0 || !sh.listed {
		return
	}
	sh.unlistLocked()
	sh.resetLocked()
}

// unlistLocked takes the shard out of the store's list of shards that may
// hold items.
func (sh *shard) unlistLocked() {
	sh.occ.remove(sh)
	sh.listed = false
}

// resetLocked drops every item and lets go of the memory the shard's
// indexes, segments and heap hold; the caller has accounted for the items.
func (sh *shard) resetLocked() {
	sh.scalars.Clear()
	sh.colls = nil
	sh.collPeak = 0
	sh.lru.next = &sh.lru
	sh.lru.prev = &sh.lru
	sh.expiry = nil
	sh.noteExpiryLocked()
}

// expireLocked removes the items that have expired at now, taking at most
// limit steps, and returns how many it removed and whether it finished.
func (sh *shard) expireLocked(now int64, limit int) (removed int, done bool) {
	removed, keyValueBytes, done := sh.scalars.Expire(now, limit)
	if removed > 0 {
		sh.accountLocked(-removed, -(keyValueBytes + int64(removed)*ItemOverhead))
	}
	if done {
		var colls int
		colls, done = sh.expireCollsLocked(now, limit)
		removed += colls
	}
	sh.noteExpiryLocked()
	if removed > 0 {
		sh.stats.expirations.Add(int64(removed))
	}
	return removed, done
}

// oldestLocked returns the store clock reading of the shard's oldest item
// in eviction order (see evictLocked), and false if the shard is empty.
func (sh *shard) oldestLocked() (int64, bool) {
	oldest, ok := sh.scalars.Oldest()
	if e := sh.oldestCollLocked(); e != nil && (!ok || e.used < oldest) {
		oldest, ok = e.used, true
	}
	return oldest, ok
}

// evictLocked removes the shard's oldest item in eviction order: the
// least recently used collection, or the first scalar of the oldest slab
// segment not read since it was written, whichever is older. It reports
// false if the shard is empty.
func (sh *shard) evictLocked(now int64) bool {
	scalarAge, hasScalars := sh.scalars.Oldest()
	if e := sh.oldestCollLocked(); e != nil && (!hasScalars || e.used < scalarAge) {
		sh.removeCollLocked(e)
	} else if keyLen, valueLen, ok := sh.scalars.EvictOne(now); ok {
		sh.removedScalarLocked(keyLen, valueLen)
	} else {
		return false
	}
	// removeCollLocked notes the next expiry; the slab's heap drops the
	// entry of an evicted scalar lazily.
	sh.stats.evictions.Add(1)
	return true
}

// clearLocked removes every item at once.
func (sh *shard) clearLocked() {
	n := sh.lenLocked()
	if n == 0 && !sh.listed {
		return
	}
	sh.accountLocked(-n, -sh.bytes)
	if sh.listed {
		sh.unlistLocked()
	}
	sh.resetLocked()
}

// shrinkMinPeak is the smallest peak at which shrinkLocked rebuilds the
// collections' map: below it, the unused map slots are not worth a rebuild.
const shrinkMinPeak = 1024

// shrinkLocked rebuilds the indexes of a shard that holds at most a
// quarter of its peak, releasing the slots the removed items left.
func (sh *shard) shrinkLocked() {
	sh.scalars.Shrink()
	if sh.collPeak < shrinkMinPeak || len(sh.colls) > sh.collPeak/4 {
		return
	}
	// maps.Clone would keep the old table size; a map made for the
	// current length does not.
	colls := make(map[string]*entry, len(sh.colls))
	for key, e := range sh.colls {
		colls[key] = e
	}
	sh.colls = colls
	sh.collPeak = len(colls)
	sh.expiry = slices.Clone(sh.expiry) // same order, so every heapIndex holds
}

// occupancy is the list of the shards, of every cache, that may hold items:
// eviction samples it and the janitor walks it, so that neither visits the
// shards of empty or idle caches. A shard joins it when it gains an item
// and leaves it when it is found empty (see shard.unlistIfEmptyLocked);
// both happen under the shard's lock, which is taken before mu.
type occupancy struct {
	mu     sync.Mutex // guards shards and their occIndex
	shards []*shard
}

// add puts sh, which is not in the list, at its end.
func (o *occupancy) add(sh *shard) {
	o.mu.Lock()
	sh.occIndex = len(o.shards)
	o.shards = append(o.shards, sh)
	o.mu.Unlock()
}

// remove takes sh, which is in the list, out of it.
func (o *occupancy) remove(sh *shard) {
	o.mu.Lock()
	last := len(o.shards) - 1
	moved := o.shards[last]
	o.shards[sh.occIndex] = moved
	moved.occIndex = sh.occIndex
	o.shards[last] = nil
	o.shards = o.shards[:last]
	o.mu.Unlock()
}

// sample appends to dst up to n shards of the list picked at random (with
// replacement), and returns dst; none when the list is empty.
func (o *occupancy) sample(dst []*shard, n int) []*shard {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.shards) == 0 {
		return dst
	}
	for range n {
		dst = append(dst, o.shards[rand.IntN(len(o.shards))])
	}
	return dst
}

// snapshot appends every shard of the list to dst and returns dst.
func (o *occupancy) snapshot(dst []*shard) []*shard {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append(dst, o.shards...)
}

// len returns the number of shards in the list.
func (o *occupancy) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.shards)
}
