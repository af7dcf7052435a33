// Command testfunction is a Lambda function built with aws-lambda-go, used by
// the emulator's tests. The event says what it does, so one binary covers
// every lifecycle case: {"action": "echo" | "sleep" | "crash" | "alloc" |
// "fail" | "count" | "ticks" | "stream_fail" | "spin", ...}. With
// $THAW_TEST_INIT_SPIN_MS set it keeps a core busy for that many
// milliseconds of wall time during Init, and reports the CPU time it got.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// event is the test's instruction.
type event struct {
	Action string `json:"action"`
	Millis int    `json:"ms"`
	MB     int    `json:"mb"`
	Text   string `json:"text"`
}

// reply tells the test what the function saw.
type reply struct {
	RequestID   string `json:"request_id"`
	Pid         int    `json:"pid"`
	Invocations int64  `json:"invocations"`
	Ticks       int64  `json:"ticks"`
	UptimeMs    int64  `json:"uptime_ms"`
	Echo        string `json:"echo,omitempty"`
	// SpinCPUMs is the CPU time the "spin" action got, InitSpinCPUMs that
	// of the spin during Init, both in milliseconds.
	SpinCPUMs     float64 `json:"spin_cpu_ms,omitempty"`
	InitSpinCPUMs float64 `json:"init_spin_cpu_ms,omitempty"`
}

var (
	started     = time.Now()
	invocations atomic.Int64
	// ticks counts 10 ms timer ticks since start: it advances only while the
	// process gets CPU, so a frozen environment falls behind the wall clock.
	ticks atomic.Int64
	// hoard keeps allocations alive for the "alloc" action.
	hoard [][]byte
	// initSpinCPU is the CPU time the spin during Init got.
	initSpinCPU time.Duration
)

func handle(ctx context.Context, ev event) (reply, error) {
	n := invocations.Add(1)
	lc, _ := lambdacontext.FromContext(ctx)
	r := reply{Pid: os.Getpid(), Invocations: n, Ticks: ticks.Load(), UptimeMs: time.Since(started).Milliseconds(),
		InitSpinCPUMs: milliseconds(initSpinCPU)}
	if lc != nil {
		r.RequestID = lc.AwsRequestID
	}
	switch ev.Action {
	case "", "echo", "count", "ticks":
		r.Echo = ev.Text
		fmt.Println("echo", ev.Text)
	case "lines":
		// "lines" prints ms lines at once, for tests of log volume.
		for i := range ev.Millis {
			fmt.Println("line", i)
		}
	case "sleep":
		time.Sleep(time.Duration(ev.Millis) * time.Millisecond)
	case "spin":
		r.SpinCPUMs = milliseconds(spin(time.Duration(ev.Millis) * time.Millisecond))
	case "crash":
		fmt.Println("crashing on purpose")
		os.Exit(3)
	case "alloc":
		for range ev.MB {
			chunk := make([]byte, 1<<20)
			for i := range chunk {
				chunk[i] = 1
			}
			hoard = append(hoard, chunk)
		}
	case "fail":
		return r, errors.New("failing on purpose: " + ev.Text)
	default:
		return r, fmt.Errorf("unknown action %q", ev.Action)
	}
	return r, nil
}

// dispatch runs handle, except for "stream_fail", whose response is a
// stream that fails after its first bytes: aws-lambda-go then reports the
// error in the response's trailers.
func dispatch(ctx context.Context, ev event) (any, error) {
	if ev.Action == "stream_fail" {
		return io.MultiReader(strings.NewReader(`{"partial":`), failingReader{}), nil
	}
	return handle(ctx, ev)
}

// spin keeps one core busy for d of wall time and returns the CPU time the
// process got meanwhile.
func spin(d time.Duration) time.Duration {
	before := cpuTime()
	for start := time.Now(); time.Since(start) < d; {
	}
	return cpuTime() - before
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// milliseconds is d in milliseconds.
func milliseconds(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// failingReader fails every read.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) {
	return 0, errors.New("stream broke on purpose")
}

func main() {
	if ms, _ := strconv.Atoi(os.Getenv("THAW_TEST_INIT_SPIN_MS")); ms > 0 {
		initSpinCPU = spin(time.Duration(ms) * time.Millisecond)
	}
	go func() {
		for range time.Tick(10 * time.Millisecond) {
			ticks.Add(1)
		}
	}()
	lambda.Start(dispatch)
}
