// Package lambdatest holds what tests of thaw lambda's users share: calling
// a running emulator's Invoke API and introspection endpoint, and waiting for
// an environment to reach a state. Like net/http/httptest, it talks to a real
// emulator; it fakes nothing.
package lambdatest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/lambda"
)

// Response is what the Invoke API answered.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// FunctionError is the X-Amz-Function-Error header, "" on success.
func (r Response) FunctionError() string { return r.Header.Get("X-Amz-Function-Error") }

// RequestID is the X-Amzn-Requestid header: the invocation's request ID.
func (r Response) RequestID() string { return r.Header.Get("X-Amzn-Requestid") }

// Invoke posts payload to function at the emulator listening on addr, with
// headers given as name, value pairs, and returns the answer.
func Invoke(t testing.TB, client *http.Client, addr, function, payload string, headers ...string) Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/2015-03-31/functions/"+function+"/invocations", strings.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("invoke %s: %v", function, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("invoke %s: read the answer: %v", function, err)
	}
	return Response{resp.StatusCode, resp.Header, body}
}

// InvokeOK invokes function, fails the test unless it answered 200 without a
// function error, and decodes the function's JSON reply into reply.
func InvokeOK(t testing.TB, client *http.Client, addr, function, payload string, reply any) {
	t.Helper()
	r := Invoke(t, client, addr, function, payload)
	if r.Status != http.StatusOK || r.FunctionError() != "" {
		t.Fatalf("invoke %s %s = %d %q (function error %q), want 200 success", function, payload, r.Status, r.Body, r.FunctionError())
	}
	if err := json.Unmarshal(r.Body, reply); err != nil {
		t.Fatalf("invoke %s: reply %q: %v", function, r.Body, err)
	}
}

// Environments reads GET /_thaw/environments of the emulator on addr.
func Environments(t testing.TB, client *http.Client, addr string) []lambda.EnvironmentInfo {
	t.Helper()
	resp, err := client.Get("http://" + addr + "/_thaw/environments")
	if err != nil {
		t.Fatalf("GET /_thaw/environments: %v", err)
	}
	defer resp.Body.Close()
	var envs []lambda.EnvironmentInfo
	if err := json.NewDecoder(resp.Body).Decode(&envs); err != nil {
		t.Fatalf("decode /_thaw/environments: %v", err)
	}
	return envs
}

// Live keeps the environments of function (all functions when "") that have
// not ended.
func Live(envs []lambda.EnvironmentInfo, function string) []lambda.EnvironmentInfo {
	var live []lambda.EnvironmentInfo
	for _, e := range envs {
		if (function == "" || e.Function == function) && e.State != lambda.StateDead {
			live = append(live, e)
		}
	}
	return live
}

// WaitTimeout is how long WaitFor polls: generous, since the machines that
// run the tests are shared and noisy.
const WaitTimeout = 15 * time.Second

// WaitFor polls cond every 20 ms until it holds, and fails the test naming
// what it waited for when WaitTimeout passes first.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	WaitForWithin(t, WaitTimeout, what, cond)
}

// WaitForWithin is WaitFor with a wait of its own, for conditions that
// take longer than WaitTimeout on a loaded machine.
func WaitForWithin(t testing.TB, wait time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", wait, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
