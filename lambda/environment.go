package lambda

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/thaw-dev/thaw/lambda/noderuntime"
	"github.com/thaw-dev/thaw/lambda/pythonruntime"
	"github.com/thaw-dev/thaw/lambda/sandbox"
)

// State is the lifecycle state of an environment, as /_thaw/environments shows it.
type State string

// Environment states.
const (
	// StateInitializing: the runtime is starting and has not asked for an event yet.
	StateInitializing State = "initializing"
	// StateRunning: the runtime is processing an event, or between posting a
	// result and asking for the next event.
	StateRunning State = "running"
	// StateFrozen: the runtime asked for its next event and its whole process
	// tree is frozen until one arrives.
	StateFrozen State = "frozen"
	// StateDead: the environment has ended.
	StateDead State = "dead"
)

// errEnvironmentDead means the environment ended while an event was handed to it.
var errEnvironmentDead = errors.New("lambda: environment ended")

// environment is one execution environment: a runtime process tree in a
// sandbox and the Runtime API server it talks to.
type environment struct {
	id       string
	fn       Function
	logger   *slog.Logger
	logs     *logSink
	output   *lineWriter
	created  time.Time
	sandbox  *sandbox.Sandbox
	listener net.Listener
	api      *http.Server

	// initialized is closed at the runtime's first /next; initFailed when it
	// reports an error through /init/error instead (initErr holds the body).
	initialized chan struct{}
	initFailed  chan struct{}
	// pending hands the next event to the runtime's /next call.
	pending chan *invocation

	mu           sync.Mutex    // guards the fields below
	state        State         // guarded by mu
	busy         bool          // guarded by mu: an event is assigned and not yet answered
	current      *invocation   // guarded by mu: the event the runtime is processing
	invocations  int           // guarded by mu
	frozenSince  time.Time     // guarded by mu: zero unless frozen
	frozenTotal  time.Duration // guarded by mu
	lastUsed     time.Time     // guarded by mu
	initDuration time.Duration // guarded by mu
	coldPending  bool          // guarded by mu: the first invocation has not reported Init Duration yet
	initErr      []byte        // guarded by mu: body of /init/error

	// runtimeWaiting: the runtime is inside /next with no event yet.
	runtimeWaiting bool // guarded by mu
	// runtimeCalledNext: the runtime has asked for its first event.
	runtimeCalledNext bool // guarded by mu
	// extensions are the registered extensions, in order of registration.
	extensions []*extension // guarded by mu
	// expectedExtensions is how many external extensions were started: the
	// Init phase waits for that many to register.
	expectedExtensions int // guarded by mu
	// shuttingDown: shutdown has begun; the environment is neither frozen
	// nor reserved again.
	shuttingDown bool // guarded by mu

	// thawed is closed at the thaw that ends the current freeze; telemetry
	// deliveries wait for it.
	thawed chan struct{} // guarded by mu

	telemetryMu sync.Mutex             // guards subscribers, initEvents and initEventsDone
	subscribers []*telemetrySubscriber // guarded by telemetryMu
	// initEvents are the events published during Init, for extensions
	// that subscribe after they happened; initEventsDone ends the keeping.
	initEvents     []bufferedTelemetry // guarded by telemetryMu
	initEventsDone bool                // guarded by telemetryMu

	// pidFile is where the launcher records external extensions' pids, "" without.
	pidFile string
	// statusPath is the FIFO where the launcher reports the runtime's exit,
	// "" without extensions.
	statusPath string
	// runtimeExited is closed when the launcher reports that the runtime
	// exited (runtimeState says how); nil without extensions, where the
	// runtime is the root and sandbox.Done says it.
	runtimeExited chan struct{}
	runtimeState  sandbox.ExitState // guarded by mu; set before runtimeExited is closed
	shutdownOnce  sync.Once
	shutdownErr   error // set by the first shutdown, read after shutdownOnce

	// thawErr is why the environment could not be thawed for an event: it
	// is being killed, and the event fails with a service error.
	thawErr error // guarded by mu
	// killErr is why a kill failed; the tree may still be alive.
	killErr error // guarded by mu

	// thawFault and killFault, when set (by tests, through the pool), run
	// before each thaw and kill; an error they return replaces the
	// operation, which is then not attempted.
	thawFault func() error
	killFault func() error
}

// startEnvironment starts the runtime of fn in a new sandbox with its own
// Runtime API server on a loopback port.
func startEnvironment(ctx context.Context, fn Function, id string, runtimeDir string, mode sandbox.Mode, logs *logSink, logger *slog.Logger) (*environment, error) {
	e := &environment{
		id: id, fn: fn, logs: logs, created: time.Now(),
		logger:      logger.With("function", fn.Name, "env", id),
		initialized: make(chan struct{}),
		initFailed:  make(chan struct{}),
		pending:     make(chan *invocation, 1),
		state:       StateInitializing,
		lastUsed:    time.Now(),
		coldPending: true,
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lambda: runtime API listener: %w", err)
	}
	e.listener = lis
	e.api = &http.Server{Handler: e.runtimeAPI(), ReadHeaderTimeout: 10 * time.Second}

	path, args, err := runtimeCommand(fn, runtimeDir)
	if err != nil {
		lis.Close()
		return nil, err
	}
	if fn.Extensions != "" {
		extensions, err := extensionExecutables(fn.Extensions)
		if err != nil {
			lis.Close()
			return nil, err
		}
		if len(extensions) > 0 {
			e.pidFile = filepath.Join(runtimeDir, "extensions-"+id+".pids")
			e.statusPath = filepath.Join(runtimeDir, "runtime-"+id+".status")
			e.expectedExtensions = len(extensions)
			e.runtimeExited = make(chan struct{})
			path, args = launcherCommand(extensions, e.pidFile, e.statusPath, path, args)
		}
	}
	var statusFIFO *os.File
	if e.statusPath != "" {
		if statusFIFO, err = openStatusFIFO(e.statusPath); err != nil {
			lis.Close()
			return nil, err
		}
	}
	out := logs.writerFor(e)
	e.output = out
	e.platformInitStart()
	e.sandbox, err = sandbox.Start(ctx, sandbox.Config{
		Path:              path,
		Args:              args,
		Dir:               fn.taskRoot(),
		Env:               e.processEnv(),
		Stdout:            out,
		Stderr:            out,
		MemoryMB:          fn.MemoryMB,
		CPUShareOfOneCore: fn.cpuShare(),
		Name:              fn.Name + "-" + id,
		Mode:              mode,
		Logger:            e.logger,
	})
	if err != nil {
		lis.Close()
		if statusFIFO != nil {
			statusFIFO.Close()
			os.Remove(e.statusPath)
		}
		return nil, fmt.Errorf("lambda: start %s: %w", fn.Name, err)
	}
	if e.sandbox.Mode() == sandbox.ModeSignal {
		// No cgroup to find this tree by if thaw dies: the next run reads it here.
		if err := recordProcessGroup(runtimeDir, e.sandbox.Pid()); err != nil {
			e.logger.Warn("the next run cannot clean up this environment if thaw dies", "err", err)
		}
	}
	// Serve only now that e.sandbox is set: a runtime that connects sooner
	// waits in the listener's backlog until then.
	go e.api.Serve(lis)
	go e.watchExit()
	if statusFIFO != nil {
		go e.watchRuntime(statusFIFO)
	}
	return e, nil
}

// runtimeCommand returns the program and arguments that start fn's runtime.
func runtimeCommand(fn Function, runtimeDir string) (string, []string, error) {
	switch fn.Runtime {
	case RuntimeNodeJS:
		name, args := noderuntime.Command(filepath.Join(runtimeDir, noderuntime.FileName))
		return name, args, nil
	case RuntimePython:
		_, args := pythonruntime.Command(filepath.Join(runtimeDir, pythonruntime.FileName))
		return pythonruntime.Interpreter(fn.taskRoot()), args, nil
	default:
		path, err := fn.bootstrapPath()
		return path, nil, err
	}
}

// processEnv is the environment Lambda gives a runtime, plus PATH and the
// AWS credentials of thaw's own environment, plus the function's own.
func (e *environment) processEnv() []string {
	region := regionFromEnv()
	execEnv := "AWS_Lambda_provided.al2023"
	switch e.fn.Runtime {
	case RuntimeNodeJS:
		execEnv = "AWS_Lambda_nodejs20.x"
	case RuntimePython:
		// The bootstrap adds the interpreter's minor version.
		execEnv = "AWS_Lambda_python3"
	}
	env := []string{
		"AWS_LAMBDA_RUNTIME_API=" + e.listener.Addr().String(),
		"_HANDLER=" + e.fn.Handler,
		"LAMBDA_TASK_ROOT=" + e.fn.taskRoot(),
		"LAMBDA_RUNTIME_DIR=" + e.fn.taskRoot(),
		"AWS_LAMBDA_FUNCTION_NAME=" + e.fn.Name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(e.fn.MemoryMB),
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + e.fn.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME=" + e.created.UTC().Format("2006/01/02") + "/[$LATEST]" + e.id,
		"AWS_REGION=" + region,
		"AWS_DEFAULT_REGION=" + region,
		"AWS_EXECUTION_ENV=" + execEnv,
		"TZ=:UTC",
		"LANG=en_US.UTF-8",
		"PATH=" + firstNonEmpty(os.Getenv("PATH"), "/usr/local/bin:/usr/bin:/bin"),
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "HOME"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return append(env, e.fn.sortedEnv()...)
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// watchExit marks the environment dead when its process tree ends.
func (e *environment) watchExit() {
	<-e.sandbox.Done()
	e.output.Flush()
	e.mu.Lock()
	e.state = StateDead
	e.mu.Unlock()
	e.api.Close()
	if e.pidFile != "" {
		os.Remove(e.pidFile)
	}
	if e.statusPath != "" {
		os.Remove(e.statusPath)
	}
	state, _ := e.sandbox.ExitState()
	e.logger.Debug("environment ended", "exit", state.String())
}

// waitInit waits for the Init phase: the runtime's first /next, an init error,
// an exit, or InitTimeout. It returns the error payload for the invocation
// that caused the cold start, nil on success.
func (e *environment) waitInit(ctx context.Context) []byte {
	timer := time.NewTimer(InitTimeout)
	defer timer.Stop()
	select {
	case <-e.initialized:
		return nil
	case <-e.initFailed:
		e.kill()
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.initErr
	case <-e.sandbox.Done():
	case <-e.runtimeExited:
	case <-timer.C:
		e.kill()
		return errorPayload("Runtime.InitTimeout", fmt.Sprintf("Init phase did not finish within %v", InitTimeout))
	case <-ctx.Done():
		e.kill()
		return errorPayload("Runtime.InitError", "the emulator is shutting down")
	}
	// The runtime exited during Init.
	e.mu.Lock()
	initErr := e.initErr
	e.mu.Unlock()
	if initErr != nil {
		return initErr
	}
	return errorPayload("Runtime.ExitError", fmt.Sprintf("Error: Runtime exited during init: %s", e.runtimeExitState()))
}

// runtimeExitState is how the runtime ended: as the launcher reported it
// when there are extensions, else as the sandbox's root.
func (e *environment) runtimeExitState() sandbox.ExitState {
	if e.runtimeExited != nil && isClosed(e.runtimeExited) {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.runtimeState
	}
	state, _ := e.sandbox.ExitState()
	return state
}

// assign queues inv for the runtime's next /next. The environment must be
// reserved for it; on a cold start it is assigned before the Init phase ends,
// so the runtime gets it without a freeze in between, as on Lambda.
func (e *environment) assign(inv *invocation) {
	e.pending <- inv
}

// run waits until the runtime takes the assigned inv and then for its outcome,
// the function timeout (counted from the hand-over), or the end of the
// environment. An invocation the platform ends (timeout, crash) gets its
// END and REPORT lines, and its log tail, here.
func (e *environment) run(inv *invocation) outcome {
	select {
	case <-inv.started:
	case <-e.sandbox.Done():
		return e.exitOutcome(inv)
	case <-e.runtimeExited:
		return e.exitOutcome(inv)
	}
	timer := time.NewTimer(time.Until(inv.deadline))
	defer timer.Stop()
	select {
	case out := <-inv.done:
		return out
	case <-timer.C:
		e.logger.Info("invocation timed out; ending the environment", "request_id", inv.id, "timeout", e.fn.Timeout)
		// Lines printed before the deadline belong to this invocation.
		e.sandbox.SyncOutput(50 * time.Millisecond)
		message := fmt.Sprintf("Task timed out after %.2f seconds", e.fn.Timeout.Seconds())
		tail := e.logs.end(e, inv, "timeout", "Sandbox.Timedout",
			time.Now().UTC().Format("2006-01-02T15:04:05.000Z")+" "+inv.id+" "+message)
		if e.hasExtensions() {
			// Extensions get SHUTDOWN(timeout) and their grace period
			// while the caller already has its answer; shuttingDown keeps
			// the environment from being reserved meanwhile.
			e.mu.Lock()
			e.shuttingDown = true
			e.mu.Unlock()
			go e.shutdown(shutdownTimeout)
		} else {
			e.kill()
		}
		return outcome{functionError: "Unhandled", logTail: tail, payload: errorPayload("Sandbox.Timedout",
			fmt.Sprintf("RequestId: %s Error: %s", inv.id, message))}
	case <-e.sandbox.Done():
		return e.exitOutcome(inv)
	case <-e.runtimeExited:
		// watchRuntime shuts the extensions down meanwhile.
		return e.exitOutcome(inv)
	}
}

// exitOutcome is the outcome of inv when the runtime exited while it was
// assigned: its answer if it gave one just before, else Runtime.ExitError
// (Runtime.OutOfMemory when the memory cap killed it), or a service error
// when thaw failed to thaw the environment for inv. An invocation that
// had started gets its END and REPORT lines and its log tail.
func (e *environment) exitOutcome(inv *invocation) outcome {
	select {
	case out := <-inv.done:
		return out
	default:
	}
	e.mu.Lock()
	thawErr := e.thawErr
	e.mu.Unlock()
	var out outcome
	var errorType, message string
	if thawErr != nil {
		errorType, message = "ServiceException", thawErr.Error()
		out = outcome{serviceError: thawErr, payload: errorPayload(errorType, message)}
	} else {
		state := e.runtimeExitState()
		errorType = "Runtime.ExitError"
		if state.OOMKilled {
			errorType = "Runtime.OutOfMemory"
		}
		message = fmt.Sprintf("RequestId: %s Error: Runtime exited with error: %s", inv.id, state)
		out = outcome{functionError: "Unhandled", payload: errorPayload(errorType, message)}
	}
	if isClosed(inv.started) {
		if thawErr != nil {
			message = "RequestId: " + inv.id + " Error: " + message
		}
		out.logTail = e.logs.end(e, inv, "error", errorType, message)
	}
	return out
}

// complete delivers the outcome of the current invocation, if id names it.
func (e *environment) complete(id string, out outcome) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.current == nil || e.current.id != id {
		return fmt.Errorf("lambda: invocation %s is not the current one", id)
	}
	e.current.done <- out
	e.current = nil
	e.busy = false
	e.lastUsed = time.Now()
	return nil
}

// tryReserve marks an idle environment busy and reports whether it was idle.
// As on Lambda, an environment is idle only when the runtime has answered its
// last event and every extension has finished with it too (asked for its next
// event or exited): an extension still working on an INVOKE keeps it busy.
func (e *environment) tryReserve() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.busy || !e.extensionsReadyLocked() || e.shuttingDown || e.state == StateDead || e.state == StateInitializing || e.dead() {
		return false
	}
	e.busy = true
	return true
}

// currentRequestID returns the id of the invocation being processed, or "".
func (e *environment) currentRequestID() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.current == nil {
		return ""
	}
	return e.current.id
}

// idleFor reports how long the environment has been idle, 0 when busy or
// while an extension still works on the last event.
func (e *environment) idleFor(now time.Time) time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.busy || !e.extensionsReadyLocked() || e.state == StateDead {
		return 0
	}
	return now.Sub(e.lastUsed)
}

// dead reports whether the environment has ended.
func (e *environment) dead() bool {
	select {
	case <-e.sandbox.Done():
		return true
	default:
		return false
	}
}

// kill ends the environment: its process tree (thawed first if frozen, so no
// process is left frozen) and its Runtime API server. It returns the
// sandbox's cleanup error; when the kill itself failed (the kernel did not
// confirm it in time), the environment is marked abandoned: the pool no
// longer counts or reuses it, and Close tries again.
func (e *environment) kill() error {
	var err error
	if e.killFault != nil {
		err = e.killFault()
	}
	if err == nil {
		err = e.sandbox.Kill()
	}
	if errors.Is(err, sandbox.ErrKilled) {
		err = nil
	}
	e.api.Close()
	e.mu.Lock()
	e.state = StateDead
	if err != nil && !e.dead() {
		e.killErr = err
	}
	e.mu.Unlock()
	if err != nil {
		e.logger.Error("kill environment", "err", err)
	}
	return err
}

// abandoned reports whether a kill of the environment failed while its
// process tree may still be alive.
func (e *environment) abandoned() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.killErr != nil && !e.dead()
}

// EnvironmentInfo describes an environment for /_thaw/environments.
type EnvironmentInfo struct {
	ID            string    `json:"id"`
	Function      string    `json:"function"`
	State         State     `json:"state"`
	Pid           int       `json:"pid"`
	Invocations   int       `json:"invocations"`
	FrozenTotalMs float64   `json:"frozen_total_ms"`
	Created       time.Time `json:"created"`
	FreezeMode    string    `json:"freeze_mode"`
	// MemoryMode is the cgroup hierarchy that caps and measures the
	// environment's memory (cgroup-v1, cgroup-v2) or "none"; CPUMode the one
	// applying its CPU quota, or "none". A hybrid machine freezes with
	// cgroup-v2 and caps with cgroup-v1.
	MemoryMode string `json:"memory_mode"`
	CPUMode    string `json:"cpu_mode"`
}

func (e *environment) info(now time.Time) EnvironmentInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	frozen := e.frozenTotal
	if !e.frozenSince.IsZero() {
		frozen += now.Sub(e.frozenSince)
	}
	state := e.state
	if e.dead() {
		state = StateDead
	}
	return EnvironmentInfo{
		ID: e.id, Function: e.fn.Name, State: state, Pid: e.sandbox.Pid(),
		Invocations: e.invocations, FrozenTotalMs: float64(frozen.Microseconds()) / 1000,
		Created: e.created, FreezeMode: e.sandbox.Mode().String(),
		MemoryMode: limitMode(e.sandbox.Modes().Memory), CPUMode: limitMode(e.sandbox.Modes().CPU),
	}
}

// limitMode names the hierarchy of a memory or cpu cgroup, "none" without one.
func limitMode(m sandbox.Mode) string {
	if m == sandbox.ModeCgroupV1 || m == sandbox.ModeCgroupV2 {
		return m.String()
	}
	return "none"
}
