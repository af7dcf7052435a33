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

// pool holds the environments of one function: it reuses idle ones,
// cold-starts new ones up to the concurrency limit, reaps idle ones and runs
// Event invocations in order of arrival.
type pool struct {
	fn         Function
	runtimeDir string
	freezeMode sandbox.Mode
	logs       *logSink
	logger     *slog.Logger
	ctx        context.Context // ends when the emulator closes

	mu       sync.Mutex        // guards the fields below
	envs     []*environment    // guarded by mu
	starting int               // guarded by mu: cold starts in progress, each counted against the concurrency limit
	closed   bool              // guarded by mu
	events   []*invocation     // guarded by mu: queued Event invocations, oldest first
	ended    []EnvironmentInfo // guarded by mu: the last environments that ended, for introspection
	// beforeColdStart, if set, runs at the start of each cold start, outside
	// mu; tests use it to hold starts (pool_export_test.go).
	beforeColdStart func() // guarded by mu

	released chan struct{} // signalled (non-blocking) when an environment is released
	queued   chan struct{} // signalled (non-blocking) when an event is queued
	done     sync.WaitGroup
}

func newPool(ctx context.Context, fn Function, runtimeDir string, freezeMode sandbox.Mode, logs *logSink, logger *slog.Logger) *pool {
	p := &pool{
		fn: fn, runtimeDir: runtimeDir, freezeMode: freezeMode, logs: logs, logger: logger, ctx: ctx,
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
	p.mu.Unlock()
	defer p.done.Done()

	if hook != nil {
		hook()
	}
	id := newEnvironmentID()
	env, err = startEnvironment(p.ctx, p.fn, id, p.runtimeDir, p.freezeMode, p.logs, p.logger)
	if err == nil {
		env.busy = true // before it is in envs, where others could reserve it
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

// pruneLocked moves environments that have ended out of the pool.
func (p *pool) pruneLocked() {
	live := p.envs[:0]
	for _, e := range p.envs {
		if !e.dead() {
			live = append(live, e)
			continue
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
func (p *pool) enqueue(inv *invocation) {
	p.mu.Lock()
	p.events = append(p.events, inv)
	p.mu.Unlock()
	signal(p.queued)
}

// dispatchEvents starts queued Event invocations in order of arrival, each as
// soon as an environment can take it.
func (p *pool) dispatchEvents() {
	defer p.done.Done()
	for {
		p.mu.Lock()
		var inv *invocation
		if len(p.events) > 0 {
			inv = p.events[0]
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
		p.events = p.events[1:]
		p.mu.Unlock()
		if err != nil {
			p.logger.Error("event invocation could not start", "function", p.fn.Name, "request_id", inv.id, "err", err)
			continue
		}
		go func() {
			defer signal(p.released)
			env.assign(inv)
			if cold {
				if payload := env.waitInit(p.ctx); payload != nil {
					p.logger.Warn("event invocation failed in init", "request_id", inv.id, "error", string(payload))
					return
				}
			}
			if out := env.run(inv); out.functionError != "" {
				p.logger.Warn("event invocation failed", "request_id", inv.id, "error", string(out.payload))
			}
		}()
	}
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
// grace period first); no process is left frozen.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	envs := p.envs
	p.envs = nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range envs {
		wg.Go(func() { e.shutdown(shutdownSpindown) })
	}
	wg.Wait()
	p.done.Wait()
}
