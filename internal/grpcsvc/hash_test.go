package grpcsvc_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/api/commonpb"
	"github.com/thaw-dev/thaw/internal/grpcsvc"
	"github.com/thaw-dev/thaw/internal/store"
	"github.com/thaw-dev/thaw/internal/store/memory"
)

// serveCache starts the data-plane service over a new memory store holding
// cache "c" on a loopback port, behind the request-size interceptors, and
// returns a client and the store.
func serveCache(t *testing.T, limits store.Limits) (cachepb.ScsClient, *memory.Store) {
	t.Helper()
	st := memory.New(memory.Config{})
	t.Cleanup(func() { st.Close() })
	if err := st.CreateCache(context.Background(), "c"); err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.UnaryInterceptor(grpcsvc.RequestSizeUnaryInterceptor(limits)),
		grpc.StreamInterceptor(grpcsvc.RequestSizeStreamInterceptor(limits)),
	)
	cachepb.RegisterScsServer(srv, grpcsvc.NewCacheService(st, limits))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return cachepb.NewScsClient(conn), st
}

// inCache returns a context whose calls name cache "c", as the SDKs do.
func inCache(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, grpcsvc.CacheHeader, "c")
}

func TestHashIsHexSHA256(t *testing.T) {
	tests := []struct {
		value []byte
		want  string
	}{
		{nil, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{[]byte{}, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{[]byte("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	}
	for _, tt := range tests {
		if got := store.Hash(tt.value); string(got) != tt.want || len(got) != store.HashSize {
			t.Errorf("Hash(%q) = %q, want %q", tt.value, got, tt.want)
		}
	}
}

// hashCondition is one arm of SetIfHash's condition oneof.
type hashCondition struct {
	name string
	set  func(req *cachepb.XSetIfHashRequest, hash []byte)
}

var hashConditions = []hashCondition{
	{"present_and_hash_equal", func(r *cachepb.XSetIfHashRequest, h []byte) {
		r.Condition = &cachepb.XSetIfHashRequest_PresentAndHashEqual{PresentAndHashEqual: &commonpb.PresentAndHashEqual{HashToCheck: h}}
	}},
	{"present_and_not_hash_equal", func(r *cachepb.XSetIfHashRequest, h []byte) {
		r.Condition = &cachepb.XSetIfHashRequest_PresentAndNotHashEqual{PresentAndNotHashEqual: &commonpb.PresentAndNotHashEqual{HashToCheck: h}}
	}},
	{"absent_or_hash_equal", func(r *cachepb.XSetIfHashRequest, h []byte) {
		r.Condition = &cachepb.XSetIfHashRequest_AbsentOrHashEqual{AbsentOrHashEqual: &commonpb.AbsentOrHashEqual{HashToCheck: h}}
	}},
	{"absent_or_not_hash_equal", func(r *cachepb.XSetIfHashRequest, h []byte) {
		r.Condition = &cachepb.XSetIfHashRequest_AbsentOrNotHashEqual{AbsentOrNotHashEqual: &commonpb.AbsentOrNotHashEqual{HashToCheck: h}}
	}},
	{"unconditional", func(r *cachepb.XSetIfHashRequest, _ []byte) {
		r.Condition = &cachepb.XSetIfHashRequest_Unconditional{Unconditional: &commonpb.Unconditional{}}
	}},
}

// Indexes into hashConditions.
const (
	presentAndHashEqual = iota
	presentAndNotHashEqual
	absentOrHashEqual
	absentOrNotHashEqual
	unconditional
)

// request builds a SetIfHash of value under key, with a TTL of 600 s and
// the condition cond on hash.
func request(key, value []byte, cond hashCondition, hash []byte) *cachepb.XSetIfHashRequest {
	req := &cachepb.XSetIfHashRequest{CacheKey: key, CacheBody: value, TtlMilliseconds: 600_000}
	cond.set(req, hash)
	return req
}

// TestSetIfHash runs every condition against every state of the key: what
// it stores, the hash it answers, what GetWithHash sees afterwards.
func TestSetIfHash(t *testing.T) {
	client, st := serveCache(t, store.Limits{})
	comparand := []byte("cmp")
	states := []struct {
		name    string
		current []byte // nil: missing
	}{
		{"missing", nil},
		{"hash equal", comparand},
		{"hash not equal", []byte("other")},
		{"empty value", []byte{}},
	}
	// want[condition][state]: whether SetIfHash stores, hashing comparand.
	want := map[string][4]bool{
		"present_and_hash_equal":     {false, true, false, false},
		"present_and_not_hash_equal": {false, false, true, true},
		"absent_or_hash_equal":       {true, true, false, false},
		"absent_or_not_hash_equal":   {true, false, true, true},
		"unconditional":              {true, true, true, true},
	}
	for _, cond := range hashConditions {
		for i, state := range states {
			t.Run(cond.name+"/"+state.name, func(t *testing.T) {
				ctx := inCache(t)
				key := []byte(cond.name + "/" + state.name)
				if state.current != nil {
					if err := st.Set(ctx, "c", key, state.current, time.Hour); err != nil {
						t.Fatal(err)
					}
				}
				newValue := []byte("new value of " + string(key))
				resp, err := client.SetIfHash(ctx, request(key, newValue, cond, store.Hash(comparand)))
				if err != nil {
					t.Fatalf("SetIfHash(%s) on %s = %v, want success", cond.name, state.name, err)
				}
				if stored := resp.GetStored() != nil; stored != want[cond.name][i] {
					t.Fatalf("SetIfHash(%s) on %s = %v, want stored %v", cond.name, state.name, resp, want[cond.name][i])
				}
				wantValue := state.current
				if resp.GetStored() != nil {
					wantValue = newValue
					if got := resp.GetStored().GetNewHash(); !bytes.Equal(got, store.Hash(newValue)) {
						t.Errorf("SetIfHash new_hash = %q, want %q", got, store.Hash(newValue))
					}
				} else if resp.GetNotStored() == nil {
					t.Fatalf("SetIfHash = %v, want stored or not_stored", resp)
				}
				got, err := client.GetWithHash(ctx, &cachepb.XGetWithHashRequest{CacheKey: key})
				switch {
				case err != nil:
					t.Fatalf("GetWithHash = %v, want success", err)
				case wantValue == nil:
					if got.GetMissing() == nil {
						t.Errorf("GetWithHash = %v, want missing", got)
					}
				case !bytes.Equal(got.GetFound().GetValue(), wantValue) || !bytes.Equal(got.GetFound().GetHash(), store.Hash(wantValue)):
					t.Errorf("GetWithHash = %v, want %q with hash %q", got, wantValue, store.Hash(wantValue))
				}
			})
		}
	}
}

// TestSetIfHashRoundTrip follows the SDKs' tests: the hash a write returns
// is the one GetWithHash returns and the one a conditional write matches;
// another value has another hash; the TTL is the request's.
func TestSetIfHashRoundTrip(t *testing.T) {
	client, st := serveCache(t, store.Limits{})
	ctx := inCache(t)
	key := []byte("k")
	first, err := client.SetIfHash(ctx, request(key, []byte("v1"), hashConditions[unconditional], nil))
	if err != nil || first.GetStored() == nil {
		t.Fatalf("SetIfHash(unconditional v1) = %v, %v; want stored", first, err)
	}
	h1 := first.GetStored().GetNewHash()
	if _, err := hex.DecodeString(string(h1)); err != nil || len(h1) != store.HashSize {
		t.Errorf("new_hash %q is not %d hex digits", h1, store.HashSize)
	}
	got, err := client.GetWithHash(ctx, &cachepb.XGetWithHashRequest{CacheKey: key})
	if err != nil || !bytes.Equal(got.GetFound().GetHash(), h1) {
		t.Fatalf("GetWithHash = %v, %v; want hash %q", got, err, h1)
	}
	second, err := client.SetIfHash(ctx, request(key, []byte("v2"), hashConditions[presentAndHashEqual], h1))
	if err != nil || second.GetStored() == nil {
		t.Fatalf("SetIfHash(present_and_hash_equal %q) = %v, %v; want stored", h1, second, err)
	}
	if h2 := second.GetStored().GetNewHash(); bytes.Equal(h2, h1) {
		t.Errorf("hashes of v1 and v2 are both %q, want different", h1)
	}
	// The old hash no longer matches.
	stale, err := client.SetIfHash(ctx, request(key, []byte("v3"), hashConditions[presentAndHashEqual], h1))
	if err != nil || stale.GetNotStored() == nil {
		t.Errorf("SetIfHash(present_and_hash_equal stale hash) = %v, %v; want not_stored", stale, err)
	}
	// Arbitrary bytes are a hash like any other, compared bytewise.
	arbitrary, err := client.SetIfHash(ctx, request(key, []byte("v4"), hashConditions[presentAndNotHashEqual], []byte("some-hash-value")))
	if err != nil || arbitrary.GetStored() == nil {
		t.Errorf("SetIfHash(present_and_not_hash_equal \"some-hash-value\") = %v, %v; want stored", arbitrary, err)
	}
	if remaining, _, _ := st.ItemTTL(ctx, "c", key); remaining <= 590*time.Second || remaining > 600*time.Second {
		t.Errorf("ItemTTL after SetIfHash with 600 s = %v, want just under 600 s", remaining)
	}
	// A plain Set changes the hash too: it is computed from the value.
	if err := st.Set(ctx, "c", key, []byte("plain"), time.Hour); err != nil {
		t.Fatal(err)
	}
	got, err = client.GetWithHash(ctx, &cachepb.XGetWithHashRequest{CacheKey: key})
	if err != nil || !bytes.Equal(got.GetFound().GetHash(), store.Hash([]byte("plain"))) {
		t.Errorf("GetWithHash after Set = %v, %v; want the hash of %q", got, err, "plain")
	}
}

// TestHashCallErrors checks what the hash RPCs refuse, and that only the
// hash conditions, not the unconditional write, refuse a collection.
func TestHashCallErrors(t *testing.T) {
	client, st := serveCache(t, store.Limits{MaxItemSize: 100})
	ctx := inCache(t)
	collection := []byte("a set")
	if err := st.SetUnion(ctx, "c", collection, [][]byte{[]byte("member")}, store.CollectionWrite{TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"SetIfHash without a condition", func() error {
			_, err := client.SetIfHash(ctx, &cachepb.XSetIfHashRequest{CacheKey: []byte("k"), CacheBody: []byte("v"), TtlMilliseconds: 1000})
			return err
		}, codes.InvalidArgument},
		{"SetIfHash without a TTL", func() error {
			req := request([]byte("k"), []byte("v"), hashConditions[absentOrHashEqual], nil)
			req.TtlMilliseconds = 0
			_, err := client.SetIfHash(ctx, req)
			return err
		}, codes.InvalidArgument},
		{"SetIfHash with an empty key", func() error {
			_, err := client.SetIfHash(ctx, request(nil, []byte("v"), hashConditions[absentOrHashEqual], nil))
			return err
		}, codes.InvalidArgument},
		{"SetIfHash of an item over the size limit", func() error {
			_, err := client.SetIfHash(ctx, request([]byte("k"), make([]byte, 100), hashConditions[absentOrHashEqual], nil))
			return err
		}, codes.ResourceExhausted},
		{"SetIfHash in a missing cache", func() error {
			ctx := metadata.AppendToOutgoingContext(context.Background(), grpcsvc.CacheHeader, "nope")
			_, err := client.SetIfHash(ctx, request([]byte("k"), []byte("v"), hashConditions[absentOrHashEqual], nil))
			return err
		}, codes.NotFound},
		{"GetWithHash of a missing key", func() error {
			resp, err := client.GetWithHash(ctx, &cachepb.XGetWithHashRequest{CacheKey: []byte("missing")})
			if err == nil && resp.GetMissing() == nil {
				return status.Errorf(codes.Unknown, "GetWithHash = %v, want missing", resp)
			}
			return err
		}, codes.OK},
		{"GetWithHash of a collection", func() error {
			_, err := client.GetWithHash(ctx, &cachepb.XGetWithHashRequest{CacheKey: collection})
			return err
		}, codes.FailedPrecondition},
		{"GetWithHash in a missing cache", func() error {
			ctx := metadata.AppendToOutgoingContext(context.Background(), grpcsvc.CacheHeader, "nope")
			_, err := client.GetWithHash(ctx, &cachepb.XGetWithHashRequest{CacheKey: []byte("k")})
			return err
		}, codes.NotFound},
	}
	for _, cond := range hashConditions[:unconditional] {
		tests = append(tests, struct {
			name string
			call func() error
			want codes.Code
		}{"SetIfHash " + cond.name + " on a collection", func() error {
			_, err := client.SetIfHash(ctx, request(collection, []byte("v"), cond, store.Hash([]byte("member"))))
			return err
		}, codes.FailedPrecondition})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); status.Code(err) != tt.want {
				t.Errorf("%s = %v, want %v", tt.name, err, tt.want)
			}
		})
	}

	// The unconditional write, like Set, replaces the collection.
	resp, err := client.SetIfHash(ctx, request(collection, []byte("v"), hashConditions[unconditional], nil))
	if err != nil || resp.GetStored() == nil {
		t.Fatalf("SetIfHash(unconditional) on a collection = %v, %v; want stored", resp, err)
	}
	if typ, _, _ := st.ItemType(ctx, "c", collection); typ != store.ItemScalar {
		t.Errorf("ItemType after SetIfHash(unconditional) = %v, want a scalar", typ)
	}
}
