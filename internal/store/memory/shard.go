package memory

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/thaw-dev/thaw/internal/store"
)

// ItemOverhead is the fixed number of bytes accounted to every item on top of
// its key and value: the entry (112 bytes with its size-class rounding), its
// map slot at the fill the map's growth leaves, its expiry heap slot, and the
// rounding of the key's and value's own allocations to Go's size classes.
// Stats().Bytes and Config.MaxMemory count it.
//
// Measured, not guessed (Go 1.26, linux/amd64), with the workload of
// 12-byte keys and 100-byte values, a TTL each: the live heap (HeapAlloc
// after GC) grows by 285 to 305 bytes per item, depending on where the maps
// and heaps are between two growth steps (285.9 at 100,000 items, 297.2 at
// 300,000, 304.2 at 500,000, 305.3 at 1,000,000, 285.8 at 1,500,000;
// BenchmarkItemMemory, scripts/bench-memory.sh -key-len 12), that is 173 to
// 193 beyond the 112 bytes of key and value; 184 keeps the accounted bytes
// within 4% of the heap over that range (TestItemMemoryOverhead fails beyond
// 10%). Values of 16 bytes or fewer round up less, so such small items are
// accounted up to about 12% more than they take, on the side of the limit.
const ItemOverhead = 184

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

// entry is one item. It belongs to one shard and is read and written only
// under that shard's lock.
type entry struct {
	key string
	// value is a scalar's value; it is never modified after the entry takes
	// it, so Get returns it without copying; a write replaces the slice.
	value []byte
	// coll is a collection's elements; nil for a scalar. Unlike value it is
	// changed in place, under the shard lock, and never handed out.
	coll collection
	// expires is the store clock reading (see Store.now) at which the item
	// expires; the item is live while now < expires.
	expires int64
	// heapKey orders the entry in its shard's expiry heap. It is at most
	// expires: a write that makes the item live longer leaves it, and the
	// janitor moves the entry down when it finds it due but not expired.
	// This keeps the common overwrite, with a later expiry, off the heap.
	heapKey int64
	// used is the store clock reading of the last read or write, which
	// eviction compares across shards; kept only under a memory limit.
	used int64
	// heapIndex is the entry's position in its shard's expiry heap.
	heapIndex int
	// prev and next link the shard's LRU list; the sentinel's next is the
	// most recently used entry.
	prev, next *entry
}

// size is the number of bytes accounted to e.
func (e *entry) size() int64 {
	n := int64(len(e.key)+len(e.value)) + ItemOverhead
	if e.coll != nil {
		n += e.coll.footprint()
	}
	return n
}

// kind is the type of item e holds.
func (e *entry) kind() store.ItemType {
	if e.coll == nil {
		return store.ItemScalar
	}
	return e.coll.kind()
}

// shard is an independently locked part of a cache.
type shard struct {
	mu sync.Mutex // guards items, bytes, lru, expiry, dead, listed and the entries they hold
	// items maps keys to live (and expired but not yet removed) entries.
	items map[string]*entry
	// peak is the largest len(items) since items was made. Go maps never
	// shrink, so shrinkLocked rebuilds one that has lost most of its items.
	peak int
	// bytes is the sum of the sizes of the entries in items.
	bytes int64
	// lru is the sentinel of a circular list of the entries, most recently
	// used first. Only eviction reads the order, so reads and overwrites
	// update it only when trackLRU is set.
	lru      entry
	trackLRU bool
	// expiry holds the entries in a min-heap ordered by heapKey.
	expiry expiryHeap
	// dead is set when the cache is deleted or the store closed; a dead shard
	// holds nothing and refuses every operation.
	dead bool
	// listed says whether the shard is in occ, the store's list of shards
	// that may hold items. It is set when the shard gains an item and
	// cleared when eviction or the janitor finds it empty, or it dies.
	listed bool
	// nextExpiry is the heap key at the root of expiry (math.MaxInt64 when
	// the heap is empty): no item of the shard expires before it. It is
	// written under mu and read without it by the janitor, which skips
	// the shards with nothing due.
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

// init prepares an empty shard that reports to stats and joins occ when it
// gains an item and, if trackLRU is set, keeps its entries in least recently
// used order.
func (sh *shard) init(stats *counterStripe, occ *occupancy, trackLRU bool) {
	sh.items = make(map[string]*entry)
	sh.lru.next = &sh.lru
	sh.lru.prev = &sh.lru
	sh.trackLRU = trackLRU
	sh.stats = stats
	sh.occ = occ
	sh.nextExpiry.Store(math.MaxInt64)
}

// noteExpiryLocked publishes the heap's earliest key in nextExpiry after a
// change to the heap.
func (sh *shard) noteExpiryLocked() {
	next := int64(math.MaxInt64)
	if len(sh.expiry) > 0 {
		next = sh.expiry[0].heapKey
	}
	if sh.nextExpiry.Load() != next {
		sh.nextExpiry.Store(next)
	}
}

// unlistIfEmptyLocked takes an empty shard out of the store's list of shards
// that may hold items. An empty shard that held many items gets a new map,
// since Go maps never shrink and the janitor no longer visits it.
func (sh *shard) unlistIfEmptyLocked() {
	if len(sh.items) != 0 || !sh.listed {
		return
	}
	sh.occ.remove(sh)
	sh.listed = false
	if sh.peak >= shrinkMinPeak {
		sh.items = make(map[string]*entry)
		sh.peak = 0
		sh.expiry = nil
	}
}

// liveLocked returns the entry of key if it has not expired at now, or nil.
// It removes an expired entry it finds.
func (sh *shard) liveLocked(key []byte, now int64) *entry {
	e := sh.items[string(key)]
	if e == nil {
		return nil
	}
	if e.expires <= now {
		sh.removeLocked(e)
		sh.stats.expirations.Add(1)
		return nil
	}
	return e
}

// putLocked stores value under key until expires, replacing any entry, and
// returns the change in accounted bytes. value must not be modified later.
func (sh *shard) putLocked(key, value []byte, expires, now int64) int64 {
	if e := sh.items[string(key)]; e != nil {
		grew := int64(len(value) - len(e.value))
		if e.coll != nil { // a scalar replaces a collection
			grew -= e.coll.footprint()
			e.coll = nil
		}
		e.value = value
		sh.setExpiresLocked(e, expires)
		sh.touchLocked(e, now)
		if grew != 0 {
			sh.bytes += grew
			sh.stats.bytes.Add(grew)
		}
		return grew
	}
	return sh.insertLocked(&entry{key: string(key), value: value, expires: expires, heapKey: expires, used: now})
}

// insertLocked adds e, whose key is not in the shard, and returns the bytes
// accounted to it.
func (sh *shard) insertLocked(e *entry) int64 {
	sh.items[e.key] = e
	sh.peak = max(sh.peak, len(sh.items))
	sh.expiry.push(e)
	sh.noteExpiryLocked()
	sh.linkFrontLocked(e)
	if !sh.listed {
		sh.occ.add(sh)
		sh.listed = true
	}
	grew := e.size()
	sh.bytes += grew
	sh.stats.items.Add(1)
	sh.stats.bytes.Add(grew)
	return grew
}

// resizedLocked accounts for a change of grew bytes in e's size, made in
// place (a collection that gained or lost elements).
func (sh *shard) resizedLocked(grew int64) {
	if grew != 0 {
		sh.bytes += grew
		sh.stats.bytes.Add(grew)
	}
}

// setExpiresLocked moves the expiry of e. Only an expiry earlier than the
// entry's heap key costs a heap operation; see entry.heapKey.
func (sh *shard) setExpiresLocked(e *entry, expires int64) {
	e.expires = expires
	if expires < e.heapKey {
		e.heapKey = expires
		sh.expiry.up(e.heapIndex)
		sh.noteExpiryLocked()
	}
}

// touchLocked marks e as the shard's most recently used entry, if the shard
// tracks the order.
func (sh *shard) touchLocked(e *entry, now int64) {
	if !sh.trackLRU {
		return
	}
	e.used = now
	if sh.lru.next == e {
		return
	}
	e.prev.next = e.next
	e.next.prev = e.prev
	sh.linkFrontLocked(e)
}

// linkFrontLocked puts e, which is in no list, at the front of the LRU list.
func (sh *shard) linkFrontLocked(e *entry) {
	e.prev = &sh.lru
	e.next = sh.lru.next
	sh.lru.next.prev = e
	sh.lru.next = e
}

// oldestLocked returns the least recently used entry, or nil if the shard is
// empty.
func (sh *shard) oldestLocked() *entry {
	if sh.lru.prev == &sh.lru {
		return nil
	}
	return sh.lru.prev
}

// removeLocked removes e from the shard.
func (sh *shard) removeLocked(e *entry) {
	delete(sh.items, e.key)
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
	sh.expiry.remove(e)
	sh.noteExpiryLocked()
	size := e.size()
	sh.bytes -= size
	sh.stats.items.Add(-1)
	sh.stats.bytes.Add(-size)
}

// expireLocked removes the entries that have expired at now, taking at most
// limit steps, and returns how many it removed and whether it finished.
// A step removes an entry or moves down one whose expiry was extended.
func (sh *shard) expireLocked(now int64, limit int) (removed int, done bool) {
	for range limit {
		if len(sh.expiry) == 0 || sh.expiry[0].heapKey > now {
			done = true
			break
		}
		e := sh.expiry[0]
		if e.expires <= now {
			sh.removeLocked(e)
			removed++
			continue
		}
		e.heapKey = e.expires
		sh.expiry.down(0)
		sh.noteExpiryLocked()
	}
	if removed > 0 {
		sh.stats.expirations.Add(int64(removed))
	}
	return removed, done
}

// clearLocked removes every entry at once.
func (sh *shard) clearLocked() {
	if len(sh.items) == 0 {
		sh.unlistIfEmptyLocked()
		return
	}
	sh.stats.items.Add(-int64(len(sh.items)))
	sh.stats.bytes.Add(-sh.bytes)
	sh.items = make(map[string]*entry)
	sh.peak = 0
	sh.bytes = 0
	sh.lru.next = &sh.lru
	sh.lru.prev = &sh.lru
	sh.expiry = nil
	sh.noteExpiryLocked()
	sh.unlistIfEmptyLocked()
}

// shrinkMinPeak is the smallest peak at which shrinkLocked rebuilds a shard:
// below it, the unused map slots are not worth a rebuild.
const shrinkMinPeak = 1024

// shrinkLocked rebuilds the map and the expiry heap of a shard that holds at
// most a quarter of its peak, releasing the slots the removed items left.
func (sh *shard) shrinkLocked() {
	if sh.peak < shrinkMinPeak || len(sh.items) > sh.peak/4 {
		return
	}
	// maps.Clone would keep the old table size; a map made for the
	// current length does not.
	items := make(map[string]*entry, len(sh.items))
	for key, e := range sh.items {
		items[key] = e
	}
	sh.items = items
	sh.peak = len(items)
	sh.expiry = slices.Clone(sh.expiry) // same order, so every heapIndex holds
}

// expiryHeap is a binary min-heap of entries ordered by heapKey; each entry
// records its index so that it can be moved or removed in O(log n).
type expiryHeap []*entry

// push adds e.
func (h *expiryHeap) push(e *entry) {
	e.heapIndex = len(*h)
	*h = append(*h, e)
	h.up(e.heapIndex)
}

// remove takes e out of the heap.
func (h *expiryHeap) remove(e *entry) {
	i, last := e.heapIndex, len(*h)-1
	if i != last {
		h.swap(i, last)
	}
	(*h)[last] = nil
	*h = (*h)[:last]
	if i != last && !h.up(i) {
		h.down(i)
	}
	e.heapIndex = -1
}

// up moves the entry at i towards the root while its key is below its
// parent's, and reports whether it moved.
func (h expiryHeap) up(i int) bool {
	start := i
	for i > 0 {
		parent := (i - 1) / 2
		if h[parent].heapKey <= h[i].heapKey {
			break
		}
		h.swap(i, parent)
		i = parent
	}
	return i != start
}

// down moves the entry at i towards the leaves while a child's key is below its.
func (h expiryHeap) down(i int) {
	for {
		least := i
		if l := 2*i + 1; l < len(h) && h[l].heapKey < h[least].heapKey {
			least = l
		}
		if r := 2*i + 2; r < len(h) && h[r].heapKey < h[least].heapKey {
			least = r
		}
		if least == i {
			return
		}
		h.swap(i, least)
		i = least
	}
}

// swap exchanges the entries at i and j and updates their indexes.
func (h expiryHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIndex = i
	h[j].heapIndex = j
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
