package lambda

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/thaw-dev/thaw/lambda/sandbox"
)

// errTooManyRequests means every environment allowed by the function's
// concurrency is busy.
var errTooManyRequests = errors.New("lambda: concurrency limit reached")

// errEventQueueFull means a function's queue of Event invocations holds as
// many as it may.
var errEventQueueFull = errors.New("lambda: event queue is full")

// eventPolicy says how a pool queues and retries Event invocations.
type eventPolicy struct {
	// queueLimit is how many Event invocations may wait; more get 429.
	queueLimit int
	// retryDelays are the waits before each retry of a failed Event
	// invocation; its length is the number of retries.
	retryDelays []time.Duration
}

// environmentFaults are test hooks (export_test.go) given to every new
// environment of a pool: see environment.thawFault and killFault.
type environmentFaults struct {
	thaw func() error
	kill func() error
}

// pool holds the environments of one function: it reuses idle ones,
// cold-starts new ones up to the concurrency limit, reaps idle ones and runs
// Event invocations in order of arrival.
type pool struct {
	fn         Function
	runtimeDir string
	freezeMode sandbox.Mode
	logs       *logSink
	logger     *slog.Logger
	events     eventPolicy
	ctx        context.Context // ends when the emulator closes

	mu       sync.Mutex        // guards the fields below
	envs     []*environment    // guarded by mu
	starting int               // guarded by mu: cold starts in progress, each counted against the concurrency limit
	closed   bool              // guarded by mu
	queue    []*invocation     // guarded by mu: queued Event invocations, oldest first
	ended    []EnvironmentInfo // guarded by mu: the last environments that ended, for introspection
	// abandoned are environments whose kill failed (the kernel did not
	// confirm it): out of envs, so they count against no limit, and killed
	// again at close.
	abandoned []*environment    // guarded by mu
	faults    environmentFaults // guarded by mu
	// beforeColdStart, if set, runs at the start of each cold start, outside
	// mu; tests use it to hold starts (pool_export_test.go).
	beforeColdStart func() // guarded by mu

	released chan struct{} // signalled (non-blocking) when an environment is released
	queued   chan struct{} // signalled (non-blocking) when an event is queued
	done     sync.WaitGroup
}

func newPool(ctx context.Context, fn Function, runtimeDir string, freezeMode sandbox.Mode, logs *logSink, logger *slog.Logger, events eventPolicy) *pool {
	p := &pool{
		fn: fn, runtimeDir: runtimeDir, freezeMode: freezeMode, logs: logs, logger: logger, events: events, ctx: ctx,
		released: make(chan struct{}, 1),
		queued:   make(chan struct{}, 1),
	}
	p.done.Add(2)
	go p.reap()
	go p.dispatchEvents()
	return p
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// invoke runs inv synchronously: on an idle environment if there is one, on a
// new one if the concurrency limit allows, else errTooManyRequests.
func (p *pool) invoke(inv *invocation) (outcome, error) {
	env, cold, err := p.acquire()
	if err != nil {
		return outcome{}, err
	}
	defer signal(p.released)
	if cold {
		env.assign(inv)
		if payload := env.waitInit(p.ctx); payload != nil {
			return outcome{functionError: "Unhandled", payload: payload}, nil
		}
		return env.run(inv), nil
	}
	env.assign(inv)
	return env.run(inv), nil
}

// acquire reserves an idle environment or starts a new one. A start (making
// cgroups, spawning the runtime) runs without mu: its slot is counted in
// starting, so reuse of idle environments, introspection and other starts
// go on meanwhile.
func (p *pool) acquire() (env *environment, cold bool, err error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, false, fmt.Errorf("lambda: %s: emulator is closing", p.fn.Name)
	}
	p.pruneLocked()
	for _, e := range p.envs {
		if e.tryReserve() {
			p.mu.Unlock()
			return e, false, nil
		}
	}
	if len(p.envs)+p.starting >= p.fn.Concurrency {
		p.mu.Unlock()
		return nil, false, errTooManyRequests
	}
	p.starting++
	p.done.Add(1) // close waits for the start, which ends the environment if it lost the race
	hook := p.beforeColdStart
	faults := p.faults
	p.mu.Unlock()
	defer p.done.Done()

	if hook != nil {
		hook()
	}
	id := newEnvironmentID()
	env, err = startEnvironment(p.ctx, p.fn, id, p.runtimeDir, p.freezeMode, p.logs, p.logger)
	if err == nil {
		env.mu.Lock()
		env.busy = true // before it is in envs, where others could reserve it
		env.thawFault, env.killFault = faults.thaw, faults.kill
		env.mu.Unlock()
	}

	p.mu.Lock()
	p.starting--
	closed := p.closed
	if err == nil && !closed {
		p.envs = append(p.envs, env)
	}
	p.mu.Unlock()
	switch {
	case err != nil:
		signal(p.released) // the slot is free again
		return nil, false, err
	case closed:
		env.shutdown(shutdownSpindown)
		return nil, false, fmt.Errorf("lambda: %s: emulator is closing", p.fn.Name)
	}
	modes := env.sandbox.Modes()
	p.logger.Info("cold start", "function", p.fn.Name, "env", id, "pid", env.sandbox.Pid(),
		"freeze_mode", modes.Freeze.String(), "modes", modes.String())
	return env, true, nil
}

// maxEndedShown is how many ended environments introspection remembers.
const maxEndedShown = 50

// pruneLocked moves environments that have ended out of the pool, and
// those whose kill failed to abandoned.
func (p *pool) pruneLocked() {
	live := p.envs[:0]
	for _, e := range p.envs {
		abandoned := e.abandoned()
		if !e.dead() && !abandoned {
			live = append(live, e)
			continue
		}
		if abandoned {
			p.logger.Error("environment could not be killed; no longer counted, killed again at close",
				"function", p.fn.Name, "env", e.id, "pid", e.sandbox.Pid())
			p.abandoned = append(p.abandoned, e)
		}
		p.ended = append(p.ended, e.info(time.Now()))
		if len(p.ended) > maxEndedShown {
			p.ended = p.ended[1:]
		}
	}
	clear(p.envs[len(live):])
	p.envs = live
}

// enqueue queues an Event invocation; it runs when an environment is free.
// A full queue refuses it with errEventQueueFull.
func (p *pool) enqueue(inv *invocation) error {
	p.mu.Lock()
	if len(p.queue) >= p.events.queueLimit {
		p.mu.Unlock()
		return fmt.Errorf("%w: %s has %d events waiting", errEventQueueFull, p.fn.Name, p.events.queueLimit)
	}
	p.queue = append(p.queue, inv)
	p.mu.Unlock()
	signal(p.queued)
	return nil
}

// dispatchEvents starts queued Event invocations in order of arrival, each as
// soon as an environment can take it.
func (p *pool) dispatchEvents() {
	defer p.done.Done()
	for {
		p.mu.Lock()
		var inv *invocation
		if len(p.queue) > 0 {
			inv = p.queue[0]
		}
		p.mu.Unlock()
		if inv == nil {
			select {
			case <-p.queued:
				continue
			case <-p.ctx.Done():
				return
			}
		}
		env, cold, err := p.acquire()
		if errors.Is(err, errTooManyRequests) {
			select {
			case <-p.released:
			case <-time.After(50 * time.Millisecond):
			case <-p.ctx.Done():
				return
			}
			continue
		}
		p.mu.Lock()
		p.queue = p.queue[1:]
		p.mu.Unlock()
		if err != nil {
			p.eventFailed(inv, "could not start", err.Error())
			continue
		}
		p.done.Add(1) // the dispatcher's own count is held: never from zero
		go func() {
			defer p.done.Done()
			defer signal(p.released)
			env.assign(inv)
			if cold {
				if payload := env.waitInit(p.ctx); payload != nil {
					p.eventFailed(inv, "failed in init", string(payload))
					return
				}
			}
			switch out := env.run(inv); {
			case out.serviceError != nil:
				p.eventFailed(inv, "failed", out.serviceError.Error())
			case out.functionError != "":
				p.eventFailed(inv, "failed", string(out.payload))
			}
		}()
	}
}

// eventFailed retries a failed Event invocation after the next of the
// policy's retry delays, as Lambda retries an asynchronous invocation that
// failed (twice by default), or drops it when its retries are used up. The
// caller holds a count of p.done.
func (p *pool) eventFailed(inv *invocation, what, why string) {
	if inv.attempt >= len(p.events.retryDelays) {
		p.logger.Error("event invocation "+what+"; dropped after its last attempt", "function", p.fn.Name,
			"request_id", inv.id, "attempts", inv.attempt+1, "error", why)
		return
	}
	delay := p.events.retryDelays[inv.attempt]
	p.logger.Warn("event invocation "+what+"; retrying", "function", p.fn.Name,
		"request_id", inv.id, "attempt", inv.attempt+1, "retry_in", delay, "error", why)
	retry := inv.retry()
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-p.ctx.Done():
			return
		}
		// A retry is already accepted: it joins the queue even when full.
		p.mu.Lock()
		p.queue = append(p.queue, retry)
		p.mu.Unlock()
		signal(p.queued)
	}()
}

// reap shuts down environments idle for longer than the idle timeout.
func (p *pool) reap() {
	defer p.done.Done()
	interval := min(p.fn.IdleTimeout/4, time.Second)
	ticker := time.NewTicker(max(interval, 10*time.Millisecond))
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
		case <-p.ctx.Done():
			return
		}
		now := time.Now()
		p.mu.Lock()
		var idle []*environment
		for _, e := range p.envs {
			if e.idleFor(now) > p.fn.IdleTimeout && e.tryReserve() {
				idle = append(idle, e)
			}
		}
		p.mu.Unlock()
		for _, e := range idle {
			p.logger.Info("shutting down idle environment", "function", p.fn.Name, "env", e.id, "idle_timeout", p.fn.IdleTimeout)
			// With extensions a shutdown takes up to their grace period;
			// close waits for it through done.
			p.done.Add(1)
			go func() {
				defer p.done.Done()
				e.shutdown(shutdownSpindown)
			}()
		}
	}
}

// environments describes the live environments and the last ones that ended.
func (p *pool) environments(now time.Time) []EnvironmentInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pruneLocked()
	infos := append([]EnvironmentInfo(nil), p.ended...)
	for _, e := range p.envs {
		infos = append(infos, e.info(now))
	}
	return infos
}

// close shuts down every environment (extensions get SHUTDOWN and their
// grace period first) and tries again to kill those whose kill failed; no
// process is left frozen. It returns the errors of the kills that failed.
func (p *pool) close() error {
	p.mu.Lock()
	p.closed = true
	p.pruneLocked()
	envs := p.envs
	p.envs = nil
	abandoned := p.abandoned
	p.abandoned = nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, len(envs)+len(abandoned))
	for i, e := range envs {
		wg.Go(func() { errs[i] = e.shutdown(shutdownSpindown) })
	}
	for i, e := range abandoned {
		wg.Go(func() { errs[len(envs)+i] = e.kill() })
	}
	wg.Wait()
	p.done.Wait()
	var failed []*environment
	for i, err := range errs {
		if err == nil {
			continue
		}
		if i < len(envs) {
			failed = append(failed, envs[i])
		} else {
			failed = append(failed, abandoned[i-len(envs)])
		}
	}
	p.mu.Lock()
	p.abandoned = failed
	p.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("lambda: %s: %w", p.fn.Name, err)
	}
	return nil
}
