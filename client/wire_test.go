package client_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/client"
	"github.com/thaw-dev/thaw/internal/netem"
	"github.com/thaw-dev/thaw/server"
)

// TestWire runs the clients against a real server through internal/netem,
// in real time, observing the connection with the tracer. The subtests run
// in parallel; the slowest waits out a 10 s keepalive interval.
func TestWire(t *testing.T) {
	t.Parallel()
	srv := startServer(t, server.Config{})
	// gap is an idle period longer than the recovery threshold: what a
	// freeze between two invocations looks like to the client.
	const gap = client.DefaultRecoveryIdleThreshold + 500*time.Millisecond

	// The three keepalive scenarios each wait out a 10 s keepalive interval;
	// they share one window in goroutines rather than taking three of the
	// -parallel slots (GOMAXPROCS, often 2). They report with t.Error only.
	t.Run("keepalive", func(t *testing.T) {
		t.Parallel()
		proxy := startProxy(t, srv.Addr())
		blackholed, laptopIdle, lambdaIdle := &traceLog{}, &traceLog{}, &traceLog{}
		clients := []*client.Client{
			newClient(t, client.Laptop(), client.LocalCredentials(proxy.Addr()), client.WithTracer(blackholed.logger())),
			newClient(t, client.Laptop(), client.LocalCredentials(srv.Addr()), client.WithTracer(laptopIdle.logger())),
			newClient(t, client.Lambda(), client.LocalCredentials(srv.Addr()), client.WithTracer(lambdaIdle.logger())),
		}
		for _, c := range clients {
			if err := c.Set(t.Context(), "c", []byte("k"), []byte("v"), 0); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		wg.Go(func() { laptopDetectsBlackhole(t, proxy, clients[0], blackholed) })
		wg.Go(func() { laptopPingsWhileIdle(t, laptopIdle) })
		wg.Go(func() { lambdaSendsNoPingWhileIdle(t, lambdaIdle) })
		wg.Wait()
	})

	t.Run("Lambda recovers a blackholed connection after a gap", func(t *testing.T) {
		t.Parallel()
		proxy := startProxy(t, srv.Addr())
		trace := &traceLog{}
		c := newClient(t, client.Lambda(), client.LocalCredentials(proxy.Addr()), client.WithTracer(trace.logger()))
		if err := c.Set(t.Context(), "c", []byte("recover"), []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(gap)
		proxy.Blackhole()
		start := time.Now()
		v, found, err := c.Get(t.Context(), "c", []byte("recover"))
		took := time.Since(start)
		if err != nil || !found || string(v) != "v" {
			t.Fatalf("Get after a blackholed gap = %q, %v, %v; want v with no error:%s", v, found, err, trace.dump())
		}
		re := trace.events(client.EventReconnect, start)
		if len(re) != 1 || !slices.Contains(spareReasons, re[0].attrs["reason"]) {
			t.Errorf("reconnect events = %v; want one, by the spare raced against the blackholed connection", re)
		}
		if took > client.Lambda().Timeout {
			t.Errorf("recovered Get took %v; want less than Timeout", took)
		}
		t.Logf("recovery cost: Get after a blackholed gap succeeded in %v (hedge delay + a spare connection + call; the probe deadline is %v)",
			took.Round(100*time.Microsecond), client.DefaultProbeTimeout)
	})

	// Concurrent calls after a gap race to replace the same dead
	// connection: one replaces it, every call succeeds. The gap comes from
	// the fake clock; the blackhole and the probe deadline are real.
	t.Run("concurrent calls recover through one reconnect", func(t *testing.T) {
		t.Parallel()
		proxy := startProxy(t, srv.Addr())
		trace, clock := &traceLog{}, newFakeClock()
		c := newClient(t, client.Lambda(), client.LocalCredentials(proxy.Addr()), client.WithTracer(trace.logger()), client.WithClock(clock))
		if err := c.Set(t.Context(), "c", []byte("concurrent"), []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
		clock.Advance(gap)
		proxy.Blackhole()
		errs := make(chan error, 8)
		for range cap(errs) {
			go func() {
				_, found, err := c.Get(t.Context(), "c", []byte("concurrent"))
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
		if re := trace.events(client.EventReconnect, time.Time{}); len(re) != 1 {
			t.Errorf("%d reconnects for 8 concurrent calls; want 1:%s", len(re), trace.dump())
		}
	})

	t.Run("non-idempotent calls are never retried", func(t *testing.T) {
		t.Parallel()
		proxy := startProxy(t, srv.Addr())
		trace := &traceLog{}
		c := newClient(t, client.Lambda(), client.LocalCredentials(proxy.Addr()), client.WithTracer(trace.logger()))
		direct := newClient(t, client.Laptop(), client.LocalCredentials(srv.Addr()))
		stored := func() string {
			v, _, err := direct.Get(t.Context(), "c", []byte("counter"))
			if err != nil {
				t.Fatal(err)
			}
			return string(v)
		}
		if n, err := c.Increment(t.Context(), "c", []byte("counter"), 1, 0); err != nil || n != 1 {
			t.Fatalf("Increment = %d, %v; want 1", n, err)
		}

		// After a gap: the Ping goes first, fails on the blackholed
		// connection, and the increment is sent once on a new connection.
		time.Sleep(gap)
		proxy.Blackhole()
		start := time.Now()
		n, err := c.Increment(t.Context(), "c", []byte("counter"), 1, 0)
		took := time.Since(start)
		if err != nil || n != 2 || stored() != "2" {
			t.Fatalf("Increment after a blackholed gap = %d, %v, stored %q; want 2, applied once:%s", n, err, stored(), trace.dump())
		}
		t.Logf("recovery cost: Increment after a blackholed gap succeeded in %v (ping raced against a spare connection + call)", took.Round(100*time.Microsecond))

		// No gap: the increment goes out on a connection blackholed a
		// moment ago, times out, and is not sent again.
		proxy.Blackhole()
		start = time.Now()
		_, err = c.Increment(t.Context(), "c", []byte("counter"), 1, 0)
		took = time.Since(start)
		if !errors.Is(err, client.ErrTimeout) || stored() != "2" {
			t.Fatalf("Increment on a freshly blackholed connection = %v, stored %q; want ErrTimeout and no increment", err, stored())
		}
		t.Logf("Increment on a connection blackholed without a gap: caller sees %v after %v; not retried, not applied", err, took.Round(time.Millisecond))
		// The timeout made the connection suspect: the next call probes
		// and moves to a new connection.
		if n, err := c.Increment(t.Context(), "c", []byte("counter"), 1, 0); err != nil || n != 3 || stored() != "3" {
			t.Fatalf("Increment after the timeout = %d, %v, stored %q; want 3", n, err, stored())
		}
	})

	t.Run("plain Lambda client without recovery", func(t *testing.T) {
		t.Parallel()
		proxy := startProxy(t, srv.Addr())
		cfg := client.Lambda()
		cfg.Recovery = false
		c := newClient(t, cfg, client.LocalCredentials(proxy.Addr()))
		if err := c.Set(t.Context(), "c", []byte("plain"), []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(gap)
		proxy.Blackhole()
		start := time.Now()
		for i := 1; i <= 3; i++ {
			callStart := time.Now()
			_, _, err := c.Get(t.Context(), "c", []byte("plain"))
			if !errors.Is(err, client.ErrTimeout) {
				t.Fatalf("plain client call %d after a blackholed gap = %v; want ErrTimeout", i, err)
			}
			t.Logf("plain no-keepalive client: call %d after a blackholed gap failed with %v after %v",
				i, client.CodeTimeout, time.Since(callStart).Round(time.Millisecond))
		}
		t.Logf("plain no-keepalive client: 3 of 3 calls failed in %v; nothing ever replaces the connection (the proxy keeps TCP alive, and without keepalive grpc-go sets no TCP_USER_TIMEOUT)",
			time.Since(start).Round(time.Millisecond))
	})
}

// laptopDetectsBlackhole: Laptop()'s keepalive closes a blackholed
// connection about KeepaliveTime + KeepaliveTimeout after the last read, and
// the trace shows the PING that was never acknowledged.
func laptopDetectsBlackhole(t *testing.T, proxy *netem.Proxy, c *client.Client, trace *traceLog) {
	blackholed := time.Now()
	proxy.Blackhole()
	closed, ok := trace.waitFor(t, client.EventClosed, blackholed, 30*time.Second, nil)
	if !ok {
		t.Errorf("Laptop(): the blackholed connection was not closed within 30 s:%s", trace.dump())
		return
	}
	detected := closed.at.Sub(blackholed)
	ping, ok := trace.waitFor(t, client.EventPingSent, blackholed, 0, func(r traceRecord) bool { return r.attrs["purpose"] == "keepalive" })
	if !ok {
		t.Errorf("Laptop(): no keepalive PING after the blackhole:%s", trace.dump())
		return
	}
	if acks := trace.events(client.EventPingAckReceived, ping.at); len(acks) != 0 {
		t.Errorf("Laptop(): the blackholed PING was acknowledged: %v", acks)
	}
	timeout, ok := trace.waitFor(t, client.EventKeepaliveTimeout, blackholed, 0, nil)
	if !ok || timeout.at.Before(ping.at) || closed.attrs["reason"] != "local close" {
		t.Errorf("Laptop(): want ping sent, then keepalive timeout, then a local close; got:%s", trace.dump())
	}
	t.Logf("Laptop(): blackholed connection closed by keepalive %v after the blackhole (interval 10 s + timeout 1 s); PING unacknowledged for %s",
		detected.Round(time.Millisecond), timeout.attrs["unacked_for"])
	if _, _, err := c.Get(t.Context(), "c", []byte("k")); err != nil {
		t.Errorf("Laptop(): Get after the keepalive timeout = %v; want success on a new connection", err)
	}
}

// idleEvents waits, after a call, for longer than Laptop's keepalive
// interval and returns the trace events of the idle period.
func idleEvents(trace *traceLog) []traceRecord {
	time.Sleep(200 * time.Millisecond) // let grpc-go's flow-control PING for the call's reply go by
	from := time.Now()
	time.Sleep(client.MinKeepaliveTime + 2*time.Second)
	return trace.events("", from)
}

// laptopPingsWhileIdle: Laptop() pings an idle connection and gets ACKs.
func laptopPingsWhileIdle(t *testing.T, trace *traceLog) {
	var sent, acked int
	for _, e := range idleEvents(trace) {
		switch {
		case e.msg == client.EventPingSent && e.attrs["purpose"] == "keepalive":
			sent++
		case e.msg == client.EventPingAckReceived && e.attrs["purpose"] == "keepalive" && e.attrs["rtt"] != "":
			acked++
			t.Logf("Laptop(): keepalive PING on an idle connection acknowledged after %s", e.attrs["rtt"])
		}
	}
	if sent == 0 || acked == 0 {
		t.Errorf("Laptop() idle for 12 s: %d keepalive PINGs sent, %d acknowledged; want at least one of each", sent, acked)
	}
}

// lambdaSendsNoPingWhileIdle: Lambda() passes no keepalive option, so an
// idle connection carries no PING at all.
func lambdaSendsNoPingWhileIdle(t *testing.T, trace *traceLog) {
	events := idleEvents(trace)
	for _, e := range events {
		if strings.HasPrefix(e.msg, "ping") || e.msg == client.EventClosed {
			t.Errorf("Lambda() idle: %v; want no PING and no close", e)
		}
	}
	t.Logf("Lambda(): %d trace events, no PING, in 12 s idle", len(events))
}
