// Command topics-go is an AWS Lambda function, built with aws-lambda-go,
// that holds a topic subscription across invocations with thaw's Go client:
// it subscribes once, during init, and every invocation reads the items
// published since the previous one, including those published while the
// environment was frozen. The subscription's freeze-aware watchdog keeps a
// healthy stream through the freezes and replaces one that died during a
// freeze, resuming after the last item it had.
//
// An invocation's event says how far to read:
//
//	{"until": 12}          read until the item with sequence number 12 (0: return at once)
//	{"until": 12, "wait_ms": 800}  but for no longer than 800 ms
//
// and the reply lists the items read, the discontinuities seen and the
// subscription's counters (resubscribes, connection checks, heartbeats).
//
// Environment:
//
//	THAW_CACHE_ENDPOINT  the cache server, host:port (default 127.0.0.1:8080)
//	THAW_CACHE_NAME      the cache, created at init if missing (default topics-go)
//	THAW_TOPIC           the topic to subscribe to (default events)
//	THAW_API_KEY         a v1 API key (thaw token create); empty: no authorization
//	THAW_TRACE_LEVEL     the client tracer's level: debug, info (default), warn
//
// See README.md for running it under thaw lambda against thaw serve.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/thaw-dev/thaw/client"
)

// Event is what an invocation asks for.
type Event struct {
	// Until is the sequence number of the last item to read; 0 returns at
	// once, with the counters.
	Until uint64 `json:"until"`
	// WaitMs bounds the reading; default: until 300 ms before the
	// invocation's deadline.
	WaitMs int `json:"wait_ms"`
}

// Item is one item read.
type Item struct {
	Sequence uint64 `json:"seq"`
	Page     uint64 `json:"page"`
	Value    string `json:"value"`
}

// Reply tells the caller what the invocation read.
type Reply struct {
	RequestID       string                      `json:"request_id"`
	Items           []Item                      `json:"items"`
	Discontinuities []client.TopicDiscontinuity `json:"discontinuities"`
	// FirstItemMs is how long after the invocation started the first item
	// came; 0 without items.
	FirstItemMs float64                  `json:"first_item_ms"`
	Stats       client.SubscriptionStats `json:"stats"`
	Position    client.TopicPosition     `json:"position"`
	// Error says why reading stopped early, if it did.
	Error string `json:"error,omitempty"`
}

// function holds what init builds and every invocation reuses.
type function struct {
	sub    *client.Subscription
	logger *slog.Logger
}

// handle reads events until the item ev.Until, the wait or the deadline.
func (f *function) handle(ctx context.Context, ev Event) (Reply, error) {
	start := time.Now()
	var r Reply
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.RequestID = lc.AwsRequestID
	}
	readCtx, cancel := f.readContext(ctx, ev)
	defer cancel()
	for f.sub.Position().Sequence <= ev.Until && ev.Until > 0 {
		e, err := f.sub.Next(readCtx)
		if err != nil {
			if !errors.Is(err, client.ErrTimeout) && !errors.Is(err, client.ErrCancelled) {
				return r, fmt.Errorf("read the subscription: %w", err)
			}
			r.Error = err.Error()
			break
		}
		switch e.Kind {
		case client.TopicEventItem:
			if len(r.Items) == 0 {
				r.FirstItemMs = float64(time.Since(start).Microseconds()) / 1000
			}
			r.Items = append(r.Items, Item{Sequence: e.Item.Position.Sequence, Page: e.Item.Position.Page, Value: string(e.Item.Value)})
		case client.TopicEventDiscontinuity:
			r.Discontinuities = append(r.Discontinuities, e.Discontinuity)
		}
	}
	r.Stats, r.Position = f.sub.Stats(), f.sub.Position()
	f.logger.Info("handled", "request_id", r.RequestID, "items", len(r.Items), "first_item_ms", r.FirstItemMs,
		"resubscribes", r.Stats.Resubscribes, "gap_checks", r.Stats.GapChecks)
	return r, nil
}

// readContext bounds the reading by ev.WaitMs and the invocation's deadline.
func (f *function) readContext(ctx context.Context, ev Event) (context.Context, context.CancelFunc) {
	if ev.WaitMs > 0 {
		return context.WithTimeout(ctx, time.Duration(ev.WaitMs)*time.Millisecond)
	}
	if deadline, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, deadline.Add(-300*time.Millisecond))
	}
	return context.WithCancel(ctx)
}

func main() {
	level := slog.LevelInfo
	if err := level.UnmarshalText([]byte(envOr("THAW_TRACE_LEVEL", "info"))); err != nil {
		fmt.Fprintln(os.Stderr, "topics-go: THAW_TRACE_LEVEL:", err)
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

// setUp connects and subscribes during init, so that the subscription
// exists before the first invocation and lives as long as the environment.
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
	cache, topic := envOr("THAW_CACHE_NAME", "topics-go"), envOr("THAW_TOPIC", "events")
	if _, err := c.CreateCache(ctx, cache); err != nil {
		return nil, fmt.Errorf("create cache %q: %w", cache, err)
	}
	sub, err := c.Subscribe(ctx, cache, topic, client.SubscribeOptions{})
	if err != nil {
		return nil, fmt.Errorf("subscribe to %q in %q: %w", topic, cache, err)
	}
	logger.Info("initialized", "endpoint", endpoint, "cache", cache, "topic", topic, "recovery", cfg.Recovery)
	return &function{sub: sub, logger: logger}, nil
}

// envOr returns the environment variable key, or def when it is empty.
func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
