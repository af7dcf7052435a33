package lab

import (
	"io"
	"testing"
	"time"
)

// TestProgressLeftFollowsTheSlowestRun: the estimate is the schedule share
// the run furthest behind has still to go, whatever the clock says.
func TestProgressLeftFollowsTheSlowestRun(t *testing.T) {
	p := NewProgress(io.Discard, false)
	runs := []RunSpec{
		{Client: ClientNode, Preset: PresetLaptop, Scenario: ScenarioHealthy},
		{Client: ClientGo, Preset: PresetLaptop, Scenario: ScenarioHealthy},
	}
	p.Begin(runs, 10, 100*time.Second)
	defer p.Done()
	for range 5 {
		p.Invoked(runs[0], Invocation{})
	}
	for range 2 {
		p.Invoked(runs[1], Invocation{})
	}
	p.mu.Lock()
	left := p.leftLocked()
	p.mu.Unlock()
	if left != 80*time.Second {
		t.Errorf("left = %v, want 80s: the Go run has 8 of 10 invocations to go", left)
	}
}
