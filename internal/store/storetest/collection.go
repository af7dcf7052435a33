package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/internal/store"
)

// collectionTTLMedium is a TTL that neither expires during a test nor
// reaches longTTL/2, so checkRemaining can tell it from longTTL.
const collectionTTLMedium = time.Minute

// checkCollectionTTLRules runs, in parallel subtests, the TTL rules of
// CollectionWrite for one write operation of a collection type: a new
// collection takes the write's TTL with or without RefreshTTL, RefreshTTL
// resets an existing one's (longer or shorter), and without it an existing
// one keeps its expiry. noun names the collection in messages
// ("dictionary"); write performs the operation on key; gone reports whether
// the collection under key has disappeared. longWrite is a write that
// outlives every test.
func checkCollectionTTLRules(t *testing.T, s store.Store, opName, noun string, longWrite store.CollectionWrite,
	write func(ctx context.Context, key []byte, w store.CollectionWrite) error, gone func(t *testing.T, key string) bool) {
	t.Helper()
	do := func(t *testing.T, key string, w store.CollectionWrite) {
		t.Helper()
		if err := write(t.Context(), []byte(key), w); err != nil {
			t.Fatalf("%s(%q, %+v) = %v, want nil", opName, key, w, err)
		}
	}
	goneFunc := func(t *testing.T, key string) func() bool {
		return func() bool { return gone(t, key) }
	}
	const medium = collectionTTLMedium
	t.Run("CreateWithoutRefresh", func(t *testing.T) {
		t.Parallel()
		key := opName + "-create"
		do(t, key, store.CollectionWrite{TTL: shortTTL})
		eventually(t, "a "+noun+" created without refresh to expire", goneFunc(t, key))
	})
	t.Run("CreateWithRefresh", func(t *testing.T) {
		t.Parallel()
		key := opName + "-create-refresh"
		do(t, key, store.CollectionWrite{TTL: medium, RefreshTTL: true})
		checkRemaining(t, s, testCache, []byte(key), 0, medium)
	})
	t.Run("RefreshExtends", func(t *testing.T) {
		t.Parallel()
		key := opName + "-extends"
		do(t, key, store.CollectionWrite{TTL: medium})
		do(t, key, store.CollectionWrite{TTL: longTTL, RefreshTTL: true})
		checkRemaining(t, s, testCache, []byte(key), longTTL/2, longTTL)
	})
	t.Run("RefreshShortens", func(t *testing.T) {
		t.Parallel()
		key := opName + "-shortens"
		do(t, key, longWrite)
		do(t, key, store.CollectionWrite{TTL: shortTTL, RefreshTTL: true})
		eventually(t, "a refreshed "+noun+" to expire", goneFunc(t, key))
	})
	t.Run("NoRefreshKeepsLonger", func(t *testing.T) {
		t.Parallel()
		key := opName + "-keeps-longer"
		do(t, key, longWrite)
		do(t, key, store.CollectionWrite{TTL: shortTTL})
		checkRemaining(t, s, testCache, []byte(key), longTTL/2, longTTL)
	})
	t.Run("NoRefreshKeepsShorter", func(t *testing.T) {
		t.Parallel()
		key := opName + "-keeps-shorter"
		do(t, key, store.CollectionWrite{TTL: medium})
		do(t, key, store.CollectionWrite{TTL: longTTL})
		checkRemaining(t, s, testCache, []byte(key), 0, medium)
	})
}
