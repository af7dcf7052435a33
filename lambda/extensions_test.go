package lambda_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/lambda"
	"github.com/thaw-dev/thaw/lambda/sandbox"
)

var (
	extensionOnce sync.Once
	extensionDir  string
	extensionErr  error
)

// testExtensionDir builds lambda/internal/testextension once per test binary
// into a directory of its own, the function's extensions directory.
func testExtensionDir(t *testing.T) string {
	t.Helper()
	extensionOnce.Do(func() {
		testFunction(t) // creates buildDir, removed by TestMain
		extensionDir = filepath.Join(buildDir, "extensions")
		if extensionErr = os.MkdirAll(extensionDir, 0o755); extensionErr != nil {
			return
		}
		extensionErr = goBuild("./internal/testextension", filepath.Join(extensionDir, "testextension"))
	})
	if extensionErr != nil {
		t.Fatal(extensionErr)
	}
	return extensionDir
}

// extensionEvents reads the events the test extension recorded.
func extensionEvents(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	// The extension may be appending a line (a telemetry batch can be
	// large) as this reads: a last line without its newline is not whole.
	complete := data[:bytes.LastIndexByte(data, '\n')+1]
	var events []map[string]any
	for line := range bytes.Lines(complete) {
		var event map[string]any
		if err := json.Unmarshal(line, &event); err != nil {
			t.Fatalf("extension log line %q: %v", line, err)
		}
		events = append(events, event)
	}
	return events
}

// processGone reports whether pid has exited: it no longer exists, or it is a
// zombie waiting for its parent (init, for an orphan) to reap it.
func processGone(pid int) bool {
	err := syscall.Kill(pid, 0)
	if errors.Is(err, syscall.ESRCH) {
		return true
	}
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	i := strings.LastIndexByte(string(data), ')')
	return i >= 0 && i+2 < len(data) && data[i+2] == 'Z'
}

// TestExternalExtensionLifecycle: an external extension registers during
// Init, gets INVOKE for each invocation, holds back the freeze until it has
// asked for its next event, is frozen with the runtime, and gets
// SHUTDOWN(spindown) when the idle environment is reaped.
func TestExternalExtensionLifecycle(t *testing.T) {
	for _, mode := range freezeModes(t) {
		t.Run(mode.String(), func(t *testing.T) {
			events := filepath.Join(t.TempDir(), "events.jsonl")
			// Registered before the emulator's, so it runs after Close.
			var extPid int
			t.Cleanup(func() {
				if extPid != 0 {
					waitFor(t, "the extension process to be gone after Close", func() bool { return processGone(extPid) })
				}
			})
			fn := goFunction(t, "fn", func(f *lambda.Function) {
				f.Extensions = testExtensionDir(t)
				f.IdleTimeout = 4 * time.Second
				f.Env = map[string]string{"THAW_TEST_EXTENSION_LOG": events, "THAW_TEST_EXTENSION_DELAY_MS": "600"}
			})
			h := startEmulator(t, mode, fn)

			var requestIDs []string
			for i := range 2 {
				reply := h.invokeOK("fn", `{"action":"echo","text":"x"}`)
				requestIDs = append(requestIDs, reply["request_id"].(string))
				// The runtime has answered, the extension still works on INVOKE.
				if live := h.live(); len(live) != 1 || live[0].State == lambda.StateFrozen {
					t.Fatalf("invocation %d: environments right after the answer = %+v, want one not frozen while the extension works", i, live)
				}
				waitFor(t, "the environment to freeze after the extension's next", func() bool {
					live := h.live()
					return len(live) == 1 && live[0].State == lambda.StateFrozen
				})
			}

			got := extensionEvents(t, events)
			if len(got) != 3 || got[0]["eventType"] != "REGISTERED" {
				t.Fatalf("extension events = %v, want REGISTERED and two INVOKE", got)
			}
			if name := got[0]["response"].(map[string]any)["functionName"]; name != "fn" {
				t.Errorf("register response functionName = %v, want fn", name)
			}
			for i, id := range requestIDs {
				ev := got[i+1]
				if ev["eventType"] != "INVOKE" || ev["requestId"] != id || ev["invokedFunctionArn"] == "" || ev["deadlineMs"] == nil {
					t.Errorf("event %d = %v, want INVOKE for request %s", i+1, ev, id)
				}
			}
			extPid = int(got[0]["pid"].(float64))
			before := contextSwitches(t, extPid)
			time.Sleep(500 * time.Millisecond)
			if after := contextSwitches(t, extPid); after != before {
				t.Errorf("frozen extension's threads switched context %d times in 500 ms, want 0", after-before)
			}

			waitFor(t, "the idle environment to be shut down", func() bool { return len(h.live()) == 0 })
			waitFor(t, "the extension to exit", func() bool { return processGone(extPid) })
			got = extensionEvents(t, events)
			last := got[len(got)-1]
			if last["eventType"] != "SHUTDOWN" || last["shutdownReason"] != "spindown" || last["deadlineMs"] == nil {
				t.Errorf("last extension event = %v, want SHUTDOWN spindown", last)
			}
			if log := h.log("fn"); !strings.Contains(log, "testextension: INVOKE "+requestIDs[1]) {
				t.Errorf("function log lacks the extension's output:\n%s", log)
			}
		})
	}
}

// TestExtensionsAPIRefusals: registering after Init and unknown identifiers
// are refused.
func TestExtensionsAPIRefusals(t *testing.T) {
	h := startEmulator(t, sandbox.ModeAuto, goFunction(t, "fn", nil))
	h.invokeOK("fn", `{}`)
	// The Runtime API port is private to the environment; the refusals are
	// exercised through the environment's own address.
	runtimeAPI := runtimeAPIOf(t, h)
	req, _ := http.NewRequest(http.MethodPost, "http://"+runtimeAPI+"/2020-01-01/extension/register", strings.NewReader(`{"events":["INVOKE"]}`))
	req.Header.Set("Lambda-Extension-Name", "late")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("register after Init = %d, want 403", resp.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodGet, "http://"+runtimeAPI+"/2020-01-01/extension/event/next", nil)
	req.Header.Set("Lambda-Extension-Identifier", "nope")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("next with an unknown identifier = %d, want 403", resp.StatusCode)
	}
}

// runtimeAPIOf reads AWS_LAMBDA_RUNTIME_API from the live environment's
// runtime process.
func runtimeAPIOf(t *testing.T, h *harness) string {
	t.Helper()
	live := h.live()
	if len(live) != 1 {
		t.Fatalf("live environments = %d, want 1", len(live))
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", live[0].Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range strings.Split(string(data), "\x00") {
		if v, ok := strings.CutPrefix(kv, "AWS_LAMBDA_RUNTIME_API="); ok {
			return v
		}
	}
	t.Fatal("no AWS_LAMBDA_RUNTIME_API in the runtime's environment")
	return ""
}

func TestStreamedResponseErrorTrailer(t *testing.T) {
	h := startEmulator(t, sandbox.ModeAuto, goFunction(t, "fn", nil))
	r := h.invoke("fn", `{"action":"stream_fail"}`)
	if r.Status != http.StatusOK || r.Header.Get("X-Amz-Function-Error") != "Unhandled" {
		t.Fatalf("invoke stream_fail = %d %q (function error %q), want 200 with X-Amz-Function-Error", r.Status, r.Body, r.Header.Get("X-Amz-Function-Error"))
	}
	reply := replyOf(t, r)
	if msg, _ := reply["errorMessage"].(string); !strings.Contains(msg, "stream broke on purpose") {
		t.Errorf("error payload = %s, want the stream's error", r.Body)
	}
	h.invokeOK("fn", `{}`) // the environment is still usable
}

// TestTelemetryAPIDeliversFunctionAndPlatformEvents: a subscribed extension
// receives the function's output lines, the Init phase's platform events
// (including those published before it subscribed, during Init) and the
// invocation's platform events.
func TestTelemetryAPIDeliversFunctionAndPlatformEvents(t *testing.T) {
	dir := t.TempDir()
	telemetry := filepath.Join(dir, "telemetry.jsonl")
	h := startEmulator(t, sandbox.ModeAuto, goFunction(t, "fn", func(f *lambda.Function) {
		f.Extensions = testExtensionDir(t)
		f.Env = map[string]string{
			"THAW_TEST_EXTENSION_LOG":           filepath.Join(dir, "events.jsonl"),
			"THAW_TEST_EXTENSION_TELEMETRY_LOG": telemetry,
		}
	}))
	reply := h.invokeOK("fn", `{"action":"echo","text":"to-telemetry"}`)
	id, pid := reply["request_id"].(string), reply["pid"]
	seen := map[string]bool{}
	waitFor(t, "telemetry for the first invocation", func() bool {
		for _, event := range extensionEvents(t, telemetry) {
			record, _ := event["record"].(map[string]any)
			switch {
			case event["type"] == "function" && event["record"] == "echo to-telemetry":
				seen["function"] = true
			case event["type"] == "platform.start" && record["requestId"] == id:
				seen["start"] = true
			case event["type"] == "platform.runtimeDone" && record["requestId"] == id && record["status"] == "success":
				seen["runtimeDone"] = true
			case event["type"] == "platform.report" && record["requestId"] == id:
				metrics, _ := record["metrics"].(map[string]any)
				seen["report"] = metrics["durationMs"] != nil && metrics["billedDurationMs"] != nil && metrics["initDurationMs"] != nil
			case event["type"] == "platform.initStart" && record["phase"] == "init" && record["initializationType"] == "on-demand":
				seen["initStart"] = record["functionName"] == "fn" && record["functionVersion"] == "$LATEST"
			case event["type"] == "platform.initRuntimeDone" && record["phase"] == "init":
				seen["initRuntimeDone"] = record["status"] == "success"
			case event["type"] == "platform.initReport" && record["phase"] == "init":
				metrics, _ := record["metrics"].(map[string]any)
				seen["initReport"] = record["status"] == "success" && metrics["durationMs"] != nil
			}
		}
		if len(seen) == 7 && seen["report"] && seen["initStart"] && seen["initRuntimeDone"] && seen["initReport"] {
			return true
		}
		// Telemetry reaches the subscriber only while the environment
		// runs, as on Lambda: the invocation's report, published after
		// its answer, and a delivery caught by the freeze (the extension
		// has asked for its next event, so nothing waits for it) go on
		// after the next thaw. Invoke again, in the same environment:
		// only once it is frozen, since until the extension has asked
		// for its next event the environment is busy, and an invocation
		// would cold-start a second one (see
		// TestExtensionKeepsEnvironmentBusy).
		if live := h.live(); len(live) == 1 && live[0].State == lambda.StateFrozen {
			if again := h.invokeOK("fn", `{"action":"echo","text":"again"}`)["pid"]; again != pid {
				t.Fatalf("invocation after the freeze ran in pid %v, want %v: the first environment", again, pid)
			}
		}
		return false
	})
	// Each Init event reaches the subscriber once, in order.
	var initTypes []string
	for _, event := range extensionEvents(t, telemetry) {
		if typ, _ := event["type"].(string); strings.HasPrefix(typ, "platform.init") {
			initTypes = append(initTypes, typ)
		}
	}
	if want := []string{"platform.initStart", "platform.initRuntimeDone", "platform.initReport"}; !slices.Equal(initTypes, want) {
		t.Errorf("init telemetry events = %v, want %v", initTypes, want)
	}
}

// TestExtensionKeepsEnvironmentBusy: after the runtime has answered, an
// extension still working on INVOKE keeps the environment from being
// reused: the next invocation cold-starts another environment, or gets 429
// at the concurrency limit. Once the extension asks for its next event the
// environment is reused.
func TestExtensionKeepsEnvironmentBusy(t *testing.T) {
	tests := []struct {
		name        string
		concurrency int
	}{
		{"second environment", 2},
		{"concurrency limit", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := goFunction(t, "fn", func(f *lambda.Function) {
				f.Extensions = testExtensionDir(t)
				f.Concurrency = tt.concurrency
				f.Env = map[string]string{
					"THAW_TEST_EXTENSION_LOG":      filepath.Join(t.TempDir(), "events.jsonl"),
					"THAW_TEST_EXTENSION_DELAY_MS": "600",
				}
			})
			h := startEmulator(t, sandbox.ModeAuto, fn)
			first := h.invokeOK("fn", `{}`)["pid"]
			// The extension lingers 600 ms after INVOKE: the environment is
			// not free yet.
			r := h.invoke("fn", `{}`)
			if tt.concurrency == 1 {
				if r.Status != http.StatusTooManyRequests {
					t.Fatalf("invoke while the extension works = %d %q, want 429", r.Status, r.Body)
				}
			} else {
				if r.Status != http.StatusOK || r.Header.Get("X-Amz-Function-Error") != "" {
					t.Fatalf("invoke while the extension works = %d %q, want 200", r.Status, r.Body)
				}
				if second := replyOf(t, r)["pid"]; second == first {
					t.Errorf("invoke while the extension works ran in pid %v, the busy environment's", first)
				}
			}
			waitFor(t, "every environment to freeze once its extension is done", func() bool {
				live := h.live()
				for _, env := range live {
					if env.State != lambda.StateFrozen {
						return false
					}
				}
				return len(live) == min(tt.concurrency, 2)
			})
			reply := h.invokeOK("fn", `{}`)
			if reply["invocations"].(float64) != 2 {
				t.Errorf("invocation after the extension finished = %v, want a warm environment's second invocation", reply)
			}
			if got := len(h.live()); got != tt.concurrency {
				t.Errorf("live environments = %d, want %d", got, tt.concurrency)
			}
		})
	}
}

// TestRuntimeCrashSendsShutdownFailure: when the runtime crashes, its
// extensions outlive it long enough to receive SHUTDOWN with reason failure,
// and the invocation fails with the runtime's own exit status.
func TestRuntimeCrashSendsShutdownFailure(t *testing.T) {
	events := filepath.Join(t.TempDir(), "events.jsonl")
	var extPid int
	t.Cleanup(func() {
		if extPid != 0 {
			waitFor(t, "the extension process to be gone", func() bool { return processGone(extPid) })
		}
	})
	h := startEmulator(t, sandbox.ModeAuto, goFunction(t, "fn", func(f *lambda.Function) {
		f.Extensions = testExtensionDir(t)
		f.Env = map[string]string{"THAW_TEST_EXTENSION_LOG": events}
	}))
	pid := h.invokeOK("fn", `{}`)["pid"]
	extPid = int(extensionEvents(t, events)[0]["pid"].(float64))
	// The environment is reusable only once its extension has asked for its
	// next event after INVOKE; until then the crash would cold-start a second
	// environment (see TestExtensionKeepsEnvironmentBusy), whose extension is
	// not the one watched here. The freeze says the extension is done.
	waitFor(t, "the environment to freeze after the extension's next", func() bool {
		live := h.live()
		return len(live) == 1 && live[0].State == lambda.StateFrozen
	})

	r := h.invoke("fn", `{"action":"crash"}`)
	if r.Header.Get("X-Amz-Function-Error") != "Unhandled" || replyOf(t, r)["errorType"] != "Runtime.ExitError" || !strings.Contains(string(r.Body), "exit status 3") {
		t.Fatalf("crashing invoke = %d %q, want Runtime.ExitError with exit status 3", r.Status, r.Body)
	}
	waitFor(t, "the extension to exit", func() bool { return processGone(extPid) })
	got := extensionEvents(t, events)
	if last := got[len(got)-1]; last["eventType"] != "SHUTDOWN" || last["shutdownReason"] != "failure" || last["deadlineMs"] == nil {
		t.Errorf("last extension event = %v, want SHUTDOWN failure", last)
	}
	if next := h.invokeOK("fn", `{}`)["pid"]; next == pid {
		t.Errorf("invocation after a crash reused pid %v, want a cold start", pid)
	}
}
