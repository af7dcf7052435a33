package grpcsvc_test

import (
	"context"
	"slices"
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
	"github.com/thaw-dev/thaw/internal/store/memory"
)

// setTTL is the ttl_milliseconds of the set unions in these tests.
const setTTL = 60_000

// setMaxItemSize is the item size limit of newSetService: small, so that the
// size tests need no large members.
const setMaxItemSize = 64

// newSetService returns newCollectionService's service and context, with
// the item size limit setMaxItemSize.
func newSetService(t *testing.T) (*grpcsvc.CacheService, context.Context) {
	t.Helper()
	return newCollectionService(t, store.Limits{MaxItemSize: setMaxItemSize})
}

// setSorted converts the wire's members to sorted strings.
func setSorted(members [][]byte) []string {
	out := make([]string, len(members))
	for i, m := range members {
		out[i] = string(m)
	}
	slices.Sort(out)
	return out
}

// setMustUnion adds members to the set name with setTTL and refresh.
func setMustUnion(t *testing.T, svc *grpcsvc.CacheService, ctx context.Context, name string, members ...string) {
	t.Helper()
	req := &cachepb.XSetUnionRequest{SetName: []byte(name), Elements: byteSlices(members...), TtlMilliseconds: setTTL, RefreshTtl: true}
	if _, err := svc.SetUnion(ctx, req); err != nil {
		t.Fatalf("SetUnion(%q, %q) = %v, want nil", name, members, err)
	}
}

// setFetchAll returns the members of the set name, sorted, or nil when
// SetFetch answers missing. The response goes through the wire format, so a
// found response must survive it as found.
func setFetchAll(t *testing.T, svc *grpcsvc.CacheService, ctx context.Context, name string) []string {
	t.Helper()
	resp, err := svc.SetFetch(ctx, &cachepb.XSetFetchRequest{SetName: []byte(name)})
	if err != nil {
		t.Fatalf("SetFetch(%q) = %v, want nil", name, err)
	}
	resp = setWireTrip(t, resp)
	switch {
	case resp.GetMissing() != nil:
		return nil
	case resp.GetFound() == nil:
		t.Fatalf("SetFetch(%q) = %v, want found or missing", name, resp)
	}
	return setSorted(resp.GetFound().GetElements())
}

// setWireTrip marshals and unmarshals m, as the transport would.
func setWireTrip[M proto.Message](t *testing.T, m M) M {
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

func TestSetCollectionUnionAndFetch(t *testing.T) {
	svc, ctx := newSetService(t)
	tests := []struct {
		name  string
		adds  [][]string
		want  []string // nil: missing
		check string
	}{
		{"Missing", nil, nil, "never written"},
		{"One", [][]string{{"a"}}, []string{"a"}, ""},
		{"Duplicates", [][]string{{"a", "b", "a"}, {"b", "c"}}, []string{"a", "b", "c"}, ""},
		{"EmptyMember", [][]string{{""}}, []string{""}, ""},
		{"NothingCreatesNothing", [][]string{{}}, nil, ""},
		{"Binary", [][]string{{"\x00", "\xff\xfe", "\x00\x00"}}, []string{"\x00", "\x00\x00", "\xff\xfe"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, add := range tc.adds {
				setMustUnion(t, svc, ctx, tc.name, add...)
			}
			if got := setFetchAll(t, svc, ctx, tc.name); !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
				t.Errorf("SetFetch(%q) = %q, want %q", tc.name, got, tc.want)
			}
		})
	}
}

func TestSetCollectionSample(t *testing.T) {
	svc, ctx := newSetService(t)
	members := []string{"a", "b", "c", "d", "e"}
	setMustUnion(t, svc, ctx, "five", members...)
	for _, tc := range []struct {
		limit uint64
		want  int
	}{{0, 0}, {1, 1}, {3, 3}, {5, 5}, {6, 5}, {1 << 63, 5}, {^uint64(0), 5}} {
		resp, err := svc.SetSample(ctx, &cachepb.XSetSampleRequest{SetName: []byte("five"), Limit: tc.limit})
		if err != nil {
			t.Fatalf("SetSample(five, %d) = %v, want nil", tc.limit, err)
		}
		resp = setWireTrip(t, resp)
		// Limit 0 is a hit with no members: found must survive the wire.
		if resp.GetFound() == nil {
			t.Fatalf("SetSample(five, %d) = %v, want found", tc.limit, resp)
		}
		got := setSorted(resp.GetFound().GetElements())
		if len(got) != tc.want || len(slices.Compact(slices.Clone(got))) != tc.want {
			t.Errorf("SetSample(five, %d) = %q, want %d distinct members", tc.limit, got, tc.want)
		}
		for _, m := range got {
			if !slices.Contains(members, m) {
				t.Errorf("SetSample(five, %d) returned %q, not a member", tc.limit, m)
			}
		}
	}
	resp, err := svc.SetSample(ctx, &cachepb.XSetSampleRequest{SetName: []byte("none"), Limit: 3})
	if err != nil || resp.GetMissing() == nil {
		t.Errorf("SetSample(none, 3) = %v, %v; want missing", resp, err)
	}
	if got := setFetchAll(t, svc, ctx, "five"); !slices.Equal(got, members) {
		t.Errorf("SetFetch(five) after sampling = %q, want %q", got, members)
	}
}

func TestSetCollectionPop(t *testing.T) {
	svc, ctx := newSetService(t)
	members := []string{"a", "b", "c", "d", "e"}
	for _, tc := range []struct {
		name  string
		count uint32
		want  int
		rest  int // members left; 0: the set is missing afterwards
	}{
		{"Zero", 0, 0, 5},
		{"Fewer", 2, 2, 3},
		{"All", 5, 5, 0},
		{"More", 6, 5, 0},
		{"Max", ^uint32(0), 5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setMustUnion(t, svc, ctx, tc.name, members...)
			resp, err := svc.SetPop(ctx, &cachepb.XSetPopRequest{SetName: []byte(tc.name), Count: tc.count})
			if err != nil {
				t.Fatalf("SetPop(%s, %d) = %v, want nil", tc.name, tc.count, err)
			}
			resp = setWireTrip(t, resp)
			if resp.GetFound() == nil {
				t.Fatalf("SetPop(%s, %d) = %v, want found", tc.name, tc.count, resp)
			}
			popped := setSorted(resp.GetFound().GetElements())
			if len(popped) != tc.want {
				t.Errorf("SetPop(%s, %d) = %q, want %d members", tc.name, tc.count, popped, tc.want)
			}
			rest := setFetchAll(t, svc, ctx, tc.name)
			if len(rest) != tc.rest || (tc.rest == 0) != (rest == nil) {
				t.Errorf("SetFetch(%s) after SetPop(%d) = %q, want %d members", tc.name, tc.count, rest, tc.rest)
			}
			if all := append(slices.Clone(popped), rest...); !slices.Equal(setSorted(byteSlices(all...)), members) {
				t.Errorf("SetPop(%s, %d) popped %q and left %q, want them to make up %q", tc.name, tc.count, popped, rest, members)
			}
		})
	}
	resp, err := svc.SetPop(ctx, &cachepb.XSetPopRequest{SetName: []byte("All"), Count: 1})
	if err != nil || resp.GetMissing() == nil {
		t.Errorf("SetPop(emptied, 1) = %v, %v; want missing", resp, err)
	}
}

func TestSetCollectionDifference(t *testing.T) {
	svc, ctx := newSetService(t)
	subtrahend := func(members ...string) *cachepb.XSetDifferenceRequest_Subtrahend {
		return &cachepb.XSetDifferenceRequest_Subtrahend{Subtrahend: &cachepb.XSetDifferenceRequest_XSubtrahend{
			SubtrahendSet: &cachepb.XSetDifferenceRequest_XSubtrahend_Set{Set: &cachepb.XSetDifferenceRequest_XSubtrahend_XSet{Elements: byteSlices(members...)}},
		}}
	}
	identity := &cachepb.XSetDifferenceRequest_Subtrahend{Subtrahend: &cachepb.XSetDifferenceRequest_XSubtrahend{
		SubtrahendSet: &cachepb.XSetDifferenceRequest_XSubtrahend_Identity{Identity: &cachepb.XSetDifferenceRequest_XSubtrahend_XIdentity{}},
	}}
	minuend := func(members ...string) *cachepb.XSetDifferenceRequest_Minuend {
		return &cachepb.XSetDifferenceRequest_Minuend{Minuend: &cachepb.XSetDifferenceRequest_XMinuend{Elements: byteSlices(members...)}}
	}
	tests := []struct {
		name      string
		initial   []string // nil: the set is missing
		diff      any
		wantFound bool
		want      []string // nil: missing afterwards
	}{
		{"Remove", []string{"a", "b", "c"}, subtrahend("a", "z"), true, []string{"b", "c"}},
		{"RemoveNothing", []string{"a"}, subtrahend(), true, []string{"a"}},
		{"RemoveLast", []string{"a", "b"}, subtrahend("b", "a"), true, nil},
		{"RemoveFromMissing", nil, subtrahend("a"), false, nil},
		{"Identity", []string{"a", "b"}, identity, true, nil},
		{"IdentityOfMissing", nil, identity, false, nil},
		{"Minuend", []string{"a", "b"}, minuend("b", "c"), true, []string{"c"}},
		{"MinuendSubset", []string{"a", "b"}, minuend("a"), true, nil},
		{"MinuendOfMissing", nil, minuend("a"), false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.initial != nil {
				setMustUnion(t, svc, ctx, tc.name, tc.initial...)
			}
			req := &cachepb.XSetDifferenceRequest{SetName: []byte(tc.name)}
			switch d := tc.diff.(type) {
			case *cachepb.XSetDifferenceRequest_Subtrahend:
				req.Difference = d
			case *cachepb.XSetDifferenceRequest_Minuend:
				req.Difference = d
			}
			resp, err := svc.SetDifference(ctx, req)
			if err != nil {
				t.Fatalf("SetDifference(%s) = %v, want nil", tc.name, err)
			}
			resp = setWireTrip(t, resp)
			if found := resp.GetFound() != nil; found != tc.wantFound || (!found && resp.GetMissing() == nil) {
				t.Errorf("SetDifference(%s) = %v, want found %v", tc.name, resp, tc.wantFound)
			}
			if got := setFetchAll(t, svc, ctx, tc.name); !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
				t.Errorf("SetFetch(%s) after SetDifference = %q, want %q", tc.name, got, tc.want)
			}
		})
	}
}

func TestSetCollectionContainsAndLength(t *testing.T) {
	svc, ctx := newSetService(t)
	setMustUnion(t, svc, ctx, "abc", "a", "b", "c")
	for _, tc := range []struct {
		elements []string
		want     []bool
	}{
		{[]string{"a"}, []bool{true}},
		{[]string{"z"}, []bool{false}},
		{[]string{"c", "z", "a", "a"}, []bool{true, false, true, true}},
		{nil, nil},
	} {
		resp, err := svc.SetContains(ctx, &cachepb.XSetContainsRequest{SetName: []byte("abc"), Elements: byteSlices(tc.elements...)})
		if err != nil {
			t.Fatalf("SetContains(abc, %q) = %v, want nil", tc.elements, err)
		}
		resp = setWireTrip(t, resp)
		if resp.GetFound() == nil || !slices.Equal(resp.GetFound().GetContains(), tc.want) {
			t.Errorf("SetContains(abc, %q) = %v, want found %v", tc.elements, resp, tc.want)
		}
	}
	resp, err := svc.SetContains(ctx, &cachepb.XSetContainsRequest{SetName: []byte("none"), Elements: byteSlices("a")})
	if err != nil || resp.GetMissing() == nil {
		t.Errorf("SetContains(none) = %v, %v; want missing", resp, err)
	}

	length, err := svc.SetLength(ctx, &cachepb.XSetLengthRequest{SetName: []byte("abc")})
	if err != nil || length.GetFound().GetLength() != 3 {
		t.Errorf("SetLength(abc) = %v, %v; want found 3", length, err)
	}
	length, err = svc.SetLength(ctx, &cachepb.XSetLengthRequest{SetName: []byte("none")})
	if err != nil || length.GetMissing() == nil {
		t.Errorf("SetLength(none) = %v, %v; want missing", length, err)
	}
}

func TestSetCollectionTTL(t *testing.T) {
	st := memory.New(memory.Config{})
	t.Cleanup(func() { st.Close() })
	if err := st.CreateCache(t.Context(), "c"); err != nil {
		t.Fatal(err)
	}
	svc := grpcsvc.NewCacheService(st, store.Limits{})
	ctx := metadata.NewIncomingContext(t.Context(), metadata.Pairs(grpcsvc.CacheHeader, "c"))
	remaining := func(name string) time.Duration {
		t.Helper()
		d, found, err := st.ItemTTL(t.Context(), "c", []byte(name))
		if err != nil || !found {
			t.Fatalf("ItemTTL(%s) = %v, %v, %v; want found", name, d, found, err)
		}
		return d
	}
	union := func(name string, ttlMillis uint64, refresh bool, members ...string) {
		t.Helper()
		req := &cachepb.XSetUnionRequest{SetName: []byte(name), Elements: byteSlices(members...), TtlMilliseconds: ttlMillis, RefreshTtl: refresh}
		if _, err := svc.SetUnion(ctx, req); err != nil {
			t.Fatalf("SetUnion(%s, ttl %d, refresh %v) = %v, want nil", name, ttlMillis, refresh, err)
		}
	}
	// Creation takes the TTL whatever refresh_ttl says.
	union("created", 60_000, false, "a")
	if d := remaining("created"); d <= 50*time.Second || d > time.Minute {
		t.Errorf("ItemTTL(created) = %v, want about 1m", d)
	}
	// Refresh applies even when nothing is new.
	union("created", 3_600_000, true, "a")
	if d := remaining("created"); d <= time.Minute {
		t.Errorf("ItemTTL(created) after a refreshing union of a present member = %v, want about 1h", d)
	}
	// No refresh keeps the expiry.
	union("created", 7_200_000, false, "b")
	if d := remaining("created"); d > time.Hour {
		t.Errorf("ItemTTL(created) after a union without refresh = %v, want at most 1h", d)
	}
}

func TestSetCollectionErrors(t *testing.T) {
	svc, ctx := newSetService(t)
	setMustUnion(t, svc, ctx, "s", "a")
	otherCache := metadata.NewIncomingContext(t.Context(), metadata.Pairs(grpcsvc.CacheHeader, "nope"))
	noCache := metadata.NewIncomingContext(t.Context(), metadata.MD{})
	tooBig := strings.Repeat("x", setMaxItemSize)
	onScalar := []byte("scalar")
	tests := []struct {
		name     string
		call     func() error
		want     codes.Code
		contains string
	}{
		{"UnknownCache", func() error {
			_, err := svc.SetFetch(otherCache, &cachepb.XSetFetchRequest{SetName: []byte("s")})
			return err
		}, codes.NotFound, ""},
		{"NoCacheHeader", func() error {
			_, err := svc.SetLength(noCache, &cachepb.XSetLengthRequest{SetName: []byte("s")})
			return err
		}, codes.InvalidArgument, ""},
		{"EmptyName", func() error {
			_, err := svc.SetFetch(ctx, &cachepb.XSetFetchRequest{})
			return err
		}, codes.InvalidArgument, ""},
		{"ZeroTTL", func() error {
			_, err := svc.SetUnion(ctx, &cachepb.XSetUnionRequest{SetName: []byte("s"), Elements: byteSlices("b")})
			return err
		}, codes.InvalidArgument, ""},
		{"TTLAboveMax", func() error {
			_, err := svc.SetUnion(ctx, &cachepb.XSetUnionRequest{SetName: []byte("s"), Elements: byteSlices("b"), TtlMilliseconds: uint64(store.DefaultMaxTTL/time.Millisecond) + 1})
			return err
		}, codes.InvalidArgument, ""},
		{"DifferenceWithoutKind", func() error {
			_, err := svc.SetDifference(ctx, &cachepb.XSetDifferenceRequest{SetName: []byte("s")})
			return err
		}, codes.InvalidArgument, ""},
		{"SubtrahendWithoutKind", func() error {
			_, err := svc.SetDifference(ctx, &cachepb.XSetDifferenceRequest{SetName: []byte("s"), Difference: &cachepb.XSetDifferenceRequest_Subtrahend{Subtrahend: &cachepb.XSetDifferenceRequest_XSubtrahend{}}})
			return err
		}, codes.InvalidArgument, ""},
		{"UnionOnScalar", func() error {
			_, err := svc.SetUnion(ctx, &cachepb.XSetUnionRequest{SetName: onScalar, Elements: byteSlices("b"), TtlMilliseconds: setTTL})
			return err
		}, codes.FailedPrecondition, ""},
		{"FetchOnScalar", func() error {
			_, err := svc.SetFetch(ctx, &cachepb.XSetFetchRequest{SetName: onScalar})
			return err
		}, codes.FailedPrecondition, ""},
		{"SampleOnScalar", func() error {
			_, err := svc.SetSample(ctx, &cachepb.XSetSampleRequest{SetName: onScalar, Limit: 1})
			return err
		}, codes.FailedPrecondition, ""},
		{"DifferenceOnScalar", func() error {
			_, err := svc.SetDifference(ctx, &cachepb.XSetDifferenceRequest{SetName: onScalar, Difference: &cachepb.XSetDifferenceRequest_Subtrahend{Subtrahend: &cachepb.XSetDifferenceRequest_XSubtrahend{
				SubtrahendSet: &cachepb.XSetDifferenceRequest_XSubtrahend_Identity{Identity: &cachepb.XSetDifferenceRequest_XSubtrahend_XIdentity{}},
			}}})
			return err
		}, codes.FailedPrecondition, ""},
		{"ContainsOnScalar", func() error {
			_, err := svc.SetContains(ctx, &cachepb.XSetContainsRequest{SetName: onScalar, Elements: byteSlices("a")})
			return err
		}, codes.FailedPrecondition, ""},
		{"LengthOnScalar", func() error {
			_, err := svc.SetLength(ctx, &cachepb.XSetLengthRequest{SetName: onScalar})
			return err
		}, codes.FailedPrecondition, ""},
		{"PopOnScalar", func() error {
			_, err := svc.SetPop(ctx, &cachepb.XSetPopRequest{SetName: onScalar, Count: 1})
			return err
		}, codes.FailedPrecondition, ""},
		{"UnionTooLarge", func() error {
			_, err := svc.SetUnion(ctx, &cachepb.XSetUnionRequest{SetName: []byte("s"), Elements: byteSlices(tooBig), TtlMilliseconds: setTTL})
			return err
		}, codes.ResourceExhausted, "item size"},
		{"NewSetTooLarge", func() error {
			_, err := svc.SetUnion(ctx, &cachepb.XSetUnionRequest{SetName: []byte("new"), Elements: byteSlices(tooBig[:40], tooBig[:39]+"y"), TtlMilliseconds: setTTL})
			return err
		}, codes.ResourceExhausted, "item size"},
		{"MinuendTooLarge", func() error {
			_, err := svc.SetDifference(ctx, &cachepb.XSetDifferenceRequest{SetName: []byte("s"), Difference: &cachepb.XSetDifferenceRequest_Minuend{Minuend: &cachepb.XSetDifferenceRequest_XMinuend{Elements: byteSlices("a", tooBig)}}})
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
	if got, want := setFetchAll(t, svc, ctx, "s"), []string{"a"}; !slices.Equal(got, want) {
		t.Errorf("SetFetch(s) after the errors = %q, want %q", got, want)
	}
	if got := setFetchAll(t, svc, ctx, "new"); got != nil {
		t.Errorf("SetFetch(new) after a refused union = %q, want missing", got)
	}
}
