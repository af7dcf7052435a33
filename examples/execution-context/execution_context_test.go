package executioncontext_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/lambda"
	"github.com/thaw-dev/thaw/lambda/lambdatest"
)

// gaps are the pauses between one invocation and the next: irregular, some
// shorter than the 1 s ticker period and some several periods long, about
// 19 s in all. The first invocation cold-starts the environment.
var gaps = []time.Duration{
	1300 * time.Millisecond,
	3700 * time.Millisecond,
	400 * time.Millisecond,
	2900 * time.Millisecond,
	4600 * time.Millisecond,
	800 * time.Millisecond,
	2200 * time.Millisecond,
	3400 * time.Millisecond,
}

// elapsed is what both functions return: whole seconds since their execution
// environment started, by the wall clock and by the background ticker.
type elapsed struct {
	Calculated int `json:"calculated"`
	Background int `json:"background"`
}

// TestBackgroundTimerOnlyRunsDuringInvocations is the seed's first
// experiment: invocations spread over ~20 s land in one warm environment whose
// module-level state persists, yet whose 1 s background ticker advances only
// while an invocation runs, so it ends far behind the wall clock.
func TestBackgroundTimerOnlyRunsDuringInvocations(t *testing.T) {
	t.Run("node", func(t *testing.T) {
		t.Parallel()
		if _, err := exec.LookPath("node"); err != nil {
			t.Skip("node is not in PATH")
		}
		runExperiment(t, lambda.Function{
			Name:    "ctx-node",
			Runtime: lambda.RuntimeNodeJS,
			Code:    "node",
			Handler: "index.handler",
		})
	})
	t.Run("python", func(t *testing.T) {
		t.Parallel()
		if _, err := exec.LookPath("python3"); err != nil {
			t.Skip("python3 is not in PATH")
		}
		runExperiment(t, lambda.Function{
			Name:    "ctx-python",
			Runtime: lambda.RuntimePython,
			Code:    "python",
			Handler: "lambda_function.lambda_handler",
		})
	})
	t.Run("go", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "bootstrap"), "./go").CombinedOutput()
		if err != nil {
			t.Fatalf("go build ./go: %v\n%s", err, out)
		}
		runExperiment(t, lambda.Function{
			Name:    "ctx-go",
			Runtime: lambda.RuntimeProvided,
			Code:    dir,
			Handler: "bootstrap",
		})
	})
}

// runExperiment serves fn in a real emulator, invokes it once plus once after
// each gap, logs the table and checks the outcome.
func runExperiment(t *testing.T, fn lambda.Function) {
	emu, err := lambda.Start(t.Context(), lambda.Config{Addr: "127.0.0.1:0", Functions: []lambda.Function{fn}, LogDir: t.TempDir()})
	if err != nil {
		t.Fatalf("lambda.Start: %v", err)
	}
	t.Cleanup(func() { closeAndCheck(t, emu, fn.Name) })

	client := &http.Client{Timeout: 30 * time.Second}
	var rows []elapsed
	for i := 0; i <= len(gaps); i++ {
		if i > 0 {
			time.Sleep(gaps[i-1])
		}
		rows = append(rows, invoke(t, client, emu.Addr(), fn.Name))
	}

	var table strings.Builder
	fmt.Fprintf(&table, "%s: one environment, %d invocations\n", fn.Name, len(rows))
	fmt.Fprintf(&table, "  %10s  %12s  %10s\n", "invocation", "wall seconds", "background")
	for i, r := range rows {
		fmt.Fprintf(&table, "  %10d  %12d  %10d\n", i+1, r.Calculated, r.Background)
	}
	t.Log(table.String())

	for i := 1; i < len(rows); i++ {
		if rows[i].Calculated < rows[i-1].Calculated || rows[i].Background < rows[i-1].Background {
			t.Errorf("invocation %d reported %+v after %+v: the environment's state went backwards (a new environment?)", i+1, rows[i], rows[i-1])
		}
	}
	last := rows[len(rows)-1]
	if last.Calculated < 15 {
		t.Fatalf("last invocation saw %d wall seconds, want at least 15: the schedule did not span the environment's life", last.Calculated)
	}
	// A process that ran freely would count about one tick per wall second.
	// A frozen one gets the CPU only while an invocation runs: each thaw
	// fires at most the one tick that fell due while frozen (Node's intervals
	// and Go's tickers both drop missed ticks), plus the odd one during a run.
	// Python's time.sleep likewise ends once at the thaw. So the counter
	// stays near the number of invocations (measured: 6 for Node, 7 for Go
	// after 19 s), far below the wall clock.
	if maxBackground := min(len(rows)+2, last.Calculated*2/3); last.Background > maxBackground {
		t.Errorf("background counter = %d after %d wall seconds and %d invocations, want at most %d: the environment was not frozen between invocations",
			last.Background, last.Calculated, len(rows), maxBackground)
	}

	envs := lambdatest.Environments(t, client, emu.Addr())
	if len(envs) != 1 {
		t.Fatalf("/_thaw/environments lists %d environments, want 1 (warm reuse): %+v", len(envs), envs)
	}
	env := envs[0]
	if env.Function != fn.Name || env.State == lambda.StateDead || env.Invocations != len(rows) {
		t.Errorf("environment = %+v, want a live %s environment with %d invocations", env, fn.Name, len(rows))
	}
	// The gaps add up to ~19 s; the environment was frozen for most of it.
	if env.FrozenTotalMs < 10000 {
		t.Errorf("environment frozen for %.0f ms in all, want at least 10000 over ~19 s of gaps", env.FrozenTotalMs)
	}
}

func invoke(t *testing.T, client *http.Client, addr, function string) elapsed {
	t.Helper()
	var e elapsed
	lambdatest.InvokeOK(t, client, addr, function, `{}`, &e)
	return e
}

// closeAndCheck closes the emulator and checks that none of the function's
// runtime processes survive and none of its cgroups remain.
func closeAndCheck(t *testing.T, emu *lambda.Emulator, function string) {
	envs := emu.Environments()
	emu.Close()
	for _, env := range envs {
		if env.Pid > 0 {
			if err := syscall.Kill(env.Pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("runtime process %d of %s still exists after Close (kill 0: %v)", env.Pid, function, err)
			}
		}
	}
	// Sandbox cgroups are named FUNCTION-ENV@OWNERPID-START under a "thaw"
	// directory in each hierarchy.
	pattern := fmt.Sprintf("/sys/fs/cgroup/*/thaw/%s-*@%d-*", function, os.Getpid())
	if left, _ := filepath.Glob(pattern); len(left) > 0 {
		t.Errorf("cgroups left after Close: %v", left)
	}
	pattern = fmt.Sprintf("/sys/fs/cgroup/thaw/%s-*@%d-*", function, os.Getpid()) // cgroup v2
	if left, _ := filepath.Glob(pattern); len(left) > 0 {
		t.Errorf("cgroups left after Close: %v", left)
	}
}
