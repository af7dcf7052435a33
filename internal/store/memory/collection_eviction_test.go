package memory_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/internal/store"
	"github.com/thaw-dev/thaw/internal/store/memory"
)

// TestCollectionsEvictedWhole fills a store under a memory limit with
// dictionaries of 10 fields each: the accounted bytes stay under the limit,
// collections are evicted, and every collection left is whole.
func TestCollectionsEvictedWhole(t *testing.T) {
	const limit = 256 << 10
	s := newStore(t, memory.Config{MaxMemory: limit})
	ctx := t.Context()
	w := store.CollectionWrite{TTL: time.Hour, RefreshTTL: true}
	const dictionaries = 500
	for i := range dictionaries {
		fields := make([]store.DictionaryField, 10)
		for f := range fields {
			fields[f] = store.DictionaryField{Field: fmt.Appendf(nil, "field-%d", f), Value: make([]byte, 64)}
		}
		if err := s.DictionarySet(ctx, "c", fmt.Appendf(nil, "dict-%d", i), fields, w); err != nil {
			t.Fatalf("DictionarySet(dict-%d) = %v, want nil", i, err)
		}
		if got := s.Stats().Bytes; got > limit {
			t.Fatalf("after %d dictionaries: Stats().Bytes = %d, want at most %d", i+1, got, limit)
		}
	}
	st := s.Stats()
	if st.Evictions == 0 || st.Items+st.Evictions != dictionaries {
		t.Fatalf("Stats() = %+v, want Items + Evictions = %d with Evictions > 0", st, dictionaries)
	}
	for i := range dictionaries {
		n, found, err := s.DictionaryLength(ctx, "c", fmt.Appendf(nil, "dict-%d", i))
		if err != nil {
			t.Fatalf("DictionaryLength(dict-%d) = %v", i, err)
		}
		if found && n != 10 {
			t.Errorf("DictionaryLength(dict-%d) = %d, want 10 or missing: collections are evicted whole", i, n)
		}
	}
}
