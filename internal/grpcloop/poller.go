//go:build linux

package grpcloop

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/net/http2/hpack"
	"golang.org/x/sys/unix"
)

// poller is the loop: one epoll instance holding every connection's
// socket, waited on through Go's own poller (the epoll descriptor is itself
// pollable), so the loop's goroutine parks like any other instead of
// blocking a thread in a system call.
type poller struct {
	srv   *Server
	epoll *os.File // the epoll descriptor, registered with Go's poller
	efd   int      // its number
	wake  int      // an eventfd that stop writes to end the loop

	mu    sync.Mutex
	conns map[int32]*conn // by descriptor
	// stopRequested ends the loop at its next wake; drops are the waiters
	// of dropAll, whose connections it closes then.
	stopRequested bool
	drops         []chan struct{}
	stopping      bool          // the loop is closing everything: no add, no signal
	err           error         // why the loop ended, when not by stop
	done          chan struct{} // closed when the loop has closed everything

	// read is the loop's read buffer, shared by every connection.
	read []byte
	// fields is what the header block being decoded holds, fieldsSize its
	// size as RFC 9113 counts it; the loop's scratch, like read.
	fields     []hpack.HeaderField
	fieldsSize int
}

// newPoller creates the epoll instance and starts the loop.
func newPoller(srv *Server) (*poller, error) {
	efd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("grpcloop: epoll_create1: %w", err)
	}
	if err := unix.SetNonblock(efd, true); err != nil {
		unix.Close(efd)
		return nil, fmt.Errorf("grpcloop: epoll: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(efd)
		return nil, fmt.Errorf("grpcloop: eventfd: %w", err)
	}
	if err := unix.EpollCtl(efd, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}); err != nil {
		unix.Close(efd)
		unix.Close(wake)
		return nil, fmt.Errorf("grpcloop: epoll_ctl: %w", err)
	}
	p := &poller{
		srv:   srv,
		epoll: os.NewFile(uintptr(efd), "epoll"),
		efd:   efd,
		wake:  wake,
		conns: make(map[int32]*conn),
		done:  make(chan struct{}),
		read:  make([]byte, 64<<10),
	}
	go p.loop()
	return p, nil
}

// add starts watching c's socket.
func (p *poller) add(c *conn) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping {
		return ErrServerStopped
	}
	if len(p.drops) > 0 {
		return errDropped // taken while CloseConnections closes them all
	}
	p.conns[int32(c.fd)] = c
	if err := unix.EpollCtl(p.efd, unix.EPOLL_CTL_ADD, c.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(c.fd)}); err != nil {
		delete(p.conns, int32(c.fd))
		return fmt.Errorf("grpcloop: epoll_ctl: %w", err)
	}
	return nil
}

// remove stops watching c's socket; its caller closes it afterwards.
func (p *poller) remove(c *conn) {
	p.mu.Lock()
	if p.conns[int32(c.fd)] == c {
		delete(p.conns, int32(c.fd))
	}
	p.mu.Unlock()
	_ = unix.EpollCtl(p.efd, unix.EPOLL_CTL_DEL, c.fd, nil)
}

// watchWrites turns EPOLLOUT on or off for c's socket.
func (p *poller) watchWrites(c *conn, on bool) {
	events := uint32(unix.EPOLLIN)
	if on {
		events |= unix.EPOLLOUT
	}
	_ = unix.EpollCtl(p.efd, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: events, Fd: int32(c.fd)})
}

// stop ends the loop, which closes every connection, and waits for it.
func (p *poller) stop() {
	p.mu.Lock()
	p.stopRequested = true
	p.mu.Unlock()
	p.signal()
	<-p.done
}

// dropAll has the loop close every connection open now, and waits for it.
func (p *poller) dropAll() {
	dropped := make(chan struct{})
	p.mu.Lock()
	p.drops = append(p.drops, dropped)
	p.mu.Unlock()
	p.signal()
	select {
	case <-dropped:
	case <-p.done:
	}
}

// signal wakes the loop, unless it has ended.
func (p *poller) signal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping {
		return // the loop needs no wake, and wake may be closed
	}
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(p.wake, one[:])
}

// failed returns why the loop ended by itself, or nil.
func (p *poller) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// woken handles a wake by stop or dropAll; it reports whether to stop.
func (p *poller) woken() bool {
	var count [8]byte
	_, _ = unix.Read(p.wake, count[:])
	p.mu.Lock()
	stop, drops := p.stopRequested, p.drops
	p.drops = nil
	var conns []*conn
	if len(drops) > 0 && !stop {
		for _, c := range p.conns {
			conns = append(conns, c)
		}
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.close(errDropped)
	}
	for _, d := range drops {
		close(d)
	}
	return stop
}

// errDropped is why CloseConnections closed a connection.
var errDropped = errors.New("grpcloop: connections closed on request")

// loop serves ready sockets until stop.
func (p *poller) loop() {
	defer p.shutDown()
	raw, err := p.epoll.SyscallConn()
	if err != nil {
		p.fail(fmt.Errorf("grpcloop: epoll: %w", err))
		return
	}
	events := make([]unix.EpollEvent, 128)
	for {
		var n int
		var waitErr error
		err := raw.Read(func(uintptr) bool {
			n, waitErr = unix.EpollWait(p.efd, events, 0)
			return n > 0 || (waitErr != nil && !errors.Is(waitErr, unix.EINTR))
		})
		if err == nil {
			err = waitErr
		}
		if err != nil {
			p.fail(fmt.Errorf("grpcloop: epoll_wait: %w", err))
			return
		}
		for _, ev := range events[:n] {
			if int(ev.Fd) == p.wake {
				if p.woken() {
					return
				}
				continue
			}
			p.mu.Lock()
			c := p.conns[ev.Fd]
			p.mu.Unlock()
			if c != nil {
				p.serve(c, ev.Events)
			}
		}
	}
}

// fail notes why the loop ends by itself and closes the server's
// listeners, so that Serve returns it.
func (p *poller) fail(err error) {
	p.srv.logger.Error("grpcloop: the loop ended", "err", err)
	p.mu.Lock()
	p.err = err
	p.mu.Unlock()
	p.srv.closeListeners()
}

// serve handles one readiness event of c.
func (p *poller) serve(c *conn, events uint32) {
	if events&unix.EPOLLOUT != 0 {
		c.flushPending()
	}
	if events&(unix.EPOLLIN|unix.EPOLLHUP|unix.EPOLLERR) == 0 {
		return
	}
	// A few reads at most, so that one fast sender does not hold the loop;
	// epoll is level-triggered and reports the rest next time.
	for range 4 {
		n, err := unix.Read(c.fd, p.read)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			return
		}
		if err != nil {
			c.close(fmt.Errorf("read: %w", err))
			return
		}
		if n == 0 {
			c.close(nil)
			return
		}
		if err := c.consume(p.read[:n]); err != nil {
			c.fail(err)
			return
		}
		if n < len(p.read) {
			return // drained; epoll is level-triggered and calls again
		}
	}
}

// shutDown closes every connection and the poller's descriptors.
func (p *poller) shutDown() {
	p.mu.Lock()
	p.stopping = true
	conns := make([]*conn, 0, len(p.conns))
	for _, c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns {
		c.close(ErrServerStopped)
	}
	p.mu.Lock()
	unix.Close(p.wake) // stopping is set: signal no longer writes it
	p.mu.Unlock()
	p.epoll.Close()
	close(p.done)
}
