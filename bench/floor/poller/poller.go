//go:build linux

// Package poller is the floor of what an idle connection can cost a Go
// HTTP/2 server on this machine: one goroutine waits on epoll for every
// connection, so an idle connection holds no goroutine, no stack and no
// buffer, only its socket and a few hundred bytes of HTTP/2 state (an HPACK
// decoder and a frame carried over between reads).
//
// It speaks only as much HTTP/2 and gRPC as `thaw bench --idle-connections`
// uses: the connection preface and SETTINGS, PING, WINDOW_UPDATE, and the
// cache_client.Ping/Ping call, answered with an empty reply; any other
// method gets grpc-status UNIMPLEMENTED. It is not a gRPC server: it
// measures what the idle-connection goal of issue 15 would need from one
// (the README's "Idle connections" section), beside the floor of the grpc-go
// stack in package floor. IPv4 only.
package poller

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"

	"golang.org/x/net/http2/hpack"
	"golang.org/x/sys/unix"

	"github.com/thaw-dev/thaw/api/cachepb"
)

// HTTP/2 frame types and flags (RFC 9113 §6) that the poller handles.
const (
	frameData         = 0x0
	frameHeaders      = 0x1
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePing         = 0x6
	frameGoAway       = 0x7
	frameWindowUpdate = 0x8
	frameContinuation = 0x9

	flagAck        = 0x1
	flagEndStream  = 0x1
	flagEndHeaders = 0x4
	flagPadded     = 0x8
	flagPriority   = 0x20

	frameHeaderLen = 9
	clientPreface  = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	// maxFrameLen is SETTINGS_MAX_FRAME_SIZE's default, which the poller
	// never raises.
	maxFrameLen = 1 << 14
)

// Server is a running poller: its listening socket, its epoll instance
// and the connections, indexed by file descriptor.
type Server struct {
	addr   string
	listen int // listening socket
	epoll  int
	// epollFile holds epoll for Go's own poller, which wakes the loop when
	// epoll has events: the loop never blocks in a system call.
	epollFile *os.File
	stop      int // eventfd written by Close to end the loop

	conns []*conn // by file descriptor; nil where none is open
	read  []byte  // the loop's read buffer, shared by every connection
	out   []byte  // the loop's write buffer, shared likewise

	closeOnce sync.Once
	done      chan struct{} // closed when the loop has returned
	err       error         // why the loop ended; read after done
}

// conn is one connection's state between reads. An idle connection that
// has made its call holds only this, its decoder and its socket.
type conn struct {
	fd int
	// preface is how many bytes of the client preface are still to come.
	preface int
	// partial is an incomplete frame, kept until the rest arrives.
	partial []byte
	// block collects a header block split over CONTINUATION frames.
	block []byte
	// dec decodes the connection's header blocks; HPACK is stateful.
	dec *hpack.Decoder
	// path is the :path of the header block being decoded.
	path string
	// calls maps a stream that sent its headers to whether it called
	// Ping; its reply goes out when its request ends.
	calls map[uint32]bool
	// pending is output the socket did not take yet.
	pending []byte
}

// Start listens on addr (an IPv4 host:port; port 0 picks a free one) and
// serves until Close.
func Start(addr string) (*Server, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		return nil, fmt.Errorf("poller: listen on %s: want an IPv4 host:port", addr)
	}
	s := &Server{listen: -1, epoll: -1, stop: -1, read: make([]byte, 64<<10), done: make(chan struct{})}
	if err := s.open(ap); err != nil {
		s.closeFDs()
		return nil, err
	}
	go s.loop()
	return s, nil
}

// open creates the listening socket, the epoll instance and the stop
// eventfd, and registers both.
func (s *Server) open(ap netip.AddrPort) error {
	var err error
	if s.listen, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0); err != nil {
		return fmt.Errorf("poller: socket: %w", err)
	}
	if err := unix.SetsockoptInt(s.listen, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fmt.Errorf("poller: SO_REUSEADDR: %w", err)
	}
	if err := unix.Bind(s.listen, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		return fmt.Errorf("poller: bind %s: %w", ap, err)
	}
	if err := unix.Listen(s.listen, 4096); err != nil {
		return fmt.Errorf("poller: listen on %s: %w", ap, err)
	}
	bound, err := unix.Getsockname(s.listen)
	if err != nil {
		return fmt.Errorf("poller: getsockname: %w", err)
	}
	in4 := bound.(*unix.SockaddrInet4)
	s.addr = net.JoinHostPort(netip.AddrFrom4(in4.Addr).String(), fmt.Sprint(in4.Port))

	if s.epoll, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return fmt.Errorf("poller: epoll_create1: %w", err)
	}
	if err := unix.SetNonblock(s.epoll, true); err != nil {
		return fmt.Errorf("poller: epoll: %w", err)
	}
	s.epollFile = os.NewFile(uintptr(s.epoll), "epoll")
	if s.stop, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		return fmt.Errorf("poller: eventfd: %w", err)
	}
	for _, fd := range []int{s.listen, s.stop} {
		if err := unix.EpollCtl(s.epoll, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
			return fmt.Errorf("poller: epoll_ctl: %w", err)
		}
	}
	return nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() string { return s.addr }

// Close ends the loop, closes every connection and the listener, and
// returns why the loop ended early, if it did.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		if _, err := unix.Write(s.stop, one[:]); err != nil {
			s.err = fmt.Errorf("poller: stop: %w", err)
			return
		}
		<-s.done
		s.closeFDs()
	})
	return s.err
}

// closeFDs closes every descriptor the server holds.
func (s *Server) closeFDs() {
	for _, c := range s.conns {
		if c != nil {
			unix.Close(c.fd)
		}
	}
	s.conns = nil
	if s.epollFile != nil {
		s.epollFile.Close()
		s.epoll = -1
	}
	for _, fd := range []int{s.listen, s.epoll, s.stop} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// loop waits for ready sockets and serves them until Close.
func (s *Server) loop() {
	defer close(s.done)
	events := make([]unix.EpollEvent, 256)
	raw, err := s.epollFile.SyscallConn()
	if err != nil {
		s.err = fmt.Errorf("poller: epoll: %w", err)
		return
	}
	for {
		var n int
		var waitErr error
		err := raw.Read(func(uintptr) bool {
			n, waitErr = unix.EpollWait(s.epoll, events, 0)
			return n > 0 || (waitErr != nil && !errors.Is(waitErr, unix.EINTR))
		})
		if err == nil {
			err = waitErr
		}
		if err != nil {
			s.err = fmt.Errorf("poller: epoll_wait: %w", err)
			return
		}
		for _, ev := range events[:n] {
			switch fd := int(ev.Fd); fd {
			case s.stop:
				return
			case s.listen:
				s.accept()
			default:
				if c := s.connOf(fd); c != nil {
					s.serve(c, ev.Events)
				}
			}
		}
	}
}

func (s *Server) connOf(fd int) *conn {
	if fd < len(s.conns) {
		return s.conns[fd]
	}
	return nil
}

// accept takes every waiting connection and greets it with the server's
// SETTINGS.
func (s *Server) accept() {
	for {
		fd, _, err := unix.Accept4(s.listen, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			return // EAGAIN, or an error the next accept will meet again
		}
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		if err := unix.EpollCtl(s.epoll, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
			unix.Close(fd)
			continue
		}
		for fd >= len(s.conns) {
			s.conns = append(s.conns, make([]*conn, len(s.conns)+64)...)
		}
		c := &conn{fd: fd, preface: len(clientPreface)}
		c.dec = hpack.NewDecoder(4096, c.field)
		s.conns[fd] = c
		s.out = appendFrame(s.out[:0], frameSettings, 0, 0, nil)
		s.send(c)
	}
}

// field notes the :path of the header block being decoded.
func (c *conn) field(f hpack.HeaderField) {
	if f.Name == ":path" {
		c.path = f.Value
	}
}

// serve reads what the socket has, answers every complete frame and
// flushes what the socket did not take before.
func (s *Server) serve(c *conn, events uint32) {
	if events&unix.EPOLLOUT != 0 && len(c.pending) > 0 {
		s.out = append(s.out[:0], c.pending...)
		c.pending = nil
		if !s.send(c) {
			return
		}
		if len(c.pending) == 0 {
			_ = unix.EpollCtl(s.epoll, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(c.fd)})
		}
	}
	if events&(unix.EPOLLIN|unix.EPOLLHUP|unix.EPOLLERR) == 0 {
		return
	}
	for {
		n, err := unix.Read(c.fd, s.read)
		if errors.Is(err, unix.EAGAIN) {
			return
		}
		if err != nil || n == 0 {
			s.drop(c)
			return
		}
		s.out = s.out[:0]
		if err := c.consume(s.read[:n], &s.out); err != nil {
			s.drop(c)
			return
		}
		if len(s.out) > 0 && !s.send(c) {
			return
		}
		if n < len(s.read) {
			return // the socket is drained; level-triggered epoll calls again
		}
	}
}

// consume parses the bytes read, with any frame left over from before,
// and appends the answers to out.
func (c *conn) consume(b []byte, out *[]byte) error {
	if c.preface > 0 {
		k := min(c.preface, len(b))
		off := len(clientPreface) - c.preface
		if string(b[:k]) != clientPreface[off:off+k] {
			return errors.New("not an HTTP/2 client preface")
		}
		c.preface -= k
		b = b[k:]
	}
	if len(c.partial) > 0 {
		b = append(c.partial, b...)
		c.partial = nil
	}
	for len(b) >= frameHeaderLen {
		length := int(b[0])<<16 | int(b[1])<<8 | int(b[2])
		if length > maxFrameLen {
			return fmt.Errorf("frame of %d bytes", length)
		}
		if len(b) < frameHeaderLen+length {
			break
		}
		typ, flags := b[3], b[4]
		stream := binary.BigEndian.Uint32(b[5:9]) & 0x7fffffff
		if err := c.frame(typ, flags, stream, b[frameHeaderLen:frameHeaderLen+length], out); err != nil {
			return err
		}
		b = b[frameHeaderLen+length:]
	}
	if len(b) > 0 {
		c.partial = append([]byte(nil), b...)
	}
	return nil
}

// frame answers one frame.
func (c *conn) frame(typ, flags byte, stream uint32, payload []byte, out *[]byte) error {
	switch typ {
	case frameSettings:
		if flags&flagAck == 0 {
			*out = appendFrame(*out, frameSettings, flagAck, 0, nil)
		}
	case framePing:
		if flags&flagAck == 0 && len(payload) == 8 {
			*out = appendFrame(*out, framePing, flagAck, 0, payload)
		}
	case frameHeaders:
		fragment, err := headerFragment(flags, payload)
		if err != nil {
			return err
		}
		c.block = append(c.block[:0], fragment...)
		if flags&flagEndHeaders != 0 {
			return c.headers(stream, flags&flagEndStream != 0, out)
		}
	case frameContinuation:
		c.block = append(c.block, payload...)
		if flags&flagEndHeaders != 0 {
			return c.headers(stream, false, out)
		}
	case frameData:
		if len(payload) > 0 {
			// Give the connection's window back; a stream's own window
			// (64 KiB) outlasts any request this server takes.
			var inc [4]byte
			binary.BigEndian.PutUint32(inc[:], uint32(len(payload)))
			*out = appendFrame(*out, frameWindowUpdate, 0, 0, inc[:])
		}
		if flags&flagEndStream != 0 {
			c.reply(stream, out)
		}
	case frameRSTStream:
		delete(c.calls, stream)
	case frameGoAway:
		return errors.New("GOAWAY")
	}
	return nil
}

// headerFragment strips a HEADERS frame's padding and priority fields.
func headerFragment(flags byte, p []byte) ([]byte, error) {
	if flags&flagPadded != 0 {
		if len(p) < 1 || int(p[0]) >= len(p) {
			return nil, errors.New("bad padding")
		}
		p = p[1 : len(p)-int(p[0])]
	}
	if flags&flagPriority != 0 {
		if len(p) < 5 {
			return nil, errors.New("bad priority")
		}
		p = p[5:]
	}
	return p, nil
}

// headers decodes a complete header block and notes the stream's call.
func (c *conn) headers(stream uint32, ended bool, out *[]byte) error {
	c.path = ""
	if _, err := c.dec.Write(c.block); err != nil {
		return fmt.Errorf("HPACK: %w", err)
	}
	c.block = c.block[:0]
	if cap(c.block) > 256 {
		c.block = nil // keep no large buffer on an idle connection
	}
	if c.calls == nil {
		c.calls = make(map[uint32]bool, 1)
	}
	c.calls[stream] = c.path == cachepb.Ping_Ping_FullMethodName
	if ended {
		c.reply(stream, out)
	}
	return nil
}

// reply answers a stream whose request has ended: an empty Ping reply, or
// UNIMPLEMENTED for any other method.
func (c *conn) reply(stream uint32, out *[]byte) {
	ping, ok := c.calls[stream]
	if !ok {
		return
	}
	delete(c.calls, stream)
	if len(c.calls) == 0 {
		c.calls = nil
	}
	*out = appendFrame(*out, frameHeaders, flagEndHeaders, stream, replyHeaders)
	if !ping {
		*out = appendFrame(*out, frameHeaders, flagEndHeaders|flagEndStream, stream, unimplementedTrailers)
		return
	}
	*out = appendFrame(*out, frameData, 0, stream, emptyMessage[:])
	*out = appendFrame(*out, frameHeaders, flagEndHeaders|flagEndStream, stream, okTrailers)
}

// send writes s.out to c, keeping what the socket does not take for
// EPOLLOUT. It reports whether c is still open.
func (s *Server) send(c *conn) bool {
	b := s.out
	if len(c.pending) > 0 { // keep the order: EPOLLOUT sends it all
		c.pending = append(c.pending, b...)
		return true
	}
	for len(b) > 0 {
		n, err := unix.Write(c.fd, b)
		if errors.Is(err, unix.EAGAIN) {
			if len(c.pending) == 0 {
				_ = unix.EpollCtl(s.epoll, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT, Fd: int32(c.fd)})
			}
			c.pending = append(c.pending, b...)
			return true
		}
		if err != nil {
			s.drop(c)
			return false
		}
		b = b[n:]
	}
	return true
}

// drop closes c and forgets it.
func (s *Server) drop(c *conn) {
	_ = unix.EpollCtl(s.epoll, unix.EPOLL_CTL_DEL, c.fd, nil)
	unix.Close(c.fd)
	s.conns[c.fd] = nil
}

// appendFrame appends one frame with its 9-byte header.
func appendFrame(b []byte, typ, flags byte, stream uint32, payload []byte) []byte {
	n := len(payload)
	b = append(b, byte(n>>16), byte(n>>8), byte(n), typ, flags)
	b = binary.BigEndian.AppendUint32(b, stream)
	return append(b, payload...)
}

// Header blocks of the replies. They use literals without indexing only,
// so the connection needs no HPACK encoder state.
var (
	replyHeaders = appendLiteral(
		[]byte{0x88}, // :status 200, static table entry 8
		"content-type", "application/grpc")
	okTrailers            = appendLiteral(nil, "grpc-status", "0")
	unimplementedTrailers = appendLiteral(appendLiteral(nil, "grpc-status", "12"), "grpc-message", "the idle-connection floor answers only Ping")
	emptyMessage          = [5]byte{} // uncompressed, length 0
)

// appendLiteral appends a literal header field without indexing, with a
// new name (RFC 7541 §6.2.2), for strings shorter than 127 bytes.
func appendLiteral(b []byte, name, value string) []byte {
	b = append(b, 0x00, byte(len(name)))
	b = append(b, name...)
	b = append(b, byte(len(value)))
	return append(b, value...)
}
