package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/thaw-dev/thaw/internal/store"
)

// openLimited returns a new store that holds at most maxCaches caches and is
// closed when t ends.
func (h harness) openLimited(t *testing.T, maxCaches int) store.Store {
	t.Helper()
	s := h.newLimited(t, maxCaches)
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("Close() = %v, want nil", err)
		}
	})
	return s
}

// testCacheLimit checks the limit on the number of caches of a backend that
// passed WithCacheLimit: CreateCache beyond it fails with ErrCacheLimit,
// deleting a cache makes room again, and concurrent creates never overshoot.
func (h harness) testCacheLimit(t *testing.T) {
	if h.newLimited == nil {
		t.Skip("the backend passes no cache limit (storetest.WithCacheLimit)")
	}
	t.Run("RefusesBeyondLimit", func(t *testing.T) {
		t.Parallel()
		s := h.openLimited(t, 3)
		for _, name := range []string{"a", "b", "c"} {
			mustCreateCache(t, s, name)
		}
		errorIs(t, `CreateCache("d") at the limit`, s.CreateCache(t.Context(), "d"), store.ErrCacheLimit)
		errorIs(t, `CreateCache("a") at the limit`, s.CreateCache(t.Context(), "a"), store.ErrCacheExists)
		names, err := s.ListCaches(t.Context())
		if err != nil {
			t.Fatalf("ListCaches() = %v, want nil error", err)
		}
		if want := []string{"a", "b", "c"}; !slices.Equal(names, want) {
			t.Errorf("ListCaches() = %q, want %q", names, want)
		}
		if err := s.DeleteCache(t.Context(), "b"); err != nil {
			t.Fatalf(`DeleteCache("b") = %v, want nil`, err)
		}
		mustCreateCache(t, s, "d")
		errorIs(t, `CreateCache("e") at the limit again`, s.CreateCache(t.Context(), "e"), store.ErrCacheLimit)
		// A refused cache does not exist.
		_, _, err = s.Get(t.Context(), "e", []byte("k"))
		errorIs(t, `Get("e", "k") after a refused CreateCache`, err, store.ErrCacheNotFound)
	})
	t.Run("ConcurrentCreates", func(t *testing.T) {
		t.Parallel()
		const limit, creators = 5, 20
		s := h.openLimited(t, limit)
		errs := make([]error, creators)
		var wg sync.WaitGroup
		for i := range creators {
			wg.Go(func() { errs[i] = s.CreateCache(t.Context(), fmt.Sprintf("cache-%02d", i)) })
		}
		wg.Wait()
		created := 0
		for i, err := range errs {
			switch {
			case err == nil:
				created++
			case !errors.Is(err, store.ErrCacheLimit):
				t.Errorf("CreateCache(%q) = %v, want nil or an error matching %v", fmt.Sprintf("cache-%02d", i), err, store.ErrCacheLimit)
			}
		}
		if created != limit {
			t.Errorf("%d concurrent CreateCache calls created %d caches, want %d (the limit)", creators, created, limit)
		}
		names, err := s.ListCaches(t.Context())
		if err != nil {
			t.Fatalf("ListCaches() = %v, want nil error", err)
		}
		if len(names) != limit {
			t.Errorf("ListCaches() = %q, want %d caches", names, limit)
		}
	})
}
