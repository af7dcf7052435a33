//go:build linux

package server

import (
	"io"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc/mem"
)

// setUserTimeout sets TCP_USER_TIMEOUT on conn, when it is a TCP
// connection: how long sent data may stay unacknowledged before the kernel
// drops the connection.
func setUserTimeout(conn net.Conn, d time.Duration) error {
	tcp, ok := conn.(*net.TCPConn)
	if !ok {
		return nil
	}
	raw, err := tcp.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(d/time.Millisecond))
	}); err != nil {
		return err
	}
	return serr
}

// ReadOnReady reads into a buffer of bufSize from pool without holding it
// while the connection has nothing to read (a read that would block gives
// the buffer back and waits); it returns the buffer, which the caller puts
// back, the bytes read and the error. grpc-go 1.85 (go.mod) reads through
// this method when a connection has it (the readyreader.Reader interface
// of its transport), and otherwise reads that way only a bare
// *net.TCPConn: wrapped without it, every connection kept a 32 KiB
// bufio.Reader for its whole life, idle or not. With it an idle
// connection holds no read buffer, as on the floor server (README, "Idle
// connections"). Only grpc-go's reader goroutine calls it.
func (c *countedConn) ReadOnReady(bufSize int, pool mem.BufferPool) (*[]byte, int, error) {
	if c.raw == nil {
		return blockingReadOnReady(c.Conn, bufSize, pool)
	}
	return c.raw.readOnReady(bufSize, pool)
}

// rawReader reads a connection's file descriptor when it is readable. The
// current read's request and result are fields, not locals, so that a read
// allocates nothing.
type rawReader struct {
	raw    syscall.RawConn
	doRead func(fd uintptr) bool // reads into buf; made once

	bufSize int
	pool    mem.BufferPool
	buf     *[]byte
	n       int
	err     error
}

// newRawReader returns a rawReader for conn, or nil when conn has no file
// descriptor to read.
func newRawReader(conn net.Conn) *rawReader {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	r := &rawReader{raw: raw}
	r.doRead = func(fd uintptr) bool {
		r.buf = r.pool.Get(r.bufSize)
		for {
			r.n, r.err = syscall.Read(int(fd), *r.buf)
			if r.err != syscall.EINTR {
				break
			}
		}
		if r.err != nil {
			r.pool.Put(r.buf)
			r.buf = nil
		}
		return r.err != syscall.EAGAIN && r.err != syscall.EWOULDBLOCK
	}
	return r
}

func (r *rawReader) readOnReady(bufSize int, pool mem.BufferPool) (*[]byte, int, error) {
	r.bufSize, r.pool = bufSize, pool
	err := r.raw.Read(r.doRead)
	buf, n, readErr := r.buf, r.n, r.err
	r.pool, r.buf, r.n, r.err = nil, nil, 0, nil
	switch {
	case err != nil:
		if buf != nil {
			pool.Put(buf)
		}
		return nil, 0, err
	case readErr != nil:
		return nil, 0, readErr
	case n <= 0:
		// read(2) returns 0 at the peer's orderly shutdown; io.Reader says EOF.
		pool.Put(buf)
		return nil, 0, io.EOF
	}
	return buf, n, nil
}

// blockingReadOnReady is ReadOnReady for a connection without a file
// descriptor: it holds the buffer while it waits.
func blockingReadOnReady(r io.Reader, bufSize int, pool mem.BufferPool) (*[]byte, int, error) {
	buf := pool.Get(bufSize)
	n, err := r.Read(*buf)
	if n == 0 {
		pool.Put(buf)
		if err == nil {
			err = io.ErrNoProgress
		}
		return nil, 0, err
	}
	return buf, n, err
}
