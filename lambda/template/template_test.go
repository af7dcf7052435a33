package template_test

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/thaw-dev/thaw/lambda"
	"github.com/thaw-dev/thaw/lambda/lambdatest"
	"github.com/thaw-dev/thaw/lambda/template"
)

// ignoreUnexported leaves out what lambda.Start fills in (the emulator's
// own settings copied into each function), which a template never sets.
var ignoreUnexported = cmpopts.IgnoreUnexported(lambda.Function{})

// testdata returns the absolute path of a file under testdata.
func testdata(t *testing.T, name string) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func load(t *testing.T, name string) *template.Template {
	t.Helper()
	tmpl, err := template.Load(testdata(t, name))
	if err != nil {
		t.Fatalf("Load(%q): %v", name, err)
	}
	return tmpl
}

func TestTemplateSAMWithGlobals(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	got := load(t, "sam-globals.yaml")
	want := []lambda.Function{
		{
			Name: "NodeFunction", Runtime: lambda.RuntimeNodeJS, Code: testdata(t, "functions/node"), Handler: "index.handler",
			MemoryMB: 256, Timeout: 5 * time.Second, Concurrency: 2,
			Env: map[string]string{"STAGE": "dev", "SHARED": "overridden"},
		},
		{
			Name: "PyFunction", Runtime: lambda.RuntimePython, Code: testdata(t, "functions/py"), Handler: "app.handler",
			MemoryMB: 512, Timeout: 10 * time.Second,
			Env: map[string]string{
				"STAGE":  "dev",
				"SHARED": "from-globals",
				"TABLE":  "Table", // Ref of a resource is its logical id
				"URL":    "https://eu-west-1.example.com/dev",
			},
		},
	}
	if diff := cmp.Diff(want, got.Functions, ignoreUnexported); diff != "" {
		t.Errorf("Load(sam-globals.yaml) functions (-want +got):\n%s", diff)
	}
	wantWarnings := []string{"PyFunction: environment variable TABLE_ARN left out: its value needs a deployed stack"}
	if diff := cmp.Diff(wantWarnings, got.Warnings); diff != "" {
		t.Errorf("Load(sam-globals.yaml) warnings (-want +got):\n%s", diff)
	}
}

func TestTemplatePlainCloudFormation(t *testing.T) {
	got := load(t, "cfn-plain.json")
	want := []lambda.Function{{
		Name: "Plain", Runtime: lambda.RuntimePython, Code: testdata(t, "functions/py"), Handler: "app.handler",
		MemoryMB: 1024, Timeout: 30 * time.Second,
		Env: map[string]string{"STAGE": "plain-000000000000", "DEBUG": "1"},
	}}
	if diff := cmp.Diff(want, got.Functions, ignoreUnexported); diff != "" {
		t.Errorf("Load(cfn-plain.json) functions (-want +got):\n%s", diff)
	}
	if len(got.Warnings) != 0 {
		t.Errorf("Load(cfn-plain.json) warnings = %q, want none", got.Warnings)
	}
}

func TestTemplateIntrinsics(t *testing.T) {
	t.Setenv("AWS_REGION", "ap-south-1")
	got := load(t, "intrinsics.yaml")
	want := []lambda.Function{{
		Name: "Worker", Runtime: lambda.RuntimePython, Code: testdata(t, "functions/py"), Handler: "app.handler",
		MemoryMB: 1024, Timeout: 7 * time.Second,
		Env: map[string]string{
			"GREETING": "hello prod in ap-south-1",
			"LITERAL":  "${NotAVariable}",
			"QUEUE":    "Queue",
			"ZONE":     "b",
		},
	}}
	if diff := cmp.Diff(want, got.Functions, ignoreUnexported); diff != "" {
		t.Errorf("Load(intrinsics.yaml) functions (-want +got):\n%s", diff)
	}
	for _, name := range []string{"API_KEY", "QUEUE_URL"} {
		if !strings.Contains(strings.Join(got.Warnings, "\n"), "environment variable "+name+" left out") {
			t.Errorf("Load(intrinsics.yaml) warnings = %q, want one about %s", got.Warnings, name)
		}
	}
}

func TestTemplateRejectsWhatThawCannotRun(t *testing.T) {
	_, err := template.Load(testdata(t, "bad-properties.yaml"))
	if err == nil {
		t.Fatal("Load(bad-properties.yaml) succeeded, want errors")
	}
	tests := []struct {
		resource string
		property string
		sentinel error
		reason   string // a part of the message
	}{
		{"JavaFunction", "Runtime", template.ErrUnsupported, "java21 is not supported"},
		{"ImageFunction", "PackageType", template.ErrUnsupported, "container images"},
		{"S3Function", "CodeUri", template.ErrUnsupported, "s3://my-bucket/code.zip is in S3"},
		{"S3LocationFunction", "CodeUri", template.ErrUnsupported, "code in S3"},
		{"LayeredFunction", "Layers", template.ErrUnsupported, "layer:deps:3"},
		{"InlineFunction", "Code.ZipFile", template.ErrUnsupported, "inline code"},
		{"S3CodeFunction", "Code.S3Bucket", template.ErrUnsupported, "code in S3"},
		{"NoHandlerFunction", "Handler", template.ErrInvalid, "required for nodejs22.x"},
		{"ThrottledFunction", "ReservedConcurrentExecutions", template.ErrUnsupported, "0 throttles"},
		{"MissingCodeFunction", "CodeUri", template.ErrInvalid, "no such file or directory"},
	}
	var found []*template.PropertyError
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var pe *template.PropertyError
		if !errors.As(e, &pe) {
			t.Errorf("error %v is not a *template.PropertyError", e)
			continue
		}
		found = append(found, pe)
	}
	for _, tt := range tests {
		t.Run(tt.resource, func(t *testing.T) {
			for _, pe := range found {
				if pe.Resource != tt.resource {
					continue
				}
				if pe.Property != tt.property || !errors.Is(pe, tt.sentinel) || !strings.Contains(pe.Error(), tt.reason) {
					t.Errorf("error for %s = %v (property %s), want property %s, %v, mentioning %q", tt.resource, pe, pe.Property, tt.property, tt.sentinel, tt.reason)
				}
				if !strings.HasPrefix(pe.Error(), "template: "+tt.resource+": "+tt.property+": ") {
					t.Errorf("message %q does not start with the resource and the property", pe.Error())
				}
				return
			}
			t.Errorf("no error names %s; errors:\n%v", tt.resource, err)
		})
	}
	if len(found) != len(tests) {
		t.Errorf("Load(bad-properties.yaml) reported %d errors, want %d, one per function:\n%v", len(found), len(tests), err)
	}
}

func TestTemplateInvalid(t *testing.T) {
	tests := []struct {
		name string
		path string
		want string
	}{
		{"no functions", testdata(t, "no-functions.yaml"), "no AWS::Serverless::Function or AWS::Lambda::Function resources"},
		{"missing file", testdata(t, "nope.yaml"), "no such file"},
		{"not YAML", testdata(t, "functions/node/index.mjs"), "invalid YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := template.Load(tt.path)
			if !errors.Is(err, template.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load(%q) = %v, want ErrInvalid mentioning %q", tt.path, err, tt.want)
			}
		})
	}
}

// TestTemplateServesFunctions serves the two functions of one SAM template,
// one Node.js and one Python, and invokes each by its logical id.
func TestTemplateServesFunctions(t *testing.T) {
	for _, program := range []string{"node", "python3"} {
		if _, err := exec.LookPath(program); err != nil {
			t.Skipf("%s is not in PATH", program)
		}
	}
	tmpl := load(t, "sam-globals.yaml")
	emu := lambdatest.Start(t, tmpl.Functions...)
	emu.ExpectNoSurvivors()
	client := &http.Client{Timeout: 30 * time.Second}
	tests := []struct {
		function string
		runtime  string // prefix of the reported runtime
		memory   string
		shared   string
	}{
		{"PyFunction", "python3.", "512", "from-globals"},
		{"NodeFunction", "node", "256", "overridden"},
	}
	for _, tt := range tests {
		t.Run(tt.function, func(t *testing.T) {
			var reply struct {
				Runtime  string         `json:"runtime"`
				Function string         `json:"function"`
				Memory   string         `json:"memory"`
				Stage    string         `json:"stage"`
				Shared   string         `json:"shared"`
				Event    map[string]any `json:"event"`
			}
			lambdatest.InvokeOK(t, client, emu.Addr(), tt.function, `{"via":"template"}`, &reply)
			if !strings.HasPrefix(reply.Runtime, tt.runtime) || reply.Function != tt.function || reply.Memory != tt.memory ||
				reply.Stage != "dev" || reply.Shared != tt.shared || reply.Event["via"] != "template" {
				t.Errorf("invoke %s = %+v, want runtime %s*, function %s, memory %s, STAGE dev, SHARED %s and the event", tt.function, reply, tt.runtime, tt.function, tt.memory, tt.shared)
			}
		})
	}
	if r := lambdatest.Invoke(t, client, emu.Addr(), "Table", `{}`); r.Status != http.StatusNotFound {
		t.Errorf("invoke Table (not a function) = %d, want 404", r.Status)
	}
}

func TestTemplateProvidedRuntimes(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"bootstrap", "hello"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	yaml := `Resources:
  Al2023:
    Type: AWS::Serverless::Function
    Properties: {Runtime: provided.al2023, Handler: bootstrap, CodeUri: .}
  Al2:
    Type: AWS::Lambda::Function
    Properties: {Runtime: provided.al2, Handler: whatever, Code: .}
  GoOne:
    Type: AWS::Serverless::Function
    Properties: {Runtime: go1.x, Handler: hello, CodeUri: .}
`
	got, err := template.Parse([]byte(yaml), dir, false)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := []lambda.Function{
		{Name: "Al2", Runtime: lambda.RuntimeProvided, Code: dir, Handler: "whatever"},
		{Name: "Al2023", Runtime: lambda.RuntimeProvided, Code: dir, Handler: "bootstrap"},
		// go1.x runs the executable its handler names, not a bootstrap.
		{Name: "GoOne", Runtime: lambda.RuntimeProvided, Code: filepath.Join(dir, "hello"), Handler: "hello"},
	}
	if diff := cmp.Diff(want, got.Functions, ignoreUnexported); diff != "" {
		t.Errorf("Parse functions (-want +got):\n%s", diff)
	}
}
