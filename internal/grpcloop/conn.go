//go:build linux

package grpcloop

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http2/hpack"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// conn is one client connection. The fields above mu are the loop's alone,
// but for the atomic wroteSince, which handlers set; the rest are shared
// with the stream handlers and guarded by mu.
type conn struct {
	srv           *Server
	fd            int
	remote, local net.Addr

	// preface is how many bytes of the client preface are still to come.
	preface int
	// partial is an incomplete frame, kept until the rest arrives.
	partial []byte
	// block collects a header block split over CONTINUATION frames; a
	// block in one HEADERS frame is decoded where it lies. blockStream and
	// blockEndStream are its stream and whether its HEADERS ended it;
	// inBlock, whether a block is open.
	block          []byte
	blockStream    uint32
	blockEndStream bool
	inBlock        bool
	// dec decodes header blocks (HPACK is stateful per connection) into
	// the loop's poller.fields.
	dec *hpack.Decoder
	// lastPing and pingStrikes enforce Config.KeepaliveMinTime.
	lastPing    time.Time
	pingStrikes int
	// unacked is what was received since the server last gave the
	// connection window back; connWindow less unacked is what is left.
	unacked int64
	// wroteSince is set whenever the server sends headers or data, which
	// forgives the client's earlier pings, as grpc-go does.
	wroteSince atomic.Bool

	mu sync.Mutex
	// sendable is signalled when the send window grows or the connection
	// closes.
	sendable sync.Cond
	streams  map[uint32]*stream
	// maxStreamID is the highest stream the client has opened.
	maxStreamID uint32
	// running counts stream handlers not yet returned.
	running int
	// pending is output the socket has not taken yet; while it is not
	// empty, the loop watches for EPOLLOUT and all output queues behind it.
	pending []byte
	closed  bool
	// goingAway: GOAWAY was sent; no stream after maxStreamID starts.
	goingAway bool
	// sendWindow is the connection's send window; peerWindow is the
	// client's SETTINGS_INITIAL_WINDOW_SIZE for streams, peerMaxFrame its
	// SETTINGS_MAX_FRAME_SIZE.
	sendWindow   int64
	peerWindow   int64
	peerMaxFrame int
}

// errConnClosed is what a handler's write meets on a closed connection.
var errConnClosed = errors.New("grpcloop: connection closed")

// connError is a connection error (RFC 9113 §5.4.1): it ends the
// connection with GOAWAY and the code.
type connError struct {
	code uint32
	msg  string
}

func (e connError) Error() string { return fmt.Sprintf("HTTP/2 error %#x: %s", e.code, e.msg) }

// newConn takes nc's socket: it duplicates the descriptor, closes nc (which
// leaves Go's poller) and greets the client with the server's SETTINGS. A
// wrapper of a socket is unwrapped through its NetConn method, as
// tls.Conn's is named.
func newConn(srv *Server, nc net.Conn) (*conn, error) {
	defer nc.Close()
	inner := nc
	for {
		w, ok := inner.(interface{ NetConn() net.Conn })
		if _, isSocket := inner.(syscall.Conn); isSocket || !ok {
			break
		}
		inner = w.NetConn()
	}
	sc, ok := inner.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("grpcloop: a %T has no socket", nc)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("grpcloop: socket: %w", err)
	}
	fd := -1
	var dupErr error
	if err := rc.Control(func(s uintptr) { fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, fmt.Errorf("grpcloop: socket: %w", err)
	}
	if dupErr != nil {
		return nil, fmt.Errorf("grpcloop: dup: %w", dupErr)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("grpcloop: socket: %w", err)
	}
	if t := srv.cfg.TCPUserTimeout; t > 0 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(t.Milliseconds())); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("grpcloop: TCP_USER_TIMEOUT: %w", err)
		}
	}
	c := &conn{
		srv:          srv,
		fd:           fd,
		remote:       nc.RemoteAddr(),
		local:        nc.LocalAddr(),
		preface:      len(clientPreface),
		sendWindow:   defaultWindow,
		peerWindow:   defaultWindow,
		peerMaxFrame: defaultMaxFrameSize,
	}
	c.sendable.L = &c.mu
	c.dec = hpack.NewDecoder(4096, c.field)
	c.dec.SetMaxStringLength(maxHeaderListSize)
	c.mu.Lock()
	err = c.writeLocked(appendServerPreface(nil, srv.cfg.MaxConcurrentStreams))
	c.mu.Unlock()
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return c, nil
}

// field collects one decoded header field.
func (c *conn) field(f hpack.HeaderField) {
	p := c.srv.poll
	p.fieldsSize += len(f.Name) + len(f.Value) + 32
	if p.fieldsSize <= maxHeaderListSize {
		p.fields = append(p.fields, f)
	}
}

// consume parses what was read, with any frame left over from before.
func (c *conn) consume(b []byte) error {
	if c.preface > 0 {
		k := min(c.preface, len(b))
		off := len(clientPreface) - c.preface
		if string(b[:k]) != clientPreface[off:off+k] {
			return connError{errProtocol, "not an HTTP/2 client preface"}
		}
		c.preface -= k
		b = b[k:]
	}
	if len(c.partial) > 0 {
		// Complete the frame begun in an earlier read with only the bytes
		// it lacks, its header first; the rest of b is parsed where it lies.
		if len(c.partial) < frameHeaderLen {
			k := min(frameHeaderLen-len(c.partial), len(b))
			c.partial = append(c.partial, b[:k]...)
			b = b[k:]
			if len(c.partial) < frameHeaderLen {
				return nil
			}
		}
		length, err := frameLength(c.partial)
		if err != nil {
			return err
		}
		k := min(frameHeaderLen+length-len(c.partial), len(b))
		c.partial = append(c.partial, b[:k]...)
		b = b[k:]
		if len(c.partial) < frameHeaderLen+length {
			return nil
		}
		whole := c.partial
		c.partial = nil
		if _, err := c.frames(whole); err != nil {
			return err
		}
	}
	rest, err := c.frames(b)
	if err == nil && len(rest) > 0 {
		c.partial = append([]byte(nil), rest...)
	}
	return err
}

// frameLength returns the payload length in a frame header, refusing one
// over the frame size the server allows (it never raises
// SETTINGS_MAX_FRAME_SIZE).
func frameLength(header []byte) (int, error) {
	length := int(header[0])<<16 | int(header[1])<<8 | int(header[2])
	if length > defaultMaxFrameSize {
		return 0, connError{errFrameSize, fmt.Sprintf("frame of %d bytes", length)}
	}
	return length, nil
}

// frames handles every complete frame at the start of b and returns what
// is left: the start of a frame still to come.
func (c *conn) frames(b []byte) ([]byte, error) {
	for len(b) >= frameHeaderLen {
		length, err := frameLength(b)
		if err != nil {
			return nil, err
		}
		if len(b) < frameHeaderLen+length {
			break
		}
		stream := binary.BigEndian.Uint32(b[5:9]) & 0x7fffffff
		if err := c.frame(b[3], b[4], stream, b[frameHeaderLen:frameHeaderLen+length]); err != nil {
			return nil, err
		}
		b = b[frameHeaderLen+length:]
	}
	return b, nil
}

// frame handles one complete frame.
func (c *conn) frame(typ, flags byte, stream uint32, p []byte) error {
	if c.inBlock && (typ != frameContinuation || stream != c.blockStream) {
		return connError{errProtocol, "header block interrupted"}
	}
	switch typ {
	case frameData:
		return c.data(flags, stream, p)
	case frameHeaders:
		return c.headers(flags, stream, p)
	case frameContinuation:
		if !c.inBlock {
			return connError{errProtocol, "CONTINUATION without HEADERS"}
		}
		return c.continuation(flags, p)
	case framePriority:
		if stream == 0 {
			return connError{errProtocol, "PRIORITY on stream 0"}
		}
		if len(p) != 5 {
			return connError{errFrameSize, "PRIORITY"}
		}
	case frameRSTStream:
		if len(p) != 4 {
			return connError{errFrameSize, "RST_STREAM"}
		}
		return c.resetByClient(stream)
	case frameSettings:
		return c.settings(flags, stream, p)
	case framePushPromise:
		return connError{errProtocol, "PUSH_PROMISE from a client"}
	case framePing:
		return c.ping(flags, stream, p)
	case frameGoAway:
		// The client stops opening streams; it closes when its own are done.
	case frameWindowUpdate:
		return c.windowUpdate(stream, p)
	}
	return nil // unknown frame types are ignored (RFC 9113 §4.1)
}

// settings applies the client's SETTINGS and acknowledges them.
func (c *conn) settings(flags byte, stream uint32, p []byte) error {
	if stream != 0 {
		return connError{errProtocol, "SETTINGS on a stream"}
	}
	if len(p)%6 != 0 || (flags&flagAck != 0 && len(p) != 0) {
		return connError{errFrameSize, "SETTINGS"}
	}
	if flags&flagAck != 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for ; len(p) > 0; p = p[6:] {
		id, v := binary.BigEndian.Uint16(p), binary.BigEndian.Uint32(p[2:])
		switch id {
		case settingInitialWindowSize:
			if v > maxWindow {
				return connError{errFlowControl, "SETTINGS_INITIAL_WINDOW_SIZE"}
			}
			delta := int64(v) - c.peerWindow
			for _, st := range c.streams {
				if st.sendWindow+delta > maxWindow {
					return connError{errFlowControl, "SETTINGS_INITIAL_WINDOW_SIZE overflows a stream's window"}
				}
			}
			c.peerWindow = int64(v)
			for _, st := range c.streams {
				st.sendWindow += delta
			}
			c.sendable.Broadcast()
		case settingMaxFrameSize:
			if v < defaultMaxFrameSize || v > maxAllowedFrameSize {
				return connError{errProtocol, "SETTINGS_MAX_FRAME_SIZE"}
			}
			c.peerMaxFrame = int(v)
		}
	}
	return c.writeLocked(appendFrameHeader(nil, 0, frameSettings, flagAck, 0))
}

// ping acknowledges a client's PING and counts it against the keepalive
// policy.
func (c *conn) ping(flags byte, stream uint32, p []byte) error {
	if stream != 0 {
		return connError{errProtocol, "PING on a stream"}
	}
	if len(p) != 8 {
		return connError{errFrameSize, "PING"}
	}
	if flags&flagAck != 0 {
		return nil
	}
	now := time.Now()
	if c.wroteSince.Swap(false) {
		c.pingStrikes = 0
	} else if min := c.srv.cfg.KeepaliveMinTime; min > 0 && !c.lastPing.IsZero() && now.Sub(c.lastPing) < min {
		c.pingStrikes++
	}
	c.lastPing = now
	if c.pingStrikes > maxPingStrikes {
		return connError{errEnhanceYourCalm, "too_many_pings"}
	}
	var ack [frameHeaderLen + 8]byte
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeLocked(appendFrame(ack[:0], framePing, flagAck, 0, p))
}

// maxPingStrikes is how many pings in a row may come too soon; grpc-go
// allows as many.
const maxPingStrikes = 2

// windowUpdate grows a send window.
func (c *conn) windowUpdate(stream uint32, p []byte) error {
	if len(p) != 4 {
		return connError{errFrameSize, "WINDOW_UPDATE"}
	}
	inc := int64(binary.BigEndian.Uint32(p) & 0x7fffffff)
	c.mu.Lock()
	defer c.mu.Unlock()
	if stream == 0 {
		if inc == 0 {
			return connError{errProtocol, "connection WINDOW_UPDATE of 0"}
		}
		if c.sendWindow+inc > maxWindow {
			return connError{errFlowControl, "connection WINDOW_UPDATE past 2^31-1"}
		}
		c.sendWindow += inc
		c.sendable.Broadcast()
		return nil
	}
	if stream > c.maxStreamID {
		return connError{errProtocol, "WINDOW_UPDATE on an idle stream"}
	}
	st := c.streams[stream]
	if st == nil {
		return nil // a stream that has ended
	}
	if inc == 0 {
		return c.resetLocked(st, errProtocol)
	}
	if st.sendWindow+inc > maxWindow {
		return c.resetLocked(st, errFlowControl)
	}
	st.sendWindow += inc
	c.sendable.Broadcast()
	return nil
}

// headers starts a header block.
func (c *conn) headers(flags byte, stream uint32, p []byte) error {
	if stream == 0 || stream%2 == 0 {
		return connError{errProtocol, "HEADERS on a stream a client cannot open"}
	}
	if flags&flagPadded != 0 {
		if len(p) < 1 || int(p[0]) >= len(p) {
			return connError{errProtocol, "HEADERS padding"}
		}
		p = p[1 : len(p)-int(p[0])]
	}
	if flags&flagPriority != 0 {
		if len(p) < 5 {
			return connError{errFrameSize, "HEADERS priority"}
		}
		p = p[5:]
	}
	c.blockStream, c.blockEndStream = stream, flags&flagEndStream != 0
	if flags&flagEndHeaders != 0 {
		return c.decodeBlock(p)
	}
	c.inBlock = true
	return c.continuation(0, p)
}

// continuation adds a fragment to the open header block and decodes the
// block once it ends.
func (c *conn) continuation(flags byte, fragment []byte) error {
	if len(c.block)+len(fragment) > maxHeaderBlockPending {
		return connError{errEnhanceYourCalm, "header block too large"}
	}
	c.block = append(c.block, fragment...)
	if flags&flagEndHeaders == 0 {
		return nil
	}
	block := c.block
	c.inBlock, c.block = false, nil // an idle connection keeps no buffer
	return c.decodeBlock(block)
}

// decodeBlock decodes a complete header block into the loop's scratch
// fields and acts on it.
func (c *conn) decodeBlock(block []byte) error {
	p := c.srv.poll
	p.fields, p.fieldsSize = p.fields[:0], 0
	_, err := c.dec.Write(block)
	if err == nil {
		err = c.dec.Close()
	}
	if err != nil {
		return connError{errCompression, fmt.Sprintf("HPACK: %v", err)}
	}
	err = c.headerBlock(c.blockStream, c.blockEndStream)
	clear(p.fields) // the strings go with the call
	return err
}

// headerBlock acts on a decoded header block: a new stream's request, or
// the trailers that end a client's stream.
func (c *conn) headerBlock(id uint32, endStream bool) error {
	c.mu.Lock()
	if id <= c.maxStreamID {
		st := c.streams[id]
		if st == nil {
			c.mu.Unlock()
			if !endStream { // not trailers: an attempt to open a stream below the last
				return connError{errProtocol, fmt.Sprintf("HEADERS opening stream %d after stream %d", id, c.maxStreamID)}
			}
			return nil // the stream has ended; its trailers are of no use
		}
		defer c.mu.Unlock()
		if !endStream {
			return c.resetLocked(st, errProtocol)
		}
		st.endInputLocked()
		return nil
	}
	c.maxStreamID = id
	if c.goingAway || c.running >= c.srv.cfg.MaxConcurrentStreams {
		defer c.mu.Unlock()
		return c.writeLocked(appendRSTStream(nil, id, errRefusedStream))
	}
	// The stream's handler slot is taken here, in the same critical
	// section as the GOAWAY check, so that GracefulStop, which waits for
	// the handlers once every GOAWAY is out, never sees one start later.
	c.running++
	c.srv.handlers.Add(1)
	c.srv.running.Add(1)
	c.mu.Unlock()
	started := false
	defer func() {
		if !started {
			c.releaseSlot()
		}
	}()
	if c.srv.poll.fieldsSize > maxHeaderListSize {
		return c.answer(id, endStream, status.Newf(codes.ResourceExhausted, "header list larger than %d bytes", maxHeaderListSize))
	}
	var err error
	started, err = c.startStream(id, endStream)
	return err
}

// releaseSlot gives back a handler slot taken by headerBlock.
func (c *conn) releaseSlot() {
	c.mu.Lock()
	c.running--
	c.mu.Unlock()
	c.srv.running.Add(-1)
	c.srv.handlers.Done()
}

// data hands a DATA frame's bytes to its stream and gives the connection
// window back.
func (c *conn) data(flags byte, id uint32, p []byte) error {
	if id == 0 {
		return connError{errProtocol, "DATA on stream 0"}
	}
	n := int64(len(p))
	if c.unacked+n > connWindow {
		return connError{errFlowControl, "DATA beyond the connection window"}
	}
	c.unacked += n
	var grant []byte
	if c.unacked >= connWindow/4 {
		grant = appendWindowUpdate(nil, 0, uint32(c.unacked))
		c.unacked = 0
	}
	if flags&flagPadded != 0 {
		if len(p) < 1 || int(p[0]) >= len(p) {
			return connError{errProtocol, "DATA padding"}
		}
		p = p[1 : len(p)-int(p[0])]
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if grant != nil {
		if err := c.writeLocked(grant); err != nil {
			return err
		}
	}
	if id > c.maxStreamID {
		return connError{errProtocol, "DATA on an idle stream"}
	}
	st := c.streams[id]
	if st == nil || st.inEnded {
		return nil // ended or reset; the bytes only counted for the connection
	}
	return st.receiveLocked(p, n, flags&flagEndStream != 0)
}

// resetByClient ends a stream the client reset.
func (c *conn) resetByClient(id uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id == 0 || id > c.maxStreamID {
		return connError{errProtocol, "RST_STREAM on an idle stream"}
	}
	if st := c.streams[id]; st != nil {
		st.abortLocked()
	}
	return nil
}

// resetLocked ends a stream with RST_STREAM code.
func (c *conn) resetLocked(st *stream, code uint32) error {
	st.abortLocked()
	return c.writeLocked(appendRSTStream(nil, st.id, code))
}

// goAway tells the client that no stream after the ones it has opened will
// be served.
func (c *conn) goAway() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.goingAway {
		return
	}
	c.goingAway = true
	_ = c.writeLocked(appendGoAway(nil, c.maxStreamID, errNo, ""))
}

// fail ends the connection after a protocol error, telling the client why
// when it is a connection error.
func (c *conn) fail(err error) {
	var ce connError
	if errors.As(err, &ce) {
		c.mu.Lock()
		if !c.closed {
			_ = c.writeLocked(appendGoAway(nil, c.maxStreamID, ce.code, ce.msg))
		}
		c.mu.Unlock()
	}
	c.close(err)
}

// close ends the connection: its streams are cancelled, its socket leaves
// the loop and is closed. Only the loop calls it, and take for a
// connection the loop refused.
func (c *conn) close(why error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if why != nil {
		c.srv.logger.Debug("grpcloop: connection closed", "remote", c.remote.String(), "why", why)
	}
	c.flushLocked() // a last try, without waiting, for a GOAWAY or a reply
	c.closed = true
	for _, st := range c.streams {
		st.abortLocked()
	}
	c.sendable.Broadcast()
	if p := c.srv.poll; p != nil {
		p.remove(c)
	}
	c.closeSocket()
	c.pending = nil
	c.mu.Unlock()
	c.srv.forget(c)
}

// closeSocket closes the descriptor.
func (c *conn) closeSocket() { unix.Close(c.fd) }

// writeLocked sends b, or queues it behind output the socket has not
// taken yet. A write error shuts the socket down, so that the loop sees the
// connection end and closes it.
func (c *conn) writeLocked(b []byte) error {
	if c.closed {
		return errConnClosed
	}
	if len(c.pending) > 0 {
		if len(c.pending)+len(b) > maxPending {
			// Handlers hold back at maxPendingData: what grows the queue
			// past this is the loop's answers to a client that sends but
			// does not read.
			_ = unix.Shutdown(c.fd, unix.SHUT_RDWR)
			return errors.New("grpcloop: the client does not read its connection")
		}
		c.pending = append(c.pending, b...)
		return nil
	}
	for len(b) > 0 {
		n, err := unix.Write(c.fd, b)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if errors.Is(err, unix.EAGAIN) {
			c.pending = append(c.pending, b...)
			c.srv.poll.watchWrites(c, true)
			return nil
		}
		if err != nil {
			_ = unix.Shutdown(c.fd, unix.SHUT_RDWR)
			return fmt.Errorf("grpcloop: write: %w", err)
		}
		b = b[n:]
	}
	return nil
}

// queued reports whether output waits for the socket.
func (c *conn) queued() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.closed && len(c.pending) > 0
}

// flushPending sends queued output once the socket is writable and wakes
// the handlers that wait for the queue to shrink.
func (c *conn) flushPending() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if c.flushLocked() {
		c.srv.poll.watchWrites(c, false)
	}
	if len(c.pending) < maxPendingData {
		c.sendable.Broadcast()
	}
}

// Bounds of the output queued for a connection whose socket does not take
// it: handlers stop adding messages at maxPendingData, and a connection
// whose queue would pass maxPending is closed.
const (
	maxPendingData = 1 << 20
	maxPending     = 4 << 20
)

// flushLocked writes as much queued output as the socket takes and
// reports whether all of it went.
func (c *conn) flushLocked() bool {
	for len(c.pending) > 0 {
		n, err := unix.Write(c.fd, c.pending)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			if !errors.Is(err, unix.EAGAIN) {
				_ = unix.Shutdown(c.fd, unix.SHUT_RDWR)
			}
			return false
		}
		c.pending = c.pending[n:]
	}
	c.pending = nil
	return true
}
