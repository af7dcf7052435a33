package memory

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// The scaling benchmarks of issue 15: what one cache's requests, the
// janitor and CreateCache cost as the number of other caches grows, and
// what an empty cache costs. Their figures are compared before and after a
// change, never asserted:
//
//	go test -run '^$' -bench 'AtCapacity|InsertDelete|Create|EmptyCache|Janitor' -benchtime 2000x ./internal/store/memory

// serveMaxMemory is the memory limit `thaw serve` runs with by default
// (--max-memory 1GiB), so that benchmarks time the paths a default server
// takes: LRU tracking and the limit check on every insert.
const serveMaxMemory = 1 << 30

// BenchmarkSetAtCapacity times a Set of a fresh key into a store at its
// memory limit, so that every Set evicts, beside 1 or 1,000 empty caches.
// Eviction should not cost more beside more caches.
func BenchmarkSetAtCapacity(b *testing.B) {
	for _, empty := range []int{1, 1000} {
		b.Run("empty_caches="+strconv.Itoa(empty), func(b *testing.B) {
			ctx := context.Background()
			s := New(Config{MaxMemory: 1 << 20})
			b.Cleanup(func() { _ = s.Close() })
			for i := range empty {
				if err := s.CreateCache(ctx, fmt.Sprintf("empty-%04d", i)); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.CreateCache(ctx, "bench"); err != nil {
				b.Fatal(err)
			}
			value := make([]byte, 100)
			i := 0
			set := func() {
				if err := s.Set(ctx, "bench", strconv.AppendInt([]byte("key-"), int64(i), 10), value, time.Hour); err != nil {
					b.Fatal(err)
				}
				i++
			}
			for s.Stats().Evictions == 0 {
				set()
			}
			b.ReportAllocs()
			for b.Loop() {
				set()
			}
		})
	}
}

// BenchmarkCreateCache times creating one cache (and deleting it again, so
// that the count holds) in a store that has 5,000 caches.
func BenchmarkCreateCache(b *testing.B) {
	ctx := context.Background()
	s := New(Config{MaxMemory: serveMaxMemory})
	b.Cleanup(func() { _ = s.Close() })
	for i := range 5000 {
		if err := s.CreateCache(ctx, fmt.Sprintf("cache-%04d", i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.CreateCache(ctx, "new"); err != nil {
			b.Fatal(err)
		}
		if err := s.DeleteCache(ctx, "new"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreate5000Caches times filling a new store with 5,000 caches.
func BenchmarkCreate5000Caches(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		s := New(Config{MaxMemory: serveMaxMemory})
		for i := range 5000 {
			if err := s.CreateCache(ctx, fmt.Sprintf("cache-%04d", i)); err != nil {
				b.Fatal(err)
			}
		}
		_ = s.Close()
	}
}

// BenchmarkEmptyCacheMemory reports what an empty cache costs: the Go heap it
// takes (bytes/cache, from runtime.MemStats after a GC) and what Stats
// accounts to it (accounted-bytes/cache). It then sets one small item in
// each cache and reports the heap that took (bytes/first-item): the first
// shard a request reaches (ShardOverhead) and the item itself. Its ns/op
// includes the GCs.
func BenchmarkEmptyCacheMemory(b *testing.B) {
	const n = 1000
	ctx := context.Background()
	var heap, accounted, firstItem float64
	for b.Loop() {
		s := New(Config{MaxMemory: serveMaxMemory})
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range n {
			if err := s.CreateCache(ctx, fmt.Sprintf("cache-%04d", i)); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
		accounted = float64(s.Stats().Bytes) / n
		for i := range n {
			if err := s.Set(ctx, fmt.Sprintf("cache-%04d", i), []byte("k"), []byte("v"), time.Hour); err != nil {
				b.Fatal(err)
			}
		}
		var withItems runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&withItems)
		firstItem = float64(int64(withItems.HeapAlloc)-int64(after.HeapAlloc)) / n
		runtime.KeepAlive(s)
		_ = s.Close()
	}
	b.ReportMetric(heap, "bytes/cache")
	b.ReportMetric(accounted, "accounted-bytes/cache")
	b.ReportMetric(firstItem, "bytes/first-item")
}

// BenchmarkJanitorSweep times one janitor pass over 1,000 idle caches:
// empty ones, and ones that hold an item that is far from expiring. There is
// nothing to expire, so the pass should cost next to nothing.
func BenchmarkJanitorSweep(b *testing.B) {
	for _, holding := range []int{0, 1} {
		b.Run("items_per_cache="+strconv.Itoa(holding), func(b *testing.B) {
			ctx := context.Background()
			// An hour between ticks: only the benchmark sweeps.
			s := New(Config{MaxMemory: serveMaxMemory, JanitorInterval: time.Hour})
			b.Cleanup(func() { _ = s.Close() })
			for i := range 1000 {
				name := fmt.Sprintf("cache-%04d", i)
				if err := s.CreateCache(ctx, name); err != nil {
					b.Fatal(err)
				}
				for j := range holding {
					if err := s.Set(ctx, name, []byte("k"+strconv.Itoa(j)), []byte("v"), time.Hour); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if stopped := s.sweep(); stopped {
					b.Fatal("sweep stopped")
				}
			}
		})
	}
}

// BenchmarkInsertDeleteParallel times, from concurrent callers, a Set of a
// fresh key and its Delete under thaw serve's default memory limit: every
// call changes the store's item and byte counts, while the map stays small,
// so that the counters' upkeep is a large part of what is timed.
func BenchmarkInsertDeleteParallel(b *testing.B) {
	ctx := context.Background()
	s := New(Config{MaxMemory: serveMaxMemory})
	b.Cleanup(func() { _ = s.Close() })
	if err := s.CreateCache(ctx, "bench"); err != nil {
		b.Fatal(err)
	}
	value := make([]byte, 100)
	var callers atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		key := fmt.Appendf(nil, "key-%d-", callers.Add(1))
		prefix := len(key)
		for i := 0; pb.Next(); i++ {
			key = strconv.AppendInt(key[:prefix], int64(i&1023), 10)
			if err := s.Set(ctx, "bench", key, value, time.Hour); err != nil {
				b.Error(err)
				return
			}
			if err := s.Delete(ctx, "bench", key); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
