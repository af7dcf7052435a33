package lambdatest

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/lambda"
)

// Emulator is a lambda.Emulator started for one test on 127.0.0.1:0, whose
// functions write their logs to files in LogDir.
type Emulator struct {
	*lambda.Emulator
	// LogDir holds one <function>.log per function.
	LogDir string

	t testing.TB
}

// Start serves fns on 127.0.0.1:0 with logs in a temporary directory, and
// closes the emulator at the end of the test.
func Start(t testing.TB, fns ...lambda.Function) *Emulator {
	t.Helper()
	logDir := t.TempDir()
	emu, err := lambda.Start(t.Context(), lambda.Config{Addr: "127.0.0.1:0", Functions: fns, LogDir: logDir})
	if err != nil {
		t.Fatalf("lambda.Start: %v", err)
	}
	t.Cleanup(func() { emu.Close() })
	return &Emulator{Emulator: emu, LogDir: logDir, t: t}
}

// TestdataFunction is a function of runtime named name whose code is
// testdata/dir, with 512 MB, a 10 s timeout and no CPU scaling: what runtime
// tests need, since the bootstrap, not CPU shares, is under test.
func TestdataFunction(t testing.TB, runtime, name, dir, handler string) lambda.Function {
	t.Helper()
	code, err := filepath.Abs(filepath.Join("testdata", dir))
	if err != nil {
		t.Fatal(err)
	}
	noCPUScaling := false
	return lambda.Function{
		Name:       name,
		Runtime:    runtime,
		Code:       code,
		Handler:    handler,
		MemoryMB:   512,
		Timeout:    10 * time.Second,
		CPUScaling: &noCPUScaling,
	}
}

// Invoke posts payload to function, with headers given as name, value pairs,
// and returns the answer.
func (e *Emulator) Invoke(function, payload string, headers ...string) Response {
	e.t.Helper()
	return Invoke(e.t, http.DefaultClient, e.Addr(), function, payload, headers...)
}

// InvokeBody invokes function, fails the test unless it answered 200 without
// a function error, and returns the response body.
func (e *Emulator) InvokeBody(function, payload string) []byte {
	e.t.Helper()
	r := e.Invoke(function, payload)
	if r.Status != http.StatusOK || r.FunctionError() != "" {
		e.t.Fatalf("invoke %s %s = %d %s (function error %q), want 200 success", function, payload, r.Status, r.Body, r.FunctionError())
	}
	return r.Body
}

// WaitForLog polls the log file of function until it matches re, and returns
// the log; it fails the test when WaitTimeout passes first.
func (e *Emulator) WaitForLog(function string, re *regexp.Regexp) string {
	e.t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for {
		data, _ := os.ReadFile(filepath.Join(e.LogDir, function+".log"))
		if re.Match(data) {
			return string(data)
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("log of %s does not match %q:\n%s", function, re, data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ExpectNoSurvivors makes the end of the test close the emulator and fail the
// test if a runtime process of its environments is still alive then.
func (e *Emulator) ExpectNoSurvivors() {
	e.t.Cleanup(func() { // runs before Start's own, then redundant, Close
		envs := e.Environments()
		e.Close()
		for _, env := range envs {
			if ProcessAlive(env.Pid) {
				e.t.Errorf("runtime process %d of %s still alive after Close", env.Pid, env.Function)
			}
		}
	})
}

// ProcessAlive reports whether pid exists and is not a zombie.
func ProcessAlive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}
