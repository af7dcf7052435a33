package memory_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/internal/store/memory"
)

// The benchmarks run each operation against the sharded Store and against
// mutexMap, a single sync.Mutex around one map, so that the benefit of
// sharding shows as a ratio between sub-benchmarks:
//
//	go test -run '^$' -bench . -cpu 1,2,8 ./internal/store/memory
//
// The Store runs as `thaw serve` runs it by default, under a memory limit of
// 1 GiB, so that the LRU upkeep and the limit check are timed. Set and
// SetParallel overwrite preloaded keys (the update path); Insert and
// InsertParallel write a fresh key every time (the insert path, which
// grows the map and the counters).

const (
	benchKeys  = 1 << 14 // a power of two, so key indexes wrap with a mask
	benchValue = 100     // bytes per value
	benchTTL   = time.Hour
	// benchMaxMemory is thaw serve's default --max-memory
	// (server.DefaultServeMaxMemory).
	benchMaxMemory = 1 << 30
)

// benchTarget is what the benchmarks drive.
type benchTarget interface {
	get(key []byte) ([]byte, bool)
	set(key, value []byte)
}

// shardedTarget drives a Store's cache "bench".
type shardedTarget struct {
	ctx context.Context
	s   *memory.Store
}

func (t shardedTarget) get(key []byte) ([]byte, bool) {
	v, found, err := t.s.Get(t.ctx, "bench", key)
	if err != nil {
		panic(err)
	}
	return v, found
}

func (t shardedTarget) set(key, value []byte) {
	if err := t.s.Set(t.ctx, "bench", key, value, benchTTL); err != nil {
		panic(err)
	}
}

// mutexMap is the baseline: the same operations, copy on store and expiry
// check on read included, on one map behind one lock. It reads the clock as
// the Store does, once per operation on the monotonic clock, so that the
// comparison measures the locking.
type mutexMap struct {
	epoch time.Time
	mu    sync.Mutex // guards items
	items map[string]mutexMapItem
}

type mutexMapItem struct {
	value   []byte
	expires int64 // nanoseconds since epoch
}

func (m *mutexMap) get(key []byte) ([]byte, bool) {
	now := int64(time.Since(m.epoch))
	m.mu.Lock()
	it, ok := m.items[string(key)]
	m.mu.Unlock()
	if !ok || now >= it.expires {
		return nil, false
	}
	return it.value, true
}

func (m *mutexMap) set(key, value []byte) {
	it := mutexMapItem{value: append([]byte(nil), value...), expires: int64(time.Since(m.epoch) + benchTTL)}
	m.mu.Lock()
	m.items[string(key)] = it
	m.mu.Unlock()
}

// benchTargets runs bench against each target, preloaded with every key.
func benchTargets(b *testing.B, bench func(b *testing.B, target benchTarget, keys [][]byte, value []byte)) {
	keys := make([][]byte, benchKeys)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "bench-key-%08d", i)
	}
	value := make([]byte, benchValue)
	targets := []struct {
		name string
		make func(b *testing.B) benchTarget
	}{
		{"store=sharded", func(b *testing.B) benchTarget {
			s := memory.New(memory.Config{MaxMemory: benchMaxMemory})
			b.Cleanup(func() { _ = s.Close() })
			if err := s.CreateCache(b.Context(), "bench"); err != nil {
				b.Fatal(err)
			}
			return shardedTarget{ctx: b.Context(), s: s}
		}},
		{"store=mutexmap", func(*testing.B) benchTarget {
			return &mutexMap{epoch: time.Now(), items: make(map[string]mutexMapItem)}
		}},
	}
	for _, tg := range targets {
		b.Run(tg.name, func(b *testing.B) {
			target := tg.make(b)
			for _, key := range keys {
				target.set(key, value)
			}
			b.ReportAllocs()
			b.ResetTimer()
			bench(b, target, keys, value)
		})
	}
}

func BenchmarkGet(b *testing.B) {
	benchTargets(b, func(b *testing.B, target benchTarget, keys [][]byte, _ []byte) {
		i := 0
		for b.Loop() {
			if _, found := target.get(keys[i&(benchKeys-1)]); !found {
				b.Fatal("preloaded key not found")
			}
			i++
		}
	})
}

// BenchmarkSet overwrites the preloaded keys in turn.
func BenchmarkSet(b *testing.B) {
	benchTargets(b, func(b *testing.B, target benchTarget, keys [][]byte, value []byte) {
		i := 0
		for b.Loop() {
			target.set(keys[i&(benchKeys-1)], value)
			i++
		}
	})
}

func BenchmarkGetParallel(b *testing.B) {
	benchTargets(b, func(b *testing.B, target benchTarget, keys [][]byte, _ []byte) {
		b.RunParallel(func(pb *testing.PB) {
			i := rand.IntN(benchKeys)
			for pb.Next() {
				if _, found := target.get(keys[i&(benchKeys-1)]); !found {
					b.Error("preloaded key not found")
					return
				}
				i++
			}
		})
	})
}

// BenchmarkInsert sets a fresh key every time.
func BenchmarkInsert(b *testing.B) {
	benchTargets(b, func(b *testing.B, target benchTarget, _ [][]byte, value []byte) {
		key := []byte("insert-key-")
		prefix := len(key)
		i := 0
		for b.Loop() {
			key = strconv.AppendInt(key[:prefix], int64(i), 10)
			target.set(key, value)
			i++
		}
	})
}

// BenchmarkInsertParallel sets a fresh key every time from concurrent
// callers, each with keys of its own.
func BenchmarkInsertParallel(b *testing.B) {
	benchTargets(b, func(b *testing.B, target benchTarget, _ [][]byte, value []byte) {
		var callers atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			key := fmt.Appendf(nil, "insert-key-%d-", callers.Add(1))
			prefix := len(key)
			for i := 0; pb.Next(); i++ {
				key = strconv.AppendInt(key[:prefix], int64(i), 10)
				target.set(key, value)
			}
		})
	})
}

// BenchmarkSetParallel overwrites the preloaded keys from concurrent callers.
func BenchmarkSetParallel(b *testing.B) {
	benchTargets(b, func(b *testing.B, target benchTarget, keys [][]byte, value []byte) {
		b.RunParallel(func(pb *testing.PB) {
			i := rand.IntN(benchKeys)
			for pb.Next() {
				target.set(keys[i&(benchKeys-1)], value)
				i++
			}
		})
	})
}

// BenchmarkMixedParallel is a read-mostly load: nine Gets to one Set.
func BenchmarkMixedParallel(b *testing.B) {
	benchTargets(b, func(b *testing.B, target benchTarget, keys [][]byte, value []byte) {
		b.RunParallel(func(pb *testing.PB) {
			i := rand.IntN(benchKeys)
			for pb.Next() {
				key := keys[i&(benchKeys-1)]
				if i%10 == 0 {
					target.set(key, value)
				} else {
					target.get(key)
				}
				i++
			}
		})
	})
}
