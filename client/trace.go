package client

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"golang.org/x/net/http2"
	"google.golang.org/grpc/credentials"
)

// Trace event messages, the msg of every record the tracer writes. The
// package documentation describes each.
const (
	EventDial             = "dial"
	EventConnected        = "connected"
	EventDialFailed       = "dial failed"
	EventPingSent         = "ping sent"
	EventPingAckReceived  = "ping ack received"
	EventPingReceived     = "ping received"
	EventPingAckSent      = "ping ack sent"
	EventKeepaliveTimeout = "keepalive timeout"
	EventGoAwaySent       = "goaway sent"
	EventGoAwayReceived   = "goaway received"
	EventClosed           = "closed"
	EventIdleGap          = "idle gap"
	EventProbe            = "probe"
	EventSpareDial        = "spare dial"
	EventReconnect        = "reconnect"
	EventCall             = "call"
	EventCallFailed       = "call failed"
)

// Well-known PING payloads of grpc-go, from its transport: the keepalive
// ping is all zeros, the flow-control (BDP) estimator and the server's
// graceful-shutdown ping use fixed patterns.
var (
	pingKeepalive      = [8]byte{}
	pingBDP            = [8]byte{2, 4, 16, 16, 9, 14, 7, 7}
	pingServerShutdown = [8]byte{1, 6, 1, 8, 0, 3, 3, 9}
)

// pingPurpose names what a PING payload is for, as far as grpc-go's fixed
// payloads tell.
func pingPurpose(p [8]byte) string {
	switch p {
	case pingKeepalive:
		return "keepalive"
	case pingBDP:
		return "bdp"
	case pingServerShutdown:
		return "shutdown"
	}
	return "other"
}

// pingLevel is the level of the events about a PING sent by the client:
// Debug for grpc-go's flow-control (BDP) pings, which follow the replies of
// ordinary calls, Info for the rest (keepalive).
func pingLevel(p [8]byte) slog.Level {
	if p == pingBDP {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// tracer writes connection events to a slog.Logger. It is shared by every
// connection of a Client.
type tracer struct {
	log *slog.Logger
	// keepaliveTimeout is Config.KeepaliveTimeout when keepalive is on, else
	// zero; it lets a close be recognised as a keepalive timeout.
	keepaliveTimeout time.Duration
	nextConn         atomic.Uint64
	// invocation is the Lambda context of the latest call that had one: the
	// request ID attached to events, including those between calls.
	invocation atomic.Pointer[lambdacontext.LambdaContext]
}

func newTracer(log *slog.Logger, cfg Config) *tracer {
	t := &tracer{log: log}
	if cfg.KeepaliveTime > 0 {
		t.keepaliveTimeout = cfg.KeepaliveTimeout
	}
	return t
}

// beginCall remembers the Lambda invocation of ctx, if any, as the current one.
func (t *tracer) beginCall(ctx context.Context) {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc != t.invocation.Load() {
		t.invocation.Store(lc)
	}
}

// enabled reports whether events of level would be written.
func (t *tracer) enabled(level slog.Level) bool {
	return t.log.Enabled(context.Background(), level)
}

// emit writes one event, with the current request ID first when there is one.
func (t *tracer) emit(level slog.Level, msg string, attrs ...slog.Attr) {
	if !t.enabled(level) {
		return
	}
	if lc := t.invocation.Load(); lc != nil && lc.AwsRequestID != "" {
		attrs = append([]slog.Attr{slog.String("request_id", lc.AwsRequestID)}, attrs...)
	}
	t.log.LogAttrs(context.Background(), level, msg, attrs...)
}

// dialer returns the grpc.WithContextDialer function of channel: a plain TCP
// dial that reports the dial and returns a traced connection. grpc-go skips
// HTTP CONNECT proxies from the environment when given a dialer.
func (t *tracer) dialer(channel uint64) func(context.Context, string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		id := t.nextConn.Add(1)
		t.emit(slog.LevelInfo, EventDial, slog.Uint64("conn", id), slog.Uint64("channel", channel), slog.String("addr", addr))
		start := time.Now()
		var d net.Dialer
		raw, err := d.DialContext(ctx, "tcp", addr)
		took := time.Since(start)
		if err != nil {
			t.emit(slog.LevelWarn, EventDialFailed, slog.Uint64("conn", id), slog.Uint64("channel", channel),
				slog.String("addr", addr), slog.Duration("took", took), slog.String("err", err.Error()))
			return nil, err
		}
		t.emit(slog.LevelInfo, EventConnected, slog.Uint64("conn", id), slog.Uint64("channel", channel),
			slog.String("local", raw.LocalAddr().String()), slog.String("remote", raw.RemoteAddr().String()), slog.Duration("took", took))
		w := &wire{t: t, id: id, opened: time.Now()}
		w.out = newFrameParser(true, w.outboundFrame)
		w.in = newFrameParser(false, w.inboundFrame)
		return &tracedConn{Conn: raw, w: w}, nil
	}
}

// wire is the tracer's view of one connection: frame parsers for both
// directions, PINGs awaiting their ACK and byte counts.
type wire struct {
	t      *tracer
	id     uint64
	opened time.Time
	// plaintext is set once the handshake shows the TCP bytes are HTTP/2
	// frames; with TLS, tlsFramedConn feeds the parsers instead.
	plaintext atomic.Bool

	outMu sync.Mutex // guards out
	out   *frameParser
	inMu  sync.Mutex // guards in
	in    *frameParser

	pingMu  sync.Mutex // guards pending, lateAck, lateRTT
	pending [4]pendingPing
	// lateAck is when the ACK of a keepalive PING arrived later than the
	// keepalive timeout, and lateRTT its round trip: grpc-go's timer may
	// already have fired, and the close that follows is its doing.
	lateAck time.Time
	lateRTT time.Duration

	bytesIn, bytesOut atomic.Int64
	// closing is set when the client closes the connection, before the
	// close, so that the read error the close causes is not taken as the
	// reason.
	closing atomic.Bool
	ended   atomic.Bool // the closed event was written
}

// pendingPing is a PING sent and not yet acknowledged.
type pendingPing struct {
	payload [8]byte
	sent    time.Time
	used    bool
}

func (w *wire) feedOut(b []byte) {
	w.outMu.Lock()
	w.out.feed(b)
	w.outMu.Unlock()
}

func (w *wire) feedIn(b []byte) {
	w.inMu.Lock()
	w.in.feed(b)
	w.inMu.Unlock()
}

// outboundFrame handles a PING or GOAWAY the client wrote.
func (w *wire) outboundFrame(f frame) {
	switch f.typ {
	case frameTypePing:
		p, ok := pingPayload(f)
		if !ok {
			return
		}
		if f.flags&flagAck != 0 {
			if w.t.enabled(slog.LevelDebug) {
				w.t.emit(slog.LevelDebug, EventPingAckSent, slog.Uint64("conn", w.id), slog.String("purpose", pingPurpose(p)))
			}
			return
		}
		w.pingMu.Lock()
		slot := 0
		for i := range w.pending {
			if !w.pending[i].used {
				slot = i
				break
			}
			if w.pending[i].sent.Before(w.pending[slot].sent) {
				slot = i // all in use: replace the oldest
			}
		}
		w.pending[slot] = pendingPing{payload: p, sent: time.Now(), used: true}
		w.pingMu.Unlock()
		if level := pingLevel(p); w.t.enabled(level) {
			w.t.emit(level, EventPingSent, slog.Uint64("conn", w.id), slog.String("purpose", pingPurpose(p)),
				slog.String("payload", hex.EncodeToString(p[:])))
		}
	case frameTypeGoAway:
		w.goAway(EventGoAwaySent, f)
	}
}

// inboundFrame handles a PING or GOAWAY the server wrote.
func (w *wire) inboundFrame(f frame) {
	switch f.typ {
	case frameTypePing:
		p, ok := pingPayload(f)
		if !ok {
			return
		}
		if f.flags&flagAck == 0 {
			if w.t.enabled(slog.LevelDebug) {
				w.t.emit(slog.LevelDebug, EventPingReceived, slog.Uint64("conn", w.id), slog.String("purpose", pingPurpose(p)))
			}
			return
		}
		var sent time.Time
		w.pingMu.Lock()
		for i := range w.pending {
			if w.pending[i].used && w.pending[i].payload == p {
				sent = w.pending[i].sent
				w.pending[i] = pendingPing{}
				break
			}
		}
		if kt := w.t.keepaliveTimeout; kt > 0 && p == pingKeepalive && !sent.IsZero() {
			if rtt := time.Since(sent); rtt > kt {
				w.lateAck, w.lateRTT = time.Now(), rtt
			}
		}
		w.pingMu.Unlock()
		level := pingLevel(p)
		if !w.t.enabled(level) {
			return
		}
		attrs := []slog.Attr{slog.Uint64("conn", w.id), slog.String("purpose", pingPurpose(p))}
		if !sent.IsZero() {
			attrs = append(attrs, slog.Duration("rtt", time.Since(sent)))
		}
		w.t.emit(level, EventPingAckReceived, attrs...)
	case frameTypeGoAway:
		w.goAway(EventGoAwayReceived, f)
	}
}

// pingPayload returns the payload of a well-formed PING frame.
func pingPayload(f frame) ([8]byte, bool) {
	var p [8]byte
	if f.length != pingPayloadLen || len(f.payload) != pingPayloadLen {
		return p, false
	}
	copy(p[:], f.payload)
	return p, true
}

// goAway reports a GOAWAY frame: its error code, the last stream the sender
// processed and its debug data (cut at maxGoAwayDebug bytes).
func (w *wire) goAway(event string, f frame) {
	if len(f.payload) < goAwayFixedLen {
		return
	}
	lastStream := binary.BigEndian.Uint32(f.payload[0:4]) & 0x7fffffff
	code := http2.ErrCode(binary.BigEndian.Uint32(f.payload[4:8]))
	level := slog.LevelInfo
	if code != http2.ErrCodeNo {
		level = slog.LevelWarn
	}
	w.t.emit(level, event, slog.Uint64("conn", w.id), slog.String("code", code.String()),
		slog.Uint64("last_stream_id", uint64(lastStream)), slog.String("debug", string(f.payload[goAwayFixedLen:])))
}

// localClose reports that the client closed the connection, first as a
// keepalive timeout when a keepalive PING had gone unanswered for longer
// than the keepalive timeout: grpc-go closes the connection for exactly that
// reason and says so nowhere else.
func (w *wire) localClose() {
	if w.ended.Load() || !w.closing.CompareAndSwap(false, true) {
		return
	}
	if kt := w.t.keepaliveTimeout; kt > 0 {
		var unacked time.Duration
		w.pingMu.Lock()
		for _, p := range w.pending {
			if p.used && p.payload == pingKeepalive {
				unacked = max(unacked, time.Since(p.sent))
			}
		}
		lateAck, lateRTT := w.lateAck, w.lateRTT
		w.pingMu.Unlock()
		switch {
		case unacked > kt:
			w.t.emit(slog.LevelWarn, EventKeepaliveTimeout, slog.Uint64("conn", w.id),
				slog.Duration("unacked_for", unacked), slog.Duration("keepalive_timeout", kt),
				slog.String("note", "inferred: the client closed the connection while its keepalive PING had been unacknowledged for longer than the keepalive timeout"))
		case !lateAck.IsZero() && time.Since(lateAck) < kt:
			// After a freeze the ACK can be read in the same instant as
			// grpc-go's expired timer fires: the timer wins, and the
			// connection is closed although its answer has arrived.
			w.t.emit(slog.LevelWarn, EventKeepaliveTimeout, slog.Uint64("conn", w.id),
				slog.Duration("unacked_for", lateRTT), slog.Duration("keepalive_timeout", kt),
				slog.String("note", "inferred: the client closed the connection just after its keepalive PING was acknowledged later than the keepalive timeout; the timer fired before the ACK was read"))
		}
	}
	w.end("local close", nil)
}

// readFailed reports a connection ended by the peer (EOF) or by an error,
// unless the client is closing it.
func (w *wire) readFailed(err error) {
	if w.closing.Load() || errors.Is(err, os.ErrDeadlineExceeded) {
		return
	}
	if errors.Is(err, io.EOF) {
		w.end("eof", nil)
		return
	}
	w.end("error", err)
}

// end writes the closed event once.
func (w *wire) end(reason string, err error) {
	if !w.ended.CompareAndSwap(false, true) {
		return
	}
	attrs := []slog.Attr{slog.Uint64("conn", w.id), slog.String("reason", reason),
		slog.Duration("lifetime", time.Since(w.opened)),
		slog.Int64("bytes_in", w.bytesIn.Load()), slog.Int64("bytes_out", w.bytesOut.Load())}
	level := slog.LevelInfo
	if err != nil {
		attrs = append(attrs, slog.String("err", err.Error()))
		level = slog.LevelWarn
	}
	w.t.emit(level, EventClosed, attrs...)
}

// tracedConn is the TCP connection as the dialer returns it. It counts bytes,
// notices how the connection ends and, for plaintext, parses frames.
type tracedConn struct {
	net.Conn
	w *wire
}

// Read reads from the connection, observing the bytes.
func (c *tracedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.w.bytesIn.Add(int64(n))
		if c.w.plaintext.Load() {
			c.w.feedIn(b[:n])
		}
	}
	if err != nil {
		c.w.readFailed(err)
	}
	return n, err
}

// Write writes to the connection, observing the bytes.
func (c *tracedConn) Write(b []byte) (int, error) {
	if c.w.plaintext.Load() {
		c.w.feedOut(b)
	}
	n, err := c.Conn.Write(b)
	c.w.bytesOut.Add(int64(n))
	return n, err
}

// Close closes the connection and reports it.
func (c *tracedConn) Close() error {
	c.w.localClose()
	return c.Conn.Close()
}

// tlsFramedConn is the TLS connection over a tracedConn: it feeds the
// decrypted HTTP/2 bytes to the wire's parsers.
type tlsFramedConn struct {
	net.Conn
	w *wire
}

// Read reads decrypted bytes, observing them.
func (c *tlsFramedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.w.feedIn(b[:n])
	}
	return n, err
}

// Write writes bytes to be encrypted, observing them.
func (c *tlsFramedConn) Write(b []byte) (int, error) {
	c.w.feedOut(b)
	return c.Conn.Write(b)
}

// Close closes the TLS connection and reports it.
func (c *tlsFramedConn) Close() error {
	c.w.localClose()
	return c.Conn.Close()
}

// tracingCredentials wraps the transport credentials so that the tracer sees
// HTTP/2 frames after the handshake: for plaintext the TCP bytes themselves,
// for TLS the bytes inside the TLS connection.
type tracingCredentials struct {
	credentials.TransportCredentials
}

// ClientHandshake performs the wrapped handshake and turns frame parsing on.
func (c tracingCredentials) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ClientHandshake(ctx, authority, raw)
	if err != nil {
		return conn, info, err
	}
	tc, ok := raw.(*tracedConn)
	if !ok {
		return conn, info, nil
	}
	if conn == raw {
		tc.w.plaintext.Store(true)
		return conn, info, nil
	}
	return &tlsFramedConn{Conn: conn, w: tc.w}, info, nil
}

// Clone keeps the wrapping.
func (c tracingCredentials) Clone() credentials.TransportCredentials {
	return tracingCredentials{c.TransportCredentials.Clone()}
}
