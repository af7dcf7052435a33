package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/api/commonpb"
	"github.com/thaw-dev/thaw/api/controlpb"
	"github.com/thaw-dev/thaw/internal/auth"
	"github.com/thaw-dev/thaw/internal/auth/authtest"
	"github.com/thaw-dev/thaw/internal/grpcsvc"
	"github.com/thaw-dev/thaw/internal/store"
	"github.com/thaw-dev/thaw/server"
)

// sizeErrors are the "err" trailers of the two size limits, with the words
// the Node SDK looks for in the message of each.
var sizeErrors = map[string]string{
	"item_size_limit_exceeded":    "item size",
	"request_size_limit_exceeded": "request limit",
}

// checkSizeError fails t unless err is success when cause is "", or else
// RESOURCE_EXHAUSTED with the trailer cause and the message words of cause.
func checkSizeError(t *testing.T, call string, err error, trailer metadata.MD, cause string) {
	t.Helper()
	if cause == "" {
		if err != nil {
			t.Errorf("%s = %v, want success", call, err)
		}
		return
	}
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("%s = %v, want RESOURCE_EXHAUSTED", call, err)
	}
	if got := trailer.Get("err"); !slices.Equal(got, []string{cause}) {
		t.Errorf("%s: trailer err = %q, want [%s]", call, got, cause)
	}
	if msg := strings.ToLower(status.Convert(err).Message()); !strings.Contains(msg, sizeErrors[cause]) {
		t.Errorf("%s: message %q lacks %q", call, msg, sizeErrors[cause])
	}
}

// TestRequestSizeLimit checks the two size limits over the wire: an item
// over the item size limit is "item size", a request over the request limit
// is the service's "request limit" error, also far below gRPC's transport
// bound and for RPCs whose handler would refuse the request otherwise.
func TestRequestSizeLimit(t *testing.T) {
	srv := startServer(t, server.Config{CreateCaches: []string{"c"}})
	c := dial(t, srv.Addr())
	key47 := bytes.Repeat([]byte("k"), 47)
	set := func(key []byte, size int) func(context.Context, ...grpc.CallOption) error {
		return func(ctx context.Context, opts ...grpc.CallOption) error {
			_, err := c.cache.Set(ctx, &cachepb.XSetRequest{CacheKey: key, CacheBody: make([]byte, size), TtlMilliseconds: 60_000}, opts...)
			return err
		}
	}
	tests := []struct {
		name  string
		call  func(context.Context, ...grpc.CallOption) error
		cause string // "" for success
	}{
		// The SDKs' large-messages tests: 5,000,000 bytes are stored,
		// 5,300,000 bytes are "Request size limit exceeded".
		{"Set of 5,000,000 bytes with a 47-byte key", set(key47, 5_000_000), ""},
		{"Set of 5,300,000 bytes", set(key47, 5_300_000), "request_size_limit_exceeded"},
		{"Set of exactly the item size limit", set([]byte("k"), store.DefaultMaxItemSize-1), ""},
		{"Set one byte over the item size limit", set([]byte("k"), store.DefaultMaxItemSize), "item_size_limit_exceeded"},
		{"Set of 12 MiB, above the Node SDK's message cap", set([]byte("k"), 12<<20), "request_size_limit_exceeded"},
		{"SetIf whose comparand doubles the request", func(ctx context.Context, opts ...grpc.CallOption) error {
			_, err := c.cache.SetIf(ctx, &cachepb.XSetIfRequest{CacheKey: []byte("k"), CacheBody: make([]byte, 3_000_000), TtlMilliseconds: 60_000,
				Condition: &cachepb.XSetIfRequest_Equal{Equal: &commonpb.Equal{ValueToCheck: make([]byte, 3_000_000)}}}, opts...)
			return err
		}, "request_size_limit_exceeded"},
		{"SetIfHash over the request limit", func(ctx context.Context, opts ...grpc.CallOption) error {
			_, err := c.cache.SetIfHash(ctx, &cachepb.XSetIfHashRequest{CacheKey: []byte("k"), CacheBody: make([]byte, 5_300_000), TtlMilliseconds: 60_000,
				Condition: &cachepb.XSetIfHashRequest_Unconditional{Unconditional: &commonpb.Unconditional{}}}, opts...)
			return err
		}, "request_size_limit_exceeded"},
		{"DictionarySet over the request limit", func(ctx context.Context, opts ...grpc.CallOption) error {
			items := make([]*cachepb.XDictionaryFieldValuePair, 6)
			for i := range items {
				items[i] = &cachepb.XDictionaryFieldValuePair{Field: fmt.Appendf(nil, "f%d", i), Value: make([]byte, 1_000_000)}
			}
			_, err := c.cache.DictionarySet(ctx, &cachepb.XDictionarySetRequest{DictionaryName: []byte("d"), Items: items, TtlMilliseconds: 60_000, RefreshTtl: true}, opts...)
			return err
		}, "request_size_limit_exceeded"},
		{"Get after the refusals", func(ctx context.Context, opts ...grpc.CallOption) error {
			_, err := c.cache.Get(ctx, &cachepb.XGetRequest{CacheKey: key47}, opts...)
			return err
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var trailer metadata.MD
			err := tt.call(inCache(t, "c"), grpc.Trailer(&trailer))
			checkSizeError(t, tt.name, err, trailer, tt.cause)
		})
	}
}

// TestRequestSizeLimitOfBatches checks that a batch counts item by item: the
// SDKs send batches up to their message cap, above the request limit.
func TestRequestSizeLimitOfBatches(t *testing.T) {
	srv := startServer(t, server.Config{CreateCaches: []string{"c"}})
	c := dial(t, srv.Addr())
	item := func(key string, size int) *cachepb.XSetRequest {
		return &cachepb.XSetRequest{CacheKey: []byte(key), CacheBody: make([]byte, size), TtlMilliseconds: 60_000}
	}
	tests := []struct {
		name  string
		items []*cachepb.XSetRequest
		cause string
	}{
		{"three 3 MiB items, 9 MiB in all", []*cachepb.XSetRequest{item("a", 3<<20), item("b", 3<<20), item("c", 3<<20)}, ""},
		{"an item over the request limit", []*cachepb.XSetRequest{item("a", 10), item("b", 5_300_000)}, "request_size_limit_exceeded"},
		{"an item over the item size limit", []*cachepb.XSetRequest{item("a", store.DefaultMaxItemSize)}, "item_size_limit_exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream, err := c.cache.SetBatch(inCache(t, "c"), &cachepb.XSetBatchRequest{Items: tt.items})
			if err != nil {
				t.Fatalf("SetBatch: %v", err)
			}
			for err == nil {
				_, err = stream.Recv()
			}
			if err == io.EOF {
				err = nil
			}
			checkSizeError(t, "SetBatch", err, stream.Trailer(), tt.cause)
		})
	}
}

// TestTransportFollowsLargerLimits checks that limits above the default
// raise the transport's bound with them, so that the request limit, not
// gRPC, still decides.
func TestTransportFollowsLargerLimits(t *testing.T) {
	const maxItem = 17 << 20 // above MaxMessageSize
	srv := startServer(t, server.Config{CreateCaches: []string{"c"}, Limits: store.Limits{MaxItemSize: maxItem}})
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	client := cachepb.NewScsClient(conn)
	tests := []struct {
		name  string
		size  int
		cause string
	}{
		{"an item of the larger limit", maxItem - 1, ""},
		{"a request over the larger limit", maxItem + 2*store.RequestOverhead, "request_size_limit_exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var trailer metadata.MD
			_, err := client.Set(inCache(t, "c"), &cachepb.XSetRequest{CacheKey: []byte("k"), CacheBody: make([]byte, tt.size), TtlMilliseconds: 60_000}, grpc.Trailer(&trailer))
			checkSizeError(t, fmt.Sprintf("Set(%d bytes)", tt.size), err, trailer, tt.cause)
		})
	}
	got, err := client.Get(inCache(t, "c"), &cachepb.XGetRequest{CacheKey: []byte("k")})
	if err != nil || len(got.GetCacheBody()) != maxItem-1 {
		t.Errorf("Get(k) = %d bytes, %v; want the %d bytes stored", len(got.GetCacheBody()), err, maxItem-1)
	}
}

// listCaches calls ListCaches with token and returns the names and the next token.
func listCaches(t *testing.T, ctx context.Context, c clients, token string) ([]string, string) {
	t.Helper()
	var req controlpb.XListCachesRequest
	if token != "" {
		req.NextToken = proto.String(token)
	}
	resp, err := c.control.ListCaches(ctx, &req)
	if err != nil {
		t.Fatalf("ListCaches(%q) = %v, want success", token, err)
	}
	var names []string
	for _, cache := range resp.GetCache() {
		names = append(names, cache.GetCacheName())
	}
	return names, resp.GetNextToken()
}

// TestListCachesLimits checks the per-cache limits ListCaches reports
// against the values the SDKs' integration tests expect of the service.
func TestListCachesLimits(t *testing.T) {
	tests := []struct {
		name     string
		limits   store.Limits
		wantItem uint32
		wantTTL  uint64
	}{
		{"defaults, as the service", store.Limits{}, 4883, 86400},
		{"configured limits", store.Limits{MaxItemSize: 1000 * 1000, MaxTTL: time.Hour}, 976, 3600},
		{"an item size below 1 KiB", store.Limits{MaxItemSize: 1000}, 0, 86400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, server.Config{CreateCaches: []string{"c"}, Limits: tt.limits})
			resp, err := dial(t, srv.Addr()).control.ListCaches(context.Background(), &controlpb.XListCachesRequest{})
			if err != nil || len(resp.GetCache()) != 1 {
				t.Fatalf("ListCaches = %v, %v; want one cache", resp, err)
			}
			want := &controlpb.XCache{
				CacheName: proto.String("c"),
				CacheLimits: &controlpb.XCacheLimits{
					MaxTrafficRate:    proto.Uint32(500),
					MaxThroughputKbps: proto.Uint32(10240),
					MaxItemSizeKb:     proto.Uint32(tt.wantItem),
					MaxTtlSeconds:     proto.Uint64(tt.wantTTL),
				},
				TopicLimits: &controlpb.XTopicLimits{
					MaxPublishRate:          proto.Uint32(100),
					MaxSubscriptionCount:    proto.Uint32(100),
					MaxPublishMessageSizeKb: proto.Uint32(100),
				},
			}
			if got := resp.GetCache()[0]; !proto.Equal(got, want) {
				t.Errorf("ListCaches()[0] = %v, want %v", got, want)
			}
		})
	}
}

// TestListCachesPages lists more caches than a page holds, with and without
// a key that may see only some of them, and refuses tokens it never issued.
func TestListCachesPages(t *testing.T) {
	const total = 2*grpcsvc.ListCachesPageSize + 50
	names := make([]string, total)
	for i := range names {
		names[i] = fmt.Sprintf("cache-%05d", i)
	}
	secret := bytes.Repeat([]byte("s"), 32)
	srv := startServer(t, server.Config{AuthSecret: secret, CreateCaches: names})
	sign := authtest.Signer(t, secret)
	withKey := func(claims auth.Claims) context.Context {
		return metadata.AppendToOutgoingContext(context.Background(), "authorization", sign(claims))
	}
	c := dial(t, srv.Addr())

	t.Run("every cache, page by page", func(t *testing.T) {
		ctx := withKey(auth.Claims{Role: auth.RoleSuperuser})
		var all []string
		var sizes []int
		token := ""
		for {
			page, next := listCaches(t, ctx, c, token)
			all = append(all, page...)
			sizes = append(sizes, len(page))
			if next == "" {
				break
			}
			if len(sizes) > total {
				t.Fatalf("ListCaches never ends: %d pages", len(sizes))
			}
			token = next
		}
		if want := []int{grpcsvc.ListCachesPageSize, grpcsvc.ListCachesPageSize, 50}; !slices.Equal(sizes, want) {
			t.Errorf("ListCaches page sizes = %v, want %v", sizes, want)
		}
		if !slices.Equal(all, names) {
			t.Errorf("ListCaches over all pages = %d names, want the %d created, sorted, once each", len(all), len(names))
		}
	})

	t.Run("a scoped key sees only its caches", func(t *testing.T) {
		mine := []string{names[3], names[grpcsvc.ListCachesPageSize+7], names[total-1]}
		ctx := withKey(auth.Claims{Role: auth.RoleSuperuser, Caches: mine})
		page, next := listCaches(t, ctx, c, "")
		if !slices.Equal(page, mine) || next != "" {
			t.Errorf("ListCaches with a key for %q = %q, next %q; want them alone in one page", mine, page, next)
		}
		// A token naming a cache the key cannot see reveals nothing more.
		page, _ = listCaches(t, ctx, c, base64.RawURLEncoding.EncodeToString([]byte(names[10])))
		if !slices.Equal(page, mine[1:]) {
			t.Errorf("ListCaches after %q with a key for %q = %q, want %q", names[10], mine, page, mine[1:])
		}
	})

	tests := []struct {
		name  string
		token string
	}{
		{"not base64", "!!not a token!!"},
		{"padded base64", base64.URLEncoding.EncodeToString([]byte("cache-00001"))},
		{"not UTF-8", base64.RawURLEncoding.EncodeToString([]byte{0xff, 0xfe})},
	}
	for _, tt := range tests {
		t.Run("bad token: "+tt.name, func(t *testing.T) {
			ctx := withKey(auth.Claims{Role: auth.RoleSuperuser})
			_, err := c.control.ListCaches(ctx, &controlpb.XListCachesRequest{NextToken: proto.String(tt.token)})
			if status.Code(err) != codes.InvalidArgument {
				t.Errorf("ListCaches(next_token %q) = %v, want INVALID_ARGUMENT", tt.token, err)
			}
		})
	}
}
