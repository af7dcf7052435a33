package lambda_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/google/go-cmp/cmp"

	"github.com/thaw-dev/thaw/lambda"
	"github.com/thaw-dev/thaw/lambda/sandbox"
)

// These tests drive the emulator with the official AWS SDK for Go v2 Lambda
// client, unmodified apart from its endpoint: what a user's own code or
// integration tests would do.

// sdkClient returns an AWS SDK Lambda client for the harness's emulator, with
// static dummy credentials (the emulator does not check signatures).
func sdkClient(h *harness, optFns ...func(*awslambda.Options)) *awslambda.Client {
	return awslambda.New(awslambda.Options{
		BaseEndpoint: aws.String("http://" + h.emu.Addr()),
		Region:       "us-east-1",
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDTHAWTEST", SecretAccessKey: "thaw-test-secret", Source: "thaw tests"}, nil
		}),
	}, optFns...)
}

// startSDKEmulator starts the harness's emulator and, after its cleanup has
// closed it, checks that no cgroup of these functions remains.
func startSDKEmulator(t *testing.T, fns ...lambda.Function) *harness {
	t.Helper()
	t.Cleanup(func() { // registered first, so it runs after the harness's Close
		for _, f := range fns {
			for _, pattern := range []string{"/sys/fs/cgroup/*/thaw/%s-*@%d-*", "/sys/fs/cgroup/thaw/%s-*@%d-*"} {
				if left, _ := filepath.Glob(fmt.Sprintf(pattern, f.Name, os.Getpid())); len(left) > 0 {
					t.Errorf("cgroups of %s left after Close: %v", f.Name, left)
				}
			}
		}
	})
	return startEmulator(t, sandbox.ModeAuto, fns...)
}

// nodeEchoFunction is a Node.js function whose handler returns the event and
// what its context says (lambda/noderuntime/testdata/commonjs, index.echo).
func nodeEchoFunction(t *testing.T, name string) lambda.Function {
	t.Helper()
	sdkSkipWithoutNode(t)
	return lambda.Function{Name: name, Runtime: lambda.RuntimeNodeJS, Code: "noderuntime/testdata/commonjs", Handler: "index.echo"}
}

func sdkSkipWithoutNode(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not in PATH")
	}
}

func TestAWSSDKInvokeRequestResponse(t *testing.T) {
	h := startSDKEmulator(t, goFunction(t, "fn", nil))
	client := sdkClient(h)
	out, err := client.Invoke(t.Context(), &awslambda.InvokeInput{
		FunctionName: aws.String("fn"),
		Payload:      []byte(`{"action":"echo","text":"through the SDK"}`),
		LogType:      lambdatypes.LogTypeTail,
	})
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if out.StatusCode != 200 || out.FunctionError != nil {
		t.Fatalf("Invoke = status %d, function error %v, payload %q; want 200 and no function error", out.StatusCode, aws.ToString(out.FunctionError), out.Payload)
	}
	var reply struct {
		RequestID string `json:"request_id"`
		Pid       int    `json:"pid"`
		Echo      string `json:"echo"`
	}
	if err := json.Unmarshal(out.Payload, &reply); err != nil {
		t.Fatalf("Invoke payload %q: %v", out.Payload, err)
	}
	h.pids[reply.Pid] = true
	if reply.Echo != "through the SDK" {
		t.Errorf("Invoke echo = %q, want %q", reply.Echo, "through the SDK")
	}
	if got := aws.ToString(out.ExecutedVersion); got != "$LATEST" {
		t.Errorf("ExecutedVersion = %q, want %q", got, "$LATEST")
	}
	requestID, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	if requestID == "" || requestID != reply.RequestID {
		t.Errorf("SDK request id = %q, function saw %q; want the same non-empty id", requestID, reply.RequestID)
	}
	tail, err := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	if err != nil {
		t.Fatalf("LogResult %q is not base64: %v", aws.ToString(out.LogResult), err)
	}
	// The function's own line ("echo through the SDK") is not checked: the
	// emulator may read it from the runtime's stdout pipe only after the
	// response, so it can miss the tail (a known emulator bug).
	for _, want := range []string{"START RequestId: " + requestID, "END RequestId: " + requestID, "REPORT RequestId: " + requestID} {
		if !strings.Contains(string(tail), want) {
			t.Errorf("LogResult lacks %q:\n%s", want, tail)
		}
	}

	// Without LogType the SDK gets no log.
	out, err = client.Invoke(t.Context(), &awslambda.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{}`)})
	if err != nil {
		t.Fatalf("second Invoke: %v", err)
	}
	if out.LogResult != nil {
		t.Errorf("LogResult without LogType: Tail = %q, want none", aws.ToString(out.LogResult))
	}
}

func TestAWSSDKFunctionError(t *testing.T) {
	h := startSDKEmulator(t, goFunction(t, "fn", nil))
	out, err := sdkClient(h).Invoke(t.Context(), &awslambda.InvokeInput{
		FunctionName: aws.String("fn"),
		Payload:      []byte(`{"action":"fail","text":"boom"}`),
	})
	if err != nil {
		t.Fatalf("Invoke of a failing function: %v; want no error (a function error is a 200 answer)", err)
	}
	if out.StatusCode != 200 || aws.ToString(out.FunctionError) != "Unhandled" {
		t.Fatalf("Invoke = status %d, function error %q; want 200 and %q", out.StatusCode, aws.ToString(out.FunctionError), "Unhandled")
	}
	var payload struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if err := json.Unmarshal(out.Payload, &payload); err != nil {
		t.Fatalf("error payload %q: %v", out.Payload, err)
	}
	if !strings.Contains(payload.ErrorMessage, "boom") || payload.ErrorType == "" {
		t.Errorf("error payload = %+v, want an errorType and an errorMessage mentioning boom", payload)
	}
}

func TestAWSSDKEventInvocation(t *testing.T) {
	h := startSDKEmulator(t, goFunction(t, "fn", nil))
	out, err := sdkClient(h).Invoke(t.Context(), &awslambda.InvokeInput{
		FunctionName:   aws.String("fn"),
		InvocationType: lambdatypes.InvocationTypeEvent,
		Payload:        []byte(`{"action":"echo","text":"queued by the SDK"}`),
	})
	if err != nil {
		t.Fatalf("Invoke Event: %v", err)
	}
	if out.StatusCode != 202 || len(out.Payload) != 0 {
		t.Errorf("Invoke Event = status %d, payload %q; want 202 and no payload", out.StatusCode, out.Payload)
	}
	// The function's output may reach the log just after the REPORT line,
	// so wait for both.
	waitFor(t, "the event to run", func() bool {
		log := h.log("fn")
		return strings.Contains(log, "REPORT RequestId") && strings.Contains(log, "echo queued by the SDK")
	})
}

func TestAWSSDKDryRun(t *testing.T) {
	h := startSDKEmulator(t, goFunction(t, "fn", nil))
	out, err := sdkClient(h).Invoke(t.Context(), &awslambda.InvokeInput{
		FunctionName:   aws.String("fn"),
		InvocationType: lambdatypes.InvocationTypeDryRun,
	})
	if err != nil {
		t.Fatalf("Invoke DryRun: %v", err)
	}
	if out.StatusCode != 204 {
		t.Errorf("Invoke DryRun status = %d, want 204", out.StatusCode)
	}
	if live := h.live(); len(live) != 0 {
		t.Errorf("a dry run started environments: %+v", live)
	}
}

func TestAWSSDKUnknownFunction(t *testing.T) {
	h := startSDKEmulator(t, goFunction(t, "fn", nil))
	_, err := sdkClient(h).Invoke(t.Context(), &awslambda.InvokeInput{FunctionName: aws.String("no-such-function"), Payload: []byte(`{}`)})
	var notFound *lambdatypes.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Fatalf("Invoke of an unknown function: error %v (%T), want *types.ResourceNotFoundException", err, err)
	}
	if msg := aws.ToString(notFound.Message); !strings.Contains(msg, "no-such-function") {
		t.Errorf("ResourceNotFoundException message = %q, want it to name the function", msg)
	}
}

func TestAWSSDKTooManyRequests(t *testing.T) {
	h := startSDKEmulator(t, goFunction(t, "fn", func(f *lambda.Function) { f.Concurrency = 1 }))
	// The SDK retries throttling errors by default; with retries the test
	// would only see the error after several back-offs, or not at all.
	client := sdkClient(h, func(o *awslambda.Options) { o.Retryer = aws.NopRetryer{} })

	sleeping := make(chan error, 1)
	go func() {
		out, err := client.Invoke(context.Background(), &awslambda.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{"action":"sleep","ms":1500}`)})
		if err == nil && out.FunctionError != nil {
			err = errors.New("function error " + aws.ToString(out.FunctionError) + ": " + string(out.Payload))
		}
		sleeping <- err
	}()
	waitFor(t, "the only environment to be busy", func() bool {
		live := h.live()
		return len(live) == 1 && live[0].State == lambda.StateRunning && live[0].Invocations == 1
	})
	h.pids[h.live()[0].Pid] = true

	_, err := client.Invoke(t.Context(), &awslambda.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{}`)})
	var throttled *lambdatypes.TooManyRequestsException
	if !errors.As(err, &throttled) {
		t.Fatalf("Invoke beyond the concurrency limit: error %v (%T), want *types.TooManyRequestsException", err, err)
	}
	if throttled.Reason != lambdatypes.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded {
		t.Errorf("TooManyRequestsException reason = %q, want %q", throttled.Reason, lambdatypes.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded)
	}
	if aws.ToString(throttled.RetryAfterSeconds) == "" {
		t.Errorf("TooManyRequestsException has no RetryAfterSeconds")
	}
	if err := <-sleeping; err != nil {
		t.Errorf("the invocation in flight failed: %v", err)
	}
}

func TestAWSSDKClientContext(t *testing.T) {
	h := startSDKEmulator(t, nodeEchoFunction(t, "node"))
	clientContext := base64.StdEncoding.EncodeToString([]byte(`{"custom":{"k":"v"}}`))
	out, err := sdkClient(h).Invoke(t.Context(), &awslambda.InvokeInput{
		FunctionName:  aws.String("node"),
		ClientContext: aws.String(clientContext),
		Payload:       []byte(`{"hello":"node"}`),
	})
	if err != nil {
		t.Fatalf("Invoke with a client context: %v", err)
	}
	if out.FunctionError != nil {
		t.Fatalf("Invoke = function error %q: %s", aws.ToString(out.FunctionError), out.Payload)
	}
	var reply struct {
		Event         map[string]any `json:"event"`
		ClientContext map[string]any `json:"clientContext"`
	}
	if err := json.Unmarshal(out.Payload, &reply); err != nil {
		t.Fatalf("Invoke payload %q: %v", out.Payload, err)
	}
	if diff := cmp.Diff(map[string]any{"custom": map[string]any{"k": "v"}}, reply.ClientContext); diff != "" {
		t.Errorf("context.clientContext in the handler (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"hello": "node"}, reply.Event); diff != "" {
		t.Errorf("event in the handler (-want +got):\n%s", diff)
	}
	for _, env := range h.live() {
		h.pids[env.Pid] = true
	}
}

func TestAWSSDKFunctionNameForms(t *testing.T) {
	h := startSDKEmulator(t, goFunction(t, "fn", nil))
	client := sdkClient(h)
	tests := []struct {
		name      string
		function  string
		qualifier string
	}{
		{"name", "fn", ""},
		{"name with $LATEST", "fn:$LATEST", ""},
		{"qualifier parameter", "fn", "$LATEST"},
		{"ARN", "arn:aws:lambda:us-east-1:000000000000:function:fn", ""},
		{"ARN with $LATEST", "arn:aws:lambda:us-east-1:000000000000:function:fn:$LATEST", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &awslambda.InvokeInput{FunctionName: aws.String(tt.function), Payload: []byte(`{"action":"echo","text":"named"}`)}
			if tt.qualifier != "" {
				in.Qualifier = aws.String(tt.qualifier)
			}
			out, err := client.Invoke(t.Context(), in)
			if err != nil {
				t.Fatalf("Invoke(%q, qualifier %q): %v", tt.function, tt.qualifier, err)
			}
			if out.StatusCode != 200 || out.FunctionError != nil || !strings.Contains(string(out.Payload), `"echo":"named"`) {
				t.Errorf("Invoke(%q, qualifier %q) = %d %q, want 200 and the function's echo", tt.function, tt.qualifier, out.StatusCode, out.Payload)
			}
		})
	}
	for _, env := range h.live() {
		h.pids[env.Pid] = true
	}
}
