package netem

import (
	"io"
	"net"
	"testing"
	"time"
)

func TestNextRetransmission(t *testing.T) {
	t0 := time.Unix(1000, 0)
	rto := 300 * time.Millisecond
	for _, tc := range []struct {
		now         time.Duration // after t0
		wantAt      time.Duration // after t0
		wantAttempt int
	}{
		{now: 0, wantAt: 300 * time.Millisecond, wantAttempt: 1},
		{now: 300 * time.Millisecond, wantAt: 300 * time.Millisecond, wantAttempt: 1},
		{now: 301 * time.Millisecond, wantAt: 900 * time.Millisecond, wantAttempt: 2},
		{now: 6 * time.Second, wantAt: 9300 * time.Millisecond, wantAttempt: 5}, // 0.3·(2^5−1)
		// The timeout stops doubling at MaxRTO: 0.3·2^k reaches 120 s at
		// k = 9 (153.6 → 120), so after the 9th at 0.3·511 = 153.3 s every
		// gap is 120 s.
		{now: 154 * time.Second, wantAt: 273300 * time.Millisecond, wantAttempt: 10},
	} {
		at, attempt := NextRetransmission(t0, t0.Add(tc.now), rto)
		if got := at.Sub(t0); got != tc.wantAt || attempt != tc.wantAttempt {
			t.Errorf("NextRetransmission(now +%v) = +%v, attempt %d; want +%v, attempt %d", tc.now, got, attempt, tc.wantAt, tc.wantAttempt)
		}
	}
	if at, _ := NextRetransmission(t0, t0, 0); at.Sub(t0) != MinRTO {
		t.Errorf("rto 0: first retransmission at +%v, want MinRTO", at.Sub(t0))
	}
}

// holdAnswer holds what the echo behind p sends back on a, makes the echo
// answer msg, and waits until the answer is held for at least d.
func holdAnswer(t *testing.T, p *Proxy, a io.Writer, msg string, sentBefore int, d time.Duration) {
	t.Helper()
	p.Hold(ToClient)
	if _, err := a.Write([]byte(msg)); err != nil {
		t.Fatalf("Write while held: %v", err)
	}
	waitFor(t, "the echo to reach the proxy", func() bool { return connInfo(t, p, 1).BytesToTarget == int64(sentBefore+len(msg)) })
	expectSilence(t, a.(*net.TCPConn), d)
}

// released waits for the EventReleased log holds.
func released(t *testing.T, log *eventLog) Event {
	t.Helper()
	var evs []Event
	waitFor(t, "EventReleased", func() bool {
		evs = log.ofKind(0, EventReleased)
		return len(evs) > 0
	})
	return evs[0]
}

// TestHoldDelaysUntilRetransmission holds what the target sends back, as for
// a frozen client, and checks that Release delivers it at the sender's next
// timeout retransmission when the sender sends nothing new, and reports it.
func TestHoldDelaysUntilRetransmission(t *testing.T) {
	echo := startEcho(t)
	var log eventLog
	p := startProxy(t, Config{Target: echo.addr(), OnEvent: log.add})
	a := dial(t, p.Addr())
	roundTrip(t, a, "before")
	holdAnswer(t, p, a, "held", len("before"), 400*time.Millisecond)

	rto := 250 * time.Millisecond
	releasedAt := time.Now()
	p.Release(ToClient, rto)
	readExactly(t, a, "held")
	ev := released(t, &log)
	// The hold lasted 400 ms or more after the answer arrived: past the
	// first retransmission (250 ms), so the second (750 ms) delivers it.
	if ev.Dir != ToClient || ev.Bytes != int64(len("held")) || ev.Attempt != 2 || ev.Fast {
		t.Errorf("EventReleased = dir %v, %d bytes, attempt %d, fast %v; want to client, %d bytes, attempt 2, not fast", ev.Dir, ev.Bytes, ev.Attempt, ev.Fast, len("held"))
	}
	if early := ev.Arrived.Add(3 * rto).Sub(ev.Deliver); early > 0 {
		t.Errorf("delivered %v before the second retransmission", early)
	}
	if wait := ev.Deliver.Sub(releasedAt); wait <= 0 || wait > 3*rto+time.Second {
		t.Errorf("delivery %v after Release, want within (0, %v]", wait, 3*rto+time.Second)
	}
	roundTrip(t, a, "after")
}

// TestNewDataRepairsTheHoldAtOnce checks the fast retransmission: once the
// sender sends something new after Release, the held bytes and the new ones
// arrive one round trip later, in order, long before the timeout.
func TestNewDataRepairsTheHoldAtOnce(t *testing.T) {
	echo := startEcho(t)
	var log eventLog
	p := startProxy(t, Config{Target: echo.addr(), OnEvent: log.add})
	a := dial(t, p.Addr())
	roundTrip(t, a, "before")
	holdAnswer(t, p, a, "held", len("before"), 300*time.Millisecond)

	releasedAt := time.Now()
	p.Release(ToClient, time.Minute)
	expectSilence(t, a, 200*time.Millisecond)
	if _, err := a.Write([]byte("next")); err != nil {
		t.Fatalf("Write after Release: %v", err)
	}
	readExactly(t, a, "heldnext")
	ev := released(t, &log)
	if !ev.Fast || ev.Attempt != 1 {
		t.Errorf("EventReleased fast %v, attempt %d; want fast, with the first timeout retransmission (attempt 1) not reached", ev.Fast, ev.Attempt)
	}
	if wait := ev.Deliver.Sub(releasedAt); wait > 10*time.Second {
		t.Errorf("delivery %v after Release: the timeout's, not a fast retransmission", wait)
	}
}

// TestReleaseWithoutHeldBytes reports nothing and delays nothing.
func TestReleaseWithoutHeldBytes(t *testing.T) {
	echo := startEcho(t)
	var log eventLog
	p := startProxy(t, Config{Target: echo.addr(), OnEvent: log.add})
	a := dial(t, p.Addr())
	roundTrip(t, a, "before")
	p.Hold(ToClient)
	p.Release(ToClient, time.Hour)
	start := time.Now()
	roundTrip(t, a, "after")
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("round trip after an empty hold took %v", took)
	}
	for _, k := range log.kinds(1) {
		if k == EventReleased {
			t.Errorf("EventReleased without held bytes: %v", log.kinds(1))
		}
	}
}

// TestHeldBytesOfAClosedConnection reports what a connection held and never
// delivered because it closed first, with a zero Deliver.
func TestHeldBytesOfAClosedConnection(t *testing.T) {
	echo := startEcho(t)
	var log eventLog
	p := startProxy(t, Config{Target: echo.addr(), OnEvent: log.add})
	a := dial(t, p.Addr())
	roundTrip(t, a, "before")
	holdAnswer(t, p, a, "held", len("before"), 100*time.Millisecond)
	p.Release(ToClient, time.Minute)
	if err := p.DropConn(1); err != nil {
		t.Fatalf("DropConn: %v", err)
	}
	ev := released(t, &log)
	if !ev.Deliver.IsZero() || ev.Bytes != int64(len("held")) {
		t.Errorf("EventReleased of a dropped connection: Deliver %v, %d bytes; want zero, %d", ev.Deliver, ev.Bytes, len("held"))
	}
}

// TestHoldAgainBeforeTheRetransmission: a retransmission due while the peer
// is paused again does not get through; the next Release schedules the
// sender's next one, and the held bytes are reported held once.
func TestHoldAgainBeforeTheRetransmission(t *testing.T) {
	echo := startEcho(t)
	var log eventLog
	p := startProxy(t, Config{Target: echo.addr(), OnEvent: log.add})
	a := dial(t, p.Addr())
	roundTrip(t, a, "before")
	holdAnswer(t, p, a, "held", len("before"), 50*time.Millisecond)

	rto := 200 * time.Millisecond
	p.Release(ToClient, rto) // the first retransmission is due at arrival+200ms
	p.Hold(ToClient)         // paused again before it
	expectSilence(t, a, 500*time.Millisecond)
	p.Release(ToClient, rto)
	readExactly(t, a, "held")
	ev := released(t, &log)
	if ev.Attempt < 2 || ev.Fast {
		t.Errorf("EventReleased attempt %d, fast %v; want a later retransmission than the first, by timeout", ev.Attempt, ev.Fast)
	}
	if held := len(log.ofKind(1, EventHeld)); held != 1 {
		t.Errorf("%d EventHeld for one held answer across two releases, want 1 (%v)", held, log.kinds(1))
	}
}

// TestFastRetransmissionAfterAnotherHold: a fast retransmission that a new
// hold caught does not get through; new data after the next release prompts
// another one, instead of leaving the held bytes to the sender's timeout.
func TestFastRetransmissionAfterAnotherHold(t *testing.T) {
	echo := startEcho(t)
	var log eventLog
	latency := 200 * time.Millisecond
	p := startProxy(t, Config{Target: echo.addr(), OnEvent: log.add, Latency: latency})
	a := dial(t, p.Addr())
	roundTrip(t, a, "before")
	p.Hold(ToClient)
	if _, err := a.Write([]byte("held")); err != nil {
		t.Fatalf("Write while held: %v", err)
	}
	waitFor(t, "the echo to reach the proxy", func() bool { return connInfo(t, p, 1).BytesToTarget == int64(len("beforeheld")) })
	time.Sleep(2 * latency) // the echo's answer is queued, held

	p.Release(ToClient, time.Minute)
	a.Write([]byte("1")) // new data: its answer is read after one delay, due after two
	// The answer has been read, so a fast retransmission is scheduled a
	// round trip after it arrives (four delays); pause again before that.
	waitFor(t, "the answer to new data to reach the proxy", func() bool { return connInfo(t, p, 1).BytesToTarget == int64(len("beforeheld1")) })
	time.Sleep(latency + latency/2)
	p.Hold(ToClient)
	expectSilence(t, a, 6*latency)

	p.Release(ToClient, time.Minute)
	a.Write([]byte("2"))
	readExactly(t, a, "held12")
	if ev := released(t, &log); !ev.Fast {
		t.Errorf("EventReleased not fast: attempt %d; the second release's new data should have repaired the hold", ev.Attempt)
	}
}
