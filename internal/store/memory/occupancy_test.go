package memory

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

// TestOccupancyFollowsItems checks the list of shards that may hold items,
// which eviction samples and the janitor walks: a shard joins it with its
// first item, and leaves it once the janitor finds it empty, or when its
// cache is flushed or deleted. Shards of caches nobody wrote to never join.
func TestOccupancyFollowsItems(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s := New(Config{JanitorInterval: 10 * time.Millisecond})
		defer s.Close()
		for _, name := range []string{"idle", "expiring", "flushed", "deleted"} {
			if err := s.CreateCache(ctx, name); err != nil {
				t.Fatalf("CreateCache(%q) = %v, want nil", name, err)
			}
		}
		if got := s.occ.len(); got != 0 {
			t.Fatalf("with empty caches: %d listed shards, want 0", got)
		}
		for i := range 2000 {
			key := []byte(fmt.Sprintf("key-%d", i))
			for _, w := range []struct {
				cache string
				ttl   time.Duration
			}{{"expiring", 50 * time.Millisecond}, {"flushed", time.Hour}, {"deleted", time.Hour}} {
				if err := s.Set(ctx, w.cache, key, []byte("v"), w.ttl); err != nil {
					t.Fatalf("Set(%q, %q) = %v, want nil", w.cache, key, err)
				}
			}
		}
		// 2,000 keys fill every one of the 64 shards of each cache (a shard
		// stays empty with odds of about e^-31).
		if got, want := s.occ.len(), 3*DefaultShards; got != want {
			t.Fatalf("after writes to three caches: %d listed shards, want %d", got, want)
		}
		if err := s.FlushCache(ctx, "flushed"); err != nil {
			t.Fatalf("FlushCache(flushed) = %v, want nil", err)
		}
		if err := s.DeleteCache(ctx, "deleted"); err != nil {
			t.Fatalf("DeleteCache(deleted) = %v, want nil", err)
		}
		if got, want := s.occ.len(), DefaultShards; got != want {
			t.Fatalf("after a flush and a delete: %d listed shards, want %d", got, want)
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if got := s.occ.len(); got != 0 {
			t.Errorf("after every item expired: %d listed shards, want 0", got)
		}
		if st := s.Stats(); st.Items != 0 || st.Expirations != 2000 {
			t.Errorf("after every item expired: Stats() = %+v, want no items and 2000 expirations", st)
		}
	})
}
