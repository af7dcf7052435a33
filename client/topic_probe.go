package client

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errProbeTimeout is the cause of a connection check's Ping that got no
// answer within ProbeTimeout of running time.
var errProbeTimeout = errors.New("no answer to the ping within the probe timeout")

// probeDeadline bounds a connection check's Ping by running time, not by
// the wall clock: the check runs beside a subscription's stream, in the
// background, and a Lambda function's process may be frozen while it waits,
// after the handler returned. A wall-clock deadline would expire across the
// freeze and condemn a healthy connection the moment the process thaws (the
// keepalive bug of the seed, one layer up). Instead the deadline ticks every
// limit/4; a tick that comes more than limit/8 late was held up by a freeze
// (or a starved CPU), which restarts the count, so the answer gets a whole
// limit of running time after the thaw. An answer read after such a hold
// may have waited in a buffer since before it, so it proves nothing about
// the connection now: held reports it, and the caller asks again.
type probeDeadline struct {
	timers timerSource
	period time.Duration // between ticks
	slack  time.Duration // lateness beyond which a tick had a freeze in it
	limit  time.Duration // running time without an answer that fails the probe
	cancel context.CancelCauseFunc

	mu       sync.Mutex // guards the fields below
	done     bool
	held     bool // a freeze came between two ticks
	lastTick time.Time
	running  time.Duration // since the start, or since the latest hold
	stopTick func() bool
}

// startProbeDeadline returns ctx bounded by limit of running time, and the
// deadline, which the caller ends with finish once the Ping has returned.
func startProbeDeadline(ctx context.Context, timers timerSource, limit time.Duration) (context.Context, *probeDeadline) {
	pctx, cancel := context.WithCancelCause(ctx)
	period := max(limit/4, time.Millisecond)
	d := &probeDeadline{timers: timers, period: period, slack: period / 2, limit: limit, cancel: cancel, lastTick: timers.Now()}
	d.mu.Lock()
	d.stopTick = timers.AfterFunc(period, d.tick)
	d.mu.Unlock()
	return pctx, d
}

// tick counts the time since the previous tick as running time, or starts
// over when the tick was held up.
func (d *probeDeadline) tick() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done {
		return
	}
	now := d.timers.Now()
	elapsed := now.Sub(d.lastTick)
	d.lastTick = now
	if elapsed > d.period+d.slack {
		d.held = true
		d.running = 0
	} else {
		d.running += max(elapsed, 0)
	}
	if d.running >= d.limit {
		d.done = true
		d.cancel(errProbeTimeout)
		return
	}
	d.stopTick = d.timers.AfterFunc(d.period, d.tick)
}

// finish ends the deadline and reports whether the process was held up
// (frozen) while the Ping waited, counting the time since the latest tick:
// at a thaw the Ping's answer may be read before the late tick runs.
func (d *probeDeadline) finish() (held bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.done {
		d.done = true
		d.stopTick()
		if d.timers.Now().Sub(d.lastTick) > d.period+d.slack {
			d.held = true
		}
	}
	d.cancel(nil)
	return d.held
}
