package grpcsvc_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/internal/grpcsvc"
	"github.com/thaw-dev/thaw/internal/store"
)

// TestElementSizeLimit: every collection write refuses an element larger than
// the element size limit with RESOURCE_EXHAUSTED saying "element size" (the
// words the Node SDK looks for), and stores nothing; an element at the limit
// is accepted.
func TestElementSizeLimit(t *testing.T) {
	const limit = 1024
	over, at := bytes.Repeat([]byte("x"), limit+1), bytes.Repeat([]byte("y"), limit)
	writes := []struct {
		name  string
		write func(svc *grpcsvc.CacheService, ctx context.Context, element []byte) error
	}{
		{"DictionarySet field", func(svc *grpcsvc.CacheService, ctx context.Context, e []byte) error {
			_, err := svc.DictionarySet(ctx, &cachepb.XDictionarySetRequest{DictionaryName: []byte("coll"), TtlMilliseconds: 60_000,
				Items: []*cachepb.XDictionaryFieldValuePair{{Field: e, Value: []byte("v")}}})
			return err
		}},
		{"DictionarySet value", func(svc *grpcsvc.CacheService, ctx context.Context, e []byte) error {
			_, err := svc.DictionarySet(ctx, &cachepb.XDictionarySetRequest{DictionaryName: []byte("coll"), TtlMilliseconds: 60_000,
				Items: []*cachepb.XDictionaryFieldValuePair{{Field: []byte("f"), Value: e}}})
			return err
		}},
		{"DictionaryIncrement", func(svc *grpcsvc.CacheService, ctx context.Context, e []byte) error {
			_, err := svc.DictionaryIncrement(ctx, &cachepb.XDictionaryIncrementRequest{DictionaryName: []byte("coll"), Field: e, Amount: 1, TtlMilliseconds: 60_000})
			return err
		}},
		{"SetUnion", func(svc *grpcsvc.CacheService, ctx context.Context, e []byte) error {
			_, err := svc.SetUnion(ctx, &cachepb.XSetUnionRequest{SetName: []byte("coll"), Elements: [][]byte{[]byte("a"), e}, TtlMilliseconds: 60_000})
			return err
		}},
		{"ListPushBack", func(svc *grpcsvc.CacheService, ctx context.Context, e []byte) error {
			_, err := svc.ListPushBack(ctx, &cachepb.XListPushBackRequest{ListName: []byte("coll"), Value: e, TtlMilliseconds: 60_000})
			return err
		}},
		{"ListConcatenateFront", func(svc *grpcsvc.CacheService, ctx context.Context, e []byte) error {
			_, err := svc.ListConcatenateFront(ctx, &cachepb.XListConcatenateFrontRequest{ListName: []byte("coll"), Values: [][]byte{[]byte("a"), e}, TtlMilliseconds: 60_000})
			return err
		}},
		{"SortedSetPut", func(svc *grpcsvc.CacheService, ctx context.Context, e []byte) error {
			_, err := svc.SortedSetPut(ctx, &cachepb.XSortedSetPutRequest{SetName: []byte("coll"), TtlMilliseconds: 60_000,
				Elements: []*cachepb.XSortedSetElement{{Value: e, Score: 1}}})
			return err
		}},
		{"SortedSetIncrement", func(svc *grpcsvc.CacheService, ctx context.Context, e []byte) error {
			_, err := svc.SortedSetIncrement(ctx, &cachepb.XSortedSetIncrementRequest{SetName: []byte("coll"), Value: e, Amount: 1, TtlMilliseconds: 60_000})
			return err
		}},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			svc, ctx := newDictService(t, store.Limits{MaxElementSize: limit})
			err := w.write(svc, ctx, over)
			if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "element size") {
				t.Fatalf("%s with a %d-byte element = %v, want RESOURCE_EXHAUSTED mentioning element size", w.name, len(over), err)
			}
			resp, err := svc.ItemGetType(ctx, &cachepb.XItemGetTypeRequest{CacheKey: []byte("coll")})
			if err != nil || resp.GetMissing() == nil {
				t.Errorf("after the refused %s: ItemGetType = %v, %v; want missing", w.name, resp, err)
			}
			if err := w.write(svc, ctx, at); err != nil {
				t.Errorf("%s with a %d-byte element = %v, want success", w.name, len(at), err)
			}
		})
	}
}
