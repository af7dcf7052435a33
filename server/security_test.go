package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/api/commonpb"
	"github.com/thaw-dev/thaw/api/controlpb"
	"github.com/thaw-dev/thaw/api/pubsubpb"
	"github.com/thaw-dev/thaw/internal/apikey"
	"github.com/thaw-dev/thaw/internal/auth"
	"github.com/thaw-dev/thaw/internal/certs"
	"github.com/thaw-dev/thaw/internal/grpcsvc"
	"github.com/thaw-dev/thaw/internal/store"
	"github.com/thaw-dev/thaw/internal/testadmin"
	"github.com/thaw-dev/thaw/server"
)

// securedServer is a server with auth, a revocation list, test admin and
// metrics on, and the keys the security tests call it with.
type securedServer struct {
	srv    *server.Server
	conn   *grpc.ClientConn
	signer *auth.Signer
	// revokedFile is the server's revocation list.
	revokedFile string
	// keys by case name; "" is no key at all.
	keys map[string]string
	// probes counts the items state published to seedTopic in each cache.
	probes map[string]uint64
}

// Names of the keys in securedServer.keys.
const (
	keySuperuser   = "superuser"
	keyNone        = "no key"
	keyGarbage     = "garbage"
	keyWrongSecret = "wrong secret"
	keyAlgNone     = "alg none"
	keyExpired     = "expired"
	keyRevoked     = "revoked"
	keyReadOnly    = "read-only"
	keyReadWrite   = "read-write"
	keyOtherCache  = "superuser of another cache"
)

// The caches of the security tests: every call targets securedCache; the
// scoped key is only valid for otherCache. Topic calls use seedTopic.
const (
	securedCache = "a"
	otherCache   = "b"
	seedTopic    = "seed"
)

func startSecuredServer(t *testing.T) *securedServer {
	t.Helper()
	secret := bytes.Repeat([]byte("s"), 32)
	signer, err := auth.NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	other, err := auth.NewSigner(bytes.Repeat([]byte("x"), 32))
	if err != nil {
		t.Fatal(err)
	}
	sign := func(s *auth.Signer, c auth.Claims) string {
		tok, err := s.Sign(c)
		if err != nil {
			t.Fatalf("Sign(%+v): %v", c, err)
		}
		return tok
	}
	segment := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	revokedFile := filepath.Join(t.TempDir(), "revoked")
	if _, err := auth.AppendRevocation(revokedFile, "revoked-id", "test"); err != nil {
		t.Fatal(err)
	}
	s := &securedServer{signer: signer, revokedFile: revokedFile, probes: map[string]uint64{}, keys: map[string]string{
		keySuperuser:   sign(signer, auth.Claims{ID: "su", Role: auth.RoleSuperuser}),
		keyNone:        "",
		keyGarbage:     "not-a-token",
		keyWrongSecret: sign(other, auth.Claims{ID: "ws", Role: auth.RoleSuperuser}),
		keyAlgNone:     segment(`{"alg":"none","typ":"JWT"}`) + "." + segment(`{"jti":"an","role":"superuser"}`) + ".",
		keyExpired:     sign(signer, auth.Claims{ID: "ex", Role: auth.RoleSuperuser, ExpiresAt: time.Now().Add(-time.Minute)}),
		keyRevoked:     sign(signer, auth.Claims{ID: "revoked-id", Role: auth.RoleSuperuser}),
		keyReadOnly:    sign(signer, auth.Claims{ID: "ro", Role: auth.RoleReadOnly}),
		keyReadWrite:   sign(signer, auth.Claims{ID: "rw", Role: auth.RoleReadWrite}),
		keyOtherCache:  sign(signer, auth.Claims{ID: "oc", Role: auth.RoleSuperuser, Caches: []string{otherCache}}),
	}}
	s.srv = startServer(t, server.Config{
		AuthSecret: secret, RevokedKeysFile: revokedFile, RevokedKeysPoll: 20 * time.Millisecond,
		EnableTestAdmin: true, MetricsAddr: "127.0.0.1:0",
		CreateCaches: []string{securedCache, otherCache},
	})
	s.conn = dial(t, s.srv.Addr()).conn
	return s
}

// seed stores the items whose survival proves that refused calls did nothing.
func (s *securedServer) seed(t *testing.T) {
	t.Helper()
	for _, cache := range []string{securedCache, otherCache} {
		if err := s.srv.Store().Set(context.Background(), cache, []byte("seed"), []byte("1"), time.Hour); err != nil {
			t.Fatalf("Store().Set(%s, seed): %v", cache, err)
		}
	}
}

// storeState is what a refused call must leave as it was.
type storeState struct {
	Caches    []string
	Items     int64
	Bytes     int64
	Seeds     map[string]string // cache → seed value and whether its TTL is intact
	Published map[string]uint64 // cache → items published to seedTopic but by state
}

func (s *securedServer) state(t *testing.T) storeState {
	t.Helper()
	ctx := context.Background()
	st := s.srv.Store()
	caches, err := st.ListCaches(ctx)
	if err != nil {
		t.Fatalf("Store().ListCaches: %v", err)
	}
	stats := st.Stats()
	out := storeState{Caches: caches, Items: stats.Items, Bytes: stats.Bytes, Seeds: map[string]string{}, Published: map[string]uint64{}}
	for _, cache := range caches {
		v, found, _ := st.Get(ctx, cache, []byte("seed"))
		ttl, _, _ := st.ItemTTL(ctx, cache, []byte("seed"))
		out.Seeds[cache] = fmt.Sprintf("%q found=%v ttl>30m=%v", v, found, ttl > 30*time.Minute)
		// A probe's sequence number counts the items before it: all but
		// the earlier probes were published by someone else.
		pos, err := st.Publish(ctx, cache, seedTopic, store.TopicMessage{Text: true, Data: []byte("probe")})
		if err != nil {
			t.Fatalf("Store().Publish(%s, %s): %v", cache, seedTopic, err)
		}
		s.probes[cache]++
		out.Published[cache] = pos.Sequence - s.probes[cache]
	}
	return out
}

// wellFormedRequests are requests that would change the store if they were
// let through, so that "nothing written" means something. Methods without an
// entry get a request whose cache_name, cache_key, cache_body and
// ttl_milliseconds fields, where it has them, are filled in.
var wellFormedRequests = map[string]func(cache string) proto.Message{
	cachepb.Scs_Set_FullMethodName: func(string) proto.Message {
		return &cachepb.XSetRequest{CacheKey: []byte("k"), CacheBody: []byte("v"), TtlMilliseconds: 60_000}
	},
	cachepb.Scs_SetBatch_FullMethodName: func(string) proto.Message {
		return &cachepb.XSetBatchRequest{Items: []*cachepb.XSetRequest{{CacheKey: []byte("k"), CacheBody: []byte("v"), TtlMilliseconds: 60_000}}}
	},
	cachepb.Scs_SetIf_FullMethodName: func(string) proto.Message {
		return &cachepb.XSetIfRequest{CacheKey: []byte("seed"), CacheBody: []byte("2"), TtlMilliseconds: 60_000,
			Condition: &cachepb.XSetIfRequest_Present{Present: &commonpb.Present{}}}
	},
	cachepb.Scs_SetIfNotExists_FullMethodName: func(string) proto.Message {
		return &cachepb.XSetIfNotExistsRequest{CacheKey: []byte("k"), CacheBody: []byte("v"), TtlMilliseconds: 60_000}
	},
	cachepb.Scs_Delete_FullMethodName: func(string) proto.Message {
		return &cachepb.XDeleteRequest{CacheKey: []byte("seed")}
	},
	cachepb.Scs_Increment_FullMethodName: func(string) proto.Message {
		return &cachepb.XIncrementRequest{CacheKey: []byte("seed"), Amount: 1, TtlMilliseconds: 60_000}
	},
	cachepb.Scs_UpdateTtl_FullMethodName: func(string) proto.Message {
		return &cachepb.XUpdateTtlRequest{CacheKey: []byte("seed"), UpdateTtl: &cachepb.XUpdateTtlRequest_OverwriteToMilliseconds{OverwriteToMilliseconds: 1_000}}
	},
	pubsubpb.Pubsub_Publish_FullMethodName: func(cache string) proto.Message {
		return &pubsubpb.XPublishRequest{CacheName: proto.String(cache), Topic: proto.String(seedTopic),
			Value: &pubsubpb.XTopicValue{Kind: &pubsubpb.XTopicValue_Text{Text: "v"}}}
	},
	pubsubpb.Pubsub_Subscribe_FullMethodName: func(cache string) proto.Message {
		return &pubsubpb.XSubscriptionRequest{CacheName: proto.String(cache), Topic: proto.String(seedTopic)}
	},
	controlpb.ScsControl_CreateCache_FullMethodName: func(string) proto.Message {
		// Authorized against the cache it names, so it names the scoped key's
		// forbidden cache under a new name only the superuser could make.
		return &controlpb.XCreateCacheRequest{CacheName: proto.String(securedCache + "-new")}
	},
}

// requestFor returns a request for fullMethod aimed at cache.
func requestFor(t *testing.T, fullMethod, cache string) proto.Message {
	t.Helper()
	if build, ok := wellFormedRequests[fullMethod]; ok {
		return build(cache)
	}
	service, method, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(service))
	if err != nil {
		t.Fatalf("descriptor of %s: %v", service, err)
	}
	md := d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(method))
	if md == nil {
		t.Fatalf("service %s has no method %s", service, method)
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
	if err != nil {
		t.Fatalf("request type of %s: %v", fullMethod, err)
	}
	msg := mt.New()
	fields := msg.Descriptor().Fields()
	set := func(name string, v protoreflect.Value) {
		if f := fields.ByName(protoreflect.Name(name)); f != nil && !f.IsList() && !f.IsMap() && f.Message() == nil {
			msg.Set(f, v)
		}
	}
	set("cache_name", protoreflect.ValueOfString(cache))
	set("cache_key", protoreflect.ValueOfBytes([]byte("seed")))
	set("cache_body", protoreflect.ValueOfBytes([]byte("v")))
	set("ttl_milliseconds", protoreflect.ValueOfUint64(60_000))
	return msg.Interface()
}

// call makes one call of fullMethod (unary or server stream) with key and
// extra metadata, naming cache in the "cache" header, and returns its status
// and, for unary calls, the response. A stream that delivers a message was
// not refused: call returns then, as a topic subscription never ends.
func call(t *testing.T, conn *grpc.ClientConn, fullMethod string, stream bool, key, cache string, md ...string) (proto.Message, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pairs := append([]string{"cache", cache}, md...)
	if key != "" {
		pairs = append(pairs, "authorization", key)
	}
	ctx = metadata.AppendToOutgoingContext(ctx, pairs...)
	req := requestFor(t, fullMethod, cache)
	if !stream {
		resp := responseFor(t, fullMethod)
		return resp, conn.Invoke(ctx, fullMethod, req, resp)
	}
	cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, fullMethod)
	if err != nil {
		return nil, err
	}
	if err := cs.SendMsg(req); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	cs.CloseSend()
	resp := responseFor(t, fullMethod)
	if err := cs.RecvMsg(resp); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return nil, nil
}

// responseFor returns an empty response message of fullMethod.
func responseFor(t *testing.T, fullMethod string) proto.Message {
	t.Helper()
	service, method, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(service))
	if err != nil {
		t.Fatalf("descriptor of %s: %v", service, err)
	}
	md := d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(method))
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
	if err != nil {
		t.Fatalf("response type of %s: %v", fullMethod, err)
	}
	return mt.New().Interface()
}

// registeredMethod is one RPC the server registered.
type registeredMethod struct {
	fullMethod string
	stream     bool
	rule       grpcsvc.Rule
	known      bool
}

func registeredMethods(srv *server.Server) []registeredMethod {
	var out []registeredMethod
	for service, info := range srv.Services() {
		for _, m := range info.Methods {
			full := "/" + service + "/" + m.Name
			rule, known := grpcsvc.RuleFor(full)
			out = append(out, registeredMethod{fullMethod: full, stream: m.IsServerStream || m.IsClientStream, rule: rule, known: known})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].fullMethod < out[j].fullMethod })
	return out
}

// TestEveryRegisteredMethodHasAnAuthRule enumerates the services the server
// registers: a method added without a rule in grpcsvc's policy fails here
// (and is refused at run time), and the open allow-list stays exactly
// health, reflection and Ping.
func TestEveryRegisteredMethodHasAnAuthRule(t *testing.T) {
	srv := startServer(t, server.Config{})
	var open []string
	methods := registeredMethods(srv)
	if len(methods) < 20 {
		t.Fatalf("server registered %d methods, want the cache, control, ping, health and reflection services", len(methods))
	}
	for _, m := range methods {
		if !m.known {
			t.Errorf("%s has no authorization rule: add one to grpcsvc's policy", m.fullMethod)
			continue
		}
		if m.rule.Open {
			service, _, _ := strings.Cut(strings.TrimPrefix(m.fullMethod, "/"), "/")
			open = append(open, service)
		}
	}
	open = slices.Compact(open)
	want := []string{"cache_client.Ping", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"}
	if !slices.Equal(open, want) {
		t.Errorf("services open without a key = %q, want exactly %q", open, want)
	}
}

// TestSecurityMatrix calls every RPC of every registered service, generated
// from the server's own service list, with each kind of bad key, and checks
// the status and that nothing happened: the store is unchanged and the fault
// injection that every call asks for (an UNAVAILABLE error) never ran. A superuser call per method shows the same request is not refused for
// other reasons, and that injection does run for an authorized caller.
func TestSecurityMatrix(t *testing.T) {
	s := startSecuredServer(t)
	s.seed(t)
	before := s.state(t)

	type matrixCase struct {
		key  string
		want func(m registeredMethod) codes.Code
	}
	unauthenticated := func(registeredMethod) codes.Code { return codes.Unauthenticated }
	cases := []matrixCase{
		{keyNone, unauthenticated},
		{keyGarbage, unauthenticated},
		{keyWrongSecret, unauthenticated},
		{keyAlgNone, unauthenticated},
		{keyExpired, unauthenticated},
		{keyRevoked, unauthenticated},
		{keyReadOnly, func(m registeredMethod) codes.Code {
			if m.rule.Action == auth.ActionRead {
				return codes.OK // not a refusal; checked below only for its status
			}
			return codes.PermissionDenied
		}},
		{keyReadWrite, func(m registeredMethod) codes.Code {
			if m.rule.Action == auth.ActionControl {
				return codes.PermissionDenied
			}
			return codes.OK
		}},
		{keyOtherCache, func(m registeredMethod) codes.Code {
			if m.rule.Scope == grpcsvc.ScopeFiltered {
				return codes.OK // ListCaches: allowed, filtered (checked below)
			}
			return codes.PermissionDenied
		}},
	}
	refusal := map[codes.Code]bool{codes.Unauthenticated: true, codes.PermissionDenied: true}

	tested := 0
	for _, m := range registeredMethods(s.srv) {
		if m.known && m.rule.Open {
			continue
		}
		tested++
		// Injection would return UNAVAILABLE; see TestRefusedCallsAreNotDelayed
		// for delays.
		faults := []string{
			testadmin.KeyRequestID, "matrix",
			testadmin.KeyErrorRPCs, testadmin.RPCName(m.fullMethod), testadmin.KeyReturnError, "unavailable",
		}
		t.Run(strings.TrimPrefix(m.fullMethod, "/"), func(t *testing.T) {
			for _, c := range cases {
				want := c.want(m)
				if !refusal[want] {
					continue // an allowed call would change the store; see below
				}
				_, err := call(t, s.conn, m.fullMethod, m.stream, s.keys[c.key], securedCache, faults...)
				if got := status.Code(err); got != want {
					t.Errorf("%s with %s = %v, want %v", m.fullMethod, c.key, err, want)
				}
			}
			if diff := stateDiff(before, s.state(t)); diff != "" {
				t.Fatalf("refused calls of %s changed the store: %s", m.fullMethod, diff)
			}
		})
	}
	if tested < 15 {
		t.Fatalf("matrix covered %d methods, want every cache and control RPC", tested)
	}

	// The calls a key is allowed: not refused, and injection does run for
	// them (so its absence above means auth came first).
	for _, m := range registeredMethods(s.srv) {
		if m.rule.Open {
			continue
		}
		for _, c := range cases {
			if refusal[c.want(m)] {
				continue
			}
			_, err := call(t, s.conn, m.fullMethod, m.stream, s.keys[c.key], securedCache,
				testadmin.KeyRequestID, "allowed "+c.key+" "+m.fullMethod, testadmin.KeyErrorRPCs, testadmin.RPCName(m.fullMethod),
				testadmin.KeyReturnError, "unavailable", testadmin.KeyErrorCount, "1")
			if status.Code(err) != codes.Unavailable {
				t.Errorf("%s with %s and an injected error = %v, want the injected UNAVAILABLE", m.fullMethod, c.key, err)
			}
		}
		_, err := call(t, s.conn, m.fullMethod, m.stream, s.keys[keySuperuser], securedCache)
		if refusal[status.Code(err)] {
			t.Errorf("%s with the superuser key = %v, want no auth refusal", m.fullMethod, err)
		}
	}

	// ListCaches shows a scoped key only its caches.
	resp, err := call(t, s.conn, controlpb.ScsControl_ListCaches_FullMethodName, false, s.keys[keyOtherCache], "")
	if err != nil {
		t.Fatalf("ListCaches with a key for %q: %v", otherCache, err)
	}
	var names []string
	for _, c := range resp.(*controlpb.XListCachesResponse).GetCache() {
		names = append(names, c.GetCacheName())
	}
	if !slices.Equal(names, []string{otherCache}) {
		t.Errorf("ListCaches with a key for %q = %q, want only %q", otherCache, names, otherCache)
	}
	// ... and the "cache" header does not widen it.
	resp, err = call(t, s.conn, controlpb.ScsControl_ListCaches_FullMethodName, false, s.keys[keyOtherCache], securedCache)
	if err != nil || len(resp.(*controlpb.XListCachesResponse).GetCache()) != 1 {
		t.Errorf("ListCaches with header cache=%q and a key for %q = %v, %v; want only %q", securedCache, otherCache, resp, err, otherCache)
	}

	// Metrics counted the refusals.
	body := getMetrics(t, s.srv)
	if want := fmt.Sprintf(`thaw_grpc_calls_total{code="Unauthenticated",method="%s"} 6`, cachepb.Scs_Set_FullMethodName); !strings.Contains(body, want) {
		t.Errorf("/metrics lacks %q", want)
	}
}

// stateDiff describes how two store states differ, or returns "".
func stateDiff(a, b storeState) string {
	var diffs []string
	if !slices.Equal(a.Caches, b.Caches) {
		diffs = append(diffs, fmt.Sprintf("caches %q → %q", a.Caches, b.Caches))
	}
	if a.Items != b.Items || a.Bytes != b.Bytes {
		diffs = append(diffs, fmt.Sprintf("items %d → %d, bytes %d → %d", a.Items, b.Items, a.Bytes, b.Bytes))
	}
	for cache, seed := range a.Seeds {
		if b.Seeds[cache] != seed {
			diffs = append(diffs, fmt.Sprintf("seed of %s: %s → %s", cache, seed, b.Seeds[cache]))
		}
	}
	for cache, n := range a.Published {
		if b.Published[cache] != n {
			diffs = append(diffs, fmt.Sprintf("items published to %s in %s: %d → %d", seedTopic, cache, n, b.Published[cache]))
		}
	}
	return strings.Join(diffs, "; ")
}

func getMetrics(t *testing.T, srv *server.Server) string {
	t.Helper()
	resp, err := http.Get("http://" + srv.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	return string(body)
}

// TestUnknownMethodsNeedAKey: a method the server does not serve, of a
// known service or not, answers UNAUTHENTICATED without a key (nothing about
// the server's methods leaks) and UNIMPLEMENTED with one.
func TestUnknownMethodsNeedAKey(t *testing.T) {
	s := startSecuredServer(t)
	for _, method := range []string{"/cache_client.Scs/NoSuchMethod", "/cache_client.pubsub.Pubsub/NoSuchMethod", "/no.Such/Service"} {
		for _, tt := range []struct {
			key  string
			want codes.Code
		}{
			{keyNone, codes.Unauthenticated},
			{keyGarbage, codes.Unauthenticated},
			{keyReadOnly, codes.Unimplemented},
		} {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if token := s.keys[tt.key]; token != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", token)
			}
			err := s.conn.Invoke(ctx, method, &cachepb.XGetRequest{}, &cachepb.XGetResponse{})
			cancel()
			if status.Code(err) != tt.want {
				t.Errorf("%s with %s = %v, want %v", method, tt.key, err, tt.want)
			}
		}
	}
}

// TestRefusedCallsAreNotDelayed: a caller without a valid key cannot park a
// handler with delay-ms; the refusal comes at once, well inside a deadline
// that a one-day delay would pass.
func TestRefusedCallsAreNotDelayed(t *testing.T) {
	s := startSecuredServer(t)
	for _, key := range []string{keyNone, keyGarbage, keyExpired} {
		_, err := call(t, s.conn, cachepb.Scs_Get_FullMethodName, false, s.keys[key], securedCache,
			testadmin.KeyDelayRPCs, "get", testadmin.KeyDelayMillis, "86400000")
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("Get with %s and a one-day delay-ms = %v, want UNAUTHENTICATED at once", key, err)
		}
	}
	// The same metadata with a valid key is delayed: the call runs out of time.
	_, err := call(t, s.conn, cachepb.Scs_Get_FullMethodName, false, s.keys[keySuperuser], securedCache,
		testadmin.KeyDelayRPCs, "get", testadmin.KeyDelayMillis, "86400000")
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("Get with the superuser key and a one-day delay-ms = %v, want DEADLINE_EXCEEDED", err)
	}
}

// TestInjectionCountsArePerCaller: two keys that use the same request-id
// each get their own error-count, so one cannot use up (or learn about)
// another's.
func TestInjectionCountsArePerCaller(t *testing.T) {
	s := startSecuredServer(t)
	get := func(key string) codes.Code {
		_, err := call(t, s.conn, cachepb.Scs_Get_FullMethodName, false, s.keys[key], securedCache,
			testadmin.KeyRequestID, "shared", testadmin.KeyErrorRPCs, "get", testadmin.KeyReturnError, "unavailable", testadmin.KeyErrorCount, "1")
		return status.Code(err)
	}
	steps := []struct {
		key  string
		want codes.Code
	}{
		{keyReadOnly, codes.Unavailable},
		{keyReadOnly, codes.OK},
		{keyReadWrite, codes.Unavailable}, // its own count, not used up by the read-only key
		{keyReadWrite, codes.OK},
	}
	for i, st := range steps {
		if got := get(st.key); got != st.want {
			t.Errorf("step %d: Get with %s and error-count 1 = %v, want %v", i, st.key, got, st.want)
		}
	}
}

// TestRevokedKeysReload: a key listed while the server runs is refused once
// the file's change is seen, and at once after ReloadRevokedKeys.
func TestRevokedKeysReload(t *testing.T) {
	s := startSecuredServer(t)
	get := func(key string) codes.Code {
		_, err := call(t, s.conn, cachepb.Scs_Get_FullMethodName, false, key, securedCache)
		return status.Code(err)
	}
	first := s.keys[keyReadOnly]
	second := s.keys[keyReadWrite]
	if got := get(first); got != codes.OK {
		t.Fatalf("Get with a fresh key = %v, want OK", got)
	}
	if _, err := auth.AppendRevocation(s.revokedFile, "ro", "test"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for get(first) != codes.Unauthenticated {
		if time.Now().After(deadline) {
			t.Fatal("a key added to the revocation list is still accepted 10 s later")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// A forced reload does not wait for the poll: replace the file with one
	// of the same size and time the poll could miss, and reload.
	info, err := os.Stat(s.revokedFile)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(s.revokedFile)
	data = bytes.Replace(data, []byte("ro "), []byte("rw "), 1)
	if err := os.WriteFile(s.revokedFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(s.revokedFile, info.ModTime(), info.ModTime())
	if err := s.srv.ReloadRevokedKeys(); err != nil {
		t.Fatalf("ReloadRevokedKeys: %v", err)
	}
	if got, got2 := get(second), get(first); got != codes.Unauthenticated || got2 != codes.OK {
		t.Errorf("after the forced reload: Get with rw = %v, with ro = %v; want UNAUTHENTICATED, OK", got, got2)
	}

	// A broken reload keeps the list in force.
	if err := os.Remove(s.revokedFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(s.revokedFile, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := s.srv.ReloadRevokedKeys(); err == nil {
		t.Error("ReloadRevokedKeys of a directory: no error")
	}
	if got := get(second); got != codes.Unauthenticated {
		t.Errorf("after a failed reload: Get with a revoked key = %v, want UNAUTHENTICATED", got)
	}
}

// TestAdminNeedsSuperuserKey: with auth on, /block and /unblock need a
// superuser key valid for every cache, and refused requests block nothing.
func TestAdminNeedsSuperuserKey(t *testing.T) {
	s := startSecuredServer(t)
	tests := []struct {
		name   string
		header string
		want   int
	}{
		{"no key", "", http.StatusUnauthorized},
		{"garbage", "Bearer not-a-token", http.StatusUnauthorized},
		{"wrong secret", s.keys[keyWrongSecret], http.StatusUnauthorized},
		{"alg none", s.keys[keyAlgNone], http.StatusUnauthorized},
		{"expired", s.keys[keyExpired], http.StatusUnauthorized},
		{"revoked", s.keys[keyRevoked], http.StatusUnauthorized},
		{"read-write", s.keys[keyReadWrite], http.StatusForbidden},
		{"superuser of one cache", s.keys[keyOtherCache], http.StatusForbidden},
		{"superuser, bare", s.keys[keySuperuser], http.StatusOK},
		{"superuser, bearer", "Bearer " + s.keys[keySuperuser], http.StatusOK},
		{"superuser, the v1 key as printed", apikey.EncodeV1("127.0.0.1:8080", s.keys[keySuperuser]), http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, "http://"+s.srv.AdminAddr()+"/block", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("GET /block: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("GET /block with %s = %d, want %d", tt.name, resp.StatusCode, tt.want)
			}
			_, err = call(t, s.conn, cachepb.Scs_Get_FullMethodName, false, s.keys[keySuperuser], securedCache)
			if blocked := err != nil; blocked != (tt.want == http.StatusOK) {
				t.Errorf("after GET /block with %s: Get = %v, want blocked %v", tt.name, err, tt.want == http.StatusOK)
			}
			if tt.want == http.StatusOK {
				req.URL.Path = "/unblock"
				if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("GET /unblock: %v, %v", resp, err)
				}
				waitUntilServing(t, s)
			}
		})
	}
}

// waitUntilServing waits for the service port to answer again after /unblock.
func waitUntilServing(t *testing.T, s *securedServer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := call(t, s.conn, cachepb.Scs_Get_FullMethodName, false, s.keys[keySuperuser], securedCache)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("service still refuses calls 10 s after /unblock: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestInsecureBind: an address other hosts can reach needs TLS and auth on
// the service port (and the admin port, always plain HTTP, is exposed),
// unless InsecureBind accepts it with a warning.
func TestInsecureBind(t *testing.T) {
	tlsFiles, err := certs.WriteLocalCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	secret := bytes.Repeat([]byte("s"), 32)
	tests := []struct {
		name      string
		cfg       server.Config
		refused   bool
		wantWarns []string
	}{
		{"loopback, plaintext, no auth", server.Config{Addr: "127.0.0.1:0"}, false, nil},
		{"all interfaces, plaintext, no auth", server.Config{Addr: "0.0.0.0:0"}, true, nil},
		{"all interfaces, TLS, no auth", server.Config{Addr: "0.0.0.0:0", TLSCertFile: tlsFiles.Cert, TLSKeyFile: tlsFiles.Key}, true, nil},
		{"all interfaces, auth, plaintext", server.Config{Addr: "0.0.0.0:0", AuthSecret: secret}, true, nil},
		{"all interfaces, TLS and auth", server.Config{Addr: "0.0.0.0:0", AuthSecret: secret, TLSCertFile: tlsFiles.Cert, TLSKeyFile: tlsFiles.Key}, false, nil},
		{"exposed admin port", server.Config{Addr: "127.0.0.1:0", EnableTestAdmin: true, AdminAddr: "0.0.0.0:0", AuthSecret: secret}, true, nil},
		{"accepted: plaintext without auth", server.Config{Addr: "0.0.0.0:0", InsecureBind: true}, false,
			[]string{"without TLS", "without auth"}},
		{"accepted: exposed admin port without auth", server.Config{Addr: "127.0.0.1:0", EnableTestAdmin: true, AdminAddr: "0.0.0.0:0", InsecureBind: true}, false,
			[]string{"test-admin port", "block the service port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			tt.cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			srv, err := server.Start(context.Background(), tt.cfg)
			if srv != nil {
				defer srv.Close()
			}
			if refused := errors.Is(err, server.ErrInsecureBind); refused != tt.refused || (err != nil && !refused) {
				t.Fatalf("Start(%s) error = %v, want refused %v", tt.name, err, tt.refused)
			}
			for _, want := range tt.wantWarns {
				if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), want) {
					t.Errorf("Start(%s) logs %q, want a warning mentioning %q", tt.name, logs.String(), want)
				}
			}
			if len(tt.wantWarns) == 0 && strings.Contains(logs.String(), "insecure bind") {
				t.Errorf("Start(%s) logs %q, want no insecure-bind warning", tt.name, logs.String())
			}
		})
	}
}
