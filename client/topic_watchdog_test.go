package client_test

import (
	"testing"
	"time"

	"github.com/thaw-dev/thaw/client"
	"github.com/thaw-dev/thaw/server"
)

// These tests drive a subscription's watchdog with a fake clock against a
// real server, as recovery_test.go does for calls: the clock jumps as a
// freeze would make it, or steps on time as a running process sees it,
// while the stream, the server and the netem proxy run in real time. The
// watchdog's ticks come every HeartbeatTimeout/4, and only while the
// subscription waits for a message. The servers heartbeat once an hour, so
// that nothing but what a test publishes moves a stream while the test
// drives its clock.

const heartbeatTimeout = client.DefaultTopicHeartbeatTimeout

// quietServer is the configuration of a server whose subscriptions get a
// heartbeat when they start and then once an hour.
func quietServer() server.Config { return server.Config{TopicHeartbeatInterval: time.Hour} }

// freezeClient returns a Lambda() client with a fake timer clock and a
// trace, connected to addr.
func freezeClient(t *testing.T, addr string) (*client.Client, *timerClock, *traceLog) {
	t.Helper()
	clock, trace := newTimerClock(), &traceLog{}
	c := newClient(t, client.Lambda(), client.LocalCredentials(addr), client.WithClock(clock), client.WithTracer(trace.logger()))
	return c, clock, trace
}

// TestTopicResumeAfterDrop: the connection is reset under a subscription;
// it resubscribes after the last item it had, and what was published
// meanwhile arrives, once and in order.
func TestTopicResumeAfterDrop(t *testing.T) {
	t.Parallel()
	srv := startServer(t, server.Config{})
	proxy := startProxy(t, srv.Addr())
	c, _, trace := freezeClient(t, proxy.Addr())
	pub := newClient(t, client.Laptop(), client.LocalCredentials(srv.Addr()))

	sub := subscribe(t, c, "t", client.SubscribeOptions{})
	publish(t, pub, "t", texts(1, 2)...)
	expectItems(t, sub, 1, texts(1, 2)...)
	proxy.Drop()
	publish(t, pub, "t", texts(3, 6)...)
	expectItems(t, sub, 3, texts(3, 6)...)
	expectNoEvent(t, sub, 100*time.Millisecond)

	st := sub.Stats()
	if st.Resubscribes < 1 || st.Items != 6 || st.Duplicates != 0 {
		t.Errorf("Stats() = %+v; want at least one resubscribe, 6 items, no duplicates", st)
	}
	ended, _ := trace.waitFor(t, client.EventStreamEnded, time.Time{}, time.Second, nil)
	resub, ok := trace.waitFor(t, client.EventSubscribe, time.Time{}, time.Second, func(r traceRecord) bool { return r.attrs["resume_at"] == "3" })
	if !ok || resub.at.Before(ended.at) {
		t.Errorf("no subscribe event resuming at 3 after the stream ended:%s", trace.dump())
	}
}

// TestTopicFreezeExplainedGap: a freeze far longer than HeartbeatTimeout,
// during which the server's heartbeats could not be read, does not count
// against a healthy stream: the subscription checks the connection with a
// Ping, which answers, and keeps its stream. Both ways a freeze meets a
// subscription: waiting in Recv (the watchdog's tick comes late) and holding
// an item nobody read yet (the first read after the freeze comes after a
// gap).
func TestTopicFreezeExplainedGap(t *testing.T) {
	t.Parallel()
	srv := startServer(t, quietServer())
	c, clock, trace := freezeClient(t, srv.Addr())
	pub := newClient(t, client.Laptop(), client.LocalCredentials(srv.Addr()))
	sub := subscribe(t, c, "t", client.SubscribeOptions{})

	publish(t, pub, "t", "m1")
	expectItems(t, sub, 1, "m1")
	clock.waitArmed(t)
	clock.Advance(10 * heartbeatTimeout) // frozen while waiting
	if st := sub.Stats(); st.GapChecks != 1 || st.FailedChecks != 0 || st.SilentStreams != 0 || st.Resubscribes != 0 {
		t.Fatalf("after a freeze in Recv: Stats() = %+v; want one successful gap check and nothing given up:%s", st, trace.dump())
	}
	publish(t, pub, "t", "m2")
	expectItems(t, sub, 2, "m2")

	publish(t, pub, "t", "m3") // waits in the pump: nobody reads it before the freeze
	waitUntil(t, "the pump to hold m3", func() bool { return sub.Stats().Items == 3 })
	clock.Advance(10 * heartbeatTimeout)
	expectItems(t, sub, 3, "m3")
	waitUntil(t, "the read after the gap to check the connection", func() bool { return sub.Stats().GapChecks == 2 })
	publish(t, pub, "t", "m4")
	expectItems(t, sub, 4, "m4")

	if st := sub.Stats(); st.FailedChecks != 0 || st.SilentStreams != 0 || st.Resubscribes != 0 {
		t.Errorf("Stats() = %+v; want no failed check, no silent stream, no resubscribe", st)
	}
	if got := trace.events(client.EventReconnect, time.Time{}); len(got) != 0 {
		t.Errorf("the connection was replaced: %v", got)
	}
	gaps := trace.events(client.EventStreamGap, time.Time{})
	if len(gaps) != 2 || gaps[0].attrs["why"] == gaps[1].attrs["why"] {
		t.Errorf("stream gap events = %v; want one late tick and one read after a gap", gaps)
	}
}

// TestTopicDeathAcrossFreeze: the connection is blackholed during a freeze
// (a NAT forgot the flow) while items are published. After the thaw the
// connection check gets no answer, the connection is replaced and the
// subscription resumes after its last item: nothing is lost.
func TestTopicDeathAcrossFreeze(t *testing.T) {
	t.Parallel()
	srv := startServer(t, quietServer())
	pub := newClient(t, client.Laptop(), client.LocalCredentials(srv.Addr()))

	t.Run("waiting in Recv", func(t *testing.T) {
		t.Parallel()
		proxy := startProxy(t, srv.Addr())
		c, clock, trace := freezeClient(t, proxy.Addr())
		sub := subscribe(t, c, "recv", client.SubscribeOptions{})
		publish(t, pub, "recv", "m1")
		expectItems(t, sub, 1, "m1")
		clock.waitArmed(t)

		proxy.Blackhole()
		publish(t, pub, "recv", texts(2, 4)...)
		clock.Advance(10 * heartbeatTimeout)
		expectItems(t, sub, 2, texts(2, 4)...)
		checkReplaced(t, sub, trace)
	})

	t.Run("holding an unread item", func(t *testing.T) {
		t.Parallel()
		proxy := startProxy(t, srv.Addr())
		c, clock, trace := freezeClient(t, proxy.Addr())
		sub := subscribe(t, c, "held", client.SubscribeOptions{})
		publish(t, pub, "held", "m1")
		waitUntil(t, "the pump to hold m1", func() bool { return sub.Stats().Items == 1 })

		proxy.Blackhole()
		publish(t, pub, "held", texts(2, 4)...)
		clock.Advance(10 * heartbeatTimeout)
		expectItems(t, sub, 1, texts(1, 4)...)
		checkReplaced(t, sub, trace)
	})
}

// TestTopicDeathBeforeFirstItem: a stream that dies across a freeze before
// it carried any item leaves the subscription with no position: heartbeats
// carry no sequence number. It resubscribes at the topic's next item, and
// the items published while it had no stream are out of its reach, though
// the server retains them; BlindResubscribes counts such resubscribes.
func TestTopicDeathBeforeFirstItem(t *testing.T) {
	t.Parallel()
	srv := startServer(t, quietServer())
	pub := newClient(t, client.Laptop(), client.LocalCredentials(srv.Addr()))
	proxy := startProxy(t, srv.Addr())
	c, clock, trace := freezeClient(t, proxy.Addr())
	sub := subscribe(t, c, "t", client.SubscribeOptions{})
	clock.waitArmed(t)

	proxy.Blackhole()
	publish(t, pub, "t", texts(1, 2)...)
	clock.Advance(10 * heartbeatTimeout)
	// The new stream's first message is a heartbeat: then it is registered.
	waitUntil(t, "the new stream's heartbeat", func() bool { st := sub.Stats(); return st.Resubscribes == 1 && st.Heartbeats == 2 })
	publish(t, pub, "t", "m3")
	expectItems(t, sub, 3, "m3")
	if st := sub.Stats(); st.BlindResubscribes != 1 || st.FailedChecks != 1 {
		t.Errorf("Stats() = %+v; want one failed check and one blind resubscribe:%s", st, trace.dump())
	}
}

// checkReplaced checks that sub replaced its dead connection once, after a
// failed check, and resubscribed once.
func checkReplaced(t *testing.T, sub *client.Subscription, trace *traceLog) {
	t.Helper()
	st := sub.Stats()
	if st.FailedChecks != 1 || st.Resubscribes != 1 || st.Duplicates != 0 {
		t.Errorf("Stats() = %+v; want one failed check, one resubscribe, no duplicates:%s", st, trace.dump())
	}
	re := trace.events(client.EventReconnect, time.Time{})
	if len(re) != 1 {
		t.Errorf("reconnect events = %v; want one", re)
	}
}

// TestTopicHeartbeatTimeout: in a process that runs throughout (its clock
// steps on time), a stream silent for HeartbeatTimeout is given up. A Ping
// decides the connection's fate: a blackholed one is replaced, a healthy
// one kept and only the stream replaced.
func TestTopicHeartbeatTimeout(t *testing.T) {
	t.Parallel()
	t.Run("dead connection", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, quietServer())
		pub := newClient(t, client.Laptop(), client.LocalCredentials(srv.Addr()))
		proxy := startProxy(t, srv.Addr())
		c, clock, trace := freezeClient(t, proxy.Addr())
		sub := subscribe(t, c, "t", client.SubscribeOptions{})
		publish(t, pub, "t", "m1")
		expectItems(t, sub, 1, "m1")
		clock.waitArmed(t)
		proxy.Blackhole()
		publish(t, pub, "t", texts(2, 3)...)
		clock.Step(heartbeatTimeout/4, 3)
		if st := sub.Stats(); st.SilentStreams != 0 || st.GapChecks != 0 {
			t.Fatalf("after 3/4 of HeartbeatTimeout: Stats() = %+v; want nothing done yet", st)
		}
		clock.Step(heartbeatTimeout/4, 1)
		expectItems(t, sub, 2, texts(2, 3)...)
		st := sub.Stats()
		if st.SilentStreams != 1 || st.Resubscribes != 1 || st.GapChecks != 0 {
			t.Errorf("Stats() = %+v; want one silent stream, one resubscribe, no gap check (no freeze)", st)
		}
		silent := trace.events(client.EventStreamSilent, time.Time{})
		if len(silent) != 1 || silent[0].attrs["connection_alive"] != "false" || silent[0].attrs["silence"] != heartbeatTimeout.String() {
			t.Errorf("stream silent events = %v; want one after %v, connection dead", silent, heartbeatTimeout)
		}
		if re := trace.events(client.EventReconnect, time.Time{}); len(re) != 1 {
			t.Errorf("reconnect events = %v; want one", re)
		}
	})

	t.Run("healthy connection", func(t *testing.T) {
		t.Parallel()
		// The stream is silent, its connection is not.
		srv := startServer(t, quietServer())
		pub := newClient(t, client.Laptop(), client.LocalCredentials(srv.Addr()))
		c, clock, trace := freezeClient(t, srv.Addr())
		sub := subscribe(t, c, "t", client.SubscribeOptions{})
		publish(t, pub, "t", "m1")
		expectItems(t, sub, 1, "m1")
		clock.waitArmed(t)
		clock.Step(heartbeatTimeout/4, 4)
		publish(t, pub, "t", "m2")
		expectItems(t, sub, 2, "m2")
		st := sub.Stats()
		if st.SilentStreams != 1 || st.Resubscribes != 1 {
			t.Errorf("Stats() = %+v; want one silent stream, one resubscribe", st)
		}
		silent := trace.events(client.EventStreamSilent, time.Time{})
		if len(silent) != 1 || silent[0].attrs["connection_alive"] != "true" {
			t.Errorf("stream silent events = %v; want one, connection alive", silent)
		}
		if re := trace.events(client.EventReconnect, time.Time{}); len(re) != 0 {
			t.Errorf("the healthy connection was replaced: %v", re)
		}
	})
}

// TestTopicDiscontinuity: a subscriber that asks for items the server no
// longer retains gets a discontinuity event first, then the items that are
// left, whether it asked at Subscribe or by resubscribing after a dead
// connection; a flushed cache resets its topics, which the subscriber sees
// as a discontinuity onto a new page.
func TestTopicDiscontinuity(t *testing.T) {
	t.Parallel()
	cfg := quietServer()
	cfg.TopicRetention = 4
	srv := startServer(t, cfg)
	pub := newClient(t, client.Laptop(), client.LocalCredentials(srv.Addr()))

	t.Run("resume at Subscribe", func(t *testing.T) {
		t.Parallel()
		c := newClient(t, client.Lambda(), client.LocalCredentials(srv.Addr()))
		publish(t, pub, "old", texts(1, 10)...)
		sub := subscribe(t, c, "old", client.SubscribeOptions{ResumeAt: client.TopicPosition{Sequence: 1}})
		ev := next(t, sub)
		if ev.Kind != client.TopicEventDiscontinuity || ev.Discontinuity.LastSequence != 0 || ev.Discontinuity.NewSequence != 6 || ev.Discontinuity.NewPage == 0 {
			t.Fatalf("first event = %+v; want a discontinuity from 0 to 6", ev)
		}
		expectItems(t, sub, 7, texts(7, 10)...)
	})

	t.Run("resume after a dead connection", func(t *testing.T) {
		t.Parallel()
		proxy := startProxy(t, srv.Addr())
		c, clock, _ := freezeClient(t, proxy.Addr())
		sub := subscribe(t, c, "lost", client.SubscribeOptions{})
		publish(t, pub, "lost", "m1")
		expectItems(t, sub, 1, "m1")
		clock.waitArmed(t)
		proxy.Blackhole()
		publish(t, pub, "lost", texts(2, 11)...)
		clock.Advance(10 * heartbeatTimeout)
		ev := next(t, sub)
		if ev.Kind != client.TopicEventDiscontinuity || ev.Discontinuity.LastSequence != 1 || ev.Discontinuity.NewSequence != 7 {
			t.Fatalf("first event after the freeze = %+v; want a discontinuity from 1 to 7", ev)
		}
		expectItems(t, sub, 8, texts(8, 11)...)
		if st := sub.Stats(); st.Discontinuities != 1 || st.Resubscribes != 1 {
			t.Errorf("Stats() = %+v; want one discontinuity, one resubscribe", st)
		}
	})

	t.Run("flush resets the topic", func(t *testing.T) {
		t.Parallel()
		c := newClient(t, client.Lambda(), client.LocalCredentials(srv.Addr()))
		if _, err := pub.CreateCache(t.Context(), "flushed"); err != nil {
			t.Fatal(err)
		}
		sub, err := c.Subscribe(t.Context(), "flushed", "t", client.SubscribeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		for _, text := range texts(1, 2) {
			if err := pub.PublishText(t.Context(), "flushed", "t", text); err != nil {
				t.Fatal(err)
			}
		}
		expectItems(t, sub, 1, texts(1, 2)...)
		oldPage := sub.Position().Page
		if err := pub.FlushCache(t.Context(), "flushed"); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the subscription to resubscribe", func() bool { return sub.Stats().Resubscribes > 0 })
		if err := pub.PublishText(t.Context(), "flushed", "t", "after"); err != nil {
			t.Fatal(err)
		}
		ev := next(t, sub)
		if ev.Kind != client.TopicEventDiscontinuity || ev.Discontinuity.LastSequence != 2 || ev.Discontinuity.NewPage <= oldPage {
			t.Fatalf("first event after the flush = %+v; want a discontinuity from 2 onto a page after %d", ev, oldPage)
		}
		ev = next(t, sub)
		if ev.Kind != client.TopicEventItem || string(ev.Item.Value) != "after" || ev.Item.Position.Sequence != 1 {
			t.Fatalf("next event = %+v; want item after at sequence 1 of the new page", ev)
		}
	})
}
