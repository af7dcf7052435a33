// Package httpapi serves Momento's HTTP API: plain HTTP(S) access to cache
// items and topic publishing for clients that cannot speak gRPC (browsers,
// edge functions, shell scripts).
//
// Every route runs as the gRPC call it stands for, through the same
// services (grpcsvc.CacheService, grpcsvc.PubsubService) and the same
// interceptors (auth, request size, panic recovery) as the gRPC port: the
// HTTP GET of an item is authorized by the rule of Scs/Get, validated and
// limited by the code that serves Scs/Get, and its outcome is the gRPC
// status mapped to an HTTP status (see statusFor). The two surfaces cannot
// drift apart.
//
// The API's shape is Momento's, as documented at
// https://docs.momentohq.com/cache/develop/api-reference/http-api (source:
// github.com/momentohq/public-dev-docs, docs/cache/develop/api-reference/http-api.md)
// and https://docs.momentohq.com/topics/api-reference/http-api
// (docs/topics/api-reference/http-api.md):
//
//	GET    /cache/{cacheName}?key=K | key_base64=B64        200 value, 404 miss
//	PUT    /cache/{cacheName}?key=…&ttl_seconds=N  body     204
//	DELETE /cache/{cacheName}?key=…                         204
//	POST   /topics/{cacheName}/{topicName}         body     204
//
// The API key travels in the Authorization header or the token query
// parameter, never both.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/api/pubsubpb"
	"github.com/thaw-dev/thaw/internal/auth"
	"github.com/thaw-dev/thaw/internal/grpcsvc"
	"github.com/thaw-dev/thaw/internal/store"
)

// Config says what an API handler serves and how.
type Config struct {
	// Cache serves the item routes. Required. Give the instance the gRPC
	// server registers, so that both surfaces share one.
	Cache *grpcsvc.CacheService
	// Topics serves the publish route. Required. Give the instance the
	// gRPC server registers: the per-cache publish rate limit lives in it,
	// so publishes over HTTP and gRPC count against one budget.
	Topics *grpcsvc.PubsubService
	// Keys verifies API keys; nil turns auth off (any key, or none, is
	// accepted), as on the gRPC port without --auth-secret-file.
	Keys auth.KeyVerifier
	// Limits are the request limits; zero fields take the defaults. Give
	// the gRPC server's.
	Limits store.Limits
	// Registerer receives the HTTP request metrics (see newMetrics); nil
	// means none are kept.
	Registerer prometheus.Registerer
	// Logger receives handler panics. Nil discards them.
	Logger *slog.Logger
}

// api is the handler's state: the services and the interceptor chain that
// each route's call runs through.
type api struct {
	cache  *grpcsvc.CacheService
	topics *grpcsvc.PubsubService
	limits store.Limits
	// chain runs a call: recovery, then auth when on. The request-size
	// check and the service come after the route has built its request.
	chain []grpc.UnaryServerInterceptor
	size  grpc.UnaryServerInterceptor
}

// New returns the HTTP API handler. It fails when Cache or Topics is
// missing or the metrics cannot be registered.
func New(cfg Config) (http.Handler, error) {
	if cfg.Cache == nil || cfg.Topics == nil {
		return nil, errors.New("httpapi: Config needs Cache and Topics")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &api{
		cache:  cfg.Cache,
		topics: cfg.Topics,
		limits: cfg.Limits.WithDefaults(),
		chain:  []grpc.UnaryServerInterceptor{grpcsvc.RecoveryUnaryInterceptor(logger)},
		size:   grpcsvc.RequestSizeUnaryInterceptor(cfg.Limits),
	}
	if cfg.Keys != nil {
		// No Served function: every method named here is served.
		a.chain = append(a.chain, grpcsvc.AuthUnaryInterceptor(cfg.Keys, nil))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cache/{cache}", a.getItem)
	mux.HandleFunc("PUT /cache/{cache}", a.setItem)
	mux.HandleFunc("DELETE /cache/{cache}", a.deleteItem)
	mux.HandleFunc("POST /topics/{cache}/{topic}", a.publish)
	if cfg.Registerer == nil {
		return mux, nil
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return m.instrument(mux), nil
}

// cacheScope is the request the auth interceptor sees: the policy reads the
// cache of ScopeHeader rules from the "cache" metadata and of ScopeBody rules
// (Publish) from GetCacheName, so one value serves both.
type cacheScope string

// GetCacheName returns the cache the call acts on.
func (c cacheScope) GetCacheName() string { return string(c) }

// call runs one HTTP request as the gRPC call method on cache: recovery and
// auth first, so that only callers with a good key learn whether their
// parameters are right (parseRequest has only refused a malformed query or
// a key sent twice); then build, which reads the HTTP request into the
// protocol request (errBadRequest, or the request limit for an oversize
// body); then the request-size check and serve, the service's method.
func (a *api) call(r *http.Request, method, cache string, creds credentials, build func() (any, error), serve grpc.UnaryHandler) (any, error) {
	ctx := metadata.NewIncomingContext(r.Context(), metadata.Pairs(
		"authorization", creds.token,
		grpcsvc.CacheHeader, cache,
	))
	info := &grpc.UnaryServerInfo{FullMethod: method}
	inner := func(ctx context.Context, _ any) (any, error) {
		req, err := build()
		if err != nil {
			return nil, err
		}
		return a.size(ctx, req, info, serve)
	}
	handler := inner
	for i := len(a.chain) - 1; i >= 0; i-- {
		next, icpt := handler, a.chain[i]
		handler = func(ctx context.Context, req any) (any, error) { return icpt(ctx, req, info, next) }
	}
	return handler(ctx, cacheScope(cache))
}

// getItem answers GET /cache/{cache}: 200 with the value as
// application/octet-stream on a hit, 404 "Key Not Found" on a miss.
func (a *api) getItem(w http.ResponseWriter, r *http.Request) {
	q, creds, err := parseRequest(r)
	if err != nil {
		writeError(w, err)
		return
	}
	cache := r.PathValue("cache")
	resp, err := a.call(r, cachepb.Scs_Get_FullMethodName, cache, creds,
		func() (any, error) {
			key, err := itemKey(q)
			return &cachepb.XGetRequest{CacheKey: key}, err
		},
		func(ctx context.Context, req any) (any, error) { return a.cache.Get(ctx, req.(*cachepb.XGetRequest)) })
	if err != nil {
		writeError(w, err)
		return
	}
	got := resp.(*cachepb.XGetResponse)
	if got.GetResult() != cachepb.ECacheResult_Hit {
		// The docs tell a miss from an unknown cache by the body: "Key Not
		// Found" or "Cache Not Found".
		http.Error(w, "Key Not Found", http.StatusNotFound)
		return
	}
	// "Content-Type: octet-stream" in the docs' Hit response.
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(got.GetCacheBody())))
	w.WriteHeader(http.StatusOK)
	w.Write(got.GetCacheBody())
}

// setItem answers PUT /cache/{cache}: the body is the value, ttl_seconds is
// required; 204 once stored.
func (a *api) setItem(w http.ResponseWriter, r *http.Request) {
	q, creds, err := parseRequest(r)
	if err != nil {
		writeError(w, err)
		return
	}
	cache := r.PathValue("cache")
	_, err = a.call(r, cachepb.Scs_Set_FullMethodName, cache, creds,
		func() (any, error) {
			key, err := itemKey(q)
			if err != nil {
				return nil, err
			}
			ttl, err := ttlMillis(q)
			if err != nil {
				return nil, err
			}
			body, err := a.readBody(r)
			if err != nil {
				return nil, err
			}
			return &cachepb.XSetRequest{CacheKey: key, CacheBody: body, TtlMilliseconds: ttl}, nil
		},
		func(ctx context.Context, req any) (any, error) { return a.cache.Set(ctx, req.(*cachepb.XSetRequest)) })
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// deleteItem answers DELETE /cache/{cache}: 204 whether or not the key held
// a value, as Scs/Delete does.
func (a *api) deleteItem(w http.ResponseWriter, r *http.Request) {
	q, creds, err := parseRequest(r)
	if err != nil {
		writeError(w, err)
		return
	}
	cache := r.PathValue("cache")
	_, err = a.call(r, cachepb.Scs_Delete_FullMethodName, cache, creds,
		func() (any, error) {
			key, err := itemKey(q)
			return &cachepb.XDeleteRequest{CacheKey: key}, err
		},
		func(ctx context.Context, req any) (any, error) {
			return a.cache.Delete(ctx, req.(*cachepb.XDeleteRequest))
		})
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// publish answers POST /topics/{cache}/{topic}: the body is the value, text
// when the Content-Type is text/plain (it must then be UTF-8), binary
// otherwise; 204 once the topic has it.
//
// The topics docs require Content-Type text/plain or application/octet-stream,
// yet their own curl example (-d, so application/x-www-form-urlencoded)
// sends neither; anything but text/plain is therefore published as binary.
func (a *api) publish(w http.ResponseWriter, r *http.Request) {
	_, creds, err := parseRequest(r)
	if err != nil {
		writeError(w, err)
		return
	}
	cache, topic := r.PathValue("cache"), r.PathValue("topic")
	_, err = a.call(r, pubsubpb.Pubsub_Publish_FullMethodName, cache, creds,
		func() (any, error) {
			body, err := a.readBody(r)
			if err != nil {
				return nil, err
			}
			value := &pubsubpb.XTopicValue{Kind: &pubsubpb.XTopicValue_Binary{Binary: body}}
			if mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mediaType == "text/plain" {
				value.Kind = &pubsubpb.XTopicValue_Text{Text: string(body)}
			}
			return &pubsubpb.XPublishRequest{CacheName: proto.String(cache), Topic: proto.String(topic), Value: value}, nil
		},
		func(ctx context.Context, req any) (any, error) {
			return a.topics.Publish(ctx, req.(*pubsubpb.XPublishRequest))
		})
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// readBody reads a request body of at most the request limit; a longer one
// fails as the request-size check would fail it, without reading it all.
func (a *api) readBody(r *http.Request) ([]byte, error) {
	limit := int64(a.limits.MaxRequestSize)
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the body: %v", errBadRequest, err)
	}
	if int64(len(body)) > limit {
		return nil, a.limits.CheckRequestSize(len(body))
	}
	return body, nil
}
