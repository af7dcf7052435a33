package netem

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// echoServer is a TCP echo server on 127.0.0.1:0. It half-closes each
// connection after its client does.
type echoServer struct {
	ln     net.Listener
	wg     sync.WaitGroup
	active atomic.Int64 // connections the server has not yet closed

	mu    sync.Mutex // guards conns
	conns map[net.Conn]struct{}
}

func startEcho(t testing.TB) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{ln: ln, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.close)
	return s
}

func (s *echoServer) addr() string { return s.ln.Addr().String() }

func (s *echoServer) serve() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[nc] = struct{}{}
		s.mu.Unlock()
		s.active.Add(1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.active.Add(-1)
			defer func() {
				s.mu.Lock()
				delete(s.conns, nc)
				s.mu.Unlock()
				nc.Close()
			}()
			if _, err := io.Copy(nc, nc); err == nil {
				nc.(*net.TCPConn).CloseWrite()
				io.Copy(io.Discard, nc)
			}
		}()
	}
}

func (s *echoServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for nc := range s.conns {
		nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// startSink starts a TCP server on 127.0.0.1:0 that reads each connection to EOF, then replies with the byte count
// as 8 big-endian bytes and closes.
func startSink(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex // guards conns
	conns := map[net.Conn]struct{}{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[nc] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				n, _ := io.Copy(io.Discard, nc)
				nc.Write(binary.BigEndian.AppendUint64(nil, uint64(n)))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for nc := range conns {
			nc.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func startProxy(t testing.TB, cfg Config) *Proxy {
	t.Helper()
	p, err := Listen(cfg)
	if err != nil {
		t.Fatalf("Listen(%+v): %v", cfg, err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func dial(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc.(*net.TCPConn)
}

// roundTrip writes msg and reads it back from an echo behind nc.
func roundTrip(t testing.TB, nc net.Conn, msg string) {
	t.Helper()
	if _, err := nc.Write([]byte(msg)); err != nil {
		t.Fatalf("Write(%q): %v", msg, err)
	}
	readExactly(t, nc, msg)
}

// readExactly reads len(want) bytes from nc, within 5 s, and compares them
// with want.
func readExactly(t testing.TB, nc net.Conn, want string) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer nc.SetReadDeadline(time.Time{})
	got := make([]byte, len(want))
	if _, err := io.ReadFull(nc, got); err != nil || string(got) != want {
		t.Fatalf("read %q, %v, want %q", got, err, want)
	}
}

// expectSilence checks that nothing arrives on nc within d and that the
// connection is still open: the read must end by its deadline, not by EOF or
// reset.
func expectSilence(t testing.TB, nc net.Conn, d time.Duration) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(d))
	defer nc.SetReadDeadline(time.Time{})
	var b [1]byte
	n, err := nc.Read(b[:])
	if n > 0 {
		t.Fatalf("Read = %q, want nothing for %v", b[:n], d)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read error = %v, want the read deadline to expire", err)
	}
}

// waitFor polls cond until it holds or a generous timeout passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// connInfo returns the ConnInfo of id.
func connInfo(t testing.TB, p *Proxy, id ConnID) ConnInfo {
	t.Helper()
	for _, ci := range p.Conns() {
		if ci.ID == id {
			return ci
		}
	}
	t.Fatalf("Conns() has no connection %d", id)
	return ConnInfo{}
}

// eventLog collects events for assertions.
type eventLog struct {
	mu     sync.Mutex // guards events
	events []Event
}

func (l *eventLog) add(ev Event) {
	l.mu.Lock()
	l.events = append(l.events, ev)
	l.mu.Unlock()
}

// ofKind lists the events of kind recorded for connection id (any
// connection for id 0), in order.
func (l *eventLog) ofKind(id ConnID, kind EventKind) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for _, ev := range l.events {
		if (id == 0 || ev.Conn == id) && ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

// kinds lists the kinds of events recorded for one connection, in order.
func (l *eventLog) kinds(id ConnID) []EventKind {
	l.mu.Lock()
	defer l.mu.Unlock()
	var kinds []EventKind
	for _, ev := range l.events {
		if ev.Conn == id {
			kinds = append(kinds, ev.Kind)
		}
	}
	return kinds
}
