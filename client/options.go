package client

import (
	"log/slog"
	"time"
)

// Option injects a collaborator into a Client: a clock for tests, a tracer
// for diagnosis. Settings that users tune live in Config instead.
type Option func(*options)

// options are the things Options set.
type options struct {
	clock  Clock
	tracer *slog.Logger
}

// Clock tells the time. The client measures gaps between calls with it; the
// real clock (the default) carries Go's monotonic reading, which keeps
// advancing while a process is frozen, so a gap includes the freeze.
type Clock interface {
	Now() time.Time
}

// systemClock is the real clock.
type systemClock struct{}

// Now returns time.Now(), monotonic reading included.
func (systemClock) Now() time.Time { return time.Now() }

// WithClock replaces the clock the client uses to measure gaps between calls
// (RecoveryIdleThreshold, MaxIdle). Tests use it to simulate a freeze without
// waiting; deadlines and the tracer's timings still use real time.
func WithClock(c Clock) Option {
	return func(o *options) {
		if c != nil {
			o.clock = c
		}
	}
}

// WithTracer records what happens on the client's connections to logger:
// dials, HTTP/2 PINGs and their ACKs with round-trip times, inferred
// keepalive timeouts, GOAWAY frames, closes and their causes, reconnects made
// by recovery, and each call (failures at Warn, successes at Debug). Events
// carry the Lambda request ID of the invocation that made the latest call
// (attribute request_id). See the package documentation for the list of
// events. A nil logger turns tracing off, which is the default.
func WithTracer(logger *slog.Logger) Option {
	return func(o *options) { o.tracer = logger }
}
