package client

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Freeze-aware recovery: the design is in the package documentation
// (doc.go). This file holds all of it: gap tracking, the plan for a call
// after a gap, the probe Ping and the replacement of the connection.

// activity tracks when the server last replied, for gap detection.
type activity struct {
	clock Clock
	epoch time.Time
	// lastReply is the start time (since epoch) of the latest call that got
	// a reply from the server, or the creation of the current connection.
	lastReply atomic.Int64
	// suspect is set when a call ended without any reply from the server
	// (deadline passed or UNAVAILABLE), and cleared by the next reply: the
	// next call then probes as after a gap.
	suspect atomic.Bool
	// smoothedCall is the smoothed duration of calls made with no gap
	// before them, in nanoseconds (0 before any): recordCallTime.
	smoothedCall atomic.Int64
}

func newActivity(clock Clock) *activity {
	return &activity{clock: clock, epoch: clock.Now()}
}

// now returns the time since the epoch.
func (a *activity) now() time.Duration { return a.clock.Now().Sub(a.epoch) }

// gap returns how long before now the server last replied.
func (a *activity) gap(now time.Duration) time.Duration {
	return now - time.Duration(a.lastReply.Load())
}

// replied records a reply to a call that started at start. A rare lost
// update between concurrent calls only makes a gap look slightly longer.
func (a *activity) replied(start time.Duration) {
	if int64(start) > a.lastReply.Load() {
		a.lastReply.Store(int64(start))
	}
	if a.suspect.Load() {
		a.suspect.Store(false)
	}
}

// noReply records a call that ended without hearing from the server.
func (a *activity) noReply(code codes.Code) {
	if code == codes.DeadlineExceeded || code == codes.Unavailable {
		a.suspect.Store(true)
	}
}

// serverReplied reports whether a call failing with code got its answer from
// the server, which proves the connection alive.
func serverReplied(code codes.Code) bool {
	switch code {
	case codes.DeadlineExceeded, codes.Unavailable, codes.Canceled, codes.Unknown:
		return false
	}
	return true
}

// recoveryPlan is what a call does about the gap before it.
type recoveryPlan uint8

const (
	planNone    recoveryPlan = iota // no gap worth acting on
	planProbe                       // probe: a short first attempt, or a Ping first
	planReplace                     // replace the connection first (MaxIdle)
)

// planFor decides what to do about gap.
func (c *Client) planFor(gap time.Duration) recoveryPlan {
	switch {
	case c.cfg.MaxIdle > 0 && gap > c.cfg.MaxIdle:
		return planReplace
	case c.cfg.Recovery && (gap > c.cfg.RecoveryIdleThreshold || c.act.suspect.Load()):
		return planProbe
	}
	return planNone
}

// recoverBefore acts on plan, made for gap, before a call is sent. It
// returns the channel to send the call on, and whether the call's first
// attempt is a probe attempt (with the ProbeTimeout deadline). ctx is the
// call's context, with its deadline.
func (c *Client) recoverBefore(ctx context.Context, ch *channel, info *methodInfo, plan recoveryPlan, gap time.Duration) (*channel, bool) {
	switch plan {
	case planReplace:
		c.traceGap(gap, info, "replace connection (max idle)")
		return c.replace(ch, "max idle", gap), false
	case planProbe:
		if info.idempotent {
			c.traceGap(gap, info, "probe with the call's first attempt, racing a spare connection")
			return ch, true
		}
		c.traceGap(gap, info, "ping before the call, racing a spare connection")
		// Replace only a connection that gave no answer at all; an error
		// status from the server proves it alive, and an ended call context
		// proves nothing.
		start := time.Now()
		_, _, next, err := raceAfterGap(ctx, c, ch, gap, pingSend)
		c.traceProbe(next, start, err)
		if err != nil && !serverReplied(status.Code(err)) && ctx.Err() == nil && next == ch {
			return c.replace(ch, "probe ping failed: "+status.Code(err).String(), gap), false
		}
		return next, false
	}
	return ch, false
}

// traceProbe reports the end of the Ping before a non-idempotent call.
func (c *Client) traceProbe(ch *channel, start time.Time, err error) {
	if c.trace == nil {
		return
	}
	attrs := []slog.Attr{slog.Uint64("channel", ch.id), slog.Duration("took", time.Since(start))}
	level := slog.LevelDebug
	if err != nil {
		attrs = append(attrs, slog.String("code", status.Code(err).String()))
		level = slog.LevelWarn
	}
	c.trace.emit(level, EventProbe, attrs...)
}

// probeFailed reports whether the probe attempt of a call, which ended with
// err while the call's own context is still live, calls for a new connection.
func probeFailed(err error) bool {
	code := status.Code(err)
	return code == codes.DeadlineExceeded || code == codes.Unavailable
}

// replace swaps old for a freshly dialled channel, unless old is no longer
// current (another call replaced it; that replacement is returned) or the
// client is closed (old is returned and the call fails on it). The old
// channel is closed in the background.
func (c *Client) replace(old *channel, reason string, gap time.Duration) *channel {
	c.mu.Lock()
	cur := c.current.Load()
	if cur != old {
		c.mu.Unlock()
		if cur == nil {
			return old
		}
		return cur
	}
	c.nextChannel++
	fresh, err := c.dial(c.nextChannel)
	if err != nil {
		c.mu.Unlock()
		if c.trace != nil {
			c.trace.emit(slog.LevelWarn, EventReconnect, slog.Uint64("channel", old.id), slog.String("reason", reason), slog.String("err", err.Error()))
		}
		return old
	}
	c.current.Store(fresh)
	c.act.replied(c.act.now())
	c.closers.Add(1)
	c.mu.Unlock()
	if c.trace != nil {
		c.trace.emit(slog.LevelWarn, EventReconnect, slog.Uint64("channel", old.id), slog.Uint64("new_channel", fresh.id),
			slog.String("reason", reason), slog.Duration("gap", gap))
	}
	fresh.conn.Connect()
	go func() {
		defer c.closers.Done()
		old.conn.Close()
	}()
	return fresh
}

// traceGap reports that a call starts after a gap.
func (c *Client) traceGap(gap time.Duration, info *methodInfo, action string) {
	if c.trace != nil {
		c.trace.emit(slog.LevelInfo, EventIdleGap, slog.String("op", info.name), slog.Duration("gap", gap),
			slog.Bool("after_no_reply", c.act.suspect.Load()), slog.String("action", action))
	}
}
