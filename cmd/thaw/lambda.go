package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/thaw-dev/thaw/lambda"
	"github.com/thaw-dev/thaw/lambda/sandbox"
	"github.com/thaw-dev/thaw/lambda/template"
)

// lambdaConfigFile is the YAML file --config reads.
type lambdaConfigFile struct {
	Addr      string            `yaml:"addr"`
	LogDir    string            `yaml:"log_dir"`
	Functions []lambda.Function `yaml:"functions"`
}

// lambdaFlags holds the command line of thaw lambda.
type lambdaFlags struct {
	fn           lambda.Function
	addr         string
	configFile   string
	templateFile string
	logDir       string
	readyFile    string
	freezeMode   string
	resumeOrder  string
	logLevel     string
	quiet        bool
	env          stringList
	cpuScaling   bool
	eventQueue   int
	eventRetries string
}

// runLambda is `thaw lambda`: it serves the functions its flags, --config or
// --template describe until SIGINT or SIGTERM, and returns the exit code.
func runLambda(args []string, stdout, stderr io.Writer) int {
	fs, flags := newLambdaFlags(stderr)
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if code, ok := checkLambdaFlags(fs, flags); !ok {
		return code
	}
	cfg, logger, err := lambdaConfig(fs, flags, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "thaw lambda: %v\n", err)
		return 2
	}
	return serveLambda(cfg, flags.readyFile, logger, stderr)
}

// newLambdaFlags defines the flags of thaw lambda, with their defaults.
func newLambdaFlags(stderr io.Writer) (commandFlags, *lambdaFlags) {
	fs := newCommandFlags("thaw lambda", stderr,
		"Usage: thaw lambda --function NAME --runtime nodejs|python|provided --code PATH --handler HANDLER [flags]",
		"       thaw lambda --config functions.yaml",
		"       thaw lambda --template template.yaml   (AWS SAM or CloudFormation; functions by logical id)",
		"",
		"Runs Lambda functions locally with Lambda's lifecycle: each environment's processes are",
		"frozen (cgroup freezer, or SIGSTOP where cgroups are not writable) from the moment the",
		"runtime asks for its next event until the next invocation; warm environments are reused,",
		"concurrent invocations cold-start new ones, idle ones are shut down. Serves the Invoke API,",
		"so the AWS SDKs and CLI work with --endpoint-url http://ADDR, and GET /_thaw/environments.")
	f := &lambdaFlags{}
	fn := &f.fn
	fs.StringVar(&f.addr, "addr", lambda.DefaultAddr, "Invoke API `host:port` (POST /2015-03-31/functions/NAME/invocations); port 0 picks a free one")
	fs.StringVar(&fn.Name, "function", "", "function `name` callers invoke")
	fs.StringVar(&fn.Runtime, "runtime", "", "runtime `kind`: nodejs (a handler module run by node), python (a handler module run by python3) or provided (an executable bootstrap)")
	fs.StringVar(&fn.Code, "code", "", "code `path`: for nodejs and python the directory with the handler module; for provided an executable or a directory holding bootstrap")
	fs.StringVar(&fn.Handler, "handler", "", "handler `name`, e.g. index.handler (nodejs) or app.handler (python); passed to provided runtimes as _HANDLER")
	fs.IntVar(&fn.MemoryMB, "memory", lambda.DefaultMemoryMB, "memory `MB`: caps the environment's memory and, with --cpu-scaling, its CPU share")
	fs.DurationVar(&fn.Timeout, "timeout", lambda.DefaultTimeout, "longest an invocation may run, above 0; past it the environment is killed")
	fs.IntVar(&fn.Concurrency, "concurrency", lambda.DefaultConcurrency, "most environments at once, at least 1; more concurrent invocations get 429")
	fs.DurationVar(&fn.IdleTimeout, "idle-timeout", lambda.DefaultIdleTimeout, "shut down environments unused for this long, above 0")
	fs.StringVar(&fn.Extensions, "extensions", "", "`directory` of external extensions (Lambda's /opt/extensions): each executable in it starts beside the runtime at Init")
	fs.Var(&f.env, "env", "`K=V` environment variable for the function (repeatable)")
	fs.BoolVar(&f.cpuScaling, "cpu-scaling", true, "give CPU in proportion to memory as Lambda does (1769 MB = one vCPU), from the end of Init (Init runs uncapped, as on Lambda)")
	fs.StringVar(&f.configFile, "config", "", "YAML `file` with several functions (addr, log_dir, functions: [{name, runtime, code, handler, memory, timeout, concurrency, idle_timeout, env, extensions, cpu_scaling}])")
	fs.StringVar(&f.templateFile, "template", "", "AWS SAM or CloudFormation template `file`: serves every AWS::Serverless::Function and AWS::Lambda::Function under its logical id (Runtime, Handler, CodeUri or Code, MemorySize, Timeout, Environment, ReservedConcurrentExecutions, Globals)")
	fs.StringVar(&f.logDir, "log-dir", filepath.Join(os.TempDir(), "thaw-lambda-logs"), "`directory` for one log file per function (NAME.log)")
	fs.StringVar(&f.freezeMode, "freeze-mode", "auto", "how to freeze environments, a `mode`: auto, cgroup-v1, cgroup-v2 or signal (SIGSTOP/SIGCONT)")
	fs.StringVar(&f.resumeOrder, "resume-order", string(lambda.ResumeEventFirst), "what a frozen environment finds when it resumes, an `order`: event-first (its event is already in the runtime's socket, as on Lambda) or thaw-first (the event is written after the thaw, so the resumed process may run before it is there)")
	fs.StringVar(&f.logLevel, "log-level", "info", "thaw's own log `level`: debug (shows every freeze and thaw with its latency), info, warn or error")
	fs.StringVar(&f.readyFile, "ready-file", "", "once listening, write {\"addr\"} as JSON to this `file` (useful with --addr 127.0.0.1:0)")
	fs.IntVar(&f.eventQueue, "event-queue", lambda.DefaultEventQueueLimit, "most Event invocations waiting per function, at least 1; more get 429 TooManyRequestsException")
	fs.StringVar(&f.eventRetries, "event-retry-delays", "1s,2s", "waits before the retries of a failed Event invocation, comma-separated `durations` (Lambda: 1m,2m); \"none\" turns retries off")
	fs.BoolVar(&f.quiet, "quiet", false, "do not copy function output to the console (the log files still get it)")
	return fs, f
}

// checkLambdaFlags refuses flags that contradict each other (--config or
// --template beside function flags) and values the lambda package would
// silently replace. When it returns false the command exits with the code
// it gives, the error already reported.
func checkLambdaFlags(fs commandFlags, f *lambdaFlags) (exitCode int, ok bool) {
	if err := lambdaSourceConflict(fs, f); err != nil {
		return fs.check(err)
	}
	// lambda.Function replaces a zero memory, timeout, concurrency or idle
	// timeout with its default, so refuse them here rather than run with
	// 128 MB, 3s, 10 or 10m unannounced. The package checks the upper bounds.
	if code, ok := fs.check(
		atLeast("memory", f.fn.MemoryMB, 1, "a positive number of MB, such as 128"),
		atLeast("timeout", f.fn.Timeout, 1, "a positive duration, such as 3s"),
		atLeast("concurrency", f.fn.Concurrency, 1, "at least 1"),
		atLeast("idle-timeout", f.fn.IdleTimeout, 1, "a positive duration, such as 10m"),
	); !ok {
		return code, false
	}
	return fs.check(atLeast("event-queue", f.eventQueue, 1, "at least 1"))
}

// lambdaSourceConflict says why the functions' sources on the command line
// exclude each other: --config and --template each describe every function,
// so neither goes with the other or with a function flag.
func lambdaSourceConflict(fs commandFlags, f *lambdaFlags) error {
	if f.configFile != "" && f.templateFile != "" {
		return errors.New("--config and --template are exclusive: each describes every function")
	}
	if f.configFile == "" && f.templateFile == "" {
		return nil
	}
	// The file describes every function; a function flag beside it
	// would be ignored.
	source := "--config"
	if f.templateFile != "" {
		source = "--template"
	}
	for _, name := range lambdaFunctionFlags {
		if flagSet(fs.FlagSet, name) {
			return fmt.Errorf("%s and --%s are exclusive: the file describes every function", source, name)
		}
	}
	return nil
}

// lambdaConfig turns the checked flags into the emulator's Config and thaw's
// own logger. Its errors are usage errors.
func lambdaConfig(fs commandFlags, f *lambdaFlags, stdout, stderr io.Writer) (lambda.Config, *slog.Logger, error) {
	retryDelays, err := parseRetryDelays(f.eventRetries)
	if err != nil {
		return lambda.Config{}, nil, err
	}
	mode, err := parseFreezeMode(f.freezeMode)
	if err != nil {
		return lambda.Config{}, nil, err
	}
	order, err := lambda.ParseResumeOrder(f.resumeOrder)
	if err != nil {
		return lambda.Config{}, nil, fmt.Errorf("--resume-order: %w", err)
	}
	logger, err := newLogger(stderr, f.logLevel, "text")
	if err != nil {
		return lambda.Config{}, nil, err
	}
	cfg := lambda.Config{Addr: f.addr, LogDir: f.logDir, Logger: logger, FreezeMode: mode, ResumeOrder: order, Output: stdout,
		EventQueueLimit: f.eventQueue, EventRetryDelays: retryDelays}
	if f.quiet {
		cfg.Output = nil
	}
	if err := addLambdaFunctions(&cfg, fs, f, logger); err != nil {
		return lambda.Config{}, nil, err
	}
	return cfg, logger, nil
}

// addLambdaFunctions sets cfg's functions from --template, --config (which
// may also set the address and log directory that no flag set) or the
// function flags.
func addLambdaFunctions(cfg *lambda.Config, fs commandFlags, f *lambdaFlags, logger *slog.Logger) error {
	switch {
	case f.templateFile != "":
		tmpl, err := template.Load(f.templateFile)
		if err != nil {
			return fmt.Errorf("--template %s:\n%w", f.templateFile, err)
		}
		for _, w := range tmpl.Warnings {
			logger.Warn("template: "+w, "template", f.templateFile)
		}
		cfg.Functions = tmpl.Functions
	case f.configFile != "":
		file, err := readLambdaConfig(f.configFile)
		if err != nil {
			return err
		}
		cfg.Functions = file.Functions
		if file.Addr != "" && !flagSet(fs.FlagSet, "addr") {
			cfg.Addr = file.Addr
		}
		if file.LogDir != "" && !flagSet(fs.FlagSet, "log-dir") {
			cfg.LogDir = file.LogDir
		}
	default:
		fn := f.fn
		if fn.Name == "" || fn.Runtime == "" || fn.Code == "" {
			return errors.New("--function, --runtime and --code are required (or --config FILE, or --template FILE); see --help")
		}
		fn.CPUScaling = &f.cpuScaling
		fn.Env = map[string]string{}
		for _, kv := range f.env {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return fmt.Errorf("--env %q: want K=V", kv)
			}
			fn.Env[k] = v
		}
		cfg.Functions = []lambda.Function{fn}
	}
	return nil
}

// serveLambda starts the emulator of cfg, writes the ready file if one was
// asked for, and serves until SIGINT or SIGTERM; then it kills every
// environment and returns the exit code.
func serveLambda(cfg lambda.Config, readyFile string, logger *slog.Logger, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	emu, err := lambda.Start(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "thaw lambda: %v\n", err)
		if errors.Is(err, lambda.ErrInvalidFunction) {
			return 2
		}
		return 1
	}
	if readyFile != "" {
		if err := writeReadyFile(readyFile, readyInfo{Addr: emu.Addr()}); err != nil {
			fmt.Fprintf(stderr, "thaw lambda: %v\n", err)
			emu.Close()
			return 1
		}
	}
	logger.Info("ready", "invoke", "http://"+emu.Addr()+"/2015-03-31/functions/NAME/invocations", "log_dir", cfg.LogDir)
	<-ctx.Done()
	stop()
	logger.Info("shutting down: killing every environment")
	start := time.Now()
	emu.Close()
	logger.Info("stopped", "took", time.Since(start).Round(time.Millisecond))
	return 0
}

// lambdaFunctionFlags are the flags that describe the one function of a
// command line without --config.
var lambdaFunctionFlags = []string{"function", "runtime", "code", "handler", "memory", "timeout",
	"concurrency", "idle-timeout", "extensions", "env", "cpu-scaling"}

// readLambdaConfig reads a YAML functions file; code paths are relative to it.
func readLambdaConfig(path string) (lambdaConfigFile, error) {
	var file lambdaConfigFile
	data, err := os.ReadFile(path)
	if err != nil {
		return file, fmt.Errorf("--config: %w", err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		return file, fmt.Errorf("--config %s: %w", path, err)
	}
	if len(file.Functions) == 0 {
		return file, fmt.Errorf("--config %s: no functions", path)
	}
	for i := range file.Functions {
		if code := file.Functions[i].Code; code != "" && !filepath.IsAbs(code) {
			file.Functions[i].Code = filepath.Join(filepath.Dir(path), code)
		}
	}
	return file, nil
}

// parseRetryDelays parses --event-retry-delays: durations separated by
// commas, or "none" for no retries.
func parseRetryDelays(s string) ([]time.Duration, error) {
	delays := []time.Duration{}
	if strings.TrimSpace(s) == "none" {
		return delays, nil
	}
	for _, field := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(field))
		if err != nil || d < 0 {
			return nil, fmt.Errorf("--event-retry-delays %q: want durations such as 1s,2s, or none", s)
		}
		delays = append(delays, d)
	}
	return delays, nil
}

// parseFreezeMode parses --freeze-mode.
func parseFreezeMode(s string) (sandbox.Mode, error) {
	for _, m := range []sandbox.Mode{sandbox.ModeAuto, sandbox.ModeCgroupV1, sandbox.ModeCgroupV2, sandbox.ModeSignal} {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("--freeze-mode %q: want auto, cgroup-v1, cgroup-v2 or signal", s)
}

// flagSet reports whether the flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
