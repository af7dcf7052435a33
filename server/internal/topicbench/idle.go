package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// idleConfig is the idle run: subscriptions spread over topics that nobody
// publishes to, measured over window.
type idleConfig struct {
	subscriptions int
	topics        int
	window        time.Duration
	settle        time.Duration // how long to let the server settle before sampling
}

// idleResult is what the idle run measured of the server.
type idleResult struct {
	cfg idleConfig
	// base is before any subscription, held while they are open, closed
	// after they ended.
	base, held, closed sample
	// baseCPU and heldCPU are the server's CPU seconds per second, without
	// subscriptions and with them.
	baseCPU, heldCPU float64
	// heartbeats is how many the clients received per second while held.
	heartbeats float64
}

// runIdle opens the idle subscriptions, keeps them while measuring, and
// closes them.
func runIdle(ctx context.Context, t *target, cfg idleConfig) (idleResult, error) {
	res := idleResult{cfg: cfg}
	sleep(ctx, cfg.settle)
	var err error
	if res.baseCPU, res.base, err = cpuOver(ctx, t, cfg.window/4); err != nil {
		return res, err
	}

	streams, closeAll, err := openSubscriptions(ctx, t, func(i int) string { return fmt.Sprint("idle-", i%cfg.topics) }, cfg.subscriptions)
	if err != nil {
		return res, err
	}
	var heartbeats atomic.Int64
	for _, s := range streams {
		go func() {
			for {
				m, err := s.Recv()
				if err != nil {
					return
				}
				if m.GetHeartbeat() != nil {
					heartbeats.Add(1)
				}
			}
		}()
	}
	sleep(ctx, cfg.settle)
	counted := heartbeats.Load()
	if res.heldCPU, res.held, err = cpuOver(ctx, t, cfg.window); err != nil {
		closeAll()
		return res, err
	}
	res.heartbeats = float64(heartbeats.Load()-counted) / cfg.window.Seconds()
	closeAll()

	sleep(ctx, cfg.settle)
	if res.closed, err = t.sample(ctx); err != nil {
		return res, err
	}
	return res, ctx.Err()
}

// cpuOver returns the server's CPU seconds per second over window, and the
// sample at its start.
func cpuOver(ctx context.Context, t *target, window time.Duration) (float64, sample, error) {
	first, err := t.sample(ctx)
	if err != nil {
		return 0, first, err
	}
	sleep(ctx, window)
	last, err := t.sample(ctx)
	if err != nil {
		return 0, first, err
	}
	return (last.cpuSeconds - first.cpuSeconds) / last.at.Sub(first.at).Seconds(), first, nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
