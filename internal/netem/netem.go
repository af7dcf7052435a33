// Package netem is a loopback TCP proxy that misbehaves on request. Put it
// between a real client and a real server to add delay, hold bytes, lose a
// flow silently, or reset connections, the way production networks do.
//
// A Proxy forwards each accepted connection to Config.Target. Each direction
// of a connection keeps a queue of timestamped chunks: a reader takes bytes
// from one socket and stamps them with their delivery time, a writer hands
// them to the other socket when that time comes. Delay therefore adds latency
// without limiting throughput, and bytes never overtake each other.
//
// Controls act on every current connection (Pause, Blackhole, Drop) or on one
// (PauseConn, BlackholeConn, DropConn). Blackhole models a NAT or load
// balancer that forgot the flow: the old connection goes silent both ways,
// with no FIN and no RST, while new connections work.
//
// The proxy terminates TCP on each side, which differs from a real network in
// one way that matters: a blackholed peer's kernel still sees its bytes
// acknowledged (by the proxy), so TCP retransmission timeouts and
// TCP_USER_TIMEOUT never fire. Only timers above TCP, such as HTTP/2 PING
// timeouts and request deadlines, notice the loss.
package netem

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"
)

// Errors returned by a Proxy, and reported in Event.Err.
var (
	// ErrNoConn means a per-connection control named a connection that does
	// not exist or is already closed.
	ErrNoConn = errors.New("netem: no such open connection")
	// ErrDropped is why a connection ended after Drop or DropConn.
	ErrDropped = errors.New("netem: connection dropped")
	// ErrClosed is why a connection ended when its Proxy was closed.
	ErrClosed = errors.New("netem: proxy closed")
)

// Config configures a Proxy. Only Target is required.
type Config struct {
	// Target is the host:port every accepted connection is forwarded to.
	// Required.
	Target string
	// Listen is the TCP address to listen on. Default "127.0.0.1:0", a free
	// loopback port; Proxy.Addr reports the one chosen.
	Listen string
	// Latency is the one-way delay added to each direction of every new
	// connection. Default 0, must not be negative. SetLatency and
	// SetConnLatency change it later; a change applies to data read after it.
	Latency time.Duration
	// Jitter spreads each chunk's delay uniformly over
	// [Latency-Jitter, Latency+Jitter], clamped at zero. Default 0, must not
	// be negative. A chunk drawn a shorter delay than the one before it waits
	// for it, so byte order is always kept.
	Jitter time.Duration
	// Seed seeds the math/rand/v2 PCG streams that draw jitter. Each
	// direction of each connection has its own stream, derived from Seed and
	// the connection ID, so draws do not depend on how connections
	// interleave. Default 0, itself a fixed seed.
	Seed uint64
	// MaxBuffered is how many bytes one direction holds, delayed or paused,
	// before the proxy stops reading from the sender, which then feels TCP
	// back-pressure. Default 4 MiB, must not be negative. One read of up to
	// 32 KiB may exceed it.
	MaxBuffered int
	// DialTimeout bounds each dial to Target. Default 10 s, must not be
	// negative. A failed dial resets the client connection.
	DialTimeout time.Duration
	// OnEvent, if set, is called for every Event: synchronously, with no
	// proxy lock held, possibly from several goroutines at once. It must be
	// safe for concurrent use and return quickly; it may call Proxy
	// methods. The proxy's own goroutines make no call after Close returns.
	OnEvent func(Event)
	// OnDeliver, if set, is called for every Delivery, by the goroutine that
	// writes that direction of that connection, with no lock held, after
	// the write succeeded. It must be safe for concurrent use and return
	// quickly (it holds up that direction's data), and must not keep
	// Delivery.Data. The proxy's own goroutines make no call after Close
	// returns. Packet captures hang off it.
	OnDeliver func(Delivery)
}

const (
	defaultListen      = "127.0.0.1:0"
	defaultMaxBuffered = 4 << 20
	defaultDialTimeout = 10 * time.Second
)

// withDefaults validates cfg and fills in its zero fields.
func (cfg Config) withDefaults() (Config, error) {
	switch {
	case cfg.Target == "":
		return cfg, errors.New("netem: Config.Target is required")
	case cfg.Latency < 0:
		return cfg, fmt.Errorf("netem: negative latency %v", cfg.Latency)
	case cfg.Jitter < 0:
		return cfg, fmt.Errorf("netem: negative jitter %v", cfg.Jitter)
	case cfg.MaxBuffered < 0:
		return cfg, fmt.Errorf("netem: negative MaxBuffered %d", cfg.MaxBuffered)
	case cfg.DialTimeout < 0:
		return cfg, fmt.Errorf("netem: negative DialTimeout %v", cfg.DialTimeout)
	}
	if cfg.Listen == "" {
		cfg.Listen = defaultListen
	}
	if cfg.MaxBuffered == 0 {
		cfg.MaxBuffered = defaultMaxBuffered
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = defaultDialTimeout
	}
	return cfg, nil
}

// Proxy is a running TCP proxy. Its methods are safe for concurrent use.
type Proxy struct {
	cfg    Config
	ln     *net.TCPListener
	ctx    context.Context // done once Close starts; aborts dials in progress
	cancel context.CancelFunc
	wg     sync.WaitGroup // the accept loop and one serveConn per connection

	closeOnce sync.Once
	closeErr  error

	mu      sync.Mutex // guards conns, closed, latency, jitter, paused
	conns   []*conn    // every accepted connection, closed ones included; conns[i].id == i+1
	closed  bool
	latency time.Duration // for connections accepted from now on
	jitter  time.Duration
	paused  bool // connections accepted from now on start paused
}

// Listen starts a proxy on cfg.Listen that forwards to cfg.Target. Close it
// when done.
func Listen(cfg Config) (*Proxy, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("netem: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		cfg:     cfg,
		ln:      ln.(*net.TCPListener),
		ctx:     ctx,
		cancel:  cancel,
		latency: cfg.Latency,
		jitter:  cfg.Jitter,
	}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr is the address the proxy listens on, as host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Close stops accepting, closes every connection (with FIN, not RST) and
// waits for all of the proxy's goroutines to return. Later calls return the
// first call's result.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		conns := slices.Clone(p.conns)
		p.mu.Unlock()

		p.cancel()
		if err := p.ln.Close(); err != nil {
			p.closeErr = fmt.Errorf("netem: close listener: %w", err)
		}
		for _, c := range conns {
			c.mu.Lock()
			c.shutdownLocked(false, ErrClosed)
			c.mu.Unlock()
		}
		p.wg.Wait()
	})
	return p.closeErr
}

// Pause holds bytes in both directions of every current connection, and of
// connections accepted until Resume, without closing anything. Held bytes
// count against MaxBuffered.
func (p *Proxy) Pause() {
	p.mu.Lock()
	p.paused = true
	p.mu.Unlock()
	p.each(func(c *conn) (Event, bool) { return c.setPaused(true) })
}

// Resume releases held bytes and restores forwarding on every connection,
// including those paused with PauseConn.
func (p *Proxy) Resume() {
	p.mu.Lock()
	p.paused = false
	p.mu.Unlock()
	p.each(func(c *conn) (Event, bool) { return c.setPaused(false) })
}

// PauseConn holds bytes in both directions of one connection.
func (p *Proxy) PauseConn(id ConnID) error {
	return p.one(id, func(c *conn) (Event, bool) { return c.setPaused(true) })
}

// ResumeConn releases held bytes and restores forwarding on one connection.
func (p *Proxy) ResumeConn(id ConnID) error {
	return p.one(id, func(c *conn) (Event, bool) { return c.setPaused(false) })
}

// Hold keeps back, on every current connection, what direction dir carries:
// the bytes it reads from now on and those it has not delivered yet, as a
// host that is paused whole (a frozen Lambda microVM) neither takes nor
// acknowledges what reaches it. Nothing is closed or lost. Release ends it.
// Connections accepted afterwards are not held.
func (p *Proxy) Hold(dir Direction) {
	p.each(func(c *conn) (Event, bool) {
		c.hold(c.direction(dir))
		return Event{}, false // a hold is recorded when it ends (EventHeld)
	})
}

// Release ends Hold on every connection. A connection that held bytes
// delivers them when the sender, which never saw them acknowledged, would
// retransmit them next: at its first timeout retransmission from now on, for
// a sender whose retransmission timeout was rto when the first held byte
// would have arrived (NextRetransmission), or, if it sends new data first,
// one round trip (twice the connection's latency) after that data arrives,
// as the peer's selective acknowledgement of it prompts a fast
// retransmission. Until then the direction delivers nothing else either,
// since TCP delivers in order. Each such connection reports an
// EventReleased once it delivered them.
func (p *Proxy) Release(dir Direction, rto time.Duration) {
	p.each(func(c *conn) (Event, bool) { return c.release(c.direction(dir), rto) })
}

// MinRTO is Linux's lower bound on a TCP retransmission timeout
// (TCP_RTO_MIN); a connection with a stable round trip RTT retransmits after
// about RTT + MinRTO.
const MinRTO = 200 * time.Millisecond

// MaxRTO is Linux's upper bound on the retransmission timeout (TCP_RTO_MAX),
// which exponential backoff reaches after about ten retransmissions.
const MaxRTO = 120 * time.Second

// NextRetransmission returns when a sender next retransmits a segment that
// would have arrived at arrived, unacknowledged since, counting only
// retransmissions that arrive no earlier than now, and which retransmission
// that is (1 for the first). Linux retransmits after rto and doubles the
// timeout after each retransmission, up to MaxRTO: the k-th arrives at
// arrived + rto·(2^k − 1) while the doubling lasts. A zero or negative rto
// counts as MinRTO.
func NextRetransmission(arrived, now time.Time, rto time.Duration) (time.Time, int) {
	if rto <= 0 {
		rto = MinRTO
	}
	at, timeout := arrived, rto
	for attempt := 1; ; attempt++ {
		at = at.Add(timeout)
		if !at.Before(now) {
			return at, attempt
		}
		timeout = min(2*timeout, MaxRTO)
	}
}

// Blackhole silently discards, from now on, every byte of every current
// connection in both directions, including bytes already queued. No FIN or
// RST reaches either peer; the sockets stay open until Drop or Close.
// Connections accepted afterwards are unaffected. There is no way back: the
// discarded bytes are gone and the stream could not resume intact.
func (p *Proxy) Blackhole() {
	p.each((*conn).blackhole)
}

// BlackholeConn does what Blackhole does, to one connection.
func (p *Proxy) BlackholeConn(id ConnID) error {
	return p.one(id, (*conn).blackhole)
}

// Drop resets every current connection now: both sockets are closed with
// SO_LINGER 0, so both peers see a RST. Queued bytes are lost.
func (p *Proxy) Drop() {
	p.each((*conn).drop)
}

// DropConn resets one connection now.
func (p *Proxy) DropConn(id ConnID) error {
	return p.one(id, (*conn).drop)
}

// SetLatency sets the one-way delay and jitter for data read from now on, on
// every current connection and on connections accepted later.
func (p *Proxy) SetLatency(latency, jitter time.Duration) error {
	if err := checkDelay(latency, jitter); err != nil {
		return err
	}
	p.mu.Lock()
	p.latency, p.jitter = latency, jitter
	p.mu.Unlock()
	p.each(func(c *conn) (Event, bool) {
		c.setLatency(latency, jitter)
		return Event{}, false
	})
	return nil
}

// SetConnLatency sets the one-way delay and jitter for data read from now on
// by one connection.
func (p *Proxy) SetConnLatency(id ConnID, latency, jitter time.Duration) error {
	if err := checkDelay(latency, jitter); err != nil {
		return err
	}
	return p.one(id, func(c *conn) (Event, bool) {
		c.setLatency(latency, jitter)
		return Event{}, false
	})
}

// Conns describes every connection accepted so far, closed ones included, in
// accept order; Conns()[i].ID is i+1. The proxy keeps a small record per
// connection for its whole life.
func (p *Proxy) Conns() []ConnInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	infos := make([]ConnInfo, 0, len(p.conns))
	for _, c := range p.conns {
		c.mu.Lock()
		infos = append(infos, c.infoLocked())
		c.mu.Unlock()
	}
	return infos
}

func checkDelay(latency, jitter time.Duration) error {
	if latency < 0 || jitter < 0 {
		return fmt.Errorf("netem: negative latency %v or jitter %v", latency, jitter)
	}
	return nil
}

// each applies f to every open connection and reports the events it returns.
func (p *Proxy) each(f func(*conn) (Event, bool)) {
	p.mu.Lock()
	var events []Event
	for _, c := range p.conns {
		if ev, ok := f(c); ok {
			events = append(events, ev)
		}
	}
	p.mu.Unlock()
	for _, ev := range events {
		p.emit(ev)
	}
}

// one applies f to connection id and reports the event it returns.
func (p *Proxy) one(id ConnID, f func(*conn) (Event, bool)) error {
	p.mu.Lock()
	if id == 0 || id > ConnID(len(p.conns)) {
		p.mu.Unlock()
		return fmt.Errorf("%w: %d", ErrNoConn, id)
	}
	c := p.conns[id-1]
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		p.mu.Unlock()
		return fmt.Errorf("%w: %d", ErrNoConn, id)
	}
	ev, ok := f(c)
	p.mu.Unlock()
	if ok {
		p.emit(ev)
	}
	return nil
}

func (p *Proxy) emit(ev Event) {
	if p.cfg.OnEvent != nil {
		p.cfg.OnEvent(ev)
	}
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	var backoff time.Duration
	for {
		nc, err := p.ln.AcceptTCP()
		if err != nil {
			if p.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors or similar: wait and try again, as
			// net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
			case <-p.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		p.register(nc)
	}
}

// register records an accepted connection and starts serving it.
func (p *Proxy) register(nc *net.TCPConn) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		nc.Close()
		return
	}
	c := newConn(ConnID(len(p.conns)+1), nc, p.latency, p.jitter, p.paused, p.cfg)
	p.conns = append(p.conns, c)
	p.wg.Add(1)
	c.mu.Lock()
	ev := c.eventLocked(EventAccepted)
	c.mu.Unlock()
	p.mu.Unlock()

	p.emit(ev)
	go p.serveConn(c)
}

// serveConn dials the target, runs the four pumps of c and reports its end.
func (p *Proxy) serveConn(c *conn) {
	defer p.wg.Done()
	d := net.Dialer{Timeout: p.cfg.DialTimeout}
	nc, err := d.DialContext(p.ctx, "tcp", p.cfg.Target)

	c.mu.Lock()
	switch {
	case c.closed:
		// Dropped or closed while dialling: the target gets a RST, as the
		// client already did or will.
		if nc != nil {
			nc.(*net.TCPConn).SetLinger(0)
			nc.Close()
		}
	case err != nil:
		c.shutdownLocked(true, fmt.Errorf("netem: dial %s: %w", p.cfg.Target, err))
	default:
		c.startLocked(nc.(*net.TCPConn))
	}
	c.mu.Unlock()

	<-c.done
	c.pumps.Wait()
	c.mu.Lock()
	var undelivered []Event
	for _, d := range []*direction{&c.up, &c.down} {
		if d.late.Kind != "" {
			late := d.late
			late.Deliver = time.Time{}
			undelivered = append(undelivered, late)
			d.late = Event{}
		}
	}
	ev := c.eventLocked(EventClosed)
	ev.Err = c.reason
	c.mu.Unlock()
	for _, late := range undelivered {
		p.emit(late)
	}
	p.emit(ev)
}
