package grpcsvc_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/api/commonpb"
	"github.com/thaw-dev/thaw/internal/grpcsvc"
	"github.com/thaw-dev/thaw/internal/store"
)

// listTTL is the ttl_milliseconds of the list writes in these tests.
const listTTL = 60_000

// listMaxItemSize is the item size limit of newListService: small, so that
// the size tests need no large values.
const listMaxItemSize = 64

// newListService returns newCollectionService's service and context, with
// the item size limit listMaxItemSize.
func newListService(t *testing.T) (*grpcsvc.CacheService, context.Context) {
	t.Helper()
	return newCollectionService(t, store.Limits{MaxItemSize: listMaxItemSize})
}

// listMustConcat appends values to the back of the list name.
func listMustConcat(t *testing.T, svc *grpcsvc.CacheService, ctx context.Context, name string, values ...string) {
	t.Helper()
	req := &cachepb.XListConcatenateBackRequest{ListName: []byte(name), Values: byteSlices(values...), TtlMilliseconds: listTTL, RefreshTtl: true}
	if _, err := svc.ListConcatenateBack(ctx, req); err != nil {
		t.Fatalf("ListConcatenateBack(%q, %q) = %v, want nil", name, values, err)
	}
}

// listFetchAll returns the whole list name, or nil when ListFetch answers
// missing.
func listFetchAll(t *testing.T, svc *grpcsvc.CacheService, ctx context.Context, name string) []string {
	t.Helper()
	resp, err := svc.ListFetch(ctx, &cachepb.XListFetchRequest{ListName: []byte(name)})
	if err != nil {
		t.Fatalf("ListFetch(%q) = %v, want nil", name, err)
	}
	if resp.GetMissing() != nil {
		return nil
	}
	var out []string
	for _, v := range resp.GetFound().GetValues() {
		out = append(out, string(v))
	}
	return out
}

// listWireTrip marshals and unmarshals m as the transport would.
func listWireTrip[M proto.Message](t *testing.T, m M) M {
	t.Helper()
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatalf("proto.Marshal(%v) = %v", m, err)
	}
	out := m.ProtoReflect().New().Interface().(M)
	if err := proto.Unmarshal(data, out); err != nil {
		t.Fatalf("proto.Unmarshal = %v", err)
	}
	return out
}

func TestListPushes(t *testing.T) {
	svc, ctx := newListService(t)
	name := []byte("l")
	steps := []struct {
		call    string
		push    func() (uint32, error)
		wantLen uint32
	}{
		{"ListPushBack(b)", func() (uint32, error) {
			r, err := svc.ListPushBack(ctx, &cachepb.XListPushBackRequest{ListName: name, Value: []byte("b"), TtlMilliseconds: listTTL})
			return r.GetListLength(), err
		}, 1},
		{"ListPushFront(a)", func() (uint32, error) {
			r, err := svc.ListPushFront(ctx, &cachepb.XListPushFrontRequest{ListName: name, Value: []byte("a"), TtlMilliseconds: listTTL})
			return r.GetListLength(), err
		}, 2},
		{"ListConcatenateBack(c, d, e)", func() (uint32, error) {
			r, err := svc.ListConcatenateBack(ctx, &cachepb.XListConcatenateBackRequest{ListName: name, Values: byteSlices("c", "d", "e"), TtlMilliseconds: listTTL})
			return r.GetListLength(), err
		}, 5},
		{"ListConcatenateFront(y, z)", func() (uint32, error) {
			r, err := svc.ListConcatenateFront(ctx, &cachepb.XListConcatenateFrontRequest{ListName: name, Values: byteSlices("y", "z"), TtlMilliseconds: listTTL})
			return r.GetListLength(), err
		}, 7},
		{"ListConcatenateFront(none)", func() (uint32, error) {
			r, err := svc.ListConcatenateFront(ctx, &cachepb.XListConcatenateFrontRequest{ListName: name, TtlMilliseconds: listTTL})
			return r.GetListLength(), err
		}, 7},
		{"ListPushBack(f, truncate front to 6)", func() (uint32, error) {
			r, err := svc.ListPushBack(ctx, &cachepb.XListPushBackRequest{ListName: name, Value: []byte("f"), TtlMilliseconds: listTTL, TruncateFrontToSize: 6})
			return r.GetListLength(), err
		}, 6},
		{"ListPushFront(x, truncate back to 5)", func() (uint32, error) {
			r, err := svc.ListPushFront(ctx, &cachepb.XListPushFrontRequest{ListName: name, Value: []byte("x"), TtlMilliseconds: listTTL, TruncateBackToSize: 5})
			return r.GetListLength(), err
		}, 5},
		{"ListConcatenateBack(g, h, truncate front to 4)", func() (uint32, error) {
			r, err := svc.ListConcatenateBack(ctx, &cachepb.XListConcatenateBackRequest{ListName: name, Values: byteSlices("g", "h"), TtlMilliseconds: listTTL, TruncateFrontToSize: 4})
			return r.GetListLength(), err
		}, 4},
		{"ListConcatenateFront(v, w, truncate back to 3)", func() (uint32, error) {
			r, err := svc.ListConcatenateFront(ctx, &cachepb.XListConcatenateFrontRequest{ListName: name, Values: byteSlices("v", "w"), TtlMilliseconds: listTTL, TruncateBackToSize: 3})
			return r.GetListLength(), err
		}, 3},
	}
	for _, st := range steps {
		if n, err := st.push(); err != nil || n != st.wantLen {
			t.Fatalf("%s = %d, %v; want %d, nil", st.call, n, err, st.wantLen)
		}
	}
	// y z a b c d e, then a b c d e f, x a b c d, c d g h, v w c.
	if got, want := listFetchAll(t, svc, ctx, "l"), []string{"v", "w", "c"}; !slices.Equal(got, want) {
		t.Errorf("ListFetch(l) = %q, want %q", got, want)
	}

	// A concatenation of nothing creates nothing.
	resp, err := svc.ListConcatenateBack(ctx, &cachepb.XListConcatenateBackRequest{ListName: []byte("none"), TtlMilliseconds: listTTL})
	if err != nil || resp.GetListLength() != 0 {
		t.Errorf("ListConcatenateBack(none, []) = %v, %v; want length 0, nil", resp, err)
	}
	if got := listFetchAll(t, svc, ctx, "none"); got != nil {
		t.Errorf("ListFetch(none) = %q, want missing", got)
	}
}

func TestListFetchRanges(t *testing.T) {
	svc, ctx := newListService(t)
	listMustConcat(t, svc, ctx, "l", "a", "b", "c", "d", "e")
	unbounded := &commonpb.XUnbounded{}
	tests := []struct {
		name string
		req  *cachepb.XListFetchRequest
		want []string // nil: missing
	}{
		{"NoBounds", &cachepb.XListFetchRequest{}, []string{"a", "b", "c", "d", "e"}},
		{"Unbounded", &cachepb.XListFetchRequest{StartIndex: &cachepb.XListFetchRequest_UnboundedStart{UnboundedStart: unbounded}, EndIndex: &cachepb.XListFetchRequest_UnboundedEnd{UnboundedEnd: unbounded}}, []string{"a", "b", "c", "d", "e"}},
		{"Slice", &cachepb.XListFetchRequest{StartIndex: &cachepb.XListFetchRequest_InclusiveStart{InclusiveStart: 1}, EndIndex: &cachepb.XListFetchRequest_ExclusiveEnd{ExclusiveEnd: 3}}, []string{"b", "c"}},
		{"NegativeStart", &cachepb.XListFetchRequest{StartIndex: &cachepb.XListFetchRequest_InclusiveStart{InclusiveStart: -2}}, []string{"d", "e"}},
		{"NegativeEnd", &cachepb.XListFetchRequest{EndIndex: &cachepb.XListFetchRequest_ExclusiveEnd{ExclusiveEnd: -3}}, []string{"a", "b"}},
		{"EndZeroIsEmpty", &cachepb.XListFetchRequest{EndIndex: &cachepb.XListFetchRequest_ExclusiveEnd{ExclusiveEnd: 0}}, nil},
		{"StartAfterEnd", &cachepb.XListFetchRequest{StartIndex: &cachepb.XListFetchRequest_InclusiveStart{InclusiveStart: 3}, EndIndex: &cachepb.XListFetchRequest_ExclusiveEnd{ExclusiveEnd: 1}}, nil},
		{"StartPastEnd", &cachepb.XListFetchRequest{StartIndex: &cachepb.XListFetchRequest_InclusiveStart{InclusiveStart: 5}}, nil},
		{"Clamped", &cachepb.XListFetchRequest{StartIndex: &cachepb.XListFetchRequest_InclusiveStart{InclusiveStart: -100}, EndIndex: &cachepb.XListFetchRequest_ExclusiveEnd{ExclusiveEnd: 100}}, []string{"a", "b", "c", "d", "e"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := listWireTrip(t, tc.req)
			req.ListName = []byte("l")
			resp, err := svc.ListFetch(ctx, req)
			if err != nil {
				t.Fatalf("ListFetch(%v) = %v, want nil", req, err)
			}
			resp = listWireTrip(t, resp)
			if tc.want == nil {
				if resp.GetMissing() == nil {
					t.Errorf("ListFetch(%v) = %v, want missing", req, resp)
				}
				return
			}
			got := make([]string, 0)
			for _, v := range resp.GetFound().GetValues() {
				got = append(got, string(v))
			}
			if resp.GetFound() == nil || !slices.Equal(got, tc.want) {
				t.Errorf("ListFetch(%v) = %v, want found %q", req, resp, tc.want)
			}
		})
	}
}

func TestListPops(t *testing.T) {
	svc, ctx := newListService(t)
	listMustConcat(t, svc, ctx, "l", "a", "b", "c")
	front, err := svc.ListPopFront(ctx, &cachepb.XListPopFrontRequest{ListName: []byte("l")})
	if err != nil || string(front.GetFound().GetFront()) != "a" || front.GetFound().GetListLength() != 2 {
		t.Fatalf("ListPopFront(l) = %v, %v; want found a, length 2", front, err)
	}
	back, err := svc.ListPopBack(ctx, &cachepb.XListPopBackRequest{ListName: []byte("l")})
	if err != nil || string(back.GetFound().GetBack()) != "c" || back.GetFound().GetListLength() != 1 {
		t.Fatalf("ListPopBack(l) = %v, %v; want found c, length 1", back, err)
	}
	// The last pop answers found with length 0 and deletes the list.
	back, err = svc.ListPopBack(ctx, &cachepb.XListPopBackRequest{ListName: []byte("l")})
	if err != nil || back.GetFound() == nil || string(back.GetFound().GetBack()) != "b" || back.GetFound().GetListLength() != 0 {
		t.Fatalf("ListPopBack(l) = %v, %v; want found b, length 0", back, err)
	}
	front, err = svc.ListPopFront(ctx, &cachepb.XListPopFrontRequest{ListName: []byte("l")})
	if err != nil || front.GetMissing() == nil {
		t.Errorf("ListPopFront(emptied) = %v, %v; want missing", front, err)
	}
	back, err = svc.ListPopBack(ctx, &cachepb.XListPopBackRequest{ListName: []byte("l")})
	if err != nil || back.GetMissing() == nil {
		t.Errorf("ListPopBack(emptied) = %v, %v; want missing", back, err)
	}
	length, err := svc.ListLength(ctx, &cachepb.XListLengthRequest{ListName: []byte("l")})
	if err != nil || length.GetMissing() == nil {
		t.Errorf("ListLength(emptied) = %v, %v; want missing", length, err)
	}
}

func TestListRetainRemoveErase(t *testing.T) {
	svc, ctx := newListService(t)
	listMustConcat(t, svc, ctx, "l", "a", "b", "x", "c", "x", "d", "e", "f")

	retain, err := svc.ListRetain(ctx, &cachepb.XListRetainRequest{
		ListName: []byte("l"), TtlMilliseconds: listTTL,
		StartIndex: &cachepb.XListRetainRequest_InclusiveStart{InclusiveStart: 1},
		EndIndex:   &cachepb.XListRetainRequest_ExclusiveEnd{ExclusiveEnd: -1},
	})
	if err != nil || retain.GetFound() == nil || retain.GetFound().GetListLength() != 6 {
		t.Fatalf("ListRetain(l, [1:-1]) = %v, %v; want found, length 6", retain, err)
	}
	remove, err := svc.ListRemove(ctx, &cachepb.XListRemoveRequest{ListName: []byte("l"), Remove: &cachepb.XListRemoveRequest_AllElementsWithValue{AllElementsWithValue: []byte("x")}})
	if err != nil || remove.GetFound() == nil || remove.GetFound().GetListLength() != 4 {
		t.Fatalf("ListRemove(l, x) = %v, %v; want found, length 4", remove, err)
	}
	ranges := &cachepb.XListEraseRequest_XListRanges{Ranges: []*cachepb.XListRange{{BeginIndex: 0, Count: 1}, {BeginIndex: 2, Count: 1}}}
	erase, err := svc.ListErase(ctx, &cachepb.XListEraseRequest{ListName: []byte("l"), Erase: &cachepb.XListEraseRequest_Some{Some: ranges}})
	if err != nil || erase.GetFound() == nil || erase.GetFound().GetListLength() != 2 {
		t.Fatalf("ListErase(l, [0+1, 2+1]) = %v, %v; want found, length 2", erase, err)
	}
	if got, want := listFetchAll(t, svc, ctx, "l"), []string{"c", "e"}; !slices.Equal(got, want) {
		t.Errorf("ListFetch(l) = %q, want %q", got, want)
	}
	erase, err = svc.ListErase(ctx, &cachepb.XListEraseRequest{ListName: []byte("l"), Erase: &cachepb.XListEraseRequest_All{All: &cachepb.XListEraseRequest_XAll{}}})
	if err != nil || erase.GetFound() == nil || erase.GetFound().GetListLength() != 0 {
		t.Fatalf("ListErase(l, all) = %v, %v; want found, length 0", erase, err)
	}
	if got := listFetchAll(t, svc, ctx, "l"); got != nil {
		t.Errorf("ListFetch(l) after erasing all = %q, want missing", got)
	}

	// On a missing list every one of them answers missing and creates nothing.
	missing := []byte("missing")
	retain, err = svc.ListRetain(ctx, &cachepb.XListRetainRequest{ListName: missing, TtlMilliseconds: listTTL})
	if err != nil || retain.GetMissing() == nil {
		t.Errorf("ListRetain(missing) = %v, %v; want missing", retain, err)
	}
	remove, err = svc.ListRemove(ctx, &cachepb.XListRemoveRequest{ListName: missing, Remove: &cachepb.XListRemoveRequest_AllElementsWithValue{AllElementsWithValue: []byte("x")}})
	if err != nil || remove.GetMissing() == nil {
		t.Errorf("ListRemove(missing) = %v, %v; want missing", remove, err)
	}
	erase, err = svc.ListErase(ctx, &cachepb.XListEraseRequest{ListName: missing, Erase: &cachepb.XListEraseRequest_All{All: &cachepb.XListEraseRequest_XAll{}}})
	if err != nil || erase.GetMissing() == nil {
		t.Errorf("ListErase(missing) = %v, %v; want missing", erase, err)
	}
	if got := listFetchAll(t, svc, ctx, "missing"); got != nil {
		t.Errorf("ListFetch(missing) = %q, want missing", got)
	}

	// An empty value is a value like any other.
	listMustConcat(t, svc, ctx, "empties", "", "a", "")
	remove, err = svc.ListRemove(ctx, listWireTrip(t, &cachepb.XListRemoveRequest{ListName: []byte("empties"), Remove: &cachepb.XListRemoveRequest_AllElementsWithValue{AllElementsWithValue: []byte{}}}))
	if err != nil || remove.GetFound().GetListLength() != 1 {
		t.Errorf("ListRemove(empties, \"\") = %v, %v; want found, length 1", remove, err)
	}
}

func TestListErrors(t *testing.T) {
	svc, ctx := newListService(t)
	listMustConcat(t, svc, ctx, "l", "a")
	otherCache := metadata.NewIncomingContext(t.Context(), metadata.Pairs(grpcsvc.CacheHeader, "nope"))
	tooBig := strings.Repeat("x", listMaxItemSize)
	tests := []struct {
		name     string
		call     func() error
		want     codes.Code
		contains string
	}{
		{"UnknownCache", func() error {
			_, err := svc.ListLength(otherCache, &cachepb.XListLengthRequest{ListName: []byte("l")})
			return err
		}, codes.NotFound, ""},
		{"EmptyName", func() error {
			_, err := svc.ListFetch(ctx, &cachepb.XListFetchRequest{})
			return err
		}, codes.InvalidArgument, ""},
		{"ZeroTTL", func() error {
			_, err := svc.ListPushBack(ctx, &cachepb.XListPushBackRequest{ListName: []byte("l"), Value: []byte("v")})
			return err
		}, codes.InvalidArgument, ""},
		{"RetainZeroTTL", func() error {
			_, err := svc.ListRetain(ctx, &cachepb.XListRetainRequest{ListName: []byte("l")})
			return err
		}, codes.InvalidArgument, ""},
		{"RemoveWithoutValue", func() error {
			_, err := svc.ListRemove(ctx, &cachepb.XListRemoveRequest{ListName: []byte("l")})
			return err
		}, codes.InvalidArgument, ""},
		{"EraseWithoutRanges", func() error {
			_, err := svc.ListErase(ctx, &cachepb.XListEraseRequest{ListName: []byte("l")})
			return err
		}, codes.InvalidArgument, ""},
		{"PushOnScalar", func() error {
			_, err := svc.ListPushFront(ctx, &cachepb.XListPushFrontRequest{ListName: []byte("scalar"), Value: []byte("v"), TtlMilliseconds: listTTL})
			return err
		}, codes.FailedPrecondition, ""},
		{"FetchOnScalar", func() error {
			_, err := svc.ListFetch(ctx, &cachepb.XListFetchRequest{ListName: []byte("scalar")})
			return err
		}, codes.FailedPrecondition, ""},
		{"PopOnScalar", func() error {
			_, err := svc.ListPopBack(ctx, &cachepb.XListPopBackRequest{ListName: []byte("scalar")})
			return err
		}, codes.FailedPrecondition, ""},
		{"TooLarge", func() error {
			_, err := svc.ListPushBack(ctx, &cachepb.XListPushBackRequest{ListName: []byte("l"), Value: []byte(tooBig), TtlMilliseconds: listTTL})
			return err
		}, codes.ResourceExhausted, "item size"},
		{"ConcatTooLarge", func() error {
			_, err := svc.ListConcatenateFront(ctx, &cachepb.XListConcatenateFrontRequest{ListName: []byte("new"), Values: byteSlices(tooBig[:40], tooBig[:40]), TtlMilliseconds: listTTL})
			return err
		}, codes.ResourceExhausted, "item size"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if got := status.Code(err); got != tc.want {
				t.Fatalf("%s = %v, want code %v", tc.name, err, tc.want)
			}
			if !strings.Contains(status.Convert(err).Message(), tc.contains) {
				t.Errorf("%s = %v, want a message containing %q", tc.name, err, tc.contains)
			}
		})
	}
	if got, want := listFetchAll(t, svc, ctx, "l"), []string{"a"}; !slices.Equal(got, want) {
		t.Errorf("ListFetch(l) after the errors = %q, want %q", got, want)
	}
	if got := listFetchAll(t, svc, ctx, "new"); got != nil {
		t.Errorf("ListFetch(new) after a refused push = %q, want missing", got)
	}
}
