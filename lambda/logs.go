package lambda

import (
	"bytes"
	"fmt"
	"io"
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
// with the function name in front on the console. The environments of the
// function share it; it knows each only by its id, and the invocations
// they hand it.
type logSink struct {
	function string
	console  io.Writer
	file     io.Writer

	mu    sync.Mutex               // guards the writes and tails
	tails map[string]*bytes.Buffer // guarded by mu: logs of invocations asking for Tail
}

// newLogSink returns the log of function, written to console and file
// (either may be nil).
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

// start writes the START line of inv, run by environment envID, and begins
// collecting its tail.
func (s *logSink) start(envID string, inv *invocation) {
	if inv.wantLogTail {
		s.mu.Lock()
		s.tails[inv.id] = &bytes.Buffer{}
		s.mu.Unlock()
	}
	s.emit(envID, inv.id, "START RequestId: "+inv.id+" Version: $LATEST")
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

// end writes the END and REPORT lines of inv, run by environment envID,
// with the figures r and status (success, error or timeout). An invocation
// the platform ended (a timeout, a crash) passes the line Lambda logs for it
// as platformError ("... Task timed out after 3.00 seconds"): it comes
// before END, and REPORT then carries the status and error type, as on
// Lambda. The caller writes each invocation's end once.
func (s *logSink) end(envID string, inv *invocation, r invocationReport, status, platformError string) {
	report := fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB",
		inv.id, r.durationMs, r.billedMs, r.memoryMB, r.maxMemoryMB)
	if r.initMs > 0 {
		report += fmt.Sprintf("\tInit Duration: %.2f ms", r.initMs)
	}
	if platformError != "" {
		s.emit(envID, inv.id, platformError)
		report += "\tStatus: " + status
		if status != "timeout" && r.errorType != "" {
			report += "\tError Type: " + r.errorType
		}
	}
	s.emit(envID, inv.id, "END RequestId: "+inv.id)
	s.emit(envID, inv.id, report)
}

// takeTail returns the log tail of inv and stops collecting it; nil if
// inv did not ask for one or it was taken already.
func (s *logSink) takeTail(inv *invocation) []byte {
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

// writerFor returns the writer that receives the output of environment
// envID's process tree and emits it line by line to the log, tagged with
// the id requestID returns when the line arrives, and then passes each
// line to publish (as function telemetry: the extensions' output shares
// the pipe, so it is function telemetry too).
func (s *logSink) writerFor(envID string, requestID func() string, publish func(line string)) *lineWriter {
	return &lineWriter{emit: func(line string) {
		s.emit(envID, requestID(), line)
		publish(line)
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
