// Package lambda is thaw's local Lambda execution environment. It runs
// unmodified functions with Lambda's real lifecycle: init, invoke, freeze
// between invocations (the whole process tree, through lambda/sandbox),
// thaw, reuse, cold starts under concurrency, idle reaping and timeouts; it
// serves the Runtime API 2018-06-01, the Extensions API 2020-01-01 and the
// Telemetry API 2022-07-01 to each environment and the Invoke API to callers.
// An environment with extensions is frozen only when the runtime and every
// extension have asked for their next event.
package lambda

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"
)

// Runtimes thaw can run.
const (
	// RuntimeProvided runs an executable (a "bootstrap") that speaks the
	// Runtime API itself, e.g. a Go program built with aws-lambda-go.
	RuntimeProvided = "provided"
	// RuntimeNodeJS runs a JavaScript handler module through the Node.js
	// bootstrap that thaw ships (lambda/noderuntime).
	RuntimeNodeJS = "nodejs"
	// RuntimePython runs a Python handler module through the Python
	// bootstrap that thaw ships (lambda/pythonruntime), with the python3 in
	// PATH.
	RuntimePython = "python"
)

// Defaults of Function, those of Lambda where Lambda has one.
const (
	DefaultMemoryMB    = 128
	DefaultTimeout     = 3 * time.Second
	DefaultConcurrency = 10
	DefaultIdleTimeout = 10 * time.Minute
	// InitTimeout bounds the Init phase, as on Lambda.
	InitTimeout = 10 * time.Second
	// MemoryPerVCPU is the memory setting that buys one full vCPU on Lambda.
	MemoryPerVCPU = 1769
)

// ErrInvalidFunction means a Function's configuration cannot run.
var ErrInvalidFunction = errors.New("lambda: invalid function")

var functionName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Function is the configuration of one function. Zero fields take the
// defaults; Name, Runtime, Code and (for nodejs and python) Handler are
// required.
type Function struct {
	// Name is the function name callers invoke: letters, digits, '-' and '_'.
	Name string `yaml:"name"`
	// Runtime is RuntimeProvided, RuntimeNodeJS or RuntimePython.
	Runtime string `yaml:"runtime"`
	// Code is, for provided, an executable or a directory holding
	// "bootstrap"; for nodejs and python, the directory with the handler
	// module.
	Code string `yaml:"code"`
	// Handler is the handler name, e.g. "index.handler" for nodejs or
	// "app.handler" for python; it is passed to provided runtimes as
	// _HANDLER.
	Handler string `yaml:"handler"`
	// MemoryMB caps the environment's memory and sets its CPU share.
	// Default 128.
	MemoryMB int `yaml:"memory"`
	// Timeout bounds one invocation. Default 3 s.
	Timeout time.Duration `yaml:"timeout"`
	// Concurrency is the most environments that may exist at once; an
	// invocation beyond it is refused with 429. Default 10.
	Concurrency int `yaml:"concurrency"`
	// IdleTimeout is how long an environment may sit unused before it is
	// shut down. Default 10 min.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// Env are extra environment variables for the function.
	Env map[string]string `yaml:"env"`
	// Extensions is a directory of external extensions, thaw's
	// /opt/extensions: every executable file in it is started at Init, in the
	// environment's sandbox beside the runtime and before it, and the Init
	// phase waits until each has registered with the Extensions API. Empty,
	// the default, starts none.
	Extensions string `yaml:"extensions"`
	// CPUScaling gives the environment CPU in proportion to memory, as Lambda
	// does (MemoryMB/1769 of one core), from the end of its Init phase: Init
	// runs without the cap, as Lambda's managed runtimes get burst CPU
	// during Init. Nil means true.
	CPUScaling *bool `yaml:"cpu_scaling"`

	// resumeOrder is Config.ResumeOrder, copied in by Start so that each
	// environment has it.
	resumeOrder ResumeOrder
	// onFreeze and onThaw are Config.OnFreeze and Config.OnThaw, copied in
	// the same way; nil when not set.
	onFreeze, onThaw func(function string)
}

// withDefaults returns f with defaults filled in and Code made absolute.
func (f Function) withDefaults() (Function, error) {
	if f.MemoryMB == 0 {
		f.MemoryMB = DefaultMemoryMB
	}
	if f.Timeout == 0 {
		f.Timeout = DefaultTimeout
	}
	if f.Concurrency == 0 {
		f.Concurrency = DefaultConcurrency
	}
	if f.IdleTimeout == 0 {
		f.IdleTimeout = DefaultIdleTimeout
	}
	if f.CPUScaling == nil {
		on := true
		f.CPUScaling = &on
	}
	if f.Code != "" {
		abs, err := filepath.Abs(f.Code)
		if err != nil {
			return f, fmt.Errorf("%w: %s: code path: %v", ErrInvalidFunction, f.Name, err)
		}
		f.Code = abs
	}
	if f.Extensions != "" {
		abs, err := filepath.Abs(f.Extensions)
		if err != nil {
			return f, fmt.Errorf("%w: %s: extensions path: %v", ErrInvalidFunction, f.Name, err)
		}
		f.Extensions = abs
	}
	return f, f.validate()
}

func (f Function) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidFunction, f.Name, fmt.Sprintf(format, args...))
	}
	if !functionName.MatchString(f.Name) {
		return fmt.Errorf("%w: name %q must be 1-64 letters, digits, '-' or '_'", ErrInvalidFunction, f.Name)
	}
	switch {
	case f.MemoryMB < 64 || f.MemoryMB > 10240:
		return bad("memory %d MB is outside 64-10240", f.MemoryMB)
	case f.Timeout < time.Millisecond || f.Timeout > 15*time.Minute:
		return bad("timeout %v is outside 1ms-15m", f.Timeout)
	case f.Concurrency < 1:
		return bad("concurrency must be at least 1")
	case f.IdleTimeout < 0:
		return bad("idle timeout must not be negative")
	}
	if f.Extensions != "" {
		if info, err := os.Stat(f.Extensions); err != nil || !info.IsDir() {
			return bad("extensions %s must be a directory", f.Extensions)
		}
	}
	info, err := os.Stat(f.Code)
	if err != nil {
		return bad("code: %v", err)
	}
	switch f.Runtime {
	case RuntimeProvided:
		if _, err := f.bootstrapPath(); err != nil {
			return bad("%v", err)
		}
	case RuntimeNodeJS:
		if !info.IsDir() {
			return bad("nodejs code %s must be a directory", f.Code)
		}
		if f.Handler == "" {
			return bad("nodejs needs a handler such as index.handler")
		}
	case RuntimePython:
		if !info.IsDir() {
			return bad("python code %s must be a directory", f.Code)
		}
		if f.Handler == "" {
			return bad("python needs a handler such as app.handler")
		}
	default:
		return bad("runtime %q is not %s, %s or %s", f.Runtime, RuntimeNodeJS, RuntimePython, RuntimeProvided)
	}
	return nil
}

// bootstrapPath returns the executable of a provided function.
func (f Function) bootstrapPath() (string, error) {
	path := f.Code
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		path = filepath.Join(path, "bootstrap")
	}
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("bootstrap: %w", err)
	}
	if info.IsDir() || info.Mode()&0o111 == 0 {
		return "", fmt.Errorf("bootstrap %s is not an executable file", path)
	}
	return path, nil
}

// taskRoot is LAMBDA_TASK_ROOT: the directory holding the code.
func (f Function) taskRoot() string {
	if info, err := os.Stat(f.Code); err == nil && !info.IsDir() {
		return filepath.Dir(f.Code)
	}
	return f.Code
}

// cpuShare is the fraction of one core the environment gets, 0 for no quota.
func (f Function) cpuShare() float64 {
	if f.CPUScaling != nil && !*f.CPUScaling {
		return 0
	}
	return float64(f.MemoryMB) / MemoryPerVCPU
}

// sortedEnv returns the extra environment as K=V, in a stable order.
func (f Function) sortedEnv() []string {
	var env []string
	for k, v := range f.Env {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}

// regionFromEnv is the AWS region thaw reports: $AWS_REGION, else
// $AWS_DEFAULT_REGION, else us-east-1.
func regionFromEnv() string {
	return firstNonEmpty(os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), "us-east-1")
}
