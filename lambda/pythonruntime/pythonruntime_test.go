package pythonruntime_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/lambda"
	"github.com/thaw-dev/thaw/lambda/lambdatest"
	"github.com/thaw-dev/thaw/lambda/pythonruntime"
)

func TestPythonInstall(t *testing.T) {
	lambdatest.CheckInstall(t, pythonruntime.Install, pythonruntime.FileName, pythonruntime.Script())
}

func TestPythonCommand(t *testing.T) {
	name, args := pythonruntime.Command("/rt/bootstrap.py")
	if name != "python3" || len(args) != 2 || args[0] != "-B" || args[1] != "/rt/bootstrap.py" {
		t.Errorf("Command(%q) = %q, %q, want \"python3\", [\"-B\", \"/rt/bootstrap.py\"]", "/rt/bootstrap.py", name, args)
	}
}

func TestPythonScriptCompiles(t *testing.T) {
	requirePython(t)
	path, err := pythonruntime.Install(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	check := "import sys; compile(open(sys.argv[1]).read(), sys.argv[1], 'exec')"
	if out, err := exec.Command("python3", "-B", "-c", check, path).CombinedOutput(); err != nil {
		t.Fatalf("python3 cannot compile %s: %v\n%s", path, err, out)
	}
}

func requirePython(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not in PATH")
	}
}

// pythonFunction is a python function whose code is testdata/dir.
func pythonFunction(t *testing.T, name, dir, handler string) lambda.Function {
	t.Helper()
	return lambdatest.TestdataFunction(t, lambda.RuntimePython, name, dir, handler)
}

// startEmulator serves fns and, at the end of the test, closes the emulator
// and checks that none of its runtime processes survive; it skips the test
// when python3 is not in PATH.
func startEmulator(t *testing.T, fns ...lambda.Function) *lambdatest.Emulator {
	t.Helper()
	requirePython(t)
	e := lambdatest.Start(t, fns...)
	e.ExpectNoSurvivors()
	return e
}

// pythonError is the error shape of Lambda's Python runtime.
type pythonError struct {
	ErrorMessage string   `json:"errorMessage"`
	ErrorType    string   `json:"errorType"`
	RequestID    string   `json:"requestId"`
	StackTrace   []string `json:"stackTrace"`
}

func decodeError(t *testing.T, r lambdatest.Response) pythonError {
	t.Helper()
	var got pythonError
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatalf("answer %d %s is not an error object: %v", r.Status, r.Body, err)
	}
	if got.StackTrace == nil {
		t.Errorf("error %s has no stackTrace list, want one (possibly empty)", r.Body)
	}
	return got
}

func TestPythonHandlersSucceed(t *testing.T) {
	tests := []struct {
		name    string
		handler string
		want    string // the exact response body
	}{
		{"package-directory", "pkg/nested.handler", `{"module": "pkg.nested", "event": {"n": 1}}`},
		{"decimals-and-unicode", "app.decimals", `{"int": 3, "float": 1.5, "text": "héllo"}`},
		{"bytes-as-they-are", "app.returns_bytes", `raw bytes`},
		{"none-is-null", "app.returns_none", `null`},
		{"counter-keeps-module-state", "app.counter", ``}, // checked below
	}
	var fns []lambda.Function
	for _, tt := range tests {
		fns = append(fns, pythonFunction(t, tt.name, "handlers", tt.handler))
	}
	e := startEmulator(t, fns...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for i := range 2 { // cold, then warm
				want := tt.want
				if tt.handler == "app.counter" {
					want = strconv.Itoa(i + 1)
				}
				if got := e.InvokeBody(tt.name, `{"n": 1}`); string(got) != want {
					t.Errorf("invocation %d of %s = %s, want %s", i+1, tt.handler, got, want)
				}
			}
		})
	}
}

func TestPythonContext(t *testing.T) {
	code, _ := filepath.Abs("testdata/handlers")
	e := startEmulator(t, pythonFunction(t, "echo", "handlers", "app.echo"))
	clientContext := base64.StdEncoding.EncodeToString([]byte(`{"custom":{"k":"v"},"env":{"platform":"test"}}`))
	const trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	r := e.Invoke("echo", `{"hello":"world"}`, "X-Amz-Client-Context", clientContext, "X-Amzn-Trace-Id", trace)
	if r.Status != http.StatusOK || r.FunctionError() != "" {
		t.Fatalf("invoke echo = %d %s (function error %q), want success", r.Status, r.Body, r.FunctionError())
	}
	var got map[string]any
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatalf("echo answered %s: %v", r.Body, err)
	}
	want := map[string]any{
		"aws_request_id":      r.Header.Get("X-Amzn-Requestid"),
		"function_name":       "echo",
		"function_version":    "$LATEST",
		"memory_limit_in_mb":  "512", // a string, as on Lambda
		"log_group_name":      "/aws/lambda/echo",
		"invocations":         float64(1),
		"sys_path_0":          code,
		"cognito_identity_id": nil,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("context %s = %v, want %v", k, got[k], v)
		}
	}
	if ev, _ := json.Marshal(got["event"]); string(ev) != `{"hello":"world"}` {
		t.Errorf("event = %s, want {\"hello\":\"world\"}", ev)
	}
	if cc, _ := json.Marshal(got["client_context"]); string(cc) != `{"custom":{"k":"v"},"env":{"platform":"test"}}` {
		t.Errorf("client_context = %s, want custom and env from X-Amz-Client-Context", cc)
	}
	if arn, _ := got["invoked_function_arn"].(string); !strings.HasSuffix(arn, ":function:echo") {
		t.Errorf("invoked_function_arn = %q, want an ARN ending in :function:echo", arn)
	}
	if ms, _ := got["remaining_ms"].(float64); ms <= 0 || ms > 10000 {
		t.Errorf("get_remaining_time_in_millis() = %v, want within (0, 10000]", got["remaining_ms"])
	}
	if got["trace_id"] != trace {
		t.Errorf("_X_AMZN_TRACE_ID = %v, want the caller's X-Amzn-Trace-Id %s", got["trace_id"], trace)
	}
	if stream, _ := got["log_stream_name"].(string); stream == "" {
		t.Error("log_stream_name is empty")
	}
	if env, _ := got["execution_env"].(string); !regexp.MustCompile(`^AWS_Lambda_python3\.\d+$`).MatchString(env) {
		t.Errorf("AWS_EXECUTION_ENV = %q, want AWS_Lambda_python3.N", env)
	}
}

func TestPythonFunctionErrors(t *testing.T) {
	tests := []struct {
		handler     string
		wantType    string
		wantMessage string
		wantFrames  []string // in order, each in one stackTrace element; nil: empty trace
	}{
		{"app.raises", "ValidationError", "bad input: x", []string{"app.py\", line 52, in raises\n    raise ValidationError("}},
		{"app.raises_in_helper", "KeyError", "'missing'", []string{", in raises_in_helper\n", ", in _helper\n"}},
		{"app.async_raises", "ValueError", "async boom", []string{"app.py\", line 65, in async_raises\n"}}, // no asyncio frames
		{"app.not_callable", "TypeError", "'int' object is not callable", []string{"bootstrap.py"}},
		{"app.not_serializable", "Runtime.MarshalError", "Unable to marshal response: Object of type object is not JSON serializable", nil},
	}
	var fns []lambda.Function
	for _, tt := range tests {
		fns = append(fns, pythonFunction(t, handlerFunction(tt.handler), "handlers", tt.handler))
	}
	e := startEmulator(t, fns...)
	for _, tt := range tests {
		t.Run(handlerFunction(tt.handler), func(t *testing.T) {
			t.Parallel()
			for i := range 2 { // the environment survives a function error
				r := e.Invoke(handlerFunction(tt.handler), `{"field": "x"}`)
				got := decodeError(t, r)
				if r.Status != http.StatusOK || r.FunctionError() != "Unhandled" {
					t.Errorf("invoke %s = %d with X-Amz-Function-Error %q, want 200 and Unhandled", tt.handler, r.Status, r.FunctionError())
				}
				if got.ErrorType != tt.wantType || got.ErrorMessage != tt.wantMessage {
					t.Errorf("invocation %d of %s = %s: %q, want %s: %q", i+1, tt.handler, got.ErrorType, got.ErrorMessage, tt.wantType, tt.wantMessage)
				}
				if got.RequestID != r.Header.Get("X-Amzn-Requestid") {
					t.Errorf("requestId of %s = %q, want %q", tt.handler, got.RequestID, r.Header.Get("X-Amzn-Requestid"))
				}
				if len(got.StackTrace) != len(tt.wantFrames) {
					t.Fatalf("stackTrace of %s = %q, want %d frames", tt.handler, got.StackTrace, len(tt.wantFrames))
				}
				for j, frame := range tt.wantFrames {
					if !strings.Contains(got.StackTrace[j], frame) || !strings.HasPrefix(got.StackTrace[j], `  File "`) {
						t.Errorf("stackTrace[%d] of %s = %q, want a traceback entry containing %q", j, tt.handler, got.StackTrace[j], frame)
					}
				}
			}
			if live := lambdatest.Live(e.Environments(), handlerFunction(tt.handler)); len(live) != 1 {
				t.Errorf("%s has %d live environments after two function errors, want 1 (reused)", tt.handler, len(live))
			}
			if tt.handler == "app.raises" {
				// The error is logged as one record, lines joined by '\r' and
				// indented with no-break spaces, as Lambda's runtime does.
				e.WaitForLog("raises", regexp.MustCompile(`\t\[ERROR\] ValidationError: bad input: x\rTraceback \(most recent call last\):\r\x{00a0}\x{00a0}File "[^"]*app\.py", line 52, in raises\r\x{00a0}{4}raise ValidationError\(`))
			}
		})
	}
}

func TestPythonInitErrors(t *testing.T) {
	tests := []struct {
		name        string
		dir         string
		handler     string
		wantType    string
		wantMessage string // a prefix of errorMessage
		wantTrace   bool
	}{
		{"missing-module", "handlers", "missing.handler", "Runtime.ImportModuleError", "Unable to import module 'missing': No module named 'missing'", false},
		{"missing-dependency", "importerror", "app.handler", "Runtime.ImportModuleError", "Unable to import module 'app': No module named 'thaw_no_such_package'", false},
		{"syntax-error", "syntaxerror", "app.handler", "Runtime.UserCodeSyntaxError", "Syntax error in module 'app': ", true},
		{"raises-while-importing", "initraise", "app.handler", "ConfigError", "DATABASE_URL is not set", true},
		{"missing-function", "handlers", "app.nope", "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'app'", false},
		{"no-dot", "handlers", "app", "Runtime.MalformedHandlerName", "Bad handler 'app': ", false},
		{"built-in-module", "handlers", "sys.handler", "Runtime.BuiltInModuleConflict", "Cannot use built-in module sys as a handler module", false},
	}
	var fns []lambda.Function
	for _, tt := range tests {
		fns = append(fns, pythonFunction(t, tt.name, tt.dir, tt.handler))
	}
	e := startEmulator(t, fns...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := e.Invoke(tt.name, `{}`)
			got := decodeError(t, r)
			if r.FunctionError() == "" {
				t.Errorf("invoke %s: X-Amz-Function-Error is empty, want a function error", tt.handler)
			}
			if got.ErrorType != tt.wantType || !strings.HasPrefix(got.ErrorMessage, tt.wantMessage) {
				t.Errorf("init error of %s (%s) = %s: %q, want %s: %q...", tt.handler, tt.dir, got.ErrorType, got.ErrorMessage, tt.wantType, tt.wantMessage)
			}
			if tt.wantTrace != (len(got.StackTrace) > 0) {
				t.Errorf("stackTrace of %s = %q, want a trace: %v", tt.handler, got.StackTrace, tt.wantTrace)
			}
			// Logged before any request id exists.
			e.WaitForLog(tt.name, regexp.MustCompile(`\t\[ERROR\] `+regexp.QuoteMeta(tt.wantType)+`: `))
			lambdatest.WaitFor(t, "the failed environment to end", func() bool {
				return len(lambdatest.Live(e.Environments(), tt.name)) == 0
			})
		})
	}
}

func TestPythonExitEndsTheEnvironment(t *testing.T) {
	e := startEmulator(t, pythonFunction(t, "exits", "handlers", "app.exits"))
	r := e.Invoke("exits", `{}`)
	got := decodeErrorLoose(t, r)
	if r.FunctionError() != "Unhandled" || got.ErrorType != "Runtime.ExitError" || !strings.Contains(got.ErrorMessage, "exit status 3") {
		t.Errorf("invoke of sys.exit(3) = %q %s: %q, want Unhandled Runtime.ExitError with exit status 3", r.FunctionError(), got.ErrorType, got.ErrorMessage)
	}
}

// decodeErrorLoose decodes an error the emulator made (no stackTrace).
func decodeErrorLoose(t *testing.T, r lambdatest.Response) pythonError {
	t.Helper()
	var got pythonError
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatalf("answer %d %s is not an error object: %v", r.Status, r.Body, err)
	}
	return got
}

func TestPythonAsyncHandlersShareOneEventLoop(t *testing.T) {
	e := startEmulator(t,
		pythonFunction(t, "async", "handlers", "app.async_handler"),
		pythonFunction(t, "loop", "handlers", "app.same_loop"),
	)
	var got struct {
		Async       bool    `json:"async"`
		RemainingMs float64 `json:"remaining_ms"`
	}
	if err := json.Unmarshal(e.InvokeBody("async", `{}`), &got); err != nil {
		t.Fatal(err)
	}
	if !got.Async || got.RemainingMs <= 0 || got.RemainingMs > 10000 {
		t.Errorf("async handler answered %+v, want async true and remaining_ms within (0, 10000]", got)
	}
	var loops struct {
		Loops       int `json:"loops"`
		Invocations int `json:"invocations"`
	}
	for range 3 {
		if err := json.Unmarshal(e.InvokeBody("loop", `{}`), &loops); err != nil {
			t.Fatal(err)
		}
	}
	if loops.Loops != 1 || loops.Invocations != 3 {
		t.Errorf("after 3 invocations the handler saw %d event loops in %d invocations, want 1 loop in 3", loops.Loops, loops.Invocations)
	}
}

func TestPythonLogFormat(t *testing.T) {
	e := startEmulator(t, pythonFunction(t, "logs", "handlers", "app.logs"))
	r := e.Invoke("logs", `{}`)
	if r.Status != http.StatusOK || r.FunctionError() != "" || string(r.Body) != `"logged"` {
		t.Fatalf("invoke logs = %d %s (function error %q), want \"logged\"", r.Status, r.Body, r.FunctionError())
	}
	id := regexp.QuoteMeta(r.Header.Get("X-Amzn-Requestid"))
	// thaw's log file prefixes each line with its own time, request id and
	// environment id; the text after that is the function's own.
	line := func(text string) *regexp.Regexp {
		return regexp.MustCompile(`(?m)\t` + id + `\t[0-9a-f]+\t` + text + `$`)
	}
	record := func(level, message string) *regexp.Regexp {
		return line(`\[` + level + `\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t` + id + `\t` + message)
	}
	log := e.WaitForLog("logs", regexp.MustCompile(`END RequestId: `+id))
	for _, want := range []*regexp.Regexp{
		line(`printed line`),
		line(`two`),
		line(`lines`),
		record("WARNING", `warned 42`),
		record("INFO", `info after setLevel`),
		record("ERROR", `an error`),
		line(`to stderr`),
		line(`via context.log`),
	} {
		if !want.MatchString(log) {
			t.Errorf("log of logs does not match %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "dropped") {
		t.Errorf("logger.info at the default WARNING level was logged:\n%s", log)
	}
}

// TestPythonTimersStopWhileFrozen is the seed's experiment in Python: a
// background thread's counter advances only while an invocation runs.
func TestPythonTimersStopWhileFrozen(t *testing.T) {
	e := startEmulator(t, pythonFunction(t, "ticker", "ticker", "ticker.handler"))
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
	// Free-running, the 100 ms sleep loop would have ticked about wallMs/100
	// times; frozen between invocations it ticks a few times per invocation.
	if free := reply.WallMs / 100; reply.Ticks > free/2 {
		t.Errorf("after %.0f ms the background counter is %.0f, want at most half of the %.0f ticks of a free-running process", reply.WallMs, reply.Ticks, free)
	}
	if len(pids) != 1 {
		t.Errorf("ticker ran in %d processes, want 1 reused environment", len(pids))
	}
}

// runtimeRequest is one request the bootstrap made to the scripted Runtime
// API of TestPythonWireProtocol.
type runtimeRequest struct {
	method, path string
	header       http.Header
	body         []byte
}

// TestPythonWireProtocol runs the bootstrap against a scripted Runtime API to
// check what only the wire shows: the Lambda-Runtime-Function-Error-Type
// header of an error, and a Lambda-Runtime-Cognito-Identity header (which
// thaw's Invoke API has no way to send) reaching context.identity.
func TestPythonWireProtocol(t *testing.T) {
	requirePython(t)
	events := []struct {
		handler string
		header  http.Header
	}{
		{"raises", http.Header{}},
		{"echo", http.Header{"Lambda-Runtime-Cognito-Identity": {`{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}`}}},
	}
	var (
		mu       sync.Mutex
		requests []runtimeRequest
		served   int
	)
	done := make(chan struct{})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		requests = append(requests, runtimeRequest{r.Method, r.URL.Path, r.Header.Clone(), body})
		n := served
		if r.URL.Path == "/2018-06-01/runtime/invocation/next" {
			served++
		}
		mu.Unlock()
		if r.URL.Path != "/2018-06-01/runtime/invocation/next" {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		if n >= len(events) {
			close(done)
			<-r.Context().Done() // the runtime waits here until it is killed
			return
		}
		for k, v := range events[n].header {
			w.Header()[k] = v
		}
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", fmt.Sprintf("req-%d", n))
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"field": "y"}`)
	}))
	defer api.Close()

	script, err := pythonruntime.Install(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// One function serves both events: a wrapper module calls app.raises,
	// then app.echo.
	code, _ := filepath.Abs("testdata/handlers")
	wrapper := t.TempDir()
	if err := os.WriteFile(filepath.Join(wrapper, "wire.py"), []byte("import app\n"+
		"_calls = [app.raises, app.echo]\n"+
		"def handler(event, context):\n"+
		"    return _calls.pop(0)(event, context)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	name, args := pythonruntime.Command(script)
	cmd := exec.Command(name, args...)
	cmd.Dir = wrapper
	cmd.Env = append(os.Environ(),
		"AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(api.URL, "http://"),
		"LAMBDA_TASK_ROOT="+wrapper,
		"_HANDLER=wire.handler",
		"PYTHONPATH="+code,
	)
	// A file, not a buffer: the process writes it directly, with no
	// goroutine of ours copying while the test reads.
	out, err := os.Create(filepath.Join(t.TempDir(), "output"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	select {
	case <-done:
	case <-time.After(lambdatest.WaitTimeout):
		output, _ := os.ReadFile(out.Name())
		t.Fatalf("the bootstrap did not ask for a third event; output:\n%s", output)
	}

	mu.Lock()
	defer mu.Unlock()
	var errorPost, responsePost *runtimeRequest
	for i := range requests {
		switch requests[i].path {
		case "/2018-06-01/runtime/invocation/req-0/error":
			errorPost = &requests[i]
		case "/2018-06-01/runtime/invocation/req-1/response":
			responsePost = &requests[i]
		}
	}
	if errorPost == nil || responsePost == nil {
		t.Fatalf("requests = %v, want an error post for req-0 and a response post for req-1", requests)
	}
	if got := errorPost.header.Get("Lambda-Runtime-Function-Error-Type"); got != "ValidationError" {
		t.Errorf("Lambda-Runtime-Function-Error-Type = %q, want ValidationError", got)
	}
	var reply map[string]any
	if err := json.Unmarshal(responsePost.body, &reply); err != nil {
		t.Fatalf("response %s: %v", responsePost.body, err)
	}
	if reply["cognito_identity_id"] != "id-1" {
		t.Errorf("context.identity.cognito_identity_id = %v, want id-1 from Lambda-Runtime-Cognito-Identity", reply["cognito_identity_id"])
	}
	if _, ok := reply["trace_id"]; !ok || reply["trace_id"] != nil {
		t.Errorf("_X_AMZN_TRACE_ID = %v without a Lambda-Runtime-Trace-Id header, want it unset", reply["trace_id"])
	}
	output, _ := os.ReadFile(out.Name())
	scanner := bufio.NewScanner(bytes.NewReader(output))
	for scanner.Scan() {
		if strings.HasPrefix(scanner.Text(), "thaw-bootstrap:") {
			t.Errorf("the bootstrap reported a problem: %s", scanner.Text())
		}
	}
}

// handlerFunction names the function that runs an app.* handler.
func handlerFunction(handler string) string {
	return strings.ReplaceAll(strings.TrimPrefix(handler, "app."), "_", "-")
}

func TestPythonInterpreterIsAbsolute(t *testing.T) {
	requirePython(t)
	dir := t.TempDir()
	path := pythonruntime.Interpreter(dir)
	if !filepath.IsAbs(path) {
		t.Fatalf("Interpreter(%q) = %q, want an absolute path", dir, path)
	}
	out, err := exec.Command(path, "-c", "import sys; print(sys.version_info[0])").Output()
	if err != nil || strings.TrimSpace(string(out)) != "3" {
		t.Errorf("%s reports major version %q (%v), want 3", path, out, err)
	}
	if again := pythonruntime.Interpreter(dir); again != path {
		t.Errorf("second Interpreter(%q) = %q, want the cached %q", dir, again, path)
	}
}
