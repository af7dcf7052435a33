package memory

import (
	"context"
	"fmt"
	"math"

	"github.com/thaw-dev/thaw/internal/store"
)

// sortedSetElementOverhead is the memory accounted to each sorted-set
// element on top of its value bytes and 8-byte score: its skip-list node
// (value header, score, back link and level slice: 64 bytes in Go's size
// classes), its forward links (16 bytes per level, 1⅓ levels on average,
// in 16- to 64-byte blocks) and its slot in the value map.
//
// Measured, not guessed: BenchmarkSortedSetFootprint in sortedset_test.go
// fills one set with 100,000 elements of 16-byte values (whose allocation
// has no rounding), forces a GC and divides the growth of
// runtime.MemStats.HeapAlloc, less the payload, by the count. On
// linux/amd64 with Go 1.26 it reports 112 bytes per element at 100,000;
// the same run at 10,000 to 200,000 elements gives 112 to 133, as the
// map's load factor moves between its growth steps; the constant is the
// top of that range. Not counted: the allocator's rounding of values of other
// lengths, and about 200 bytes per set (the set, its map header and the
// skip list's head), which CollectionOverhead absorbs.
const sortedSetElementOverhead = 133

// sortedSet is the collection behind a sorted-set item: a skip list for
// the order plus a map from value to node for lookups by value. The map's
// keys share the nodes' value strings.
type sortedSet struct {
	list    skipList
	byValue map[string]*znode
	// bytes is the payload: the values' bytes plus 8 per score.
	bytes int64
}

var _ collection = (*sortedSet)(nil)

// newSortedSet returns an empty sorted set; it is a collectionOp's create.
func newSortedSet() collection {
	return &sortedSet{list: newSkipList(), byValue: make(map[string]*znode)}
}

func (z *sortedSet) kind() store.ItemType { return store.ItemSortedSet }
func (z *sortedSet) len() int             { return z.list.length }
func (z *sortedSet) payload() int64       { return z.bytes }
func (z *sortedSet) footprint() int64 {
	return z.bytes + int64(z.list.length)*sortedSetElementOverhead
}

// zsetElementPayload is the payload of an element with a value of n bytes.
func zsetElementPayload(n int) int64 { return int64(n) + 8 }

// put sets the score of value, adding it if the set lacks it.
func (z *sortedSet) put(value string, score float64) {
	if x := z.byValue[value]; x != nil {
		if x.score == score {
			return
		}
		z.list.remove(x)
		value = x.value // keep sharing the stored copy with the map key
	} else {
		z.bytes += zsetElementPayload(len(value))
	}
	z.byValue[value] = z.list.insert(score, value)
}

// delete removes value if the set holds it.
func (z *sortedSet) delete(value []byte) {
	x := z.byValue[string(value)]
	if x == nil {
		return
	}
	z.list.remove(x)
	delete(z.byValue, x.value)
	z.bytes -= zsetElementPayload(len(x.value))
}

// clear removes every element.
func (z *sortedSet) clear() {
	z.list = newSkipList()
	z.byValue = make(map[string]*znode)
	z.bytes = 0
}

// growth is how much payload putting elements adds: new values count once
// each, whatever their position or repetition in elements.
func (z *sortedSet) growth(elements []store.SortedSetElement) int64 {
	var grow int64
	var seen map[string]struct{}
	if len(elements) > 1 {
		seen = make(map[string]struct{}, len(elements))
	}
	for _, e := range elements {
		if z.byValue[string(e.Value)] != nil {
			continue
		}
		if seen != nil {
			if _, dup := seen[string(e.Value)]; dup {
				continue
			}
			seen[string(e.Value)] = struct{}{}
		}
		grow += zsetElementPayload(len(e.Value))
	}
	return grow
}

// zsetRanks turns r into the ascending-or-descending positions
// [start, end) of a set of n elements, clamped; start == end when r selects
// nothing.
func zsetRanks(r store.RankRange, n int) (start, end int) {
	start, end = r.Start, r.End
	if r.ToEnd {
		end = n
	}
	if start < 0 {
		start = max(start+n, 0)
	}
	if end < 0 {
		end += n
	}
	end = min(end, n)
	if start >= end {
		return 0, 0
	}
	return start, end
}

// byRank returns the elements at positions r in order.
func (z *sortedSet) byRank(r store.RankRange, order store.SortedSetOrder) []store.SortedSetElement {
	n := z.list.length
	start, end := zsetRanks(r, n)
	out := make([]store.SortedSetElement, 0, end-start)
	if start == end {
		return out
	}
	if order == store.Descending {
		for x := z.list.at(n - 1 - start); len(out) < end-start; x = x.prev {
			out = append(out, x.element())
		}
		return out
	}
	for x := z.list.at(start); len(out) < end-start; x = x.next() {
		out = append(out, x.element())
	}
	return out
}

// byScore returns the elements with a score in r, in order, after skipping
// offset of them, at most count of them (all when count is negative).
func (z *sortedSet) byScore(r store.ScoreRange, order store.SortedSetOrder, offset, count int) []store.SortedSetElement {
	out := []store.SortedSetElement{}
	if count == 0 || offset < 0 {
		return out
	}
	if count < 0 || count > z.list.length {
		count = z.list.length
	}
	if order == store.Descending {
		x, rank := z.list.lastIn(r)
		if x == nil || rank < offset {
			return out
		}
		if offset > 0 {
			x = z.list.at(rank - offset)
		}
		for ; x != nil && r.AboveMin(x.score) && len(out) < count; x = x.prev {
			out = append(out, x.element())
		}
		return out
	}
	x, rank := z.list.firstIn(r)
	if x == nil || offset >= z.list.length-rank {
		return out
	}
	if offset > 0 {
		x = z.list.at(rank + offset)
	}
	for ; x != nil && r.BelowMax(x.score) && len(out) < count; x = x.next() {
		out = append(out, x.element())
	}
	return out
}

// countIn returns the number of elements with a score in r.
func (z *sortedSet) countIn(r store.ScoreRange) int {
	first, lo := z.list.firstIn(r)
	if first == nil {
		return 0
	}
	last, hi := z.list.lastIn(r)
	if last == nil || hi < lo {
		return 0
	}
	return hi - lo + 1
}

// sortedSetOp is the collectionOp of a sorted-set operation named name;
// write, when not nil, marks a write that creates a missing set.
func sortedSetOp(name string, write *store.CollectionWrite) collectionOp {
	op := collectionOp{name: name, kind: store.ItemSortedSet, write: write}
	if write != nil {
		op.create = newSortedSet
	}
	return op
}

// zsetNaN is the error for a NaN score, amount, bound or weight.
func zsetNaN(op, what string) error {
	return fmt.Errorf("memory: %s: %s is NaN: %w", op, what, store.ErrInvalidScore)
}

// SortedSetPut adds elements to the sorted set under key or updates their
// scores.
func (s *Store) SortedSetPut(_ context.Context, cacheName string, key []byte, elements []store.SortedSetElement, w store.CollectionWrite) error {
	op := sortedSetOp("sorted set put", &w)
	for _, e := range elements {
		if math.IsNaN(e.Score) {
			return zsetNaN(op.name, fmt.Sprintf("the score of %q", e.Value))
		}
	}
	_, err := s.withCollection(cacheName, key, op, func(c collection, r room) error {
		z := c.(*sortedSet)
		if grow := z.growth(elements); !r.fits(grow) {
			return tooLarge(op.name, grow, r)
		}
		for _, e := range elements {
			z.put(string(e.Value), e.Score)
		}
		return nil
	})
	return err
}

// SortedSetFetchByRank returns the elements at positions r in order.
func (s *Store) SortedSetFetchByRank(_ context.Context, cacheName string, key []byte, r store.RankRange, order store.SortedSetOrder) ([]store.SortedSetElement, bool, error) {
	var out []store.SortedSetElement
	found, err := s.withCollection(cacheName, key, sortedSetOp("sorted set fetch by rank", nil), func(c collection, _ room) error {
		out = c.(*sortedSet).byRank(r, order)
		return nil
	})
	return out, found, err
}

// SortedSetFetchByScore returns the elements with a score in r, in order,
// after skipping offset of them, at most count (all when negative).
func (s *Store) SortedSetFetchByScore(_ context.Context, cacheName string, key []byte, r store.ScoreRange, order store.SortedSetOrder, offset, count int) ([]store.SortedSetElement, bool, error) {
	op := sortedSetOp("sorted set fetch by score", nil)
	if err := r.Valid(); err != nil {
		return nil, false, fmt.Errorf("memory: %s: %w", op.name, err)
	}
	var out []store.SortedSetElement
	found, err := s.withCollection(cacheName, key, op, func(c collection, _ room) error {
		out = c.(*sortedSet).byScore(r, order, offset, count)
		return nil
	})
	return out, found, err
}

// SortedSetGetScores returns the score of each value, in order.
func (s *Store) SortedSetGetScores(_ context.Context, cacheName string, key []byte, values [][]byte) ([]store.SortedSetScore, bool, error) {
	var out []store.SortedSetScore
	found, err := s.withCollection(cacheName, key, sortedSetOp("sorted set get scores", nil), func(c collection, _ room) error {
		z := c.(*sortedSet)
		out = make([]store.SortedSetScore, len(values))
		for i, v := range values {
			if x := z.byValue[string(v)]; x != nil {
				out[i] = store.SortedSetScore{Score: x.score, Found: true}
			}
		}
		return nil
	})
	return out, found, err
}

// SortedSetGetRank returns the 0-based rank of value in order.
func (s *Store) SortedSetGetRank(_ context.Context, cacheName string, key, value []byte, order store.SortedSetOrder) (rank int, ranked, found bool, err error) {
	found, err = s.withCollection(cacheName, key, sortedSetOp("sorted set get rank", nil), func(c collection, _ room) error {
		z := c.(*sortedSet)
		x := z.byValue[string(value)]
		if x == nil {
			return nil
		}
		rank, ranked = z.list.rank(x), true
		if order == store.Descending {
			rank = z.list.length - 1 - rank
		}
		return nil
	})
	return rank, ranked, found, err
}

// SortedSetRemove removes values from the sorted set under key.
func (s *Store) SortedSetRemove(_ context.Context, cacheName string, key []byte, values [][]byte) error {
	_, err := s.withCollection(cacheName, key, sortedSetOp("sorted set remove", nil), func(c collection, _ room) error {
		z := c.(*sortedSet)
		for _, v := range values {
			z.delete(v)
		}
		return nil
	})
	return err
}

// SortedSetDelete deletes the sorted set under key.
func (s *Store) SortedSetDelete(_ context.Context, cacheName string, key []byte) error {
	_, err := s.withCollection(cacheName, key, sortedSetOp("sorted set delete", nil), func(c collection, _ room) error {
		c.(*sortedSet).clear()
		return nil
	})
	return err
}

// SortedSetIncrement adds amount to the score of value and returns the new
// score.
func (s *Store) SortedSetIncrement(_ context.Context, cacheName string, key, value []byte, amount float64, w store.CollectionWrite) (float64, error) {
	op := sortedSetOp("sorted set increment", &w)
	if math.IsNaN(amount) {
		return 0, zsetNaN(op.name, "the amount")
	}
	var score float64
	_, err := s.withCollection(cacheName, key, op, func(c collection, r room) error {
		z := c.(*sortedSet)
		var grow int64
		current := 0.0
		if x := z.byValue[string(value)]; x != nil {
			current = x.score
		} else {
			grow = zsetElementPayload(len(value))
		}
		sum := current + amount
		if math.IsNaN(sum) {
			return fmt.Errorf("memory: %s: %v + %v: %w", op.name, current, amount, store.ErrScoreNaN)
		}
		if !r.fits(grow) {
			return tooLarge(op.name, grow, r)
		}
		z.put(string(value), sum)
		score = sum
		return nil
	})
	return score, err
}

// SortedSetLength returns the number of elements of the sorted set under key.
func (s *Store) SortedSetLength(_ context.Context, cacheName string, key []byte) (int, bool, error) {
	var n int
	found, err := s.withCollection(cacheName, key, sortedSetOp("sorted set length", nil), func(c collection, _ room) error {
		n = c.len()
		return nil
	})
	return n, found, err
}

// SortedSetLengthByScore returns the number of elements with a score in r.
func (s *Store) SortedSetLengthByScore(_ context.Context, cacheName string, key []byte, r store.ScoreRange) (int, bool, error) {
	op := sortedSetOp("sorted set length by score", nil)
	if err := r.Valid(); err != nil {
		return 0, false, fmt.Errorf("memory: %s: %w", op.name, err)
	}
	var n int
	found, err := s.withCollection(cacheName, key, op, func(c collection, _ room) error {
		n = c.(*sortedSet).countIn(r)
		return nil
	})
	return n, found, err
}
