package client

import (
	"context"
	"time"
)

// ErrProbeTimeout is errProbeTimeout, for the external tests.
var ErrProbeTimeout = errProbeTimeout

// StartProbeDeadline starts a probeDeadline on timers (a test's fake clock)
// and returns its context and its finish method.
func StartProbeDeadline(ctx context.Context, timers timerSource, limit time.Duration) (context.Context, func() bool) {
	pctx, d := startProbeDeadline(ctx, timers, limit)
	return pctx, d.finish
}
