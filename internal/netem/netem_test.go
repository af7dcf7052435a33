package netem

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestListenRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no target", Config{}},
		{"negative latency", Config{Target: "127.0.0.1:1", Latency: -time.Millisecond}},
		{"negative jitter", Config{Target: "127.0.0.1:1", Jitter: -time.Millisecond}},
		{"negative buffer", Config{Target: "127.0.0.1:1", MaxBuffered: -1}},
		{"negative dial timeout", Config{Target: "127.0.0.1:1", DialTimeout: -time.Second}},
		{"bad listen address", Config{Target: "127.0.0.1:1", Listen: "127.0.0.1:bad"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Listen(tt.cfg)
			if err == nil {
				p.Close()
				t.Fatalf("Listen(%+v) succeeded, want an error", tt.cfg)
			}
			if !strings.HasPrefix(err.Error(), "netem: ") {
				t.Errorf("Listen(%+v) error = %q, want the netem: prefix", tt.cfg, err)
			}
		})
	}
}

func TestForwardsBothWays(t *testing.T) {
	echo := startEcho(t)
	p := startProxy(t, Config{Target: echo.addr()})
	nc := dial(t, p.Addr())

	payload := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{1}).Read(payload)
	writeErr := make(chan error, 1)
	go func() {
		_, err := nc.Write(payload)
		if err == nil {
			err = nc.CloseWrite()
		}
		writeErr <- err
	}()

	// ReadAll ends only if the client's FIN reached the echo server and the
	// server's FIN came back.
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(nc)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if err := <-writeErr; err != nil {
		t.Fatalf("Write: %v", err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("echo of %d random bytes differs (got %d bytes)", len(payload), len(got))
	}

	waitFor(t, "the proxied connection to close", func() bool {
		return connInfo(t, p, 1).State == StateClosed
	})
	ci := connInfo(t, p, 1)
	if ci.BytesToTarget != int64(len(payload)) || ci.BytesToClient != int64(len(payload)) {
		t.Errorf("bytes to target, to client = %d, %d, want %d each", ci.BytesToTarget, ci.BytesToClient, len(payload))
	}
	if ci.Closed.IsZero() || ci.Opened.IsZero() || ci.Client != nc.LocalAddr().String() {
		t.Errorf("Conns()[0] = %+v, want opened and closed times and client %s", ci, nc.LocalAddr())
	}
}

func TestLatency(t *testing.T) {
	tests := []struct {
		name            string
		latency, jitter time.Duration
	}{
		{"fixed", 100 * time.Millisecond, 0},
		{"jittered", 100 * time.Millisecond, 30 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			echo := startEcho(t)
			p := startProxy(t, Config{Target: echo.addr(), Latency: tt.latency, Jitter: tt.jitter, Seed: 7})
			nc := dial(t, p.Addr())
			// Each round trip crosses the proxy twice.
			floor := time.Duration(0.8 * float64(2*(tt.latency-tt.jitter)))
			for i := range 3 {
				start := time.Now()
				roundTrip(t, nc, "ping")
				if rtt := time.Since(start); rtt < floor {
					t.Errorf("round trip %d took %v, want at least %v", i, rtt, floor)
				}
			}
		})
	}
}

func TestLatencyChangeAppliesToNewData(t *testing.T) {
	echo := startEcho(t)
	p := startProxy(t, Config{Target: echo.addr()})
	nc := dial(t, p.Addr())
	roundTrip(t, nc, "fast")

	const latency = 150 * time.Millisecond
	floor := time.Duration(0.8 * float64(2*latency))
	if err := p.SetConnLatency(1, latency, 0); err != nil {
		t.Fatalf("SetConnLatency: %v", err)
	}
	start := time.Now()
	roundTrip(t, nc, "slow")
	if rtt := time.Since(start); rtt < floor {
		t.Errorf("round trip after SetConnLatency took %v, want at least %v", rtt, floor)
	}

	// SetLatency reaches connections accepted afterwards.
	if err := p.SetLatency(latency, 0); err != nil {
		t.Fatalf("SetLatency: %v", err)
	}
	later := dial(t, p.Addr())
	start = time.Now()
	roundTrip(t, later, "slow too")
	if rtt := time.Since(start); rtt < floor {
		t.Errorf("round trip on a new connection took %v, want at least %v", rtt, floor)
	}
	if got := connInfo(t, p, 2).Latency; got != latency {
		t.Errorf("Conns()[1].Latency = %v, want %v", got, latency)
	}

	if err := p.SetLatency(-time.Second, 0); err == nil {
		t.Error("SetLatency(-1s, 0) succeeded, want an error")
	}
	if err := p.SetConnLatency(99, 0, 0); !errors.Is(err, ErrNoConn) {
		t.Errorf("SetConnLatency(99) = %v, want ErrNoConn", err)
	}
}

// A proxy that slept on the delay in its read loop would move one read (at
// most 32 KiB) per delay: 8 MiB at 50 ms a read would take over 12 s. The
// queue delivers it in a fraction of that.
func TestDelayDoesNotBoundThroughput(t *testing.T) {
	sink := startSink(t)
	p := startProxy(t, Config{Target: sink, Latency: 50 * time.Millisecond})
	nc := dial(t, p.Addr())

	const size = 8 << 20
	start := time.Now()
	if _, err := nc.Write(make([]byte, size)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	nc.CloseWrite()
	nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	var reply [8]byte
	if _, err := io.ReadFull(nc, reply[:]); err != nil {
		t.Fatalf("reading the sink's count: %v", err)
	}
	if got := binary.BigEndian.Uint64(reply[:]); got != size {
		t.Fatalf("sink counted %d bytes, want %d", got, size)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("8 MiB through a 50 ms delay took %v, want well under the 12 s of a sleeping proxy", elapsed)
	}
}

func TestJitterKeepsByteOrder(t *testing.T) {
	echo := startEcho(t)
	p := startProxy(t, Config{Target: echo.addr(), Latency: 3 * time.Millisecond, Jitter: 3 * time.Millisecond, Seed: 42})
	nc := dial(t, p.Addr())

	const count = 3000
	writeErr := make(chan error, 1)
	go func() {
		for i := range uint32(count) {
			if _, err := nc.Write(binary.BigEndian.AppendUint32(nil, i)); err != nil {
				writeErr <- err
				return
			}
			if i%50 == 0 {
				time.Sleep(time.Millisecond) // let reads split into many chunks
			}
		}
		writeErr <- nil
	}()

	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	got := make([]byte, 4*count)
	if _, err := io.ReadFull(nc, got); err != nil {
		t.Fatalf("ReadFull: %v", err)
	}
	if err := <-writeErr; err != nil {
		t.Fatalf("Write: %v", err)
	}
	for i := range uint32(count) {
		if v := binary.BigEndian.Uint32(got[4*i:]); v != i {
			t.Fatalf("counter %d arrived as %d, want bytes in order", i, v)
		}
	}
}

func TestJitterDraws(t *testing.T) {
	const latency, jitter = 10 * time.Millisecond, 4 * time.Millisecond
	draw := func(seed uint64) []time.Duration {
		c := &conn{latency: latency, jitter: jitter}
		d := &direction{rng: rand.New(rand.NewPCG(seed, 2))}
		var delays []time.Duration
		for range 1000 {
			delays = append(delays, c.delayLocked(d))
		}
		return delays
	}
	a := draw(1)
	for i, d := range a {
		if d < latency-jitter || d > latency+jitter {
			t.Fatalf("delay %d = %v, want within %v ± %v", i, d, latency, jitter)
		}
	}
	if !slices.Equal(a, draw(1)) {
		t.Error("two draws with seed 1 differ, want the same delays")
	}
	if slices.Equal(a, draw(2)) {
		t.Error("draws with seeds 1 and 2 are equal, want different delays")
	}
	if slices.Min(a) == slices.Max(a) {
		t.Errorf("every delay is %v, want them spread", a[0])
	}
}

func TestPauseHoldsAndResumeReleases(t *testing.T) {
	echo := startEcho(t)
	p := startProxy(t, Config{Target: echo.addr()})
	a := dial(t, p.Addr())
	roundTrip(t, a, "before")

	p.Pause()
	if got := connInfo(t, p, 1).State; got != StatePaused {
		t.Errorf("state after Pause = %q, want %q", got, StatePaused)
	}
	if _, err := a.Write([]byte("held")); err != nil {
		t.Fatalf("Write while paused: %v", err)
	}
	// A connection accepted while paused is held too.
	b := dial(t, p.Addr())
	if _, err := b.Write([]byte("held too")); err != nil {
		t.Fatalf("Write on a connection accepted while paused: %v", err)
	}
	expectSilence(t, a, 300*time.Millisecond)
	expectSilence(t, b, 100*time.Millisecond)
	if got := connInfo(t, p, 1).BytesToTarget; got != int64(len("before")) {
		t.Errorf("bytes to target while paused = %d, want %d", got, len("before"))
	}
	if got := connInfo(t, p, 2).State; got != StatePaused {
		t.Errorf("state of a connection accepted while paused = %q, want %q", got, StatePaused)
	}

	p.Resume()
	for _, tc := range []struct {
		nc   net.Conn
		want string
	}{{a, "held"}, {b, "held too"}} {
		tc.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		got := make([]byte, len(tc.want))
		if _, err := io.ReadFull(tc.nc, got); err != nil || string(got) != tc.want {
			t.Fatalf("after Resume read %q, %v, want %q", got, err, tc.want)
		}
	}
	roundTrip(t, a, "after")

	// PauseConn holds one connection only.
	if err := p.PauseConn(1); err != nil {
		t.Fatalf("PauseConn(1): %v", err)
	}
	a.Write([]byte("one"))
	roundTrip(t, b, "other connection flows")
	expectSilence(t, a, 200*time.Millisecond)
	if err := p.ResumeConn(1); err != nil {
		t.Fatalf("ResumeConn(1): %v", err)
	}
	a.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 3)
	if _, err := io.ReadFull(a, got); err != nil || string(got) != "one" {
		t.Fatalf("after ResumeConn read %q, %v, want %q", got, err, "one")
	}
}

func TestBlackhole(t *testing.T) {
	echo := startEcho(t)
	p := startProxy(t, Config{Target: echo.addr()})
	old := dial(t, p.Addr())
	roundTrip(t, old, "hello")

	p.Blackhole()
	if got := connInfo(t, p, 1).State; got != StateBlackholed {
		t.Errorf("state after Blackhole = %q, want %q", got, StateBlackholed)
	}
	for range 2 { // the connection stays writable: nothing closed it
		if _, err := old.Write([]byte("lost")); err != nil {
			t.Fatalf("Write on a blackholed connection: %v", err)
		}
		expectSilence(t, old, 500*time.Millisecond)
	}
	waitFor(t, "the blackhole to count discarded bytes", func() bool {
		return connInfo(t, p, 1).BytesDiscarded == int64(2*len("lost"))
	})

	fresh := dial(t, p.Addr())
	roundTrip(t, fresh, "new connections work")
	if got := connInfo(t, p, 2).State; got != StateOpen {
		t.Errorf("state of a connection accepted after Blackhole = %q, want %q", got, StateOpen)
	}

	// The client's FIN goes nowhere either: the echo server keeps both of
	// its connections.
	old.Close()
	time.Sleep(200 * time.Millisecond)
	if got := echo.active.Load(); got != 2 {
		t.Errorf("echo server holds %d connections after the blackholed client closed, want 2", got)
	}
	roundTrip(t, fresh, "still")
}

func TestBlackholeConn(t *testing.T) {
	echo := startEcho(t)
	p := startProxy(t, Config{Target: echo.addr()})
	a, b := dial(t, p.Addr()), dial(t, p.Addr())
	roundTrip(t, a, "a")
	roundTrip(t, b, "b")

	if err := p.BlackholeConn(1); err != nil {
		t.Fatalf("BlackholeConn(1): %v", err)
	}
	a.Write([]byte("lost"))
	roundTrip(t, b, "b still works")
	expectSilence(t, a, 300*time.Millisecond)
	if got := connInfo(t, p, 2).State; got != StateOpen {
		t.Errorf("state of the other connection = %q, want %q", got, StateOpen)
	}
	if err := p.BlackholeConn(99); !errors.Is(err, ErrNoConn) {
		t.Errorf("BlackholeConn(99) = %v, want ErrNoConn", err)
	}
}

func TestDrop(t *testing.T) {
	echo := startEcho(t)
	p := startProxy(t, Config{Target: echo.addr()})
	a, b := dial(t, p.Addr()), dial(t, p.Addr())
	roundTrip(t, a, "a")
	roundTrip(t, b, "b")

	if err := p.DropConn(1); err != nil {
		t.Fatalf("DropConn(1): %v", err)
	}
	expectReset(t, a)
	roundTrip(t, b, "b survives DropConn(1)")
	if err := p.DropConn(1); !errors.Is(err, ErrNoConn) {
		t.Errorf("second DropConn(1) = %v, want ErrNoConn", err)
	}

	p.Drop()
	expectReset(t, b)
	waitFor(t, "the echo server to see both connections end", func() bool {
		return echo.active.Load() == 0
	})
	for _, ci := range p.Conns() {
		if ci.State != StateClosed {
			t.Errorf("connection %d state after Drop = %q, want %q", ci.ID, ci.State, StateClosed)
		}
	}
	roundTrip(t, dial(t, p.Addr()), "new connections work after Drop")
}

// expectReset checks that the next read on nc fails promptly with a reset
// (or EOF, if the RST raced the read), not by timing out.
func expectReset(t *testing.T, nc net.Conn) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	var b [1]byte
	_, err := nc.Read(b[:])
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
		t.Fatalf("Read after drop = %v, want ECONNRESET or EOF", err)
	}
}

func TestEvents(t *testing.T) {
	echo := startEcho(t)
	var log eventLog
	p := startProxy(t, Config{Target: echo.addr(), OnEvent: log.add})

	a := dial(t, p.Addr())
	roundTrip(t, a, "a")
	p.Pause()
	p.Resume()
	p.Blackhole()
	p.Drop()

	b := dial(t, p.Addr())
	roundTrip(t, b, "b")
	b.CloseWrite()
	if _, err := io.ReadAll(b); err != nil {
		t.Fatalf("reading to EOF: %v", err)
	}

	waitFor(t, "both connections to report closed", func() bool {
		return len(log.kinds(1)) == 6 && len(log.kinds(2)) == 2
	})
	tests := []struct {
		id      ConnID
		want    []EventKind
		wantErr error
	}{
		{1, []EventKind{EventAccepted, EventPaused, EventResumed, EventBlackholed, EventDropped, EventClosed}, ErrDropped},
		{2, []EventKind{EventAccepted, EventClosed}, nil},
	}
	for _, tt := range tests {
		if got := log.kinds(tt.id); !slices.Equal(got, tt.want) {
			t.Errorf("events of connection %d = %v, want %v", tt.id, got, tt.want)
		}
		for _, ev := range log.ofKind(tt.id, EventClosed) {
			if !errors.Is(ev.Err, tt.wantErr) {
				t.Errorf("closed event of connection %d has Err %v, want %v", tt.id, ev.Err, tt.wantErr)
			}
		}
	}
}

func TestDialFailureResetsClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var log eventLog
	p := startProxy(t, Config{Target: ln.Addr().String(), OnEvent: log.add})
	ln.Close() // nothing listens there now; the proxy holds another port
	// The reset can beat the client's connect call to the finish.
	nc, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	switch {
	case errors.Is(err, syscall.ECONNRESET):
	case err != nil:
		t.Fatalf("dial: %v, want success or ECONNRESET", err)
	default:
		t.Cleanup(func() { nc.Close() })
		expectReset(t, nc)
	}
	waitFor(t, "the closed event", func() bool { return len(log.kinds(1)) == 2 })
	log.mu.Lock()
	defer log.mu.Unlock()
	if ev := log.events[1]; ev.Err == nil || !strings.HasPrefix(ev.Err.Error(), "netem: dial") {
		t.Errorf("closed event Err = %v, want a netem: dial error", ev.Err)
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()

	echo := startEcho(t)
	p := startProxy(t, Config{Target: echo.addr(), Latency: time.Second})
	var clients []*net.TCPConn
	for range 4 {
		nc := dial(t, p.Addr())
		clients = append(clients, nc)
	}
	waitFor(t, "four accepted connections", func() bool { return len(p.Conns()) == 4 })
	p.PauseConn(2)
	p.BlackholeConn(3)
	for _, nc := range clients {
		nc.Write([]byte("in flight")) // queued behind the 1 s delay, or held
	}

	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for i, nc := range clients {
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := nc.Read(make([]byte, 16)); errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("client %d still open after Close", i+1)
		}
		nc.Close()
	}
	for _, ci := range p.Conns() {
		if ci.State != StateClosed {
			t.Errorf("connection %d state after Close = %q, want %q", ci.ID, ci.State, StateClosed)
		}
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		t.Error("dial after Close succeeded, want the listener closed")
	}
	echo.close()

	var now int
	deadline := time.Now().Add(5 * time.Second)
	for {
		if now = runtime.NumGoroutine(); now <= before || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if now > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after Close, %d before:\n%s", now, before, buf[:runtime.Stack(buf, true)])
	}
}
