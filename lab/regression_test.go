package lab

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// regressionInvocations is the length of TestKeepaliveRegression's schedule:
// two blackholed gets, four instant returns after a gap past the keepalive
// interval, about 45 s.
const regressionInvocations = 7

// regressionAttempts bounds TestKeepaliveRegression's attempts: whether an
// ACK is read before the freeze is a race the lab reproduces, not one it
// controls, so an attempt may miss.
const regressionAttempts = 3

// TestKeepaliveRegression runs TriggerSchedule, built to trigger the seed's
// mechanism, and asserts the lab's findings: the Node SDK's Laptop
// configuration shows at least one keepalive timeout logged in another
// invocation than its PING, on a healthy network and under
// ScenarioRetransmit (where the PING's ACK is held while frozen), neither client's Lambda configuration shows any
// keepalive timeout, and the Go client's Lambda configuration completes every
// call, including the gets that follow a blackholed freeze. An attempt that
// misses is retried, up to regressionAttempts in all; the log says which
// attempt missed what.
func TestKeepaliveRegression(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about a minute, up to three with retries")
	}
	for _, tool := range []string{"node", "npm", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not in PATH", tool)
		}
	}
	root, err := FindRoot()
	if err != nil {
		t.Fatalf("FindRoot: %v", err)
	}
	runs := []RunSpec{
		{Client: ClientNode, Preset: PresetLaptop, Scenario: ScenarioHealthy},
		{Client: ClientNode, Preset: PresetLambda, Scenario: ScenarioHealthy},
		{Client: ClientGo, Preset: PresetLambda, Scenario: ScenarioBlackhole},
		{Client: ClientNode, Preset: PresetLaptop, Scenario: ScenarioRetransmit},
	}
	steps := TriggerSchedule(regressionInvocations)
	var missed []string
	for attempt := 1; attempt <= regressionAttempts; attempt++ {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		report, err := Run(ctx, Options{Root: root, Runs: runs, Schedule: steps, Seed: uint64(attempt)})
		cancel()
		checkNothingLeft(t)
		if err != nil {
			t.Fatalf("attempt %d: Run: %v", attempt, err)
		}
		var table bytes.Buffer
		report.WriteTable(&table)
		misses := regressionMisses(report, steps)
		if len(misses) == 0 {
			t.Logf("attempt %d of %d found every effect:\n%s", attempt, regressionAttempts, table.String())
			return
		}
		msg := fmt.Sprintf("attempt %d of %d missed:\n  %s\n%s", attempt, regressionAttempts, strings.Join(misses, "\n  "), table.String())
		t.Log(msg)
		missed = append(missed, msg)
	}
	t.Errorf("every attempt missed:\n%s", strings.Join(missed, "\n"))
}

// regressionMisses lists what a TestKeepaliveRegression report fails to
// show, one line each.
func regressionMisses(report *Report, steps []Step) []string {
	var misses []string
	for _, run := range report.Runs {
		switch {
		case run.Client == ClientNode && run.Preset == PresetLaptop:
			if run.CrossInvocationTimeouts == 0 {
				misses = append(misses, fmt.Sprintf("%s: no cross-invocation keepalive timeout (%d pings sent, %d acked, %d timeouts), want at least 1",
					run.Label(), run.PingsSent, run.PingsAcked, run.KeepaliveTimeouts))
			}
			if run.Scenario == ScenarioRetransmit && run.HeldWhileFrozen == 0 {
				misses = append(misses, fmt.Sprintf("%s: nothing from the server held while frozen (%d pings sent), want at least the ACK of one",
					run.Label(), run.PingsSent))
			}
		case run.Preset == PresetLambda:
			if run.KeepaliveTimeouts != 0 || run.PingsSent != 0 {
				misses = append(misses, fmt.Sprintf("%s: %d keepalive pings, %d timeouts, want none: the Lambda preset turns keepalive off",
					run.Label(), run.PingsSent, run.KeepaliveTimeouts))
			}
		}
		if run.Client != ClientGo || run.Preset != PresetLambda || run.Scenario != ScenarioBlackhole {
			continue
		}
		blackholed := 0
		for i, inv := range run.Timeline.Invocations {
			if steps[i].Blackhole {
				blackholed++
			}
			if inv.Failed() {
				misses = append(misses, fmt.Sprintf("%s: invocation %d (%s after %v, blackholed %t) failed: %s %s",
					run.Label(), i+1, inv.Op, steps[i].Gap, steps[i].Blackhole, inv.ErrorCode, inv.Error))
			}
		}
		if len(run.Timeline.Invocations) != len(steps) || blackholed == 0 {
			misses = append(misses, fmt.Sprintf("%s: %d invocations, %d after a blackholed freeze; want %d, at least 1",
				run.Label(), len(run.Timeline.Invocations), blackholed, len(steps)))
		}
		// A silenced connection is recovered by a new one; none means the
		// blackhole caught nothing and the check above proved nothing.
		if run.Reconnects == 0 {
			misses = append(misses, fmt.Sprintf("%s: no reconnect after %d blackholed freezes, want at least 1", run.Label(), blackholed))
		}
	}
	return misses
}

// TestRegressionMisses: each finding TestKeepaliveRegression asserts is
// reported when a report lacks it, and nothing when it has them all.
func TestRegressionMisses(t *testing.T) {
	steps := TriggerSchedule(regressionInvocations)
	invocations := func(failAt int) *Timeline {
		tl := &Timeline{}
		for i, s := range steps {
			inv := Invocation{Index: i, Op: s.Op}
			if i == failAt {
				inv.ErrorCode = "TIMEOUT_ERROR"
			}
			tl.Invocations = append(tl.Invocations, inv)
		}
		return tl
	}
	good := func() *Report {
		return &Report{Runs: []RunResult{
			{Client: ClientNode, Preset: PresetLaptop, Scenario: ScenarioHealthy, PingsSent: 7, KeepaliveTimeouts: 3, CrossInvocationTimeouts: 3},
			{Client: ClientNode, Preset: PresetLambda, Scenario: ScenarioHealthy},
			{Client: ClientGo, Preset: PresetLambda, Scenario: ScenarioBlackhole, Reconnects: 2, Timeline: invocations(-1)},
			{Client: ClientNode, Preset: PresetLaptop, Scenario: ScenarioRetransmit, PingsSent: 7, KeepaliveTimeouts: 4, CrossInvocationTimeouts: 4, HeldWhileFrozen: 4},
		}}
	}
	tests := []struct {
		name  string
		spoil func(*Report)
		want  string // in the one miss; "" for none
	}{
		{"all found", func(*Report) {}, ""},
		{"no cross-invocation timeout", func(r *Report) { r.Runs[0].CrossInvocationTimeouts = 0 }, "node-sdk/laptop/healthy: no cross-invocation keepalive timeout"},
		{"node lambda pings", func(r *Report) { r.Runs[1].PingsSent = 2 }, "node-sdk/lambda/healthy: 2 keepalive pings"},
		{"go lambda timeout", func(r *Report) { r.Runs[2].KeepaliveTimeouts = 1 }, "go-sdk/lambda/blackhole: 0 keepalive pings, 1 timeouts"},
		{"blackholed call failed", func(r *Report) { r.Runs[2].Timeline = invocations(3) }, "invocation 4 (get after 8.5s, blackholed true) failed: TIMEOUT_ERROR"},
		{"blackhole caught nothing", func(r *Report) { r.Runs[2].Reconnects = 0 }, "no reconnect after 2 blackholed freezes"},
		{"nothing held", func(r *Report) { r.Runs[3].HeldWhileFrozen = 0 }, "node-sdk/laptop/retransmit: nothing from the server held while frozen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			report := good()
			tt.spoil(report)
			misses := regressionMisses(report, steps)
			switch {
			case tt.want == "" && len(misses) != 0:
				t.Errorf("regressionMisses = %q, want none", misses)
			case tt.want != "" && (len(misses) != 1 || !strings.Contains(misses[0], tt.want)):
				t.Errorf("regressionMisses = %q, want one mentioning %q", misses, tt.want)
			}
		})
	}
}
