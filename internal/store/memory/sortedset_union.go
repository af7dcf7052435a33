package memory

import (
	"context"
	"fmt"
	"math"

	"github.com/thaw-dev/thaw/internal/store"
)

// SortedSetUnionStore replaces the sorted set under dest with the weighted
// union of the sources and returns its length.
//
// Locking: copy, then write. The sources may live in any shards, dest's
// among them, so the union never holds two shard locks at once: it reads
// each source under its own shard's lock (through withCollection, which
// also checks its type), folding its weighted scores into a private map,
// and then replaces dest under dest's lock. Holding one lock at a time
// cannot deadlock with any other operation, and no operation waits for a
// shard lock across a whole union. The price is that the union is not one
// atomic snapshot of all its sources: each source is read atomically, and a
// write to a source that races with the union is seen or not as if it came
// after or before that source's read. Taking every shard lock in index
// order would close that gap at the cost of stalling up to every shard of
// the cache behind one large union; the per-source guarantee is also what a
// Redis Cluster backend can give for sources in other hash slots.
func (s *Store) SortedSetUnionStore(_ context.Context, cacheName string, dest []byte, sources []store.SortedSetSource, aggregate store.SortedSetAggregate, w store.CollectionWrite) (int, error) {
	const name = "sorted set union store"
	combine, err := aggregate.Combine()
	if err != nil {
		return 0, fmt.Errorf("memory: %s: %w", name, err)
	}
	for _, src := range sources {
		if math.IsNaN(float64(src.Weight)) {
			return 0, zsetNaN(name, fmt.Sprintf("the weight of source %q", src.Key))
		}
	}

	union := make(map[string]float64)
	for _, src := range sources {
		weight := float64(src.Weight)
		_, err := s.withCollection(cacheName, src.Key, sortedSetOp(name, nil), func(c collection, _ room) error {
			for x := c.(*sortedSet).list.first(); x != nil; x = x.next() {
				score := weight * x.score
				if math.IsNaN(score) { // 0 × ±Inf, as Redis
					score = 0
				}
				if prev, ok := union[x.value]; ok {
					score = combine(prev, score)
				}
				union[x.value] = score
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}

	var payload int64
	for value := range union {
		payload += zsetElementPayload(len(value))
	}
	w.RefreshTTL = true // the destination is replaced, so it always takes w.TTL
	length := 0
	_, err = s.withCollection(cacheName, dest, sortedSetOp(name, &w), func(c collection, r room) error {
		z := c.(*sortedSet)
		if grow := payload - z.payload(); !r.fits(grow) {
			return tooLarge(name, grow, r)
		}
		z.clear()
		for value, score := range union {
			z.put(value, score)
		}
		length = z.len()
		return nil
	})
	if err != nil {
		return 0, err
	}
	return length, nil
}
