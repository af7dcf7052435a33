package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/lambda"
)

// TestQuickLab runs the quick lab for real: real freezing, real grpc-js and
// grpc-go keepalive, the real proxy. It checks the report's shape, not
// whether the production bug reproduces, which is the lab's finding to
// report rather than the test's to assert.
func TestQuickLab(t *testing.T) {
	if testing.Short() {
		t.Skip("the quick lab takes about a minute and a half")
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
	// End well before the test binary's timeout, so that Run still stops
	// every environment it started if something hangs.
	ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)
	defer cancel()
	report, err := Run(ctx, Options{Root: root, Invocations: QuickInvocations})
	t.Cleanup(func() { checkNothingLeft(t) })
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var table bytes.Buffer
	report.WriteTable(&table)
	t.Logf("quick lab:\n%s", table.String())

	var out bytes.Buffer
	if err := report.WriteJSON(&out); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	var decoded struct {
		Runs []map[string]json.RawMessage `json:"runs"`
	}
	if err := json.Unmarshal(out.Bytes(), &decoded); err != nil {
		t.Fatalf("report JSON %s: %v", out.Bytes(), err)
	}
	if len(decoded.Runs) != len(DefaultRuns()) {
		t.Fatalf("report has %d runs, want %d", len(decoded.Runs), len(DefaultRuns()))
	}
	fields := []string{"client", "sdk_version", "resume_order", "preset", "scenario", "invocations", "failed", "failed_by_code", "keepalive_timeouts",
		"cross_invocation_timeouts", "reconnects", "p50_ms", "p99_ms", "first_after_thaw_p99_ms",
		"held_while_frozen", "delayed_deliveries", "max_delivery_delay_ms"}
	for i, run := range decoded.Runs {
		for _, f := range fields {
			if _, ok := run[f]; !ok {
				t.Errorf("run %d has no %q: %s", i, f, out.Bytes())
			}
		}
		if len(run) != len(fields) {
			t.Errorf("run %d has %d fields, want exactly %d", i, len(run), len(fields))
		}
		var n int
		if err := json.Unmarshal(run["invocations"], &n); err != nil || n != QuickInvocations {
			t.Errorf("run %d invocations = %s, want %d", i, run["invocations"], QuickInvocations)
		}
		var version string
		if err := json.Unmarshal(run["sdk_version"], &version); err != nil || version == "" {
			t.Errorf("run %d sdk_version = %s, want a version", i, run["sdk_version"])
		}
		var order string
		if err := json.Unmarshal(run["resume_order"], &order); err != nil || order != string(lambda.ResumeEventFirst) {
			t.Errorf("run %d resume_order = %s, want %q (the default)", i, run["resume_order"], lambda.ResumeEventFirst)
		}
	}
	for _, run := range report.Runs {
		if run.Preset == PresetLaptop && run.Scenario == ScenarioHealthy && run.PingsSent == 0 {
			t.Errorf("%s: no keepalive ping seen; the Laptop preset pings every 5 s (Node) or 10 s (Go) and the schedule has longer gaps", run.Label())
		}
		if run.Preset == PresetLambda && run.PingsSent != 0 {
			t.Errorf("%s: %d keepalive pings seen, want none: the Lambda preset turns keepalive off", run.Label(), run.PingsSent)
		}
	}

	var page bytes.Buffer
	if err := report.WriteHTML(&page); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	renderInChromium(t, page.Bytes())
}

// TestContext runs the seed's first experiment briefly and checks that the
// setInterval counter fell behind the wall clock in one environment.
func TestContext(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 15 s")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not in PATH")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	res, err := Context(ctx, ContextOptions{Invocations: 5})
	t.Cleanup(func() { checkNothingLeft(t) })
	if err != nil {
		t.Fatalf("Context: %v", err)
	}
	var table bytes.Buffer
	res.WriteTable(&table)
	t.Logf("context:\n%s", table.String())
	last := res.Rows[len(res.Rows)-1]
	if res.Environments != 1 || last.Calculated < 4 || last.Background >= last.Calculated {
		t.Errorf("after %d invocations: %d environments, calculated %d s, background %d s; want 1 environment and background below calculated (>= 4 s)",
			len(res.Rows), res.Environments, last.Calculated, last.Background)
	}
}

// checkNothingLeft fails if a cgroup of this test process's environments is
// still there.
func checkNothingLeft(t *testing.T) {
	for _, pattern := range []string{
		fmt.Sprintf("/sys/fs/cgroup/*/thaw/*@%d-*", os.Getpid()),
		fmt.Sprintf("/sys/fs/cgroup/thaw/*@%d-*", os.Getpid()),
	} {
		if left, _ := filepath.Glob(pattern); len(left) > 0 {
			t.Errorf("cgroups left behind: %v", left)
		}
	}
	// Every function runtime is a child of this process; none may outlive
	// the emulator.
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces, so split after ')'.
		rest := string(data[bytes.LastIndexByte(data, ')')+1:])
		var state string
		var ppid int
		if _, err := fmt.Sscan(rest, &state, &ppid); err == nil && ppid == os.Getpid() {
			t.Errorf("process %s (%s) is still running", path, data[:bytes.LastIndexByte(data, ')')+1])
		}
	}
}
