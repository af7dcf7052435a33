package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/thaw-dev/thaw/api/pubsubpb"
	"github.com/thaw-dev/thaw/internal/apikey"
	"github.com/thaw-dev/thaw/internal/auth"
	"github.com/thaw-dev/thaw/internal/auth/authtest"
	"github.com/thaw-dev/thaw/internal/store"
	"github.com/thaw-dev/thaw/server"
)

// startServer starts a real server with the HTTP API on free loopback ports
// and stops it when the test ends. It returns the server and the API's base
// URL.
func startServer(t testing.TB, cfg server.Config) (*server.Server, string) {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	cfg.HTTPAddr = "127.0.0.1:0"
	srv, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("server.Start: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, "http://" + srv.HTTPAddr()
}

// response is what a request got back.
type response struct {
	status      int
	contentType string
	body        string
}

// do sends a request and reads the whole response. header holds header
// name and value pairs.
func do(t testing.TB, method, target string, body []byte, header ...string) response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatalf("NewRequest(%s %s): %v", method, target, err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, target, err)
	}
	return response{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: string(data)}
}

// itemURL is the URL of an item with its key in the key parameter.
func itemURL(base, cache string, key []byte, extra ...string) string {
	q := url.Values{"key": {string(key)}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Add(extra[i], extra[i+1])
	}
	return base + "/cache/" + url.PathEscape(cache) + "?" + q.Encode()
}

func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// TestHTTPItemRoundTrip: set, get, miss and delete over HTTP, with text and
// binary keys and values, the key given either way, reaching the same store
// items as the gRPC port.
func TestHTTPItemRoundTrip(t *testing.T) {
	srv, base := startServer(t, server.Config{CreateCaches: []string{"c"}})
	tests := []struct {
		name       string
		key, value []byte
	}{
		{"text", []byte("greeting"), []byte("hello")},
		{"binary key and value", []byte{0, 0xff, '/', '&', '=', '+', ' ', '%', '?', '#', 0x80}, allBytes()},
		{"empty value", []byte("empty"), []byte{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := do(t, "PUT", itemURL(base, "c", tt.key, "ttl_seconds", "60"), tt.value); got.status != http.StatusNoContent || got.body != "" {
				t.Fatalf("PUT = %d %q, want 204 and no body", got.status, got.body)
			}
			stored, found, err := srv.Store().Get(context.Background(), "c", tt.key)
			if err != nil || !found || !bytes.Equal(stored, tt.value) {
				t.Fatalf("store Get(%q) = %q, %v, %v; want %q", tt.key, stored, found, err, tt.value)
			}
			for _, target := range []string{
				itemURL(base, "c", tt.key),
				base + "/cache/c?key_base64=" + base64.RawURLEncoding.EncodeToString(tt.key),
				base + "/cache/c?key_base64=" + url.QueryEscape(base64.StdEncoding.EncodeToString(tt.key)),
			} {
				got := do(t, "GET", target, nil)
				if got.status != http.StatusOK || got.body != string(tt.value) || got.contentType != "application/octet-stream" {
					t.Errorf("GET %s = %d %q %q, want 200 %q application/octet-stream", target, got.status, got.contentType, got.body, tt.value)
				}
			}
			if got := do(t, "DELETE", itemURL(base, "c", tt.key), nil); got.status != http.StatusNoContent {
				t.Errorf("DELETE = %d %q, want 204", got.status, got.body)
			}
			if got := do(t, "GET", itemURL(base, "c", tt.key), nil); got.status != http.StatusNotFound || got.body != "Key Not Found\n" {
				t.Errorf("GET after DELETE = %d %q, want 404 \"Key Not Found\"", got.status, got.body)
			}
		})
	}
	if got := do(t, "DELETE", itemURL(base, "c", []byte("never-set")), nil); got.status != http.StatusNoContent {
		t.Errorf("DELETE of a missing key = %d %q, want 204", got.status, got.body)
	}
}

// TestHTTPTTL: ttl_seconds becomes the item's TTL.
func TestHTTPTTL(t *testing.T) {
	srv, base := startServer(t, server.Config{CreateCaches: []string{"c"}})
	if got := do(t, "PUT", itemURL(base, "c", []byte("k"), "ttl_seconds", "90"), []byte("v")); got.status != http.StatusNoContent {
		t.Fatalf("PUT = %d %q, want 204", got.status, got.body)
	}
	ttl, found, err := srv.Store().ItemTTL(context.Background(), "c", []byte("k"))
	if err != nil || !found || ttl <= 80*time.Second || ttl > 90*time.Second {
		t.Errorf("ItemTTL = %v, %v, %v; want about 90s", ttl, found, err)
	}
}

// TestHTTPBadRequests: every way to get a request wrong is a 4xx with a
// readable message, as the docs give them.
func TestHTTPBadRequests(t *testing.T) {
	srv, base := startServer(t, server.Config{
		CreateCaches: []string{"c"},
		Limits:       store.Limits{MaxTTL: time.Hour, MaxItemSize: 1 << 10},
	})
	if err := srv.Store().DictionarySet(context.Background(), "c", []byte("dict"),
		[]store.DictionaryField{{Field: []byte("f"), Value: []byte("v")}}, store.CollectionWrite{TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, target string
		body                 []byte
		header               []string
		status               int
		want                 string // in the body
	}{
		{"missing ttl_seconds", "PUT", "/cache/c?key=k", []byte("v"), nil, 400, "ttl_seconds is required"},
		{"ttl_seconds not a number", "PUT", "/cache/c?key=k&ttl_seconds=ten", []byte("v"), nil, 400, "whole number"},
		{"negative ttl_seconds", "PUT", "/cache/c?key=k&ttl_seconds=-1", []byte("v"), nil, 400, "whole number"},
		{"fractional ttl_seconds", "PUT", "/cache/c?key=k&ttl_seconds=1.5", []byte("v"), nil, 400, "whole number"},
		{"zero ttl_seconds", "PUT", "/cache/c?key=k&ttl_seconds=0", []byte("v"), nil, 400, "ttl must be positive"},
		{"ttl_seconds above the maximum", "PUT", "/cache/c?key=k&ttl_seconds=3601", []byte("v"), nil, 400, "exceeds the maximum"},
		{"ttl_seconds twice", "PUT", "/cache/c?key=k&ttl_seconds=1&ttl_seconds=2", []byte("v"), nil, 400, "once"},
		{"missing key", "GET", "/cache/c", nil, nil, 400, "key is missing"},
		{"empty key", "GET", "/cache/c?key=", nil, nil, 400, "key must not be empty"},
		{"key and key_base64", "GET", "/cache/c?key=k&key_base64=aw", nil, nil, 400, "not both"},
		{"two keys", "DELETE", "/cache/c?key=a&key=b", nil, nil, 400, "one key"},
		{"key_base64 not base64", "GET", "/cache/c?key_base64=%21%21", nil, nil, 400, "not base64"},
		{"malformed query", "GET", "/cache/c?key=%zz", nil, nil, 400, "malformed"},
		{"key in header and query", "GET", "/cache/c?key=k&token=t", nil, []string{"Authorization", "t"}, 400, "not both"},
		{"unknown cache, get", "GET", "/cache/nope?key=k", nil, nil, 404, "Cache Not Found"},
		{"unknown cache, set", "PUT", "/cache/nope?key=k&ttl_seconds=1", []byte("v"), nil, 404, "Cache Not Found"},
		{"unknown cache, delete", "DELETE", "/cache/nope?key=k", nil, nil, 404, "Cache Not Found"},
		{"unknown cache, publish", "POST", "/topics/nope/t", []byte("v"), nil, 404, "Cache Not Found"},
		{"invalid cache name", "GET", "/cache/%FF?key=k", nil, nil, 400, "UTF-8"},
		{"get of a dictionary", "GET", "/cache/c?key=dict", nil, nil, 400, ""},
		{"item too large", "PUT", "/cache/c?key=k&ttl_seconds=1", bytes.Repeat([]byte("v"), 1100), nil, 429, "item size"},
		{"request too large", "PUT", "/cache/c?key=k&ttl_seconds=1", bytes.Repeat([]byte("v"), 4<<10), nil, 429, "request limit"},
		{"request just over the limit", "PUT", "/cache/c?key=k&ttl_seconds=1", bytes.Repeat([]byte("v"), 2045), nil, 429, "request limit"},
		{"text that is not UTF-8", "POST", "/topics/c/t", []byte{0xff}, []string{"Content-Type", "text/plain"}, 400, "UTF-8"},
		{"wrong method", "POST", "/cache/c?key=k", nil, nil, 405, ""},
		{"long-poll subscribe, not served", "GET", "/topics/c/t", nil, nil, 405, ""},
		{"unknown path", "GET", "/caches/c?key=k", nil, nil, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(t, tt.method, base+tt.target, tt.body, tt.header...)
			if got.status != tt.status || !strings.Contains(got.body, tt.want) {
				t.Errorf("%s %s = %d %q, want %d with %q", tt.method, tt.target, got.status, got.body, tt.status, tt.want)
			}
			if got.status >= 400 && !strings.HasPrefix(got.contentType, "text/plain") {
				t.Errorf("%s %s: Content-Type %q, want text/plain", tt.method, tt.target, got.contentType)
			}
		})
	}
	if _, found, _ := srv.Store().Get(context.Background(), "c", []byte("k")); found {
		t.Error("a refused PUT stored its item")
	}
}

// TestHTTPAuth: with auth on, the HTTP routes apply the gRPC port's policy:
// 401 without a good key, 403 when the key does not allow the call, and the
// key checked before the parameters.
func TestHTTPAuth(t *testing.T) {
	secret := bytes.Repeat([]byte("s"), 32)
	_, base := startServer(t, server.Config{AuthSecret: secret, CreateCaches: []string{"a", "b"}})
	key := authtest.Signer(t, secret)
	other, _ := auth.NewSigner(bytes.Repeat([]byte("x"), 32))
	forged, _ := other.Sign(auth.Claims{Role: auth.RoleSuperuser})
	readOnly := key(auth.Claims{Role: auth.RoleReadOnly})
	readWrite := key(auth.Claims{Role: auth.RoleReadWrite})
	// A v1 key whose base64 has '+' and '/': sent unescaped in a query, its
	// '+' arrives as a space.
	v1 := apikey.EncodeV1("host:1>>>???", readWrite)
	if !strings.ContainsAny(v1, "+/") {
		t.Fatalf("test key %q has neither '+' nor '/'", v1)
	}
	tests := []struct {
		name, method, target string
		header               []string
		status               int
	}{
		{"no key", "GET", "/cache/a?key=k", nil, 401},
		{"no key, bad parameters", "PUT", "/cache/a?key=k", nil, 401},
		{"no key, unknown cache", "GET", "/cache/nope?key=k", nil, 401},
		{"garbage key", "GET", "/cache/a?key=k", []string{"Authorization", "not-a-token"}, 401},
		{"forged key", "GET", "/cache/a?key=k&token=" + forged, nil, 401},
		{"expired key", "GET", "/cache/a?key=k", []string{"Authorization", key(auth.Claims{Role: auth.RoleSuperuser, ExpiresAt: time.Now().Add(-time.Minute)})}, 401},
		{"read-only key reads", "GET", "/cache/a?key=k", []string{"Authorization", readOnly}, 404},
		{"read-only key writes", "PUT", "/cache/a?key=k&ttl_seconds=9", []string{"Authorization", readOnly}, 403},
		{"read-only key deletes", "DELETE", "/cache/a?key=k", []string{"Authorization", readOnly}, 403},
		{"read-only key publishes", "POST", "/topics/a/t", []string{"Authorization", readOnly}, 403},
		{"read-write key writes", "PUT", "/cache/a?key=k&ttl_seconds=9", []string{"Authorization", readWrite}, 204},
		{"read-write key as Bearer", "PUT", "/cache/a?key=k&ttl_seconds=9", []string{"Authorization", "Bearer " + readWrite}, 204},
		{"read-write key in the query", "PUT", "/cache/a?key=k&ttl_seconds=9&token=" + readWrite, nil, 204},
		{"whole v1 key, escaped", "PUT", "/cache/a?key=k&ttl_seconds=9&token=" + url.QueryEscape(v1), nil, 204},
		{"whole v1 key, unescaped", "PUT", "/cache/a?key=k&ttl_seconds=9&token=" + v1, nil, 204},
		{"whole v1 key in the header", "DELETE", "/cache/a?key=k", []string{"Authorization", v1}, 204},
		{"read-write key publishes", "POST", "/topics/a/t", []string{"Authorization", readWrite}, 204},
		{"key for another cache", "GET", "/cache/a?key=k", []string{"Authorization", key(auth.Claims{Role: auth.RoleSuperuser, Caches: []string{"b"}})}, 403},
		{"key for another cache publishes", "POST", "/topics/a/t", []string{"Authorization", key(auth.Claims{Role: auth.RoleSuperuser, Caches: []string{"b"}})}, 403},
		{"key for this cache", "GET", "/cache/b?key=k", []string{"Authorization", key(auth.Claims{Role: auth.RoleReadOnly, Caches: []string{"b"}})}, 404},
		{"good key, unknown cache", "GET", "/cache/nope?key=k", []string{"Authorization", readOnly}, 404},
		{"good key, bad parameters", "PUT", "/cache/a?key=k", []string{"Authorization", readWrite}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(t, tt.method, base+tt.target, []byte("v"), tt.header...)
			if got.status != tt.status {
				t.Errorf("%s %s = %d %q, want %d", tt.method, tt.target, got.status, got.body, tt.status)
			}
		})
	}
}

// TestHTTPPublishReachesGRPCSubscribers: an item published over HTTP reaches a
// gRPC subscriber, as text for text/plain and as binary otherwise, and the
// publish rate limit is one budget for both ports.
func TestHTTPPublishReachesGRPCSubscribers(t *testing.T) {
	srv, base := startServer(t, server.Config{
		CreateCaches: []string{"c"},
		Limits:       store.Limits{MaxTopicPublishRate: 5},
	})
	conn, err := grpc.NewClient(srv.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pubsub := pubsubpb.NewPubsubClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub, err := pubsub.Subscribe(ctx, &pubsubpb.XSubscriptionRequest{CacheName: proto.String("c"), Topic: proto.String("t"),
		ResumeAtTopicSequenceNumber: proto.Uint64(0), SequencePage: proto.Uint64(0)})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := sub.Recv(); err != nil || m.GetHeartbeat() == nil {
		t.Fatalf("first message = %v, %v; want a heartbeat", m, err)
	}
	sends := []struct {
		contentType string
		body        []byte
		want        string
	}{
		{"text/plain", []byte("hello"), `text "hello"`},
		{"text/plain; charset=utf-8", []byte("héllo"), `text "héllo"`},
		{"application/octet-stream", []byte{0, 0xff}, `binary "\x00\xff"`},
		{"", []byte("no type"), `binary "no type"`},
	}
	for _, s := range sends {
		got := do(t, "POST", base+"/topics/c/t", s.body, "Content-Type", s.contentType)
		if got.status != http.StatusNoContent {
			t.Fatalf("POST (%s) = %d %q, want 204", s.contentType, got.status, got.body)
		}
		var item *pubsubpb.XTopicItem
		for item == nil {
			m, err := sub.Recv()
			if err != nil {
				t.Fatalf("Recv() = %v", err)
			}
			item = m.GetItem()
		}
		var kind string
		switch v := item.GetValue().GetKind().(type) {
		case *pubsubpb.XTopicValue_Text:
			kind = fmt.Sprintf("text %q", v.Text)
		case *pubsubpb.XTopicValue_Binary:
			kind = fmt.Sprintf("binary %q", v.Binary)
		}
		if kind != s.want {
			t.Errorf("POST (%s) %q reached the subscriber as %s, want %s", s.contentType, s.body, kind, s.want)
		}
	}
	// Four HTTP publishes used most of the five a second; one over gRPC
	// takes the last, and the next over HTTP is refused.
	if _, err := pubsub.Publish(ctx, &pubsubpb.XPublishRequest{CacheName: proto.String("c"), Topic: proto.String("t"),
		Value: &pubsubpb.XTopicValue{Kind: &pubsubpb.XTopicValue_Text{Text: "grpc"}}}); err != nil {
		t.Fatalf("gRPC Publish = %v", err)
	}
	if got := do(t, "POST", base+"/topics/c/t", []byte("over"), "Content-Type", "text/plain"); got.status != http.StatusTooManyRequests {
		t.Errorf("sixth publish within a second = %d %q, want 429", got.status, got.body)
	}
}

// TestHTTPMetrics: HTTP requests are counted on the server's registry, by route
// and status code.
func TestHTTPMetrics(t *testing.T) {
	srv, base := startServer(t, server.Config{CreateCaches: []string{"c"}, MetricsAddr: "127.0.0.1:0"})
	do(t, "GET", base+"/cache/c?key=k", nil)
	do(t, "PUT", base+"/cache/c?key=k&ttl_seconds=5", []byte("v"))
	do(t, "GET", base+"/nowhere", nil)
	got := do(t, "GET", "http://"+srv.MetricsAddr()+"/metrics", nil).body
	for _, want := range []string{
		`thaw_http_requests_total{code="404",route="GET /cache/{cache}"} 1`,
		`thaw_http_requests_total{code="204",route="PUT /cache/{cache}"} 1`,
		`thaw_http_requests_total{code="404",route="unmatched"} 1`,
		`thaw_http_request_duration_seconds_count{route="GET /cache/{cache}"} 1`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
