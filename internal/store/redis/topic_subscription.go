package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/rueidis"

	"github.com/thaw-dev/thaw/internal/store"
)

// errSubscriptionClosed is returned by Next after Close.
var errSubscriptionClosed = fmt.Errorf("redis: subscription closed: %w", store.ErrClosed)

// subscription is one subscriber's cursor on a topic's stream.
type subscription struct {
	store          *Store
	cache          cacheRef // the cache and epoch the subscription began in
	stream, meta   string
	page           uint64                    // the page of next
	next           uint64                    // sequence number of the next item to yield
	pending        *store.TopicDiscontinuity // yielded before anything else
	buf            []rueidis.XRangeEntry     // read, not yet yielded
	touched        time.Time                 // when the topic's expiry was last renewed
	unanswered     time.Time                 // since when reads go unanswered; zero when the last one was answered
	ended, closedE error                     // why Next fails from now on
}

// Next returns the next item or discontinuity, waiting for one until ctx is
// done or the subscription ends.
func (sub *subscription) Next(ctx context.Context) (store.TopicEvent, error) {
	if sub.closedE != nil {
		return store.TopicEvent{}, sub.closedE
	}
	if sub.ended != nil {
		return store.TopicEvent{}, sub.ended
	}
	if err := sub.check(ctx); err != nil {
		return store.TopicEvent{}, err
	}
	if d := sub.pending; d != nil {
		sub.pending = nil
		return store.TopicEvent{Discontinuity: d}, nil
	}
	for {
		if len(sub.buf) > 0 {
			if ev, ok, err := sub.take(); err != nil || ok {
				return ev, err
			}
			continue
		}
		if err := sub.read(ctx); err != nil {
			return store.TopicEvent{}, err
		}
		if len(sub.buf) > 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return store.TopicEvent{}, err
		}
		if err := sub.check(ctx); err != nil {
			return store.TopicEvent{}, err
		}
		sub.renew(ctx)
	}
}

// take yields the first buffered entry, or a discontinuity before it when
// it is not the next one; ok is false when it dropped a stale entry.
func (sub *subscription) take() (ev store.TopicEvent, ok bool, err error) {
	e := sub.buf[0]
	page, seq, err := parseEntryID(e.ID)
	if err != nil {
		return ev, false, fmt.Errorf("redis: subscription: %w", err)
	}
	switch {
	case page != sub.page:
		// The topic started again (it expired while idle): its numbers
		// begin anew on a later page.
		d := &store.TopicDiscontinuity{LastSequence: sub.next - 1, NewSequence: seq - 1, NewPage: page}
		sub.page, sub.next = page, seq
		return store.TopicEvent{Discontinuity: d}, true, nil
	case seq < sub.next:
		sub.buf = sub.buf[1:]
		return ev, false, nil
	case seq > sub.next:
		// The items in between are no longer retained.
		d := &store.TopicDiscontinuity{LastSequence: sub.next - 1, NewSequence: seq - 1, NewPage: page}
		sub.next = seq
		return store.TopicEvent{Discontinuity: d}, true, nil
	}
	sub.buf = sub.buf[1:]
	sub.next++
	msg := store.TopicMessage{
		Data:        []byte(e.FieldValues["d"]),
		Text:        e.FieldValues["t"] == "1",
		PublisherID: e.FieldValues["p"],
	}
	return store.TopicEvent{Item: store.TopicItem{Position: store.TopicPosition{Sequence: seq, Page: page}, Message: msg}}, true, nil
}

// read fills the buffer from the stream: XRANGE from the next item, and
// when there is none yet, XREAD BLOCK for one round, or until ctx's
// deadline when that comes first. Each read has DialTimeout (past its
// round) to be answered, so that a master that stopped answering ends the
// subscription with store.ErrUnavailable (see fail) instead of holding it.
func (sub *subscription) read(ctx context.Context) error {
	s := sub.store
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	entries, err := s.client.Do(rctx, s.client.B().Xrange().Key(sub.stream).Start(entryID(sub.page, sub.next)).End("+").Count(topicReadBatch).Build()).AsXRange()
	cancel()
	if err != nil {
		return sub.fail(ctx, start, err)
	}
	sub.unanswered = time.Time{}
	if len(entries) > 0 {
		sub.buf = entries
		return nil
	}
	wait := topicPollRound
	if deadline, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(deadline))
	}
	if wait < time.Millisecond {
		return ctx.Err()
	}
	cmd := s.client.B().Xread().Count(topicReadBatch).Block(wait.Milliseconds()).Streams().Key(sub.stream).Id(entryID(sub.page, sub.next-1)).Build()
	start = time.Now()
	rctx, cancel = context.WithTimeout(ctx, wait+s.cfg.DialTimeout)
	streams, err := s.client.Do(rctx, cmd).AsXRead()
	cancel()
	if rueidis.IsRedisNil(err) {
		sub.unanswered = time.Time{}
		return nil
	}
	if err != nil {
		return sub.fail(ctx, start, err)
	}
	sub.unanswered = time.Time{}
	sub.buf = streams[sub.stream]
	return nil
}

// fail is the error of a read, sent at start, that failed: the end of the
// subscription when the store closed or the cache is gone (Next fails for
// good from then on); store.ErrUnavailable when Redis cannot serve the
// topic (see Store.wrap) or when reads have gone unanswered for
// DialTimeout, over however many calls of Next; ctx's error when it ended
// before that; the wrapped error otherwise.
func (sub *subscription) fail(ctx context.Context, start time.Time, err error) error {
	if cerr := sub.check(ctx); cerr != nil {
		return cerr
	}
	s := sub.store
	if errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	if isContextErr(err) {
		// No answer in time: ctx's deadline, or the read's own bound.
		if sub.unanswered.IsZero() {
			sub.unanswered = start
		}
		if waited := time.Since(sub.unanswered); !ended(ctx) || waited >= s.cfg.DialTimeout {
			return fmt.Errorf("redis: subscription: %w: the topic's master has not answered for %v", store.ErrUnavailable, waited.Round(time.Millisecond))
		}
		return endedErr(ctx)
	}
	if ended(ctx) {
		return endedErr(ctx)
	}
	return s.wrap(ctx, "subscription", err)
}

// check ends the subscription when the store is closed, or its cache was
// deleted (store.ErrCacheNotFound) or flushed (store.ErrTopicReset).
func (sub *subscription) check(ctx context.Context) error {
	s := sub.store
	if s.closed.Load() {
		sub.ended = errClosed
		return sub.ended
	}
	ref, ok := s.reg.Load().refs[sub.cache.name]
	if !ok {
		// Not in this node's snapshot: ask the registry.
		var err error
		if ref, err = s.cache(ctx, "subscription", sub.cache.name); err != nil {
			if errors.Is(err, store.ErrCacheNotFound) || errors.Is(err, store.ErrClosed) {
				sub.ended = err
			}
			return err
		}
	}
	if ref.epoch != sub.cache.epoch {
		sub.ended = fmt.Errorf("redis: cache %q flushed: %w", sub.cache.name, store.ErrTopicReset)
		return sub.ended
	}
	return nil
}

// renew extends the topic's expiry while the subscription waits, a few
// times per TopicIdleTTL, so that a topic with subscribers does not expire.
func (sub *subscription) renew(ctx context.Context) {
	s := sub.store
	if time.Since(sub.touched) < s.cfg.TopicIdleTTL/4 {
		return
	}
	sub.touched = time.Now()
	ttl := roundTTL(s.cfg.TopicIdleTTL)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	s.client.DoMulti(ctx,
		s.client.B().Pexpire().Key(sub.stream).Milliseconds(ttl.Milliseconds()).Build(),
		s.client.B().Pexpire().Key(sub.meta).Milliseconds(ttl.Milliseconds()).Build())
}

// Close ends the subscription; later calls of Next fail with ErrClosed.
func (sub *subscription) Close() error {
	sub.closedE = errSubscriptionClosed
	sub.buf = nil
	return nil
}
