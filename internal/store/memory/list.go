package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/thaw-dev/thaw/internal/store"
)

const (
	// listSlotSize is the memory of one slot of a list's ring: a slice
	// header. Every slot counts, used or not, so the accounted footprint
	// follows the ring as it grows and shrinks.
	listSlotSize = 24
	// listMinCap is the smallest ring a list keeps, so that short lists do
	// not regrow on every push after a pop.
	listMinCap = 4
)

// list is the elements of a List: a ring buffer, so that a push or a pop at
// either end is O(1) amortized and reading the element at an index is O(1).
//
// Its footprint is the payload plus listSlotSize per ring slot. Measured,
// not guessed: BenchmarkListFootprint pushes 100k values one at a time and
// compares runtime.MemStats.HeapAlloc before and after (with a GC each
// side). For 8-byte values the heap grows by the payload plus 31.46 bytes
// per element, exactly the 24-byte slot times the ring's 131072/100000
// slack, which footprint accounts to the byte. For 100-byte values it is
// 43.46: the 12 more are the allocator rounding each copy up to its
// 112-byte size class, which is not accounted (under 12.5% of a value).
type list struct {
	// ring holds the elements from ring[head] on, wrapping around; its
	// length is 0 or a power of two, and the slots not in use are nil.
	ring [][]byte
	head int
	// n is the number of elements.
	n int
	// bytes is the sum of the elements' lengths.
	bytes int64
}

// newList returns an empty list as a collection, for collectionOp.create.
func newList() collection { return &list{} }

func (l *list) kind() store.ItemType { return store.ItemList }
func (l *list) len() int             { return l.n }
func (l *list) payload() int64       { return l.bytes }
func (l *list) footprint() int64     { return l.bytes + int64(len(l.ring))*listSlotSize }

// slot returns the ring index of the element at index i, 0 ≤ i < n.
func (l *list) slot(i int) int { return (l.head + i) & (len(l.ring) - 1) }

// at returns the element at index i, 0 ≤ i < n.
func (l *list) at(i int) []byte { return l.ring[l.slot(i)] }

// resize moves the elements into a ring of capacity slots, a power of two of
// at least n, front first.
func (l *list) resize(capacity int) {
	ring := make([][]byte, capacity)
	if l.n > 0 {
		first := copy(ring, l.ring[l.head:min(l.head+l.n, len(l.ring))])
		copy(ring[first:], l.ring[:l.n-first])
	}
	l.ring = ring
	l.head = 0
}

// reserve makes room for extra more elements.
func (l *list) reserve(extra int) {
	need := l.n + extra
	if need <= len(l.ring) {
		return
	}
	capacity := max(len(l.ring), listMinCap)
	for capacity < need {
		capacity *= 2
	}
	l.resize(capacity)
}

// shrink halves the ring while at most a quarter of it is in use, releasing
// what removals left behind; an empty list drops its ring.
func (l *list) shrink() {
	if l.n == 0 {
		l.ring, l.head = nil, 0
		return
	}
	capacity := len(l.ring)
	for capacity > listMinCap && l.n <= capacity/4 {
		capacity /= 2
	}
	if capacity != len(l.ring) {
		l.resize(capacity)
	}
}

// pushFront adds v before the first element; the ring must have room.
func (l *list) pushFront(v []byte) {
	l.head = (l.head - 1) & (len(l.ring) - 1)
	l.ring[l.head] = v
	l.n++
	l.bytes += int64(len(v))
}

// pushBack adds v after the last element; the ring must have room.
func (l *list) pushBack(v []byte) {
	l.ring[l.slot(l.n)] = v
	l.n++
	l.bytes += int64(len(v))
}

// popFront removes and returns the first element; the list must not be empty.
func (l *list) popFront() []byte {
	v := l.ring[l.head]
	l.ring[l.head] = nil
	l.head = (l.head + 1) & (len(l.ring) - 1)
	l.n--
	l.bytes -= int64(len(v))
	return v
}

// popBack removes and returns the last element; the list must not be empty.
func (l *list) popBack() []byte {
	i := l.slot(l.n - 1)
	v := l.ring[i]
	l.ring[i] = nil
	l.n--
	l.bytes -= int64(len(v))
	return v
}

// pop removes and returns the element at end; the list must not be empty.
func (l *list) pop(end store.ListEnd) []byte {
	if end == store.ListFront {
		return l.popFront()
	}
	return l.popBack()
}

// bytesOf returns the payload of the k elements at end.
func (l *list) bytesOf(end store.ListEnd, k int) int64 {
	var sum int64
	for j := range k {
		i := j
		if end == store.ListBack {
			i = l.n - 1 - j
		}
		sum += int64(len(l.at(i)))
	}
	return sum
}

// keep removes every element whose index is not in [lo, hi).
func (l *list) keep(lo, hi int) {
	for range l.n - hi {
		l.popBack()
	}
	for range lo {
		l.popFront()
	}
	l.shrink()
}

// filter keeps, in order, the elements at the indexes for which keep
// returns true, and returns how many it removed.
func (l *list) filter(keep func(i int, v []byte) bool) int {
	w := 0
	for i := range l.n {
		v := l.at(i)
		if !keep(i, v) {
			l.bytes -= int64(len(v))
			continue
		}
		l.ring[l.slot(w)] = v
		w++
	}
	removed := l.n - w
	for i := w; i < l.n; i++ {
		l.ring[l.slot(i)] = nil
	}
	l.n = w
	l.shrink()
	return removed
}

// opposite is the other end of a list.
func opposite(end store.ListEnd) store.ListEnd {
	if end == store.ListFront {
		return store.ListBack
	}
	return store.ListFront
}

// checkListEnd rejects an end that is neither front nor back.
func checkListEnd(op string, end store.ListEnd) error {
	if end != store.ListFront && end != store.ListBack {
		return fmt.Errorf("memory: %s: unknown list end %d", op, int(end))
	}
	return nil
}

// ListPush adds copies of values as one block at end, truncates the opposite
// end to truncateTo when it is positive, and returns the length.
func (s *Store) ListPush(_ context.Context, cacheName string, key []byte, end store.ListEnd, values [][]byte, truncateTo int, w store.CollectionWrite) (int, error) {
	const op = "list push"
	if err := checkListEnd(op, end); err != nil {
		return 0, err
	}
	// Copies made before taking the lock keep it short; the few that
	// truncation drops are wasted.
	owned := make([][]byte, len(values))
	for i, v := range values {
		owned[i] = clone(v)
	}
	length := 0
	_, err := s.withCollection(cacheName, key, collectionOp{name: op, kind: store.ItemList, write: &w, create: newList}, func(c collection, r room) error {
		l := c.(*list)
		total := l.n + len(owned)
		// drop is how many elements truncation removes from the opposite
		// end: first old ones, then, past them, the far end of the block.
		drop := 0
		if truncateTo > 0 && total > truncateTo {
			drop = total - truncateTo
		}
		dropOld := min(drop, l.n)
		kept := owned
		if dropBlock := drop - dropOld; dropBlock > 0 {
			if end == store.ListFront {
				kept = owned[:len(owned)-dropBlock]
			} else {
				kept = owned[dropBlock:]
			}
		}
		var grow int64
		for _, v := range kept {
			grow += int64(len(v))
		}
		grow -= l.bytesOf(opposite(end), dropOld)
		if !r.fits(grow) {
			return tooLarge(op, grow, r)
		}

		for range dropOld {
			l.pop(opposite(end))
		}
		l.reserve(len(kept))
		if end == store.ListFront {
			for i := len(kept) - 1; i >= 0; i-- {
				l.pushFront(kept[i])
			}
		} else {
			for _, v := range kept {
				l.pushBack(v)
			}
		}
		l.shrink()
		length = l.n
		return nil
	})
	if err != nil {
		return 0, err
	}
	return length, nil
}

// ListPop removes the element at end and returns it with the length left.
func (s *Store) ListPop(_ context.Context, cacheName string, key []byte, end store.ListEnd) ([]byte, int, bool, error) {
	const op = "list pop"
	if err := checkListEnd(op, end); err != nil {
		return nil, 0, false, err
	}
	var value []byte
	length := 0
	found, err := s.withCollection(cacheName, key, collectionOp{name: op, kind: store.ItemList}, func(c collection, _ room) error {
		l := c.(*list)
		value = l.pop(end)
		l.shrink()
		length = l.n
		return nil
	})
	if err != nil || !found {
		return nil, 0, false, err
	}
	return value, length, true, nil
}

// ListFetch returns the elements of r. The values are shared with the
// store, which never modifies an element in place.
func (s *Store) ListFetch(_ context.Context, cacheName string, key []byte, r store.ListRange) ([][]byte, bool, error) {
	var values [][]byte
	found, err := s.withCollection(cacheName, key, collectionOp{name: "list fetch", kind: store.ItemList}, func(c collection, _ room) error {
		l := c.(*list)
		lo, hi := r.Bounds(l.n)
		values = make([][]byte, hi-lo)
		for i := range values {
			values[i] = l.at(lo + i)
		}
		return nil
	})
	if err != nil || !found {
		return nil, false, err
	}
	return values, true, nil
}

// ListRetain keeps only the elements of r and returns the length left.
func (s *Store) ListRetain(_ context.Context, cacheName string, key []byte, r store.ListRange, w store.CollectionWrite) (int, bool, error) {
	length := 0
	found, err := s.withCollection(cacheName, key, collectionOp{name: "list retain", kind: store.ItemList, write: &w}, func(c collection, _ room) error {
		l := c.(*list)
		l.keep(r.Bounds(l.n))
		length = l.n
		return nil
	})
	if err != nil || !found {
		return 0, false, err
	}
	return length, true, nil
}

// ListLength returns the number of elements.
func (s *Store) ListLength(_ context.Context, cacheName string, key []byte) (int, bool, error) {
	length := 0
	found, err := s.withCollection(cacheName, key, collectionOp{name: "list length", kind: store.ItemList}, func(c collection, _ room) error {
		length = c.len()
		return nil
	})
	if err != nil || !found {
		return 0, false, err
	}
	return length, true, nil
}

// ListRemoveValue removes every element equal to value and returns the
// length left.
func (s *Store) ListRemoveValue(_ context.Context, cacheName string, key, value []byte) (int, bool, error) {
	length := 0
	found, err := s.withCollection(cacheName, key, collectionOp{name: "list remove value", kind: store.ItemList}, func(c collection, _ room) error {
		l := c.(*list)
		l.filter(func(_ int, v []byte) bool { return string(v) != string(value) })
		length = l.n
		return nil
	})
	if err != nil || !found {
		return 0, false, err
	}
	return length, true, nil
}

// ListErase removes the elements that spans cover and returns the length
// left.
func (s *Store) ListErase(_ context.Context, cacheName string, key []byte, spans []store.ListSpan) (int, bool, error) {
	length := 0
	found, err := s.withCollection(cacheName, key, collectionOp{name: "list erase", kind: store.ItemList}, func(c collection, _ room) error {
		l := c.(*list)
		if erase := listErasures(spans, l.n); erase != nil {
			l.filter(func(i int, _ []byte) bool { return !erase[i] })
		}
		length = l.n
		return nil
	})
	if err != nil || !found {
		return 0, false, err
	}
	return length, true, nil
}

// listErasures marks the indexes of a list of n elements that spans cover,
// or returns nil when they cover none. Sorting the spans first bounds the
// marking to O(n) however many spans overlap.
func listErasures(spans []store.ListSpan, n int) []bool {
	type interval struct{ lo, hi int }
	var parts []interval
	for _, sp := range spans {
		if sp.Begin < 0 || sp.Count < 1 || sp.Begin >= n {
			continue
		}
		parts = append(parts, interval{sp.Begin, sp.Begin + min(sp.Count, n-sp.Begin)})
	}
	if len(parts) == 0 {
		return nil
	}
	slices.SortFunc(parts, func(a, b interval) int { return cmp.Compare(a.lo, b.lo) })
	erase := make([]bool, n)
	done := 0 // every index below done is marked or before a span
	for _, p := range parts {
		for i := max(p.lo, done); i < p.hi; i++ {
			erase[i] = true
		}
		done = max(done, p.hi)
	}
	return erase
}
