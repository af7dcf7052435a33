package netem

import (
	"bytes"
	"io"
	"sync"
	"testing"
	"time"
)

// deliveryLog collects deliveries for assertions.
type deliveryLog struct {
	mu  sync.Mutex // guards got
	got []Delivery
}

func (l *deliveryLog) add(d Delivery) {
	d.Data = bytes.Clone(d.Data)
	l.mu.Lock()
	l.got = append(l.got, d)
	l.mu.Unlock()
}

func (l *deliveryLog) all() []Delivery {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Delivery(nil), l.got...)
}

// stream is what dir of conn 1 carried, and whether its FIN came last.
func stream(ds []Delivery, dir Direction) (data []byte, fin bool, fins int) {
	for _, d := range ds {
		if d.Conn != 1 || d.Dir != dir {
			continue
		}
		if d.FIN {
			fins++
			fin = true
			continue
		}
		if fin {
			return data, false, fins // bytes after the FIN
		}
		data = append(data, d.Data...)
	}
	return data, fin, fins
}

func TestOnDeliverReportsBothDirectionsAfterTheDelay(t *testing.T) {
	const latency = 50 * time.Millisecond
	echo := startEcho(t)
	var log deliveryLog
	p := startProxy(t, Config{Target: echo.addr(), Latency: latency, OnDeliver: log.add})
	nc := dial(t, p.Addr())

	sent := time.Now()
	roundTrip(t, nc, "hello")
	payload := bytes.Repeat([]byte("0123456789abcdef"), 8<<10) // several reads
	go func() {
		nc.Write(payload)
		nc.CloseWrite()
	}()
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, nc); err != nil {
		t.Fatalf("reading the echo: %v", err)
	}
	waitFor(t, "the proxied connection to close", func() bool { return connInfo(t, p, 1).State == StateClosed })

	ds := log.all()
	want := append([]byte("hello"), payload...)
	for _, dir := range []Direction{ToTarget, ToClient} {
		data, fin, fins := stream(ds, dir)
		if !bytes.Equal(data, want) || !fin || fins != 1 {
			t.Errorf("%v: delivered %d bytes (equal %v), FIN last %v, %d FINs; want the %d bytes sent, then one FIN",
				dir, len(data), bytes.Equal(data, want), fin, fins, len(want))
		}
	}
	var first [3]time.Time // by Direction
	for _, d := range ds {
		if first[d.Dir].IsZero() {
			first[d.Dir] = d.Time
		}
	}
	// Generous bounds: the request waits one delay, its echo two.
	if got := first[ToTarget].Sub(sent); got < latency*8/10 {
		t.Errorf("first delivery to target %v after the write, want at least %v", got, latency*8/10)
	}
	if got := first[ToClient].Sub(sent); got < 2*latency*8/10 {
		t.Errorf("first delivery to client %v after the write, want at least %v", got, 2*latency*8/10)
	}
	if !first[ToClient].After(first[ToTarget]) {
		t.Errorf("echo delivered at %v, not after the request at %v", first[ToClient], first[ToTarget])
	}
}

func TestOnDeliverSkipsBlackholedBytes(t *testing.T) {
	echo := startEcho(t)
	var log deliveryLog
	p := startProxy(t, Config{Target: echo.addr(), OnDeliver: log.add})
	nc := dial(t, p.Addr())
	roundTrip(t, nc, "before")
	p.Blackhole()
	nc.Write([]byte("lost"))
	expectSilence(t, nc, 100*time.Millisecond)
	for _, dir := range []Direction{ToTarget, ToClient} {
		if data, _, _ := stream(log.all(), dir); string(data) != "before" {
			t.Errorf("%v: delivered %q, want %q", dir, data, "before")
		}
	}
}
