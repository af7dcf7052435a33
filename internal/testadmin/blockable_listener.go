package testadmin

import (
	"net"
	"sync"
)

// BlockableListener is a net.Listener that can cut its connections on demand.
// It tracks every connection it hands out so that Block can close them, and
// while blocked it closes new connections as soon as they are accepted. It is
// safe for concurrent use.
//
// Close closes the underlying listener only: like any net.Listener it leaves
// established connections to their owner (a grpc.Server closes or drains them
// in Stop and GracefulStop). Connections stop being tracked when they close.
type BlockableListener struct {
	net.Listener

	mu      sync.Mutex // guards blocked, conns and onBlock
	blocked bool
	conns   map[*trackedConn]struct{}
	// onBlock closes the connections a server took out of the listener's
	// tracking (the epoll transport keeps only their sockets).
	onBlock func()
}

// OnBlock makes Block also call closeAll, for a server whose connections
// outlive the net.Conns this listener handed out.
func (l *BlockableListener) OnBlock(closeAll func()) {
	l.mu.Lock()
	l.onBlock = closeAll
	l.mu.Unlock()
}

// NewBlockableListener wraps l. The listener starts unblocked.
func NewBlockableListener(l net.Listener) *BlockableListener {
	return &BlockableListener{
		Listener: l,
		conns:    make(map[*trackedConn]struct{}),
	}
}

// Accept waits for the next connection that may be served. While blocked it
// closes each accepted connection at once and keeps waiting, so the caller
// (a grpc.Server) never sees them.
func (l *BlockableListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		if l.blocked {
			l.mu.Unlock()
			c.Close()
			continue
		}
		tc := &trackedConn{Conn: c, owner: l}
		l.conns[tc] = struct{}{}
		l.mu.Unlock()
		return tc, nil
	}
}

// Block closes every open connection and makes the listener close new ones
// until Unblock. Blocking an already blocked listener closes nothing new.
func (l *BlockableListener) Block() {
	l.mu.Lock()
	l.blocked = true
	open := make([]*trackedConn, 0, len(l.conns))
	for c := range l.conns {
		open = append(open, c)
	}
	closeAll := l.onBlock
	l.mu.Unlock()

	// Closing outside the lock: trackedConn.Close takes it to deregister.
	for _, c := range open {
		c.Close()
	}
	if closeAll != nil {
		closeAll()
	}
}

// Unblock restores normal service: connections accepted from now on are
// handed to the caller.
func (l *BlockableListener) Unblock() {
	l.mu.Lock()
	l.blocked = false
	l.mu.Unlock()
}

// Blocked reports whether the listener is blocked.
func (l *BlockableListener) Blocked() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.blocked
}

// OpenConns reports how many accepted connections are still open.
func (l *BlockableListener) OpenConns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

func (l *BlockableListener) forget(c *trackedConn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// trackedConn removes itself from its listener's set when closed.
type trackedConn struct {
	net.Conn
	owner     *BlockableListener
	closeOnce sync.Once
	closeErr  error
}

// NetConn returns the connection it tracks.
func (c *trackedConn) NetConn() net.Conn { return c.Conn }

func (c *trackedConn) Close() error {
	c.closeOnce.Do(func() {
		c.closeErr = c.Conn.Close()
		c.owner.forget(c)
	})
	return c.closeErr
}
