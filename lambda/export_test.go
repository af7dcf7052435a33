package lambda

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/thaw-dev/thaw/lambda/sandbox"
)

// failN returns a fault that fails its first n calls with sandbox.ErrTimeout.
func failN(what string, n int) func() error {
	var left atomic.Int64
	left.Store(int64(n))
	return func() error {
		if left.Add(-1) >= 0 {
			return fmt.Errorf("test fault: %s not confirmed: %w", what, sandbox.ErrTimeout)
		}
		return nil
	}
}

// FailThaws makes the next n thaws of function's later environments fail
// as a stuck kernel would (sandbox.ErrTimeout), leaving them frozen.
func FailThaws(e *Emulator, function string, n int) {
	p := e.pools[function]
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults.thaw = failN("thaw", n)
}

// FailKills makes the next n kills of function's later environments fail
// with sandbox.ErrTimeout without killing anything.
func FailKills(e *Emulator, function string, n int) {
	p := e.pools[function]
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults.kill = failN("kill", n)
}

// KillAbandoned kills, for real, the environments whose kill failed; tests
// clean up with it after FailKills.
func KillAbandoned(e *Emulator) error {
	var errs []error
	for _, p := range e.pools {
		p.mu.Lock()
		abandoned := p.abandoned
		p.abandoned = nil
		p.mu.Unlock()
		for _, env := range abandoned {
			if err := env.sandbox.Kill(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%v", errs)
	}
	return nil
}

// RuntimeDir returns the emulator's runtime directory.
func RuntimeDir(e *Emulator) string { return e.runtimeDir }

// LogTails returns how many invocations of function have a log tail being
// collected.
func LogTails(e *Emulator, function string) int {
	s := e.pools[function].logs
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tails)
}

// SetTelemetryDeliveryTimeout sets telemetryDeliveryTimeout and returns
// a function restoring it.
func SetTelemetryDeliveryTimeout(d time.Duration) func() {
	old := telemetryDeliveryTimeout.Swap(int64(d))
	return func() { telemetryDeliveryTimeout.Store(old) }
}
