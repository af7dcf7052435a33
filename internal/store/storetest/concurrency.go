package storetest

import (
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/thaw-dev/thaw/internal/store"
)

// testConcurrency checks that Increment and SetIf are atomic per key.
func (h harness) testConcurrency(t *testing.T) {
	const workers = 8

	t.Run("IncrementsSum", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		const perWorker = 200
		key := []byte("counter")
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				<-start
				for range perWorker {
					// Worker w adds w+1, or subtracts 1 if w is odd,
					// so the sum also checks negative amounts.
					amount := int64(w + 1)
					if w%2 == 1 {
						amount = -1
					}
					if _, err := s.Increment(t.Context(), testCache, key, amount, longTTL); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("Increment() = %v, want nil", err)
		}
		want := int64(0)
		for w := range workers {
			if w%2 == 1 {
				want -= perWorker
			} else {
				want += int64(w+1) * perWorker
			}
		}
		checkValue(t, s, testCache, key, []byte(strconv.FormatInt(want, 10)))
	})

	t.Run("SetIfAbsentOnce", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		const contenders = 4 * workers
		for round := range 5 {
			key := fmt.Appendf(nil, "lock-%d", round)
			var wg sync.WaitGroup
			start := make(chan struct{})
			stored := make([]bool, contenders)
			errs := make([]error, contenders)
			for c := range contenders {
				wg.Go(func() {
					<-start
					stored[c], errs[c] = s.SetIf(t.Context(), testCache, key, []byte(strconv.Itoa(c)), longTTL, store.Condition{Kind: store.Absent})
				})
			}
			close(start)
			wg.Wait()
			winner := -1
			for c := range contenders {
				if errs[c] != nil {
					t.Fatalf("SetIf(absent) by contender %d = %v, want nil", c, errs[c])
				}
				if stored[c] {
					if winner >= 0 {
						t.Fatalf("SetIf(absent) stored for contenders %d and %d, want exactly one", winner, c)
					}
					winner = c
				}
			}
			if winner < 0 {
				t.Fatalf("SetIf(absent) stored for none of %d contenders, want exactly one", contenders)
			}
			checkValue(t, s, testCache, key, []byte(strconv.Itoa(winner)))
		}
	})

	t.Run("MixedKeys", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		const perWorker = 100
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := range perWorker {
					key := fmt.Appendf(nil, "w%d-%d", w, i)
					value := fmt.Appendf(nil, "value-%d-%d", w, i)
					if err := s.Set(t.Context(), testCache, key, value, longTTL); err != nil {
						t.Errorf("Set(%q) = %v, want nil", key, err)
						return
					}
					if got, found, err := s.Get(t.Context(), testCache, key); err != nil || !found || string(got) != string(value) {
						t.Errorf("Get(%q) = %q, %v, %v; want %q, true, nil", key, got, found, err, value)
						return
					}
				}
			})
		}
		wg.Wait()
		if got := s.Stats().Items; got != workers*perWorker {
			t.Errorf("Stats().Items = %d, want %d", got, workers*perWorker)
		}
	})
}

// testStats checks that Stats().Items follows inserts, overwrites, deletes,
// flushes, cache deletion and expiry.
func (h harness) testStats(t *testing.T) {
	s := h.open(t)
	mustCreateCache(t, s, "a")
	mustCreateCache(t, s, "b")
	checkItems := func(step string, want int64) {
		t.Helper()
		if got := s.Stats().Items; got != want {
			t.Errorf("after %s: Stats().Items = %d, want %d", step, got, want)
		}
	}
	checkItems("creating caches", 0)
	for _, key := range []string{"x", "y", "z"} {
		mustSet(t, s, "a", []byte(key), []byte("v"), longTTL)
	}
	checkItems("three sets", 3)
	mustSet(t, s, "a", []byte("x"), []byte("longer value"), longTTL)
	checkItems("an overwrite", 3)
	if _, err := s.Increment(t.Context(), "a", []byte("n"), 1, longTTL); err != nil {
		t.Fatalf("Increment(n) = %v, want nil", err)
	}
	checkItems("an increment", 4)
	if _, err := s.SetIf(t.Context(), "a", []byte("n"), []byte("v"), longTTL, store.Condition{Kind: store.Absent}); err != nil {
		t.Fatalf("SetIf(n, absent) = %v, want nil", err)
	}
	checkItems("a SetIf that did not store", 4)
	if err := s.Delete(t.Context(), "a", []byte("y")); err != nil {
		t.Fatalf("Delete(y) = %v, want nil", err)
	}
	if err := s.Delete(t.Context(), "a", []byte("missing")); err != nil {
		t.Fatalf("Delete(missing) = %v, want nil", err)
	}
	checkItems("deletes", 3)
	mustSet(t, s, "b", []byte("x"), []byte("v"), longTTL)
	mustSet(t, s, "b", []byte("y"), []byte("v"), longTTL)
	checkItems("sets in another cache", 5)
	if err := s.FlushCache(t.Context(), "b"); err != nil {
		t.Fatalf("FlushCache(b) = %v, want nil", err)
	}
	checkItems("a flush", 3)
	mustSet(t, s, "b", []byte("expiring"), []byte("v"), shortTTL)
	// No reads: the item must leave the count by expiry alone.
	eventually(t, "Stats().Items to drop after an expiry", func() bool {
		return s.Stats().Items == 3
	})
	if err := s.DeleteCache(t.Context(), "a"); err != nil {
		t.Fatalf("DeleteCache(a) = %v, want nil", err)
	}
	checkItems("deleting the cache", 0)
}
