package memory_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/thaw-dev/thaw/internal/store"
	"github.com/thaw-dev/thaw/internal/store/memory"
	"github.com/thaw-dev/thaw/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	configs := []struct {
		name string
		cfg  memory.Config
	}{
		{"Default", memory.Config{}},
		{"OneShard", memory.Config{Shards: 1}},
		// A janitor slower than the suite's expiry checks, so that they
		// exercise the expiry on the read path.
		{"SlowJanitor", memory.Config{JanitorInterval: 2 * time.Second}},
		// A limit far above what the suite stores: eviction must not
		// change any answer.
		{"MemoryLimit", memory.Config{MaxMemory: 1 << 30}},
	}
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(*testing.T) store.Store { return memory.New(c.cfg) },
				storetest.WithCacheLimit(func(_ *testing.T, maxCaches int) store.Store {
					cfg := c.cfg
					cfg.MaxCaches = maxCaches
					return memory.New(cfg)
				}))
		})
	}
}

// TestStatsCountCaches checks that Stats().Bytes counts CacheOverhead and
// ShardSlotOverhead per shard slot for each cache, ShardOverhead per shard a
// request has reached, and gives them back when the cache is deleted.
func TestStatsCountCaches(t *testing.T) {
	s := memory.New(memory.Config{})
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	for _, name := range []string{"a", "b"} {
		if err := s.CreateCache(ctx, name); err != nil {
			t.Fatalf("CreateCache(%q) = %v, want nil", name, err)
		}
	}
	const cacheBytes = memory.CacheOverhead + memory.DefaultShards*memory.ShardSlotOverhead
	if got, want := s.Stats().Bytes, int64(2*cacheBytes); got != want {
		t.Errorf("Stats().Bytes with two empty caches = %d, want %d", got, want)
	}
	if err := s.Set(ctx, "a", []byte("k"), []byte("v"), time.Hour); err != nil {
		t.Fatalf("Set(a, k) = %v, want nil", err)
	}
	if got, want := s.Stats().Bytes, int64(2*cacheBytes+memory.ShardOverhead)+itemBytes("k", "v"); got != want {
		t.Errorf("Stats().Bytes after one Set = %d, want %d", got, want)
	}
	for _, name := range []string{"a", "b"} {
		if err := s.DeleteCache(ctx, name); err != nil {
			t.Fatalf("DeleteCache(%q) = %v, want nil", name, err)
		}
	}
	if got := s.Stats(); got.Bytes != 0 || got.Items != 0 {
		t.Errorf("Stats() after deleting every cache = %+v, want no items and no bytes", got)
	}
}

// itemBytes is what Stats().Bytes accounts to one item.
func itemBytes(key, value string) int64 {
	return int64(len(key)+len(value)) + memory.ItemOverhead
}

// newStore returns a store with one cache, "c", closed when t ends.
func newStore(t *testing.T, cfg memory.Config) *memory.Store {
	t.Helper()
	s := memory.New(cfg)
	t.Cleanup(func() { _ = s.Close() })
	if err := s.CreateCache(t.Context(), "c"); err != nil {
		t.Fatalf("CreateCache(c) = %v, want nil", err)
	}
	return s
}

func checkStats(t *testing.T, s *memory.Store, want store.Stats) {
	t.Helper()
	if got := memory.ItemStats(s); got != want {
		t.Errorf("Stats() = %+v, want %+v", got, want)
	}
}

func TestBytesAccounting(t *testing.T) {
	s := newStore(t, memory.Config{})
	ctx := t.Context()
	set := func(key, value string) {
		t.Helper()
		if err := s.Set(ctx, "c", []byte(key), []byte(value), time.Hour); err != nil {
			t.Fatalf("Set(%q) = %v, want nil", key, err)
		}
	}
	set("k", "0123456789")
	checkStats(t, s, store.Stats{Items: 1, Bytes: itemBytes("k", "0123456789")})
	set("k", "abc")
	checkStats(t, s, store.Stats{Items: 1, Bytes: itemBytes("k", "abc")})
	set("key2", "")
	checkStats(t, s, store.Stats{Items: 2, Bytes: itemBytes("k", "abc") + itemBytes("key2", "")})
	if _, err := s.Increment(ctx, "c", []byte("n"), -1234, time.Hour); err != nil {
		t.Fatalf("Increment(n) = %v, want nil", err)
	}
	checkStats(t, s, store.Stats{Items: 3, Bytes: itemBytes("k", "abc") + itemBytes("key2", "") + itemBytes("n", "-1234")})
	if err := s.Delete(ctx, "c", []byte("k")); err != nil {
		t.Fatalf("Delete(k) = %v, want nil", err)
	}
	checkStats(t, s, store.Stats{Items: 2, Bytes: itemBytes("key2", "") + itemBytes("n", "-1234")})
	if err := s.FlushCache(ctx, "c"); err != nil {
		t.Fatalf("FlushCache(c) = %v, want nil", err)
	}
	checkStats(t, s, store.Stats{})
}

func TestJanitorReclaimsWithoutReads(t *testing.T) {
	for _, expiring := range []int{1, 1000} {
		t.Run(fmt.Sprint(expiring), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newStore(t, memory.Config{JanitorInterval: time.Second})
				ctx := t.Context()
				for i := range expiring {
					if err := s.Set(ctx, "c", fmt.Appendf(nil, "short-%d", i), []byte("value"), 5*time.Second); err != nil {
						t.Fatalf("Set(short-%d) = %v, want nil", i, err)
					}
				}
				if err := s.Set(ctx, "c", []byte("long"), []byte("value"), time.Hour); err != nil {
					t.Fatalf("Set(long) = %v, want nil", err)
				}
				if got, want := s.Stats().Items, int64(expiring+1); got != want {
					t.Fatalf("Stats().Items before expiry = %d, want %d", got, want)
				}
				// Past the TTL and the next sweep after it, without a single read.
				time.Sleep(5*time.Second + time.Second)
				synctest.Wait()
				checkStats(t, s, store.Stats{Items: 1, Bytes: itemBytes("long", "value"), Expirations: int64(expiring)})
			})
		})
	}
}

// TestJanitorFollowsChangedTTLs checks, without reads, that the janitor
// keeps items whose TTL was extended and removes on time those whose TTL was
// shortened.
func TestJanitorFollowsChangedTTLs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStore(t, memory.Config{JanitorInterval: 100 * time.Millisecond})
		ctx := t.Context()
		set := func(key string, ttl time.Duration) {
			t.Helper()
			if err := s.Set(ctx, "c", []byte(key), []byte("v"), ttl); err != nil {
				t.Fatalf("Set(%q, %v) = %v, want nil", key, ttl, err)
			}
		}
		updateTTL := func(key string, kind store.TTLUpdateKind, ttl time.Duration) {
			t.Helper()
			if got, err := s.UpdateTTL(ctx, "c", []byte(key), kind, ttl); err != nil || got != store.TTLSet {
				t.Fatalf("UpdateTTL(%q, %v, %v) = %v, %v; want %v, nil", key, kind, ttl, got, err, store.TTLSet)
			}
		}
		set("overwritten-longer", time.Second)
		set("overwritten-longer", 3*time.Second)
		set("increased", time.Second)
		updateTTL("increased", store.IncreaseTo, 5*time.Second)
		set("overwritten-shorter", 10*time.Second)
		set("overwritten-shorter", 2*time.Second)
		set("decreased", 10*time.Second)
		updateTTL("decreased", store.DecreaseTo, 4*time.Second)
		set("incremented", time.Second)
		if _, err := s.Increment(ctx, "c", []byte("incremented"), 1, 5*time.Second); err == nil {
			t.Fatalf("Increment(non-integer) = nil error, want one")
		}
		// A failed Increment leaves the TTL alone: "incremented" keeps 1 s.
		checkpoints := []struct {
			at    time.Duration
			items int64
		}{
			{150 * time.Millisecond, 5},
			{1150 * time.Millisecond, 4}, // incremented
			{2150 * time.Millisecond, 3}, // overwritten-shorter
			{3150 * time.Millisecond, 2}, // overwritten-longer
			{4150 * time.Millisecond, 1}, // decreased
			{5150 * time.Millisecond, 0}, // increased
		}
		start := time.Now()
		for _, cp := range checkpoints {
			time.Sleep(time.Until(start.Add(cp.at))) // past the sweep after the expiry
			synctest.Wait()
			if st := s.Stats(); st.Items != cp.items || st.Expirations != 5-cp.items {
				t.Errorf("%v after the writes: Stats() = %+v, want %d items and %d expirations", cp.at, st, cp.items, 5-cp.items)
			}
		}
	})
}

func TestExpiredItemRemovedOnRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The janitor never runs during the test: only the read can remove.
		s := newStore(t, memory.Config{JanitorInterval: time.Hour})
		ctx := t.Context()
		if err := s.Set(ctx, "c", []byte("k"), []byte("v"), time.Second); err != nil {
			t.Fatalf("Set(k) = %v, want nil", err)
		}
		time.Sleep(999 * time.Millisecond)
		if _, found, err := s.Get(ctx, "c", []byte("k")); err != nil || !found {
			t.Fatalf("Get(k) 1 ms before expiry = %v, %v; want found", found, err)
		}
		time.Sleep(time.Millisecond)
		if value, found, err := s.Get(ctx, "c", []byte("k")); err != nil || found {
			t.Fatalf("Get(k) at expiry = %q, %v, %v; want not found", value, found, err)
		}
		checkStats(t, s, store.Stats{Expirations: 1})
	})
}

func TestItemTTLIsExact(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStore(t, memory.Config{})
		ctx := t.Context()
		if err := s.Set(ctx, "c", []byte("k"), []byte("v"), 1500*time.Millisecond); err != nil {
			t.Fatalf("Set(k) = %v, want nil", err)
		}
		time.Sleep(400 * time.Millisecond)
		if got, found, err := s.ItemTTL(ctx, "c", []byte("k")); err != nil || !found || got != 1100*time.Millisecond {
			t.Errorf("ItemTTL(k) = %v, %v, %v; want 1.1s, true, nil", got, found, err)
		}
		if got, err := s.UpdateTTL(ctx, "c", []byte("k"), store.IncreaseTo, 1100*time.Millisecond); err != nil || got != store.TTLNotSet {
			t.Errorf("UpdateTTL(IncreaseTo the remaining TTL) = %v, %v; want %v, nil", got, err, store.TTLNotSet)
		}
		if got, err := s.UpdateTTL(ctx, "c", []byte("k"), store.DecreaseTo, 1100*time.Millisecond); err != nil || got != store.TTLNotSet {
			t.Errorf("UpdateTTL(DecreaseTo the remaining TTL) = %v, %v; want %v, nil", got, err, store.TTLNotSet)
		}
	})
}

func TestCloseStopsJanitor(t *testing.T) {
	// synctest.Test fails with a deadlock if any goroutine the store
	// started is still blocked when the test function returns.
	synctest.Test(t, func(t *testing.T) {
		s := memory.New(memory.Config{JanitorInterval: time.Millisecond})
		if err := s.CreateCache(t.Context(), "c"); err != nil {
			t.Fatalf("CreateCache(c) = %v, want nil", err)
		}
		time.Sleep(10 * time.Millisecond) // let the janitor sweep a few times
		if err := s.Close(); err != nil {
			t.Fatalf("Close() = %v, want nil", err)
		}
		if err := s.Close(); !errors.Is(err, store.ErrClosed) {
			t.Errorf("second Close() = %v, want %v", err, store.ErrClosed)
		}
	})
}

func TestEvictionBoundsBytes(t *testing.T) {
	// Far above what the two caches and their 128 shards take themselves
	// (about 116 KiB), which eviction cannot free.
	const limit = 512 << 10
	s := memory.New(memory.Config{MaxMemory: limit})
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	for _, c := range []string{"a", "b"} {
		if err := s.CreateCache(ctx, c); err != nil {
			t.Fatalf("CreateCache(%q) = %v, want nil", c, err)
		}
	}
	const writes = 5000
	value := make([]byte, 100)
	for i := range writes {
		cache := []string{"a", "b"}[i%2]
		if err := s.Set(ctx, cache, fmt.Appendf(nil, "key-%d", i), value, time.Hour); err != nil {
			t.Fatalf("Set(%s, key-%d) = %v, want nil", cache, i, err)
		}
		if got := s.Stats().Bytes; got > limit {
			t.Fatalf("after %d writes: Stats().Bytes = %d, want at most %d", i+1, got, limit)
		}
	}
	st := s.Stats()
	if st.Evictions == 0 || st.Items+st.Evictions != writes {
		t.Errorf("Stats() = %+v, want Items + Evictions = %d with Evictions > 0", st, writes)
	}
	// The store should stay nearly full rather than evict far too much.
	if floor := int64(limit) * 3 / 4; st.Bytes < floor {
		t.Errorf("Stats().Bytes = %d, want at least %d: eviction removed far more than needed", st.Bytes, floor)
	}
}

func TestEvictionSparesRecentlyUsed(t *testing.T) {
	// Room for about 400 items beside the cache and its 64 shards.
	const limit = 128 << 10
	s := newStore(t, memory.Config{MaxMemory: limit})
	ctx := t.Context()
	if err := s.Set(ctx, "c", []byte("hot"), []byte("kept by reads"), time.Hour); err != nil {
		t.Fatalf("Set(hot) = %v, want nil", err)
	}
	value := make([]byte, 100)
	for i := range 5000 {
		if err := s.Set(ctx, "c", fmt.Appendf(nil, "cold-%d", i), value, time.Hour); err != nil {
			t.Fatalf("Set(cold-%d) = %v, want nil", i, err)
		}
		if _, found, err := s.Get(ctx, "c", []byte("hot")); err != nil || !found {
			t.Fatalf("Get(hot) after %d cold writes = %v, %v; want found: eviction took the most recently used item", i+1, found, err)
		}
	}
	if s.Stats().Evictions == 0 {
		t.Errorf("Stats().Evictions = 0, want some")
	}
}

func TestEvictionPrefersExpired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Room for the cache, its shard and 110 of the items: the 90 live
		// ones fit only once the 50 expired ones are gone.
		const limit int64 = memory.CacheOverhead + memory.ShardSlotOverhead + memory.ShardOverhead + 110*(7+memory.ItemOverhead) // 7: len("live-00")
		s := newStore(t, memory.Config{MaxMemory: limit, JanitorInterval: time.Hour, Shards: 1})
		ctx := t.Context()
		for i := range 50 {
			if err := s.Set(ctx, "c", fmt.Appendf(nil, "short-%d", i), nil, time.Second); err != nil {
				t.Fatalf("Set(short-%d) = %v, want nil", i, err)
			}
		}
		time.Sleep(2 * time.Second)
		// Fill past the limit: the expired items must go before any live one.
		for i := range 90 {
			if err := s.Set(ctx, "c", fmt.Appendf(nil, "live-%d", i), nil, time.Hour); err != nil {
				t.Fatalf("Set(live-%d) = %v, want nil", i, err)
			}
		}
		if st := s.Stats(); st.Evictions != 0 || st.Expirations != 50 || st.Items != 90 {
			t.Errorf("Stats() = %+v, want 90 items, 50 expirations and no evictions", st)
		}
	})
}

func TestItemLargerThanMemoryLimit(t *testing.T) {
	s := newStore(t, memory.Config{MaxMemory: 1000})
	err := s.Set(t.Context(), "c", []byte("k"), make([]byte, 1000), time.Hour)
	if !errors.Is(err, store.ErrItemTooLarge) {
		t.Errorf("Set(item above MaxMemory) = %v, want %v", err, store.ErrItemTooLarge)
	}
	checkStats(t, s, store.Stats{})
}

func TestInvalidTTL(t *testing.T) {
	s := newStore(t, memory.Config{})
	ctx := t.Context()
	k, v := []byte("k"), []byte("v")
	for _, ttl := range []time.Duration{0, -time.Second} {
		calls := map[string]error{
			"Set": s.Set(ctx, "c", k, v, ttl),
		}
		_, calls["SetIf"] = s.SetIf(ctx, "c", k, v, ttl, store.Condition{Kind: store.Absent})
		_, calls["Increment"] = s.Increment(ctx, "c", k, 1, ttl)
		_, calls["UpdateTTL"] = s.UpdateTTL(ctx, "c", k, store.OverwriteTo, ttl)
		for name, err := range calls {
			if !errors.Is(err, store.ErrInvalidTTL) {
				t.Errorf("%s(ttl %v) = %v, want %v", name, ttl, err, store.ErrInvalidTTL)
			}
		}
	}
	checkStats(t, s, store.Stats{})
}

func TestSetCopiesValue(t *testing.T) {
	s := newStore(t, memory.Config{})
	ctx := t.Context()
	value := []byte("original")
	if err := s.Set(ctx, "c", []byte("k"), value, time.Hour); err != nil {
		t.Fatalf("Set(k) = %v, want nil", err)
	}
	copy(value, "mutated!")
	if got, _, _ := s.Get(ctx, "c", []byte("k")); string(got) != "original" {
		t.Errorf("Get(k) = %q after the caller reused its buffer, want %q", got, "original")
	}
}

func TestHugeTTLDoesNotOverflow(t *testing.T) {
	s := newStore(t, memory.Config{})
	ctx := t.Context()
	if err := s.Set(ctx, "c", []byte("k"), []byte("v"), time.Duration(1<<63-1)); err != nil {
		t.Fatalf("Set(k, max duration) = %v, want nil", err)
	}
	if _, found, err := s.Get(ctx, "c", []byte("k")); err != nil || !found {
		t.Errorf("Get(k) = %v, %v; want found", found, err)
	}
}

// TestDeleteCacheDuringWrites checks that the counters stay exact when a
// cache is deleted under concurrent writers.
func TestDeleteCacheDuringWrites(t *testing.T) {
	s := memory.New(memory.Config{})
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	for round := range 20 {
		if err := s.CreateCache(ctx, "c"); err != nil {
			t.Fatalf("round %d: CreateCache(c) = %v, want nil", round, err)
		}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := 0; ; i++ {
					err := s.Set(ctx, "c", fmt.Appendf(nil, "%d-%d", w, i), []byte("v"), time.Hour)
					if errors.Is(err, store.ErrCacheNotFound) {
						return
					}
					if err != nil {
						t.Errorf("Set() = %v, want nil or %v", err, store.ErrCacheNotFound)
						return
					}
				}
			})
		}
		time.Sleep(time.Millisecond)
		if err := s.DeleteCache(ctx, "c"); err != nil {
			t.Fatalf("round %d: DeleteCache(c) = %v, want nil", round, err)
		}
		wg.Wait()
		if st := s.Stats(); st.Items != 0 || st.Bytes != 0 {
			t.Fatalf("round %d: Stats() after DeleteCache = %+v, want no items and no bytes", round, st)
		}
	}
}

func TestCloseReleasesItems(t *testing.T) {
	s := memory.New(memory.Config{})
	ctx := t.Context()
	if err := s.CreateCache(ctx, "c"); err != nil {
		t.Fatalf("CreateCache(c) = %v, want nil", err)
	}
	if err := s.Set(ctx, "c", []byte("k"), []byte("v"), time.Hour); err != nil {
		t.Fatalf("Set(k) = %v, want nil", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	checkStats(t, s, store.Stats{})
}

// TestGetValueStableUnderWrites reads a key while other goroutines
// overwrite it with values of changing lengths, delete it and churn its
// shard into compaction and eviction: every value Get returned stays what
// it was when returned, since the store never writes a record's value
// again. Under -race it also checks that nothing writes what readers hold.
func TestGetValueStableUnderWrites(t *testing.T) {
	s := newStore(t, memory.Config{MaxMemory: 256 << 10, Shards: 1})
	ctx := t.Context()
	const writes = 20000
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range writes {
			fill := byte('a' + i%26)
			value := make([]byte, 10+i%90)
			for j := range value {
				value[j] = fill
			}
			if err := s.Set(ctx, "c", []byte("k"), value, time.Hour); err != nil {
				t.Errorf("Set(k) = %v, want nil", err)
				return
			}
			if err := s.Set(ctx, "c", fmt.Appendf(nil, "other-%d", i%3000), value, time.Hour); err != nil {
				t.Errorf("Set(other) = %v, want nil", err)
				return
			}
			if i%7 == 0 {
				if err := s.Delete(ctx, "c", []byte("k")); err != nil {
					t.Errorf("Delete(k) = %v, want nil", err)
					return
				}
			}
		}
	})
	var held [][]byte
	check := func(v []byte) {
		for _, b := range v {
			if b != v[0] {
				t.Fatalf("Get(k) = %q: a value changed after it was returned", v)
			}
		}
	}
	for range writes {
		v, found, err := s.Get(ctx, "c", []byte("k"))
		if err != nil {
			t.Fatalf("Get(k) = %v, want nil", err)
		}
		if found {
			check(v)
			if len(held) < 500 {
				held = append(held, v)
			}
		}
	}
	wg.Wait()
	for _, v := range held {
		check(v)
	}
	if s.Stats().Evictions == 0 {
		t.Errorf("Stats().Evictions = 0, want some: the churn should reach the limit")
	}
}
