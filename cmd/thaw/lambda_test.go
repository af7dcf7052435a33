package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/lambda"
	"github.com/thaw-dev/thaw/lambda/lambdatest"
)

// runLambdaCmd runs `thaw lambda args...` in-process.
func runLambdaCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = runLambda(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestLambdaHelp(t *testing.T) {
	code, stdout, stderr := runLambdaCmd(t, "--help")
	if code != 0 {
		t.Fatalf("thaw lambda --help exited %d, want 0; stderr:\n%s", code, stderr)
	}
	help := stdout + stderr
	for _, want := range []string{"Usage: thaw lambda", "frozen", "--config", "-ready-file", "-freeze-mode"} {
		if !strings.Contains(help, want) {
			t.Errorf("thaw lambda --help lacks %q:\n%s", want, help)
		}
	}
}

func TestLambdaUsageErrors(t *testing.T) {
	dir := t.TempDir()
	code := filepath.Join(dir, "bootstrap")
	if err := os.WriteFile(code, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeConfig := func(name, yaml string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := writeConfig("good.yaml", "functions:\n  - {name: fn, runtime: provided, code: bootstrap}\n")
	unknownField := writeConfig("unknown.yaml", "functions:\n  - {name: fn, runtime: provided, code: bootstrap, colour: blue}\n")
	noFunctions := writeConfig("empty.yaml", "addr: 127.0.0.1:0\n")
	function := []string{"--function", "fn", "--runtime", "provided", "--code", code}
	badTemplate := writeConfig("template.yaml", "Resources:\n  JavaFn:\n    Type: AWS::Serverless::Function\n"+
		"    Properties: {Runtime: java21, Handler: a.B::handle, CodeUri: .}\n")

	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no flags", nil, "--function, --runtime and --code are required"},
		{"missing --function", []string{"--runtime", "provided", "--code", code}, "--function, --runtime and --code are required"},
		{"missing --code", []string{"--function", "fn", "--runtime", "provided"}, "--function, --runtime and --code are required"},
		{"bad --env", slices.Concat(function, []string{"--env", "NOEQUALS"}), `--env "NOEQUALS": want K=V`},
		{"empty --env key", slices.Concat(function, []string{"--env", "=v"}), `--env "=v": want K=V`},
		{"bad --freeze-mode", slices.Concat(function, []string{"--freeze-mode", "ice"}), `--freeze-mode "ice"`},
		{"bad --event-retry-delays", slices.Concat(function, []string{"--event-retry-delays", "1s,soon"}), `--event-retry-delays "1s,soon"`},
		{"zero --event-queue", slices.Concat(function, []string{"--event-queue", "0"}), "--event-queue"},
		{"bad --resume-order", slices.Concat(function, []string{"--resume-order", "later"}), `--resume-order: lambda: unknown resume order "later"`},
		{"bad --log-level", slices.Concat(function, []string{"--log-level", "loud"}), "--log-level"},
		{"unknown flag", slices.Concat(function, []string{"--colour", "blue"}), "flag provided but not defined: -colour"},
		{"extra argument", slices.Concat(function, []string{"extra"}), `unexpected argument "extra"`},
		{"unknown YAML field", []string{"--config", unknownField}, "field colour not found"},
		{"YAML without functions", []string{"--config", noFunctions}, "no functions"},
		{"missing config file", []string{"--config", filepath.Join(dir, "nope.yaml")}, "no such file"},
		{"--config with --function", []string{"--config", good, "--function", "fn"}, "--config and --function are exclusive"},
		{"unknown runtime", []string{"--function", "fn", "--runtime", "cobol", "--code", code}, "invalid function"},
		{"python without handler", []string{"--function", "fn", "--runtime", "python", "--code", dir}, "python needs a handler"},
		{"--template with --function", []string{"--template", badTemplate, "--function", "fn"}, "--template and --function are exclusive"},
		{"--template with --config", []string{"--template", badTemplate, "--config", good}, "--config and --template are exclusive"},
		{"template with java", []string{"--template", badTemplate}, "template: JavaFn: Runtime: java21 is not supported"},
		{"missing template", []string{"--template", filepath.Join(dir, "nope.yaml")}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, stdout, stderr := runLambdaCmd(t, tt.args...)
			if got != 2 {
				t.Errorf("thaw lambda %q exited %d, want 2; stdout %q, stderr:\n%s", tt.args, got, stdout, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("thaw lambda %q stderr = %q, want it to contain %q", tt.args, stderr, tt.want)
			}
		})
	}
}

// goBuild builds pkg into out with the go command, failing the test on error.
func goBuild(t *testing.T, out, pkg string) {
	t.Helper()
	if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

// stopWithSIGTERM sends p SIGTERM and waits up to 15 s for it to exit with
// status 0.
func (p *thawProcess) stopWithSIGTERM(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		t.Fatalf("thaw lambda still running 15 s after SIGTERM")
	}
	if p.err != nil {
		t.Errorf("thaw lambda after SIGTERM: %v, want exit status 0; stderr:\n%s", p.err, p.stderr.String())
	}
}

// thawProcess is a thaw process (lambda or serve) started by a test.
type thawProcess struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer // read only after exited is closed
	exited chan struct{}
	err    error // Wait's result, set before exited is closed
}

// startThawProcess starts the thaw binary with args and stops it at the end
// of the test: SIGTERM, then SIGKILL if it does not exit in time.
func startThawProcess(t *testing.T, bin string, args ...string) *thawProcess {
	t.Helper()
	p := &thawProcess{cmd: exec.Command(bin, args...), exited: make(chan struct{})}
	p.cmd.Stdout = io.Discard
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.exited:
			case <-time.After(15 * time.Second):
				t.Errorf("%s did not exit 15 s after SIGTERM; killing it", strings.Join(p.cmd.Args, " "))
				p.cmd.Process.Kill()
				<-p.exited
			}
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s", strings.Join(p.cmd.Args, " "), p.stderr.String())
		}
	})
	return p
}

// waitReady waits for the ready file and returns the address in it (the
// Invoke API of thaw lambda, the service of thaw serve).
func (p *thawProcess) waitReady(t *testing.T, path string) string {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		if data, err := os.ReadFile(path); err == nil {
			var info struct {
				Addr string `json:"addr"`
			}
			if err := json.Unmarshal(data, &info); err != nil || info.Addr == "" {
				t.Fatalf("ready file %s = %q (%v), want {\"addr\": ...}", path, data, err)
			}
			return info.Addr
		}
		select {
		case <-p.exited:
			t.Fatalf("thaw exited before it was ready (%v):\n%s", p.err, p.stderr.String())
		case <-deadline:
			t.Fatalf("no ready file %s after 30 s", path)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestLambdaConfigProcess runs the thaw binary with a YAML file of two
// functions, a Go one (aws-lambda-go) and the Node.js execution-context
// example, invokes both, and checks that SIGTERM stops it cleanly with every
// runtime process gone, frozen ones included.
func TestLambdaConfigProcess(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not in PATH")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "thaw")
	goBuild(t, bin, ".")
	goBuild(t, filepath.Join(dir, "gofn", "bootstrap"), "github.com/thaw-dev/thaw/lambda/internal/testfunction")
	nodeCode, err := filepath.Abs("../../examples/execution-context/node")
	if err != nil {
		t.Fatal(err)
	}

	// The Go function's code is relative: it is resolved against the YAML
	// file's directory.
	config := filepath.Join(dir, "functions.yaml")
	yaml := fmt.Sprintf(`functions:
  - name: go-fn
    runtime: provided
    code: gofn
    timeout: 5s
  - name: node-ctx
    runtime: nodejs
    code: %s
    handler: index.handler
    memory: 256
`, nodeCode)
	if err := os.WriteFile(config, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	ready := filepath.Join(dir, "ready.json")
	p := startThawProcess(t, bin, "lambda", "--config", config, "--addr", "127.0.0.1:0",
		"--ready-file", ready, "--log-dir", filepath.Join(dir, "logs"), "--quiet")
	addr := p.waitReady(t, ready)
	client := &http.Client{Timeout: 30 * time.Second}

	var goReply, nodeReply map[string]any
	lambdatest.InvokeOK(t, client, addr, "go-fn", `{"action":"echo","text":"from the CLI test"}`, &goReply)
	if goReply["echo"] != "from the CLI test" {
		t.Errorf("go-fn reply = %v, want echo %q", goReply, "from the CLI test")
	}
	lambdatest.InvokeOK(t, client, addr, "node-ctx", `{}`, &nodeReply)
	if _, ok := nodeReply["calculated"]; !ok {
		t.Errorf("node-ctx reply = %v, want calculated and background seconds", nodeReply)
	}
	if _, ok := nodeReply["background"]; !ok {
		t.Errorf("node-ctx reply = %v, want calculated and background seconds", nodeReply)
	}

	// Wait until both environments are frozen: SIGTERM must then thaw and
	// kill them, leaving nothing behind.
	var envs []lambda.EnvironmentInfo
	deadline := time.Now().Add(15 * time.Second)
	for {
		envs = lambdatest.Environments(t, client, addr)
		if len(envs) == 2 && envs[0].State == lambda.StateFrozen && envs[1].State == lambda.StateFrozen {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("environments = %+v, want two frozen ones", envs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, env := range envs {
		if err := syscall.Kill(env.Pid, 0); err != nil {
			t.Errorf("runtime process %d of %s: kill 0 = %v, want it alive before SIGTERM", env.Pid, env.Function, err)
		}
	}

	p.stopWithSIGTERM(t)
	for _, env := range envs {
		if err := syscall.Kill(env.Pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("runtime process %d of %s: kill 0 = %v after thaw exited, want ESRCH", env.Pid, env.Function, err)
		}
	}
	// Sandbox cgroups carry the owning thaw process's pid: NAME@PID-START.
	if left, _ := filepath.Glob(fmt.Sprintf("/sys/fs/cgroup/*/thaw/*@%d-*", p.cmd.Process.Pid)); len(left) > 0 {
		t.Errorf("cgroups left after thaw exited: %v", left)
	}
	if left, _ := filepath.Glob(fmt.Sprintf("/sys/fs/cgroup/thaw/*@%d-*", p.cmd.Process.Pid)); len(left) > 0 {
		t.Errorf("cgroups left after thaw exited: %v", left)
	}
	for _, fn := range []string{"go-fn", "node-ctx"} {
		log, err := os.ReadFile(filepath.Join(dir, "logs", fn+".log"))
		if err != nil || !bytes.Contains(log, []byte("REPORT RequestId: ")) {
			t.Errorf("log file of %s = %q (%v), want its REPORT line", fn, log, err)
		}
	}
}

// TestLambdaTemplateProcess runs the thaw binary on a SAM template with a
// Python and a Node.js function, invokes each by its logical id, and checks
// that SIGTERM leaves no runtime process behind.
func TestLambdaTemplateProcess(t *testing.T) {
	for _, program := range []string{"node", "python3"} {
		if _, err := exec.LookPath(program); err != nil {
			t.Skipf("%s is not in PATH", program)
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "thaw")
	goBuild(t, bin, ".")
	ready := filepath.Join(dir, "ready.json")
	p := startThawProcess(t, bin, "lambda", "--template", "../../lambda/template/testdata/sam-globals.yaml",
		"--addr", "127.0.0.1:0", "--ready-file", ready, "--log-dir", filepath.Join(dir, "logs"), "--quiet")
	addr := p.waitReady(t, ready)
	client := &http.Client{Timeout: 30 * time.Second}

	for _, fn := range []string{"PyFunction", "NodeFunction"} {
		var reply struct {
			Function string `json:"function"`
			Stage    string `json:"stage"`
		}
		lambdatest.InvokeOK(t, client, addr, fn, `{}`, &reply)
		if reply.Function != fn || reply.Stage != "dev" {
			t.Errorf("invoke %s = %+v, want function %s and STAGE dev (the parameter's Default, through Globals)", fn, reply, fn)
		}
	}
	envs := lambdatest.Environments(t, client, addr)
	if len(envs) != 2 {
		t.Fatalf("environments = %+v, want one per function", envs)
	}
	p.stopWithSIGTERM(t)
	if !strings.Contains(p.stderr.String(), "TABLE_ARN left out") {
		t.Errorf("stderr lacks the warning about the unresolved TABLE_ARN:\n%s", p.stderr.String())
	}
	for _, env := range envs {
		if err := syscall.Kill(env.Pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("runtime process %d of %s: kill 0 = %v after thaw exited, want ESRCH", env.Pid, env.Function, err)
		}
	}
}
