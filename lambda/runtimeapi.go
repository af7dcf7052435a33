package lambda

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
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

// runtimeHost is what the Runtime API asks of the environment's lifecycle.
type runtimeHost interface {
	// nextEvent is the runtime asking for its next event: it waits for the
	// end of the Init phase, freezes the environment if nothing is pending,
	// and returns the event, or nil when ctx or the environment ends first.
	nextEvent(ctx context.Context) *invocation
	// handOver gives inv to the runtime as the answer to its pending /next
	// and ends the freeze the runtime may be in; runtimeAddr is the address
	// of the runtime's end of the connection.
	handOver(w http.ResponseWriter, runtimeAddr string, inv *invocation)
	// currentInvocation returns the event the runtime is processing, or nil.
	currentInvocation() *invocation
	// finishInvocation ends inv with out: its END and REPORT lines, its
	// telemetry, and the answer to its caller.
	finishInvocation(inv *invocation, out outcome) error
	// initError records the error the runtime reported for its Init phase.
	initError(body []byte)
}

// runtimeAPI serves the Runtime API 2018-06-01 of one environment: it turns
// the runtime's requests into calls on the environment's lifecycle and
// writes the answers.
type runtimeAPI struct {
	host   runtimeHost
	logger *slog.Logger
}

// routes adds the Runtime API routes to mux.
func (a *runtimeAPI) routes(mux *http.ServeMux) {
	mux.HandleFunc(runtimeNextPath, a.handleNext)
	mux.HandleFunc(runtimeResponsePath, a.handleResponse)
	mux.HandleFunc(runtimeErrorPath, a.handleError)
	mux.HandleFunc(runtimeInitErrorPath, a.handleInitError)
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
func (a *runtimeAPI) handleNext(w http.ResponseWriter, r *http.Request) {
	inv := a.host.nextEvent(r.Context())
	if inv == nil {
		return
	}
	a.host.handOver(w, r.RemoteAddr, inv)
}

// handleResponse takes the function's result, buffered or streamed
// (Lambda-Runtime-Function-Response-Mode: streaming, chunked). A stream that
// failed midway carries the error in the trailers
// Lambda-Runtime-Function-Error-Type and Lambda-Runtime-Function-Error-Body
// (base64 JSON): the invocation then ends in that function error. The Invoke
// API answers buffered either way, so the same size limit applies.
func (a *runtimeAPI) handleResponse(w http.ResponseWriter, r *http.Request) {
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
	a.finish(w, id, out)
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

// handleError takes the function's error for the invocation it names.
func (a *runtimeAPI) handleError(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body, err := io.ReadAll(io.LimitReader(r.Body, maxResponseBytes))
	if err != nil {
		http.Error(w, "read error: "+err.Error(), http.StatusBadRequest)
		return
	}
	if !json.Valid(body) {
		body = errorPayload(firstNonEmpty(r.Header.Get("Lambda-Runtime-Function-Error-Type"), "Runtime.Unknown"), string(body))
	}
	a.finish(w, id, outcome{functionError: "Unhandled", payload: body})
}

// finish completes invocation id with out and writes the Runtime API answer.
func (a *runtimeAPI) finish(w http.ResponseWriter, id string, out outcome) {
	inv := a.host.currentInvocation()
	if inv == nil || inv.id != id {
		writeRuntimeError(w, http.StatusBadRequest, "InvalidRequestID", "invocation "+id+" is not in progress")
		return
	}
	if err := a.host.finishInvocation(inv, out); err != nil {
		writeRuntimeError(w, http.StatusBadRequest, "InvalidRequestID", err.Error())
		return
	}
	writeAccepted(w)
}

// handleInitError takes the error the runtime reports for its Init phase.
func (a *runtimeAPI) handleInitError(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if !json.Valid(body) {
		body = errorPayload(firstNonEmpty(r.Header.Get("Lambda-Runtime-Function-Error-Type"), "Runtime.InitError"), string(body))
	}
	a.host.initError(body)
	a.logger.Info("runtime reported an init error", "error", string(body))
	writeAccepted(w)
}

// writeAccepted answers a runtime's or an extension's report with 202
// {"status":"OK"}, as Lambda does.
func writeAccepted(w http.ResponseWriter) {
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

// writeRuntimeError writes the error answer of the Runtime, Extensions and
// Telemetry APIs.
func writeRuntimeError(w http.ResponseWriter, code int, errorType, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(errorPayload(errorType, message))
}

// functionARN is the ARN thaw reports for a function.
func functionARN(name string) string {
	return "arn:aws:lambda:" + regionFromEnv() + ":000000000000:function:" + name
}
