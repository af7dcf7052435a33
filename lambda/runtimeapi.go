package lambda

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
	e.extensionsAPI(mux)
	mux.HandleFunc(telemetrySubscribePath, e.handleTelemetrySubscribe)
	return mux
}

// handleNext is where an environment is frozen. The runtime asks for its next
// event when it has finished the previous one (or its Init phase). Its first
// call waits until the Init phase is over, which also needs every extension
// to have registered and asked for its first event. After that, unless an
// event is already waiting, the whole process tree is frozen at once, inside
// this very request, as Lambda does, provided every extension has also asked
// for its next event (else the last of them freezes it, in its own request).
// When an event arrives it becomes the answer to that request, made before
// the freeze; the function's resume order says whether it is written before
// the thaw (the default, as on Lambda) or after it. The request never times
// out.
func (e *environment) handleNext(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.runtimeWaiting = true
	firstCall := !e.runtimeCalledNext
	e.runtimeCalledNext = true
	if firstCall {
		// Published before checkInitLocked can publish the init report.
		e.platformInitRuntimeDone("success", "")
	}
	e.checkInitLocked()
	e.mu.Unlock()
	select {
	case <-e.initialized:
	case <-r.Context().Done():
		return
	case <-e.sandbox.Done():
		return
	}
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
	e.handOver(w, r.RemoteAddr, inv)
}

// checkInitLocked ends the Init phase once the runtime has asked for its
// first event and every expected extension has registered and asked for its
// first event; the caller holds mu.
func (e *environment) checkInitLocked() {
	if isClosed(e.initialized) || e.initErr != nil {
		return
	}
	if !e.runtimeCalledNext || len(e.extensions) < e.expectedExtensions || !e.extensionsReadyLocked() {
		return
	}
	e.initDuration = time.Since(e.created)
	close(e.initialized)
	e.platformInitReport(e.initDuration)
	e.endInitTelemetry()
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
		len(e.pending) > 0 || !e.extensionsReadyLocked() {
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
	e.sendInvokeLocked(inv)
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
	return nil
}

// handleResponse takes the function's result, buffered or streamed
// (Lambda-Runtime-Function-Response-Mode: streaming, chunked). A stream that
// failed midway carries the error in the trailers
// Lambda-Runtime-Function-Error-Type and Lambda-Runtime-Function-Error-Body
// (base64 JSON): the invocation then ends in that function error. The Invoke
// API answers buffered either way, so the same size limit applies.
func (e *environment) handleResponse(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body, err := io.ReadAll(io.LimitReader(r.Body, maxResponseBytes+1))
	if err == nil {
		// Trailers are read only at the end of the body.
		_, err = io.Copy(io.Discard, r.Body)
	}
	if err != nil {
		http.Error(w, "read response: "+err.Error(), http.StatusBadRequest)
		return
	}
	out := outcome{payload: body}
	if errorType := r.Trailer.Get("Lambda-Runtime-Function-Error-Type"); errorType != "" {
		out = outcome{functionError: "Unhandled", payload: streamErrorPayload(errorType, r.Trailer.Get("Lambda-Runtime-Function-Error-Body"))}
	} else if len(body) > maxResponseBytes {
		out = outcome{functionError: "Unhandled", payload: errorPayload("Function.ResponseSizeTooLarge",
			fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", maxResponseBytes))}
	}
	e.finish(w, id, out)
}

// streamErrorPayload is the error JSON of a stream that failed: the decoded
// trailer body if it is JSON, else an error of errorType carrying it as text.
func streamErrorPayload(errorType, encodedBody string) []byte {
	body, err := base64.StdEncoding.DecodeString(encodedBody)
	if err == nil && json.Valid(body) {
		return body
	}
	if err != nil {
		body = []byte(encodedBody)
	}
	return errorPayload(errorType, string(body))
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
	status, errorType := "success", ""
	if out.functionError != "" {
		status, errorType = "error", errorTypeOf(out.payload)
	}
	out.logTail = e.logs.end(e, inv, status, errorType, "")
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
		e.platformInitRuntimeDone("error", errorTypeOf(body))
		close(e.initFailed)
	}
	e.logger.Info("runtime reported an init error", "error", string(body))
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, `{"status":"OK"}`)
}

// errorTypeOf returns the errorType of an error payload, "" if it has none.
func errorTypeOf(payload []byte) string {
	var body struct {
		ErrorType string `json:"errorType"`
	}
	json.Unmarshal(payload, &body)
	return body.ErrorType
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
