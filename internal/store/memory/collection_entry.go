package memory

import "github.com/thaw-dev/thaw/internal/store"

// CollectionOverhead is the fixed number of bytes accounted to every
// collection (dictionary, set, list, sorted set) on top of its key and its
// elements' footprint: its entry (112 bytes with its size-class rounding),
// its map slot, its expiry heap slot and the rounding of its key's
// allocation. Stats().Bytes and Config.MaxMemory count it. Scalars are kept
// apart, in slabs, and cost less (see ItemOverhead).
const CollectionOverhead = 184

// entry is one collection. It belongs to one shard and is read and written
// only under that shard's lock. Scalars are not entries: they live in the
// shard's slab log (see scalar.go).
type entry struct {
	key string
	// coll is the collection's elements, changed in place under the shard
	// lock and never handed out.
	coll collection
	// expires is the store clock reading (see Store.now) at which the item
	// expires; the item is live while now < expires.
	expires int64
	// heapKey orders the entry in its shard's expiry heap. It is at most
	// expires: a write that makes the item live longer leaves it, and the
	// janitor moves the entry down when it finds it due but not expired.
	heapKey int64
	// used is the store clock reading of the last read or write, which
	// eviction compares across shards; kept only under a memory limit.
	used int64
	// heapIndex is the entry's position in its shard's expiry heap.
	heapIndex int
	// prev and next link the shard's LRU list of collections; the
	// sentinel's next is the most recently used entry.
	prev, next *entry
}

// size is the number of bytes accounted to e.
func (e *entry) size() int64 {
	return int64(len(e.key)) + CollectionOverhead + e.coll.footprint()
}

// kind is the type of collection e holds.
func (e *entry) kind() store.ItemType { return e.coll.kind() }

// liveCollLocked returns the collection entry of key if it has not expired
// at now, or nil. It removes an expired entry it finds.
func (sh *shard) liveCollLocked(key []byte, now int64) *entry {
	if len(sh.colls) == 0 {
		return nil
	}
	e := sh.colls[string(key)]
	if e == nil {
		return nil
	}
	if e.expires <= now {
		sh.removeCollLocked(e)
		sh.stats.expirations.Add(1)
		return nil
	}
	return e
}

// insertCollLocked adds e, whose key is in the shard neither as a
// collection nor as a scalar, and returns the bytes accounted to it.
func (sh *shard) insertCollLocked(e *entry) int64 {
	if sh.colls == nil {
		sh.colls = make(map[string]*entry)
	}
	sh.colls[e.key] = e
	sh.collPeak = max(sh.collPeak, len(sh.colls))
	sh.expiry.push(e)
	sh.noteExpiryLocked()
	sh.linkFrontLocked(e)
	sh.listLocked()
	grew := e.size()
	sh.accountLocked(1, grew)
	return grew
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

// touchLocked marks e as the shard's most recently used collection, if the
// shard tracks the order.
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

// oldestCollLocked returns the least recently used collection, or nil if
// the shard holds none.
func (sh *shard) oldestCollLocked() *entry {
	if sh.lru.prev == &sh.lru {
		return nil
	}
	return sh.lru.prev
}

// removeCollLocked removes the collection e from the shard.
func (sh *shard) removeCollLocked(e *entry) {
	delete(sh.colls, e.key)
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
	sh.expiry.remove(e)
	sh.noteExpiryLocked()
	sh.accountLocked(-1, -e.size())
}

// expireCollsLocked removes the collections that have expired at now,
// taking at most limit steps, and returns how many it removed and whether
// it finished. A step removes an entry or moves down one whose expiry was
// extended.
func (sh *shard) expireCollsLocked(now int64, limit int) (removed int, done bool) {
	for range limit {
		if len(sh.expiry) == 0 || sh.expiry[0].heapKey > now {
			return removed, true
		}
		e := sh.expiry[0]
		if e.expires <= now {
			sh.removeCollLocked(e)
			removed++
			continue
		}
		e.heapKey = e.expires
		sh.expiry.down(0)
		sh.noteExpiryLocked()
	}
	return removed, false
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
