package grpcsvc_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/thaw-dev/thaw/internal/grpcsvc"
	"github.com/thaw-dev/thaw/internal/store"
	"github.com/thaw-dev/thaw/internal/store/memory"
)

// newCollectionService returns a service over a fresh memory store holding
// cache "c" with the scalar "scalar" (for type mismatches), enforcing limits,
// and a context naming "c". The collection handler tests all start here.
func newCollectionService(t *testing.T, limits store.Limits) (*grpcsvc.CacheService, context.Context) {
	t.Helper()
	st := memory.New(memory.Config{})
	t.Cleanup(func() { st.Close() })
	if err := st.CreateCache(t.Context(), "c"); err != nil {
		t.Fatal(err)
	}
	if err := st.Set(t.Context(), "c", []byte("scalar"), []byte("text"), time.Minute); err != nil {
		t.Fatal(err)
	}
	ctx := metadata.NewIncomingContext(t.Context(), metadata.Pairs(grpcsvc.CacheHeader, "c"))
	return grpcsvc.NewCacheService(st, limits), ctx
}

// byteSlices converts strings to the wire's repeated bytes.
func byteSlices(values ...string) [][]byte {
	out := make([][]byte, len(values))
	for i, v := range values {
		out[i] = []byte(v)
	}
	return out
}
