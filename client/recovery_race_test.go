package client_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/client"
	"github.com/thaw-dev/thaw/internal/netem"
	"github.com/thaw-dev/thaw/server"
)

// These tests drive the spare connection that the first call after a gap
// races against the suspect one (recovery_race.go), through a netem proxy
// with a real one-way delay; the gap comes from the fake clock.

// raceLatency is the proxy's one-way delay in these tests: the lab's.
const raceLatency = 3 * time.Millisecond

// spareReasons are the reconnect reasons of a spare taking over.
var spareReasons = []string{"spare answered first", "probe failed; spare ready", "spare ready after the probe failed"}

// raceSetup starts a server, a delaying proxy in front of it and a Lambda()
// client through the proxy with a fake clock and a trace, and makes a few
// calls so that the client knows how long calls take.
func raceSetup(t *testing.T) (*client.Client, *netem.Proxy, *fakeClock, *traceLog, *client.Client) {
	t.Helper()
	srv := startServer(t, server.Config{})
	proxy, err := netem.Listen(netem.Config{Target: srv.Addr(), Latency: raceLatency})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	clock, trace := newFakeClock(), &traceLog{}
	c := newClient(t, client.Lambda(), client.LocalCredentials(proxy.Addr()), client.WithClock(clock), client.WithTracer(trace.logger()))
	for range 5 {
		if err := c.Set(t.Context(), "c", []byte("k"), []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
	}
	direct := newClient(t, client.Laptop(), client.LocalCredentials(srv.Addr()))
	return c, proxy, clock, trace, direct
}

// openConns counts the proxy's connections that still carry data.
func openConns(p *netem.Proxy) int {
	n := 0
	for _, ci := range p.Conns() {
		if ci.State == netem.StateOpen {
			n++
		}
	}
	return n
}

// checkSpareTookOver checks that exactly one spare was dialled and that it
// replaced the connection, once.
func checkSpareTookOver(t *testing.T, trace *traceLog, since time.Time) {
	t.Helper()
	if n := len(trace.events(client.EventSpareDial, since)); n != 1 {
		t.Errorf("%d spare dials; want 1:%s", n, trace.dump())
	}
	re := trace.events(client.EventReconnect, since)
	if len(re) != 1 || !slices.Contains(spareReasons, re[0].attrs["reason"]) {
		t.Errorf("reconnect events = %v; want one by the spare (%q)", re, spareReasons)
	}
}

// TestRecoveryRaceBlackholed: the connection was blackholed during the gap.
// An idempotent call's first attempt gets no answer, the spare dialled
// beside it does, and it becomes the connection; nothing waits for the probe
// deadline to fail.
func TestRecoveryRaceBlackholed(t *testing.T) {
	t.Parallel()
	c, proxy, clock, trace, _ := raceSetup(t)
	clock.Advance(3 * time.Second)
	proxy.Blackhole()
	since := time.Now()
	v, found, err := c.Get(t.Context(), "c", []byte("k"))
	took := time.Since(since)
	if err != nil || !found || string(v) != "v" {
		t.Fatalf("Get after a blackholed gap = %q, %v, %v; want v:%s", v, found, err, trace.dump())
	}
	checkSpareTookOver(t, trace, since)
	waitUntil(t, "one open connection", func() bool { return openConns(proxy) == 1 })
	t.Logf("Get after a blackholed gap: %v with a %v one-way delay (probe deadline %v)", took.Round(100*time.Microsecond), raceLatency, client.DefaultProbeTimeout)
}

// TestRecoveryRaceNonIdempotent: before a non-idempotent call after a gap,
// the Ping races the spare; the call is then sent once, on the spare.
func TestRecoveryRaceNonIdempotent(t *testing.T) {
	t.Parallel()
	c, proxy, clock, trace, direct := raceSetup(t)
	if n, err := c.Increment(t.Context(), "c", []byte("n"), 1, 0); err != nil || n != 1 {
		t.Fatalf("Increment = %d, %v; want 1", n, err)
	}
	clock.Advance(3 * time.Second)
	proxy.Blackhole()
	since := time.Now()
	if n, err := c.Increment(t.Context(), "c", []byte("n"), 1, 0); err != nil || n != 2 {
		t.Fatalf("Increment after a blackholed gap = %d, %v; want 2:%s", n, err, trace.dump())
	}
	checkSpareTookOver(t, trace, since)
	if v, _, err := direct.Get(t.Context(), "c", []byte("n")); err != nil || string(v) != "2" {
		t.Errorf("stored counter = %q, %v; want 2: applied once", v, err)
	}
}

// TestRecoveryRaceSharedSpare: concurrent calls after the same gap share
// one spare.
func TestRecoveryRaceSharedSpare(t *testing.T) {
	t.Parallel()
	c, proxy, clock, trace, _ := raceSetup(t)
	clock.Advance(3 * time.Second)
	proxy.Blackhole()
	since := time.Now()
	errs := make(chan error, 8)
	for range cap(errs) {
		go func() {
			_, found, err := c.Get(context.Background(), "c", []byte("k"))
			if err == nil && !found {
				err = errors.New("miss")
			}
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Get after a blackholed gap = %v; want a hit", err)
		}
	}
	checkSpareTookOver(t, trace, since)
	waitUntil(t, "one open connection", func() bool { return openConns(proxy) == 1 })
}

// TestRecoveryRaceHealthy: on a healthy network the suspect connection
// answers; whether or not a spare was dialled meanwhile (on a busy machine
// the answer can be late), one connection is left open.
func TestRecoveryRaceHealthy(t *testing.T) {
	t.Parallel()
	c, proxy, clock, trace, _ := raceSetup(t)
	for range 5 {
		clock.Advance(3 * time.Second)
		if _, _, err := c.Get(t.Context(), "c", []byte("k")); err != nil {
			t.Fatalf("Get after a gap: %v", err)
		}
		if n, err := c.Increment(t.Context(), "c", []byte("n"), 1, 0); err != nil {
			t.Fatalf("Increment after a gap = %d, %v", n, err)
		}
	}
	waitUntil(t, "one open connection", func() bool { return openConns(proxy) == 1 })
	t.Logf("5 healthy gaps: %d spare dials, %d reconnects", len(trace.events(client.EventSpareDial, time.Time{})), len(trace.events(client.EventReconnect, time.Time{})))
}

// BenchmarkFirstCallAfterBlackholedGap measures the first call after a gap
// during which the connection was blackholed, through a proxy with the
// lab's one-way delay, beside the first call of a brand-new client through
// the same proxy (New and its first call: one connection set-up and a
// call): "race" is the
// default, a spare raced against the suspect connection; "probe deadline"
// (HedgeDelay negative) waits for ProbeTimeout first. Compare the ns/op of
// each with "new client".
func BenchmarkFirstCallAfterBlackholedGap(b *testing.B) {
	srv := startServer(b, server.Config{})
	seed := newClient(b, client.Laptop(), client.LocalCredentials(srv.Addr()))
	if err := seed.Set(context.Background(), "c", []byte("k"), []byte("v"), time.Hour); err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, hedge time.Duration, blackholed bool) {
		for b.Loop() {
			b.StopTimer()
			proxy, err := netem.Listen(netem.Config{Target: srv.Addr(), Latency: raceLatency})
			if err != nil {
				b.Fatal(err)
			}
			cfg := client.Lambda()
			cfg.HedgeDelay = hedge
			clock := newFakeClock()
			if !blackholed {
				b.StartTimer() // a new client's first call includes its connection set-up
			}
			c, err := client.New(context.Background(), cfg, client.LocalCredentials(proxy.Addr()), client.WithClock(clock))
			if err != nil {
				b.Fatal(err)
			}
			if blackholed {
				for range 3 {
					if _, _, err := c.Get(context.Background(), "c", []byte("k")); err != nil {
						b.Fatal(err)
					}
				}
				clock.Advance(3 * time.Second)
				proxy.Blackhole()
				b.StartTimer()
			}
			if _, _, err := c.Get(context.Background(), "c", []byte("k")); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			c.Close()
			proxy.Close()
			b.StartTimer()
		}
	}
	b.Run("new client", func(b *testing.B) { run(b, 0, false) })
	b.Run("race", func(b *testing.B) { run(b, 0, true) })
	b.Run("probe deadline", func(b *testing.B) { run(b, -1, true) })
}
