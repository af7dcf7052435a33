package store

import (
	"context"
	"errors"
)

// ErrTopicReset ends a subscription whose topic was reset: its cache was
// flushed, and the topic's retained items and sequence numbers went with
// the items. Subscribing again starts on a new sequence page.
var ErrTopicReset = errors.New("store: topic reset")

// TopicMessage is what a publisher sends to a topic.
type TopicMessage struct {
	// Text says whether Data is the protocol's text kind (UTF-8, delivered
	// as a string) rather than its binary kind.
	Text bool
	// Data is the payload. Stores keep it as given and hand the same slice
	// to every subscriber; nobody may modify it.
	Data []byte
	// PublisherID names the publisher to subscribers; empty when unknown.
	PublisherID string
}

// TopicPosition is a place in a topic. Sequence numbers count a topic's
// items from 1 within one sequence page; a topic that is reset (its cache
// flushed, its state dropped) starts a new page whose number is greater
// than every earlier one, and counts from 1 again.
type TopicPosition struct {
	// Sequence is the item's sequence number within Page; 0 is before the
	// first item.
	Sequence uint64
	// Page is the topic's sequence page; 0 means "the current one".
	Page uint64
}

// TopicItem is one published message with its position.
type TopicItem struct {
	Position TopicPosition
	Message  TopicMessage
}

// TopicDiscontinuity tells a subscriber that it skipped items: it last had
// LastSequence, and the items that follow start after NewSequence of
// NewPage. A NewPage other than the page the subscriber had means the topic
// was reset.
type TopicDiscontinuity struct {
	LastSequence uint64
	NewSequence  uint64
	NewPage      uint64
}

// TopicEvent is what a subscription yields: an item or a discontinuity.
type TopicEvent struct {
	// Discontinuity is set when the event is a discontinuity; Item is then
	// zero.
	Discontinuity *TopicDiscontinuity
	// Item is the next item when Discontinuity is nil.
	Item TopicItem
}

// TopicStore is the publish/subscribe half of a Store: every cache has
// topics, named by any non-empty string, that exist from their first use.
//
// A topic keeps its most recent items, up to a bound that each backend
// documents, so that a subscriber can resume where it left off; a
// subscriber that asks for items older than that, or that reads more
// slowly than the topic is published to, gets a discontinuity and then the
// oldest item still retained. Publishing never waits for subscribers.
//
// The interface maps onto Redis Streams: Publish is XADD with a bounded
// MAXLEN to the topic's stream, with the entry id "<page>-<sequence>" so
// that the stream's ids are the topic's positions (a page is the time in
// milliseconds at which the topic started, which keeps new pages greater
// than old ones); Subscribe then reads with XRANGE from the resume id and
// XREAD BLOCK after the last id, and reports a discontinuity when the first
// id it gets is past the one it asked for. Deleting or flushing a cache
// deletes its streams and tells the subscriptions through a channel of the
// cache.
type TopicStore interface {
	// Publish appends msg to topic in cache and returns its position: the
	// next sequence number of the topic's current page. The cache must
	// exist. msg.Data is kept, not copied.
	Publish(ctx context.Context, cache, topic string, msg TopicMessage) (TopicPosition, error)

	// Subscribe starts a subscription to topic in cache. With from.Sequence
	// 0 it yields the items published from now on. Otherwise it resumes at
	// from.Sequence: it yields the retained items from there, or first a
	// discontinuity when some are no longer retained, when from.Page is not
	// the topic's current page (from.Page 0 stands for the current page),
	// or when from.Sequence is past the topic's next one. The cache must
	// exist. The caller must Close the subscription.
	Subscribe(ctx context.Context, cache, topic string, from TopicPosition) (TopicSubscription, error)
}

// TopicSubscription is one subscriber's cursor on a topic. It is for one
// goroutine at a time.
type TopicSubscription interface {
	// Next returns the next event, waiting for one until ctx is done (it
	// then returns ctx.Err()). Items come in sequence order, without gaps
	// but those a discontinuity announces. The subscription ends with an
	// error wrapping ErrCacheNotFound when its cache is deleted,
	// ErrTopicReset when the cache is flushed and ErrClosed when the store
	// is closed; Next keeps returning that error.
	Next(ctx context.Context) (TopicEvent, error)
	// Close releases the subscription; later calls of Next fail with an
	// error wrapping ErrClosed. Closing twice is harmless.
	Close() error
}
