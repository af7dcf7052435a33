package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/api/commonpb"
	"github.com/thaw-dev/thaw/api/controlpb"
	"github.com/thaw-dev/thaw/internal/auth"
	"github.com/thaw-dev/thaw/internal/auth/authtest"
	"github.com/thaw-dev/thaw/internal/certs"
	"github.com/thaw-dev/thaw/internal/store"
	"github.com/thaw-dev/thaw/server"
)

// startServer starts a real server on a free loopback port and stops it when
// the test ends.
func startServer(t testing.TB, cfg server.Config) *server.Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	if cfg.Transport == "" && cfg.TLSCertFile == "" {
		// test.sh runs the package again with the epoll transport.
		cfg.Transport = os.Getenv("THAW_TEST_TRANSPORT")
	}
	if cfg.EnableTestAdmin {
		cfg.AdminAddr = "127.0.0.1:0"
	}
	srv, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("server.Start: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	if want := os.Getenv("THAW_TEST_TRANSPORT"); want != "" && cfg.TLSCertFile == "" && srv.Transport() != want {
		t.Fatalf("THAW_TEST_TRANSPORT=%s, but the server runs on %s", want, srv.Transport())
	}
	return srv
}

// clients are the generated stubs on one connection.
type clients struct {
	conn    *grpc.ClientConn
	cache   cachepb.ScsClient
	control controlpb.ScsControlClient
}

func dial(t testing.TB, addr string) clients {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(server.MaxMessageSize), grpc.MaxCallSendMsgSize(server.MaxMessageSize)))
	if err != nil {
		t.Fatalf("grpc.NewClient(%s): %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return clients{conn: conn, cache: cachepb.NewScsClient(conn), control: controlpb.NewScsControlClient(conn)}
}

// inCache returns a context whose calls name cache in the metadata, as the SDKs do.
func inCache(t testing.TB, cache string, kv ...string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, append([]string{"cache", cache}, kv...)...)
}

func createCache(t testing.TB, c clients, name string) {
	t.Helper()
	if _, err := c.control.CreateCache(context.Background(), &controlpb.XCreateCacheRequest{CacheName: proto.String(name)}); err != nil {
		t.Fatalf("CreateCache(%q): %v", name, err)
	}
}

func TestScalarRoundTrip(t *testing.T) {
	srv := startServer(t, server.Config{})
	c := dial(t, srv.Addr())
	createCache(t, c, "c")
	ctx := inCache(t, "c")

	key, value := []byte{0, 1, 2, 255}, bytes.Repeat([]byte{0xfe, 0}, 100)
	if _, err := c.cache.Set(ctx, &cachepb.XSetRequest{CacheKey: key, CacheBody: value, TtlMilliseconds: 60_000}); err != nil {
		t.Fatalf("Set: %v", err)
	}
	got, err := c.cache.Get(ctx, &cachepb.XGetRequest{CacheKey: key})
	if err != nil || got.GetResult() != cachepb.ECacheResult_Hit || !bytes.Equal(got.GetCacheBody(), value) {
		t.Fatalf("Get = %v, %v; want Hit with the stored value", got, err)
	}
	ttl, err := c.cache.ItemGetTtl(ctx, &cachepb.XItemGetTtlRequest{CacheKey: key})
	if rem := ttl.GetFound().GetRemainingTtlMillis(); err != nil || rem == 0 || rem > 60_000 {
		t.Fatalf("ItemGetTtl = %v, %v; want found with 0 < ttl <= 60000", ttl, err)
	}
	typ, err := c.cache.ItemGetType(ctx, &cachepb.XItemGetTypeRequest{CacheKey: key})
	if err != nil || typ.GetFound() == nil || typ.GetFound().GetItemType() != cachepb.XItemGetTypeResponse_SCALAR {
		t.Fatalf("ItemGetType = %v, %v; want found SCALAR", typ, err)
	}
	if _, err := c.cache.Delete(ctx, &cachepb.XDeleteRequest{CacheKey: key}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	got, err = c.cache.Get(ctx, &cachepb.XGetRequest{CacheKey: key})
	if err != nil || got.GetResult() != cachepb.ECacheResult_Miss {
		t.Fatalf("Get after Delete = %v, %v; want Miss", got, err)
	}
	exists, err := c.cache.KeysExist(ctx, &cachepb.XKeysExistRequest{CacheKeys: [][]byte{key, []byte("nope")}})
	if err != nil || len(exists.GetExists()) != 2 || exists.GetExists()[0] || exists.GetExists()[1] {
		t.Fatalf("KeysExist = %v, %v; want [false false]", exists, err)
	}
}

func TestConditionalWritesOverTheWire(t *testing.T) {
	srv := startServer(t, server.Config{})
	c := dial(t, srv.Addr())
	createCache(t, c, "c")
	ctx := inCache(t, "c")
	k := []byte("k")

	setIf := func(value string, cond any) bool {
		t.Helper()
		req := &cachepb.XSetIfRequest{CacheKey: k, CacheBody: []byte(value), TtlMilliseconds: 60_000}
		switch c := cond.(type) {
		case *commonpb.Absent:
			req.Condition = &cachepb.XSetIfRequest_Absent{Absent: c}
		case *commonpb.Equal:
			req.Condition = &cachepb.XSetIfRequest_Equal{Equal: c}
		case *commonpb.Present:
			req.Condition = &cachepb.XSetIfRequest_Present{Present: c}
		}
		resp, err := c.cache.SetIf(ctx, req)
		if err != nil {
			t.Fatalf("SetIf(%q): %v", value, err)
		}
		return resp.GetStored() != nil
	}
	if !setIf("a", &commonpb.Absent{}) {
		t.Errorf("SetIf absent on a missing key did not store")
	}
	if setIf("b", &commonpb.Absent{}) {
		t.Errorf("SetIf absent on a present key stored")
	}
	if !setIf("c", &commonpb.Equal{ValueToCheck: []byte("a")}) {
		t.Errorf("SetIf equal(a) on a did not store")
	}
	if !setIf("d", &commonpb.Present{}) {
		t.Errorf("SetIf present on a present key did not store")
	}
	nx, err := c.cache.SetIfNotExists(ctx, &cachepb.XSetIfNotExistsRequest{CacheKey: k, CacheBody: []byte("e"), TtlMilliseconds: 1000})
	if err != nil || nx.GetNotStored() == nil {
		t.Errorf("SetIfNotExists on a present key = %v, %v; want NotStored", nx, err)
	}

	inc, err := c.cache.Increment(ctx, &cachepb.XIncrementRequest{CacheKey: []byte("n"), Amount: 5, TtlMilliseconds: 60_000})
	if err != nil || inc.GetValue() != 5 {
		t.Fatalf("Increment on missing = %v, %v; want 5", inc, err)
	}
	inc, err = c.cache.Increment(ctx, &cachepb.XIncrementRequest{CacheKey: []byte("n"), Amount: -7, TtlMilliseconds: 60_000})
	if err != nil || inc.GetValue() != -2 {
		t.Fatalf("Increment(-7) = %v, %v; want -2", inc, err)
	}

	up, err := c.cache.UpdateTtl(ctx, &cachepb.XUpdateTtlRequest{CacheKey: k, UpdateTtl: &cachepb.XUpdateTtlRequest_DecreaseToMilliseconds{DecreaseToMilliseconds: 120_000}})
	if err != nil || up.GetNotSet() == nil {
		t.Errorf("UpdateTtl decrease to a longer TTL = %v, %v; want NotSet", up, err)
	}
	up, err = c.cache.UpdateTtl(ctx, &cachepb.XUpdateTtlRequest{CacheKey: k, UpdateTtl: &cachepb.XUpdateTtlRequest_IncreaseToMilliseconds{IncreaseToMilliseconds: 120_000}})
	if err != nil || up.GetSet() == nil {
		t.Errorf("UpdateTtl increase = %v, %v; want Set", up, err)
	}
	up, err = c.cache.UpdateTtl(ctx, &cachepb.XUpdateTtlRequest{CacheKey: []byte("missing"), UpdateTtl: &cachepb.XUpdateTtlRequest_OverwriteToMilliseconds{OverwriteToMilliseconds: 1000}})
	if err != nil || up.GetMissing() == nil {
		t.Errorf("UpdateTtl on a missing key = %v, %v; want Missing", up, err)
	}
}

func TestBatchStreams(t *testing.T) {
	srv := startServer(t, server.Config{})
	c := dial(t, srv.Addr())
	createCache(t, c, "c")
	ctx := inCache(t, "c")

	var sets []*cachepb.XSetRequest
	for _, k := range []string{"a", "b", "c"} {
		sets = append(sets, &cachepb.XSetRequest{CacheKey: []byte(k), CacheBody: []byte("v" + k), TtlMilliseconds: 60_000})
	}
	setStream, err := c.cache.SetBatch(ctx, &cachepb.XSetBatchRequest{Items: sets})
	if err != nil {
		t.Fatalf("SetBatch: %v", err)
	}
	if n := drain(t, setStream); n != 3 {
		t.Fatalf("SetBatch streamed %d responses, want 3", n)
	}
	getStream, err := c.cache.GetBatch(ctx, &cachepb.XGetBatchRequest{Items: []*cachepb.XGetRequest{{CacheKey: []byte("b")}, {CacheKey: []byte("zz")}, {CacheKey: []byte("a")}}})
	if err != nil {
		t.Fatalf("GetBatch: %v", err)
	}
	var got []string
	for {
		resp, err := getStream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("GetBatch Recv: %v", err)
		}
		got = append(got, resp.GetResult().String()+":"+string(resp.GetCacheBody()))
	}
	if want := "Hit:vb Miss: Hit:va"; strings.Join(got, " ") != want {
		t.Errorf("GetBatch = %q, want %q", strings.Join(got, " "), want)
	}
}

func drain[T any](t *testing.T, s grpc.ServerStreamingClient[T]) int {
	t.Helper()
	n := 0
	for {
		_, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatalf("Recv: %v", err)
		}
		n++
	}
}

func TestBadInputStatuses(t *testing.T) {
	srv := startServer(t, server.Config{Limits: store.Limits{MaxItemSize: 1 << 20, MaxTTL: time.Hour}})
	c := dial(t, srv.Addr())
	createCache(t, c, "c")

	tests := []struct {
		name      string
		call      func() error
		code      codes.Code
		inMessage string
	}{
		{"unknown cache", func() error {
			_, err := c.cache.Get(inCache(t, "nope"), &cachepb.XGetRequest{CacheKey: []byte("k")})
			return err
		}, codes.NotFound, "cache not found"},
		{"no cache header", func() error {
			_, err := c.cache.Get(context.Background(), &cachepb.XGetRequest{CacheKey: []byte("k")})
			return err
		}, codes.InvalidArgument, "blank"},
		{"blank cache name", func() error {
			_, err := c.cache.Get(inCache(t, "  "), &cachepb.XGetRequest{CacheKey: []byte("k")})
			return err
		}, codes.InvalidArgument, "blank"},
		{"over-long cache name", func() error {
			_, err := c.control.CreateCache(context.Background(), &controlpb.XCreateCacheRequest{CacheName: proto.String(strings.Repeat("x", 256))})
			return err
		}, codes.InvalidArgument, "limit"},
		{"invalid UTF-8 cache name", func() error {
			_, err := c.control.CreateCache(context.Background(), &controlpb.XCreateCacheRequest{CacheName: proto.String("bad\xff")})
			return err
		}, codes.InvalidArgument, "UTF-8"},
		{"empty key", func() error {
			_, err := c.cache.Get(inCache(t, "c"), &cachepb.XGetRequest{})
			return err
		}, codes.InvalidArgument, "key"},
		{"over-long key", func() error {
			_, err := c.cache.Get(inCache(t, "c"), &cachepb.XGetRequest{CacheKey: make([]byte, store.DefaultMaxKeySize+1)})
			return err
		}, codes.InvalidArgument, "key"},
		{"ttl above maximum", func() error {
			_, err := c.cache.Set(inCache(t, "c"), &cachepb.XSetRequest{CacheKey: []byte("k"), CacheBody: []byte("v"), TtlMilliseconds: uint64(2 * time.Hour / time.Millisecond)})
			return err
		}, codes.InvalidArgument, "ttl"},
		{"zero ttl", func() error {
			_, err := c.cache.Set(inCache(t, "c"), &cachepb.XSetRequest{CacheKey: []byte("k"), CacheBody: []byte("v")})
			return err
		}, codes.InvalidArgument, "ttl"},
		{"item too large", func() error {
			_, err := c.cache.Set(inCache(t, "c"), &cachepb.XSetRequest{CacheKey: []byte("k"), CacheBody: make([]byte, 1<<20), TtlMilliseconds: 1000})
			return err
		}, codes.ResourceExhausted, "item size"},
		{"request too large", func() error {
			_, err := c.cache.Set(inCache(t, "c"), &cachepb.XSetRequest{CacheKey: []byte("k"), CacheBody: make([]byte, 2<<20), TtlMilliseconds: 1000})
			return err
		}, codes.ResourceExhausted, "request limit"},
		{"increment of a non-integer", func() error {
			ctx := inCache(t, "c")
			if _, err := c.cache.Set(ctx, &cachepb.XSetRequest{CacheKey: []byte("s"), CacheBody: []byte("abc"), TtlMilliseconds: 1000}); err != nil {
				return err
			}
			_, err := c.cache.Increment(ctx, &cachepb.XIncrementRequest{CacheKey: []byte("s"), Amount: 1, TtlMilliseconds: 1000})
			return err
		}, codes.FailedPrecondition, "integer"},
		{"SetIf without condition", func() error {
			_, err := c.cache.SetIf(inCache(t, "c"), &cachepb.XSetIfRequest{CacheKey: []byte("k"), CacheBody: []byte("v"), TtlMilliseconds: 1000})
			return err
		}, codes.InvalidArgument, "condition"},
		{"create existing cache", func() error {
			_, err := c.control.CreateCache(context.Background(), &controlpb.XCreateCacheRequest{CacheName: proto.String("c")})
			return err
		}, codes.AlreadyExists, "exists"},
		{"delete missing cache", func() error {
			_, err := c.control.DeleteCache(context.Background(), &controlpb.XDeleteCacheRequest{CacheName: proto.String("nope")})
			return err
		}, codes.NotFound, "not found"},
		{"flush missing cache", func() error {
			_, err := c.control.FlushCache(context.Background(), &controlpb.XFlushCacheRequest{CacheName: proto.String("nope")})
			return err
		}, codes.NotFound, "not found"},
		{"unimplemented control RPC", func() error {
			_, err := c.control.ListSigningKeys(context.Background(), &controlpb.XListSigningKeysRequest{})
			return err
		}, codes.Unimplemented, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if status.Code(err) != tt.code || !strings.Contains(status.Convert(err).Message(), tt.inMessage) {
				t.Errorf("error = %v, want code %v with %q in the message", err, tt.code, tt.inMessage)
			}
		})
	}
}

func TestItemSizeTrailer(t *testing.T) {
	srv := startServer(t, server.Config{})
	c := dial(t, srv.Addr())
	createCache(t, c, "c")
	var trailer metadata.MD
	// One byte over the item size limit, and within the request limit: an
	// item that is too large, not a request (see TestRequestSizeLimit).
	_, err := c.cache.Set(inCache(t, "c"), &cachepb.XSetRequest{CacheKey: []byte("k"), CacheBody: make([]byte, store.DefaultMaxItemSize), TtlMilliseconds: 1000}, grpc.Trailer(&trailer))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("Set of the item size limit plus 1 byte = %v, want RESOURCE_EXHAUSTED", err)
	}
	if got := trailer.Get("err"); len(got) != 1 || got[0] != "item_size_limit_exceeded" {
		t.Errorf("trailer err = %q, want [item_size_limit_exceeded]", got)
	}
}

func TestControlPlane(t *testing.T) {
	srv := startServer(t, server.Config{CreateCaches: []string{"boot"}})
	c := dial(t, srv.Addr())
	createCache(t, c, "b")
	createCache(t, c, "a")
	ctx := inCache(t, "a")
	if _, err := c.cache.Set(ctx, &cachepb.XSetRequest{CacheKey: []byte("k"), CacheBody: []byte("v"), TtlMilliseconds: 60_000}); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if _, err := c.control.FlushCache(context.Background(), &controlpb.XFlushCacheRequest{CacheName: proto.String("a")}); err != nil {
		t.Fatalf("FlushCache: %v", err)
	}
	if got, _ := c.cache.Get(ctx, &cachepb.XGetRequest{CacheKey: []byte("k")}); got.GetResult() != cachepb.ECacheResult_Miss {
		t.Errorf("Get after FlushCache = %v, want Miss", got)
	}
	list, err := c.control.ListCaches(context.Background(), &controlpb.XListCachesRequest{})
	if err != nil {
		t.Fatalf("ListCaches: %v", err)
	}
	var names []string
	for _, cache := range list.GetCache() {
		names = append(names, cache.GetCacheName())
	}
	if got, want := strings.Join(names, ","), "a,b,boot"; got != want {
		t.Errorf("ListCaches = %q, want %q", got, want)
	}
	if _, err := c.control.DeleteCache(context.Background(), &controlpb.XDeleteCacheRequest{CacheName: proto.String("a")}); err != nil {
		t.Fatalf("DeleteCache: %v", err)
	}
	if _, err := c.cache.Get(ctx, &cachepb.XGetRequest{CacheKey: []byte("k")}); status.Code(err) != codes.NotFound {
		t.Errorf("Get in a deleted cache = %v, want NOT_FOUND", err)
	}
}

func TestHealthAndReflection(t *testing.T) {
	srv := startServer(t, server.Config{})
	c := dial(t, srv.Addr())
	hc, err := healthpb.NewHealthClient(c.conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health Check = %v, %v; want SERVING", hc, err)
	}
	if _, err := cachepb.NewPingClient(c.conn).Ping(context.Background(), &cachepb.XPingRequest{}); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	stream, err := reflectionpb.NewServerReflectionClient(c.conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatalf("ServerReflectionInfo: %v", err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatalf("reflection Send: %v", err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("reflection Recv: %v", err)
	}
	var services []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		services = append(services, s.GetName())
	}
	for _, want := range []string{"cache_client.Scs", "cache_client.Ping", "control_client.ScsControl", "grpc.health.v1.Health"} {
		if !strings.Contains(strings.Join(services, " "), want) {
			t.Errorf("reflection lists %v, missing %s", services, want)
		}
	}
	stream.CloseSend()
}

func TestAuth(t *testing.T) {
	secret := bytes.Repeat([]byte("s"), 32)
	srv := startServer(t, server.Config{AuthSecret: secret, CreateCaches: []string{"a", "b"}})
	key := authtest.Signer(t, secret)
	other, _ := auth.NewSigner(bytes.Repeat([]byte("x"), 32))
	forged, _ := other.Sign(auth.Claims{Role: auth.RoleSuperuser})
	c := dial(t, srv.Addr())
	set := func(token, cache string) error {
		_, err := c.cache.Set(inCache(t, cache, "authorization", token), &cachepb.XSetRequest{CacheKey: []byte("k"), CacheBody: []byte("v"), TtlMilliseconds: 1000})
		return err
	}
	get := func(token, cache string) error {
		_, err := c.cache.Get(inCache(t, cache, "authorization", token), &cachepb.XGetRequest{CacheKey: []byte("k")})
		return err
	}
	create := func(token string) error {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", token)
		_, err := c.control.CreateCache(ctx, &controlpb.XCreateCacheRequest{CacheName: proto.String("new")})
		return err
	}
	tests := []struct {
		name string
		err  error
		code codes.Code
	}{
		{"no key", get("", "a"), codes.Unauthenticated},
		{"forged key", get(forged, "a"), codes.Unauthenticated},
		{"garbage key", get("not-a-token", "a"), codes.Unauthenticated},
		{"expired key", get(key(auth.Claims{Role: auth.RoleReadWrite, ExpiresAt: time.Now().Add(-time.Minute)}), "a"), codes.Unauthenticated},
		{"read-only key reads", get(key(auth.Claims{Role: auth.RoleReadOnly}), "a"), codes.OK},
		{"read-only key writes", set(key(auth.Claims{Role: auth.RoleReadOnly}), "a"), codes.PermissionDenied},
		{"read-write key writes", set(key(auth.Claims{Role: auth.RoleReadWrite}), "a"), codes.OK},
		{"key for another cache", set(key(auth.Claims{Role: auth.RoleReadWrite, Caches: []string{"b"}}), "a"), codes.PermissionDenied},
		{"key for this cache", set(key(auth.Claims{Role: auth.RoleReadWrite, Caches: []string{"a"}}), "a"), codes.OK},
		{"read-write key creates a cache", create(key(auth.Claims{Role: auth.RoleReadWrite})), codes.PermissionDenied},
		{"superuser creates a cache", create(key(auth.Claims{Role: auth.RoleSuperuser})), codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status.Code(tt.err) != tt.code {
				t.Errorf("error = %v, want code %v", tt.err, tt.code)
			}
		})
	}
	if _, err := cachepb.NewPingClient(c.conn).Ping(context.Background(), &cachepb.XPingRequest{}); err != nil {
		t.Errorf("Ping without a key = %v, want success (pings carry no authorization)", err)
	}
}

func TestMetrics(t *testing.T) {
	srv := startServer(t, server.Config{MetricsAddr: "127.0.0.1:0", CreateCaches: []string{"c"}})
	c := dial(t, srv.Addr())
	if _, err := c.cache.Set(inCache(t, "c"), &cachepb.XSetRequest{CacheKey: []byte("k"), CacheBody: []byte("v"), TtlMilliseconds: 60_000}); err != nil {
		t.Fatalf("Set: %v", err)
	}
	c.cache.Get(inCache(t, "nope"), &cachepb.XGetRequest{CacheKey: []byte("k")})
	resp, err := http.Get("http://" + srv.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`thaw_grpc_calls_total{code="OK",method="/cache_client.Scs/Set"} 1`,
		`thaw_grpc_calls_total{code="NotFound",method="/cache_client.Scs/Get"} 1`,
		`thaw_grpc_call_duration_seconds_bucket{method="/cache_client.Scs/Set"`,
		"thaw_store_items 1",
		"thaw_store_evictions_total 0",
		"thaw_open_connections 1",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestAcceptsFrequentKeepalivePings speaks raw HTTP/2 to send PING frames on
// an idle connection more often than the SDKs' 5 s keepalive (grpc-go clients
// cannot ping faster than every 10 s) and checks that every one is
// acknowledged and no GOAWAY arrives.
func TestAcceptsFrequentKeepalivePings(t *testing.T) {
	srv := startServer(t, server.Config{})
	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatalf("write preface: %v", err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatalf("write settings: %v", err)
	}
	const pings = 4
	interval := server.KeepaliveMinTime + 200*time.Millisecond
	acks := 0
	for i := range pings {
		time.Sleep(interval)
		if err := fr.WritePing(false, [8]byte{byte(i)}); err != nil {
			t.Fatalf("write ping %d: %v", i, err)
		}
		for acked := false; !acked; {
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			f, err := fr.ReadFrame()
			if err != nil {
				t.Fatalf("after ping %d: read frame: %v", i, err)
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					fr.WriteSettingsAck()
				}
			case *http2.PingFrame:
				if f.IsAck() && f.Data == [8]byte{byte(i)} {
					acked = true
					acks++
				}
			case *http2.GoAwayFrame:
				t.Fatalf("after ping %d: GOAWAY %v %q", i, f.ErrCode, f.DebugData())
			}
		}
	}
	if acks != pings {
		t.Errorf("acknowledged %d of %d pings", acks, pings)
	}
}

func TestStartErrors(t *testing.T) {
	// Start-up failures are reported, not hidden: a taken port is an error.
	srv := startServer(t, server.Config{})
	_, err := server.Start(context.Background(), server.Config{Addr: srv.Addr()})
	if err == nil {
		t.Fatalf("Start on a taken address succeeded, want an error")
	}
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, []byte("not a certificate"), 0o600)
	os.WriteFile(key, []byte("not a key"), 0o600)
	if _, err := server.Start(context.Background(), server.Config{Addr: "127.0.0.1:0", TLSCertFile: cert, TLSKeyFile: key}); err == nil {
		t.Fatalf("Start with a bad TLS key pair succeeded, want an error")
	}
}

// TestTransportChoice checks that Start refuses a transport it does not
// have, and TLS on the epoll transport, saying why.
func TestTransportChoice(t *testing.T) {
	files, err := certs.WriteLocalCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cert, key := files.Cert, files.Key
	for _, c := range []struct {
		name string
		cfg  server.Config
		want string
	}{
		{"unknown", server.Config{Addr: "127.0.0.1:0", Transport: "io_uring"}, `unknown transport "io_uring"`},
		{"epoll with TLS", server.Config{Addr: "127.0.0.1:0", Transport: server.TransportEpoll, TLSCertFile: cert, TLSKeyFile: key}, "serves plaintext only"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, err := server.Start(t.Context(), c.cfg)
			if err == nil {
				srv.Close()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("Start = %v, want it to say %q", err, c.want)
			}
		})
	}
}
