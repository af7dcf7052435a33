package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/client"
)

// The connection check's running-time deadline (client/topic_probe.go),
// driven by the fake timer clock of the subscription tests.

const testProbeLimit = 400 * time.Millisecond // ticks every 100 ms, late after 150 ms

// TestProbeDeadlineRunningTime: a process that runs throughout gives up
// after the limit, and not before.
func TestProbeDeadlineRunningTime(t *testing.T) {
	timers := newTimerClock()
	ctx, finish := client.StartProbeDeadline(context.Background(), timers, testProbeLimit)
	timers.Step(testProbeLimit/4, 3)
	if ctx.Err() != nil {
		t.Fatalf("cancelled after 3/4 of the limit: %v", context.Cause(ctx))
	}
	timers.Step(testProbeLimit/4, 1)
	if !errors.Is(context.Cause(ctx), client.ErrProbeTimeout) {
		t.Fatalf("cause after the limit = %v; want client.ErrProbeTimeout", context.Cause(ctx))
	}
	if finish() {
		t.Errorf("finish() = held; want not held: the process ran on time")
	}
}

// TestProbeDeadlineAcrossFreeze: a freeze far longer than the limit, with
// the Ping waiting, does not end the probe; the count starts over at the
// thaw, so the answer gets a whole limit of running time after it, and the
// probe reports that it was held.
func TestProbeDeadlineAcrossFreeze(t *testing.T) {
	timers := newTimerClock()
	ctx, finish := client.StartProbeDeadline(context.Background(), timers, testProbeLimit)
	timers.Step(testProbeLimit/4, 3) // 300 ms of the 400 spent
	timers.Advance(30 * time.Second) // frozen; the late tick runs at the thaw
	if ctx.Err() != nil {
		t.Fatalf("a freeze ended the probe: %v", context.Cause(ctx))
	}
	timers.Step(testProbeLimit/4, 3)
	if ctx.Err() != nil {
		t.Fatalf("cancelled 300 ms after the thaw: %v", context.Cause(ctx))
	}
	timers.Step(testProbeLimit/4, 1)
	if !errors.Is(context.Cause(ctx), client.ErrProbeTimeout) {
		t.Fatalf("cause 400 ms after the thaw = %v; want client.ErrProbeTimeout", context.Cause(ctx))
	}
	if !finish() {
		t.Errorf("finish() = not held; want held: the process was frozen while the probe waited")
	}
}

// TestProbeDeadlineAnswerBeforeLateTick: at a thaw the Ping's answer can be
// read before the late tick runs; finish still reports the freeze.
func TestProbeDeadlineAnswerBeforeLateTick(t *testing.T) {
	timers := newTimerClock()
	ctx, finish := client.StartProbeDeadline(context.Background(), timers, testProbeLimit)
	timers.mu.Lock()
	timers.now = timers.now.Add(10 * time.Second) // thawed; no timer has run yet
	timers.mu.Unlock()
	if !finish() {
		t.Errorf("finish() = not held; want held")
	}
	if ctx.Err() == nil {
		t.Errorf("finish left the probe's context live")
	}
	if errors.Is(context.Cause(ctx), client.ErrProbeTimeout) {
		t.Errorf("finish counted as a timeout")
	}
	timers.Advance(time.Second)
	if errors.Is(context.Cause(ctx), client.ErrProbeTimeout) {
		t.Errorf("a tick after finish timed the probe out")
	}
}

// TestProbeDeadlineQuickAnswer: an answer in time is neither held nor a
// timeout.
func TestProbeDeadlineQuickAnswer(t *testing.T) {
	timers := newTimerClock()
	ctx, finish := client.StartProbeDeadline(context.Background(), timers, testProbeLimit)
	timers.Advance(testProbeLimit / 8)
	if finish() || errors.Is(context.Cause(ctx), client.ErrProbeTimeout) {
		t.Errorf("a quick answer was held or timed out (%v)", context.Cause(ctx))
	}
}
