package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/client"
	thawlambda "github.com/thaw-dev/thaw/lambda"
	"github.com/thaw-dev/thaw/server"
)

// TestUnderThawLambda does what README.md describes, in-process: it builds
// the function, serves a cache with thaw serve's server, runs the function
// under the freezing Lambda emulator, invokes it with gaps between
// invocations (during which the environment is frozen) and checks the
// replies and the trace lines in the function's log.
func TestUnderThawLambda(t *testing.T) {
	bootstrap := filepath.Join(t.TempDir(), "bootstrap")
	if out, err := exec.Command("go", "build", "-o", bootstrap, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	srv, err := server.Start(t.Context(), server.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("server.Start: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	logDir := t.TempDir()
	emu, err := thawlambda.Start(t.Context(), thawlambda.Config{
		Addr:   "127.0.0.1:0",
		LogDir: logDir,
		Functions: []thawlambda.Function{{
			Name: "lambda-go", Runtime: thawlambda.RuntimeProvided, Code: bootstrap, Handler: "bootstrap",
			Timeout: 5 * time.Second, Env: map[string]string{"THAW_CACHE_ENDPOINT": srv.Addr()},
		}},
	})
	if err != nil {
		t.Fatalf("lambda.Start: %v", err)
	}
	t.Cleanup(func() { emu.Close() })

	// The first invocation follows init at once; the others come after
	// gaps longer than the client's recovery threshold, spent frozen.
	gaps := []time.Duration{0, client.DefaultRecoveryIdleThreshold + 500*time.Millisecond, client.DefaultRecoveryIdleThreshold + time.Second}
	var ids []string
	for i, gap := range gaps {
		time.Sleep(gap)
		r := invoke(t, emu.Addr(), `{"key":"k"}`)
		if !r.Found || r.Value != "hello from "+r.RequestID || !r.Recovery || r.RequestID == "" || r.Count != int64(i+1) {
			t.Fatalf("invocation %d = %+v; want the value it set, found, count %d, with recovery on (client.Auto() chose Lambda())", i, r, i+1)
		}
		t.Logf("invocation %d after a %v gap: set+get took %.2f ms", i, gap, r.Millis)
		ids = append(ids, r.RequestID)
	}

	envs := emu.Environments()
	if len(envs) != 1 || envs[0].Invocations != len(gaps) || envs[0].FrozenTotalMs < float64(gaps[1].Milliseconds()) {
		t.Errorf("environments = %+v; want one, reused by every invocation and frozen during the gaps", envs)
	} else {
		t.Logf("one environment (freeze mode %s), frozen %.0f ms in total between invocations", envs[0].FreezeMode, envs[0].FrozenTotalMs)
	}

	// Each log record is "<time>\t<request id being processed or ->\t<environment>\t<text>".
	data, err := os.ReadFile(filepath.Join(logDir, "lambda-go.log"))
	if err != nil {
		t.Fatal(err)
	}
	// A trace line carries the request id of the invocation that made the
	// latest call: the one running, or, for wire events read after a thaw
	// and before the new invocation's first call, the one before it (such as
	// the ACK of a PING sent just before the freeze). Never a later one.
	order := map[string]int{}
	for i, id := range ids {
		order[id] = i
	}
	calls := map[string]int{}
	gapped := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.SplitN(line, "\t", 4)
		if len(fields) != 4 || !strings.HasPrefix(fields[3], "{") {
			continue
		}
		var rec struct {
			Msg       string `json:"msg"`
			Component string `json:"component"`
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal([]byte(fields[3]), &rec); err != nil || rec.Component != "thaw-client" {
			continue
		}
		if running, ok := order[fields[1]]; ok && rec.RequestID != "" {
			switch {
			case order[rec.RequestID] > running:
				t.Errorf("trace line %q carries request id %s during the earlier invocation %s", fields[3], rec.RequestID, fields[1])
			case rec.RequestID != fields[1]:
				t.Logf("during invocation %d, before its first call, the wire showed %s (request_id of invocation %d): %s",
					running, rec.Msg, order[rec.RequestID], fields[3])
			}
		}
		switch rec.Msg {
		case client.EventCall:
			calls[rec.RequestID]++
		case client.EventIdleGap:
			gapped[rec.RequestID] = true
		}
	}
	for i, id := range ids {
		if calls[id] < 2 {
			t.Errorf("invocation %d (%s): %d trace lines for calls with its request id; want at least 2 (set, get)", i, id, calls[id])
		}
		if i > 0 && !gapped[id] {
			t.Errorf("invocation %d (%s) after a frozen gap: no %q trace line with its request id", i, id, client.EventIdleGap)
		}
	}
	if t.Failed() {
		t.Logf("function log:\n%s", data)
	}
}

// invoke calls the function through the emulator's Invoke API.
func invoke(t *testing.T, addr, payload string) Reply {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/2015-03-31/functions/lambda-go/invocations", "application/json", strings.NewReader(payload))
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Amz-Function-Error") != "" {
		t.Fatalf("invoke = %d %s (function error %q); want success", resp.StatusCode, body, resp.Header.Get("X-Amz-Function-Error"))
	}
	var r Reply
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("reply %s: %v", body, err)
	}
	return r
}
