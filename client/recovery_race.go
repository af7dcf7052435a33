package client

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/thaw-dev/thaw/api/cachepb"
)

// The first attempt after a gap races a spare connection. A connection that
// died while the process was frozen gives no answer at all, and waiting
// ProbeTimeout to learn that costs far more than setting up a new one. So
// the first attempt goes out on the suspect connection as before and, if no
// answer has come within the hedge delay (a little more than recent calls
// have taken), a spare connection is dialled beside it. Once the spare is
// ready and the suspect connection still has not answered, the attempt is
// sent on the spare too: the first answer wins, the other attempt is
// cancelled, and the connection that answered stays. An answer on the
// suspect connection before the spare is used closes the spare, so a
// healthy network is left with no extra connection.
//
// Only an attempt that may be sent twice races: an idempotent call, or the
// Ping that goes before a non-idempotent call, which then is sent once, on
// the connection that won.

const (
	// minHedgeDelay is the least a first attempt after a gap waits for the
	// suspect connection before dialling a spare, when Config.HedgeDelay
	// leaves it to the client: enough for a loopback or in-region call on a
	// busy machine, so that a healthy connection is rarely raced.
	minHedgeDelay = 5 * time.Millisecond
	// smoothingShift is the weight of the newest sample in the smoothed
	// call duration: 1/8, as TCP smooths its round-trip time.
	smoothingShift = 3
)

// recordCallTime folds the duration of a call that got its answer into the
// smoothed call duration that sets the hedge delay.
func (a *activity) recordCallTime(d time.Duration) {
	if d <= 0 {
		return
	}
	old := a.smoothedCall.Load()
	if old == 0 {
		a.smoothedCall.Store(int64(d))
		return
	}
	a.smoothedCall.Store(old + (int64(d)-old)>>smoothingShift)
}

// hedgeDelay is how long the first attempt after a gap waits for the
// suspect connection before a spare is dialled (Config.HedgeDelay), and
// false when no spare is to be dialled.
func (c *Client) hedgeDelay() (time.Duration, bool) {
	d := c.cfg.HedgeDelay
	switch {
	case d < 0:
		return 0, false
	case d == 0:
		smoothed := time.Duration(c.act.smoothedCall.Load())
		d = max(smoothed+smoothed/4+time.Millisecond, minHedgeDelay)
	}
	return min(d, c.cfg.ProbeTimeout/2), true
}

// spare is a connection dialled beside a suspect one. Calls after the same
// gap share it: each joins it and leaves it, and the last to leave closes
// it unless it was kept.
type spare struct {
	of    *channel // the suspect connection
	ch    *channel
	ready chan struct{} // closed once ch is READY
	stop  context.CancelFunc

	users int  // calls racing it; guarded by Client.mu
	kept  bool // adopted as the current connection, or closed by Client.Close: the last call to leave it does not close it; guarded by Client.mu
}

// joinSpare returns the spare raced against old, dialling it if no call
// has yet; nil when the client is closed, old is no longer current or the
// dial cannot start.
func (c *Client) joinSpare(old *channel) *spare {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.current.Load() != old {
		return nil
	}
	if sp := c.spare; sp != nil && sp.of == old {
		sp.users++
		return sp
	}
	c.nextChannel++
	ch, err := c.dial(c.nextChannel)
	if err != nil {
		return nil
	}
	wctx, stop := context.WithCancel(context.Background())
	sp := &spare{of: old, ch: ch, ready: make(chan struct{}), stop: stop, users: 1}
	c.spare = sp
	ch.conn.Connect()
	go func() {
		for {
			state := ch.conn.GetState()
			if state == connectivity.Ready {
				close(sp.ready)
				return
			}
			if !ch.conn.WaitForStateChange(wctx, state) {
				return
			}
		}
	}()
	if c.trace != nil {
		c.trace.emit(slog.LevelInfo, EventSpareDial, slog.Uint64("channel", old.id), slog.Uint64("spare", ch.id))
	}
	return sp
}

// leaveSpare says a call is done with sp; the last call closes it, in the
// background, unless it was kept.
func (c *Client) leaveSpare(sp *spare) {
	c.mu.Lock()
	sp.users--
	last := sp.users == 0 && !sp.kept
	if last && c.spare == sp {
		c.spare = nil
	}
	if last {
		c.closers.Add(1)
	}
	c.mu.Unlock()
	if last {
		sp.stop()
		go func() {
			defer c.closers.Done()
			sp.ch.conn.Close()
		}()
	}
}

// adopt makes sp the current connection in place of old, which is closed
// in the background, and returns it; unless old is no longer current
// (another call replaced it), in which case the current connection is
// returned. Either way the calling call leaves sp.
func (c *Client) adopt(old *channel, sp *spare, reason string, gap time.Duration) *channel {
	c.mu.Lock()
	cur := c.current.Load()
	if cur != old {
		c.mu.Unlock()
		c.leaveSpare(sp)
		if cur == nil {
			return old
		}
		return cur
	}
	c.current.Store(sp.ch)
	sp.kept = true
	if c.spare == sp {
		c.spare = nil
	}
	c.act.replied(c.act.now())
	c.closers.Add(1)
	c.mu.Unlock()
	sp.stop()
	c.leaveSpare(sp)
	if c.trace != nil {
		c.trace.emit(slog.LevelWarn, EventReconnect, slog.Uint64("channel", old.id), slog.Uint64("new_channel", sp.ch.id),
			slog.String("reason", reason), slog.Duration("gap", gap))
	}
	go func() {
		defer c.closers.Done()
		old.conn.Close()
	}()
	return sp.ch
}

// raceAttempt is one attempt of a raced call and where it went.
type raceAttempt[T any] struct {
	resp    T
	err     error
	ch      *channel
	trailer metadata.MD
}

// raceAfterGap sends the first attempt of a call after a gap on old, the
// suspect connection, with the ProbeTimeout deadline, and races a spare
// connection against it as the comment at the top of this file says. send
// must be safe to send twice. It returns the answer (an error status is an
// answer too) or, when no connection answered, the suspect connection's
// error; the winning attempt's trailer; and the connection the call goes
// on with: old, or the spare when it answered first or was ready when old
// had failed to answer.
func raceAfterGap[T any](ctx context.Context, c *Client, old *channel, gap time.Duration, send sendFunc[T]) (T, metadata.MD, *channel, error) {
	out := make(chan raceAttempt[T], 2)
	start := func(actx context.Context, on *channel) {
		go func() {
			var tr metadata.MD
			resp, err := send(actx, on, grpc.Trailer(&tr))
			out <- raceAttempt[T]{resp: resp, err: err, ch: on, trailer: tr}
		}()
	}
	oldCtx, cancelOld := context.WithTimeout(ctx, c.cfg.ProbeTimeout)
	defer cancelOld()
	start(oldCtx, old)
	inflight := 1

	var hedgeC <-chan time.Time
	if delay, ok := c.hedgeDelay(); ok {
		hedge := time.NewTimer(delay)
		defer hedge.Stop()
		hedgeC = hedge.C
	}
	spareCtx, cancelSpare := context.WithCancel(ctx)
	defer cancelSpare()
	var sp *spare
	var ready <-chan struct{}
	var oldFailed *raceAttempt[T]

	for {
		select {
		case <-hedgeC:
			if sp = c.joinSpare(old); sp != nil {
				ready = sp.ready
			}
		case <-ready:
			// old has not answered yet: once old fails, the loop returns
			// or waits on the spare's attempt, so ready never fires after.
			ready = nil
			start(spareCtx, sp.ch)
			inflight++
		case a := <-out:
			inflight--
			if a.err == nil || serverReplied(status.Code(a.err)) {
				if a.ch == old {
					if sp != nil {
						cancelSpare()
						c.leaveSpare(sp)
					}
					return a.resp, a.trailer, old, a.err
				}
				cancelOld()
				return a.resp, a.trailer, c.adopt(old, sp, "spare answered first", gap), a.err
			}
			if a.ch == old {
				oldFailed = &a
				if sp == nil {
					return a.resp, a.trailer, old, a.err // no spare yet: the caller replaces old
				}
				if inflight > 0 {
					continue // the spare's attempt is under way
				}
				// The spare is still connecting: wait for it within the
				// call's deadline, rather than dial another.
				select {
				case <-sp.ready:
					return a.resp, a.trailer, c.adopt(old, sp, "probe failed; spare ready", gap), a.err
				case <-ctx.Done():
					c.leaveSpare(sp)
					return a.resp, a.trailer, old, a.err
				}
			}
			// The spare's attempt got no answer either.
			c.leaveSpare(sp)
			if oldFailed != nil {
				return oldFailed.resp, oldFailed.trailer, old, oldFailed.err
			}
			sp, ready = nil, nil
		}
	}
}

// pingSend is the Ping that goes before a non-idempotent call after a gap.
func pingSend(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XPingResponse, error) {
	return ch.ping.Ping(ctx, &cachepb.XPingRequest{}, opts...)
}
