package client_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/thaw-dev/thaw/client"
	"github.com/thaw-dev/thaw/server"
)

// These tests drive freeze-aware recovery with a fake clock against a real
// server: the clock jumps as a freeze would make it, and the tracer shows
// what the client did about it. The blackholed-connection cases, which need
// real time, are in wire_test.go.

// recoveryClient returns a Lambda() client with a fake clock and a trace.
func recoveryClient(t *testing.T, addr string, edit func(*client.Config)) (*client.Client, *fakeClock, *traceLog) {
	t.Helper()
	cfg := client.Lambda()
	if edit != nil {
		edit(&cfg)
	}
	clock, trace := newFakeClock(), &traceLog{}
	c := newClient(t, cfg, client.LocalCredentials(addr), client.WithClock(clock), client.WithTracer(trace.logger()))
	return c, clock, trace
}

func TestRecoveryNothingWithoutGap(t *testing.T) {
	t.Parallel()
	srv := startServer(t, server.Config{})
	c, clock, trace := recoveryClient(t, srv.Addr(), nil)
	ctx := t.Context()
	for range 5 {
		clock.Advance(client.DefaultRecoveryIdleThreshold / 2)
		if err := c.Set(ctx, "c", []byte("k"), []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Increment(ctx, "c", []byte("n"), 1, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, ev := range []string{client.EventIdleGap, client.EventProbe, client.EventReconnect} {
		if got := trace.events(ev, time.Time{}); len(got) != 0 {
			t.Errorf("%d %q events without a gap; want none:%s", len(got), ev, trace.dump())
		}
	}
	for _, ping := range trace.events(client.EventPingSent, time.Time{}) {
		if ping.attrs["purpose"] != "bdp" {
			t.Errorf("the client sent a %s PING; want only grpc-go's flow-control pings:%s", ping.attrs["purpose"], trace.dump())
		}
	}
	if n := len(trace.events(client.EventCall, time.Time{})); n != 10 {
		t.Errorf("%d call events; want 10", n)
	}
}

func TestRecoveryHealthyConnectionAfterGap(t *testing.T) {
	t.Parallel()
	srv := startServer(t, server.Config{})
	// A spare raced against this healthy connection could answer first on
	// a busy machine; the race has tests of its own (recovery_race_test.go).
	c, clock, trace := recoveryClient(t, srv.Addr(), func(c *client.Config) { c.HedgeDelay = 100 * time.Millisecond })
	ctx := t.Context()

	clock.Advance(3 * time.Second)
	if err := c.Set(ctx, "c", []byte("k"), []byte("v"), 0); err != nil {
		t.Fatalf("Set after a gap: %v", err)
	}
	gaps := trace.events(client.EventIdleGap, time.Time{})
	if len(gaps) != 1 || !strings.Contains(gaps[0].attrs["action"], "first attempt") || gaps[0].attrs["gap"] != "3s" {
		t.Fatalf("idle gap events = %v; want one for Set probing with its first attempt after 3s", gaps)
	}
	if got := trace.events(client.EventProbe, time.Time{}); len(got) != 0 {
		t.Errorf("an idempotent call sent a separate probe: %v", got)
	}

	clock.Advance(3 * time.Second)
	if n, err := c.Increment(ctx, "c", []byte("n"), 1, 0); err != nil || n != 1 {
		t.Fatalf("Increment after a gap = %d, %v; want 1", n, err)
	}
	gaps = trace.events(client.EventIdleGap, time.Time{})
	probes := trace.events(client.EventProbe, time.Time{})
	if len(gaps) != 2 || !strings.Contains(gaps[1].attrs["action"], "ping") || len(probes) != 1 || probes[0].attrs["code"] != "" {
		t.Fatalf("after a gap Increment: gaps %v, probes %v; want a successful ping first", gaps, probes)
	}
	if got := trace.events(client.EventReconnect, time.Time{}); len(got) != 0 {
		t.Errorf("a healthy connection was replaced: %v", got)
	}
}

func TestRecoveryMaxIdleReplaces(t *testing.T) {
	t.Parallel()
	srv := startServer(t, server.Config{})
	c, clock, trace := recoveryClient(t, srv.Addr(), nil)
	clock.Advance(client.DefaultMaxIdle + time.Second)
	if err := c.Set(t.Context(), "c", []byte("k"), []byte("v"), 0); err != nil {
		t.Fatalf("Set after MaxIdle: %v", err)
	}
	re := trace.events(client.EventReconnect, time.Time{})
	if len(re) != 1 || re[0].attrs["reason"] != "max idle" || re[0].attrs["new_channel"] != "2" {
		t.Fatalf("reconnect events = %v; want one for max idle, to channel 2", re)
	}
	if _, err := trace.waitFor(t, client.EventClosed, time.Time{}, 5*time.Second, func(r traceRecord) bool { return r.attrs["conn"] == "1" }); !err {
		t.Errorf("the replaced connection was not closed:%s", trace.dump())
	}
}

func TestRecoveryOff(t *testing.T) {
	t.Parallel()
	srv := startServer(t, server.Config{})
	c, clock, trace := recoveryClient(t, srv.Addr(), func(c *client.Config) { c.Recovery = false })
	clock.Advance(time.Minute)
	if _, err := c.Increment(t.Context(), "c", []byte("n"), 1, 0); err != nil {
		t.Fatal(err)
	}
	if got := trace.events(client.EventIdleGap, time.Time{}); len(got) != 0 {
		t.Errorf("idle gap events with Recovery off: %v", got)
	}
}

// TestRecoverySlowProbe: with no spare connection to race (HedgeDelay
// negative), a healthy but slow server misses the probe deadline (a false
// positive). The call still succeeds on a new connection, within Timeout.
func TestRecoverySlowProbe(t *testing.T) {
	t.Parallel()
	srv := startServer(t, server.Config{EnableTestAdmin: true})
	c, clock, trace := recoveryClient(t, srv.Addr(), func(c *client.Config) { c.HedgeDelay = -1 })
	if err := c.Set(t.Context(), "c", []byte("k"), []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	clock.Advance(3 * time.Second)
	ctx := metadata.AppendToOutgoingContext(t.Context(), "request-id", "slow-probe", "delay-rpcs", "get", "delay-ms", "400", "delay-count", "1")
	start := time.Now()
	v, found, err := c.Get(ctx, "c", []byte("k"))
	took := time.Since(start)
	if err != nil || !found || string(v) != "v" {
		t.Fatalf("Get after a gap with a slow first reply = %q, %v, %v; want v", v, found, err)
	}
	re := trace.events(client.EventReconnect, time.Time{})
	if len(re) != 1 || !strings.Contains(re[0].attrs["reason"], "DeadlineExceeded") {
		t.Fatalf("reconnect events = %v; want one after the probe deadline", re)
	}
	if took > client.Lambda().Timeout {
		t.Errorf("Get took %v; want within Timeout %v", took, client.Lambda().Timeout)
	}
}

// TestRecoveryFailedPing: with no spare connection to race (HedgeDelay
// negative; on a busy machine a spare could otherwise answer before the
// injected failure), the ping before a non-idempotent call fails, the
// connection is replaced, and the call is sent once, on the new connection.
func TestRecoveryFailedPing(t *testing.T) {
	t.Parallel()
	srv := startServer(t, server.Config{EnableTestAdmin: true})
	c, clock, trace := recoveryClient(t, srv.Addr(), func(c *client.Config) { c.HedgeDelay = -1 })
	if _, err := c.Increment(t.Context(), "c", []byte("n"), 1, 0); err != nil {
		t.Fatal(err)
	}
	clock.Advance(3 * time.Second)
	ctx := metadata.AppendToOutgoingContext(t.Context(), "request-id", "failed-ping", "return-error", "unavailable", "error-rpcs", "ping", "error-count", "1")
	if n, err := c.Increment(ctx, "c", []byte("n"), 1, 0); err != nil || n != 2 {
		t.Fatalf("Increment after a gap with a failing ping = %d, %v; want 2 (applied once)", n, err)
	}
	re := trace.events(client.EventReconnect, time.Time{})
	if len(re) != 1 || !strings.Contains(re[0].attrs["reason"], "probe ping failed") {
		t.Fatalf("reconnect events = %v; want one after the failed ping", re)
	}
}

// TestRecoveryAfterNoReply: a call that got no reply makes the next one
// probe even without a gap.
func TestRecoveryAfterNoReply(t *testing.T) {
	t.Parallel()
	srv := startServer(t, server.Config{EnableTestAdmin: true})
	c, _, trace := recoveryClient(t, srv.Addr(), nil)
	ctx := metadata.AppendToOutgoingContext(t.Context(), "request-id", "no-reply", "return-error", "deadline-exceeded", "error-rpcs", "get", "error-count", "1")
	if _, _, err := c.Get(ctx, "c", []byte("k")); err == nil {
		t.Fatal("Get with an injected DEADLINE_EXCEEDED succeeded")
	}
	if _, _, err := c.Get(t.Context(), "c", []byte("k")); err != nil {
		t.Fatal(err)
	}
	gaps := trace.events(client.EventIdleGap, time.Time{})
	if len(gaps) != 1 || gaps[0].attrs["after_no_reply"] != "true" {
		t.Fatalf("idle gap events = %v; want one probe after the call without reply", gaps)
	}
	if _, _, err := c.Get(t.Context(), "c", []byte("k")); err != nil {
		t.Fatal(err)
	}
	if n := len(trace.events(client.EventIdleGap, time.Time{})); n != 1 {
		t.Errorf("%d idle gap events after a reply cleared the suspicion; want 1", n)
	}
}
