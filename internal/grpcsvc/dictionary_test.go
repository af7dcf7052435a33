package grpcsvc_test

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/internal/grpcsvc"
	"github.com/thaw-dev/thaw/internal/store"
)

// dictTTL is the ttl_milliseconds of the writes in these tests.
const dictTTL = 60_000

// newDictService returns newCollectionService's service and context.
func newDictService(t *testing.T, limits store.Limits) (*grpcsvc.CacheService, context.Context) {
	t.Helper()
	return newCollectionService(t, limits)
}

// dictSetRequest builds a DictionarySet of alternating field names and values.
func dictSetRequest(name string, kv ...string) *cachepb.XDictionarySetRequest {
	req := &cachepb.XDictionarySetRequest{DictionaryName: []byte(name), TtlMilliseconds: dictTTL, RefreshTtl: true}
	for i := 0; i+1 < len(kv); i += 2 {
		req.Items = append(req.Items, &cachepb.XDictionaryFieldValuePair{Field: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return req
}

func mustDictSet(t *testing.T, svc *grpcsvc.CacheService, ctx context.Context, name string, kv ...string) {
	t.Helper()
	if _, err := svc.DictionarySet(ctx, dictSetRequest(name, kv...)); err != nil {
		t.Fatalf("DictionarySet(%q, %q) = %v, want nil", name, kv, err)
	}
}

// roundTrip marshals and unmarshals m as the transport would, so that tests
// see what a client sees: an unset oneof arm does not survive.
func roundTrip[M proto.Message](t *testing.T, m M) M {
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

func TestDictionaryGet(t *testing.T) {
	svc, ctx := newDictService(t, store.Limits{})
	mustDictSet(t, svc, ctx, "d", "a", "1", "b", "", "c", "3")
	type part struct {
		result cachepb.ECacheResult
		body   string
	}
	hit := func(v string) part { return part{cachepb.ECacheResult_Hit, v} }
	miss := part{cachepb.ECacheResult_Miss, ""}
	tests := []struct {
		name    string
		dict    string
		fields  []string
		want    []part // nil: the missing arm
		wantErr codes.Code
	}{
		{"InRequestOrder", "d", []string{"c", "zz", "a", "b"}, []part{hit("3"), miss, hit("1"), hit("")}, codes.OK},
		{"OneField", "d", []string{"a"}, []part{hit("1")}, codes.OK},
		{"OneMiss", "d", []string{"zz"}, []part{miss}, codes.OK},
		{"NoFields", "d", nil, []part{}, codes.OK},
		{"MissingDictionary", "nope", []string{"a"}, nil, codes.OK},
		{"Scalar", "scalar", []string{"a"}, nil, codes.FailedPrecondition},
		{"EmptyName", "", []string{"a"}, nil, codes.InvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := &cachepb.XDictionaryGetRequest{DictionaryName: []byte(tc.dict)}
			for _, f := range tc.fields {
				req.Fields = append(req.Fields, []byte(f))
			}
			resp, err := svc.DictionaryGet(ctx, req)
			if tc.wantErr != codes.OK || err != nil {
				if status.Code(err) != tc.wantErr {
					t.Fatalf("DictionaryGet(%q, %q) = %v, want code %v", tc.dict, tc.fields, err, tc.wantErr)
				}
				return
			}
			resp = roundTrip(t, resp)
			if tc.want == nil {
				if resp.GetMissing() == nil {
					t.Fatalf("DictionaryGet(%q, %q) = %v, want missing", tc.dict, tc.fields, resp)
				}
				return
			}
			found := resp.GetFound()
			if found == nil || len(found.GetItems()) != len(tc.want) {
				t.Fatalf("DictionaryGet(%q, %q) = %v, want found with %d parts", tc.dict, tc.fields, resp, len(tc.want))
			}
			for i, item := range found.GetItems() {
				if got := (part{item.GetResult(), string(item.GetCacheBody())}); got != tc.want[i] {
					t.Errorf("DictionaryGet(%q, %q) part %d = %v, want %v", tc.dict, tc.fields, i, got, tc.want[i])
				}
			}
		})
	}
}

func TestDictionaryFetch(t *testing.T) {
	svc, ctx := newDictService(t, store.Limits{})
	mustDictSet(t, svc, ctx, "d", "a", "1", "b", "", "\x00\xff", "\xff\x00")
	resp, err := svc.DictionaryFetch(ctx, &cachepb.XDictionaryFetchRequest{DictionaryName: []byte("d")})
	if err != nil {
		t.Fatalf("DictionaryFetch(d) = %v, want nil", err)
	}
	got := map[string]string{}
	for _, item := range roundTrip(t, resp).GetFound().GetItems() {
		got[string(item.GetField())] = string(item.GetValue())
	}
	if want := map[string]string{"a": "1", "b": "", "\x00\xff": "\xff\x00"}; !maps.Equal(got, want) {
		t.Errorf("DictionaryFetch(d) = %q, want %q", got, want)
	}
	resp, err = svc.DictionaryFetch(ctx, &cachepb.XDictionaryFetchRequest{DictionaryName: []byte("nope")})
	if err != nil || roundTrip(t, resp).GetMissing() == nil {
		t.Errorf("DictionaryFetch(nope) = %v, %v; want missing", resp, err)
	}
}

func TestDictionaryLength(t *testing.T) {
	svc, ctx := newDictService(t, store.Limits{})
	mustDictSet(t, svc, ctx, "d", "a", "1", "b", "2")
	resp, err := svc.DictionaryLength(ctx, &cachepb.XDictionaryLengthRequest{DictionaryName: []byte("d")})
	if err != nil || roundTrip(t, resp).GetFound().GetLength() != 2 {
		t.Errorf("DictionaryLength(d) = %v, %v; want found 2", resp, err)
	}
	resp, err = svc.DictionaryLength(ctx, &cachepb.XDictionaryLengthRequest{DictionaryName: []byte("nope")})
	if err != nil || roundTrip(t, resp).GetMissing() == nil {
		t.Errorf("DictionaryLength(nope) = %v, %v; want missing", resp, err)
	}
}

// TestDictionaryErrors checks the status of requests that fail.
func TestDictionaryErrors(t *testing.T) {
	svc, ctx := newDictService(t, store.Limits{MaxItemSize: 100})
	mustDictSet(t, svc, ctx, "d", "word", "abc", "max", "9223372036854775807")
	noCache := metadata.NewIncomingContext(t.Context(), metadata.Pairs(grpcsvc.CacheHeader, "nope"))
	incr := func(ctx context.Context, name, field string, amount int64, ttl uint64) error {
		_, err := svc.DictionaryIncrement(ctx, &cachepb.XDictionaryIncrementRequest{DictionaryName: []byte(name), Field: []byte(field), Amount: amount, TtlMilliseconds: ttl})
		return err
	}
	set := func(ctx context.Context, req *cachepb.XDictionarySetRequest) error {
		_, err := svc.DictionarySet(ctx, req)
		return err
	}
	del := func(req *cachepb.XDictionaryDeleteRequest) error {
		_, err := svc.DictionaryDelete(ctx, req)
		return err
	}
	tooLong := dictSetRequest("d", "big", strings.Repeat("x", 100))
	zeroTTL := dictSetRequest("d", "a", "1")
	zeroTTL.TtlMilliseconds = 0
	overMaxTTL := dictSetRequest("d", "a", "1")
	overMaxTTL.TtlMilliseconds = uint64(store.DefaultMaxTTL/time.Millisecond) + 1
	tests := []struct {
		name        string
		call        func() error
		want        codes.Code
		wantMessage string
	}{
		{"IncrementNotInteger", func() error { return incr(ctx, "d", "word", 1, dictTTL) }, codes.FailedPrecondition, ""},
		{"IncrementOverflow", func() error { return incr(ctx, "d", "max", 1, dictTTL) }, codes.FailedPrecondition, ""},
		{"IncrementScalar", func() error { return incr(ctx, "scalar", "n", 1, dictTTL) }, codes.FailedPrecondition, ""},
		{"IncrementZeroTTL", func() error { return incr(ctx, "d", "n", 1, 0) }, codes.InvalidArgument, ""},
		{"IncrementUnknownCache", func() error { return incr(noCache, "d", "n", 1, dictTTL) }, codes.NotFound, ""},
		{"IncrementEmptyName", func() error { return incr(ctx, "", "n", 1, dictTTL) }, codes.InvalidArgument, ""},
		{"SetTooLarge", func() error { return set(ctx, tooLong) }, codes.ResourceExhausted, "item size"},
		{"SetZeroTTL", func() error { return set(ctx, zeroTTL) }, codes.InvalidArgument, ""},
		{"SetOverMaxTTL", func() error { return set(ctx, overMaxTTL) }, codes.InvalidArgument, ""},
		{"SetScalar", func() error { return set(ctx, dictSetRequest("scalar", "a", "1")) }, codes.FailedPrecondition, ""},
		{"SetNoCacheHeader", func() error { return set(t.Context(), dictSetRequest("d", "a", "1")) }, codes.InvalidArgument, ""},
		{"DeleteNeitherSomeNorAll", func() error { return del(&cachepb.XDictionaryDeleteRequest{DictionaryName: []byte("d")}) }, codes.InvalidArgument, ""},
		{"DeleteAllScalar", func() error {
			return del(&cachepb.XDictionaryDeleteRequest{DictionaryName: []byte("scalar"), Delete: &cachepb.XDictionaryDeleteRequest_All_{All: &cachepb.XDictionaryDeleteRequest_All{}}})
		}, codes.FailedPrecondition, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if status.Code(err) != tc.want || !strings.Contains(status.Convert(err).Message(), tc.wantMessage) {
				t.Errorf("%s = %v, want code %v with %q in the message", tc.name, err, tc.want, tc.wantMessage)
			}
		})
	}
	// The failed calls changed nothing.
	resp, err := svc.DictionaryLength(ctx, &cachepb.XDictionaryLengthRequest{DictionaryName: []byte("d")})
	if err != nil || resp.GetFound().GetLength() != 2 {
		t.Errorf("DictionaryLength(d) after the failed calls = %v, %v; want found 2", resp, err)
	}
}

func TestDictionaryIncrement(t *testing.T) {
	svc, ctx := newDictService(t, store.Limits{})
	for _, step := range []struct{ amount, want int64 }{{0, 0}, {1, 1}, {41, 42}, {-1042, -1000}} {
		resp, err := svc.DictionaryIncrement(ctx, &cachepb.XDictionaryIncrementRequest{DictionaryName: []byte("d"), Field: []byte("n"), Amount: step.amount, TtlMilliseconds: dictTTL})
		if err != nil || resp.GetValue() != step.want {
			t.Fatalf("DictionaryIncrement(%d) = %v, %v; want %d", step.amount, resp, err, step.want)
		}
	}
	resp, err := svc.DictionaryGet(ctx, &cachepb.XDictionaryGetRequest{DictionaryName: []byte("d"), Fields: [][]byte{[]byte("n")}})
	if items := resp.GetFound().GetItems(); err != nil || len(items) != 1 || string(items[0].GetCacheBody()) != "-1000" {
		t.Errorf("DictionaryGet(d, n) = %v, %v; want found [-1000]", resp, err)
	}
}

func TestDictionaryDelete(t *testing.T) {
	svc, ctx := newDictService(t, store.Limits{})
	length := func(name string) (uint32, bool) {
		t.Helper()
		resp, err := svc.DictionaryLength(ctx, &cachepb.XDictionaryLengthRequest{DictionaryName: []byte(name)})
		if err != nil {
			t.Fatalf("DictionaryLength(%q) = %v, want nil", name, err)
		}
		return resp.GetFound().GetLength(), resp.GetFound() != nil
	}
	some := func(fields ...string) *cachepb.XDictionaryDeleteRequest_Some_ {
		s := &cachepb.XDictionaryDeleteRequest_Some{}
		for _, f := range fields {
			s.Fields = append(s.Fields, []byte(f))
		}
		return &cachepb.XDictionaryDeleteRequest_Some_{Some: s}
	}
	all := &cachepb.XDictionaryDeleteRequest_All_{All: &cachepb.XDictionaryDeleteRequest_All{}}
	mustDictSet(t, svc, ctx, "d", "a", "1", "b", "2", "c", "3")
	steps := []struct {
		name       string
		dict       string
		delete     func() *cachepb.XDictionaryDeleteRequest
		wantLength uint32
		wantFound  bool
	}{
		{"SomeAbsent", "d", func() *cachepb.XDictionaryDeleteRequest {
			return &cachepb.XDictionaryDeleteRequest{DictionaryName: []byte("d"), Delete: some("zz")}
		}, 3, true},
		{"Some", "d", func() *cachepb.XDictionaryDeleteRequest {
			return &cachepb.XDictionaryDeleteRequest{DictionaryName: []byte("d"), Delete: some("a", "zz")}
		}, 2, true},
		{"SomeNone", "d", func() *cachepb.XDictionaryDeleteRequest {
			return &cachepb.XDictionaryDeleteRequest{DictionaryName: []byte("d"), Delete: some()}
		}, 2, true},
		{"SomeLast", "d", func() *cachepb.XDictionaryDeleteRequest {
			return &cachepb.XDictionaryDeleteRequest{DictionaryName: []byte("d"), Delete: some("b", "c")}
		}, 0, false},
		{"SomeOfMissing", "d", func() *cachepb.XDictionaryDeleteRequest {
			return &cachepb.XDictionaryDeleteRequest{DictionaryName: []byte("d"), Delete: some("a")}
		}, 0, false},
		{"All", "e", func() *cachepb.XDictionaryDeleteRequest {
			mustDictSet(t, svc, ctx, "e", "a", "1", "b", "2")
			return &cachepb.XDictionaryDeleteRequest{DictionaryName: []byte("e"), Delete: all}
		}, 0, false},
		{"AllOfMissing", "e", func() *cachepb.XDictionaryDeleteRequest {
			return &cachepb.XDictionaryDeleteRequest{DictionaryName: []byte("e"), Delete: all}
		}, 0, false},
	}
	for _, step := range steps {
		if _, err := svc.DictionaryDelete(ctx, step.delete()); err != nil {
			t.Fatalf("%s: DictionaryDelete = %v, want nil", step.name, err)
		}
		if n, found := length(step.dict); n != step.wantLength || found != step.wantFound {
			t.Errorf("%s: DictionaryLength(%q) = %d, %v; want %d, %v", step.name, step.dict, n, found, step.wantLength, step.wantFound)
		}
	}
}

// TestDictionarySetTTL checks that ttl_milliseconds and refresh_ttl reach
// the store: a new dictionary takes the TTL, refresh resets it, and no
// refresh keeps it.
func TestDictionarySetTTL(t *testing.T) {
	svc, ctx := newDictService(t, store.Limits{})
	remaining := func() time.Duration {
		t.Helper()
		resp, err := svc.ItemGetTtl(ctx, &cachepb.XItemGetTtlRequest{CacheKey: []byte("d")})
		if err != nil || resp.GetFound() == nil {
			t.Fatalf("ItemGetTtl(d) = %v, %v; want found", resp, err)
		}
		return time.Duration(resp.GetFound().GetRemainingTtlMillis()) * time.Millisecond
	}
	write := func(ttl time.Duration, refresh bool) {
		t.Helper()
		req := dictSetRequest("d", "a", "1")
		req.TtlMilliseconds, req.RefreshTtl = uint64(ttl/time.Millisecond), refresh
		if _, err := svc.DictionarySet(ctx, req); err != nil {
			t.Fatalf("DictionarySet(ttl %v, refresh %v) = %v, want nil", ttl, refresh, err)
		}
	}
	write(time.Minute, false)
	if got := remaining(); got <= 30*time.Second || got > time.Minute {
		t.Errorf("ItemGetTtl after creation with 1m = %v, want in (30s, 1m]", got)
	}
	write(time.Hour, false)
	if got := remaining(); got > time.Minute {
		t.Errorf("ItemGetTtl after a 1h write without refresh = %v, want at most 1m", got)
	}
	write(time.Hour, true)
	if got := remaining(); got <= 30*time.Minute {
		t.Errorf("ItemGetTtl after a 1h write with refresh = %v, want above 30m", got)
	}
}
