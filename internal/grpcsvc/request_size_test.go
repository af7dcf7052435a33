package grpcsvc_test

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/internal/grpcsvc"
	"github.com/thaw-dev/thaw/internal/store"
)

func TestCodeOfSizeLimits(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want codes.Code
	}{
		{"item too large", fmt.Errorf("memory: set: %w", store.ErrItemTooLarge), codes.ResourceExhausted},
		{"request too large", fmt.Errorf("/cache_client.Scs/Set: %w", store.ErrRequestTooLarge), codes.ResourceExhausted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := grpcsvc.Code(tt.err); got != tt.want {
				t.Errorf("Code(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// TestRequestSizeInterceptors checks the request limit on unary and
// streaming calls, against an item size limit of 100 bytes (so a request
// limit of 100 + store.RequestOverhead): the service's error, with its
// trailer, for the request; the item limit for an item within it.
func TestRequestSizeInterceptors(t *testing.T) {
	limits := store.Limits{MaxItemSize: 100}
	client, _ := serveCache(t, limits)
	overRequest := limits.WithDefaults().MaxRequestSize
	const (
		itemCause    = "item_size_limit_exceeded"
		requestCause = "request_size_limit_exceeded"
	)
	set := func(key string, size int) *cachepb.XSetRequest {
		return &cachepb.XSetRequest{CacheKey: []byte(key), CacheBody: make([]byte, size), TtlMilliseconds: 60_000}
	}
	manyKeys := func(n, size int) [][]byte {
		keys := make([][]byte, n)
		for i := range keys {
			keys[i] = bytes.Repeat([]byte{byte('a' + i%26)}, size)
		}
		return keys
	}
	// stream reads a server stream to its end and returns its error.
	stream := func(s grpc.ClientStream, recv func() error) (metadata.MD, error) {
		var err error
		for err == nil {
			err = recv()
		}
		if err == io.EOF {
			err = nil
		}
		return s.Trailer(), err
	}
	tests := []struct {
		name  string
		call  func(t *testing.T) (metadata.MD, error)
		cause string // "" for success
	}{
		{"Set within both limits", func(t *testing.T) (metadata.MD, error) {
			var md metadata.MD
			_, err := client.Set(inCache(t), set("k", 99), grpc.Trailer(&md))
			return md, err
		}, ""},
		{"Set over the item limit only", func(t *testing.T) (metadata.MD, error) {
			var md metadata.MD
			_, err := client.Set(inCache(t), set("k", 100), grpc.Trailer(&md))
			return md, err
		}, itemCause},
		{"Set over the request limit", func(t *testing.T) (metadata.MD, error) {
			var md metadata.MD
			_, err := client.Set(inCache(t), set("k", overRequest), grpc.Trailer(&md))
			return md, err
		}, requestCause},
		{"KeysExist of many keys over the request limit", func(t *testing.T) (metadata.MD, error) {
			var md metadata.MD
			_, err := client.KeysExist(inCache(t), &cachepb.XKeysExistRequest{CacheKeys: manyKeys(20, 60)}, grpc.Trailer(&md))
			return md, err
		}, requestCause},
		{"SetBatch of items within the limits, over it in all", func(t *testing.T) (metadata.MD, error) {
			items := []*cachepb.XSetRequest{set("a", 90), set("b", 90)}
			for range 20 {
				items = append(items, set("c", 90))
			}
			s, err := client.SetBatch(inCache(t), &cachepb.XSetBatchRequest{Items: items})
			if err != nil {
				return nil, err
			}
			return stream(s, func() error { _, err := s.Recv(); return err })
		}, ""},
		{"SetBatch with an item over the request limit", func(t *testing.T) (metadata.MD, error) {
			s, err := client.SetBatch(inCache(t), &cachepb.XSetBatchRequest{Items: []*cachepb.XSetRequest{set("a", 1), set("b", overRequest)}})
			if err != nil {
				return nil, err
			}
			return stream(s, func() error { _, err := s.Recv(); return err })
		}, requestCause},
		{"GetBatch of many keys, over the limit in all", func(t *testing.T) (metadata.MD, error) {
			var items []*cachepb.XGetRequest
			for _, k := range manyKeys(20, 60) {
				items = append(items, &cachepb.XGetRequest{CacheKey: k})
			}
			s, err := client.GetBatch(inCache(t), &cachepb.XGetBatchRequest{Items: items})
			if err != nil {
				return nil, err
			}
			return stream(s, func() error { _, err := s.Recv(); return err })
		}, ""},
		{"GetBatch with a key over the request limit", func(t *testing.T) (metadata.MD, error) {
			s, err := client.GetBatch(inCache(t), &cachepb.XGetBatchRequest{Items: []*cachepb.XGetRequest{{CacheKey: make([]byte, overRequest)}}})
			if err != nil {
				return nil, err
			}
			return stream(s, func() error { _, err := s.Recv(); return err })
		}, requestCause},
	}
	words := map[string]string{itemCause: "item size", requestCause: "request limit"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trailer, err := tt.call(t)
			if tt.cause == "" {
				if err != nil {
					t.Fatalf("%s = %v, want success", tt.name, err)
				}
				return
			}
			if status.Code(err) != codes.ResourceExhausted {
				t.Fatalf("%s = %v, want RESOURCE_EXHAUSTED", tt.name, err)
			}
			if got := trailer.Get("err"); !slices.Equal(got, []string{tt.cause}) {
				t.Errorf("%s: trailer err = %q, want [%s]", tt.name, got, tt.cause)
			}
			// The Node SDK picks its wording from these words in the
			// message, and would pick an earlier limit on "operations",
			// "throughput" or "subscribers".
			msg := strings.ToLower(status.Convert(err).Message())
			if !strings.Contains(msg, words[tt.cause]) {
				t.Errorf("%s: message %q lacks %q", tt.name, msg, words[tt.cause])
			}
			for _, earlier := range []string{"subscribers", "operations", "throughput"} {
				if strings.Contains(msg, earlier) {
					t.Errorf("%s: message %q has %q, which the Node SDK reads as another limit", tt.name, msg, earlier)
				}
			}
		})
	}
}
