package lambda

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Runtime API 2018-06-01 paths, served to each environment on its own port.
const (
	runtimeNextPath      = "GET /2018-06-01/runtime/invocation/next"
	runtimeResponsePath  = "POST /2018-06-01/runtime/invocation/{id}/response"
	runtimeErrorPath     = "POST /2018-06-01/runtime/invocation/{id}/error"
	runtimeInitErrorPath = "POST /2018-06-01/runtime/init/error"
	// maxResponseBytes is Lambda's limit for a synchronous response.
	maxResponseBytes = 6 << 20
)

// runtimeAPI returns the Runtime API handler of the environment.
func (e *environment) runtimeAPI() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(runtimeNextPath, e.handleNext)
	mux.HandleFunc(runtimeResponsePath, e.handleResponse)
	mux.HandleFunc(runtimeErrorPath, e.handleError)
	mux.HandleFunc(runtimeInitErrorPath, e.handleInitError)
	return mux
}

// handleNext is where an environment is frozen. The runtime asks for its next
// event when it has finished the previous one (or its Init phase); unless an
// event is already waiting, the whole process tree is frozen at once, inside
// this very request, as Lambda does. When an event arrives the tree is thawed
// and only then the event is written, so the runtime sees it as the answer to
// a request it made before the freeze. The request never times out.
func (e *environment) handleNext(w http.ResponseWriter, r *http.Request) {
	inv := e.takeOrFreeze()
	if inv == nil {
		select {
		case inv = <-e.pending:
		case <-r.Context().Done():
			return
		case <-e.sandbox.Done():
			return
		}
	}
	e.thawAndStart(inv)
	e.logs.start(e, inv)

	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", functionARN(e.fn.Name))
	h.Set("Lambda-Runtime-Trace-Id", inv.traceID)
	if inv.clientContext != "" {
		h.Set("Lambda-Runtime-Client-Context", inv.clientContext)
	}
	w.WriteHeader(http.StatusOK)
	w.Write(inv.payload)
}

// takeOrFreeze ends the Init phase at the first call, then returns the
// pending event if there is one, or freezes the environment and returns nil.
func (e *environment) takeOrFreeze() *invocation {
	e.mu.Lock()
	defer e.mu.Unlock()
	select {
	case <-e.initialized:
	default:
		e.initDuration = time.Since(e.created)
		close(e.initialized)
	}
	if e.state != StateDead {
		e.state = StateRunning
	}
	select {
	case inv := <-e.pending:
		return inv
	default:
		e.freezeLocked()
		return nil
	}
}

// thawAndStart thaws the environment and makes inv the current invocation,
// starting its timeout.
func (e *environment) thawAndStart(inv *invocation) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.thawLocked()
	e.current = inv
	e.invocations++
	inv.startedAt = time.Now()
	inv.deadline = inv.startedAt.Add(e.fn.Timeout)
	close(inv.started)
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
	e.frozenSince = time.Now()
	e.logger.Debug("frozen", "latency", took, "mode", e.sandbox.Mode())
}

// thawLocked thaws the process tree if it is frozen.
func (e *environment) thawLocked() {
	if e.state != StateFrozen {
		return
	}
	took, err := e.sandbox.Thaw()
	if err != nil {
		e.logger.Warn("thaw failed", "err", err)
		return
	}
	frozen := time.Since(e.frozenSince)
	e.frozenTotal += frozen
	e.frozenSince = time.Time{}
	e.state = StateRunning
	e.logger.Debug("thawed", "latency", took, "frozen_for", frozen)
}

func (e *environment) handleResponse(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body, err := io.ReadAll(io.LimitReader(r.Body, maxResponseBytes+1))
	if err != nil {
		http.Error(w, "read response: "+err.Error(), http.StatusBadRequest)
		return
	}
	out := outcome{payload: body}
	if len(body) > maxResponseBytes {
		out = outcome{functionError: "Unhandled", payload: errorPayload("Function.ResponseSizeTooLarge",
			fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", maxResponseBytes))}
	}
	e.finish(w, id, out)
}

func (e *environment) handleError(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body, err := io.ReadAll(io.LimitReader(r.Body, maxResponseBytes))
	if err != nil {
		http.Error(w, "read error: "+err.Error(), http.StatusBadRequest)
		return
	}
	if !json.Valid(body) {
		body = errorPayload(firstNonEmpty(r.Header.Get("Lambda-Runtime-Function-Error-Type"), "Runtime.Unknown"), string(body))
	}
	e.finish(w, id, outcome{functionError: "Unhandled", payload: body})
}

// finish completes invocation id with out and writes the Runtime API answer.
func (e *environment) finish(w http.ResponseWriter, id string, out outcome) {
	e.mu.Lock()
	inv := e.current
	e.mu.Unlock()
	if inv == nil || inv.id != id {
		writeRuntimeError(w, http.StatusBadRequest, "InvalidRequestID", "invocation "+id+" is not in progress")
		return
	}
	// Lines the function printed before it posted its result belong to
	// this invocation: let them reach the log before END is written.
	if err := e.sandbox.SyncOutput(50 * time.Millisecond); err != nil {
		e.logger.Debug("function output still in flight at END", "err", err)
	}
	out.logTail = e.logs.end(e, inv)
	if err := e.complete(id, out); err != nil {
		writeRuntimeError(w, http.StatusBadRequest, "InvalidRequestID", err.Error())
		return
	}
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, `{"status":"OK"}`)
}

func (e *environment) handleInitError(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if !json.Valid(body) {
		body = errorPayload(firstNonEmpty(r.Header.Get("Lambda-Runtime-Function-Error-Type"), "Runtime.InitError"), string(body))
	}
	e.mu.Lock()
	first := e.initErr == nil
	e.initErr = body
	e.mu.Unlock()
	if first {
		close(e.initFailed)
	}
	e.logger.Info("runtime reported an init error", "error", string(body))
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, `{"status":"OK"}`)
}

func writeRuntimeError(w http.ResponseWriter, code int, errorType, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(errorPayload(errorType, message))
}

// functionARN is the ARN thaw reports for a function.
func functionARN(name string) string {
	return "arn:aws:lambda:" + regionFromEnv() + ":000000000000:function:" + name
}
