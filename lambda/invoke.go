package lambda

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Invoke API limits, as on Lambda.
const (
	maxSyncPayloadBytes  = 6 << 20
	maxEventPayloadBytes = 256 << 10
)

// handler routes the Invoke API, the read side of the control API and
// thaw's introspection endpoint.
func (e *Emulator) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", e.handleInvoke)
	mux.HandleFunc("GET /_thaw/environments", e.handleEnvironments)
	newControlAPI(e).register(mux)
	return mux
}

// functionNameOf parses the forms Lambda accepts for a function: a name, a
// partial ARN (ACCOUNT:function:NAME) or a full ARN, each optionally with a
// qualifier (":QUALIFIER"). thaw runs only $LATEST, so any other qualifier,
// here or in the Qualifier query parameter, names no function.
func functionNameOf(ref, qualifierParam string) (string, bool) {
	parts := strings.Split(ref, ":")
	switch {
	case len(parts) >= 7 && parts[0] == "arn": // arn:aws:lambda:REGION:ACCOUNT:function:NAME[:Q]
		parts = parts[6:]
	case len(parts) >= 3 && parts[1] == "function": // ACCOUNT:function:NAME[:Q]
		parts = parts[2:]
	}
	qualifier := qualifierParam
	switch len(parts) {
	case 1:
	case 2:
		if qualifier != "" && qualifier != parts[1] {
			return parts[0], false
		}
		qualifier = parts[1]
	default:
		return ref, false
	}
	return parts[0], qualifier == "" || qualifier == "$LATEST"
}

func (e *Emulator) handleInvoke(w http.ResponseWriter, r *http.Request) {
	requestID := newRequestID()
	w.Header().Set("X-Amzn-Requestid", requestID)
	name, latest := functionNameOf(r.PathValue("name"), r.URL.Query().Get("Qualifier"))
	p, ok := e.pools[name]
	if !ok || !latest {
		writeAPIError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+functionARN(name))
		return
	}
	invocationType := r.Header.Get("X-Amz-Invocation-Type")
	limit := int64(maxSyncPayloadBytes)
	if invocationType == "Event" {
		limit = maxEventPayloadBytes
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequestContentException", "could not read the payload: "+err.Error())
		return
	}
	if int64(len(payload)) > limit {
		writeAPIError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException",
			fmt.Sprintf("Request must be smaller than %d bytes for the %s invocation type", limit, firstNonEmpty(invocationType, "RequestResponse")))
		return
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	if !json.Valid(payload) {
		writeAPIError(w, http.StatusBadRequest, "InvalidRequestContentException", "Could not parse request body into json")
		return
	}
	inv := newInvocation(requestID, payload)
	if cc := r.Header.Get("X-Amz-Client-Context"); cc != "" {
		// Callers send base64; runtimes receive the JSON itself.
		decoded, err := base64.StdEncoding.DecodeString(cc)
		if err != nil || !json.Valid(decoded) {
			writeAPIError(w, http.StatusBadRequest, "InvalidRequestContentException", "Client context must be a valid Base64-encoded JSON object.")
			return
		}
		inv.clientContext = string(decoded)
	}
	inv.traceID = fmt.Sprintf("Root=1-%08x-%s;Sampled=0", time.Now().Unix(), strings.ReplaceAll(inv.id, "-", "")[:24])
	if trace := r.Header.Get("X-Amzn-Trace-Id"); trace != "" {
		// A caller's trace header reaches the function, as on Lambda.
		inv.traceID = trace
	}

	switch invocationType {
	case "", "RequestResponse":
	case "Event":
		if err := p.enqueue(inv); err != nil {
			// Lambda throttles what its queue cannot take with 429.
			w.Header().Set("Retry-After", "1")
			writeAPIErrorWithReason(w, http.StatusTooManyRequests, "TooManyRequestsException",
				"Rate Exceeded. "+err.Error(), "FunctionInvocationRateLimitExceeded")
			return
		}
		w.WriteHeader(http.StatusAccepted)
		return
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		writeAPIError(w, http.StatusBadRequest, "InvalidParameterValueException", "X-Amz-Invocation-Type must be RequestResponse, Event or DryRun")
		return
	}

	inv.wantLogTail = r.Header.Get("X-Amz-Log-Type") == "Tail"
	out, err := p.invoke(inv)
	switch {
	case errors.Is(err, errTooManyRequests):
		w.Header().Set("Retry-After", "1")
		writeAPIErrorWithReason(w, http.StatusTooManyRequests, "TooManyRequestsException", "Rate Exceeded.", "ReservedFunctionConcurrentInvocationLimitExceeded")
		return
	case err != nil:
		writeAPIError(w, http.StatusInternalServerError, "ServiceException", err.Error())
		return
	case out.serviceError != nil:
		writeAPIError(w, http.StatusInternalServerError, "ServiceException", out.serviceError.Error())
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amz-Executed-Version", "$LATEST")
	if out.functionError != "" {
		h.Set("X-Amz-Function-Error", out.functionError)
	}
	if inv.wantLogTail {
		h.Set("X-Amz-Log-Result", base64.StdEncoding.EncodeToString(out.logTail))
	}
	w.WriteHeader(http.StatusOK)
	w.Write(out.payload)
}

// writeAPIError answers with an AWS JSON error: the type in X-Amzn-ErrorType
// (which the AWS SDKs read) and in the body.
func writeAPIError(w http.ResponseWriter, code int, errorType, message string) {
	writeAPIErrorWithReason(w, code, errorType, message, "")
}

func writeAPIErrorWithReason(w http.ResponseWriter, code int, errorType, message, reason string) {
	body := map[string]string{"Type": "User", "message": message, "__type": errorType}
	if reason != "" {
		body["Reason"] = reason
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", errorType)
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(body)
}
