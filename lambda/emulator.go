package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/thaw-dev/thaw/lambda/noderuntime"
	"github.com/thaw-dev/thaw/lambda/pythonruntime"
	"github.com/thaw-dev/thaw/lambda/sandbox"
)

// Config says what an Emulator runs and where.
type Config struct {
	// Addr is the Invoke API listen address. Default 127.0.0.1:9001; port 0
	// picks a free one.
	Addr string
	// Functions are the functions served. At least one is needed.
	Functions []Function
	// LogDir receives one log file per function, NAME.log. Empty means no files.
	LogDir string
	// Output receives every function's log lines as they happen (thaw's
	// console). Nil discards them.
	Output io.Writer
	// Logger receives the emulator's own structured logs. Nil discards them.
	Logger *slog.Logger
	// FreezeMode forces how environments are frozen; sandbox.ModeAuto, the
	// default, uses the cgroup freezer where it is writable and SIGSTOP/SIGCONT
	// otherwise.
	FreezeMode sandbox.Mode
	// ResumeOrder says whether a frozen environment's next event is written
	// to its runtime before the thaw (ResumeEventFirst, the default, as on
	// Lambda) or after it (ResumeThawFirst).
	ResumeOrder ResumeOrder
	// EventQueueLimit is how many Event invocations of one function may wait
	// for an environment; one more is refused with 429
	// TooManyRequestsException, as Lambda throttles what its asynchronous
	// queue cannot take. 0 means DefaultEventQueueLimit; at least 1.
	EventQueueLimit int
	// EventRetryDelays are the waits before the retries of a failed Event
	// invocation (a function error, a timeout, a crash, an init error or an
	// environment that could not start); the number of delays is the number
	// of retries. Lambda retries twice, after about one and two minutes;
	// nil means DefaultEventRetryDelays, the same shape scaled down for a
	// local loop. An empty non-nil slice turns retries off.
	EventRetryDelays []time.Duration
	// OnFreeze and OnThaw, when set, are called with the function's name
	// right after one of its environments froze or thawed: synchronously,
	// with that environment's lock held, so they must return quickly and
	// must not call the Emulator. thaw lab uses them to hold back what the
	// network sends a frozen function.
	OnFreeze, OnThaw func(function string)
}

// DefaultAddr is the Invoke API address unless told otherwise.
const DefaultAddr = "127.0.0.1:9001"

// DefaultEventQueueLimit is Config.EventQueueLimit's default.
const DefaultEventQueueLimit = 1000

// DefaultEventRetryDelays returns Config.EventRetryDelays's default: two
// retries, after 1 s and 2 s (Lambda: 1 min and 2 min).
func DefaultEventRetryDelays() []time.Duration { return []time.Duration{time.Second, 2 * time.Second} }

// Emulator serves the Invoke API for a set of functions and runs their
// execution environments.
type Emulator struct {
	cfg        Config
	logger     *slog.Logger
	pools      map[string]*pool
	runtimeDir string
	logFiles   []*os.File
	listener   net.Listener
	server     *http.Server
	cancel     context.CancelFunc

	closeOnce sync.Once
	closeErr  error // set by the first Close
}

// Start validates the functions, removes cgroups that a crashed earlier run
// left behind, binds the Invoke API and serves it in the background until
// Close. No environment starts before the first invocation.
func Start(ctx context.Context, cfg Config) (*Emulator, error) {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Functions) == 0 {
		return nil, fmt.Errorf("%w: no functions configured", ErrInvalidFunction)
	}
	order, err := ParseResumeOrder(string(cfg.ResumeOrder))
	if err != nil {
		return nil, err
	}
	cfg.ResumeOrder = order
	if cfg.EventQueueLimit == 0 {
		cfg.EventQueueLimit = DefaultEventQueueLimit
	}
	if cfg.EventQueueLimit < 0 {
		return nil, fmt.Errorf("lambda: EventQueueLimit is %d, want at least 1", cfg.EventQueueLimit)
	}
	if cfg.EventRetryDelays == nil {
		cfg.EventRetryDelays = DefaultEventRetryDelays()
	}
	for _, d := range cfg.EventRetryDelays {
		if d < 0 {
			return nil, fmt.Errorf("lambda: EventRetryDelays has %v, want no negative delay", d)
		}
	}
	e := &Emulator{cfg: cfg, logger: cfg.Logger, pools: map[string]*pool{}}
	if err := e.start(ctx); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

func (e *Emulator) start(ctx context.Context) error {
	functions := make([]Function, 0, len(e.cfg.Functions))
	for _, f := range e.cfg.Functions {
		f, err := f.withDefaults()
		if err != nil {
			return err
		}
		for _, seen := range functions {
			if seen.Name == f.Name {
				return fmt.Errorf("%w: function %q is configured twice", ErrInvalidFunction, f.Name)
			}
		}
		f.resumeOrder = e.cfg.ResumeOrder
		f.onFreeze, f.onThaw = e.cfg.OnFreeze, e.cfg.OnThaw
		functions = append(functions, f)
	}
	if err := sandbox.CleanupStale(e.logger); err != nil {
		e.logger.Warn("cleaning up after an earlier run", "err", err)
	}
	removeStaleRuntimeDirs(os.TempDir(), e.logger)
	dir, err := makeRuntimeDir(os.TempDir())
	if err != nil {
		return err
	}
	e.runtimeDir = dir
	if _, err := noderuntime.Install(dir); err != nil {
		return fmt.Errorf("lambda: install the Node.js bootstrap: %w", err)
	}
	if _, err := pythonruntime.Install(dir); err != nil {
		return fmt.Errorf("lambda: install the Python bootstrap: %w", err)
	}
	resolvePythonInterpreters(functions)
	if e.cfg.LogDir != "" {
		if err := os.MkdirAll(e.cfg.LogDir, 0o755); err != nil {
			return fmt.Errorf("lambda: log directory: %w", err)
		}
	}

	poolCtx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	for _, f := range functions {
		var file io.Writer
		if e.cfg.LogDir != "" {
			fh, err := os.OpenFile(filepath.Join(e.cfg.LogDir, f.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				return fmt.Errorf("lambda: log file of %s: %w", f.Name, err)
			}
			e.logFiles = append(e.logFiles, fh)
			file = fh
		}
		logs := newLogSink(f.Name, e.cfg.Output, file)
		events := eventPolicy{queueLimit: e.cfg.EventQueueLimit, retryDelays: e.cfg.EventRetryDelays}
		e.pools[f.Name] = newPool(poolCtx, f, dir, e.cfg.FreezeMode, logs, e.logger, events)
	}

	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", e.cfg.Addr)
	if err != nil {
		return fmt.Errorf("lambda: listen on %s: %w", e.cfg.Addr, err)
	}
	e.listener = lis
	e.server = &http.Server{Handler: e.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := e.server.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.logger.Error("invoke API failed", "err", err)
		}
	}()
	names := make([]string, 0, len(functions))
	for _, f := range functions {
		names = append(names, f.Name)
	}
	e.logger.Info("serving the Invoke API", "addr", e.Addr(), "functions", names)
	return nil
}

// resolvePythonInterpreters finds, in parallel, the python3 each Python
// function runs (see pythonruntime.Interpreter), so that the first cold
// start finds it cached rather than spend its init time on a slow shim.
func resolvePythonInterpreters(functions []Function) {
	var wg sync.WaitGroup
	for _, f := range functions {
		if f.Runtime == RuntimePython {
			wg.Go(func() { pythonruntime.Interpreter(f.taskRoot()) })
		}
	}
	wg.Wait()
}

// Addr returns the Invoke API address, with the port chosen for port 0.
func (e *Emulator) Addr() string {
	if e.listener == nil {
		return ""
	}
	return e.listener.Addr().String()
}

// servedFunctions returns the functions served, defaults filled in, sorted
// by name (the control API's view of the emulator).
func (e *Emulator) servedFunctions() []Function {
	fns := make([]Function, 0, len(e.pools))
	for _, p := range e.pools {
		fns = append(fns, p.fn)
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i].Name < fns[j].Name })
	return fns
}

// Environments describes every function's environments, live ones and the
// last ones that ended, sorted by function and creation.
func (e *Emulator) Environments() []EnvironmentInfo {
	now := time.Now()
	var infos []EnvironmentInfo
	for _, p := range e.pools {
		infos = append(infos, p.environments(now)...)
	}
	sort.Slice(infos, func(i, j int) bool {
		if infos[i].Function != infos[j].Function {
			return infos[i].Function < infos[j].Function
		}
		return infos[i].Created.Before(infos[j].Created)
	})
	return infos
}

func (e *Emulator) handleEnvironments(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(e.Environments())
}

// Close stops the Invoke API and kills every environment, thawing frozen
// ones first, so that no process of any function is left behind. It returns
// what could not be cleaned up: environments whose kill failed (their
// processes may be left), log files that did not close, a runtime directory
// that was not removed. Later calls return the same error.
func (e *Emulator) Close() error {
	e.closeOnce.Do(func() {
		var errs []error
		if e.server != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			e.server.Shutdown(ctx) // its error only says it took long; Close ends the rest
			cancel()
			e.server.Close()
		} else if e.listener != nil {
			e.listener.Close()
		}
		if e.cancel != nil {
			e.cancel()
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, p := range e.pools {
			wg.Go(func() {
				if err := p.close(); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for _, f := range e.logFiles {
			if err := f.Close(); err != nil {
				errs = append(errs, fmt.Errorf("lambda: close log file: %w", err))
			}
		}
		if e.runtimeDir != "" {
			if err := os.RemoveAll(e.runtimeDir); err != nil {
				errs = append(errs, fmt.Errorf("lambda: remove runtime directory: %w", err))
			}
		}
		e.closeErr = errors.Join(errs...)
		if e.closeErr != nil {
			e.logger.Error("cleanup incomplete", "err", e.closeErr)
		}
	})
	return e.closeErr
}
