package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/thaw-dev/thaw/internal/store"
)

// testCaches covers creating, listing, flushing and deleting caches.
func (h harness) testCaches(t *testing.T) {
	t.Run("ListEmpty", func(t *testing.T) {
		t.Parallel()
		s := h.open(t)
		names, err := s.ListCaches(t.Context())
		if err != nil || len(names) != 0 {
			t.Errorf("ListCaches() = %q, %v; want none, nil", names, err)
		}
	})

	t.Run("ListSorted", func(t *testing.T) {
		t.Parallel()
		s := h.open(t)
		for _, name := range []string{"gamma", "alpha", "café", "Beta", "alpha-2", "beta"} {
			mustCreateCache(t, s, name)
		}
		want := []string{"Beta", "alpha", "alpha-2", "beta", "café", "gamma"}
		names, err := s.ListCaches(t.Context())
		if err != nil || !slices.Equal(names, want) {
			t.Errorf("ListCaches() = %q, %v; want %q, nil", names, err, want)
		}
	})

	t.Run("CreateExisting", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		mustSet(t, s, testCache, []byte("k"), []byte("v"), longTTL)
		err := s.CreateCache(t.Context(), testCache)
		errorIs(t, "CreateCache(existing)", err, store.ErrCacheExists)
		checkValue(t, s, testCache, []byte("k"), []byte("v"))
	})

	t.Run("CachesAreSeparate", func(t *testing.T) {
		t.Parallel()
		s := h.open(t)
		mustCreateCache(t, s, "a")
		mustCreateCache(t, s, "b")
		mustSet(t, s, "a", []byte("k"), []byte("in a"), longTTL)
		mustSet(t, s, "b", []byte("k"), []byte("in b"), longTTL)
		checkValue(t, s, "a", []byte("k"), []byte("in a"))
		checkValue(t, s, "b", []byte("k"), []byte("in b"))
		if err := s.Delete(t.Context(), "a", []byte("k")); err != nil {
			t.Fatalf("Delete(a, k) = %v, want nil", err)
		}
		checkValue(t, s, "a", []byte("k"), nil)
		checkValue(t, s, "b", []byte("k"), []byte("in b"))
	})

	t.Run("Delete", func(t *testing.T) {
		t.Parallel()
		s := h.open(t)
		mustCreateCache(t, s, "doomed")
		mustCreateCache(t, s, "kept")
		mustSet(t, s, "doomed", []byte("k"), []byte("v"), longTTL)
		mustSet(t, s, "kept", []byte("k"), []byte("v"), longTTL)
		if err := s.DeleteCache(t.Context(), "doomed"); err != nil {
			t.Fatalf("DeleteCache(doomed) = %v, want nil", err)
		}
		names, err := s.ListCaches(t.Context())
		if want := []string{"kept"}; err != nil || !slices.Equal(names, want) {
			t.Errorf("ListCaches() = %q, %v; want %q, nil", names, err, want)
		}
		_, _, err = s.Get(t.Context(), "doomed", []byte("k"))
		errorIs(t, "Get(deleted cache)", err, store.ErrCacheNotFound)
		err = s.DeleteCache(t.Context(), "doomed")
		errorIs(t, "DeleteCache(deleted cache)", err, store.ErrCacheNotFound)
		checkValue(t, s, "kept", []byte("k"), []byte("v"))
	})

	t.Run("RecreatedIsEmpty", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		mustSet(t, s, testCache, []byte("k"), []byte("v"), longTTL)
		if err := s.DeleteCache(t.Context(), testCache); err != nil {
			t.Fatalf("DeleteCache() = %v, want nil", err)
		}
		mustCreateCache(t, s, testCache)
		checkValue(t, s, testCache, []byte("k"), nil)
	})

	t.Run("Flush", func(t *testing.T) {
		t.Parallel()
		s := h.open(t)
		mustCreateCache(t, s, "flushed")
		mustCreateCache(t, s, "other")
		for _, key := range []string{"a", "b", "c"} {
			mustSet(t, s, "flushed", []byte(key), []byte("v"), longTTL)
		}
		mustSet(t, s, "other", []byte("a"), []byte("v"), longTTL)
		if err := s.FlushCache(t.Context(), "flushed"); err != nil {
			t.Fatalf("FlushCache() = %v, want nil", err)
		}
		exist, err := s.KeysExist(t.Context(), "flushed", keys("a", "b", "c"))
		if want := []bool{false, false, false}; err != nil || !slices.Equal(exist, want) {
			t.Errorf("KeysExist(flushed) = %v, %v; want %v, nil", exist, err, want)
		}
		names, err := s.ListCaches(t.Context())
		if want := []string{"flushed", "other"}; err != nil || !slices.Equal(names, want) {
			t.Errorf("ListCaches() = %q, %v; want %q, nil", names, err, want)
		}
		checkValue(t, s, "other", []byte("a"), []byte("v"))
		// The flushed cache stays usable.
		mustSet(t, s, "flushed", []byte("a"), []byte("again"), longTTL)
		checkValue(t, s, "flushed", []byte("a"), []byte("again"))
	})

	t.Run("FlushEmpty", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		if err := s.FlushCache(t.Context(), testCache); err != nil {
			t.Errorf("FlushCache(empty) = %v, want nil", err)
		}
	})
}

// testUnknownCache checks that every method naming a cache returns
// ErrCacheNotFound for one that was never created and for one deleted.
func (h harness) testUnknownCache(t *testing.T) {
	s := h.open(t)
	mustCreateCache(t, s, "deleted")
	if err := s.DeleteCache(t.Context(), "deleted"); err != nil {
		t.Fatalf("DeleteCache(deleted) = %v, want nil", err)
	}
	mustCreateCache(t, s, "present")
	for _, cache := range []string{"never-created", "deleted", "Present", "present "} {
		for _, op := range cacheOps {
			t.Run(cache+"/"+op.name, func(t *testing.T) {
				err := op.call(t.Context(), s, cache)
				errorIs(t, op.name+"("+cache+")", err, store.ErrCacheNotFound)
			})
		}
	}
	// None of the failed calls may have created anything.
	names, err := s.ListCaches(t.Context())
	if want := []string{"present"}; err != nil || !slices.Equal(names, want) {
		t.Errorf("ListCaches() = %q, %v; want %q, nil", names, err, want)
	}
}

// testClose checks that every method returns ErrClosed after Close.
func (h harness) testClose(t *testing.T) {
	s := h.openWithCache(t)
	mustSet(t, s, testCache, []byte("k"), []byte("v"), longTTL)
	if err := s.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	ops := append(slices.Clone(cacheOps), []struct {
		name string
		call func(ctx context.Context, s store.Store, cache string) error
	}{
		{"CreateCache", func(ctx context.Context, s store.Store, _ string) error {
			return s.CreateCache(ctx, "new")
		}},
		{"ListCaches", func(ctx context.Context, s store.Store, _ string) error {
			_, err := s.ListCaches(ctx)
			return err
		}},
		{"Close", func(context.Context, store.Store, string) error {
			return s.Close()
		}},
	}...)
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			err := op.call(t.Context(), s, testCache)
			if !errors.Is(err, store.ErrClosed) {
				t.Errorf("%s after Close = %v, want an error matching %v", op.name, err, store.ErrClosed)
			}
		})
	}
}
