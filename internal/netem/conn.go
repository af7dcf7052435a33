package netem

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

const readSize = 32 << 10

// bufPool holds read buffers of readSize bytes.
var bufPool = sync.Pool{New: func() any { b := make([]byte, readSize); return &b }}

// chunk is the result of one read, waiting for its delivery time.
type chunk struct {
	data   []byte
	pooled *[]byte // data's buffer when it came from bufPool, else nil
	due    time.Time
	held   bool // kept back by Hold when Release ended it
}

func (ch chunk) release() {
	if ch.pooled != nil {
		bufPool.Put(ch.pooled)
	}
}

// direction carries bytes one way: readLoop queues what src sends and
// writeLoop delivers it to dst when due.
type direction struct {
	src, dst *net.TCPConn // set by startLocked, before the pumps run
	dir      Direction
	wake     chan struct{} // capacity 1: writeLoop should look at its state again
	room     chan struct{} // capacity 1: readLoop may have room to read again

	// Guarded by the owning conn's mu.
	rng    *rand.Rand
	queue  []chunk
	queued int  // bytes in queue
	eof    bool // src sent FIN; deliver it after the queue drains
	// holding keeps every queued chunk back (Hold) until Release; since
	// is when the hold began.
	holding bool
	since   time.Time
	// late describes the held chunks Release scheduled and writeLoop has
	// not delivered yet; its Kind is empty when there are none.
	late Event

	forwarded atomic.Int64
	discarded atomic.Int64
}

// conn is one proxied connection: the accepted client socket, the dialled
// target socket and a direction each way.
type conn struct {
	id          ConnID
	client      *net.TCPConn
	clientAddr  string
	opened      time.Time
	maxBuffered int
	onDeliver   func(Delivery) // Config.OnDeliver; may be nil
	onEvent     func(Event)    // Config.OnEvent; may be nil
	done        chan struct{}  // closed by shutdownLocked
	pumps       sync.WaitGroup // readLoop and writeLoop of both directions
	up, down    direction      // client to target, target to client

	mu         sync.Mutex   // guards target, latency, jitter, paused, blackholed, closed, closedAt, reason, finished, and the queue state of up and down
	target     *net.TCPConn // nil until dialled
	latency    time.Duration
	jitter     time.Duration
	paused     bool
	blackholed bool
	closed     bool
	closedAt   time.Time
	reason     error
	finished   int // directions that delivered their FIN
}

func newConn(id ConnID, client *net.TCPConn, latency, jitter time.Duration, paused bool, cfg Config) *conn {
	c := &conn{
		id:          id,
		client:      client,
		clientAddr:  client.RemoteAddr().String(),
		opened:      time.Now(),
		maxBuffered: cfg.MaxBuffered,
		onDeliver:   cfg.OnDeliver,
		onEvent:     cfg.OnEvent,
		done:        make(chan struct{}),
		latency:     latency,
		jitter:      jitter,
		paused:      paused,
	}
	c.up.dir, c.down.dir = ToTarget, ToClient
	for i, d := range []*direction{&c.up, &c.down} {
		d.wake = make(chan struct{}, 1)
		d.room = make(chan struct{}, 1)
		d.rng = rand.New(rand.NewPCG(cfg.Seed, uint64(id)<<1|uint64(i)))
	}
	return c
}

// startLocked wires the dialled target in and starts the pumps.
func (c *conn) startLocked(target *net.TCPConn) {
	c.target = target
	c.up.src, c.up.dst = c.client, target
	c.down.src, c.down.dst = target, c.client
	c.pumps.Add(4)
	for _, d := range []*direction{&c.up, &c.down} {
		go c.readLoop(d)
		go c.writeLoop(d)
	}
}

// shutdownLocked closes both sockets, once. With reset, SO_LINGER 0 makes
// the kernel send RST instead of FIN. Queued bytes are released.
func (c *conn) shutdownLocked(reset bool, reason error) {
	if c.closed {
		return
	}
	c.closed = true
	c.closedAt = time.Now()
	c.reason = reason
	for _, tc := range []*net.TCPConn{c.client, c.target} {
		if tc == nil {
			continue
		}
		if reset {
			tc.SetLinger(0)
		}
		tc.Close()
	}
	for _, d := range []*direction{&c.up, &c.down} {
		d.releaseLocked()
	}
	close(c.done)
}

// releaseLocked empties the queue and returns the bytes it held.
func (d *direction) releaseLocked() int {
	n := d.queued
	for _, ch := range d.queue {
		ch.release()
	}
	d.queue, d.queued = nil, 0
	return n
}

func (c *conn) setPaused(paused bool) (Event, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.paused == paused {
		return Event{}, false
	}
	c.paused = paused
	kind := EventPaused
	if !paused {
		kind = EventResumed
		signal(c.up.wake)
		signal(c.down.wake)
	}
	return c.eventLocked(kind), true
}

// direction returns the direction of c that carries dir.
func (c *conn) direction(dir Direction) *direction {
	if dir == ToTarget {
		return &c.up
	}
	return &c.down
}

// hold keeps everything d carries from now on, and what it has not yet
// delivered, until release.
func (c *conn) hold(d *direction) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed && !c.blackholed && !d.holding {
		d.holding, d.since = true, time.Now()
	}
}

// release ends a hold of d. What d held is delivered at the sender's first
// TCP retransmission from now on (see NextRetransmission), counted from when
// the first held byte would have arrived, or earlier if the sender sends new
// data first (see enqueueLocked); what d reads later queues behind it, since
// TCP delivers in order. A hold that begins again before that delivery keeps
// them (the retransmission reaches a peer that is paused again), and the next
// release schedules the sender's next retransmission. release reports
// EventHeld the first time it finds held bytes; writeLoop reports
// EventReleased once it delivered them.
func (c *conn) release(d *direction, rto time.Duration) (Event, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.blackholed || !d.holding {
		return Event{}, false
	}
	d.holding = false
	signal(d.wake)
	if len(d.queue) == 0 {
		return Event{}, false
	}
	now := time.Now()
	first := d.late.Kind == ""
	if first {
		d.late = c.eventLocked(EventReleased)
		d.late.Dir, d.late.Arrived = d.dir, d.queue[0].due
		if d.late.Arrived.Before(d.since) {
			d.late.Arrived = d.since
		}
	}
	at, attempt := NextRetransmission(d.late.Arrived, now, rto)
	for i := range d.queue {
		d.queue[i].held = true
		if d.queue[i].due.Before(at) {
			d.queue[i].due = at
		}
	}
	// A fast retransmission scheduled before a new hold did not get through
	// either; new data after this thaw may prompt another.
	d.late.Time, d.late.Bytes, d.late.Deliver, d.late.Attempt, d.late.Fast = now, int64(d.queued), at, attempt, false
	if !first {
		return Event{}, false
	}
	ev := d.late
	ev.Kind = EventHeld
	return ev, true
}

// repairLocked brings the delivery of d's held chunks forward when the
// sender sends new data after the thaw, due at arrival: the receiver
// acknowledges it selectively (SACK), which tells the sender that the held
// bytes are missing, and it retransmits them at once (Linux's RACK loss
// detection) instead of waiting for its timeout: they arrive one round trip
// after the new data.
func (c *conn) repairLocked(d *direction, arrival time.Time) {
	if d.late.Kind == "" || d.late.Fast {
		return
	}
	repair := arrival.Add(2 * c.latency)
	if !repair.Before(d.late.Deliver) {
		return
	}
	d.late.Deliver, d.late.Fast = repair, true
	for i := range d.queue {
		if d.queue[i].held {
			d.queue[i].due = repair
		}
	}
}

func (c *conn) blackhole() (Event, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.blackholed {
		return Event{}, false
	}
	c.blackholed = true
	for _, d := range []*direction{&c.up, &c.down} {
		d.discarded.Add(int64(d.releaseLocked()))
		signal(d.wake) // writeLoop returns
		signal(d.room) // readLoop reads again, to discard
	}
	return c.eventLocked(EventBlackholed), true
}

func (c *conn) drop() (Event, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return Event{}, false
	}
	c.shutdownLocked(true, ErrDropped)
	return c.eventLocked(EventDropped), true
}

func (c *conn) setLatency(latency, jitter time.Duration) {
	c.mu.Lock()
	c.latency, c.jitter = latency, jitter
	c.mu.Unlock()
}

// delayLocked draws the delay for a chunk read now.
func (c *conn) delayLocked(d *direction) time.Duration {
	delay := c.latency
	if c.jitter > 0 {
		delay += time.Duration(d.rng.Int64N(int64(2*c.jitter)+1)) - c.jitter
	}
	return max(delay, 0)
}

func (c *conn) stateLocked() State {
	switch {
	case c.closed:
		return StateClosed
	case c.blackholed:
		return StateBlackholed
	case c.paused:
		return StatePaused
	default:
		return StateOpen
	}
}

func (c *conn) infoLocked() ConnInfo {
	return ConnInfo{
		ID:             c.id,
		Client:         c.clientAddr,
		State:          c.stateLocked(),
		BytesToTarget:  c.up.forwarded.Load(),
		BytesToClient:  c.down.forwarded.Load(),
		BytesDiscarded: c.up.discarded.Load() + c.down.discarded.Load(),
		Latency:        c.latency,
		Jitter:         c.jitter,
		Opened:         c.opened,
		Closed:         c.closedAt,
	}
}

func (c *conn) eventLocked(kind EventKind) Event {
	return Event{
		Time:   time.Now(),
		Kind:   kind,
		Conn:   c.id,
		Client: c.clientAddr,
		State:  c.stateLocked(),
	}
}

// readLoop reads from d.src into d's queue, stamping each chunk with its
// delivery time. It never sleeps on the delay; it only waits when the queue
// is full.
func (c *conn) readLoop(d *direction) {
	defer c.pumps.Done()
	buf := bufPool.Get().(*[]byte)
	defer func() { bufPool.Put(buf) }()
	for c.waitForRoom(d) {
		n, err := d.src.Read(*buf)
		c.mu.Lock()
		if n > 0 {
			buf = c.enqueueLocked(d, buf, n)
		}
		if err != nil {
			switch {
			case c.closed:
				// We closed the socket.
			case c.blackholed:
				// The flow is forgotten: its FIN or RST goes nowhere.
			case errors.Is(err, io.EOF):
				d.eof = true
				signal(d.wake)
			default:
				// The sender reset or failed: the receiver gets a RST.
				c.shutdownLocked(true, fmt.Errorf("netem: connection %d: read: %w", c.id, err))
			}
		}
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// waitForRoom reports, once d may queue more, whether the connection is
// still open.
func (c *conn) waitForRoom(d *direction) bool {
	for {
		c.mu.Lock()
		closed, full := c.closed, !c.blackholed && d.queued >= c.maxBuffered
		c.mu.Unlock()
		if closed {
			return false
		}
		if !full {
			return true
		}
		select {
		case <-d.room:
		case <-c.done:
			return false
		}
	}
}

// enqueueLocked queues (*buf)[:n], or discards it if the connection is
// blackholed, and returns the buffer to read into next.
func (c *conn) enqueueLocked(d *direction, buf *[]byte, n int) *[]byte {
	switch {
	case c.closed:
		return buf
	case c.blackholed:
		d.discarded.Add(int64(n))
		return buf
	}
	ch := chunk{due: time.Now().Add(c.delayLocked(d))}
	if !d.holding {
		c.repairLocked(d, ch.due)
	}
	if n <= readSize/4 {
		// Small reads are copied so a queue of them does not pin a
		// full-size buffer each.
		ch.data = append([]byte(nil), (*buf)[:n]...)
	} else {
		ch.data, ch.pooled = (*buf)[:n], buf
		buf = bufPool.Get().(*[]byte)
	}
	d.queue = append(d.queue, ch)
	d.queued += n
	signal(d.wake)
	return buf
}

// writeLoop delivers d's chunks to d.dst in order, each no earlier than its
// due time, and forwards the sender's FIN after the last one.
func (c *conn) writeLoop(d *direction) {
	defer c.pumps.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var batch []chunk
	var vec net.Buffers
	for {
		wait := time.Duration(-1) // block until woken
		c.mu.Lock()
		if c.closed || c.blackholed {
			c.mu.Unlock()
			return
		}
		if !c.paused && !d.holding {
			now := time.Now()
			i := 0
			for i < len(d.queue) && !d.queue[i].due.After(now) {
				i++
			}
			switch {
			case i > 0:
				batch = append(batch[:0], d.queue[:i]...)
				clear(d.queue[:i])
				d.queue = d.queue[i:]
				for _, ch := range batch {
					d.queued -= len(ch.data)
				}
				signal(d.room)
			case len(d.queue) > 0:
				wait = d.queue[0].due.Sub(now)
			case d.eof:
				c.mu.Unlock()
				at := time.Now()
				if d.dst.CloseWrite() == nil {
					c.deliver(Delivery{Time: at, Conn: c.id, Dir: d.dir, FIN: true})
				}
				c.finishDirection()
				return
			}
		}
		c.mu.Unlock()

		if len(batch) > 0 {
			vec = vec[:0]
			var n int64
			for _, ch := range batch {
				vec = append(vec, ch.data)
				n += int64(len(ch.data))
			}
			bufs := vec // WriteTo consumes its receiver
			at := time.Now()
			_, err := bufs.WriteTo(d.dst)
			if err == nil && c.onDeliver != nil {
				for _, ch := range batch {
					c.deliver(Delivery{Time: at, Conn: c.id, Dir: d.dir, Data: ch.data})
				}
			}
			if err == nil && slices.ContainsFunc(batch, func(ch chunk) bool { return ch.held }) {
				c.reportLate(d, at)
			}
			for i, ch := range batch {
				ch.release()
				batch[i] = chunk{}
			}
			batch = batch[:0]
			if err != nil {
				c.mu.Lock()
				if !c.closed && !c.blackholed {
					c.shutdownLocked(true, fmt.Errorf("netem: connection %d: write: %w", c.id, err))
				}
				c.mu.Unlock()
				return
			}
			d.forwarded.Add(n)
			continue
		}

		if wait < 0 {
			select {
			case <-d.wake:
			case <-c.done:
				return
			}
			continue
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-d.wake:
		case <-c.done:
			return
		}
	}
}

// reportLate reports EventReleased for d's held chunks, delivered at at, if
// none of them is left in the queue.
func (c *conn) reportLate(d *direction, at time.Time) {
	c.mu.Lock()
	ev := d.late
	if ev.Kind == "" || (len(d.queue) > 0 && d.queue[0].held) {
		c.mu.Unlock()
		return
	}
	d.late = Event{}
	c.mu.Unlock()
	ev.Deliver = at
	if c.onEvent != nil {
		c.onEvent(ev)
	}
}

// deliver reports dl to Config.OnDeliver, if set.
func (c *conn) deliver(dl Delivery) {
	if c.onDeliver != nil {
		c.onDeliver(dl)
	}
}

// finishDirection records that one direction delivered its FIN; once both
// have, the connection closes in order.
func (c *conn) finishDirection() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.finished++
	if c.finished == 2 {
		c.shutdownLocked(false, nil)
	}
}

// signal wakes whoever waits on ch without blocking.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
