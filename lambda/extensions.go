package lambda

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/thaw-dev/thaw/lambda/sandbox"
)

// Extensions API 2020-01-01 paths, served beside the Runtime API on each
// environment's own port.
const (
	extensionRegisterPath  = "POST /2020-01-01/extension/register"
	extensionNextPath      = "GET /2020-01-01/extension/event/next"
	extensionInitErrorPath = "POST /2020-01-01/extension/init/error"
	extensionExitErrorPath = "POST /2020-01-01/extension/exit/error"

	// maxExtensions is Lambda's limit of extensions per function.
	maxExtensions = 10
	// shutdownGrace is how long extensions and runtime together get after
	// SHUTDOWN before the environment is killed; runtimeGrace is the part of
	// it that the runtime gets after SIGTERM.
	shutdownGrace = 2 * time.Second
	runtimeGrace  = 300 * time.Millisecond
)

// Extension event types and shutdown reasons.
const (
	eventInvoke   = "INVOKE"
	eventShutdown = "SHUTDOWN"

	shutdownSpindown = "spindown"
	shutdownTimeout  = "timeout"
	shutdownFailure  = "failure"
)

// errNoExtension means a request named no registered extension.
var errNoExtension = errors.New("lambda: unknown extension identifier")

// extension is one registered extension of an environment. Its fields are
// guarded by the environment's mu.
type extension struct {
	id         string
	name       string
	onInvoke   bool
	onShutdown bool
	// ready is true while the extension waits in /event/next with nothing
	// queued for it: it has finished the current phase.
	ready bool
	// exited is set by /exit/error: the extension no longer takes part.
	exited bool
	// queue holds events not yet delivered, oldest first; wake is signalled
	// (non-blocking) when one is added.
	queue [][]byte
	wake  chan struct{}
}

// extensionExecutables lists the executable regular files in dir, sorted by
// name, as Lambda starts those in /opt/extensions.
func extensionExecutables(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("lambda: extensions: %w", err)
	}
	var paths []string
	for _, entry := range entries {
		path := filepath.Join(dir, entry.Name())
		info, err := os.Stat(path)
		if err != nil || !info.Mode().IsRegular() || info.Mode()&0o111 == 0 {
			continue
		}
		paths = append(paths, path)
	}
	sort.Strings(paths)
	return paths, nil
}

// extensionLauncher is the shell script that is the sandbox's root process
// when a function has external extensions. It starts each extension in the
// background and records its pid, then runs the runtime as its child and
// stays the root, so that the runtime's exit does not end the tree: it
// forwards SIGTERM to the runtime, and when the runtime exits it writes the
// runtime's wait status (as sh reports it: 128+N for signal N) as one line to
// the status FIFO and then sleeps until it is killed, leaving the emulator to
// shut the extensions down. Every process shares the sandbox's cgroups and
// process group. Arguments: PIDFILE STATUSFIFO N EXT1..EXTN RUNTIME ARGS...
const extensionLauncher = `pidfile=$1; status=$2; n=$3; shift 3
while [ "$n" -gt 0 ]; do "$1" & echo $! >>"$pidfile"; shift; n=$((n-1)); done
"$@" &
rpid=$!
trap 'kill -TERM "$rpid" 2>/dev/null' TERM
wait "$rpid"; code=$?
while kill -0 "$rpid" 2>/dev/null; do wait "$rpid"; code=$?; done
echo "$code" >"$status"
trap - TERM
exec sleep 2147483647`

// launcherCommand wraps the runtime command path/args in extensionLauncher.
func launcherCommand(extensions []string, pidFile, statusFIFO, path string, args []string) (string, []string) {
	all := []string{"-c", extensionLauncher, "thaw-extensions", pidFile, statusFIFO, strconv.Itoa(len(extensions))}
	all = append(all, extensions...)
	all = append(all, path)
	return "/bin/sh", append(all, args...)
}

// openStatusFIFO creates the FIFO at path through which the launcher reports
// the runtime's exit, and opens it. It is opened for reading and writing so
// that neither the open nor the launcher's write ever blocks.
func openStatusFIFO(path string) (*os.File, error) {
	os.Remove(path)
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		return nil, fmt.Errorf("lambda: runtime status FIFO: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("lambda: runtime status FIFO: %w", err)
	}
	return f, nil
}

// parseWaitStatus turns the status sh's wait reports (128+N for a process
// ended by signal N) into an ExitState.
func parseWaitStatus(line string) (sandbox.ExitState, error) {
	code, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return sandbox.ExitState{}, fmt.Errorf("lambda: runtime status %q: %w", line, err)
	}
	if code > 128 {
		return sandbox.ExitState{Code: -1, Signal: syscall.Signal(code - 128)}, nil
	}
	return sandbox.ExitState{Code: code}, nil
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

// extensionsAPI adds the Extensions API routes to mux.
func (e *environment) extensionsAPI(mux *http.ServeMux) {
	mux.HandleFunc(extensionRegisterPath, e.handleExtensionRegister)
	mux.HandleFunc(extensionNextPath, e.handleExtensionNext)
	mux.HandleFunc(extensionInitErrorPath, e.handleExtensionInitError)
	mux.HandleFunc(extensionExitErrorPath, e.handleExtensionExitError)
}

func (e *environment) handleExtensionRegister(w http.ResponseWriter, r *http.Request) {
	name := r.Header.Get("Lambda-Extension-Name")
	if name == "" {
		writeRuntimeError(w, http.StatusBadRequest, "Extension.InvalidRequest", "missing header Lambda-Extension-Name")
		return
	}
	var req struct {
		Events []string `json:"events"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		writeRuntimeError(w, http.StatusBadRequest, "Extension.InvalidRequest", "register body: "+err.Error())
		return
	}
	ext := &extension{id: newRequestID(), name: name, wake: make(chan struct{}, 1)}
	for _, event := range req.Events {
		switch event {
		case eventInvoke:
			ext.onInvoke = true
		case eventShutdown:
			ext.onShutdown = true
		default:
			writeRuntimeError(w, http.StatusBadRequest, "Extension.InvalidEventType", fmt.Sprintf("event type %q is not INVOKE or SHUTDOWN", event))
			return
		}
	}
	e.mu.Lock()
	var refusal string
	switch {
	case isClosed(e.initialized):
		refusal = "extensions can register only during the Init phase"
	case len(e.extensions) >= maxExtensions:
		refusal = fmt.Sprintf("at most %d extensions may register", maxExtensions)
	default:
		for _, other := range e.extensions {
			if other.name == name {
				refusal = "an extension named " + name + " is already registered"
			}
		}
	}
	if refusal == "" {
		e.extensions = append(e.extensions, ext)
	}
	e.mu.Unlock()
	if refusal != "" {
		writeRuntimeError(w, http.StatusForbidden, "Extension.RegistrationRefused", refusal)
		return
	}
	e.logger.Info("extension registered", "extension", name, "events", req.Events)
	w.Header().Set("Lambda-Extension-Identifier", ext.id)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(map[string]string{
		"functionName":    e.fn.Name,
		"functionVersion": "$LATEST",
		"handler":         e.fn.Handler,
	})
}

// extensionLocked returns the extension that r identifies; the caller holds mu.
func (e *environment) extensionLocked(r *http.Request) (*extension, error) {
	id := r.Header.Get("Lambda-Extension-Identifier")
	for _, ext := range e.extensions {
		if ext.id == id && id != "" {
			return ext, nil
		}
	}
	return nil, fmt.Errorf("%w %q", errNoExtension, id)
}

// handleExtensionNext blocks until the next event for the extension. Its
// arrival is the extension saying it has finished the current phase: when the
// runtime and every other extension have too, the environment is frozen here,
// inside the request, as the runtime's /next does.
func (e *environment) handleExtensionNext(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	ext, err := e.extensionLocked(r)
	if err != nil {
		e.mu.Unlock()
		writeRuntimeError(w, http.StatusForbidden, "Extension.UnknownExtensionIdentifier", err.Error())
		return
	}
	if len(ext.queue) == 0 {
		ext.ready = true
		if e.current == nil {
			// The environment's idle time starts when its last extension is done.
			e.lastUsed = time.Now()
		}
		e.checkInitLocked()
		e.maybeFreezeLocked()
	}
	e.mu.Unlock()
	for {
		e.mu.Lock()
		var event []byte
		if len(ext.queue) > 0 {
			event, ext.queue = ext.queue[0], ext.queue[1:]
		}
		e.mu.Unlock()
		if event != nil {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Lambda-Extension-Event-Identifier", newRequestID())
			w.WriteHeader(http.StatusOK)
			w.Write(event)
			return
		}
		select {
		case <-ext.wake:
		case <-r.Context().Done():
			return
		case <-e.sandbox.Done():
			return
		}
	}
}

// queueEventLocked hands event to ext; the caller holds mu.
func (ext *extension) queueEventLocked(event []byte) {
	ext.ready = false
	ext.queue = append(ext.queue, event)
	select {
	case ext.wake <- struct{}{}:
	default:
	}
}

// sendInvokeLocked queues the INVOKE event of inv for every extension that
// subscribed to it; the caller holds mu.
func (e *environment) sendInvokeLocked(inv *invocation) {
	var event []byte
	for _, ext := range e.extensions {
		if !ext.onInvoke || ext.exited {
			continue
		}
		if event == nil {
			event, _ = json.Marshal(map[string]any{
				"eventType":          eventInvoke,
				"deadlineMs":         inv.deadline.UnixMilli(),
				"requestId":          inv.id,
				"invokedFunctionArn": functionARN(e.fn.Name),
				"tracing":            map[string]string{"type": "X-Amzn-Trace-Id", "value": inv.traceID},
			})
		}
		ext.queueEventLocked(event)
	}
}

// extensionsReadyLocked reports whether every registered extension has
// finished its current phase; the caller holds mu.
func (e *environment) extensionsReadyLocked() bool {
	for _, ext := range e.extensions {
		if !ext.ready && !ext.exited {
			return false
		}
	}
	return true
}

func (e *environment) handleExtensionInitError(w http.ResponseWriter, r *http.Request) {
	e.extensionError(w, r, true)
}

func (e *environment) handleExtensionExitError(w http.ResponseWriter, r *http.Request) {
	e.extensionError(w, r, false)
}

// extensionError records an extension's init or exit error. An init error
// fails the Init phase like the runtime's; after either, the extension no
// longer holds back Init or the freeze.
func (e *environment) extensionError(w http.ResponseWriter, r *http.Request, duringInit bool) {
	errorType := r.Header.Get("Lambda-Extension-Function-Error-Type")
	if errorType == "" {
		writeRuntimeError(w, http.StatusBadRequest, "Extension.InvalidRequest", "missing header Lambda-Extension-Function-Error-Type")
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	e.mu.Lock()
	ext, err := e.extensionLocked(r)
	if err != nil {
		e.mu.Unlock()
		writeRuntimeError(w, http.StatusForbidden, "Extension.UnknownExtensionIdentifier", err.Error())
		return
	}
	ext.exited = true
	failInit := duringInit && !isClosed(e.initialized) && e.initErr == nil
	if failInit {
		e.initErr = errorPayload(errorType, fmt.Sprintf("Extension %s failed to initialize: %s", ext.name, bytes.TrimSpace(body)))
		close(e.initFailed)
	} else {
		e.maybeFreezeLocked()
	}
	e.mu.Unlock()
	e.logger.Info("extension reported an error", "extension", ext.name, "init", duringInit, "error_type", errorType, "body", string(body))
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, `{"status":"OK"}`)
}

// hasExtensions reports whether any extension registered.
func (e *environment) hasExtensions() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.extensions) > 0
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

func (e *environment) shutdownNow(reason string) error {
	e.mu.Lock()
	e.shuttingDown = true
	if len(e.extensions) == 0 || e.dead() {
		e.mu.Unlock()
		return e.kill()
	}
	if err := e.thawLocked(); err != nil {
		e.mu.Unlock()
		return e.kill()
	}
	e.mu.Unlock()
	// Subscribers get what is buffered before they are told to shut down.
	e.flushTelemetry(runtimeGrace)
	e.mu.Lock()
	deadline := time.Now().Add(shutdownGrace)
	event, _ := json.Marshal(map[string]any{"eventType": eventShutdown, "shutdownReason": reason, "deadlineMs": deadline.UnixMilli()})
	for _, ext := range e.extensions {
		if ext.onShutdown && !ext.exited {
			ext.queueEventLocked(event)
		}
	}
	e.mu.Unlock()
	e.logger.Info("sending SHUTDOWN to extensions", "reason", reason)

	pids := e.extensionPids()
	extensionsDone := time.Now().Add(shutdownGrace - runtimeGrace)
	for time.Now().Before(extensionsDone) && !e.dead() {
		e.mu.Lock()
		ready := e.extensionsReadyLocked()
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

// extensionPids returns the pids the launcher recorded for the external
// extensions.
func (e *environment) extensionPids() []int {
	if e.pidFile == "" {
		return nil
	}
	data, err := os.ReadFile(e.pidFile)
	if err != nil {
		return nil
	}
	var pids []int
	for _, field := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(field); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// allExited reports whether every pid has ended: it is gone or a zombie
// (the launcher reaps its children only while it waits for the runtime).
func allExited(pids []int) bool {
	for _, pid := range pids {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		// The state follows the parenthesised command name.
		if i := bytes.LastIndexByte(data, ')'); i >= 0 && i+2 < len(data) && data[i+2] == 'Z' {
			continue
		}
		return false
	}
	return true
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
