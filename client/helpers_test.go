package client_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/client"
	"github.com/thaw-dev/thaw/internal/netem"
	"github.com/thaw-dev/thaw/server"
)

// startServer starts a real thaw server on a free loopback port with the
// cache "c", and stops it when the test ends.
func startServer(t testing.TB, cfg server.Config) *server.Server {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	if cfg.EnableTestAdmin {
		cfg.AdminAddr = "127.0.0.1:0"
	}
	cfg.CreateCaches = append(cfg.CreateCaches, "c")
	srv, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("server.Start: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// startProxy puts a netem proxy in front of addr.
func startProxy(t testing.TB, addr string) *netem.Proxy {
	t.Helper()
	p, err := netem.Listen(netem.Config{Target: addr})
	if err != nil {
		t.Fatalf("netem.Listen: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// newClient makes a client and closes it when the test ends.
func newClient(t testing.TB, cfg client.Config, creds client.Credentials, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(context.Background(), cfg, creds, opts...)
	if err != nil {
		t.Fatalf("client.New(%v): %v", creds, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// traceRecord is one event the tracer wrote.
type traceRecord struct {
	at    time.Time
	level slog.Level
	msg   string
	attrs map[string]string
}

func (r traceRecord) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-5s %s", r.at.Format("15:04:05.000"), r.level, r.msg)
	for k, v := range r.attrs {
		fmt.Fprintf(&b, " %s=%q", k, v)
	}
	return b.String()
}

// traceLog is a slog.Handler that keeps every record, for assertions on the
// tracer's events.
type traceLog struct {
	mu      sync.Mutex // guards records
	records []traceRecord
}

// logger returns a logger writing to l at every level.
func (l *traceLog) logger() *slog.Logger { return slog.New(l) }

// Enabled accepts every level.
func (l *traceLog) Enabled(context.Context, slog.Level) bool { return true }

// Handle keeps r.
func (l *traceLog) Handle(_ context.Context, r slog.Record) error {
	rec := traceRecord{at: r.Time, level: r.Level, msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	l.mu.Lock()
	l.records = append(l.records, rec)
	l.mu.Unlock()
	return nil
}

// WithAttrs is not needed by the tracer.
func (l *traceLog) WithAttrs([]slog.Attr) slog.Handler { return l }

// WithGroup is not needed by the tracer.
func (l *traceLog) WithGroup(string) slog.Handler { return l }

// events returns the records with message msg (all records when msg is
// empty) written at or after since.
func (l *traceLog) events(msg string, since time.Time) []traceRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []traceRecord
	for _, r := range l.records {
		if (msg == "" || r.msg == msg) && !r.at.Before(since) {
			out = append(out, r)
		}
	}
	return out
}

// waitFor waits up to limit for a record with message msg written at or
// after since for which match (if not nil) holds, and returns it.
func (l *traceLog) waitFor(t testing.TB, msg string, since time.Time, limit time.Duration, match func(traceRecord) bool) (traceRecord, bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		for _, r := range l.events(msg, since) {
			if match == nil || match(r) {
				return r, true
			}
		}
		if time.Now().After(deadline) {
			return traceRecord{}, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dump formats every record, for failure messages.
func (l *traceLog) dump() string {
	var b strings.Builder
	for _, r := range l.events("", time.Time{}) {
		b.WriteString("\n\t")
		b.WriteString(r.String())
	}
	return b.String()
}

// fakeClock is a Clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

// Now returns the fake time.
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the fake time forward by d, as a freeze of length d would.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
