package grpcsvc_test

import (
	"context"
	"fmt"
	"math"
	"strconv"
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

// zsetTTL is the ttl_milliseconds of the writes in these tests.
const zsetTTL = 60_000

// newZSetService returns a service over a fresh memory store holding cache
// "c" with the scalar "scalar" and the sorted set "z" = {a:1, b:2, c:3},
// enforcing limits, and a context naming "c".
func newZSetService(t *testing.T, limits store.Limits) (*grpcsvc.CacheService, context.Context) {
	t.Helper()
	svc, ctx := newCollectionService(t, limits)
	if _, err := svc.SortedSetPut(ctx, zsetPut("z", "a", 1, "b", 2, "c", 3)); err != nil {
		t.Fatalf("SortedSetPut(z) = %v, want nil", err)
	}
	return svc, ctx
}

// zsetPut builds a SortedSetPut of alternating values (strings) and scores
// (ints or float64s).
func zsetPut(name string, vs ...any) *cachepb.XSortedSetPutRequest {
	req := &cachepb.XSortedSetPutRequest{SetName: []byte(name), TtlMilliseconds: zsetTTL, RefreshTtl: true}
	for i := 0; i+1 < len(vs); i += 2 {
		var score float64
		switch v := vs[i+1].(type) {
		case int:
			score = float64(v)
		case float64:
			score = v
		default:
			panic(fmt.Sprintf("zsetPut: score %v is a %T", v, v))
		}
		req.Elements = append(req.Elements, &cachepb.XSortedSetElement{Value: []byte(vs[i].(string)), Score: score})
	}
	return req
}

// zsetRoundTrip marshals and unmarshals m as the transport would, so that
// tests see what a client sees: an unset oneof arm does not survive.
func zsetRoundTrip[M proto.Message](t *testing.T, m M) M {
	t.Helper()
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatalf("proto.Marshal(%T) = %v", m, err)
	}
	out := m.ProtoReflect().New().Interface().(M)
	if err := proto.Unmarshal(data, out); err != nil {
		t.Fatalf("proto.Unmarshal(%T) = %v", m, err)
	}
	return out
}

// zsetFetchByIndex builds a fetch of [start, end) where nil is unbounded.
func zsetFetchByIndex(name string, order cachepb.XSortedSetFetchRequest_Order, withScores bool, start, end *int32) *cachepb.XSortedSetFetchRequest {
	ix := &cachepb.XSortedSetFetchRequest_XByIndex{
		Start: &cachepb.XSortedSetFetchRequest_XByIndex_UnboundedStart{UnboundedStart: &commonpb.XUnbounded{}},
		End:   &cachepb.XSortedSetFetchRequest_XByIndex_UnboundedEnd{UnboundedEnd: &commonpb.XUnbounded{}},
	}
	if start != nil {
		ix.Start = &cachepb.XSortedSetFetchRequest_XByIndex_InclusiveStartIndex{InclusiveStartIndex: *start}
	}
	if end != nil {
		ix.End = &cachepb.XSortedSetFetchRequest_XByIndex_ExclusiveEndIndex{ExclusiveEndIndex: *end}
	}
	return &cachepb.XSortedSetFetchRequest{SetName: []byte(name), Order: order, WithScores: withScores, Range: &cachepb.XSortedSetFetchRequest_ByIndex{ByIndex: ix}}
}

// zsetFetchByScore builds an inclusive fetch by score from min to max.
func zsetFetchByScore(name string, min, max float64, offset uint32, count int32) *cachepb.XSortedSetFetchRequest {
	return &cachepb.XSortedSetFetchRequest{SetName: []byte(name), WithScores: true, Range: &cachepb.XSortedSetFetchRequest_ByScore{ByScore: &cachepb.XSortedSetFetchRequest_XByScore{
		Min:    &cachepb.XSortedSetFetchRequest_XByScore_MinScore{MinScore: &cachepb.XSortedSetFetchRequest_XByScore_XScore{Score: min}},
		Max:    &cachepb.XSortedSetFetchRequest_XByScore_MaxScore{MaxScore: &cachepb.XSortedSetFetchRequest_XByScore_XScore{Score: max}},
		Offset: offset,
		Count:  count,
	}}}
}

func ptr32(v int32) *int32 { return &v }

// zsetFetched renders a fetch response as "value:score ..." or "missing".
func zsetFetched(resp *cachepb.XSortedSetFetchResponse) string {
	found := resp.GetFound()
	if found == nil {
		if resp.GetMissing() != nil {
			return "missing"
		}
		return "neither found nor missing"
	}
	out := ""
	switch {
	case found.GetValuesWithScores() != nil:
		for _, e := range found.GetValuesWithScores().GetElements() {
			out += string(e.GetValue()) + ":" + strconv.FormatFloat(e.GetScore(), 'g', -1, 64) + " "
		}
		return "scores[" + out + "]"
	case found.GetValues() != nil:
		for _, v := range found.GetValues().GetValues() {
			out += string(v) + " "
		}
		return "values[" + out + "]"
	}
	return "found without elements"
}

func TestSortedSetFetch(t *testing.T) {
	svc, ctx := newZSetService(t, store.Limits{})
	tests := []struct {
		name string
		req  *cachepb.XSortedSetFetchRequest
		want string
	}{
		{"All", zsetFetchByIndex("z", cachepb.XSortedSetFetchRequest_ASCENDING, true, nil, nil), "scores[a:1 b:2 c:3 ]"},
		{"Descending", zsetFetchByIndex("z", cachepb.XSortedSetFetchRequest_DESCENDING, true, nil, ptr32(2)), "scores[c:3 b:2 ]"},
		{"NegativeStart", zsetFetchByIndex("z", cachepb.XSortedSetFetchRequest_ASCENDING, true, ptr32(-1), nil), "scores[c:3 ]"},
		{"WithoutScores", zsetFetchByIndex("z", cachepb.XSortedSetFetchRequest_ASCENDING, false, ptr32(1), nil), "values[b c ]"},
		// An existing set answers found even when nothing is selected: the
		// SDKs report an empty hit, and tell it by the arm's presence.
		{"EmptyByIndex", zsetFetchByIndex("z", cachepb.XSortedSetFetchRequest_ASCENDING, true, ptr32(10), nil), "scores[]"},
		{"EmptyWithoutScores", zsetFetchByIndex("z", cachepb.XSortedSetFetchRequest_ASCENDING, false, ptr32(2), ptr32(2)), "values[]"},
		{"ByScore", zsetFetchByScore("z", 2, 3, 0, -1), "scores[b:2 c:3 ]"},
		{"ByScoreOffsetCount", zsetFetchByScore("z", 1, 3, 1, 1), "scores[b:2 ]"},
		{"ByScoreNone", zsetFetchByScore("z", 10, 20, 0, -1), "scores[]"},
		{"ByScoreInfinite", zsetFetchByScore("z", math.Inf(-1), math.Inf(1), 0, -1), "scores[a:1 b:2 c:3 ]"},
		{"NoRange", &cachepb.XSortedSetFetchRequest{SetName: []byte("z"), WithScores: true}, "scores[a:1 b:2 c:3 ]"},
		{"Missing", zsetFetchByIndex("missing", cachepb.XSortedSetFetchRequest_ASCENDING, true, nil, nil), "missing"},
		{"MissingByScore", zsetFetchByScore("missing", 0, 1, 0, -1), "missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := svc.SortedSetFetch(ctx, tc.req)
			if err != nil {
				t.Fatalf("SortedSetFetch(%v) = %v, want nil error", tc.req, err)
			}
			if got := zsetFetched(zsetRoundTrip(t, resp)); got != tc.want {
				t.Errorf("SortedSetFetch(%v) = %s, want %s", tc.req, got, tc.want)
			}
		})
	}
}

func TestSortedSetGetScoreAndRank(t *testing.T) {
	svc, ctx := newZSetService(t, store.Limits{})
	resp, err := svc.SortedSetGetScore(ctx, &cachepb.XSortedSetGetScoreRequest{SetName: []byte("z"), Values: [][]byte{[]byte("c"), []byte("nope"), []byte("a")}})
	if err != nil {
		t.Fatalf("SortedSetGetScore(c, nope, a) = %v, want nil", err)
	}
	parts := zsetRoundTrip(t, resp).GetFound().GetElements()
	if len(parts) != 3 || parts[0].GetResult() != cachepb.ECacheResult_Hit || parts[0].GetScore() != 3 ||
		parts[1].GetResult() != cachepb.ECacheResult_Miss || parts[2].GetResult() != cachepb.ECacheResult_Hit || parts[2].GetScore() != 1 {
		t.Errorf("SortedSetGetScore(c, nope, a) = %v, want [Hit 3, Miss, Hit 1]", parts)
	}
	resp, err = svc.SortedSetGetScore(ctx, &cachepb.XSortedSetGetScoreRequest{SetName: []byte("missing"), Values: [][]byte{[]byte("a")}})
	if err != nil || zsetRoundTrip(t, resp).GetMissing() == nil {
		t.Errorf("SortedSetGetScore(missing) = %v, %v; want missing", resp, err)
	}
	resp, err = svc.SortedSetGetScore(ctx, &cachepb.XSortedSetGetScoreRequest{SetName: []byte("z")})
	if err != nil || zsetRoundTrip(t, resp).GetFound() == nil {
		t.Errorf("SortedSetGetScore(z, no values) = %v, %v; want found with no parts", resp, err)
	}

	ranks := []struct {
		name      string
		set       string
		value     string
		order     cachepb.XSortedSetGetRankRequest_Order
		wantRank  uint64
		wantHit   bool
		wantFound bool
	}{
		{"Ascending", "z", "b", cachepb.XSortedSetGetRankRequest_ASCENDING, 1, true, true},
		{"AscendingFirst", "z", "a", cachepb.XSortedSetGetRankRequest_ASCENDING, 0, true, true},
		{"Descending", "z", "a", cachepb.XSortedSetGetRankRequest_DESCENDING, 2, true, true},
		{"MissingValue", "z", "nope", cachepb.XSortedSetGetRankRequest_ASCENDING, 0, false, true},
		{"MissingSet", "missing", "a", cachepb.XSortedSetGetRankRequest_ASCENDING, 0, false, false},
	}
	for _, tc := range ranks {
		t.Run("GetRank"+tc.name, func(t *testing.T) {
			resp, err := svc.SortedSetGetRank(ctx, &cachepb.XSortedSetGetRankRequest{SetName: []byte(tc.set), Value: []byte(tc.value), Order: tc.order})
			if err != nil {
				t.Fatalf("SortedSetGetRank(%s, %s) = %v, want nil error", tc.set, tc.value, err)
			}
			resp = zsetRoundTrip(t, resp)
			part := resp.GetElementRank()
			switch {
			case !tc.wantFound && resp.GetMissing() == nil:
				t.Errorf("SortedSetGetRank(%s, %s) = %v, want missing", tc.set, tc.value, resp)
			case tc.wantFound && part == nil:
				t.Errorf("SortedSetGetRank(%s, %s) = %v, want element_rank", tc.set, tc.value, resp)
			case tc.wantFound && tc.wantHit && (part.GetResult() != cachepb.ECacheResult_Hit || part.GetRank() != tc.wantRank):
				t.Errorf("SortedSetGetRank(%s, %s) = %v, want Hit %d", tc.set, tc.value, part, tc.wantRank)
			case tc.wantFound && !tc.wantHit && part.GetResult() != cachepb.ECacheResult_Miss:
				t.Errorf("SortedSetGetRank(%s, %s) = %v, want Miss", tc.set, tc.value, part)
			}
		})
	}
}

func TestSortedSetLengths(t *testing.T) {
	svc, ctx := newZSetService(t, store.Limits{})
	resp, err := svc.SortedSetLength(ctx, &cachepb.XSortedSetLengthRequest{SetName: []byte("z")})
	if err != nil || zsetRoundTrip(t, resp).GetFound().GetLength() != 3 {
		t.Errorf("SortedSetLength(z) = %v, %v; want found 3", resp, err)
	}
	resp, err = svc.SortedSetLength(ctx, &cachepb.XSortedSetLengthRequest{SetName: []byte("missing")})
	if err != nil || zsetRoundTrip(t, resp).GetMissing() == nil {
		t.Errorf("SortedSetLength(missing) = %v, %v; want missing", resp, err)
	}
	tests := []struct {
		name string
		req  *cachepb.XSortedSetLengthByScoreRequest
		want uint32
	}{
		{"Unset", &cachepb.XSortedSetLengthByScoreRequest{}, 3},
		{"Inclusive", &cachepb.XSortedSetLengthByScoreRequest{
			Min: &cachepb.XSortedSetLengthByScoreRequest_InclusiveMin{InclusiveMin: 2},
			Max: &cachepb.XSortedSetLengthByScoreRequest_InclusiveMax{InclusiveMax: 3}}, 2},
		{"Exclusive", &cachepb.XSortedSetLengthByScoreRequest{
			Min: &cachepb.XSortedSetLengthByScoreRequest_ExclusiveMin{ExclusiveMin: 1},
			Max: &cachepb.XSortedSetLengthByScoreRequest_ExclusiveMax{ExclusiveMax: 3}}, 1},
		{"Unbounded", &cachepb.XSortedSetLengthByScoreRequest{
			Min: &cachepb.XSortedSetLengthByScoreRequest_UnboundedMin{UnboundedMin: &commonpb.XUnbounded{}},
			Max: &cachepb.XSortedSetLengthByScoreRequest_ExclusiveMax{ExclusiveMax: 3}}, 2},
		{"None", &cachepb.XSortedSetLengthByScoreRequest{
			Min: &cachepb.XSortedSetLengthByScoreRequest_InclusiveMin{InclusiveMin: 5}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.SetName = []byte("z")
			resp, err := svc.SortedSetLengthByScore(ctx, tc.req)
			if err != nil {
				t.Fatalf("SortedSetLengthByScore(%v) = %v, want nil error", tc.req, err)
			}
			found := zsetRoundTrip(t, resp).GetFound()
			if found == nil || found.GetLength() != tc.want {
				t.Errorf("SortedSetLengthByScore(%v) = %v, want found %d", tc.req, resp, tc.want)
			}
		})
	}
}

func TestSortedSetWrites(t *testing.T) {
	svc, ctx := newZSetService(t, store.Limits{})
	incr, err := svc.SortedSetIncrement(ctx, &cachepb.XSortedSetIncrementRequest{SetName: []byte("z"), Value: []byte("a"), Amount: 41, TtlMilliseconds: zsetTTL})
	if err != nil || incr.GetScore() != 42 {
		t.Errorf("SortedSetIncrement(z, a, 41) = %v, %v; want 42", incr, err)
	}
	incr, err = svc.SortedSetIncrement(ctx, &cachepb.XSortedSetIncrementRequest{SetName: []byte("new"), Value: []byte("x"), Amount: -2.5, TtlMilliseconds: zsetTTL})
	if err != nil || incr.GetScore() != -2.5 {
		t.Errorf("SortedSetIncrement(new, x, -2.5) = %v, %v; want -2.5", incr, err)
	}

	if _, err := svc.SortedSetRemove(ctx, &cachepb.XSortedSetRemoveRequest{SetName: []byte("z"), RemoveElements: &cachepb.XSortedSetRemoveRequest_Some{
		Some: &cachepb.XSortedSetRemoveRequest_XSome{Values: [][]byte{[]byte("b"), []byte("nope")}},
	}}); err != nil {
		t.Fatalf("SortedSetRemove(z, some) = %v, want nil", err)
	}
	resp, err := svc.SortedSetFetch(ctx, zsetFetchByIndex("z", cachepb.XSortedSetFetchRequest_ASCENDING, true, nil, nil))
	if got, want := zsetFetched(resp), "scores[c:3 a:42 ]"; err != nil || got != want {
		t.Errorf("SortedSetFetch(z) after remove = %s, %v; want %s", got, err, want)
	}
	if _, err := svc.SortedSetRemove(ctx, &cachepb.XSortedSetRemoveRequest{SetName: []byte("z"), RemoveElements: &cachepb.XSortedSetRemoveRequest_All{All: &cachepb.XSortedSetRemoveRequest_XAll{}}}); err != nil {
		t.Fatalf("SortedSetRemove(z, all) = %v, want nil", err)
	}
	resp, err = svc.SortedSetFetch(ctx, zsetFetchByIndex("z", cachepb.XSortedSetFetchRequest_ASCENDING, true, nil, nil))
	if got := zsetFetched(resp); err != nil || got != "missing" {
		t.Errorf("SortedSetFetch(z) after remove all = %s, %v; want missing", got, err)
	}

	for _, req := range []*cachepb.XSortedSetPutRequest{zsetPut("s1", "foo", 1, "bar", 3), zsetPut("s2", "abc", 2, "bar", 2)} {
		if _, err := svc.SortedSetPut(ctx, req); err != nil {
			t.Fatalf("SortedSetPut(%s) = %v, want nil", req.GetSetName(), err)
		}
	}
	union, err := svc.SortedSetUnionStore(ctx, &cachepb.XSortedSetUnionStoreRequest{
		SetName:         []byte("u"),
		Sources:         []*cachepb.XSortedSetUnionStoreRequest_XSource{{SetName: []byte("s1"), Weight: 1}, {SetName: []byte("s2"), Weight: 2.5}},
		Aggregate:       cachepb.XSortedSetUnionStoreRequest_MAX,
		TtlMilliseconds: zsetTTL,
	})
	if err != nil || union.GetLength() != 3 {
		t.Fatalf("SortedSetUnionStore(u, MAX) = %v, %v; want length 3", union, err)
	}
	resp, err = svc.SortedSetFetch(ctx, zsetFetchByIndex("u", cachepb.XSortedSetFetchRequest_ASCENDING, true, nil, nil))
	if got, want := zsetFetched(resp), "scores[foo:1 abc:5 bar:5 ]"; err != nil || got != want {
		t.Errorf("SortedSetFetch(u) = %s, %v; want %s", got, err, want)
	}
}

// TestSortedSetErrors checks the status of every refused request.
func TestSortedSetErrors(t *testing.T) {
	svc, ctx := newZSetService(t, store.Limits{MaxItemSize: 100})
	if _, err := svc.SortedSetPut(ctx, zsetPut("inf", "p", math.Inf(1))); err != nil {
		t.Fatalf("SortedSetPut(inf, p: +Inf) = %v, want nil", err)
	}
	nan := math.NaN()
	unbounded := &commonpb.XUnbounded{}
	tests := []struct {
		name string
		call func(ctx context.Context) error
		want codes.Code
	}{
		{"PutNaN", func(ctx context.Context) error {
			_, err := svc.SortedSetPut(ctx, zsetPut("z", "a", 1.0, "b", nan))
			return err
		}, codes.InvalidArgument},
		{"PutTTLZero", func(ctx context.Context) error {
			req := zsetPut("z", "a", 1.0)
			req.TtlMilliseconds = 0
			_, err := svc.SortedSetPut(ctx, req)
			return err
		}, codes.InvalidArgument},
		{"PutEmptyName", func(ctx context.Context) error {
			_, err := svc.SortedSetPut(ctx, zsetPut("", "a", 1.0))
			return err
		}, codes.InvalidArgument},
		{"PutTooLarge", func(ctx context.Context) error {
			_, err := svc.SortedSetPut(ctx, zsetPut("z", string(make([]byte, 100)), 1.0))
			return err
		}, codes.ResourceExhausted},
		{"PutOnScalar", func(ctx context.Context) error {
			_, err := svc.SortedSetPut(ctx, zsetPut("scalar", "a", 1.0))
			return err
		}, codes.FailedPrecondition},
		{"FetchOnScalar", func(ctx context.Context) error {
			_, err := svc.SortedSetFetch(ctx, zsetFetchByIndex("scalar", cachepb.XSortedSetFetchRequest_ASCENDING, true, nil, nil))
			return err
		}, codes.FailedPrecondition},
		{"FetchUnknownOrder", func(ctx context.Context) error {
			_, err := svc.SortedSetFetch(ctx, zsetFetchByIndex("z", 7, true, nil, nil))
			return err
		}, codes.InvalidArgument},
		{"FetchNaNBound", func(ctx context.Context) error {
			_, err := svc.SortedSetFetch(ctx, zsetFetchByScore("z", nan, 1, 0, -1))
			return err
		}, codes.InvalidArgument},
		{"FetchUnknownCache", func(ctx context.Context) error {
			ctx = metadata.NewIncomingContext(ctx, metadata.Pairs(grpcsvc.CacheHeader, "nope"))
			_, err := svc.SortedSetFetch(ctx, zsetFetchByIndex("z", cachepb.XSortedSetFetchRequest_ASCENDING, true, nil, nil))
			return err
		}, codes.NotFound},
		{"GetRankUnknownOrder", func(ctx context.Context) error {
			_, err := svc.SortedSetGetRank(ctx, &cachepb.XSortedSetGetRankRequest{SetName: []byte("z"), Value: []byte("a"), Order: 9})
			return err
		}, codes.InvalidArgument},
		{"GetScoreOnScalar", func(ctx context.Context) error {
			_, err := svc.SortedSetGetScore(ctx, &cachepb.XSortedSetGetScoreRequest{SetName: []byte("scalar"), Values: [][]byte{[]byte("a")}})
			return err
		}, codes.FailedPrecondition},
		{"RemoveWithoutChoice", func(ctx context.Context) error {
			_, err := svc.SortedSetRemove(ctx, &cachepb.XSortedSetRemoveRequest{SetName: []byte("z")})
			return err
		}, codes.InvalidArgument},
		{"RemoveAllOnScalar", func(ctx context.Context) error {
			_, err := svc.SortedSetRemove(ctx, &cachepb.XSortedSetRemoveRequest{SetName: []byte("scalar"), RemoveElements: &cachepb.XSortedSetRemoveRequest_All{All: &cachepb.XSortedSetRemoveRequest_XAll{}}})
			return err
		}, codes.FailedPrecondition},
		{"IncrementNaN", func(ctx context.Context) error {
			_, err := svc.SortedSetIncrement(ctx, &cachepb.XSortedSetIncrementRequest{SetName: []byte("z"), Value: []byte("a"), Amount: nan, TtlMilliseconds: zsetTTL})
			return err
		}, codes.InvalidArgument},
		// +Inf plus -Inf: valid request, but the stored score cannot take it.
		{"IncrementToNaN", func(ctx context.Context) error {
			_, err := svc.SortedSetIncrement(ctx, &cachepb.XSortedSetIncrementRequest{SetName: []byte("inf"), Value: []byte("p"), Amount: math.Inf(-1), TtlMilliseconds: zsetTTL})
			return err
		}, codes.FailedPrecondition},
		{"LengthOnScalar", func(ctx context.Context) error {
			_, err := svc.SortedSetLength(ctx, &cachepb.XSortedSetLengthRequest{SetName: []byte("scalar")})
			return err
		}, codes.FailedPrecondition},
		{"LengthByScoreNaN", func(ctx context.Context) error {
			_, err := svc.SortedSetLengthByScore(ctx, &cachepb.XSortedSetLengthByScoreRequest{SetName: []byte("z"),
				Min: &cachepb.XSortedSetLengthByScoreRequest_UnboundedMin{UnboundedMin: unbounded},
				Max: &cachepb.XSortedSetLengthByScoreRequest_ExclusiveMax{ExclusiveMax: nan}})
			return err
		}, codes.InvalidArgument},
		{"UnionNoSources", func(ctx context.Context) error {
			_, err := svc.SortedSetUnionStore(ctx, &cachepb.XSortedSetUnionStoreRequest{SetName: []byte("u"), TtlMilliseconds: zsetTTL})
			return err
		}, codes.InvalidArgument},
		{"UnionEmptySourceName", func(ctx context.Context) error {
			_, err := svc.SortedSetUnionStore(ctx, &cachepb.XSortedSetUnionStoreRequest{SetName: []byte("u"), TtlMilliseconds: zsetTTL,
				Sources: []*cachepb.XSortedSetUnionStoreRequest_XSource{{SetName: []byte("z"), Weight: 1}, {Weight: 1}}})
			return err
		}, codes.InvalidArgument},
		{"UnionNaNWeight", func(ctx context.Context) error {
			_, err := svc.SortedSetUnionStore(ctx, &cachepb.XSortedSetUnionStoreRequest{SetName: []byte("u"), TtlMilliseconds: zsetTTL,
				Sources: []*cachepb.XSortedSetUnionStoreRequest_XSource{{SetName: []byte("z"), Weight: float32(nan)}}})
			return err
		}, codes.InvalidArgument},
		{"UnionUnknownAggregate", func(ctx context.Context) error {
			_, err := svc.SortedSetUnionStore(ctx, &cachepb.XSortedSetUnionStoreRequest{SetName: []byte("u"), TtlMilliseconds: zsetTTL, Aggregate: 5,
				Sources: []*cachepb.XSortedSetUnionStoreRequest_XSource{{SetName: []byte("z"), Weight: 1}}})
			return err
		}, codes.InvalidArgument},
		{"UnionTTLZero", func(ctx context.Context) error {
			_, err := svc.SortedSetUnionStore(ctx, &cachepb.XSortedSetUnionStoreRequest{SetName: []byte("u"),
				Sources: []*cachepb.XSortedSetUnionStoreRequest_XSource{{SetName: []byte("z"), Weight: 1}}})
			return err
		}, codes.InvalidArgument},
		{"UnionSourceIsScalar", func(ctx context.Context) error {
			_, err := svc.SortedSetUnionStore(ctx, &cachepb.XSortedSetUnionStoreRequest{SetName: []byte("u"), TtlMilliseconds: zsetTTL,
				Sources: []*cachepb.XSortedSetUnionStoreRequest_XSource{{SetName: []byte("scalar"), Weight: 1}}})
			return err
		}, codes.FailedPrecondition},
		{"UnionDestinationIsScalar", func(ctx context.Context) error {
			_, err := svc.SortedSetUnionStore(ctx, &cachepb.XSortedSetUnionStoreRequest{SetName: []byte("scalar"), TtlMilliseconds: zsetTTL,
				Sources: []*cachepb.XSortedSetUnionStoreRequest_XSource{{SetName: []byte("z"), Weight: 1}}})
			return err
		}, codes.FailedPrecondition},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := status.Code(tc.call(ctx)); got != tc.want {
				t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
			}
		})
	}
}
