package lambda

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
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
// guarded by the registry's mu (the environment's).
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

// extensionHost is what the extension registry needs from the environment's
// lifecycle. The ...Locked methods are called with the shared mu held.
type extensionHost interface {
	// initOver reports whether the Init phase has ended, after which no
	// extension may register.
	initOver() bool
	// extensionReadyLocked is told that an extension has finished its
	// current phase: the environment may end its Init phase or freeze.
	extensionReadyLocked()
	// extensionFailedLocked is told that the extension name reported an
	// error (during Init if duringInit) and no longer takes part.
	extensionFailedLocked(name, errorType string, body []byte, duringInit bool)
	// ended is closed when the environment's process tree has ended.
	ended() <-chan struct{}
}

// extensionRegistry serves the Extensions API of one environment and keeps
// its registered extensions and the events queued for them.
//
// Its state is guarded by the environment's mu, which the registry shares
// rather than owning a lock of its own: whether every extension has finished
// its phase decides, under that same lock and together with the runtime's
// state, when the Init phase ends, when the environment freezes and whether
// it may be reserved. The environment reads that through the ...Locked
// methods; the HTTP handlers take mu themselves.
type extensionRegistry struct {
	host     extensionHost
	logger   *slog.Logger
	function string // the function's name, for events and registrations
	handler  string // the function's handler, for registrations

	mu *sync.Mutex // the environment's mu; guards the fields below
	// extensions are the registered extensions, in order of registration.
	extensions []*extension // guarded by mu
	// expected is how many external extensions were started: the Init
	// phase waits for that many to register. Set before the API is served.
	expected int // guarded by mu
}

// newExtensionRegistry returns the registry of an environment whose lifecycle
// is host and whose state mu guards.
func newExtensionRegistry(host extensionHost, mu *sync.Mutex, fn Function, logger *slog.Logger) *extensionRegistry {
	return &extensionRegistry{host: host, mu: mu, function: fn.Name, handler: fn.Handler, logger: logger}
}

// routes adds the Extensions API routes to mux.
func (x *extensionRegistry) routes(mux *http.ServeMux) {
	mux.HandleFunc(extensionRegisterPath, x.handleRegister)
	mux.HandleFunc(extensionNextPath, x.handleNext)
	mux.HandleFunc(extensionInitErrorPath, x.handleInitError)
	mux.HandleFunc(extensionExitErrorPath, x.handleExitError)
}

func (x *extensionRegistry) handleRegister(w http.ResponseWriter, r *http.Request) {
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
	x.mu.Lock()
	var refusal string
	switch {
	case x.host.initOver():
		refusal = "extensions can register only during the Init phase"
	case len(x.extensions) >= maxExtensions:
		refusal = fmt.Sprintf("at most %d extensions may register", maxExtensions)
	default:
		for _, other := range x.extensions {
			if other.name == name {
				refusal = "an extension named " + name + " is already registered"
			}
		}
	}
	if refusal == "" {
		x.extensions = append(x.extensions, ext)
	}
	x.mu.Unlock()
	if refusal != "" {
		writeRuntimeError(w, http.StatusForbidden, "Extension.RegistrationRefused", refusal)
		return
	}
	x.logger.Info("extension registered", "extension", name, "events", req.Events)
	w.Header().Set("Lambda-Extension-Identifier", ext.id)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(map[string]string{
		"functionName":    x.function,
		"functionVersion": "$LATEST",
		"handler":         x.handler,
	})
}

// identifyLocked returns the extension that r identifies; the caller holds mu.
func (x *extensionRegistry) identifyLocked(r *http.Request) (*extension, error) {
	id := r.Header.Get("Lambda-Extension-Identifier")
	for _, ext := range x.extensions {
		if ext.id == id && id != "" {
			return ext, nil
		}
	}
	return nil, fmt.Errorf("%w %q", errNoExtension, id)
}

// identify returns the id and name of the extension that r identifies.
func (x *extensionRegistry) identify(r *http.Request) (id, name string, err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	ext, err := x.identifyLocked(r)
	if err != nil {
		return "", "", err
	}
	return ext.id, ext.name, nil
}

// handleNext blocks until the next event for the extension. Its arrival is
// the extension saying it has finished the current phase: when the runtime
// and every other extension have too, the environment is frozen here,
// inside the request, as the runtime's /next does.
func (x *extensionRegistry) handleNext(w http.ResponseWriter, r *http.Request) {
	x.mu.Lock()
	ext, err := x.identifyLocked(r)
	if err != nil {
		x.mu.Unlock()
		writeRuntimeError(w, http.StatusForbidden, "Extension.UnknownExtensionIdentifier", err.Error())
		return
	}
	if len(ext.queue) == 0 {
		ext.ready = true
		x.host.extensionReadyLocked()
	}
	x.mu.Unlock()
	for {
		x.mu.Lock()
		var event []byte
		if len(ext.queue) > 0 {
			event, ext.queue = ext.queue[0], ext.queue[1:]
		}
		x.mu.Unlock()
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
		case <-x.host.ended():
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
func (x *extensionRegistry) sendInvokeLocked(inv *invocation) {
	var event []byte
	for _, ext := range x.extensions {
		if !ext.onInvoke || ext.exited {
			continue
		}
		if event == nil {
			event, _ = json.Marshal(map[string]any{
				"eventType":          eventInvoke,
				"deadlineMs":         inv.deadline.UnixMilli(),
				"requestId":          inv.id,
				"invokedFunctionArn": functionARN(x.function),
				"tracing":            map[string]string{"type": "X-Amzn-Trace-Id", "value": inv.traceID},
			})
		}
		ext.queueEventLocked(event)
	}
}

// sendShutdownLocked queues SHUTDOWN with reason and deadline for every
// extension that subscribed to it and has not exited; the caller holds mu.
func (x *extensionRegistry) sendShutdownLocked(reason string, deadline time.Time) {
	event, _ := json.Marshal(map[string]any{"eventType": eventShutdown, "shutdownReason": reason, "deadlineMs": deadline.UnixMilli()})
	for _, ext := range x.extensions {
		if ext.onShutdown && !ext.exited {
			ext.queueEventLocked(event)
		}
	}
}

// readyLocked reports whether every registered extension has finished its
// current phase; the caller holds mu.
func (x *extensionRegistry) readyLocked() bool {
	for _, ext := range x.extensions {
		if !ext.ready && !ext.exited {
			return false
		}
	}
	return true
}

// allRegisteredLocked reports whether every external extension that was
// started has registered; the caller holds mu.
func (x *extensionRegistry) allRegisteredLocked() bool {
	return len(x.extensions) >= x.expected
}

// registeredLocked reports whether any extension registered; the caller
// holds mu.
func (x *extensionRegistry) registeredLocked() bool {
	return len(x.extensions) > 0
}

// registered reports whether any extension registered.
func (x *extensionRegistry) registered() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.registeredLocked()
}

func (x *extensionRegistry) handleInitError(w http.ResponseWriter, r *http.Request) {
	x.extensionError(w, r, true)
}

func (x *extensionRegistry) handleExitError(w http.ResponseWriter, r *http.Request) {
	x.extensionError(w, r, false)
}

// extensionError records an extension's init or exit error. An init error
// fails the Init phase like the runtime's; after either, the extension no
// longer holds back Init or the freeze.
func (x *extensionRegistry) extensionError(w http.ResponseWriter, r *http.Request, duringInit bool) {
	errorType := r.Header.Get("Lambda-Extension-Function-Error-Type")
	if errorType == "" {
		writeRuntimeError(w, http.StatusBadRequest, "Extension.InvalidRequest", "missing header Lambda-Extension-Function-Error-Type")
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	x.mu.Lock()
	ext, err := x.identifyLocked(r)
	if err != nil {
		x.mu.Unlock()
		writeRuntimeError(w, http.StatusForbidden, "Extension.UnknownExtensionIdentifier", err.Error())
		return
	}
	ext.exited = true
	x.host.extensionFailedLocked(ext.name, errorType, body, duringInit)
	x.mu.Unlock()
	x.logger.Info("extension reported an error", "extension", ext.name, "init", duringInit, "error_type", errorType, "body", string(body))
	writeAccepted(w)
}
