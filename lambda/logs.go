package lambda

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"sync"
	"time"
)

// logTailBytes is how much of an invocation's log X-Amz-Log-Type: Tail returns.
const logTailBytes = 4096

// logSink writes one function's log: every line of its environments' output,
// tagged with the time and the request id being processed when the line
// arrived, plus Lambda's START, END and REPORT lines. Each record goes to
// thaw's console and to the function's log file as
//
//	<RFC 3339 time>\t<request id or ->\t<environment id>\t<text>
//
// with the function name in front on the console.
type logSink struct {
	function string
	console  io.Writer
	file     io.Writer

	mu    sync.Mutex               // guards the writes and tails
	tails map[string]*bytes.Buffer // guarded by mu: logs of invocations asking for Tail
}

func newLogSink(function string, console, file io.Writer) *logSink {
	if console == nil {
		console = io.Discard
	}
	if file == nil {
		file = io.Discard
	}
	return &logSink{function: function, console: console, file: file, tails: map[string]*bytes.Buffer{}}
}

// emit writes one record.
func (s *logSink) emit(envID, requestID, text string) {
	if requestID == "" {
		requestID = "-"
	}
	record := fmt.Sprintf("%s\t%s\t%s\t%s\n", time.Now().UTC().Format("2006-01-02T15:04:05.000000Z"), requestID, envID, text)
	s.mu.Lock()
	defer s.mu.Unlock()
	io.WriteString(s.file, record)
	io.WriteString(s.console, "["+s.function+"] "+record)
	if tail, ok := s.tails[requestID]; ok {
		tail.WriteString(text + "\n")
		if over := tail.Len() - logTailBytes; over > 0 {
			tail.Next(over)
		}
	}
}

// start writes the START line of inv and begins collecting its tail.
func (s *logSink) start(e *environment, inv *invocation) {
	if inv.wantLogTail {
		s.mu.Lock()
		s.tails[inv.id] = &bytes.Buffer{}
		s.mu.Unlock()
	}
	s.emit(e.id, inv.id, "START RequestId: "+inv.id+" Version: $LATEST")
	e.platformStart(inv)
}

// invocationReport holds the figures of an invocation's REPORT line and
// platform.report event.
type invocationReport struct {
	durationMs  float64
	billedMs    int64
	memoryMB    int
	maxMemoryMB int64
	initMs      float64 // 0 unless this invocation caused the cold start
	errorType   string  // "" on success
}

// report measures inv now, taking the Init Duration if this is the first
// invocation of the environment.
func (e *environment) report(inv *invocation) invocationReport {
	ms := float64(time.Since(inv.startedAt).Microseconds()) / 1000
	r := invocationReport{durationMs: ms, billedMs: int64(math.Ceil(ms)), memoryMB: e.fn.MemoryMB, maxMemoryMB: maxMemoryUsedMB(e)}
	e.mu.Lock()
	if e.coldPending {
		e.coldPending = false
		r.initMs = float64(e.initDuration.Microseconds()) / 1000
	}
	e.mu.Unlock()
	return r
}

// end writes the END and REPORT lines of inv, publishes its
// platform.runtimeDone and platform.report telemetry with status (success,
// error or timeout) and returns its log tail, if one was asked for. An
// invocation the platform ended (a timeout, a crash) passes the line Lambda
// logs for it as platformError ("... Task timed out after 3.00 seconds"): it
// comes before END, and REPORT then carries the status and error type, as on
// Lambda. Only the first call for an invocation writes anything and takes
// its tail; later ones return nil.
func (s *logSink) end(e *environment, inv *invocation, status, errorType, platformError string) []byte {
	if !inv.logEnded.CompareAndSwap(false, true) {
		return nil
	}
	r := e.report(inv)
	r.errorType = errorType
	report := fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB",
		inv.id, r.durationMs, r.billedMs, r.memoryMB, r.maxMemoryMB)
	if r.initMs > 0 {
		report += fmt.Sprintf("\tInit Duration: %.2f ms", r.initMs)
	}
	if platformError != "" {
		s.emit(e.id, inv.id, platformError)
		report += "\tStatus: " + status
		if status != "timeout" && errorType != "" {
			report += "\tError Type: " + errorType
		}
	}
	s.emit(e.id, inv.id, "END RequestId: "+inv.id)
	s.emit(e.id, inv.id, report)
	e.platformDone(inv, status, r)
	if !inv.wantLogTail {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tail := s.tails[inv.id]
	delete(s.tails, inv.id)
	if tail == nil {
		return nil
	}
	return tail.Bytes()
}

// maxMemoryUsedMB is the environment's peak memory in MB, 0 when unknown.
func maxMemoryUsedMB(e *environment) int64 {
	peak, err := e.sandbox.PeakMemory()
	if err != nil {
		return 0
	}
	return (peak + 1<<20 - 1) >> 20
}

// writerFor returns the writer that receives the output of e's process tree
// and emits it line by line, to the log and as function telemetry. (The
// extensions' output shares the pipe, so it is function telemetry too.)
func (s *logSink) writerFor(e *environment) *lineWriter {
	return &lineWriter{emit: func(line string) {
		s.emit(e.id, e.currentRequestID(), line)
		e.publish(telemetryFunction, "function", line)
	}}
}

// lineWriter splits a byte stream into lines. It is not safe for concurrent
// use; the sandbox feeds it from one pipe.
type lineWriter struct {
	emit    func(string)
	partial []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			if len(w.partial) > 256<<10 { // a runaway line: emit it in pieces
				w.Flush()
			}
			return n, nil
		}
		line := p[:i]
		if len(w.partial) > 0 {
			line = append(w.partial, line...)
			w.partial = w.partial[:0]
		}
		w.emit(string(bytes.TrimSuffix(line, []byte{'\r'})))
		p = p[i+1:]
	}
}

// Flush emits a last line that has no newline.
func (w *lineWriter) Flush() {
	if len(w.partial) > 0 {
		w.emit(string(w.partial))
		w.partial = w.partial[:0]
	}
}
