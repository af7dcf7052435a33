package lambda

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
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
// sandbox and the API server it talks to. The environment keeps the
// lifecycle (Init, the current invocation, freeze and thaw, shutdown); the
// APIs its processes call are types of their own that reach it through
// narrow interfaces, which the environment implements: runtimeAPI
// (runtimeHost), extensionRegistry (extensionHost) and telemetryHub
// (telemetryHost). The function's logSink, shared by its environments, knows
// it only by its id.
//
// Lock order: mu, then telemetry.mu, then a subscriber's mu; the logSink's
// mu is never held while another is taken. The sandbox's own lock comes
// after mu: its Freeze, Thaw and SetCPUShare are called with mu held. The
// extension registry has no lock of its own: its state is guarded by mu,
// because whether every extension has finished its phase decides,
// atomically with the runtime's state, when Init ends and when the
// environment freezes.
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

	// runtime, extensions and telemetry serve the Runtime, Extensions and
	// Telemetry APIs on api.
	runtime    *runtimeAPI
	extensions *extensionRegistry
	telemetry  *telemetryHub

	// initialized is closed at the runtime's first /next; initFailed when it
	// reports an error through /init/error instead (initErr holds the body).
	initialized chan struct{}
	initFailed  chan struct{}
	// pending hands the next event to the runtime's /next call.
	pending chan *invocation

	mu           sync.Mutex    // guards the fields below and extensions' state
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
	// shuttingDown: shutdown has begun; the environment is neither frozen
	// nor reserved again.
	shuttingDown bool // guarded by mu

	// thawed is closed at the thaw that ends the current freeze; telemetry
	// deliveries wait for it.
	thawed chan struct{} // guarded by mu

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
	e.extensions = newExtensionRegistry(e, &e.mu, fn, e.logger)
	e.telemetry = newTelemetryHub(e, e.extensions, e.logger)
	e.runtime = &runtimeAPI{host: e, logger: e.logger}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lambda: runtime API listener: %w", err)
	}
	e.listener = lis
	e.api = &http.Server{Handler: e.apiHandler(), ReadHeaderTimeout: 10 * time.Second}

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
			e.extensions.expected = len(extensions)
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
	out := logs.writerFor(e.id, e.currentRequestID, func(line string) {
		e.telemetry.publish(telemetryFunction, "function", line)
	})
	e.output = out
	e.telemetry.platformInitStart(e.fn, e.id)
	e.sandbox, err = sandbox.Start(ctx, sandbox.Config{
		Path:              path,
		Args:              args,
		Dir:               fn.taskRoot(),
		Env:               e.processEnv(),
		Stdout:            out,
		Stderr:            out,
		MemoryMB:          fn.MemoryMB,
		CPUShareOfOneCore: fn.cpuShare(),
		// Burst CPU during Init, as on Lambda: checkInitLocked applies
		// the share when the Init phase ends.
		StartCPUUncapped: true,
		Name:             fn.Name + "-" + id,
		Mode:             mode,
		Logger:           e.logger,
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

// apiHandler returns the handler of the environment's API server: the
// Runtime, Extensions and Telemetry APIs on one port.
func (e *environment) apiHandler() http.Handler {
	mux := http.NewServeMux()
	e.runtime.routes(mux)
	e.extensions.routes(mux)
	e.telemetry.routes(mux)
	return mux
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

// firstNonEmpty returns the first of values that is not "".
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
		tail := e.logEnd(inv, "timeout", "Sandbox.Timedout",
			time.Now().UTC().Format("2006-01-02T15:04:05.000Z")+" "+inv.id+" "+message)
		if e.extensions.registered() {
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
		out.logTail = e.logEnd(inv, "error", errorType, message)
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
	if e.busy || !e.extensions.readyLocked() || e.shuttingDown || e.state == StateDead || e.state == StateInitializing || e.dead() {
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
	if e.busy || !e.extensions.readyLocked() || e.state == StateDead {
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

// ended is closed when the environment's process tree has ended.
func (e *environment) ended() <-chan struct{} { return e.sandbox.Done() }

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

// info describes the environment as it is at now.
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

// watchRuntime reads the runtime's exit status from the launcher's FIFO.
// When the runtime exits while the environment is not shutting down (a
// crash), the extensions get SHUTDOWN(failure) and their grace period before
// the tree is killed, as on Lambda. It ends with the environment.
func (e *environment) watchRuntime(fifo *os.File) {
	go func() {
		<-e.sandbox.Done()
		fifo.Close()
	}()
	line, err := bufio.NewReader(fifo).ReadString('\n')
	if err != nil {
		return // the environment ended first
	}
	state, err := parseWaitStatus(line)
	if err != nil {
		e.logger.Warn("launcher reported an unreadable runtime status", "err", err)
		state = sandbox.ExitState{Code: -1}
	}
	e.mu.Lock()
	e.runtimeState = state
	close(e.runtimeExited)
	failure := !e.shuttingDown
	e.shuttingDown = true
	e.mu.Unlock()
	e.logger.Info("runtime exited", "exit", state.String())
	if failure {
		e.shutdown(shutdownFailure)
	}
}

// shutdown ends the environment. Without extensions it is killed at once.
// With extensions, as on Lambda: the tree is thawed, extensions subscribed
// to SHUTDOWN receive it with reason, and they get until every one has asked
// for its next event again or exited, at most shutdownGrace minus
// runtimeGrace; then the runtime gets SIGTERM and runtimeGrace to exit, and
// whatever is left is killed. Concurrent and repeated calls wait for the
// first. It returns the kill's error.
func (e *environment) shutdown(reason string) error {
	e.shutdownOnce.Do(func() { e.shutdownErr = e.shutdownNow(reason) })
	return e.shutdownErr
}

// shutdownNow is shutdown, run once.
func (e *environment) shutdownNow(reason string) error {
	e.mu.Lock()
	e.shuttingDown = true
	if !e.extensions.registeredLocked() || e.dead() {
		e.mu.Unlock()
		return e.kill()
	}
	if err := e.thawLocked(); err != nil {
		e.mu.Unlock()
		return e.kill()
	}
	e.mu.Unlock()
	// Subscribers get what is buffered before they are told to shut down.
	e.telemetry.flush(runtimeGrace)
	e.mu.Lock()
	e.extensions.sendShutdownLocked(reason, time.Now().Add(shutdownGrace))
	e.mu.Unlock()
	e.logger.Info("sending SHUTDOWN to extensions", "reason", reason)

	pids := launcherPids(e.pidFile)
	extensionsDone := time.Now().Add(shutdownGrace - runtimeGrace)
	for time.Now().Before(extensionsDone) && !e.dead() {
		e.mu.Lock()
		ready := e.extensions.readyLocked()
		e.mu.Unlock()
		if ready || (len(pids) > 0 && allExited(pids)) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !e.dead() {
		// With extensions the root is the launcher, which passes SIGTERM
		// on to the runtime and reports its exit.
		syscall.Kill(e.sandbox.Pid(), syscall.SIGTERM)
		select {
		case <-e.sandbox.Done():
		case <-e.runtimeExited:
		case <-time.After(runtimeGrace):
		}
	}
	return e.kill()
}

// nextEvent is the runtime asking for its next event in /next. Its first
// call ends the runtime's part of the Init phase and waits for the rest
// (every extension registered and asking for its first event). Unless an
// event is already pending, the environment is then frozen (if the
// extensions are done too) and the call waits for one. It returns nil when
// ctx or the environment ends first.
func (e *environment) nextEvent(ctx context.Context) *invocation {
	e.mu.Lock()
	e.runtimeWaiting = true
	firstCall := !e.runtimeCalledNext
	e.runtimeCalledNext = true
	if firstCall {
		// Published before checkInitLocked can publish the init report.
		e.telemetry.platformInitRuntimeDone("success", "")
	}
	e.checkInitLocked()
	e.mu.Unlock()
	select {
	case <-e.initialized:
	case <-ctx.Done():
		return nil
	case <-e.sandbox.Done():
		return nil
	}
	if inv := e.takeOrFreeze(); inv != nil {
		return inv
	}
	select {
	case inv := <-e.pending:
		return inv
	case <-ctx.Done():
		return nil
	case <-e.sandbox.Done():
		return nil
	}
}

// initOver reports whether the Init phase has ended.
func (e *environment) initOver() bool { return isClosed(e.initialized) }

// checkInitLocked ends the Init phase once the runtime has asked for its
// first event and every expected extension has registered and asked for its
// first event; the caller holds mu.
func (e *environment) checkInitLocked() {
	if isClosed(e.initialized) || e.initErr != nil {
		return
	}
	if !e.runtimeCalledNext || !e.extensions.allRegisteredLocked() || !e.extensions.readyLocked() {
		return
	}
	e.initDuration = time.Since(e.created)
	e.endInitBurstLocked()
	close(e.initialized)
	e.telemetry.platformInitReport(e.initDuration)
	e.telemetry.endInit()
}

// endInitBurstLocked caps the environment's CPU at its share of a core, from
// the end of the Init phase on: Init runs uncapped, as Lambda gives managed
// runtimes burst CPU during Init. It runs before the first event is handed
// over; the caller holds mu. The sandbox logs the switch (at debug level).
// Without a cpu cgroup (signal mode, CPUScaling off) there is nothing to
// cap; a failure leaves the environment uncapped, with a warning.
func (e *environment) endInitBurstLocked() {
	share := e.fn.cpuShare()
	if share == 0 {
		return
	}
	err := e.sandbox.SetCPUShare(share)
	if err != nil && !errors.Is(err, sandbox.ErrUnavailable) && !errors.Is(err, sandbox.ErrKilled) && !errors.Is(err, sandbox.ErrExited) {
		e.logger.Warn("cannot cap the CPU after Init; the environment runs uncapped", "cpu_share", share, "err", err)
	}
}

// initError records body, the error the runtime reported for its Init
// phase; the first such report fails the Init phase.
func (e *environment) initError(body []byte) {
	e.mu.Lock()
	first := e.initErr == nil
	e.initErr = body
	e.mu.Unlock()
	if first {
		e.telemetry.platformInitRuntimeDone("error", errorTypeOf(body))
		close(e.initFailed)
	}
}

// extensionReadyLocked is the registry telling that an extension has
// finished its current phase: the idle time starts if no invocation is
// current, and the Init phase may end or the environment freeze; the
// caller holds mu.
func (e *environment) extensionReadyLocked() {
	if e.current == nil {
		// The environment's idle time starts when its last extension is done.
		e.lastUsed = time.Now()
	}
	e.checkInitLocked()
	e.maybeFreezeLocked()
}

// extensionFailedLocked is the registry telling that the extension name
// reported an error of errorType with body. One reported during Init fails
// the Init phase (unless it already ended or failed); otherwise the
// environment may now freeze without it. The caller holds mu.
func (e *environment) extensionFailedLocked(name, errorType string, body []byte, duringInit bool) {
	failInit := duringInit && !isClosed(e.initialized) && e.initErr == nil
	if failInit {
		e.initErr = errorPayload(errorType, fmt.Sprintf("Extension %s failed to initialize: %s", name, bytes.TrimSpace(body)))
		close(e.initFailed)
	} else {
		e.maybeFreezeLocked()
	}
}

// takeOrFreeze returns the pending event if there is one, or freezes the
// environment (if the extensions are done too) and returns nil.
func (e *environment) takeOrFreeze() *invocation {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state == StateInitializing {
		e.state = StateRunning
	}
	select {
	case inv := <-e.pending:
		return inv
	default:
		e.maybeFreezeLocked()
		return nil
	}
}

// maybeFreezeLocked freezes the environment when the runtime waits for its
// next event, none is pending, and every extension has finished too; the
// caller holds mu.
func (e *environment) maybeFreezeLocked() {
	if !e.runtimeWaiting || e.shuttingDown || e.state == StateFrozen || !isClosed(e.initialized) ||
		len(e.pending) > 0 || !e.extensions.readyLocked() {
		return
	}
	e.freezeLocked()
}

// thawAndStart thaws the environment and makes inv the current invocation,
// starting its timeout and sending INVOKE to the extensions. If the thaw
// fails, inv is not started and the error is returned: the caller ends the
// environment, and inv fails with it.
func (e *environment) thawAndStart(inv *invocation) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.thawLocked(); err != nil {
		return err
	}
	e.startLocked(inv)
	return nil
}

// startLocked makes inv the current invocation, starting its timeout and
// sending INVOKE to the extensions; the caller holds mu.
func (e *environment) startLocked(inv *invocation) {
	e.runtimeWaiting = false
	e.current = inv
	e.invocations++
	inv.startedAt = time.Now()
	inv.deadline = inv.startedAt.Add(e.fn.Timeout)
	close(inv.started)
	e.extensions.sendInvokeLocked(inv)
}

// freezeLocked freezes the process tree and records when.
func (e *environment) freezeLocked() {
	if e.state == StateDead {
		return
	}
	took, err := e.sandbox.Freeze()
	if err != nil {
		e.logger.Warn("freeze failed; the environment keeps running", "err", err)
		return
	}
	e.state = StateFrozen
	e.thawed = make(chan struct{})
	e.frozenSince = time.Now()
	e.logger.Debug("frozen", "latency", took, "mode", e.sandbox.Mode())
	if e.fn.onFreeze != nil {
		e.fn.onFreeze(e.fn.Name)
	}
}

// thawLocked thaws the process tree if it is frozen. A failed thaw leaves
// the tree frozen for good: it records the error in thawErr and marks the
// environment shutting down, so it is not reserved again; the caller kills
// it (without mu) so that the event fails at once instead of waiting out
// its timeout in a frozen runtime.
func (e *environment) thawLocked() error {
	if e.state != StateFrozen {
		return nil
	}
	var took time.Duration
	var err error
	if e.thawFault != nil {
		err = e.thawFault()
	}
	if err == nil {
		took, err = e.sandbox.Thaw()
	}
	if err != nil {
		e.logger.Error("thaw failed; ending the environment", "err", err)
		e.thawErr = fmt.Errorf("lambda: thaw environment %s of %s: %w", e.id, e.fn.Name, err)
		e.shuttingDown = true
		return err
	}
	close(e.thawed)
	frozen := time.Since(e.frozenSince)
	e.frozenTotal += frozen
	e.frozenSince = time.Time{}
	e.state = StateRunning
	e.logger.Debug("thawed", "latency", took, "frozen_for", frozen)
	if e.fn.onThaw != nil {
		e.fn.onThaw(e.fn.Name)
	}
	return nil
}

// frozen reports whether the environment is frozen now.
func (e *environment) frozen() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state == StateFrozen
}

// waitThawed returns once the environment is not frozen: true, or false if
// stop closed or the environment ended first. A freeze can still begin right
// after it returns; a delivery caught by it completes after the thaw.
func (e *environment) waitThawed(stop <-chan struct{}) bool {
	for {
		e.mu.Lock()
		frozen, thawed := e.state == StateFrozen, e.thawed
		e.mu.Unlock()
		if !frozen {
			return true
		}
		select {
		case <-thawed:
		case <-stop:
			return false
		case <-e.sandbox.Done():
			return false
		}
	}
}

// handOver gives inv to the runtime as the answer to its pending /next and
// ends the freeze the runtime may be in, in the environment's resume order.
// runtimeAddr is the address of the runtime's end of the connection.
func (e *environment) handOver(w http.ResponseWriter, runtimeAddr string, inv *invocation) {
	if e.fn.resumeOrder == ResumeThawFirst {
		if err := e.thawAndStart(inv); err != nil {
			e.kill() // closes this connection too; run reports the failure
			return
		}
		e.telemetry.flush(telemetryFlushTimeout)
		e.logStart(inv)
		writeNext(w, e.fn.Name, inv)
		return
	}
	// Event first: the invocation starts (its deadline goes into the
	// headers) and its answer is written and flushed while the tree may
	// still be frozen: the kernel keeps it in the runtime's socket. START
	// comes before the thaw, so every line the resumed function prints
	// follows it, as on Lambda.
	e.mu.Lock()
	frozen := e.state == StateFrozen
	e.startLocked(inv)
	e.mu.Unlock()
	e.logStart(inv)
	if !frozen {
		writeNext(w, e.fn.Name, inv)
		e.telemetry.flush(telemetryFlushTimeout)
		return
	}
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		writeNext(w, e.fn.Name, inv)
		if err := http.NewResponseController(w).Flush(); err != nil {
			e.logger.Debug("flush /next before the thaw", "request_id", inv.id, "err", err)
		}
	}()
	deadline := time.Now().Add(eventFlushBound)
	bound := time.NewTimer(eventFlushBound)
	select {
	case <-flushed:
		// Written is not yet received: on loopback the kernel may finish
		// the delivery in a softirq after the write returned.
		switch err := waitReceived(runtimeAddr, e.listener.Addr().String(), deadline); {
		case errors.Is(err, errNotReceived):
			e.logger.Warn("event not in the runtime's socket before the thaw; thawing anyway", "request_id", inv.id, "err", err)
		case err != nil:
			// No sock_diag here (a kernel without inet_diag): the write
			// returned, which is as far as thaw can see.
			e.logger.Debug("cannot check that the event reached the runtime's socket", "request_id", inv.id, "err", err)
		}
	case <-bound.C:
		e.logger.Warn("event not written to the runtime's socket before the thaw; thawing anyway", "request_id", inv.id, "bound", eventFlushBound)
	}
	bound.Stop()
	e.mu.Lock()
	err := e.thawLocked()
	e.mu.Unlock()
	if err != nil {
		// The runtime would sit frozen on its event until the timeout.
		// Killing it also ends the write to its socket, if still blocked.
		e.kill()
		<-flushed
		return
	}
	// The handler may return only once the answer is written.
	<-flushed
	e.telemetry.flush(telemetryFlushTimeout)
}

// currentInvocation returns the event the runtime is processing, or nil.
func (e *environment) currentInvocation() *invocation {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.current
}

// finishInvocation ends inv, the current invocation, with the outcome the
// runtime posted: its END and REPORT lines and telemetry once the lines it
// printed before have arrived, then the answer to its caller.
func (e *environment) finishInvocation(inv *invocation, out outcome) error {
	// Lines the function printed before it posted its result belong to
	// this invocation: let them reach the log before END is written.
	if err := e.sandbox.SyncOutput(50 * time.Millisecond); err != nil {
		e.logger.Debug("function output still in flight at END", "err", err)
	}
	status, errorType := "success", ""
	if out.functionError != "" {
		status, errorType = "error", errorTypeOf(out.payload)
	}
	out.logTail = e.logEnd(inv, status, errorType, "")
	return e.complete(inv.id, out)
}

// logStart writes the START line of inv and publishes its platform.start.
func (e *environment) logStart(inv *invocation) {
	e.logs.start(e.id, inv)
	e.telemetry.platformStart(inv)
}

// logEnd writes the END and REPORT lines of inv, publishes its
// platform.runtimeDone and platform.report telemetry with status (success,
// error or timeout) and returns its log tail, if one was asked for. An
// invocation the platform ended (a timeout, a crash) passes the line Lambda
// logs for it as platformError (see logSink.end). Only the first call for
// an invocation writes anything and takes its tail; later ones return nil.
func (e *environment) logEnd(inv *invocation, status, errorType, platformError string) []byte {
	if !inv.logEnded.CompareAndSwap(false, true) {
		return nil
	}
	r := e.report(inv)
	r.errorType = errorType
	e.logs.end(e.id, inv, r, status, platformError)
	e.telemetry.platformDone(inv, status, r)
	return e.logs.takeTail(inv)
}

// report measures inv now, taking the Init Duration if this is the first
// invocation of the environment.
func (e *environment) report(inv *invocation) invocationReport {
	ms := float64(time.Since(inv.startedAt).Microseconds()) / 1000
	r := invocationReport{durationMs: ms, billedMs: int64(math.Ceil(ms)), memoryMB: e.fn.MemoryMB, maxMemoryMB: maxMemoryUsedMB(e.sandbox)}
	e.mu.Lock()
	if e.coldPending {
		e.coldPending = false
		r.initMs = float64(e.initDuration.Microseconds()) / 1000
	}
	e.mu.Unlock()
	return r
}

// maxMemoryUsedMB is the sandbox's peak memory in MB, 0 when unknown.
func maxMemoryUsedMB(s *sandbox.Sandbox) int64 {
	peak, err := s.PeakMemory()
	if err != nil {
		return 0
	}
	return (peak + 1<<20 - 1) >> 20
}

// isClosed reports whether c is closed.
func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
