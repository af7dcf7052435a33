package lambda_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/lambda"
	"github.com/thaw-dev/thaw/lambda/lambdatest"
	"github.com/thaw-dev/thaw/lambda/sandbox"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// testFunction builds lambda/internal/testfunction (aws-lambda-go) once per
// test binary and returns the path of the executable.
func testFunction(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "thaw-lambda-test-")
		if buildErr != nil {
			return
		}
		buildErr = goBuild("./internal/testfunction", filepath.Join(buildDir, "bootstrap"))
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, "bootstrap")
}

// goBuild builds the main package pkg, relative to this directory, into out.
func goBuild(pkg, out string) error {
	if msg, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, msg)
	}
	return nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// goFunction is a provided-runtime function running the test binary. CPU
// scaling is off: at the default 128 MB a function gets 7 % of a core, and
// on a loaded CI machine that turns lifecycle tests into timing tests (an
// allocation that should hit the memory cap hits the timeout first). The
// quota itself is tested in lambda/sandbox.
func goFunction(t *testing.T, name string, edit func(*lambda.Function)) lambda.Function {
	cpuScaling := false
	f := lambda.Function{Name: name, Runtime: lambda.RuntimeProvided, Code: testFunction(t), Handler: "bootstrap", Timeout: 5 * time.Second, CPUScaling: &cpuScaling}
	if edit != nil {
		edit(&f)
	}
	return f
}

// harness is a running emulator with helpers to invoke it.
type harness struct {
	t      *testing.T
	emu    *lambda.Emulator
	logDir string
	pids   map[int]bool    // every runtime pid seen, checked dead at the end
	envs   map[string]bool // every environment's sandbox name, its cgroups checked removed at the end
}

// startEmulator serves fns, freezing their environments the way mode says.
func startEmulator(t *testing.T, mode sandbox.Mode, fns ...lambda.Function) *harness {
	t.Helper()
	return startEmulatorConfig(t, lambda.Config{Functions: fns, FreezeMode: mode})
}

// startEmulatorConfig starts an emulator with cfg, its Addr and LogDir the
// harness's, and at the end of the test closes it and checks that nothing of
// its environments survives.
func startEmulatorConfig(t *testing.T, cfg lambda.Config) *harness {
	t.Helper()
	h := &harness{t: t, logDir: t.TempDir(), pids: map[int]bool{}, envs: map[string]bool{}}
	cfg.Addr, cfg.LogDir = "127.0.0.1:0", h.logDir
	emu, err := lambda.Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("lambda.Start: %v", err)
	}
	h.emu = emu
	t.Cleanup(func() {
		for _, env := range emu.Environments() {
			h.pids[env.Pid] = true
			h.envs[env.Function+"-"+env.ID] = true
		}
		emu.Close()
		h.assertNoLeftovers()
	})
	return h
}

// assertNoLeftovers checks that no runtime process of the test survives Close
// and that every environment's cgroups are removed. A zombie counts as gone,
// as in lambda/sandbox's own tests: a process of the tree whose parent was
// killed with it is reparented to init, dead and out of its cgroup, and only
// init can reap it, when it gets to it (on some machines every few seconds).
func (h *harness) assertNoLeftovers() {
	for pid := range h.pids {
		if !processGone(pid) {
			h.t.Errorf("runtime process %d still alive after Close", pid)
		}
	}
	for name := range h.envs {
		// v1 hierarchies, a hybrid machine's unified one, and a v2-only machine's.
		for _, pattern := range []string{"/sys/fs/cgroup/*/thaw/" + name + "@*", "/sys/fs/cgroup/thaw/" + name + "@*"} {
			if dirs, _ := filepath.Glob(pattern); len(dirs) > 0 {
				h.t.Errorf("cgroups of environment %s left after Close: %v", name, dirs)
			}
		}
	}
}

// response is what the Invoke API answered.
type response = lambdatest.Response

// replyOf decodes the function's JSON reply.
func replyOf(t *testing.T, r response) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response body %q is not a JSON object: %v", r.Body, err)
	}
	return m
}

func (h *harness) invoke(function, payload string, headers ...string) response {
	h.t.Helper()
	return lambdatest.Invoke(h.t, http.DefaultClient, h.emu.Addr(), function, payload, headers...)
}

// invokeOK invokes and fails the test unless the function succeeded; it
// returns the function's reply.
func (h *harness) invokeOK(function, payload string) map[string]any {
	h.t.Helper()
	var m map[string]any
	lambdatest.InvokeOK(h.t, http.DefaultClient, h.emu.Addr(), function, payload, &m)
	h.pids[int(m["pid"].(float64))] = true
	return m
}

func (h *harness) environments() []lambda.EnvironmentInfo {
	h.t.Helper()
	return lambdatest.Environments(h.t, http.DefaultClient, h.emu.Addr())
}

func (h *harness) live() []lambda.EnvironmentInfo {
	return lambdatest.Live(h.environments(), "")
}

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	lambdatest.WaitFor(t, what, cond)
}

func (h *harness) log(function string) string {
	data, _ := os.ReadFile(filepath.Join(h.logDir, function+".log"))
	return string(data)
}

// contextSwitches sums the voluntary and involuntary context switches of every
// thread of pid.
func contextSwitches(t *testing.T, pid int) int64 {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("threads of %d: %v", pid, err)
	}
	var total int64
	for _, path := range tasks {
		data, err := os.ReadFile(path)
		if err != nil {
			continue // a thread that just ended
		}
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				total += n
			}
		}
	}
	return total
}

func freezeModes(t *testing.T) []sandbox.Mode {
	return []sandbox.Mode{sandbox.ModeAuto, sandbox.ModeSignal}
}

func TestWarmReuseFreezesBetweenInvocations(t *testing.T) {
	for _, mode := range freezeModes(t) {
		t.Run(mode.String(), func(t *testing.T) {
			h := startEmulator(t, mode, goFunction(t, "fn", nil))
			first := h.invokeOK("fn", `{"action":"echo","text":"a"}`)
			waitFor(t, "the environment to freeze", func() bool {
				live := h.live()
				return len(live) == 1 && live[0].State == lambda.StateFrozen
			})
			env := h.live()[0]
			before := contextSwitches(t, env.Pid)
			time.Sleep(500 * time.Millisecond)
			if after := contextSwitches(t, env.Pid); after != before {
				t.Errorf("frozen environment's threads switched context %d times in 500 ms, want 0", after-before)
			}
			second := h.invokeOK("fn", `{"action":"echo","text":"b"}`)
			if first["pid"] != second["pid"] {
				t.Errorf("second invocation ran in pid %v, want the warm environment %v", second["pid"], first["pid"])
			}
			if second["invocations"].(float64) != 2 {
				t.Errorf("invocations seen by the function = %v, want 2", second["invocations"])
			}
			waitFor(t, "the environment to freeze again", func() bool {
				live := h.live()
				return len(live) == 1 && live[0].State == lambda.StateFrozen && live[0].Invocations == 2 && live[0].FrozenTotalMs > 400
			})
		})
	}
}

// TestFrozenTimersFallBehindWallClock is the seed's first experiment with a Go
// function: a 10 ms ticker only advances while an invocation runs.
func TestFrozenTimersFallBehindWallClock(t *testing.T) {
	h := startEmulator(t, sandbox.ModeAuto, goFunction(t, "fn", nil))
	first := h.invokeOK("fn", `{"action":"ticks"}`)
	time.Sleep(1500 * time.Millisecond)
	second := h.invokeOK("fn", `{"action":"ticks"}`)
	wallTicks := (second["uptime_ms"].(float64) - first["uptime_ms"].(float64)) / 10
	ticks := second["ticks"].(float64) - first["ticks"].(float64)
	if wallTicks < 140 || ticks > wallTicks/3 {
		t.Errorf("ticker advanced %v ticks over %v ticks of wall time; a frozen process should fall far behind", ticks, wallTicks)
	}
}

func TestConcurrentBurstColdStartsEnvironments(t *testing.T) {
	const n = 4
	h := startEmulator(t, sandbox.ModeAuto, goFunction(t, "fn", nil))
	var wg sync.WaitGroup
	pids := make(chan float64, n)
	for range n {
		wg.Go(func() {
			r := h.invoke("fn", `{"action":"sleep","ms":800}`)
			if r.Status == http.StatusOK {
				pids <- replyOf(t, r)["pid"].(float64)
			}
		})
	}
	wg.Wait()
	close(pids)
	distinct := map[float64]bool{}
	for pid := range pids {
		distinct[pid] = true
		h.pids[int(pid)] = true
	}
	if len(distinct) != n {
		t.Errorf("%d concurrent invocations ran in %d environments, want %d", n, len(distinct), n)
	}
	if live := h.live(); len(live) != n {
		t.Errorf("live environments = %d, want %d", len(live), n)
	}
}

func TestConcurrencyLimitAnswers429(t *testing.T) {
	h := startEmulator(t, sandbox.ModeAuto, goFunction(t, "fn", func(f *lambda.Function) { f.Concurrency = 1 }))
	h.invokeOK("fn", `{}`)
	done := make(chan response, 1)
	go func() { done <- h.invoke("fn", `{"action":"sleep","ms":1500}`) }()
	waitFor(t, "the environment to be busy", func() bool {
		live := h.live()
		return len(live) == 1 && live[0].State == lambda.StateRunning && live[0].Invocations == 2
	})
	r := h.invoke("fn", `{}`)
	if r.Status != http.StatusTooManyRequests || r.Header.Get("X-Amzn-ErrorType") != "TooManyRequestsException" {
		t.Errorf("invoke beyond the limit = %d %s %q, want 429 TooManyRequestsException", r.Status, r.Header.Get("X-Amzn-ErrorType"), r.Body)
	}
	if r := <-done; r.Status != http.StatusOK {
		t.Errorf("the sleeping invocation = %d %q, want 200", r.Status, r.Body)
	}
}

func TestIdleEnvironmentsAreReaped(t *testing.T) {
	h := startEmulator(t, sandbox.ModeAuto, goFunction(t, "fn", func(f *lambda.Function) { f.IdleTimeout = 300 * time.Millisecond }))
	pid := int(h.invokeOK("fn", `{}`)["pid"].(float64))
	waitFor(t, "the idle environment to be shut down", func() bool { return len(h.live()) == 0 })
	waitFor(t, "the runtime process to exit", func() bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) })
	if again := int(h.invokeOK("fn", `{}`)["pid"].(float64)); again == pid {
		t.Errorf("invocation after reaping ran in the reaped pid %d", pid)
	}
}

func TestTimeoutKillsTheEnvironment(t *testing.T) {
	h := startEmulator(t, sandbox.ModeAuto, goFunction(t, "fn", func(f *lambda.Function) { f.Timeout = 500 * time.Millisecond }))
	pid := h.invokeOK("fn", `{}`)["pid"]
	r := h.invoke("fn", `{"action":"sleep","ms":3000}`)
	if r.Status != http.StatusOK || r.Header.Get("X-Amz-Function-Error") != "Unhandled" || !bytes.Contains(r.Body, []byte("Task timed out after 0.50 seconds")) {
		t.Fatalf("timed-out invoke = %d %q %q, want 200 Unhandled with 'Task timed out after 0.50 seconds'", r.Status, r.Header.Get("X-Amz-Function-Error"), r.Body)
	}
	if next := h.invokeOK("fn", `{}`)["pid"]; next == pid {
		t.Errorf("invocation after a timeout reused pid %v, want a cold start", pid)
	}
}

func TestCrashIsRuntimeExitError(t *testing.T) {
	h := startEmulator(t, sandbox.ModeAuto, goFunction(t, "fn", nil))
	pid := h.invokeOK("fn", `{}`)["pid"]
	r := h.invoke("fn", `{"action":"crash"}`)
	if r.Header.Get("X-Amz-Function-Error") != "Unhandled" || replyOf(t, r)["errorType"] != "Runtime.ExitError" || !bytes.Contains(r.Body, []byte("exit status 3")) {
		t.Fatalf("crashing invoke = %d %q, want Runtime.ExitError with exit status 3", r.Status, r.Body)
	}
	if next := h.invokeOK("fn", `{}`)["pid"]; next == pid {
		t.Errorf("invocation after a crash reused pid %v, want a cold start", pid)
	}
}

// TestMemoryCapEndsTheEnvironment runs in ModeAuto, which caps memory with
// whatever the host has: v1 memory.limit_in_bytes on a v1 or hybrid host
// (where only the process that allocates is killed, here the runtime itself),
// v2 memory.max with memory.oom.group on a v2-only host (the whole tree is
// killed). Either way memory.oom_control or memory.events records the OOM
// kill, which the invoke reports as Runtime.OutOfMemory.
func TestMemoryCapEndsTheEnvironment(t *testing.T) {
	h := startEmulator(t, sandbox.ModeAuto, goFunction(t, "fn", func(f *lambda.Function) { f.MemoryMB = 128 }))
	h.invokeOK("fn", `{}`)
	if live := h.live(); len(live) != 1 || live[0].MemoryMode == "none" {
		t.Skipf("SKIPPED: no memory cgroup on this host, the memory cap is not enforced (environments: %+v)", live)
	}
	r := h.invoke("fn", `{"action":"alloc","mb":400}`)
	if r.Header.Get("X-Amz-Function-Error") != "Unhandled" || replyOf(t, r)["errorType"] != "Runtime.OutOfMemory" {
		t.Fatalf("over-allocating invoke = %d %q, want Runtime.OutOfMemory", r.Status, r.Body)
	}
}

func TestFunctionErrorAndLogs(t *testing.T) {
	h := startEmulator(t, sandbox.ModeAuto, goFunction(t, "fn", nil))
	r := h.invoke("fn", `{"action":"fail","text":"boom"}`, "X-Amz-Log-Type", "Tail")
	if r.Status != http.StatusOK || r.Header.Get("X-Amz-Function-Error") != "Unhandled" || !strings.Contains(replyOf(t, r)["errorMessage"].(string), "boom") {
		t.Fatalf("failing invoke = %d %v %q, want 200 Unhandled mentioning boom", r.Status, r.Header, r.Body)
	}
	ok := h.invoke("fn", `{"action":"echo","text":"hello"}`, "X-Amz-Log-Type", "Tail")
	tail, err := base64Decode(ok.Header.Get("X-Amz-Log-Result"))
	if err != nil || !strings.Contains(tail, "echo hello") || !strings.Contains(tail, "REPORT RequestId: "+ok.Header.Get("X-Amzn-Requestid")) {
		t.Errorf("log tail = %q (%v), want the function's output and its REPORT line", tail, err)
	}
	log := h.log("fn")
	for _, want := range []string{"START RequestId: ", "END RequestId: ", "Init Duration: ", "Max Memory Used: ", "\techo hello"} {
		if !strings.Contains(log, want) {
			t.Errorf("log file lacks %q:\n%s", want, log)
		}
	}
	if n := strings.Count(log, "Init Duration"); n != 1 {
		t.Errorf("log has %d Init Duration reports, want 1 (one cold start)", n)
	}
	requestID := ok.Header.Get("X-Amzn-Requestid")
	if !strings.Contains(log, requestID+"\t") || !strings.Contains(log, "\t"+requestID+"\t") {
		t.Errorf("log lines are not tagged with request id %s:\n%s", requestID, log)
	}
}

func TestEventInvocationsRunInOrder(t *testing.T) {
	h := startEmulator(t, sandbox.ModeAuto, goFunction(t, "fn", func(f *lambda.Function) { f.Concurrency = 1 }))
	for i := range 3 {
		r := h.invoke("fn", fmt.Sprintf(`{"action":"echo","text":"event-%d"}`, i), "X-Amz-Invocation-Type", "Event")
		if r.Status != http.StatusAccepted {
			t.Fatalf("Event invoke = %d %q, want 202", r.Status, r.Body)
		}
	}
	waitFor(t, "three events to run", func() bool { return strings.Count(h.log("fn"), "REPORT RequestId") == 3 })
	log := h.log("fn")
	if a, b, c := strings.Index(log, "echo event-0"), strings.Index(log, "echo event-1"), strings.Index(log, "echo event-2"); a < 0 || a > b || b > c {
		t.Errorf("events ran out of order:\n%s", log)
	}
}

func TestInvokeAPIErrors(t *testing.T) {
	h := startEmulator(t, sandbox.ModeAuto, goFunction(t, "fn", nil))
	tests := []struct {
		name     string
		function string
		payload  string
		headers  []string
		status   int
		errType  string
	}{
		{"unknown function", "nope", `{}`, nil, http.StatusNotFound, "ResourceNotFoundException"},
		{"dry run", "fn", `{}`, []string{"X-Amz-Invocation-Type", "DryRun"}, http.StatusNoContent, ""},
		{"not JSON", "fn", `{`, nil, http.StatusBadRequest, "InvalidRequestContentException"},
		{"bad invocation type", "fn", `{}`, []string{"X-Amz-Invocation-Type", "Sometimes"}, http.StatusBadRequest, "InvalidParameterValueException"},
		{"too large", "fn", `"` + strings.Repeat("x", 7<<20) + `"`, nil, http.StatusRequestEntityTooLarge, "RequestTooLargeException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.invoke(tt.function, tt.payload, tt.headers...)
			if r.Status != tt.status || r.Header.Get("X-Amzn-ErrorType") != tt.errType {
				t.Errorf("invoke = %d %q %q, want %d %q", r.Status, r.Header.Get("X-Amzn-ErrorType"), r.Body, tt.status, tt.errType)
			}
		})
	}
	if len(h.live()) != 0 {
		t.Errorf("failed and dry-run invocations started environments: %v", h.live())
	}
}

func TestInvalidConfiguration(t *testing.T) {
	good := goFunction(t, "fn", nil)
	tests := []struct {
		name string
		edit func(*lambda.Function)
	}{
		{"bad name", func(f *lambda.Function) { f.Name = "has space" }},
		{"missing code", func(f *lambda.Function) { f.Code = "/nonexistent" }},
		{"unknown runtime", func(f *lambda.Function) { f.Runtime = "cobol" }},
		{"nodejs without handler", func(f *lambda.Function) { f.Runtime, f.Code, f.Handler = lambda.RuntimeNodeJS, t.TempDir(), "" }},
		{"python without handler", func(f *lambda.Function) { f.Runtime, f.Code, f.Handler = lambda.RuntimePython, t.TempDir(), "" }},
		{"python code not a directory", func(f *lambda.Function) { f.Runtime, f.Handler = lambda.RuntimePython, "app.handler" }},
		{"tiny memory", func(f *lambda.Function) { f.MemoryMB = 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := good
			tt.edit(&f)
			emu, err := lambda.Start(t.Context(), lambda.Config{Addr: "127.0.0.1:0", Functions: []lambda.Function{f}})
			if err == nil {
				emu.Close()
				t.Fatalf("Start with %s succeeded, want an error", tt.name)
			}
			if !errors.Is(err, lambda.ErrInvalidFunction) {
				t.Errorf("Start error = %v, want ErrInvalidFunction", err)
			}
		})
	}
}

func base64Decode(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	return string(b), err
}

// TestFreezeAndThawHooks: Config.OnFreeze and OnThaw see every freeze and
// thaw of a function, in order, named, while the environment is in the state
// they announce.
func TestFreezeAndThawHooks(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	record := func(what string) func(string) {
		return func(fn string) {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, what+" "+fn)
		}
	}
	h := startEmulatorConfig(t, lambda.Config{Functions: []lambda.Function{goFunction(t, "fn", nil)},
		OnFreeze: record("freeze"), OnThaw: record("thaw")})
	for range 2 {
		h.invokeOK("fn", `{"action":"echo","text":"a"}`)
		waitFor(t, "the environment to freeze", func() bool {
			live := h.live()
			return len(live) == 1 && live[0].State == lambda.StateFrozen
		})
	}
	mu.Lock()
	defer mu.Unlock()
	// The cold start's event is waiting when Init ends, so the first freeze
	// follows the first invocation; the second thaws and freezes again.
	want := []string{"freeze fn", "thaw fn", "freeze fn"}
	if !slices.Equal(calls, want) {
		t.Errorf("hooks called %q, want %q", calls, want)
	}
}
