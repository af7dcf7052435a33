package netem

import "time"

// ConnID identifies one proxied connection. IDs start at 1 and follow accept
// order; they are never reused by a Proxy.
type ConnID uint64

// State is what a proxied connection currently does with its bytes.
type State string

// The states of a proxied connection. A connection that is both paused and
// blackholed reports StateBlackholed: it discards, so there is nothing to hold.
const (
	// StateOpen forwards bytes both ways, after the configured delay.
	StateOpen State = "open"
	// StatePaused holds bytes both ways until resumed; the sockets stay open.
	StatePaused State = "paused"
	// StateBlackholed discards bytes both ways; the sockets stay open and
	// neither peer is sent a FIN or a RST.
	StateBlackholed State = "blackholed"
	// StateClosed means both sockets are closed.
	StateClosed State = "closed"
)

// ConnInfo describes one proxied connection at the moment Proxy.Conns was
// called.
type ConnInfo struct {
	// ID is the connection's number, the argument of per-connection controls.
	ID ConnID
	// Client is the remote address of the accepted connection.
	Client string
	// State is what the connection does with its bytes now.
	State State
	// BytesToTarget and BytesToClient count bytes delivered in each direction.
	BytesToTarget int64
	BytesToClient int64
	// BytesDiscarded counts bytes, in either direction, that a blackhole
	// swallowed, including those queued when it began.
	BytesDiscarded int64
	// Latency and Jitter are the delay applied to new data.
	Latency time.Duration
	Jitter  time.Duration
	// Opened is when the proxy accepted the connection.
	Opened time.Time
	// Closed is when both sockets were closed; zero while the connection is
	// open.
	Closed time.Time
}

// EventKind names what happened to a connection.
type EventKind string

// The events reported to Config.OnEvent.
const (
	// EventAccepted: the proxy accepted a client connection. Its dial to
	// the target happens afterwards.
	EventAccepted EventKind = "accepted"
	// EventPaused: the connection started holding bytes.
	EventPaused EventKind = "paused"
	// EventResumed: the connection released held bytes and forwards again.
	EventResumed EventKind = "resumed"
	// EventHeld: Release found bytes that a direction held back since Hold;
	// Event.Deliver is when the sender's retransmission is due to deliver
	// them, and Event.Time the Release.
	EventHeld EventKind = "held"
	// EventReleased: the bytes a direction held reached the peer, at
	// Event.Deliver, possibly after several Hold and Release cycles;
	// Event.Time is the last Release. A zero Deliver means the connection
	// closed before they could.
	EventReleased EventKind = "released"
	// EventBlackholed: the connection started discarding bytes.
	EventBlackholed EventKind = "blackholed"
	// EventDropped: the proxy reset both sides of the connection. An
	// EventClosed follows.
	EventDropped EventKind = "dropped"
	// EventClosed: both sockets are closed and the connection's goroutines
	// have returned. It is the last event for a connection.
	EventClosed EventKind = "closed"
)

// Event reports a change to one connection, for timelines and logs.
type Event struct {
	// Time is when the change happened.
	Time time.Time
	// Kind says what happened.
	Kind EventKind
	// Conn is the connection it happened to.
	Conn ConnID
	// Client is the remote address of the accepted connection.
	Client string
	// State is the connection's state after the event.
	State State
	// Err, on EventClosed, says why the connection ended: nil when both
	// peers closed in order, ErrDropped, ErrClosed, or a wrapped dial, read
	// or write error.
	Err error

	// On EventHeld and EventReleased: the direction, the bytes it held,
	// when the first of them would have reached the peer, when they reach
	// it instead, and how: at the sender's Attempt-th timeout
	// retransmission (1 for the first), or, when Fast, by its fast
	// retransmission after the peer acknowledged later data selectively.
	Dir     Direction
	Bytes   int64
	Arrived time.Time
	Deliver time.Time
	Attempt int
	Fast    bool
}
