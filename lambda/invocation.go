package lambda

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"time"
)

// invocation is one event on its way through an environment.
type invocation struct {
	id            string
	payload       []byte
	clientContext string // the JSON the caller sent base64-encoded
	traceID       string
	wantLogTail   bool
	// attempt counts the earlier attempts of an Event invocation: 0 for its
	// first, 1 and 2 for Lambda's two retries.
	attempt int
	// deadline is set when the event is handed to the runtime, and started
	// closed then.
	startedAt time.Time
	deadline  time.Time
	started   chan struct{}
	// done receives the outcome exactly once.
	done chan outcome
	// logEnded is set by the first logSink.end of the invocation, which
	// alone writes END and REPORT and takes the log tail.
	logEnded atomic.Bool
}

// outcome is how an invocation ended.
type outcome struct {
	// payload is the function's response, or the error JSON on an error.
	payload []byte
	// functionError is "Unhandled" for any error (function, timeout, crash),
	// "" for success: the X-Amz-Function-Error header.
	functionError string
	// logTail is the last 4 KB of the invocation's log when asked for.
	logTail []byte
	// serviceError is a failure of thaw itself (an environment it could not
	// thaw): the Invoke API answers 500 ServiceException, as Lambda does
	// for its own faults.
	serviceError error
}

func newInvocation(id string, payload []byte) *invocation {
	return &invocation{id: id, payload: payload, started: make(chan struct{}), done: make(chan outcome, 1)}
}

// retry returns a fresh invocation of the same event, with the same request
// id as on Lambda, for the next attempt of a failed Event invocation.
func (inv *invocation) retry() *invocation {
	next := newInvocation(inv.id, inv.payload)
	next.clientContext, next.traceID, next.attempt = inv.clientContext, inv.traceID, inv.attempt+1
	return next
}

// newRequestID returns a random UUIDv4 string, the shape of Lambda's request ids.
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}

// newEnvironmentID returns a random 8-hex-digit environment id, unique
// enough to name sandboxes and log streams.
func newEnvironmentID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errorPayload is the JSON body Lambda returns for errors raised outside the
// function's own code (timeouts, crashes, init failures).
func errorPayload(errorType, message string) []byte {
	return fmt.Appendf(nil, `{"errorType":%q,"errorMessage":%q}`, errorType, message)
}
