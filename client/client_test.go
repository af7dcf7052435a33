package client_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/thaw-dev/thaw/client"
	"github.com/thaw-dev/thaw/internal/apikey"
	"github.com/thaw-dev/thaw/internal/auth"
	"github.com/thaw-dev/thaw/internal/store"
	"github.com/thaw-dev/thaw/server"
)

func TestScalarOperations(t *testing.T) {
	t.Parallel()
	srv := startServer(t, server.Config{})
	c := newClient(t, client.Laptop(), client.LocalCredentials(srv.Addr()))
	ctx := t.Context()
	key, value := []byte("k"), []byte{0, 1, 2, 255}

	if _, found, err := c.Get(ctx, "c", key); err != nil || found {
		t.Fatalf("Get(missing) = found %v, %v; want a miss", found, err)
	}
	if err := c.Set(ctx, "c", key, value, time.Minute); err != nil {
		t.Fatalf("Set: %v", err)
	}
	got, found, err := c.Get(ctx, "c", key)
	if err != nil || !found || !bytes.Equal(got, value) {
		t.Fatalf("Get = %q, %v, %v; want %q, true, nil", got, found, err, value)
	}
	if err := c.Set(ctx, "c", []byte("empty"), nil, 0); err != nil {
		t.Fatalf("Set(empty value, default TTL): %v", err)
	}
	if got, found, err := c.Get(ctx, "c", []byte("empty")); err != nil || !found || got == nil || len(got) != 0 {
		t.Fatalf("Get(empty) = %q (nil %v), %v, %v; want an empty non-nil hit", got, got == nil, found, err)
	}
	if ttl, found, err := c.ItemTTL(ctx, "c", []byte("empty")); err != nil || !found || ttl <= 0 || ttl > client.Laptop().DefaultTTL {
		t.Fatalf("ItemTTL(default TTL) = %v, %v, %v; want found within DefaultTTL", ttl, found, err)
	}

	results, err := c.GetBatch(ctx, "c", [][]byte{key, []byte("nope")})
	if err != nil {
		t.Fatalf("GetBatch: %v", err)
	}
	if diff := cmp.Diff([]client.GetResult{{Value: value, Found: true}, {}}, results); diff != "" {
		t.Fatalf("GetBatch (-want +got):\n%s", diff)
	}
	items := []client.SetItem{{Key: []byte("b1"), Value: []byte("v1")}, {Key: []byte("b2"), Value: []byte("v2"), TTL: time.Hour}}
	if err := c.SetBatch(ctx, "c", items); err != nil {
		t.Fatalf("SetBatch: %v", err)
	}
	exists, err := c.KeysExist(ctx, "c", [][]byte{[]byte("b1"), []byte("nope"), []byte("b2")})
	if err != nil || !slices.Equal(exists, []bool{true, false, true}) {
		t.Fatalf("KeysExist = %v, %v; want [true false true]", exists, err)
	}

	setIf := []struct {
		name string
		cond client.Condition
		want bool
	}{
		{"present on existing", client.IfPresent(), true},
		{"absent on existing", client.IfAbsent(), false},
		{"equal to other", client.IfEqual([]byte("x")), false},
		{"equal to current", client.IfEqual([]byte("v3")), true},
		{"not equal to current", client.IfNotEqual([]byte("v3")), false},
		{"present and not equal", client.IfPresentAndNotEqual([]byte("zz")), true},
		{"absent or equal", client.IfAbsentOrEqual([]byte("v3")), true},
	}
	for _, tc := range setIf {
		stored, err := c.SetIf(ctx, "c", key, []byte("v3"), 0, tc.cond)
		if err != nil || stored != tc.want {
			t.Errorf("SetIf(%s) = %v, %v; want %v", tc.name, stored, err, tc.want)
		}
	}
	if _, err := c.SetIf(ctx, "c", key, value, 0, client.Condition{}); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("SetIf(zero condition) = %v; want ErrInvalidArgument", err)
	}
	if stored, err := c.SetIfNotExists(ctx, "c", key, value, 0); err != nil || stored {
		t.Errorf("SetIfNotExists(existing) = %v, %v; want false", stored, err)
	}
	if stored, err := c.SetIfNotExists(ctx, "c", []byte("fresh"), value, 0); err != nil || !stored {
		t.Errorf("SetIfNotExists(fresh) = %v, %v; want true", stored, err)
	}

	if n, err := c.Increment(ctx, "c", []byte("n"), 5, 0); err != nil || n != 5 {
		t.Errorf("Increment(missing, 5) = %d, %v; want 5", n, err)
	}
	if n, err := c.Increment(ctx, "c", []byte("n"), -2, 0); err != nil || n != 3 {
		t.Errorf("Increment(-2) = %d, %v; want 3", n, err)
	}
	if _, err := c.Increment(ctx, "c", key, 1, 0); !errors.Is(err, client.ErrFailedPrecondition) {
		t.Errorf("Increment(non-integer) = %v; want ErrFailedPrecondition", err)
	}

	updates := []struct {
		name   string
		update client.TTLUpdate
		key    string
		want   client.TTLUpdateResult
	}{
		{"increase to less", client.IncreaseTTLTo(time.Second), "b2", client.TTLNotUpdated},
		{"decrease", client.DecreaseTTLTo(10 * time.Minute), "b2", client.TTLUpdated},
		{"overwrite", client.OverwriteTTL(2 * time.Hour), "b2", client.TTLUpdated},
		{"missing", client.OverwriteTTL(time.Hour), "nope", client.TTLKeyMissing},
	}
	for _, tc := range updates {
		got, err := c.UpdateTTL(ctx, "c", []byte(tc.key), tc.update)
		if err != nil || got != tc.want {
			t.Errorf("UpdateTTL(%s) = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if ttl, found, err := c.ItemTTL(ctx, "c", []byte("b2")); err != nil || !found || ttl <= time.Hour || ttl > 2*time.Hour {
		t.Errorf("ItemTTL(b2) = %v, %v, %v; want found, in (1h, 2h]", ttl, found, err)
	}
	if _, found, err := c.ItemTTL(ctx, "c", []byte("nope")); err != nil || found {
		t.Errorf("ItemTTL(missing) = found %v, %v; want not found", found, err)
	}
	if typ, found, err := c.ItemType(ctx, "c", key); err != nil || !found || typ != client.ItemScalar {
		t.Errorf("ItemType = %v, %v, %v; want scalar", typ, found, err)
	}
	if _, found, err := c.ItemType(ctx, "c", []byte("nope")); err != nil || found {
		t.Errorf("ItemType(missing) = found %v, %v; want not found", found, err)
	}

	if err := c.Delete(ctx, "c", key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, found, err := c.Get(ctx, "c", key); err != nil || found {
		t.Fatalf("Get after Delete = found %v, %v; want a miss", found, err)
	}
	if err := c.Delete(ctx, "c", key); err != nil {
		t.Fatalf("Delete(missing) = %v; want nil", err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func TestControlOperations(t *testing.T) {
	t.Parallel()
	srv := startServer(t, server.Config{})
	c := newClient(t, client.Laptop(), client.LocalCredentials(srv.Addr()))
	ctx := t.Context()

	if created, err := c.CreateCache(ctx, "orders"); err != nil || !created {
		t.Fatalf("CreateCache(orders) = %v, %v; want created", created, err)
	}
	if created, err := c.CreateCache(ctx, "orders"); err != nil || created {
		t.Fatalf("CreateCache(orders) again = %v, %v; want false, nil (already exists is a success)", created, err)
	}
	names, err := c.ListCaches(ctx)
	slices.Sort(names)
	if err != nil || !slices.Equal(names, []string{"c", "orders"}) {
		t.Fatalf("ListCaches = %q, %v; want [c orders]", names, err)
	}
	if err := c.Set(ctx, "orders", []byte("k"), []byte("v"), 0); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if err := c.FlushCache(ctx, "orders"); err != nil {
		t.Fatalf("FlushCache: %v", err)
	}
	if _, found, err := c.Get(ctx, "orders", []byte("k")); err != nil || found {
		t.Fatalf("Get after FlushCache = found %v, %v; want a miss", found, err)
	}
	if err := c.DeleteCache(ctx, "orders"); err != nil {
		t.Fatalf("DeleteCache: %v", err)
	}
	for name, err := range map[string]error{
		"DeleteCache(missing)": c.DeleteCache(ctx, "orders"),
		"FlushCache(missing)":  c.FlushCache(ctx, "orders"),
		"Set(missing cache)":   c.Set(ctx, "orders", []byte("k"), []byte("v"), 0),
	} {
		if !errors.Is(err, client.ErrCacheNotFound) {
			t.Errorf("%s = %v; want ErrCacheNotFound", name, err)
		}
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	srv := startServer(t, server.Config{Limits: store.Limits{MaxItemSize: 1000}})
	c := newClient(t, client.Laptop(), client.LocalCredentials(srv.Addr()))
	ctx := t.Context()

	_, _, err := c.Get(ctx, "nope", []byte("k"))
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Code != client.CodeCacheNotFound || ce.Op != "Get" {
		t.Fatalf("Get(missing cache) = %v; want *Error with CodeCacheNotFound and Op Get", err)
	}
	if !errors.Is(err, client.ErrCacheNotFound) || errors.Is(err, client.ErrNotFound) {
		t.Errorf("errors.Is(%v, ErrCacheNotFound) must hold and ErrNotFound must not", err)
	}
	if status.Code(err) != codes.NotFound {
		t.Errorf("status.Code(%v) = %v; want the gRPC cause NotFound", err, status.Code(err))
	}

	cases := []struct {
		name string
		err  error
		want error
	}{
		{"oversize Set", c.Set(ctx, "c", []byte("k"), make([]byte, 2000), 0), client.ErrLimitExceeded},
		{"empty key", c.Set(ctx, "c", nil, []byte("v"), 0), client.ErrInvalidArgument},
		{"TTL beyond the maximum", c.Set(ctx, "c", []byte("k"), []byte("v"), 48*time.Hour), client.ErrInvalidArgument},
		{"negative TTL", c.Set(ctx, "c", []byte("k"), []byte("v"), -time.Second), client.ErrInvalidArgument},
		{"empty cache name", c.Delete(ctx, "", []byte("k")), client.ErrInvalidArgument},
	}
	for _, tc := range cases {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s = %v; want %v", tc.name, tc.err, tc.want)
		}
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := c.Get(cancelled, "c", []byte("k")); !errors.Is(err, client.ErrCancelled) {
		t.Errorf("Get(cancelled context) = %v; want ErrCancelled", err)
	}
	c.Close()
	if _, _, err := c.Get(ctx, "c", []byte("k")); !errors.Is(err, client.ErrCancelled) {
		t.Errorf("Get after Close = %v; want ErrCancelled", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close = %v; want nil", err)
	}
}

func TestAPIKeyCredentials(t *testing.T) {
	t.Parallel()
	secret, err := auth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := auth.NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, server.Config{AuthSecret: secret})
	key := func(role auth.Role) string {
		tok, err := signer.Sign(auth.Claims{Role: role})
		if err != nil {
			t.Fatal(err)
		}
		return apikey.EncodeV1(srv.Addr(), tok)
	}
	ctx := t.Context()

	creds, err := client.APIKeyCredentials(key(auth.RoleSuperuser), "", false)
	if err != nil {
		t.Fatalf("APIKeyCredentials: %v", err)
	}
	if creds.Endpoint() != srv.Addr() || creds.TLS() {
		t.Fatalf("credentials = %v; want the key's endpoint %s, plaintext", creds, srv.Addr())
	}
	admin := newClient(t, client.Laptop(), creds)
	if _, err := admin.CreateCache(ctx, "x"); err != nil {
		t.Fatalf("CreateCache with a superuser key: %v", err)
	}
	if err := admin.Set(ctx, "x", []byte("k"), []byte("v"), 0); err != nil {
		t.Fatalf("Set with a superuser key: %v", err)
	}

	ro, err := client.APIKeyCredentials(key(auth.RoleReadOnly), srv.Addr(), false)
	if err != nil {
		t.Fatal(err)
	}
	reader := newClient(t, client.Laptop(), ro)
	if _, found, err := reader.Get(ctx, "x", []byte("k")); err != nil || !found {
		t.Errorf("Get with a read-only key = %v, %v; want a hit", found, err)
	}
	if err := reader.Set(ctx, "x", []byte("k"), []byte("v"), 0); !errors.Is(err, client.ErrPermissionDenied) {
		t.Errorf("Set with a read-only key = %v; want ErrPermissionDenied", err)
	}

	for name, creds := range map[string]client.Credentials{
		"local (empty token)": client.LocalCredentials(srv.Addr()),
		"forged token":        client.EndpointCredentials(srv.Addr(), "not-a-token", nil),
	} {
		c := newClient(t, client.Laptop(), creds)
		if _, _, err := c.Get(ctx, "x", []byte("k")); !errors.Is(err, client.ErrUnauthenticated) {
			t.Errorf("Get with %s = %v; want ErrUnauthenticated", name, err)
		}
		if err := c.Ping(ctx); err != nil {
			t.Errorf("Ping with %s = %v; want nil (ping needs no key)", name, err)
		}
	}
	if _, err := client.APIKeyCredentials("not base64!", "", false); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("APIKeyCredentials(garbage) = %v; want ErrInvalidArgument", err)
	}
}

// TestRetries uses the server's momento-local fault injection to fail the
// first calls of an RPC, and checks that only idempotent calls are retried,
// at most Config.MaxAttempts times.
func TestRetries(t *testing.T) {
	t.Parallel()
	srv := startServer(t, server.Config{EnableTestAdmin: true})
	c := newClient(t, client.Laptop(), client.LocalCredentials(srv.Addr()))
	if err := c.Set(t.Context(), "c", []byte("k"), []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func(context.Context) error{
		"get": func(ctx context.Context) error { _, _, err := c.Get(ctx, "c", []byte("k")); return err },
		"set": func(ctx context.Context) error { return c.Set(ctx, "c", []byte("k"), []byte("v"), 0) },
		"set-if": func(ctx context.Context) error {
			_, err := c.SetIf(ctx, "c", []byte("k"), []byte("v"), 0, client.IfPresent())
			return err
		},
		"set-if-not-exists": func(ctx context.Context) error {
			_, err := c.SetIfNotExists(ctx, "c", []byte("k"), []byte("v"), 0)
			return err
		},
		"increment": func(ctx context.Context) error { _, err := c.Increment(ctx, "c", []byte("n"), 1, 0); return err },
		"update-ttl": func(ctx context.Context) error {
			_, err := c.UpdateTTL(ctx, "c", []byte("k"), client.OverwriteTTL(time.Hour))
			return err
		},
		"delete": func(ctx context.Context) error { return c.Delete(ctx, "c", []byte("gone")) },
	}
	cases := []struct {
		rpc      string
		failures string
		code     string
		want     error // nil: the call succeeds after retries
	}{
		{"get", "2", "unavailable", nil},
		{"get", "2", "internal", nil},
		{"get", "2", "cancelled", nil},
		{"get", "3", "unavailable", client.ErrUnavailable},
		{"get", "1", "deadline-exceeded", client.ErrTimeout},
		{"get", "1", "not-found", client.ErrCacheNotFound},
		{"set", "2", "unavailable", nil},
		{"delete", "2", "internal", nil},
		{"set-if", "1", "unavailable", client.ErrUnavailable},
		{"set-if-not-exists", "1", "unavailable", client.ErrUnavailable},
		{"increment", "1", "unavailable", client.ErrUnavailable},
		{"increment", "1", "internal", client.ErrInternal},
		{"update-ttl", "1", "unavailable", client.ErrUnavailable},
	}
	for i, tc := range cases {
		ctx := metadata.AppendToOutgoingContext(t.Context(),
			"request-id", "retry-"+string(rune('a'+i)), "return-error", tc.code, "error-rpcs", tc.rpc, "error-count", tc.failures)
		err := calls[tc.rpc](ctx)
		if (tc.want == nil && err != nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s failing %s times with %s = %v; want %v", tc.rpc, tc.failures, tc.code, err, tc.want)
		}
	}

	one := client.Laptop()
	one.MaxAttempts = 1
	c1 := newClient(t, one, client.LocalCredentials(srv.Addr()))
	ctx := metadata.AppendToOutgoingContext(t.Context(), "request-id", "max-attempts-1", "return-error", "unavailable", "error-rpcs", "get", "error-count", "1")
	if _, _, err := c1.Get(ctx, "c", []byte("k")); !errors.Is(err, client.ErrUnavailable) {
		t.Errorf("Get with MaxAttempts 1 failing once = %v; want ErrUnavailable", err)
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	bad := client.Laptop()
	bad.KeepaliveTime = 5 * time.Second
	if _, err := client.New(t.Context(), bad, client.LocalCredentials("127.0.0.1:1")); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("New(keepalive 5s) = %v; want ErrInvalidArgument", err)
	}
	if _, err := client.New(t.Context(), client.Laptop(), client.Credentials{}); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("New(zero credentials) = %v; want ErrInvalidArgument", err)
	}
	// An unreachable server is not an error for New; calls report it.
	cfg := client.Lambda()
	cfg.Timeout = 300 * time.Millisecond
	cfg.ProbeTimeout = 100 * time.Millisecond
	c := newClient(t, cfg, client.LocalCredentials("127.0.0.1:1"))
	if _, _, err := c.Get(t.Context(), "c", []byte("k")); !errors.Is(err, client.ErrUnavailable) && !errors.Is(err, client.ErrTimeout) {
		t.Errorf("Get(unreachable) = %v; want ErrUnavailable or ErrTimeout", err)
	}
}
