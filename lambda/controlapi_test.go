package lambda_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/thaw-dev/thaw/lambda"
	"github.com/thaw-dev/thaw/lambda/sandbox"
)

// These tests drive the read side of the control API with the AWS SDK for Go
// v2 and the AWS CLI, as a user inspecting `thaw lambda` would.

// codeModified is the modification time given to the test functions' code,
// so that LastModified is known.
var codeModified = time.Date(2024, 5, 1, 9, 30, 0, 123e6, time.UTC)

// providedFunction is a provided function whose code is a directory holding
// an executable bootstrap of the given content. It is never invoked: the
// control API only reads it.
func providedFunction(t *testing.T, name, bootstrap string, edit func(*lambda.Function)) lambda.Function {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "bootstrap")
	if err := os.WriteFile(path, []byte(bootstrap), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, codeModified, codeModified); err != nil {
		t.Fatal(err)
	}
	f := lambda.Function{Name: name, Runtime: lambda.RuntimeProvided, Code: dir, Handler: "bootstrap"}
	if edit != nil {
		edit(&f)
	}
	return f
}

// startControlEmulator starts an emulator with fns that no test invokes.
func startControlEmulator(t *testing.T, fns ...lambda.Function) *harness {
	t.Helper()
	return startEmulator(t, sandbox.ModeAuto, fns...)
}

func TestControlAPIListFunctionsPages(t *testing.T) {
	names := []string{"delta", "alpha", "echo", "charlie", "bravo"} // listed sorted by name
	var fns []lambda.Function
	for _, name := range names {
		fns = append(fns, providedFunction(t, name, "#!/bin/sh\n", nil))
	}
	h := startControlEmulator(t, fns...)
	client := sdkClient(h)

	// By hand: MaxItems and Marker.
	var got []string
	var pageSizes []int
	var marker *string
	for range len(names) + 1 {
		out, err := client.ListFunctions(t.Context(), &awslambda.ListFunctionsInput{MaxItems: aws.Int32(2), Marker: marker})
		if err != nil {
			t.Fatalf("ListFunctions(MaxItems 2, Marker %q): %v", aws.ToString(marker), err)
		}
		pageSizes = append(pageSizes, len(out.Functions))
		for _, f := range out.Functions {
			got = append(got, aws.ToString(f.FunctionName))
		}
		if marker = out.NextMarker; marker == nil {
			break
		}
	}
	want := []string{"alpha", "bravo", "charlie", "delta", "echo"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("functions over all pages (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{2, 2, 1}, pageSizes); diff != "" {
		t.Errorf("page sizes with MaxItems 2 (-want +got):\n%s", diff)
	}

	// With the SDK's paginator, as user code would list.
	got = nil
	pages := awslambda.NewListFunctionsPaginator(client, &awslambda.ListFunctionsInput{}, func(o *awslambda.ListFunctionsPaginatorOptions) { o.Limit = 3 })
	for pages.HasMorePages() {
		page, err := pages.NextPage(t.Context())
		if err != nil {
			t.Fatalf("ListFunctions paginator: %v", err)
		}
		for _, f := range page.Functions {
			got = append(got, aws.ToString(f.FunctionName))
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("functions from the paginator (-want +got):\n%s", diff)
	}

	// One page by default; FunctionVersion ALL lists the same ($LATEST only).
	for _, in := range []*awslambda.ListFunctionsInput{{}, {FunctionVersion: lambdatypes.FunctionVersionAll}} {
		out, err := client.ListFunctions(t.Context(), in)
		if err != nil {
			t.Fatalf("ListFunctions(FunctionVersion %q): %v", in.FunctionVersion, err)
		}
		if len(out.Functions) != len(names) || out.NextMarker != nil {
			t.Errorf("ListFunctions(FunctionVersion %q) = %d functions, NextMarker %v; want %d and none", in.FunctionVersion, len(out.Functions), out.NextMarker, len(names))
		}
	}
}

func TestControlAPIListFunctionsInvalidParameters(t *testing.T) {
	h := startControlEmulator(t, providedFunction(t, "fn", "#!/bin/sh\n", nil))
	for _, query := range []string{"MaxItems=0", "MaxItems=10001", "MaxItems=two", "FunctionVersion=7"} {
		t.Run(query, func(t *testing.T) {
			resp := rawRequest(t, h, http.MethodGet, "/2015-03-31/functions?"+query)
			assertAWSError(t, resp, http.StatusBadRequest, "InvalidParameterValueException")
		})
	}
}

func TestControlAPIGetFunctionConfiguration(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-3")
	bootstrap := "#!/bin/sh\necho configured\n"
	f := providedFunction(t, "configured", bootstrap, func(f *lambda.Function) {
		f.MemoryMB = 256
		f.Timeout = 1500 * time.Millisecond // Lambda counts whole seconds: 2
		f.Concurrency = 4
		f.Env = map[string]string{"GREETING": "hello", "MODE": "test"}
	})
	h := startControlEmulator(t, f)
	client := sdkClient(h)
	arn := "arn:aws:lambda:eu-west-3:000000000000:function:configured"

	out, err := client.GetFunctionConfiguration(t.Context(), &awslambda.GetFunctionConfigurationInput{FunctionName: aws.String("configured")})
	if err != nil {
		t.Fatalf("GetFunctionConfiguration: %v", err)
	}
	got := configurationSummary(out.FunctionName, out.FunctionArn, out.Runtime, out.Handler, out.Role, out.CodeSize, out.Timeout, out.MemorySize,
		out.LastModified, out.Version, out.State, out.LastUpdateStatus, out.PackageType, out.Architectures, out.EphemeralStorage, out.Environment)
	want := configSummary{
		FunctionName: "configured", FunctionArn: arn, Runtime: "provided.al2023", Handler: "bootstrap",
		Role: "arn:aws:iam::000000000000:role/thaw-local", CodeSize: int64(len(bootstrap)), Timeout: 2, MemorySize: 256,
		LastModified: "2024-05-01T09:30:00.123+0000", Version: "$LATEST", State: "Active", LastUpdateStatus: "Successful",
		PackageType: "Zip", Architectures: []string{wantArchitecture()}, EphemeralStorageMB: 512,
		Environment: map[string]string{"GREETING": "hello", "MODE": "test"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetFunctionConfiguration(configured) (-want +got):\n%s", diff)
	}
	sha := aws.ToString(out.CodeSha256)
	if !regexp.MustCompile(`^[A-Za-z0-9+/]{43}=$`).MatchString(sha) {
		t.Errorf("CodeSha256 = %q, want the base64 of a SHA-256", sha)
	}
	if aws.ToString(out.RevisionId) == "" {
		t.Errorf("RevisionId is empty")
	}

	// The other forms of the name, and only $LATEST.
	for _, tt := range []struct {
		function, qualifier string
		found               bool
	}{
		{"configured", "$LATEST", true},
		{"configured:$LATEST", "", true},
		{arn, "", true},
		{"000000000000:function:configured", "", true},
		{"configured", "1", false},
		{arn + ":prod", "", false},
	} {
		in := &awslambda.GetFunctionConfigurationInput{FunctionName: aws.String(tt.function)}
		if tt.qualifier != "" {
			in.Qualifier = aws.String(tt.qualifier)
		}
		out, err := client.GetFunctionConfiguration(t.Context(), in)
		var notFound *lambdatypes.ResourceNotFoundException
		switch {
		case tt.found && err != nil:
			t.Errorf("GetFunctionConfiguration(%q, qualifier %q): %v", tt.function, tt.qualifier, err)
		case tt.found && aws.ToString(out.FunctionName) != "configured":
			t.Errorf("GetFunctionConfiguration(%q, qualifier %q).FunctionName = %q, want %q", tt.function, tt.qualifier, aws.ToString(out.FunctionName), "configured")
		case !tt.found && !errors.As(err, &notFound):
			t.Errorf("GetFunctionConfiguration(%q, qualifier %q): error %v (%T), want *types.ResourceNotFoundException", tt.function, tt.qualifier, err, err)
		}
	}

	// Editing the code shows: a new size, hash and LastModified.
	later := codeModified.Add(time.Hour)
	path := filepath.Join(f.Code, "bootstrap")
	if err := os.WriteFile(path, []byte(bootstrap+"# edited\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	edited, err := client.GetFunctionConfiguration(t.Context(), &awslambda.GetFunctionConfigurationInput{FunctionName: aws.String("configured")})
	if err != nil {
		t.Fatalf("GetFunctionConfiguration after an edit: %v", err)
	}
	if aws.ToString(edited.CodeSha256) == sha || edited.CodeSize != int64(len(bootstrap+"# edited\n")) || aws.ToString(edited.LastModified) != "2024-05-01T10:30:00.123+0000" {
		t.Errorf("after an edit: CodeSha256 %q (was %q), CodeSize %d, LastModified %q; want a new hash, %d and %q",
			aws.ToString(edited.CodeSha256), sha, edited.CodeSize, aws.ToString(edited.LastModified), len(bootstrap+"# edited\n"), "2024-05-01T10:30:00.123+0000")
	}
}

func TestControlAPIGetFunction(t *testing.T) {
	f := providedFunction(t, "fn", "#!/bin/sh\n", func(f *lambda.Function) { f.Concurrency = 3 })
	h := startControlEmulator(t, f)
	client := sdkClient(h)
	out, err := client.GetFunction(t.Context(), &awslambda.GetFunctionInput{FunctionName: aws.String("fn")})
	if err != nil {
		t.Fatalf("GetFunction: %v", err)
	}
	config, err := client.GetFunctionConfiguration(t.Context(), &awslambda.GetFunctionConfigurationInput{FunctionName: aws.String("fn")})
	if err != nil {
		t.Fatalf("GetFunctionConfiguration: %v", err)
	}
	if out.Configuration == nil {
		t.Fatalf("GetFunction(fn).Configuration is missing")
	}
	// The same FunctionConfiguration as GetFunctionConfiguration's.
	if diff := cmp.Diff(config.FunctionArn, out.Configuration.FunctionArn); diff != "" {
		t.Errorf("GetFunction(fn).Configuration.FunctionArn (-GetFunctionConfiguration +GetFunction):\n%s", diff)
	}
	if aws.ToString(out.Configuration.CodeSha256) != aws.ToString(config.CodeSha256) || aws.ToString(out.Configuration.RevisionId) != aws.ToString(config.RevisionId) {
		t.Errorf("GetFunction(fn).Configuration = CodeSha256 %q RevisionId %q, GetFunctionConfiguration says %q and %q",
			aws.ToString(out.Configuration.CodeSha256), aws.ToString(out.Configuration.RevisionId), aws.ToString(config.CodeSha256), aws.ToString(config.RevisionId))
	}
	if out.Code == nil || aws.ToString(out.Code.RepositoryType) != "S3" || aws.ToString(out.Code.Location) != "file://"+f.Code {
		t.Errorf("GetFunction(fn).Code = %+v, want RepositoryType S3 and Location %q", out.Code, "file://"+f.Code)
	}
	if out.Concurrency == nil || aws.ToInt32(out.Concurrency.ReservedConcurrentExecutions) != 3 {
		t.Errorf("GetFunction(fn).Concurrency = %+v, want ReservedConcurrentExecutions 3", out.Concurrency)
	}
}

func TestControlAPIGetAccountSettings(t *testing.T) {
	h := startControlEmulator(t,
		providedFunction(t, "one", "#!/bin/sh\n", func(f *lambda.Function) { f.Concurrency = 5 }),
		providedFunction(t, "two", "#!/bin/sh\nexit 0\n", nil), // the default concurrency, 10
	)
	out, err := sdkClient(h).GetAccountSettings(t.Context(), &awslambda.GetAccountSettingsInput{})
	if err != nil {
		t.Fatalf("GetAccountSettings: %v", err)
	}
	if out.AccountUsage == nil || out.AccountLimit == nil {
		t.Fatalf("GetAccountSettings = %+v, want AccountUsage and AccountLimit", out)
	}
	if got, want := *out.AccountUsage, (lambdatypes.AccountUsage{FunctionCount: 2, TotalCodeSize: int64(len("#!/bin/sh\n") + len("#!/bin/sh\nexit 0\n"))}); got != want {
		t.Errorf("AccountUsage = %+v, want %+v", got, want)
	}
	limit := out.AccountLimit
	if limit.ConcurrentExecutions != 1000 || aws.ToInt32(limit.UnreservedConcurrentExecutions) != 1000-15 || limit.TotalCodeSize <= 0 || limit.CodeSizeUnzipped <= 0 || limit.CodeSizeZipped <= 0 {
		t.Errorf("AccountLimit = ConcurrentExecutions %d, UnreservedConcurrentExecutions %d, TotalCodeSize %d, CodeSizeUnzipped %d, CodeSizeZipped %d; want 1000, 985 and positive sizes",
			limit.ConcurrentExecutions, aws.ToInt32(limit.UnreservedConcurrentExecutions), limit.TotalCodeSize, limit.CodeSizeUnzipped, limit.CodeSizeZipped)
	}
}

func TestControlAPIFunctionNotFound(t *testing.T) {
	h := startControlEmulator(t, providedFunction(t, "fn", "#!/bin/sh\n", nil))
	client := sdkClient(h)
	calls := map[string]func() error{
		"GetFunction": func() error {
			_, err := client.GetFunction(t.Context(), &awslambda.GetFunctionInput{FunctionName: aws.String("missing")})
			return err
		},
		"GetFunctionConfiguration": func() error {
			_, err := client.GetFunctionConfiguration(t.Context(), &awslambda.GetFunctionConfigurationInput{FunctionName: aws.String("missing")})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			var notFound *lambdatypes.ResourceNotFoundException
			if !errors.As(err, &notFound) {
				t.Fatalf("%s(missing): error %v (%T), want *types.ResourceNotFoundException", name, err, err)
			}
			if msg := aws.ToString(notFound.Message); !strings.Contains(msg, "function:missing") {
				t.Errorf("%s(missing) message = %q, want it to name the function's ARN", name, msg)
			}
			if got := aws.ToString(notFound.Type); got != "User" {
				t.Errorf("%s(missing) Type = %q, want %q", name, got, "User")
			}
		})
	}
}

func TestControlAPIUnknownOperation(t *testing.T) {
	h := startControlEmulator(t, providedFunction(t, "fn", "#!/bin/sh\n", nil))
	tests := []struct{ method, path string }{
		{http.MethodGet, "/"},
		{http.MethodGet, "/2015-03-31/nothing-here"},
		{http.MethodGet, "/2015-03-31/functions/fn/invocations"}, // Invoke is POST
		{http.MethodPost, "/2015-03-31/functions"},               // CreateFunction
		{http.MethodDelete, "/2015-03-31/functions/fn"},          // DeleteFunction
		{http.MethodPut, "/2016-08-19/account-settings"},
		{http.MethodGet, "/2015-03-31/functions/fn/aliases"}, // ListAliases
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			resp := rawRequest(t, h, tt.method, tt.path)
			assertAWSError(t, resp, http.StatusNotFound, "UnknownOperationException")
		})
	}

	// The SDK sees an API error with the code, not a deserialization failure.
	_, err := sdkClient(h).ListAliases(t.Context(), &awslambda.ListAliasesInput{FunctionName: aws.String("fn")})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "UnknownOperationException" {
		t.Fatalf("ListAliases: error %v (%T), want an API error with code UnknownOperationException", err, err)
	}
	if !strings.Contains(apiErr.ErrorMessage(), "ListFunctions") {
		t.Errorf("UnknownOperationException message = %q, want it to list the operations served", apiErr.ErrorMessage())
	}
}

func TestControlAPIRuntimeIdentifiers(t *testing.T) {
	fns := []lambda.Function{providedFunction(t, "provided", "#!/bin/sh\n", nil)}
	want := map[string]string{"provided": "provided.al2023"}
	if out, err := exec.Command("node", "-p", "process.versions.node.split('.')[0]").Output(); err == nil {
		fns = append(fns, nodeEchoFunction(t, "node"))
		want["node"] = "nodejs" + strings.TrimSpace(string(out)) + ".x"
	} else {
		t.Log("node is not in PATH: not checking the nodejs identifier")
	}
	if out, err := exec.Command("python3", "-c", `import sys; print("python%d.%d" % sys.version_info[:2])`).Output(); err == nil {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "app.py"), []byte("def handler(event, context):\n    return event\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		fns = append(fns, lambda.Function{Name: "python", Runtime: lambda.RuntimePython, Code: dir, Handler: "app.handler"})
		want["python"] = strings.TrimSpace(string(out))
	} else {
		t.Log("python3 is not in PATH: not checking the python identifier")
	}
	h := startControlEmulator(t, fns...)
	out, err := sdkClient(h).ListFunctions(t.Context(), &awslambda.ListFunctionsInput{})
	if err != nil {
		t.Fatalf("ListFunctions: %v", err)
	}
	got := map[string]string{}
	for _, f := range out.Functions {
		got[aws.ToString(f.FunctionName)] = string(f.Runtime)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Runtime by function (-want +got):\n%s", diff)
	}
}

func TestControlAPIAWSCLI(t *testing.T) {
	awsCLI, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("the AWS CLI (aws) is not in PATH; apt-get install awscli to run this test")
	}
	h := startControlEmulator(t,
		providedFunction(t, "alpha", "#!/bin/sh\n", nil),
		providedFunction(t, "bravo", "#!/bin/sh\n", nil),
	)
	home := t.TempDir()
	run := func(args ...string) (string, string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		args = append(args, "--endpoint-url", "http://"+h.emu.Addr(), "--no-sign-request", "--region", "us-east-1", "--output", "json")
		cmd := exec.CommandContext(ctx, awsCLI, args...)
		// No user configuration, credentials or pager can change the result.
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "AWS_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, "HOME="+home, "AWS_CONFIG_FILE="+filepath.Join(home, "config"),
			"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"), "AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true")
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}

	stdout, stderr, err := run("lambda", "list-functions")
	if err != nil {
		t.Fatalf("aws lambda list-functions: %v\n%s", err, stderr)
	}
	var list struct {
		Functions []struct {
			FunctionName, Runtime, Version string
		}
	}
	if err := json.Unmarshal([]byte(stdout), &list); err != nil {
		t.Fatalf("aws lambda list-functions printed %q: %v", stdout, err)
	}
	var names []string
	for _, f := range list.Functions {
		names = append(names, f.FunctionName)
		if f.Runtime != "provided.al2023" || f.Version != "$LATEST" {
			t.Errorf("aws lambda list-functions: %s has Runtime %q, Version %q; want provided.al2023 and $LATEST", f.FunctionName, f.Runtime, f.Version)
		}
	}
	if diff := cmp.Diff([]string{"alpha", "bravo"}, names); diff != "" {
		t.Errorf("aws lambda list-functions (-want +got):\n%s", diff)
	}

	// The CLI pages with MaxItems and Marker itself.
	stdout, stderr, err = run("lambda", "list-functions", "--page-size", "1")
	if err != nil || strings.Count(stdout, `"FunctionName"`) != 2 {
		t.Errorf("aws lambda list-functions --page-size 1 = %v, %q; want both functions\n%s", err, stdout, stderr)
	}

	for _, args := range [][]string{
		{"lambda", "get-function", "--function-name", "alpha"},
		{"lambda", "get-function-configuration", "--function-name", "bravo"},
		{"lambda", "get-account-settings"},
	} {
		stdout, stderr, err := run(args...)
		if err != nil || !json.Valid([]byte(stdout)) {
			t.Errorf("aws %s = %v, %q; want JSON\n%s", strings.Join(args, " "), err, stdout, stderr)
		}
	}

	_, stderr, err = run("lambda", "get-function", "--function-name", "missing")
	if err == nil || !strings.Contains(stderr, "ResourceNotFoundException") {
		t.Errorf("aws lambda get-function --function-name missing = %v, stderr %q; want a failure naming ResourceNotFoundException", err, stderr)
	}
}

// configSummary holds the FunctionConfiguration fields a test compares.
type configSummary struct {
	FunctionName, FunctionArn, Runtime, Handler, Role string
	CodeSize                                          int64
	Timeout, MemorySize                               int32
	LastModified, Version                             string
	State, LastUpdateStatus, PackageType              string
	Architectures                                     []string
	EphemeralStorageMB                                int32
	Environment                                       map[string]string
}

func configurationSummary(name, arn *string, runtime lambdatypes.Runtime, handler, role *string, codeSize int64, timeout, memory *int32,
	lastModified, version *string, state lambdatypes.State, lastUpdate lambdatypes.LastUpdateStatus, packageType lambdatypes.PackageType,
	archs []lambdatypes.Architecture, storage *lambdatypes.EphemeralStorage, env *lambdatypes.EnvironmentResponse) configSummary {
	s := configSummary{
		FunctionName: aws.ToString(name), FunctionArn: aws.ToString(arn), Runtime: string(runtime), Handler: aws.ToString(handler),
		Role: aws.ToString(role), CodeSize: codeSize, Timeout: aws.ToInt32(timeout), MemorySize: aws.ToInt32(memory),
		LastModified: aws.ToString(lastModified), Version: aws.ToString(version), State: string(state),
		LastUpdateStatus: string(lastUpdate), PackageType: string(packageType),
	}
	for _, a := range archs {
		s.Architectures = append(s.Architectures, string(a))
	}
	if storage != nil {
		s.EphemeralStorageMB = aws.ToInt32(storage.Size)
	}
	if env != nil {
		s.Environment = env.Variables
	}
	return s
}

func wantArchitecture() string {
	if out, err := exec.Command("uname", "-m").Output(); err == nil && strings.TrimSpace(string(out)) == "aarch64" {
		return "arm64"
	}
	return "x86_64"
}

type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

// rawRequest sends an unsigned request, as curl would.
func rawRequest(t *testing.T, h *harness, method, path string) rawResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, "http://"+h.emu.Addr()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: body}
}

// assertAWSError checks that resp is Lambda's JSON error shape: the status,
// X-Amzn-ErrorType, and a JSON body with Type "User" and a message.
func assertAWSError(t *testing.T, resp rawResponse, status int, errorType string) {
	t.Helper()
	if resp.status != status {
		t.Errorf("status = %d, want %d (body %q)", resp.status, status, resp.body)
	}
	if got := resp.header.Get("X-Amzn-ErrorType"); got != errorType {
		t.Errorf("X-Amzn-ErrorType = %q, want %q", got, errorType)
	}
	if got := resp.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	if resp.header.Get("X-Amzn-Requestid") == "" {
		t.Errorf("no X-Amzn-Requestid header")
	}
	var body struct {
		Type, Message string
	}
	if err := json.Unmarshal(resp.body, &body); err != nil {
		t.Fatalf("body %q is not JSON: %v", resp.body, err)
	}
	if body.Type != "User" || body.Message == "" {
		t.Errorf("body = %s, want Type %q and a message", resp.body, "User")
	}
}
