package slab

import "math"

// The expiry index is a min-heap of (expiry, key hash) pairs, without
// pointers. It is lazy: an entry's expiry is at most that of the records of
// its hash, and may belong to a record since deleted. A write that makes an
// item live longer leaves the heap alone; one that makes it expire sooner,
// and every new item, pushes an entry. Expire checks the records of the
// root's hash against the index, removes those due and moves the entry down
// to the next expiry of its hash, or drops it. So that entries of deleted
// items cannot pile up, the heap is rebuilt from the index once it holds
// more than one and a half times as many entries as items.

// expiryRef is one entry of the expiry heap.
type expiryRef struct {
	at   int64
	hash uint64
}

// expiryHeap is a binary min-heap of expiryRefs ordered by at.
type expiryHeap []expiryRef

// rebuildSlack is how many more heap entries than one and a half times the
// items a Log tolerates before it rebuilds its heap.
const rebuildSlack = 256

// pushExpiry adds an entry for the records of hash h, one of which expires
// at at.
func (l *Log) pushExpiry(at int64, h uint64) {
	if len(l.expiry) >= l.items+l.items/2+rebuildSlack {
		l.rebuildExpiry()
	}
	l.expiry = append(l.expiry, expiryRef{at: at, hash: h})
	l.expiry.up(len(l.expiry) - 1)
}

// rebuildExpiry replaces the heap by one entry per live record.
func (l *Log) rebuildExpiry() {
	h := make(expiryHeap, 0, l.items+l.items/4+rebuildSlack)
	for hash, pos := range l.index {
		h = append(h, expiryRef{at: recordExpires(l.record(pos)), hash: hash})
	}
	for hash, list := range l.collisions {
		for _, pos := range list {
			h = append(h, expiryRef{at: recordExpires(l.record(pos)), hash: hash})
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
	l.expiry = h
}

// NextExpiry returns a clock reading before which no item of l expires:
// math.MaxInt64 when l holds none.
func (l *Log) NextExpiry() int64 {
	if len(l.expiry) == 0 {
		return math.MaxInt64
	}
	return l.expiry[0].at
}

// Expire removes the items that have expired at now, taking at most limit
// steps, and returns how many it removed, the sum of their keys' and
// values' lengths, and whether it finished. A step
// handles one heap entry: it removes its hash's expired items, moves it
// down to their next expiry, or drops it.
func (l *Log) Expire(now int64, limit int) (removed int, keyValueBytes int64, done bool) {
	for range limit {
		if len(l.expiry) == 0 || l.expiry[0].at > now {
			done = true
			break
		}
		h := l.expiry[0].hash
		var next int64
		for again := true; again; {
			again, next = false, math.MaxInt64
			pos, ok := l.index[h]
			if !ok {
				break
			}
			var stack [4]uint64
			refs := append(append(stack[:0], pos), l.collisions[h]...)
			for i, pos := range refs {
				rec := l.record(pos)
				if at := recordExpires(rec); at > now {
					next = min(next, at)
					continue
				}
				where := i - 1 // refs[0] is the primary
				k, v := l.removeAt(Ref{hash: h, pos: pos, where: where}, rec)
				removed++
				keyValueBytes += int64(k + v)
				again = true // the index changed: look again
				break
			}
		}
		if next == math.MaxInt64 {
			last := len(l.expiry) - 1
			l.expiry[0] = l.expiry[last]
			l.expiry = l.expiry[:last]
		} else {
			l.expiry[0].at = next
		}
		l.expiry.down(0)
	}
	if removed > 0 {
		l.maybeCompact(now)
	}
	return removed, keyValueBytes, done
}

// up moves the entry at i towards the root while its expiry is below its
// parent's.
func (h expiryHeap) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if h[parent].at <= h[i].at {
			return
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

// down moves the entry at i towards the leaves while a child's expiry is
// below its.
func (h expiryHeap) down(i int) {
	for {
		least := i
		if c := 2*i + 1; c < len(h) && h[c].at < h[least].at {
			least = c
		}
		if c := 2*i + 2; c < len(h) && h[c].at < h[least].at {
			least = c
		}
		if least == i {
			return
		}
		h[i], h[least] = h[least], h[i]
		i = least
	}
}

// shrinkMinPeak is the smallest peak at which Shrink rebuilds a Log: below
// it, the unused index slots are not worth a rebuild.
const shrinkMinPeak = 1024

// Shrink rebuilds the index and the expiry heap of a Log that holds at most
// a quarter of its peak, releasing the slots that removed items left.
func (l *Log) Shrink() {
	if l.peak < shrinkMinPeak || l.items > l.peak/4 {
		return
	}
	// maps.Clone would keep the old table size; a map made for the
	// current length does not.
	index := make(map[uint64]uint64, len(l.index))
	for h, pos := range l.index {
		index[h] = pos
	}
	l.index = index
	l.peak = l.items
	l.rebuildExpiry()
}
