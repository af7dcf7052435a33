package memory

import (
	"context"
	"fmt"

	"github.com/thaw-dev/thaw/internal/store"
)

// errSubscriptionClosed is returned by Next after Close.
var errSubscriptionClosed = fmt.Errorf("memory: subscription closed: %w", store.ErrClosed)

// Publish appends msg to topic in the cache named cacheName. It takes the
// topic's lock only, never waits for subscribers and keeps msg.Data as
// given.
func (s *Store) Publish(_ context.Context, cacheName, topicName string, msg store.TopicMessage) (store.TopicPosition, error) {
	c, err := s.cache("publish", cacheName)
	if err != nil {
		return store.TopicPosition{}, err
	}
	for {
		t, err := c.topics.lookup(s, topicName)
		if err != nil {
			return store.TopicPosition{}, err
		}
		if pos, ok := t.publish(msg, s.now()); ok {
			return pos, nil
		}
	}
}

// Subscribe starts a subscription to topic in the cache named cacheName at
// from; see store.TopicStore.
func (s *Store) Subscribe(_ context.Context, cacheName, topicName string, from store.TopicPosition) (store.TopicSubscription, error) {
	c, err := s.cache("subscribe", cacheName)
	if err != nil {
		return nil, err
	}
	for {
		t, err := c.topics.lookup(s, topicName)
		if err != nil {
			return nil, err
		}
		if sub := t.subscribe(s, from, s.now()); sub != nil {
			return sub, nil
		}
	}
}

// subscribe registers a subscription at from, or returns nil when the
// topic is dead and the caller must look it up again.
func (t *topic) subscribe(s *Store, from store.TopicPosition, now int64) *subscription {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dead {
		return nil
	}
	t.subscribers.Add(1)
	t.lastUsed.Store(now)
	sub := &subscription{topic: t, store: s}
	head, first := t.head.Load(), t.first.Load()
	switch {
	case from.Sequence == 0:
		sub.next = head + 1
	case from.Page != 0 && from.Page != t.page:
		// Another page's numbers say nothing about this one: everything
		// retained here came after what the subscriber had.
		sub.pending = &store.TopicDiscontinuity{LastSequence: from.Sequence - 1, NewSequence: first - 1, NewPage: t.page}
		sub.next = first
	case from.Sequence > head+1:
		sub.pending = &store.TopicDiscontinuity{LastSequence: from.Sequence - 1, NewSequence: head, NewPage: t.page}
		sub.next = head + 1
	default:
		// Next reports the gap if from.Sequence is older than first.
		sub.next = from.Sequence
	}
	return sub
}

// subscription is one subscriber's cursor on a topic: the whole of its
// per-subscriber state. Its queue is the part of the topic's ring from next
// to the head, so it is bounded by the topic's retention and costs no
// memory of its own; a subscriber that falls further behind finds its next
// item evicted and gets a discontinuity.
type subscription struct {
	store   *Store
	topic   *topic
	next    uint64                    // sequence number of the next item to yield
	pending *store.TopicDiscontinuity // yielded before anything else
	closed  bool
}

// Next returns the next item or discontinuity, waiting for one until ctx is
// done or the topic ends.
func (s *subscription) Next(ctx context.Context) (store.TopicEvent, error) {
	if s.closed {
		return store.TopicEvent{}, errSubscriptionClosed
	}
	t := s.topic
	if err := t.endErr(); err != nil {
		return store.TopicEvent{}, err
	}
	if d := s.pending; d != nil {
		s.pending = nil
		return store.TopicEvent{Discontinuity: d}, nil
	}
	for {
		// The order of these loads is the protocol described at topic.
		wake := t.wake.Load()
		if err := t.endErr(); err != nil {
			return store.TopicEvent{}, err
		}
		if s.next <= t.head.Load() {
			if e := t.entry(s.next); e != nil {
				s.next++
				return store.TopicEvent{Item: store.TopicItem{
					Position: store.TopicPosition{Sequence: e.seq, Page: t.page},
					Message:  e.msg,
				}}, nil
			}
			if first := t.first.Load(); first > s.next {
				d := &store.TopicDiscontinuity{LastSequence: s.next - 1, NewSequence: first - 1, NewPage: t.page}
				s.next = first
				return store.TopicEvent{Discontinuity: d}, nil
			}
			continue // the ring grew meanwhile: look again
		}
		select {
		case <-*wake:
		case <-ctx.Done():
			return store.TopicEvent{}, ctx.Err()
		}
	}
}

// Close ends the subscription.
func (s *subscription) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.topic.lastUsed.Store(s.store.now())
	s.topic.subscribers.Add(-1)
	return nil
}
