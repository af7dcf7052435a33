package noderuntime_test

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/lambda"
	"github.com/thaw-dev/thaw/lambda/lambdatest"
	"github.com/thaw-dev/thaw/lambda/noderuntime"
)

func TestInstall(t *testing.T) {
	lambdatest.CheckInstall(t, noderuntime.Install, noderuntime.FileName, noderuntime.Script())
}

func TestCommand(t *testing.T) {
	name, args := noderuntime.Command("/rt/bootstrap.mjs")
	if name != "node" || len(args) != 1 || args[0] != "/rt/bootstrap.mjs" {
		t.Errorf("Command(%q) = %q, %q, want \"node\", [\"/rt/bootstrap.mjs\"]", "/rt/bootstrap.mjs", name, args)
	}
}

func TestScriptIsValidJavaScript(t *testing.T) {
	requireNode(t)
	path, err := noderuntime.Install(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("node", "--check", path).CombinedOutput(); err != nil {
		t.Fatalf("node --check %s: %v\n%s", path, err, out)
	}
}

func requireNode(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not in PATH")
	}
}

// nodeFunction is a nodejs function whose code is testdata/dir.
func nodeFunction(t *testing.T, name, dir, handler string) lambda.Function {
	t.Helper()
	return lambdatest.TestdataFunction(t, lambda.RuntimeNodeJS, name, dir, handler)
}

// startEmulator serves fns; it skips the test when node is not in PATH.
func startEmulator(t *testing.T, fns ...lambda.Function) *lambdatest.Emulator {
	t.Helper()
	requireNode(t)
	return lambdatest.Start(t, fns...)
}

// nodeError is the error shape of Lambda's Node runtime.
type nodeError struct {
	ErrorType    string   `json:"errorType"`
	ErrorMessage string   `json:"errorMessage"`
	Trace        []string `json:"trace"`
}

func TestHandlersSucceed(t *testing.T) {
	tests := []struct {
		name    string
		dir     string
		handler string
		want    string // the exact response body
	}{
		{"commonjs-async", "commonjs", "index.nested.deeper.handler", `"nested"`},
		{"commonjs-subdirectory", "commonjs", "lib/app.handler", `{"from":"lib/app.js","event":{"n":1}}`},
		{"mjs", "esm", "index.nested.handler", `"esm nested"`},
		{"type-module-js", "typemodule", "src/app.handler", `{"module":"type-module","file":"app.js","event":{"n":1}}`},
		{"cjs", "cjsext", "index.handler", `{"module":"cjs","event":{"n":1}}`},
		{"sync-return-value-is-ignored", "commonjs", "index.sync", `null`},
		{"callback", "commonjs", "index.callback", `{"via":"callback","event":{"n":1}}`},
		{"callback-waits-for-empty-event-loop", "commonjs", "index.callbackPendingTimer", `{"timerRan":true}`},
		{"callback-does-not-wait", "commonjs", "index.callbackNoWait", `{"timerRan":false}`},
		{"context-succeed", "commonjs", "index.contextSucceed", `{"via":"succeed"}`},
	}
	var fns []lambda.Function
	for _, tt := range tests {
		fns = append(fns, nodeFunction(t, tt.name, tt.dir, tt.handler))
	}
	e := startEmulator(t, fns...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for i := range 2 { // cold, then warm
				if got := e.InvokeBody(tt.name, `{"n":1}`); string(got) != tt.want {
					t.Errorf("invocation %d of %s (%s) = %s, want %s", i+1, tt.handler, tt.dir, got, tt.want)
				}
			}
		})
	}
}

func TestContext(t *testing.T) {
	e := startEmulator(t, nodeFunction(t, "echo", "commonjs", "index.echo"))
	r := e.Invoke("echo", `{"hello":"world"}`)
	if r.Status != http.StatusOK || r.FunctionError() != "" {
		t.Fatalf("invoke echo = %d %s (function error %q), want success", r.Status, r.Body, r.FunctionError())
	}
	var got map[string]any
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatalf("echo answered %s: %v", r.Body, err)
	}
	want := map[string]any{
		"awsRequestId":                   r.RequestID(),
		"functionName":                   "echo",
		"functionVersion":                "$LATEST",
		"memoryLimitInMB":                "512", // a string, as on Lambda
		"logGroupName":                   "/aws/lambda/echo",
		"callbackWaitsForEmptyEventLoop": true,
		"invocations":                    float64(1),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("context %s = %v, want %v", k, got[k], v)
		}
	}
	if ev, _ := json.Marshal(got["event"]); string(ev) != `{"hello":"world"}` {
		t.Errorf("event = %s, want {\"hello\":\"world\"}", ev)
	}
	if arn, _ := got["invokedFunctionArn"].(string); !strings.HasSuffix(arn, ":function:echo") {
		t.Errorf("invokedFunctionArn = %q, want an ARN ending in :function:echo", arn)
	}
	if ms, _ := got["remainingTimeInMillis"].(float64); ms <= 0 || ms > 10000 {
		t.Errorf("getRemainingTimeInMillis() = %v, want within (0, 10000]", got["remainingTimeInMillis"])
	}
	if trace, _ := got["traceId"].(string); !strings.HasPrefix(trace, "Root=") {
		t.Errorf("_X_AMZN_TRACE_ID = %q, want the Lambda-Runtime-Trace-Id header", trace)
	}
	if stream, _ := got["logStreamName"].(string); stream == "" {
		t.Error("logStreamName is empty")
	}
}

func TestFunctionErrors(t *testing.T) {
	tests := []struct {
		handler     string
		wantType    string
		wantMessage string
		wantTrace   bool
	}{
		{"index.throws", "Error", "sync boom", true},
		{"index.rejects", "ValidationError", "async boom", true},
		{"index.callbackError", "TypeError", "bad input", true},
		{"index.callbackString", "string", "plain string failure", false},
		{"index.contextFail", "Error", "failed via context.fail", true},
		{"index.rejectsUndefined", "string", "handled", false},
		{"index.neverSettles", "Runtime.NodeJsExit", "The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes", true},
		{"index.circular", "Error", "Unable to stringify response body", true},
	}
	handlers := make([]string, len(tests))
	for i, tt := range tests {
		handlers[i] = tt.handler
	}
	e := startCommonJSHandlers(t, handlers)
	for _, tt := range tests {
		t.Run(handlerFunction(tt.handler), func(t *testing.T) {
			t.Parallel()
			for i := range 2 { // the environment survives a function error
				r := e.Invoke(handlerFunction(tt.handler), `{}`)
				var got nodeError
				if err := json.Unmarshal(r.Body, &got); err != nil {
					t.Fatalf("invoke %s = %d %s: not an error object: %v", tt.handler, r.Status, r.Body, err)
				}
				if r.Status != http.StatusOK || r.FunctionError() != "Unhandled" {
					t.Errorf("invoke %s = %d with X-Amz-Function-Error %q, want 200 and Unhandled", tt.handler, r.Status, r.FunctionError())
				}
				if got.ErrorType != tt.wantType || got.ErrorMessage != tt.wantMessage {
					t.Errorf("invocation %d of %s = %s: %q, want %s: %q", i+1, tt.handler, got.ErrorType, got.ErrorMessage, tt.wantType, tt.wantMessage)
				}
				if tt.wantTrace && (len(got.Trace) < 2 || !strings.HasPrefix(got.Trace[0], tt.wantType)) {
					t.Errorf("trace of %s = %q, want the stack's lines starting with %q", tt.handler, got.Trace, tt.wantType)
				}
				if !tt.wantTrace && got.Trace == nil {
					t.Errorf("trace of %s is missing, want []", tt.handler)
				}
			}
			if live := lambdatest.Live(e.Environments(), handlerFunction(tt.handler)); len(live) != 1 {
				t.Errorf("%s has %d live environments after two function errors, want 1 (reused)", tt.handler, len(live))
			}
		})
	}
}

func TestInitErrors(t *testing.T) {
	tests := []struct {
		name        string
		dir         string
		handler     string
		wantType    string
		wantMessage string // a prefix of errorMessage
	}{
		{"missing-module", "commonjs", "missing.handler", "Runtime.ImportModuleError", "Error: Cannot find module 'missing'"},
		{"missing-dependency", "importerror", "index.handler", "Runtime.ImportModuleError", "Error: Cannot find module 'thaw-no-such-package'"},
		// As on Lambda, ESM resolution failures are not wrapped.
		{"missing-dependency-esm", "importerror-esm", "index.handler", "Error", "Cannot find package 'thaw-no-such-package'"},
		{"syntax-error", "syntaxerror", "index.handler", "Runtime.UserCodeSyntaxError", "SyntaxError: "},
		{"throws-while-loading", "initthrow", "index.handler", "ConfigError", "DATABASE_URL is not set"},
		{"missing-export", "commonjs", "index.nope", "Runtime.HandlerNotFound", "index.nope is undefined or not exported"},
		{"not-a-function", "commonjs", "index.notAFunction", "Runtime.HandlerNotFound", "index.notAFunction is not a function"},
		{"no-dot", "commonjs", "index", "Runtime.MalformedHandlerName", "Bad handler"},
		{"parent-directory", "commonjs", "../commonjs/index.echo", "Runtime.MalformedHandlerName", "'../commonjs/index.echo' is not a valid handler name"},
	}
	var fns []lambda.Function
	for _, tt := range tests {
		fns = append(fns, nodeFunction(t, tt.name, tt.dir, tt.handler))
	}
	e := startEmulator(t, fns...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := e.Invoke(tt.name, `{}`)
			var got nodeError
			if err := json.Unmarshal(r.Body, &got); err != nil {
				t.Fatalf("invoke %s = %d %s: not an error object: %v", tt.handler, r.Status, r.Body, err)
			}
			if r.FunctionError() == "" {
				t.Errorf("invoke %s: X-Amz-Function-Error is empty, want a function error", tt.handler)
			}
			if got.ErrorType != tt.wantType || !strings.HasPrefix(got.ErrorMessage, tt.wantMessage) {
				t.Errorf("init error of %s (%s) = %s: %q, want %s: %q...", tt.handler, tt.dir, got.ErrorType, got.ErrorMessage, tt.wantType, tt.wantMessage)
			}
			// Lambda's Node runtime logs init failures as an uncaught exception
			// before any request id exists.
			e.WaitForLog(tt.name, regexp.MustCompile(`\tundefined\tERROR\tUncaught Exception \t\{"errorType":"`+regexp.QuoteMeta(tt.wantType)+`"`))
		})
	}
}

func TestCrashReportsAndRestarts(t *testing.T) {
	tests := []struct {
		handler     string
		wantType    string
		wantMessage string
		wantLog     string
	}{
		{"index.uncaught", "Error", "thrown from a timer", "Uncaught Exception"},
		{"index.unhandledRejection", "Runtime.UnhandledPromiseRejection", "Error: nobody handles me", "Unhandled Promise Rejection"},
	}
	handlers := make([]string, len(tests))
	for i, tt := range tests {
		handlers[i] = tt.handler
	}
	e := startCommonJSHandlers(t, handlers)
	for _, tt := range tests {
		t.Run(handlerFunction(tt.handler), func(t *testing.T) {
			t.Parallel()
			pids := map[int]bool{}
			for i := range 2 {
				r := e.Invoke(handlerFunction(tt.handler), `{}`)
				var got nodeError
				if err := json.Unmarshal(r.Body, &got); err != nil {
					t.Fatalf("invoke %s = %d %s: not an error object: %v", tt.handler, r.Status, r.Body, err)
				}
				if r.FunctionError() != "Unhandled" || got.ErrorType != tt.wantType || got.ErrorMessage != tt.wantMessage {
					t.Errorf("invocation %d of %s = %q %s: %q, want Unhandled %s: %q", i+1, tt.handler, r.FunctionError(), got.ErrorType, got.ErrorMessage, tt.wantType, tt.wantMessage)
				}
				e.WaitForLog(handlerFunction(tt.handler), regexp.MustCompile(regexp.QuoteMeta(r.RequestID())+`\tERROR\t`+tt.wantLog+` \t\{`))
				lambdatest.WaitFor(t, "the crashed environment to end", func() bool { return len(lambdatest.Live(e.Environments(), handlerFunction(tt.handler))) == 0 })
				for _, env := range e.Environments() {
					if env.Function == handlerFunction(tt.handler) {
						pids[env.Pid] = true
					}
				}
			}
			if len(pids) != 2 {
				t.Errorf("%s ran in %d processes over two crashing invocations, want 2 (each crash ends its environment)", tt.handler, len(pids))
			}
		})
	}
}

func TestWarmEnvironmentKeepsState(t *testing.T) {
	e := startEmulator(t, nodeFunction(t, "counter", "commonjs", "index.counter"))
	for want := 1; want <= 3; want++ {
		if got := string(e.InvokeBody("counter", `{}`)); got != strconv.Itoa(want) {
			t.Errorf("invocation %d of counter = %s, want %d", want, got, want)
		}
	}
	if live := lambdatest.Live(e.Environments(), "counter"); len(live) != 1 || live[0].Invocations != 3 {
		t.Errorf("environments of counter = %+v, want one that served 3 invocations", live)
	}
}

func TestConsoleFormat(t *testing.T) {
	e := startEmulator(t,
		nodeFunction(t, "logs", "commonjs", "index.logs"),
		nodeFunction(t, "esm", "esm", "index.handler"),
	)
	r := e.Invoke("logs", `{}`)
	if r.Status != http.StatusOK || r.FunctionError() != "" || string(r.Body) != `"logged"` {
		t.Fatalf("invoke logs = %d %s (function error %q), want \"logged\"", r.Status, r.Body, r.FunctionError())
	}
	record := func(level, message string) *regexp.Regexp {
		return regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t` + regexp.QuoteMeta(r.RequestID()) + `\t` + level + `\t` + message + `\n`)
	}
	log := e.WaitForLog("logs", record("INFO", `line one\rline two`))
	for _, want := range []*regexp.Regexp{
		record("INFO", `log formatted 42`),
		record("INFO", `info \{ a: 1 \}`),
		record("WARN", `warn`),
		record("ERROR", `error Error: logged error\r    at `+`[^\n]*`),
		record("DEBUG", `debug`),
		record("TRACE", `trace`),
	} {
		if !want.MatchString(log) {
			t.Errorf("log of logs does not match %q:\n%s", want, log)
		}
	}

	e.InvokeBody("esm", `{}`)
	e.WaitForLog("esm", regexp.MustCompile(`Z\tundefined\tINFO\tesm module loaded\n`))
}

// TestTimersStopWhileFrozen is the seed's experiment: a background counter
// advances only while an invocation runs.
func TestTimersStopWhileFrozen(t *testing.T) {
	e := startEmulator(t, nodeFunction(t, "ticker", "ticker", "index.handler"))
	var reply struct {
		WallMs float64 `json:"wallMs"`
		Ticks  float64 `json:"ticks"`
		Pid    int     `json:"pid"`
	}
	pids := map[int]bool{}
	for i := range 4 {
		if i > 0 {
			time.Sleep(700 * time.Millisecond)
		}
		if err := json.Unmarshal(e.InvokeBody("ticker", `{}`), &reply); err != nil {
			t.Fatal(err)
		}
		pids[reply.Pid] = true
	}
	// Free-running, the 100 ms interval would have ticked about wallMs/100
	// times; frozen between invocations it ticks about once per invocation.
	if free := reply.WallMs / 100; reply.Ticks > free/2 {
		t.Errorf("after %.0f ms the background counter is %.0f, want at most half of the %.0f ticks of a free-running process", reply.WallMs, reply.Ticks, free)
	}
	if len(pids) != 1 {
		t.Errorf("ticker ran in %d processes, want 1 reused environment", len(pids))
	}
}

// handlerFunction names the function that runs an index.* handler.
func handlerFunction(handler string) string { return strings.TrimPrefix(handler, "index.") }

// startCommonJSHandlers starts one emulator with a function per handler of
// testdata/commonjs, each named by handlerFunction.
func startCommonJSHandlers(t *testing.T, handlers []string) *lambdatest.Emulator {
	t.Helper()
	fns := make([]lambda.Function, 0, len(handlers))
	for _, h := range handlers {
		fns = append(fns, nodeFunction(t, handlerFunction(h), "commonjs", h))
	}
	return startEmulator(t, fns...)
}
