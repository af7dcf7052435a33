// Command lambda-go is an AWS Lambda function, built with aws-lambda-go, that
// uses thaw's Go client the way a function should: one client made during
// init with client.Auto() (the Lambda preset when it runs in a Lambda
// environment) and reused by every invocation, with the connection tracer
// writing JSON lines to stdout, where Lambda (or thaw lambda) collects them.
// Each invocation sets a key, reads it back and counts the invocations
// that used the key in a dictionary.
//
// Environment:
//
//	THAW_CACHE_ENDPOINT  the cache server, host:port (default 127.0.0.1:8080)
//	THAW_CACHE_NAME      the cache to use, created at init if missing (default lambda-go)
//	THAW_API_KEY         a v1 API key (thaw token create); empty: no authorization, as for momento-local
//	THAW_TRACE_LEVEL     the tracer's level: debug (default: every call), info, warn
//
// See README.md for running it under thaw lambda against thaw serve.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/thaw-dev/thaw/client"
)

// Event is what an invocation may ask for; every field is optional.
type Event struct {
	// Key is the key to set and get; default "greeting".
	Key string `json:"key"`
	// Value is the value to set; default a text naming the invocation.
	Value string `json:"value"`
}

// Reply tells the caller what the invocation did.
type Reply struct {
	RequestID string `json:"request_id"`
	Key       string `json:"key"`
	Value     string `json:"value"`
	Found     bool   `json:"found"`
	// Millis is how long the set and get took together.
	Millis float64 `json:"ms"`
	// Count is how many invocations have used Key so far, this one
	// included: a field of the dictionary "invocations", incremented with
	// DictionaryIncrement.
	Count int64 `json:"count"`
	// Recovery says whether the client runs with freeze-aware recovery,
	// that is whether client.Auto() chose the Lambda preset.
	Recovery bool `json:"recovery"`
}

// function holds what init builds and every invocation reuses.
type function struct {
	cache  *client.Client
	name   string
	logger *slog.Logger
}

// handle sets the event's key and reads it back.
func (f *function) handle(ctx context.Context, ev Event) (Reply, error) {
	var requestID string
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		requestID = lc.AwsRequestID
	}
	r := Reply{RequestID: requestID, Key: ev.Key, Value: ev.Value, Recovery: f.cache.Config().Recovery}
	if r.Key == "" {
		r.Key = "greeting"
	}
	if r.Value == "" {
		r.Value = "hello from " + requestID
	}
	start := time.Now()
	if err := f.cache.Set(ctx, f.name, []byte(r.Key), []byte(r.Value), time.Minute); err != nil {
		return r, fmt.Errorf("set %q: %w", r.Key, err)
	}
	got, found, err := f.cache.Get(ctx, f.name, []byte(r.Key))
	if err != nil {
		return r, fmt.Errorf("get %q: %w", r.Key, err)
	}
	r.Millis = float64(time.Since(start).Microseconds()) / 1000
	r.Value, r.Found = string(got), found
	if r.Count, err = f.cache.DictionaryIncrement(ctx, f.name, []byte("invocations"), []byte(r.Key), 1, client.CollectionTTLOf(time.Hour)); err != nil {
		return r, fmt.Errorf("count invocations of %q: %w", r.Key, err)
	}
	f.logger.Info("handled", "request_id", requestID, "key", r.Key, "found", found, "ms", r.Millis, "count", r.Count)
	return r, nil
}

func main() {
	level := slog.LevelDebug
	if err := level.UnmarshalText([]byte(envOr("THAW_TRACE_LEVEL", "debug"))); err != nil {
		fmt.Fprintln(os.Stderr, "lambda-go: THAW_TRACE_LEVEL:", err)
		os.Exit(1)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level}))
	f, err := setUp(logger)
	if err != nil {
		logger.Error("init failed", "err", err)
		os.Exit(1)
	}
	lambda.Start(f.handle)
}

// setUp makes the client during init, so that the connection is made before
// the first invocation.
func setUp(logger *slog.Logger) (*function, error) {
	endpoint := envOr("THAW_CACHE_ENDPOINT", "127.0.0.1:8080")
	creds := client.LocalCredentials(endpoint)
	if key := os.Getenv("THAW_API_KEY"); key != "" {
		var err error
		if creds, err = client.APIKeyCredentials(key, endpoint, false); err != nil {
			return nil, fmt.Errorf("THAW_API_KEY: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg := client.Auto()
	c, err := client.New(ctx, cfg, creds, client.WithTracer(logger.With("component", "thaw-client")))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", endpoint, err)
	}
	f := &function{cache: c, name: envOr("THAW_CACHE_NAME", "lambda-go"), logger: logger}
	if _, err := c.CreateCache(ctx, f.name); err != nil {
		return nil, fmt.Errorf("create cache %q: %w", f.name, err)
	}
	logger.Info("initialized", "endpoint", endpoint, "cache", f.name, "recovery", cfg.Recovery, "keepalive", cfg.KeepaliveTime.String())
	return f, nil
}

// envOr returns the environment variable key, or def when it is empty.
func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
