package lambda_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/lambda"
	"github.com/thaw-dev/thaw/lambda/sandbox"
)

// BenchmarkWarmInvoke measures the round trip of a warm synchronous
// invocation of a no-op aws-lambda-go function through the Invoke API, freeze
// and thaw included, for ModeAuto (the cgroup freezer where writable) and
// ModeSignal (SIGSTOP/SIGCONT) side by side. "back-to-back" sends the next
// invocation as soon as the previous one is answered, so some find their
// event queued before the runtime asks for it and skip the freeze; "paced"
// waits 2 ms (not measured) between invocations, so every one starts from a
// frozen environment. Besides ns/op it reports µs/thaw and µs/freeze,
// the mean latencies thaw's debug log gives, and frozen/op, the share of
// invocations that started from a frozen environment. The function gets
// 3008 MB, so no CPU quota throttles it. scripts/bench-lambda.sh compares
// the same round trip with AWS's runtime interface emulator.
//
//	go test -run '^$' -bench WarmInvoke ./lambda/
func BenchmarkWarmInvoke(b *testing.B) {
	code := filepath.Join(b.TempDir(), "bootstrap")
	if err := goBuild("./internal/benchinvoke/noop", code); err != nil {
		b.Fatal(err)
	}
	pacings := []struct {
		name string
		gap  time.Duration
	}{
		{name: "back-to-back", gap: 0},
		{name: "paced", gap: 2 * time.Millisecond},
	}
	for _, mode := range []sandbox.Mode{sandbox.ModeAuto, sandbox.ModeSignal} {
		for _, pacing := range pacings {
			b.Run(mode.String()+"/"+pacing.name, func(b *testing.B) {
				events := &freezeLog{}
				emu, err := lambda.Start(b.Context(), lambda.Config{
					Addr:       "127.0.0.1:0",
					FreezeMode: mode,
					Logger:     slog.New(events),
					Functions: []lambda.Function{{
						Name: "noop", Runtime: lambda.RuntimeProvided, Code: code, MemoryMB: 3008,
					}},
				})
				if err != nil {
					b.Fatalf("lambda.Start: %v", err)
				}
				b.Cleanup(func() { emu.Close() })
				url := "http://" + emu.Addr() + "/2015-03-31/functions/noop/invocations"
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
				b.Cleanup(client.CloseIdleConnections)

				for range 100 { // the cold start, then warm-up
					warmInvoke(b, client, url)
				}
				if envs := emu.Environments(); len(envs) == 1 {
					b.Logf("freeze mode %s", envs[0].FreezeMode)
				}
				events.reset()
				for b.Loop() {
					warmInvoke(b, client, url)
					if pacing.gap > 0 {
						b.StopTimer()
						time.Sleep(pacing.gap)
						b.StartTimer()
					}
				}
				freezes, thaws := events.latencies()
				b.ReportMetric(meanMicros(freezes), "µs/freeze")
				b.ReportMetric(meanMicros(thaws), "µs/thaw")
				b.ReportMetric(float64(len(thaws))/float64(b.N), "frozen/op")
				if envs := emu.Environments(); len(envs) != 1 {
					b.Errorf("environments after the run = %d, want 1: every invocation warm", len(envs))
				}
			})
		}
	}
}

// warmInvoke invokes the no-op function with an empty event and fails the
// benchmark unless it succeeded.
func warmInvoke(b *testing.B, client *http.Client, url string) {
	resp, err := client.Post(url, "application/json", strings.NewReader("{}"))
	if err != nil {
		b.Fatalf("invoke: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Amz-Function-Error") != "" {
		b.Fatalf("invoke = %d %q, want 200 success", resp.StatusCode, body)
	}
}

// freezeLog is a slog.Handler that keeps the latency of the emulator's debug
// records "frozen" and "thawed" and drops everything else.
type freezeLog struct {
	mu      sync.Mutex      // guards the fields below
	freezes []time.Duration // guarded by mu
	thaws   []time.Duration // guarded by mu
}

func (l *freezeLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *freezeLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *freezeLog) WithGroup(string) slog.Handler            { return l }

func (l *freezeLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "frozen" && r.Message != "thawed" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "latency" {
			return true
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if r.Message == "frozen" {
			l.freezes = append(l.freezes, a.Value.Duration())
		} else {
			l.thaws = append(l.thaws, a.Value.Duration())
		}
		return false
	})
	return nil
}

func (l *freezeLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.freezes, l.thaws = nil, nil
}

func (l *freezeLog) latencies() (freezes, thaws []time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]time.Duration(nil), l.freezes...), append([]time.Duration(nil), l.thaws...)
}

func meanMicros(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	var total time.Duration
	for _, d := range ds {
		total += d
	}
	return float64(total) / float64(time.Microsecond) / float64(len(ds))
}
