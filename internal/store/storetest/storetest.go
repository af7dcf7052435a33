// Package storetest is the conformance suite of store.Store: one set of tests
// that every backend runs, so that the server can treat them all alike.
//
// The suite uses only the Store interface and real time. Items that must
// expire get TTLs of tens of milliseconds and the suite polls for the
// expiry with a generous deadline; items that must not expire get a TTL of
// minutes. It never asserts that something happens within a short time, so
// it holds on a noisy machine and against a backend across the network.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/internal/store"
)

const (
	// longTTL outlives any test: an item set with it does not expire.
	longTTL = 10 * time.Minute
	// shortTTL is the TTL of items that a test waits to see expire.
	shortTTL = 50 * time.Millisecond
	// waitTimeout bounds every wait for something that must happen soon
	// (an expiry, a janitor sweep); it is generous for noisy machines.
	waitTimeout = 20 * time.Second
	// settle is how long a test that checks something does not happen
	// waits for a backend's background work (an expiry sweep) to act.
	settle = 500 * time.Millisecond
	// pollInterval is the pause between checks while waiting.
	pollInterval = 5 * time.Millisecond
	// testCache is the cache most tests use.
	testCache = "cache"
)

// Run runs the conformance suite against the backend that newStore makes.
// newStore must return a new, open Store with no caches, isolated from every
// other Store it returned; Run closes it when the test that asked for it
// ends. Subtests run in parallel. opts add the checks of optional features
// (WithCacheLimit); the groups of a feature the backend does not pass are
// skipped.
func Run(t *testing.T, newStore func(t *testing.T) store.Store, opts ...Option) {
	t.Helper()
	h := harness{newStore: newStore}
	for _, opt := range opts {
		opt(&h)
	}
	groups := []struct {
		name string
		run  func(*testing.T)
	}{
		{"Caches", h.testCaches},
		{"CacheLimit", h.testCacheLimit},
		{"UnknownCache", h.testUnknownCache},
		{"Items", h.testItems},
		{"Binary", h.testBinary},
		{"KeysExist", h.testKeysExist},
		{"ItemType", h.testItemType},
		{"Expiry", h.testExpiry},
		{"SetIf", h.testSetIf},
		{"Increment", h.testIncrement},
		{"UpdateTTL", h.testUpdateTTL},
		{"Dictionary", h.testDictionary},
		{"Set", h.testSet},
		{"List", h.testList},
		{"SortedSet", h.testSortedSet},
		{"Leaderboard", h.testLeaderboard},
		{"Topics", h.testTopics},
		{"Concurrency", h.testConcurrency},
		{"Stats", h.testStats},
		{"Close", h.testClose},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t)
		})
	}
}

// harness holds the backend's constructors for the test groups.
type harness struct {
	newStore func(t *testing.T) store.Store
	// newLimited makes a store that holds at most maxCaches caches; nil
	// when the backend passes no WithCacheLimit.
	newLimited func(t *testing.T, maxCaches int) store.Store
}

// Option adds the checks of an optional feature to Run.
type Option func(*harness)

// WithCacheLimit runs the CacheLimit group: newLimited must return a new,
// open, isolated Store with no caches, like Run's newStore, whose
// CreateCache refuses with store.ErrCacheLimit to hold more than maxCaches
// caches. Without it the group is skipped.
func WithCacheLimit(newLimited func(t *testing.T, maxCaches int) store.Store) Option {
	return func(h *harness) { h.newLimited = newLimited }
}

// open returns a new store that is closed when t ends.
func (h harness) open(t *testing.T) store.Store {
	t.Helper()
	s := h.newStore(t)
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
			t.Errorf("Close() = %v, want nil", err)
		}
	})
	return s
}

// openWithCache returns a new store holding one empty cache, testCache.
func (h harness) openWithCache(t *testing.T) store.Store {
	t.Helper()
	s := h.open(t)
	mustCreateCache(t, s, testCache)
	return s
}

func mustCreateCache(t *testing.T, s store.Store, name string) {
	t.Helper()
	if err := s.CreateCache(t.Context(), name); err != nil {
		t.Fatalf("CreateCache(%q) = %v, want nil", name, err)
	}
}

func mustSet(t *testing.T, s store.Store, cache string, key, value []byte, ttl time.Duration) {
	t.Helper()
	if err := s.Set(t.Context(), cache, key, value, ttl); err != nil {
		t.Fatalf("Set(%q, %q, %q, %v) = %v, want nil", cache, key, value, ttl, err)
	}
}

func mustGet(t *testing.T, s store.Store, cache string, key []byte) ([]byte, bool) {
	t.Helper()
	value, found, err := s.Get(t.Context(), cache, key)
	if err != nil {
		t.Fatalf("Get(%q, %q) = %v, want nil error", cache, key, err)
	}
	return value, found
}

// checkValue fails t unless key holds want, or holds nothing when want is nil.
func checkValue(t *testing.T, s store.Store, cache string, key, want []byte) {
	t.Helper()
	got, found := mustGet(t, s, cache, key)
	switch {
	case want == nil && found:
		t.Errorf("Get(%q) = %q, found; want not found", key, got)
	case want != nil && !found:
		t.Errorf("Get(%q) = not found, want %q", key, want)
	case want != nil && !bytes.Equal(got, want):
		t.Errorf("Get(%q) = %q, want %q", key, got, want)
	}
}

func mustItemTTL(t *testing.T, s store.Store, cache string, key []byte) (time.Duration, bool) {
	t.Helper()
	remaining, found, err := s.ItemTTL(t.Context(), cache, key)
	if err != nil {
		t.Fatalf("ItemTTL(%q, %q) = %v, want nil error", cache, key, err)
	}
	return remaining, found
}

// checkRemaining fails t unless key is found with a remaining TTL in (lo, hi].
func checkRemaining(t *testing.T, s store.Store, cache string, key []byte, lo, hi time.Duration) {
	t.Helper()
	remaining, found := mustItemTTL(t, s, cache, key)
	if !found {
		t.Errorf("ItemTTL(%q) = not found, want a TTL in (%v, %v]", key, lo, hi)
		return
	}
	if remaining <= lo || remaining > hi {
		t.Errorf("ItemTTL(%q) = %v, want a TTL in (%v, %v]", key, remaining, lo, hi)
	}
}

// eventually polls cond until it holds, failing t after waitTimeout.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", waitTimeout, what)
		}
		time.Sleep(pollInterval)
	}
}

// setExpired stores each value under its key with shortTTL and returns once
// all of them have expired. It watches a marker key written after the others,
// so the keys themselves are never read (a backend's lazy expiry on read
// would otherwise hide a missing check elsewhere).
func setExpired(t *testing.T, s store.Store, cache string, items map[string][]byte) {
	t.Helper()
	for key, value := range items {
		mustSet(t, s, cache, []byte(key), value, shortTTL)
	}
	marker := []byte("storetest-expiry-marker")
	mustSet(t, s, cache, marker, []byte("x"), shortTTL)
	// The marker was written after the items with the same TTL, so it
	// expires no earlier than any of them.
	time.Sleep(shortTTL)
	eventually(t, "the marker key to expire", func() bool {
		_, found := mustItemTTL(t, s, cache, marker)
		return !found
	})
}

// keys converts strings to keys.
func keys(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// errorIs fails t unless err matches want with errors.Is.
func errorIs(t *testing.T, call string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s = %v, want an error matching %v", call, err, want)
	}
}

// cacheOps calls every method that names a cache, for the tests that check
// the error of each. ctx and the cache name come from the caller.
var cacheOps = []struct {
	name string
	call func(ctx context.Context, s store.Store, cache string) error
}{
	{"DeleteCache", func(ctx context.Context, s store.Store, cache string) error {
		return s.DeleteCache(ctx, cache)
	}},
	{"FlushCache", func(ctx context.Context, s store.Store, cache string) error {
		return s.FlushCache(ctx, cache)
	}},
	{"Get", func(ctx context.Context, s store.Store, cache string) error {
		_, _, err := s.Get(ctx, cache, []byte("k"))
		return err
	}},
	{"Set", func(ctx context.Context, s store.Store, cache string) error {
		return s.Set(ctx, cache, []byte("k"), []byte("v"), longTTL)
	}},
	{"SetIf", func(ctx context.Context, s store.Store, cache string) error {
		_, err := s.SetIf(ctx, cache, []byte("k"), []byte("v"), longTTL, store.Condition{Kind: store.Absent})
		return err
	}},
	{"Delete", func(ctx context.Context, s store.Store, cache string) error {
		return s.Delete(ctx, cache, []byte("k"))
	}},
	{"KeysExist", func(ctx context.Context, s store.Store, cache string) error {
		_, err := s.KeysExist(ctx, cache, keys("k"))
		return err
	}},
	{"Increment", func(ctx context.Context, s store.Store, cache string) error {
		_, err := s.Increment(ctx, cache, []byte("n"), 1, longTTL)
		return err
	}},
	{"UpdateTTL", func(ctx context.Context, s store.Store, cache string) error {
		_, err := s.UpdateTTL(ctx, cache, []byte("k"), store.OverwriteTo, longTTL)
		return err
	}},
	{"ItemTTL", func(ctx context.Context, s store.Store, cache string) error {
		_, _, err := s.ItemTTL(ctx, cache, []byte("k"))
		return err
	}},
	{"ItemType", func(ctx context.Context, s store.Store, cache string) error {
		_, _, err := s.ItemType(ctx, cache, []byte("k"))
		return err
	}},
}

// describe renders a value for a failure message, telling a missing value
// from an empty one.
func describe(value []byte, found bool) string {
	if !found {
		return "not found"
	}
	return fmt.Sprintf("%q", value)
}
