package lab

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Kinds of timeline marks.
const (
	// MarkPingSent: the client sent a keepalive PING.
	MarkPingSent = "ping sent"
	// MarkPingAck: the client read the PING's ACK.
	MarkPingAck = "ping ack"
	// MarkKeepaliveTimeout: the client gave up on a PING and closed the
	// connection.
	MarkKeepaliveTimeout = "keepalive timeout"
	// MarkConnOpened: the proxy accepted a new connection from the function.
	MarkConnOpened = "connection opened"
	// MarkBlackhole: the proxy started discarding the function's existing
	// connections.
	MarkBlackhole = "blackhole"
	// MarkHeld: under ScenarioRetransmit, bytes from the server reached the
	// frozen function and were not acknowledged.
	MarkHeld = "held while frozen"
	// MarkRetransmission: under ScenarioRetransmit, the server's TCP
	// retransmission delivered what a freeze held, Mark.Late after the thaw.
	MarkRetransmission = "retransmission"
)

// Mark is one thing that happened at an instant, on the wire or in a client.
type Mark struct {
	Time time.Time
	Kind string
	// RequestID is the invocation thaw's log tagged the line with ("-"
	// between invocations); empty for the proxy's marks.
	RequestID string
	// RuntimeRequestID is, for the Node.js function, the request id its
	// runtime had when it printed the line, which lags behind thaw's tag when
	// timers that expired during a freeze run before the runtime has taken
	// the new event.
	RuntimeRequestID string
	// Conn identifies the connection within the client (grpc-js channelz id,
	// thaw tracer conn number, netem ConnID).
	Conn string
	// Detail is the source line or a note, shown as a tooltip.
	Detail string
	// Cross is set on a keepalive timeout logged under another request id
	// than the PING it answers.
	Cross bool
	// Reconnect is set on a connection opened after the first invocation,
	// replacing one the client had.
	Reconnect bool
	// Late is, on a MarkRetransmission, how long after the thaw the held
	// bytes were delivered.
	Late time.Duration
}

// Invocation is one invocation as the lab saw it.
type Invocation struct {
	// Index is the invocation's position in the schedule, from 0.
	Index int
	// RequestID is the id thaw lambda gave it.
	RequestID string
	Start     time.Time
	End       time.Time
	// Gap is the scheduled idle time before it.
	Gap time.Duration
	Op  string
	// CallMs is the cache call's latency as the handler measured it.
	CallMs float64
	// ErrorCode is the caller-visible failure, empty on success.
	ErrorCode string
	// Error is the failure's message.
	Error string
}

// Failed reports whether the caller saw an error.
func (inv Invocation) Failed() bool { return inv.ErrorCode != "" }

// Span is an interval of time.
type Span struct {
	Start, End time.Time
}

// Timeline is everything recorded during one run, for metrics and drawing.
type Timeline struct {
	Start, End  time.Time
	Invocations []Invocation
	// Frozen are the periods the function's environment spent frozen
	// between invocations.
	Frozen []Span
	Marks  []Mark
}

// logRecord is one line of a function's thaw lambda log file.
type logRecord struct {
	Time      time.Time
	RequestID string
	Env       string
	Text      string
}

// readLog reads a thaw lambda log file: <time>\t<request id>\t<env>\t<text>.
func readLog(path string) ([]logRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lab: open function log: %w", err)
	}
	defer f.Close()
	var recs []logRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), "\t", 4)
		if len(parts) < 4 {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, parts[0])
		if err != nil {
			continue
		}
		recs = append(recs, logRecord{Time: t, RequestID: parts[1], Env: parts[2], Text: parts[3]})
	}
	if err := sc.Err(); err != nil {
		return recs, fmt.Errorf("lab: read function log %s: %w", path, err)
	}
	return recs, nil
}

// Exact grpc-js 1.13 keepalive trace texts (transport.js), which the SDK's
// pinned grpc-js prints with GRPC_TRACE=keepalive and GRPC_VERBOSITY=DEBUG:
//
//	<iso time> | v1.13.5 <pid> | keepalive | (<channelz id>) <addr> Sending ping with timeout 1000ms
//	... | keepalive | (<id>) <addr> Received ping response
//	... | keepalive | (<id>) <addr> Ping timeout passed without response
const (
	grpcJSPingSent    = "Sending ping with timeout"
	grpcJSPingAck     = "Received ping response"
	grpcJSPingTimeout = "Ping timeout passed without response"
)

// grpcJSKeepalive matches a grpc-js keepalive trace line anywhere in a log text.
var grpcJSKeepalive = regexp.MustCompile(`\| keepalive \| \((\d+)\) \S+ (.*)$`)

// nodeMarks extracts keepalive marks from a Node.js function's log.
func nodeMarks(recs []logRecord) []Mark {
	var marks []Mark
	for _, r := range recs {
		m := grpcJSKeepalive.FindStringSubmatch(r.Text)
		if m == nil {
			continue
		}
		mark := Mark{Time: r.Time, RequestID: r.RequestID, Conn: m[1], Detail: strings.TrimSpace(m[2])}
		// Console lines of thaw's Node.js runtime: <time>\t<request id>\t<LEVEL>\t<message>.
		if f := strings.SplitN(r.Text, "\t", 4); len(f) == 4 {
			mark.RuntimeRequestID = f[1]
		}
		switch text := m[2]; {
		case strings.HasPrefix(text, grpcJSPingSent):
			mark.Kind = MarkPingSent
		case strings.HasPrefix(text, grpcJSPingAck):
			mark.Kind = MarkPingAck
		case strings.HasPrefix(text, grpcJSPingTimeout):
			mark.Kind = MarkKeepaliveTimeout
		default:
			continue
		}
		marks = append(marks, mark)
	}
	return marks
}

// goTraceRecord is the part of a thaw client tracer record the lab reads.
type goTraceRecord struct {
	Msg     string          `json:"msg"`
	Conn    json.RawMessage `json:"conn"`
	Purpose string          `json:"purpose"`
}

// goMarks extracts keepalive marks from the Go function's log, whose lines
// are the tracer's JSON records (client.EventPingSent and so on).
func goMarks(recs []logRecord) []Mark {
	var marks []Mark
	for _, r := range recs {
		if !strings.HasPrefix(r.Text, "{") {
			continue
		}
		var ev goTraceRecord
		if json.Unmarshal([]byte(r.Text), &ev) != nil {
			continue
		}
		mark := Mark{Time: r.Time, RequestID: r.RequestID, Conn: strings.Trim(string(ev.Conn), `"`), Detail: r.Text}
		switch ev.Msg {
		case "ping sent":
			mark.Kind = MarkPingSent
		case "ping ack received":
			mark.Kind = MarkPingAck
		case "keepalive timeout":
			mark.Kind = MarkKeepaliveTimeout
		default:
			continue
		}
		if mark.Kind != MarkKeepaliveTimeout && ev.Purpose != "keepalive" {
			continue
		}
		marks = append(marks, mark)
	}
	return marks
}

// markCrossInvocation sets Cross on every keepalive timeout logged under a
// different request id than the latest PING sent on the same connection,
// the seed's evidence that a ping and its timeout straddle a freeze.
func markCrossInvocation(marks []Mark) {
	sort.SliceStable(marks, func(i, j int) bool { return marks[i].Time.Before(marks[j].Time) })
	lastPing := map[string]string{}
	for i, m := range marks {
		switch m.Kind {
		case MarkPingSent:
			lastPing[m.Conn] = m.RequestID
		case MarkKeepaliveTimeout:
			if sent, ok := lastPing[m.Conn]; ok && sent != m.RequestID {
				marks[i].Cross = true
				marks[i].Detail += " (ping sent under " + sent + ")"
			}
		}
	}
}

// connLabel formats a netem connection id for a mark.
func connLabel(id uint64) string { return "proxy#" + strconv.FormatUint(id, 10) }
