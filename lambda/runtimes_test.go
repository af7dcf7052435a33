package lambda_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/lambda"
	"github.com/thaw-dev/thaw/lambda/sandbox"
)

// handlerRuntime is a runtime whose handlers thaw runs through a bootstrap of
// its own, with what differs between them: the function under
// testdata/lifecycle, its error shape and its log format.
type handlerRuntime struct {
	name    string // the subtest name
	runtime string // lambda.RuntimeNodeJS or lambda.RuntimePython
	program string // the interpreter that must be in PATH
	handler string
	// errorType is what the lifecycle function's "fail" action raises.
	errorType string
	// traceField is the error body's list of stack lines.
	traceField string
	// logRecord matches a warning logged by the function during the
	// invocation requestID, as it appears in thaw's log file.
	logRecord func(requestID, text string) *regexp.Regexp
}

// timestampRE is the millisecond UTC time both runtimes put in log records.
const timestampRE = `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`

func handlerRuntimes() []handlerRuntime {
	return []handlerRuntime{
		{
			name: "node", runtime: lambda.RuntimeNodeJS, program: "node", handler: "index.handler",
			errorType: "Error", traceField: "trace",
			logRecord: func(requestID, text string) *regexp.Regexp {
				return regexp.MustCompile(`\t` + timestampRE + `\t` + regexp.QuoteMeta(requestID) + `\tWARN\t` + regexp.QuoteMeta(text) + `\n`)
			},
		},
		{
			name: "python", runtime: lambda.RuntimePython, program: "python3", handler: "lifecycle.handler",
			errorType: "RuntimeError", traceField: "stackTrace",
			logRecord: func(requestID, text string) *regexp.Regexp {
				return regexp.MustCompile(`\t\[WARNING\]\t` + timestampRE + `\t` + regexp.QuoteMeta(requestID) + `\t` + regexp.QuoteMeta(text) + `\n`)
			},
		},
	}
}

// function is the lifecycle function of rt named name, from
// testdata/lifecycle/<rt.name><suffix>, edited by edit. CPU scaling is off
// for the reason goFunction gives.
func (rt handlerRuntime) function(t *testing.T, name, suffix string, edit func(*lambda.Function)) lambda.Function {
	t.Helper()
	code, err := filepath.Abs(filepath.Join("testdata", "lifecycle", rt.name+suffix))
	if err != nil {
		t.Fatal(err)
	}
	cpuScaling := false
	f := lambda.Function{Name: name, Runtime: rt.runtime, Code: code, Handler: rt.handler, MemoryMB: 256, Timeout: 5 * time.Second, CPUScaling: &cpuScaling}
	if edit != nil {
		edit(&f)
	}
	return f
}

// forEachRuntime runs test once per handler runtime whose interpreter is in
// PATH, as a parallel subtest.
func forEachRuntime(t *testing.T, test func(t *testing.T, rt handlerRuntime)) {
	for _, rt := range handlerRuntimes() {
		t.Run(rt.name, func(t *testing.T) {
			if _, err := exec.LookPath(rt.program); err != nil {
				t.Skipf("%s is not in PATH", rt.program)
			}
			t.Parallel()
			test(t, rt)
		})
	}
}

func TestPythonAndNodeHelloInvoke(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt handlerRuntime) {
		h := startEmulator(t, sandbox.ModeAuto, rt.function(t, "hello", "", nil))
		r := h.invoke("hello", `{"action":"echo","text":"hello"}`)
		reply := replyOf(t, r)
		h.pids[int(reply["pid"].(float64))] = true
		if r.Status != http.StatusOK || r.FunctionError() != "" || reply["echo"] != "hello" {
			t.Errorf("invoke hello = %d %q (function error %q), want 200 with echo hello", r.Status, r.Body, r.FunctionError())
		}
		if id := r.Header.Get("X-Amzn-Requestid"); reply["request_id"] != id {
			t.Errorf("request id seen by the function = %v, want the Invoke API's %s", reply["request_id"], id)
		}
	})
}

func TestPythonAndNodeReuseKeepsModuleState(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt handlerRuntime) {
		h := startEmulator(t, sandbox.ModeAuto, rt.function(t, "reuse", "", nil))
		var pid any
		for want := 1; want <= 3; want++ {
			reply := h.invokeOK("reuse", `{"action":"echo","text":"again"}`)
			if reply["invocations"] != float64(want) {
				t.Errorf("invocation %d: the module-level counter is %v, want %d", want, reply["invocations"], want)
			}
			if want > 1 && reply["pid"] != pid {
				t.Errorf("invocation %d ran in pid %v, want the warm environment %v", want, reply["pid"], pid)
			}
			pid = reply["pid"]
			waitFor(t, "the environment to freeze", func() bool {
				live := h.live()
				return len(live) == 1 && live[0].State == lambda.StateFrozen && live[0].Invocations == want
			})
		}
	})
}

func TestPythonAndNodeExceptionShape(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt handlerRuntime) {
		h := startEmulator(t, sandbox.ModeAuto, rt.function(t, "fails", "", nil))
		pid := h.invokeOK("fails", `{}`)["pid"]
		r := h.invoke("fails", `{"action":"fail","text":"boom"}`)
		if r.Status != http.StatusOK || r.FunctionError() != "Unhandled" {
			t.Errorf("failing invoke = %d with X-Amz-Function-Error %q, want 200 Unhandled", r.Status, r.FunctionError())
		}
		body := replyOf(t, r)
		if body["errorType"] != rt.errorType || body["errorMessage"] != "failing on purpose: boom" {
			t.Errorf("error = %s: %v, want %s: failing on purpose: boom", body["errorType"], body["errorMessage"], rt.errorType)
		}
		trace, _ := body[rt.traceField].([]any)
		if len(trace) == 0 {
			t.Errorf("error %s has no %s, want the stack as a list of strings", r.Body, rt.traceField)
		}
		for _, line := range trace {
			if _, ok := line.(string); !ok {
				t.Errorf("%s element %v is not a string", rt.traceField, line)
			}
		}
		if again := h.invokeOK("fails", `{}`)["pid"]; again != pid {
			t.Errorf("invocation after a function error ran in pid %v, want the same environment %v", again, pid)
		}
	})
}

func TestPythonAndNodeTimeout(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt handlerRuntime) {
		h := startEmulator(t, sandbox.ModeAuto, rt.function(t, "slow", "", func(f *lambda.Function) { f.Timeout = 500 * time.Millisecond }))
		pid := h.invokeOK("slow", `{}`)["pid"]
		r := h.invoke("slow", `{"action":"sleep","ms":3000}`)
		if r.Status != http.StatusOK || r.FunctionError() != "Unhandled" || !bytes.Contains(r.Body, []byte("Task timed out after 0.50 seconds")) {
			t.Fatalf("timed-out invoke = %d %q %q, want 200 Unhandled with 'Task timed out after 0.50 seconds'", r.Status, r.FunctionError(), r.Body)
		}
		if next := h.invokeOK("slow", `{}`)["pid"]; next == pid {
			t.Errorf("invocation after a timeout reused pid %v, want a cold start", pid)
		}
	})
}

func TestPythonAndNodeInitError(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt handlerRuntime) {
		h := startEmulator(t, sandbox.ModeAuto, rt.function(t, "broken", "-initerror", nil))
		for i := range 2 { // each invocation tries a fresh Init
			r := h.invoke("broken", `{}`)
			body := replyOf(t, r)
			if r.FunctionError() == "" || body["errorType"] != "ConfigError" || body["errorMessage"] != "DATABASE_URL is not set" {
				t.Errorf("invocation %d = %q %s, want a function error ConfigError: DATABASE_URL is not set", i+1, r.FunctionError(), r.Body)
			}
			waitFor(t, "the failed environment to end", func() bool { return len(h.live()) == 0 })
		}
		for _, env := range h.environments() {
			h.pids[env.Pid] = true
		}
	})
}

func TestPythonAndNodeLogsCarryRequestID(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt handlerRuntime) {
		h := startEmulator(t, sandbox.ModeAuto, rt.function(t, "logs", "", nil))
		r := h.invoke("logs", `{"action":"log","text":"something to say"}`)
		h.pids[int(replyOf(t, r)["pid"].(float64))] = true
		id := r.Header.Get("X-Amzn-Requestid")
		want := rt.logRecord(id, "something to say")
		waitFor(t, "the log record", func() bool { return want.MatchString(h.log("logs")) })
		// thaw tags the line with the request id too, before the function's text.
		if line := regexp.MustCompile(`(?m)^\S+\t` + regexp.QuoteMeta(id) + `\t[0-9a-f]+\t.*something to say$`); !line.MatchString(h.log("logs")) {
			t.Errorf("log lacks thaw's request id tag for %s:\n%s", id, h.log("logs"))
		}
	})
}

func TestPythonAndNodeAsyncHandler(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt handlerRuntime) {
		h := startEmulator(t, sandbox.ModeAuto, rt.function(t, "async", "", nil))
		for i := range 2 {
			if reply := h.invokeOK("async", `{"action":"async"}`); reply["async"] != true || reply["invocations"] != float64(i+1) {
				t.Errorf("async invocation %d = %v, want async true and invocations %d", i+1, reply, i+1)
			}
		}
	})
}

func TestPythonAndNodeRemainingTime(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt handlerRuntime) {
		h := startEmulator(t, sandbox.ModeAuto, rt.function(t, "deadline", "", func(f *lambda.Function) { f.Timeout = 4 * time.Second }))
		for i := range 2 {
			reply := h.invokeOK("deadline", `{}`)
			if ms, _ := reply["remaining_ms"].(float64); ms <= 0 || ms > 4000 {
				t.Errorf("invocation %d: remaining time = %v ms, want within (0, 4000]", i+1, reply["remaining_ms"])
			}
		}
	})
}

func TestPythonAndNodeCrashIsRuntimeExitError(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt handlerRuntime) {
		h := startEmulator(t, sandbox.ModeAuto, rt.function(t, "crash", "", nil))
		pid := h.invokeOK("crash", `{}`)["pid"]
		r := h.invoke("crash", `{"action":"crash"}`)
		if r.FunctionError() != "Unhandled" || replyOf(t, r)["errorType"] != "Runtime.ExitError" || !bytes.Contains(r.Body, []byte("exit status 3")) {
			t.Fatalf("crashing invoke = %d %q, want Runtime.ExitError with exit status 3", r.Status, r.Body)
		}
		if next := h.invokeOK("crash", `{}`)["pid"]; next == pid {
			t.Errorf("invocation after a crash reused pid %v, want a cold start", pid)
		}
	})
}

func TestPythonAndNodeMemoryCap(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt handlerRuntime) {
		h := startEmulator(t, sandbox.ModeCgroupV1, rt.function(t, "hog", "", func(f *lambda.Function) { f.MemoryMB = 128 }))
		h.invokeOK("hog", `{}`)
		r := h.invoke("hog", fmt.Sprintf(`{"action":"alloc","mb":%d}`, 400))
		if r.FunctionError() != "Unhandled" || replyOf(t, r)["errorType"] != "Runtime.OutOfMemory" {
			t.Fatalf("over-allocating invoke = %d %q, want Runtime.OutOfMemory", r.Status, r.Body)
		}
	})
}
