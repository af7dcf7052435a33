package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/thaw-dev/thaw/api/cachepb"
)

// Idle connections are plain HTTP/2 connections driven frame by frame, not
// grpc-go channels: grpc-go raises any keepalive interval below 10 s to
// 10 s, so it cannot ping every 5 s as the SDKs' Laptop config does, and a
// channel costs the bench far more memory than the server, which is what is
// measured. Each connection makes one real gRPC call (cache_client.Ping) to
// be established as the SDKs' are, then only sends PING frames.

// idleDialers is how many connections are being established at once.
const idleDialers = 64

// fdHeadroom is how many file descriptors the bench needs besides its idle
// connections.
const fdHeadroom = 64

// ErrFileLimit says the open files limit is too low for the idle
// connections asked for.
var ErrFileLimit = errors.New("bench: open files limit too low")

// raiseFileLimit raises the soft RLIMIT_NOFILE to what n connections need,
// up to the hard limit.
func raiseFileLimit(n int) error {
	need := uint64(n + fdHeadroom)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("bench: read the open files limit: %w", err)
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max < need {
		return fmt.Errorf("%w: %d idle connections need %d open files, and the hard limit is %d; raise it (ulimit -Hn, or LimitNOFILE= in a systemd unit) or use fewer connections",
			ErrFileLimit, n, need, lim.Max)
	}
	lim.Cur = need
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("%w: raise the soft limit to %d: %v", ErrFileLimit, need, err)
	}
	return nil
}

// RunIdle holds cfg.IdleConnections connections to cfg.Endpoint for
// cfg.Duration, each sending only keepalive pings, and measures what they
// cost the server process when it runs on this machine. When ctx ends
// early, it returns what was measured so far, with Interrupted set.
func RunIdle(ctx context.Context, cfg Config, progress io.Writer) (*IdleResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Idle() {
		return nil, fmt.Errorf("%w: the idle mode needs --idle-connections", ErrUsage)
	}
	if err := raiseFileLimit(cfg.IdleConnections); err != nil {
		return nil, err
	}
	tc, err := tlsConfig(cfg, "h2")
	if err != nil {
		return nil, err
	}
	p := newProgressLine(progress, cfg.Terminal)
	defer p.end()
	res := &IdleResult{
		Mode: "idle", Connections: cfg.IdleConnections, KeepaliveS: cfg.Keepalive.Seconds(),
		Endpoint: cfg.Endpoint, TLS: cfg.UsesTLS(), LostReasons: map[string]int{},
	}
	watch := findServer(cfg, &res.Server)
	if watch {
		if limit, err := openFilesLimit(res.Server.PID); err == nil {
			res.Server.OpenFilesLimit = limit
			if limit >= 0 && limit < int64(cfg.IdleConnections) {
				p.note(fmt.Sprintf("warning: the server's open files limit is %d, below %d connections", limit, cfg.IdleConnections))
			}
		}
		if res.Server.RSSBeforeBytes, err = rssBytes(res.Server.PID); err != nil {
			return nil, err
		}
	}

	pings := &pingStats{hist: newHistogram()}
	idle := make([]*idleConn, cfg.IdleConnections)
	var next, connected, failed atomic.Int64
	var firstErr error
	var errOnce sync.Once
	connectStart := time.Now()
	stopStatus := p.every(func() {
		p.status("connecting: %d of %d connected, %d failed", connected.Load(), cfg.IdleConnections, failed.Load())
	})
	var wg sync.WaitGroup
	for range min(idleDialers, cfg.IdleConnections) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.IdleConnections || ctx.Err() != nil {
					return
				}
				c, err := dialIdle(ctx, cfg, tc, pings)
				if err != nil {
					failed.Add(1)
					errOnce.Do(func() { firstErr = err })
					continue
				}
				idle[i] = c
				connected.Add(1)
			}
		})
	}
	wg.Wait()
	stopStatus()
	res.ConnectS = time.Since(connectStart).Seconds()
	res.Connected, res.FailedToConnect = int(connected.Load()), int(failed.Load())
	defer func() {
		for _, c := range idle {
			if c != nil {
				c.close()
			}
		}
	}()
	if res.Connected == 0 {
		if firstErr == nil {
			firstErr = context.Cause(ctx)
		}
		return nil, fmt.Errorf("bench: no idle connection could be established: %w", firstErr)
	}
	if res.FailedToConnect > 0 {
		p.note(fmt.Sprintf("%d of %d connections failed; the first: %v", res.FailedToConnect, cfg.IdleConnections, firstErr))
	}
	if ctx.Err() != nil {
		res.Interrupted = true
		return res, nil
	}

	var ticksStart int64
	if watch {
		if res.Server.RSSStartBytes, err = rssBytes(res.Server.PID); err != nil {
			return nil, err
		}
		if ticksStart, err = cpuTicks(res.Server.PID); err != nil {
			return nil, err
		}
	}
	// Each connection's first ping comes at a random point of the first
	// interval, so that the pings are spread as those of clients that
	// connected at different times, not a burst every interval.
	for _, c := range idle {
		if c != nil && cfg.Keepalive > 0 {
			c.startPinging(mrand.N(cfg.Keepalive))
		}
	}
	windowStart := time.Now()
	timer := time.NewTimer(cfg.Duration)
	defer timer.Stop()
	stopStatus = p.every(func() {
		p.status("%4.0fs/%.0fs  %d connections open, %d pings, %d unanswered",
			time.Since(windowStart).Seconds(), cfg.Duration.Seconds(), openCount(idle), pings.sent.Load(), pings.failed.Load())
	})
	select {
	case <-timer.C:
	case <-ctx.Done():
		res.Interrupted = true
	}
	stopStatus()
	window := time.Since(windowStart)
	res.DurationS = window.Seconds()
	if watch {
		ticksEnd, err := cpuTicks(res.Server.PID)
		if err != nil {
			return nil, err
		}
		if res.Server.RSSEndBytes, err = rssBytes(res.Server.PID); err != nil {
			return nil, err
		}
		cpuSeconds := float64(ticksEnd-ticksStart) / clockTicksPerSecond
		res.Server.CPUPercent = 100 * cpuSeconds / window.Seconds()
		res.Server.RSSPerConnBytes = (res.Server.RSSEndBytes - res.Server.RSSBeforeBytes) / int64(res.Connected)
	}
	for _, c := range idle {
		if c == nil {
			continue
		}
		if reason := c.lostReason(); reason != "" {
			res.Lost++
			res.LostReasons[reason]++
		}
	}
	pings.mu.Lock()
	res.PingRTT = latencyOf(pings.hist)
	pings.mu.Unlock()
	res.Pings, res.PingFailures = pings.sent.Load(), pings.failed.Load()
	return res, nil
}

// findServer fills in which process to watch, or why none is; it reports
// whether there is one.
func findServer(cfg Config, u *ServerUsage) bool {
	host, portText, _ := net.SplitHostPort(cfg.Endpoint)
	pid := cfg.ServerPID
	if pid == 0 {
		if !isLocalHost(host) {
			u.Note = fmt.Sprintf("the server %s is not on this machine: its CPU and memory are not measured (give --server-pid if it is)", cfg.Endpoint)
			return false
		}
		port, _ := strconv.Atoi(portText)
		var err error
		if pid, err = listeningPID(port); err != nil {
			u.Note = fmt.Sprintf("server CPU and memory not measured: %v", err)
			return false
		}
	}
	if _, err := cpuTicks(pid); err != nil {
		u.Note = fmt.Sprintf("server CPU and memory not measured: %v", err)
		return false
	}
	u.Local, u.PID = true, pid
	if pid == os.Getpid() {
		u.Note = "the server runs inside the bench's own process: its CPU and memory include the bench's"
	}
	return true
}

func openCount(idle []*idleConn) int {
	n := 0
	for _, c := range idle {
		if c != nil && c.lostReason() == "" {
			n++
		}
	}
	return n
}

// pingStats gathers the keepalive pings of all idle connections.
type pingStats struct {
	sent, failed atomic.Int64
	mu           sync.Mutex // guards hist
	hist         *hdrhistogram.Histogram
}

func (s *pingStats) rtt(d time.Duration) {
	us := min(max(int64(d/time.Microsecond), histLowestUS), histHighestUS)
	s.mu.Lock()
	s.hist.RecordValue(us)
	s.mu.Unlock()
}

// idleConn is one idle HTTP/2 connection: a reader goroutine answers the
// server's SETTINGS and PINGs and notes acknowledgements; a timer sends a
// PING every keepalive interval and ends the connection when one is not
// acknowledged in time.
type idleConn struct {
	conn      net.Conn
	keepalive time.Duration
	timeout   time.Duration
	pings     *pingStats

	mu     sync.Mutex // guards the fields below and writes to framer
	framer *http2.Framer
	gen    uint64      // the current timer's generation; older firings are ignored
	timer  *time.Timer // the next ping, or the pending ping's timeout
	sentAt time.Time   // zero when no ping is pending
	seq    uint64      // the pending ping's payload
	lost   string      // why the connection ended; empty while it is open
	closed bool        // the bench closed it
}

// dialIdle connects, makes one gRPC Ping call and returns the connection
// with its reader running.
func dialIdle(ctx context.Context, cfg Config, tc *tls.Config, pings *pingStats) (*idleConn, error) {
	dctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	scheme := "http"
	if tc != nil {
		tlsConn := tls.Client(conn, tc)
		if err := tlsConn.HandshakeContext(dctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		if p := tlsConn.ConnectionState().NegotiatedProtocol; p != "h2" {
			conn.Close()
			return nil, fmt.Errorf("TLS: the server chose protocol %q, not h2", p)
		}
		conn, scheme = tlsConn, "https"
	}
	c := &idleConn{conn: conn, keepalive: cfg.Keepalive, timeout: cfg.KeepaliveTimeout, pings: pings}
	if deadline, ok := dctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	if err := c.handshake(cfg.Endpoint, scheme); err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	go c.read()
	return c, nil
}

// handshake sends the HTTP/2 preface and one gRPC call on the connection
// (see PingOverHTTP2).
func (c *idleConn) handshake(authority, scheme string) error {
	framer, err := PingOverHTTP2(c.conn, authority, scheme)
	c.framer = framer
	return err
}

// PingOverHTTP2 sends the HTTP/2 client preface on conn and one gRPC call,
// cache_client.Ping/Ping, answering the server's SETTINGS and PINGs, and
// reads frames until the call's reply ends. It fails unless the reply is
// HTTP 200 with grpc-status 0. authority and scheme ("http" or "https")
// go into the call's headers. It returns the connection's framer, for the
// caller's later frames; nothing else may use conn meanwhile.
func PingOverHTTP2(conn net.Conn, authority, scheme string) (*http2.Framer, error) {
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		return nil, fmt.Errorf("HTTP/2 preface: %w", err)
	}
	framer := http2.NewFramer(conn, conn)
	framer.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range [][2]string{
		{":method", "POST"}, {":scheme", scheme}, {":path", cachepb.Ping_Ping_FullMethodName}, {":authority", authority},
		{"content-type", "application/grpc"}, {"te", "trailers"}, {"user-agent", "thaw-bench"},
	} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	// An empty _PingRequest: a gRPC message header (not compressed, length 0).
	err := errors.Join(
		framer.WriteSettings(),
		framer.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndHeaders: true}),
		framer.WriteData(1, true, make([]byte, 5)),
	)
	if err != nil {
		return framer, fmt.Errorf("send Ping: %w", err)
	}
	grpcStatus, grpcMessage := "", ""
	for {
		f, err := framer.ReadFrame()
		if err != nil {
			return framer, fmt.Errorf("read Ping reply: %w", err)
		}
		err = acknowledge(framer, f)
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			if f.StreamID != 1 {
				continue
			}
			if s := f.PseudoValue("status"); s != "" && s != "200" {
				return framer, fmt.Errorf("Ping: HTTP status %s", s)
			}
			for _, hf := range f.RegularFields() {
				switch hf.Name {
				case "grpc-status":
					grpcStatus = hf.Value
				case "grpc-message":
					grpcMessage = hf.Value
				}
			}
			if f.StreamEnded() {
				if grpcStatus != "0" {
					return framer, fmt.Errorf("Ping: grpc-status %s %s", grpcStatus, grpcMessage)
				}
				return framer, nil
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == 1 {
				return framer, fmt.Errorf("Ping: stream reset: %v", f.ErrCode)
			}
		case *http2.GoAwayFrame:
			return framer, fmt.Errorf("Ping: GOAWAY %v %s", f.ErrCode, f.DebugData())
		}
		if err != nil {
			return framer, fmt.Errorf("write: %w", err)
		}
	}
}

// answer acknowledges the server's SETTINGS and PINGs, as HTTP/2 requires,
// and notes the acknowledgements of the connection's own PINGs.
func (c *idleConn) answer(f http2.Frame) error {
	if p, ok := f.(*http2.PingFrame); ok && p.IsAck() {
		c.acked(binary.BigEndian.Uint64(p.Data[:]))
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := acknowledge(c.framer, f); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// acknowledge answers a peer's SETTINGS or PING, as HTTP/2 requires; other
// frames need nothing.
func acknowledge(fr *http2.Framer, f http2.Frame) error {
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if !f.IsAck() {
			return fr.WriteSettingsAck()
		}
	case *http2.PingFrame:
		if !f.IsAck() {
			return fr.WritePing(true, f.Data)
		}
	}
	return nil
}

// read handles frames until the connection ends, noting why.
func (c *idleConn) read() {
	for {
		f, err := c.framer.ReadFrame()
		if err != nil {
			c.end("closed by the server")
			return
		}
		if g, ok := f.(*http2.GoAwayFrame); ok {
			reason := "GOAWAY " + g.ErrCode.String()
			if debug := g.DebugData(); len(debug) > 0 {
				reason += " " + string(debug)
			}
			c.end(reason)
			return
		}
		if err := c.answer(f); err != nil {
			c.end("write failed")
			return
		}
	}
}

// startPinging arms the first keepalive ping, after first.
func (c *idleConn) startPinging(first time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armLocked(first)
}

// armLocked makes the timer fire after d, replacing any earlier one.
func (c *idleConn) armLocked(d time.Duration) {
	if c.timer != nil {
		c.timer.Stop()
	}
	c.gen++
	gen := c.gen
	c.timer = time.AfterFunc(d, func() { c.fire(gen) })
}

// fire sends a ping, or, when one is pending, ends the connection for not
// acknowledging it within the timeout.
func (c *idleConn) fire(gen uint64) {
	c.mu.Lock()
	if gen != c.gen || c.lost != "" || c.closed {
		c.mu.Unlock()
		return
	}
	if !c.sentAt.IsZero() {
		c.mu.Unlock()
		c.pings.failed.Add(1)
		c.end("ping timeout")
		return
	}
	c.seq++
	var data [8]byte
	binary.BigEndian.PutUint64(data[:], c.seq)
	c.sentAt = time.Now()
	err := c.framer.WritePing(false, data)
	c.armLocked(c.timeout)
	c.mu.Unlock()
	c.pings.sent.Add(1)
	if err != nil {
		c.pings.failed.Add(1)
		c.end("write failed")
	}
}

// acked notes the acknowledgement of ping seq and arms the next ping.
func (c *idleConn) acked(seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sentAt.IsZero() || seq != c.seq {
		return
	}
	c.pings.rtt(time.Since(c.sentAt))
	c.sentAt = time.Time{}
	if c.lost == "" && !c.closed {
		c.armLocked(c.keepalive)
	}
}

// end notes why the connection ended, unless the bench closed it, and
// closes it.
func (c *idleConn) end(reason string) {
	c.mu.Lock()
	if !c.closed && c.lost == "" {
		c.lost = reason
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
	c.conn.Close()
}

// lostReason is why the connection ended during the window; empty while
// it is open.
func (c *idleConn) lostReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lost
}

// close ends the connection at the end of the run.
func (c *idleConn) close() {
	c.mu.Lock()
	c.closed = true
	if c.timer != nil {
		c.timer.Stop()
	}
	c.gen++
	c.mu.Unlock()
	c.conn.Close()
}
