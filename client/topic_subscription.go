package client

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/api/pubsubpb"
)

// Why the subscription ended a stream itself, as the stream context's cause.
var (
	errFirstMessageTimeout = errors.New("no first message within the deadline")
	errStreamSilent        = errors.New("stream silent")
	errConnectionDead      = errors.New("connection gave no answer to a ping")
)

// Subscription is a live subscription to a topic, made by Client.Subscribe.
// Next returns its events. It resubscribes by itself when its stream ends or
// goes silent, resuming after the last item it received, so that the caller
// sees every item the server still retains exactly once, in order, and a
// TopicEventDiscontinuity where the server no longer had some. Its methods
// are safe for concurrent use; each event goes to one caller of Next.
type Subscription struct {
	c            *Client
	cache, topic string
	opts         SubscribeOptions
	threshold    time.Duration // the read-after-gap threshold (Config.RecoveryIdleThreshold)
	probeTimeout time.Duration // the connection check's deadline (Config.ProbeTimeout)
	timers       timerSource

	// ctx lives as long as the subscription; cancel is Close.
	ctx       context.Context
	cancel    context.CancelFunc
	closeOnce sync.Once

	events chan TopicEvent // from the pump to Next
	done   chan struct{}   // closed when the pump has ended
	err    error           // why it ended; written before done is closed

	posMu     sync.Mutex    // guards delivered
	delivered TopicPosition // after the latest event Next returned: Position

	probing    atomic.Bool  // a connection check is under way
	answeredAt atomic.Int64 // Client clock (since its epoch) when a check's Ping was last answered after no freeze; 0 before any
	stats      subscriptionCounters

	bgMu     sync.Mutex     // guards bgClosed and adding to bg
	bgClosed bool           // Close has begun: no new background work
	bg       sync.WaitGroup // connection checks under way, which Close waits for

	// Owned by the pump goroutine (and by Subscribe before it starts).
	lastHeard time.Time     // Clock time of the latest message from the server
	next      TopicPosition // where a new stream resumes; Sequence 0: at the latest item
}

// stream is one Subscribe call of a subscription.
type stream struct {
	ch       *channel
	ctx      context.Context
	cancel   context.CancelCauseFunc
	rs       grpc.ServerStreamingClient[pubsubpb.XSubscriptionItem]
	watch    *watchdog
	messages atomic.Uint64 // received so far

	// established is set by the pump once the stream carried a message.
	established bool
}

// SubscriptionStats counts what happened to a subscription. Every field
// only grows.
type SubscriptionStats struct {
	// Items and Discontinuities are the events Next has been offered.
	Items, Discontinuities uint64
	// Heartbeats is the number of heartbeats received.
	Heartbeats uint64
	// Duplicates is the number of items dropped because they came again
	// after a resubscription (a server that resumes at the last item
	// rather than the next).
	Duplicates uint64
	// Resubscribes is the number of streams opened after the first.
	Resubscribes uint64
	// BlindResubscribes counts the resubscribes made before the
	// subscription had any position to resume at: no item or
	// discontinuity yet, and no SubscribeOptions.ResumeAt. The protocol's
	// heartbeats carry no sequence number, so such a stream starts at the
	// topic's next item, and what was published while no stream was open
	// is out of reach even when the server still retains it.
	BlindResubscribes uint64
	// SilentStreams is the number of streams given up because they were
	// silent for HeartbeatTimeout while the process ran.
	SilentStreams uint64
	// GapChecks is the number of connection checks (a Ping) made because
	// the stream was read after a gap or the watchdog found the process had
	// been frozen, or because the process was frozen while a check's Ping
	// waited (it is asked again); FailedChecks those that got no answer
	// within ProbeTimeout of running time, after which the
	// connection was replaced and the subscription resubscribed.
	GapChecks, FailedChecks uint64
}

// subscriptionCounters is SubscriptionStats as atomics.
type subscriptionCounters struct {
	items, discontinuities, heartbeats, duplicates atomic.Uint64
	resubscribes, blindResubscribes, silentStreams atomic.Uint64
	gapChecks, failedChecks                        atomic.Uint64
}

// Subscribe subscribes to topic in cache and returns once the server has
// answered with the stream's first message (the service sends a heartbeat at
// once), within Config.Timeout. A missing cache, a refused key or too many
// subscriptions fail here (ErrCacheNotFound, ErrPermissionDenied,
// ErrLimitExceeded). After a gap the first attempt is a probe, as for other
// calls: if no message comes within Config.ProbeTimeout the connection is
// replaced and Subscribe tries again.
//
// ctx bounds Subscribe only; the subscription lasts until Close, the
// client's Close, or an error that resubscribing cannot cure (the cache was
// deleted, the key was refused), which Next then returns.
func (c *Client) Subscribe(ctx context.Context, cache, topic string, opts SubscribeOptions) (*Subscription, error) {
	const op = "Subscribe"
	if err := checkTopicNames(op, cache, topic); err != nil {
		return nil, err
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if c.current.Load() == nil {
		return nil, errClosed(op)
	}
	if err := ctx.Err(); err != nil {
		return nil, ctxError(op, ctx)
	}
	if c.trace != nil {
		c.trace.beginCall(ctx)
	}
	s := &Subscription{
		c: c, cache: cache, topic: topic, opts: opts,
		threshold:    orDefault(c.cfg.RecoveryIdleThreshold, DefaultRecoveryIdleThreshold),
		probeTimeout: orDefault(c.cfg.ProbeTimeout, DefaultProbeTimeout),
		timers:       timersFor(c.act.clock),
		events:       make(chan TopicEvent),
		done:         make(chan struct{}),
		next:         opts.ResumeAt,
		delivered:    opts.ResumeAt,
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	st, first, err := s.start(ctx)
	if err != nil {
		s.cancel()
		return nil, err
	}
	go s.run(st, first)
	return s, nil
}

// orDefault returns d, or def when d is not positive.
func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// ctxError is the error for a call whose context ended.
func ctxError(op string, ctx context.Context) *Error {
	err := ctx.Err()
	code := CodeCancelled
	if errors.Is(err, context.DeadlineExceeded) {
		code = CodeTimeout
	}
	return &Error{Code: code, Op: op, Message: err.Error(), cause: err}
}

// start opens the first stream and waits for its first message, with the
// client's freeze-aware recovery: after a gap the first attempt waits only
// ProbeTimeout, and a connection that gives no answer is replaced.
func (s *Subscription) start(ctx context.Context) (*stream, *pubsubpb.XSubscriptionItem, error) {
	const op = "Subscribe"
	c := s.c
	begin := c.act.now()
	gap := c.act.gap(begin)
	deadline := time.Now().Add(c.cfg.Timeout)
	ch := c.current.Load()
	if ch == nil {
		return nil, nil, errClosed(op)
	}
	probe := false
	switch c.planFor(gap) {
	case planReplace:
		c.traceGap(gap, &methodInfo{name: op}, "replace connection (max idle)")
		ch = c.replace(ch, "max idle", gap)
	case planProbe:
		c.traceGap(gap, &methodInfo{name: op}, "probe with the first attempt")
		probe = true
	}
	for attempt := 1; ; attempt++ {
		wait := time.Until(deadline)
		if probe {
			wait = min(wait, s.probeTimeout)
		}
		st, err := s.open(ch, "initial")
		var first *pubsubpb.XSubscriptionItem
		if err == nil {
			if first, err = s.first(ctx, st, wait); err == nil {
				c.act.replied(begin)
				return st, first, nil
			}
			st.end()
		}
		if ctx.Err() != nil {
			return nil, nil, ctxError(op, ctx)
		}
		code := status.Code(err)
		if serverReplied(code) {
			c.act.replied(begin)
		} else {
			c.act.noReply(code)
		}
		left := time.Until(deadline) > 0
		switch {
		case probe && left && probeFailed(err):
			probe = false
			ch = c.replace(ch, "probe attempt failed: "+code.String(), gap)
			continue
		case left && retryable(code) && attempt < c.cfg.MaxAttempts:
			if ch = c.current.Load(); ch == nil {
				return nil, nil, errClosed(op)
			}
			continue
		}
		var trailer metadata.MD
		if st != nil {
			trailer = st.rs.Trailer()
		}
		return nil, nil, fromRPC(op, err, trailer)
	}
}

// first waits up to wait for the first message of st, or until ctx ends.
func (s *Subscription) first(ctx context.Context, st *stream, wait time.Duration) (*pubsubpb.XSubscriptionItem, error) {
	timer := time.AfterFunc(wait, func() { st.cancel(errFirstMessageTimeout) })
	defer timer.Stop()
	defer context.AfterFunc(ctx, func() { st.cancel(context.Cause(ctx)) })()
	msg, err := st.rs.Recv()
	switch {
	case err == nil:
		st.messages.Add(1)
		st.established = true
		s.lastHeard = s.c.act.clock.Now()
		return msg, nil
	case errors.Is(context.Cause(st.ctx), errFirstMessageTimeout):
		return nil, status.Errorf(codes.DeadlineExceeded, "no message on the new stream within %v", wait)
	case errors.Is(err, io.EOF):
		return nil, status.Error(codes.Unavailable, "the server ended the stream before its first message")
	}
	return nil, err
}

// open starts a stream on ch at the subscription's resume position.
func (s *Subscription) open(ch *channel, reason string) (*stream, error) {
	ctx, cancel := context.WithCancelCause(s.ctx)
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", s.c.creds.token)
	req := &pubsubpb.XSubscriptionRequest{CacheName: proto.String(s.cache), Topic: proto.String(s.topic)}
	from := s.next
	if from.Sequence > 0 {
		req.ResumeAtTopicSequenceNumber = proto.Uint64(from.Sequence)
		req.SequencePage = proto.Uint64(from.Page)
	}
	if s.c.trace != nil {
		s.c.trace.emit(slog.LevelInfo, EventSubscribe, slog.String("cache", s.cache), slog.String("topic", s.topic),
			slog.Uint64("resume_at", from.Sequence), slog.Uint64("page", from.Page), slog.Uint64("channel", ch.id), slog.String("reason", reason))
	}
	rs, err := pubsubpb.NewPubsubClient(ch.conn).Subscribe(ctx, req)
	if err != nil {
		cancel(nil)
		return nil, err
	}
	st := &stream{ch: ch, ctx: ctx, cancel: cancel, rs: rs}
	st.watch = newWatchdog(s.timers, s.opts.HeartbeatTimeout,
		func(elapsed time.Duration) {
			s.checkAfterGap(st, "watchdog tick late: the process was frozen", elapsed)
		},
		func(silence time.Duration) { s.silent(st, silence) })
	return st, nil
}

// end cancels the stream and stops its watchdog.
func (st *stream) end() {
	st.watch.stop()
	st.cancel(nil)
}

// run is the pump: it reads the stream, hands events to Next, and replaces
// the stream when it ends, until the subscription is closed or fails.
func (s *Subscription) run(st *stream, first *pubsubpb.XSubscriptionItem) {
	defer close(s.done)
	if first != nil && !s.handle(first) {
		st.end()
		s.err = errSubscriptionClosed()
		return
	}
	failures := 0 // consecutive streams that ended before carrying a message
	reason := ""  // why the latest stream ended
	for {
		if st == nil {
			var err error
			if st, err = s.reopen(&failures, reason); err != nil {
				s.fail(err)
				return
			}
		}
		msg, err := s.recv(st)
		if err == nil {
			if !st.established {
				st.established = true
				failures = 0
			}
			if !s.handle(msg) {
				st.end()
				s.err = errSubscriptionClosed()
				return
			}
			continue
		}
		st.end()
		if s.ctx.Err() != nil {
			s.err = errSubscriptionClosed()
			return
		}
		code := status.Code(err)
		cause := context.Cause(st.ctx)
		reason = "stream ended: " + code.String()
		switch {
		case errors.Is(err, io.EOF):
			reason = "the server ended the stream"
		case errors.Is(cause, errStreamSilent), errors.Is(cause, errConnectionDead):
			reason = cause.Error()
		case terminal(code):
			s.fail(fromRPC("Subscribe", err, st.rs.Trailer()))
			return
		}
		if !st.established {
			failures++
		}
		if s.c.trace != nil {
			s.c.trace.emit(slog.LevelWarn, EventStreamEnded, slog.String("topic", s.topic), slog.Uint64("channel", st.ch.id),
				slog.String("reason", reason), slog.String("err", err.Error()), slog.Uint64("messages", st.messages.Load()))
		}
		st = nil
	}
}

// recv waits for the next message of st under its watchdog. The server
// heartbeats every second, so the time between two messages read from an
// established stream exceeds the idle threshold only after a gap: the pump
// was held by a caller that did not read, the process was frozen, or the
// network stalled. The messages read after a gap may have waited in a
// buffer since before it, so they prove nothing about the connection now;
// it is checked, as a call after a gap checks it. The check runs beside the
// stream, which goes on delivering whatever it has.
func (s *Subscription) recv(st *stream) (*pubsubpb.XSubscriptionItem, error) {
	if st.established {
		s.gapSince(st, "read after a gap")
	}
	st.watch.wait()
	msg, err := st.rs.Recv()
	st.watch.heard()
	if err == nil {
		st.messages.Add(1)
		if st.established {
			s.gapSince(st, "message after a gap")
		}
		s.lastHeard = s.c.act.clock.Now()
	}
	return msg, err
}

// gapSince starts a connection check when more than the idle threshold has
// passed since the latest message.
func (s *Subscription) gapSince(st *stream, why string) {
	if gap := s.c.act.clock.Now().Sub(s.lastHeard); gap > s.threshold {
		go s.checkAfterGap(st, why, gap)
	}
}

// handle turns a message into an event for Next and keeps the resume
// position. It reports false when the subscription was closed meanwhile.
func (s *Subscription) handle(msg *pubsubpb.XSubscriptionItem) bool {
	var ev TopicEvent
	switch kind := msg.GetKind().(type) {
	case *pubsubpb.XSubscriptionItem_Heartbeat:
		s.stats.heartbeats.Add(1)
		return true
	case *pubsubpb.XSubscriptionItem_Item:
		it := kind.Item
		pos := TopicPosition{Sequence: it.GetTopicSequenceNumber(), Page: it.GetSequencePage()}
		if s.next.Sequence > 0 && pos.Page == s.next.Page && pos.Sequence < s.next.Sequence {
			s.stats.duplicates.Add(1)
			return true
		}
		s.next = TopicPosition{Sequence: pos.Sequence + 1, Page: pos.Page}
		ev = TopicEvent{Kind: TopicEventItem, Item: TopicItem{Position: pos, PublisherID: it.GetPublisherId()}}
		switch v := it.GetValue().GetKind().(type) {
		case *pubsubpb.XTopicValue_Text:
			ev.Item.Value, ev.Item.Text = []byte(v.Text), true
		case *pubsubpb.XTopicValue_Binary:
			ev.Item.Value = v.Binary
		}
		if ev.Item.Value == nil {
			ev.Item.Value = []byte{}
		}
		s.stats.items.Add(1)
	case *pubsubpb.XSubscriptionItem_Discontinuity:
		d := kind.Discontinuity
		ev = TopicEvent{Kind: TopicEventDiscontinuity, Discontinuity: TopicDiscontinuity{
			LastSequence: d.GetLastTopicSequence(), NewSequence: d.GetNewTopicSequence(), NewPage: d.GetNewSequencePage()}}
		s.next = TopicPosition{Sequence: d.GetNewTopicSequence() + 1, Page: d.GetNewSequencePage()}
		s.stats.discontinuities.Add(1)
	default:
		return true // a kind this client does not know
	}
	select {
	case s.events <- ev:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// reopen opens a new stream on the client's current connection, after a
// backoff when streams have been failing before carrying a message.
func (s *Subscription) reopen(failures *int, reason string) (*stream, error) {
	for {
		if *failures > 0 {
			delay := s.opts.ResubscribeBackoff << min(*failures-1, 30)
			if delay <= 0 || delay > s.opts.MaxResubscribeBackoff {
				delay = s.opts.MaxResubscribeBackoff
			}
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
				return nil, errSubscriptionClosed()
			}
		}
		if s.ctx.Err() != nil {
			return nil, errSubscriptionClosed()
		}
		ch := s.c.current.Load()
		if ch == nil {
			return nil, errClosed("Subscribe")
		}
		st, err := s.open(ch, "resubscribe: "+reason)
		if err != nil {
			*failures++
			continue
		}
		s.stats.resubscribes.Add(1)
		if s.next.Sequence == 0 {
			s.stats.blindResubscribes.Add(1)
		}
		return st, nil
	}
}

// fail ends the subscription with err.
func (s *Subscription) fail(err error) {
	s.err = err
	if s.c.trace != nil {
		s.c.trace.emit(slog.LevelWarn, EventSubscriptionEnded, slog.String("cache", s.cache), slog.String("topic", s.topic), slog.String("err", err.Error()))
	}
}

// terminal reports whether a stream ending with code cannot be cured by
// subscribing again: the cache is gone, the key is refused, or the server
// does not take the request.
func terminal(code codes.Code) bool {
	switch code {
	case codes.NotFound, codes.PermissionDenied, codes.Unauthenticated, codes.InvalidArgument,
		codes.FailedPrecondition, codes.OutOfRange, codes.Unimplemented:
		return true
	}
	return false
}

// checkAfterGap checks the connection of st after a gap: a read after a gap,
// or a watchdog tick that came late because the process was frozen. The
// silence of a gap proves nothing, so the stream is not given up for it;
// but a Ping that gets no answer within ProbeTimeout proves the connection
// dead, and it is replaced at once, and the stream with it.
func (s *Subscription) checkAfterGap(st *stream, why string, gap time.Duration) {
	if !s.enter() {
		return
	}
	defer s.bg.Done()
	if !s.probing.CompareAndSwap(false, true) {
		return
	}
	defer s.probing.Store(false)
	// One check covers every sign of the same gap (a late tick, then the
	// stale messages, then a read): a Ping answered less than ProbeTimeout
	// ago, by a process that was not frozen while it waited, came after the
	// gap, as a freeze that a sign reports lasts longer than that. A check
	// still under way when the process froze re-judges by itself.
	if last := s.answeredAt.Load(); last != 0 && s.c.act.now()-time.Duration(last) < s.probeTimeout {
		return
	}
	s.stats.gapChecks.Add(1)
	if s.c.trace != nil {
		s.c.trace.emit(slog.LevelInfo, EventStreamGap, slog.String("topic", s.topic), slog.Uint64("channel", st.ch.id),
			slog.String("why", why), slog.Duration("gap", gap))
	}
	if !s.connectionAlive(st, why, gap) {
		s.stats.failedChecks.Add(1)
	}
}

// silent gives up st, silent for silence while the process ran. A Ping
// decides whether its connection goes too; a stream that spoke meanwhile is
// kept.
func (s *Subscription) silent(st *stream, silence time.Duration) {
	if !s.enter() {
		return
	}
	defer s.bg.Done()
	before := st.messages.Load()
	alive := s.connectionAlive(st, "stream silent", silence)
	if alive && st.messages.Load() != before {
		return
	}
	s.stats.silentStreams.Add(1)
	if s.c.trace != nil {
		s.c.trace.emit(slog.LevelWarn, EventStreamSilent, slog.String("topic", s.topic), slog.Uint64("channel", st.ch.id),
			slog.Duration("silence", silence), slog.Bool("connection_alive", alive))
	}
	st.cancel(errStreamSilent) // no effect when connectionAlive ended it
}

// connectionAlive reports whether the connection of st answers a Ping
// within ProbeTimeout of running time (probeDeadline: a freeze while it
// waits does not count, and an answer read after one is not trusted, so the
// Ping is repeated). When it does not, st is ended and its connection
// replaced (unless it already was), and it reports false. A recent reply to
// another call is no evidence here: the silence or the gap that calls for
// the check may be more recent still.
//
// A Ping is repeated only after a freeze, so a check lasts as long as the
// function keeps freezing while its Ping waits (its invocations are that
// short), judging the connection after each thaw; each repeat counts as a
// check of its own. Signs of the thaw (a late watchdog tick, a read after
// the gap) that come meanwhile are left to it.
func (s *Subscription) connectionAlive(st *stream, why string, gap time.Duration) bool {
	c := s.c
	for round := 1; ; round++ {
		if round > 1 {
			s.stats.gapChecks.Add(1)
			why = "frozen while the previous ping waited"
			if c.trace != nil {
				c.trace.emit(slog.LevelInfo, EventStreamGap, slog.String("topic", s.topic), slog.Uint64("channel", st.ch.id), slog.String("why", why))
			}
		}
		begin := c.act.now()
		ctx, deadline := startProbeDeadline(s.ctx, realTimers{}, s.probeTimeout)
		start := time.Now()
		_, err := st.ch.ping.Ping(ctx, &cachepb.XPingRequest{})
		held := deadline.finish()
		timedOut := errors.Is(context.Cause(ctx), errProbeTimeout)
		if c.trace != nil {
			attrs := []slog.Attr{slog.Uint64("channel", st.ch.id), slog.Duration("took", time.Since(start)), slog.Bool("frozen_meanwhile", held)}
			level := slog.LevelDebug
			if err != nil {
				attrs = append(attrs, slog.String("code", status.Code(err).String()), slog.Bool("timed_out", timedOut))
				level = slog.LevelWarn
			}
			c.trace.emit(level, EventProbe, attrs...)
		}
		if err == nil {
			if held {
				continue // the answer may have waited out the freeze in a buffer
			}
			if c.current.Load() == st.ch {
				c.act.replied(begin)
			}
			s.answeredAt.Store(int64(c.act.now()))
			return true
		}
		if s.ctx.Err() != nil || (!timedOut && serverReplied(status.Code(err))) {
			return true
		}
		// Replace first, so that the pump resubscribes on the new
		// connection; the old one is closed in the background, after the
		// stream is ended here with its cause.
		code := status.Code(err).String()
		if timedOut {
			code = "no answer"
		}
		c.replace(st.ch, "subscription: "+why+": ping "+code, gap)
		st.cancel(errConnectionDead)
		return false
	}
}

// enter registers background work that Close waits for; it reports false
// once Close has begun. The caller calls s.bg.Done when it returns true.
func (s *Subscription) enter() bool {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.bgClosed {
		return false
	}
	s.bg.Add(1)
	return true
}

// Next returns the subscription's next event, waiting for one until ctx
// ends. Items come in sequence order, each once; a TopicEventDiscontinuity
// comes where the server no longer had items the subscription should have
// had. An ended ctx returns ErrCancelled or ErrTimeout and leaves the
// subscription as it was: no event is lost, the next call gets it. Once the
// subscription has ended (Close, the client's Close, or an error that
// resubscribing cannot cure, such as ErrCacheNotFound) Next returns why.
//
// Next, not an iterator or a channel, because each read has its own
// context: a Lambda function reads within its invocation's deadline, and the
// subscription outlives the invocation, frozen with the process.
func (s *Subscription) Next(ctx context.Context) (TopicEvent, error) {
	if s.c.trace != nil {
		s.c.trace.beginCall(ctx)
	}
	select {
	case ev := <-s.events:
		return s.deliver(ev), nil
	default:
	}
	select {
	case ev := <-s.events:
		return s.deliver(ev), nil
	case <-s.done:
		return TopicEvent{}, s.err
	case <-ctx.Done():
		return TopicEvent{}, ctxError("Next", ctx)
	}
}

// deliver moves Position past ev, which Next returns.
func (s *Subscription) deliver(ev TopicEvent) TopicEvent {
	s.posMu.Lock()
	defer s.posMu.Unlock()
	switch ev.Kind {
	case TopicEventItem:
		s.delivered = TopicPosition{Sequence: ev.Item.Position.Sequence + 1, Page: ev.Item.Position.Page}
	case TopicEventDiscontinuity:
		s.delivered = TopicPosition{Sequence: ev.Discontinuity.NewSequence + 1, Page: ev.Discontinuity.NewPage}
	}
	return ev
}

// Position returns the first position the caller has not seen: just after
// the latest item (or discontinuity) Next returned, or
// SubscribeOptions.ResumeAt before any. A function that persists it can
// pass it as ResumeAt to a new subscription and miss nothing the server
// still retains.
func (s *Subscription) Position() TopicPosition {
	s.posMu.Lock()
	defer s.posMu.Unlock()
	return s.delivered
}

// Stats returns the subscription's counters.
func (s *Subscription) Stats() SubscriptionStats {
	return SubscriptionStats{
		Items:             s.stats.items.Load(),
		Discontinuities:   s.stats.discontinuities.Load(),
		Heartbeats:        s.stats.heartbeats.Load(),
		Duplicates:        s.stats.duplicates.Load(),
		Resubscribes:      s.stats.resubscribes.Load(),
		BlindResubscribes: s.stats.blindResubscribes.Load(),
		SilentStreams:     s.stats.silentStreams.Load(),
		GapChecks:         s.stats.gapChecks.Load(),
		FailedChecks:      s.stats.failedChecks.Load(),
	}
}

// Close ends the subscription and waits until its stream is closed. Next
// then returns ErrCancelled. Close is idempotent.
func (s *Subscription) Close() error {
	s.closeOnce.Do(func() {
		s.bgMu.Lock()
		s.bgClosed = true
		s.bgMu.Unlock()
		s.cancel()
	})
	<-s.done
	s.bg.Wait()
	return nil
}

// errSubscriptionClosed is what Next returns after Close.
func errSubscriptionClosed() *Error {
	return &Error{Code: CodeCancelled, Op: "Next", Message: "subscription is closed"}
}
