package client_test

import (
	"testing"
	"time"

	"github.com/thaw-dev/thaw/client"
	"github.com/thaw-dev/thaw/server"
)

// TestTopicWire runs subscriptions in real time against a real server that
// heartbeats every 20 ms, through internal/netem where the network
// misbehaves, with a HeartbeatTimeout of 500 ms. Assertions are on what
// arrives and in which order, never on how fast.
func TestTopicWire(t *testing.T) {
	t.Parallel()
	srv := startServer(t, server.Config{TopicHeartbeatInterval: 20 * time.Millisecond})
	pub := newClient(t, client.Laptop(), client.LocalCredentials(srv.Addr()))
	opts := client.SubscribeOptions{HeartbeatTimeout: 500 * time.Millisecond}

	t.Run("a healthy idle stream is kept", func(t *testing.T) {
		t.Parallel()
		c := newClient(t, client.Lambda(), client.LocalCredentials(srv.Addr()))
		sub := subscribe(t, c, "idle", opts)
		publish(t, pub, "idle", "m1")
		expectItems(t, sub, 1, "m1")
		time.Sleep(1500 * time.Millisecond) // several HeartbeatTimeouts
		publish(t, pub, "idle", "m2")
		expectItems(t, sub, 2, "m2")
		if st := sub.Stats(); st.Resubscribes != 0 || st.SilentStreams != 0 || st.Heartbeats < 2 {
			t.Errorf("Stats() = %+v; want heartbeats and no resubscribe", st)
		}
	})

	t.Run("a blackholed stream is replaced", func(t *testing.T) {
		t.Parallel()
		proxy := startProxy(t, srv.Addr())
		trace := &traceLog{}
		c := newClient(t, client.Lambda(), client.LocalCredentials(proxy.Addr()), client.WithTracer(trace.logger()))
		sub := subscribe(t, c, "blackhole", opts)
		publish(t, pub, "blackhole", "m1")
		expectItems(t, sub, 1, "m1")
		proxy.Blackhole()
		blackholed := time.Now()
		publish(t, pub, "blackhole", texts(2, 4)...)
		expectItems(t, sub, 2, texts(2, 4)...)
		t.Logf("items published into a blackhole arrived %v after it, through a new connection", time.Since(blackholed).Round(time.Millisecond))

		st := sub.Stats()
		if st.Resubscribes < 1 || st.SilentStreams+st.FailedChecks < 1 || st.Duplicates != 0 {
			t.Errorf("Stats() = %+v; want the stream given up (silent or a failed check) and resubscribed", st)
		}
		re, ok := trace.waitFor(t, client.EventReconnect, blackholed, time.Second, nil)
		if !ok {
			t.Fatalf("no reconnect after the blackhole:%s", trace.dump())
		}
		if _, ok := trace.waitFor(t, client.EventSubscribe, re.at, time.Second, func(r traceRecord) bool {
			return r.attrs["resume_at"] == "2" && r.attrs["channel"] == re.attrs["new_channel"]
		}); !ok {
			t.Errorf("no resubscription at 2 on the new connection after the reconnect:%s", trace.dump())
		}
	})

	// A pause longer than HeartbeatTimeout looks like a dead connection; it
	// is replaced, and the new one is paused too until the network comes
	// back. Every item then arrives once, in order.
	t.Run("a long pause loses nothing", func(t *testing.T) {
		t.Parallel()
		proxy := startProxy(t, srv.Addr())
		c := newClient(t, client.Lambda(), client.LocalCredentials(proxy.Addr()))
		sub := subscribe(t, c, "pause", opts)
		publish(t, pub, "pause", "m1")
		expectItems(t, sub, 1, "m1")
		proxy.Pause()
		publish(t, pub, "pause", texts(2, 5)...)
		time.Sleep(time.Second)
		proxy.Resume()
		publish(t, pub, "pause", texts(6, 7)...)
		expectItems(t, sub, 2, texts(2, 7)...)
		expectNoEvent(t, sub, 200*time.Millisecond)
		if st := sub.Stats(); st.Resubscribes < 1 {
			t.Errorf("Stats() = %+v; want the paused stream given up", st)
		}
	})
}
