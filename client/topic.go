package client

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/thaw-dev/thaw/api/commonpb"
	"github.com/thaw-dev/thaw/api/pubsubpb"
)

// Topics: Publish, PublishText and Subscribe on the protocol's
// cache_client.pubsub.Pubsub service. The subscription itself (its stream,
// resubscription and events) is in topic_subscription.go, its freeze-aware
// watchdog in topic_watchdog.go; the design is in the package documentation.

// Trace events of subscriptions, beside those of trace.go; the package
// documentation describes each.
const (
	EventSubscribe         = "subscribe"
	EventStreamEnded       = "stream ended"
	EventStreamGap         = "stream gap"
	EventStreamSilent      = "stream silent"
	EventSubscriptionEnded = "subscription ended"
)

// Defaults and limits of SubscribeOptions.
const (
	// DefaultTopicHeartbeatTimeout is the default SubscribeOptions.HeartbeatTimeout:
	// three heartbeat intervals of the service (1 s).
	DefaultTopicHeartbeatTimeout = 3 * time.Second
	// MinTopicHeartbeatTimeout is the shortest HeartbeatTimeout Subscribe
	// accepts.
	MinTopicHeartbeatTimeout = 10 * time.Millisecond
	// DefaultResubscribeBackoff is the default SubscribeOptions.ResubscribeBackoff.
	DefaultResubscribeBackoff = 100 * time.Millisecond
	// DefaultMaxResubscribeBackoff is the default SubscribeOptions.MaxResubscribeBackoff.
	DefaultMaxResubscribeBackoff = 5 * time.Second
)

// TopicPosition is a place in a topic: an item's sequence number within its
// sequence page. Sequence numbers count a page's items from 1; a topic that
// is reset (its cache flushed) starts a new, greater page and counts from 1
// again.
type TopicPosition struct {
	// Sequence is the item's sequence number within Page.
	Sequence uint64
	// Page is the topic's sequence page; 0 means "the current one".
	Page uint64
}

// TopicItem is one published value, as a subscriber receives it.
type TopicItem struct {
	// Value is the published value; never nil.
	Value []byte
	// Text is true when the value was published as text (PublishText, or a
	// string in the Momento SDKs) rather than as bytes.
	Text bool
	// Position is the item's place in the topic.
	Position TopicPosition
	// PublisherID names the publisher when the publisher's key says who it
	// is; empty otherwise.
	PublisherID string
}

// TopicDiscontinuity tells a subscriber that it missed items the server no
// longer retains (it fell behind, or resumed after too long a break): it
// last had LastSequence, and the items that follow come after NewSequence of
// NewPage. A NewPage other than the page of the subscriber's last item means
// the topic was reset.
type TopicDiscontinuity struct {
	LastSequence uint64
	NewSequence  uint64
	NewPage      uint64
}

// TopicEventKind says what a TopicEvent carries.
type TopicEventKind uint8

// The kinds of TopicEvent.
const (
	// TopicEventItem: Event.Item is the next item.
	TopicEventItem TopicEventKind = iota + 1
	// TopicEventDiscontinuity: items were lost; Event.Discontinuity says
	// which.
	TopicEventDiscontinuity
)

// String returns "item" or "discontinuity".
func (k TopicEventKind) String() string {
	switch k {
	case TopicEventItem:
		return "item"
	case TopicEventDiscontinuity:
		return "discontinuity"
	}
	return fmt.Sprintf("TopicEventKind(%d)", uint8(k))
}

// TopicEvent is what Subscription.Next returns: an item, or a discontinuity
// where items were lost. Heartbeats are not events; Subscription.Stats
// counts them.
type TopicEvent struct {
	Kind TopicEventKind
	// Item is set when Kind is TopicEventItem.
	Item TopicItem
	// Discontinuity is set when Kind is TopicEventDiscontinuity.
	Discontinuity TopicDiscontinuity
}

// SubscribeOptions says where a subscription starts and how it watches its
// stream. The zero value starts at the next item published, with every
// timing at its default.
//
// The subscription also uses three settings of the client's Config: Timeout
// bounds Subscribe's wait for the stream's first message (the service sends
// a heartbeat at once); RecoveryIdleThreshold is the gap after which a read
// checks the connection, and ProbeTimeout that check's deadline (see the
// package documentation). Each falls back to its default when zero, whether
// or not Config.Recovery is on.
type SubscribeOptions struct {
	// ResumeAt is the first item wanted: the stream starts at
	// ResumeAt.Sequence of ResumeAt.Page (0: the topic's current page), with
	// the retained items from there, or a discontinuity first when some are
	// no longer retained or the page is not the topic's current one. The
	// zero value starts at the next item published. A subscriber that
	// persisted Subscription.Position resumes with it.
	ResumeAt TopicPosition

	// HeartbeatTimeout is how long the stream may stay silent while the
	// process runs before the subscription gives it up and resubscribes.
	// The service sends a heartbeat whenever a subscription has been idle
	// for its heartbeat interval (1 s on thaw serve, and what the Momento
	// SDKs' tests expect of the service), so silence means the stream or its
	// connection is dead. Zero means DefaultTopicHeartbeatTimeout (3 s); a
	// negative value turns the watchdog off (a dead stream is then noticed
	// only when gRPC itself fails it, or by a read after a gap). Values below
	// MinTopicHeartbeatTimeout (10 ms) are refused.
	//
	// Only time the process spends running counts: the watchdog ticks every
	// HeartbeatTimeout/4 and counts at most one tick for an interval in
	// which it was frozen, so a freeze (a Lambda environment between
	// invocations) never makes a healthy stream look dead, whatever its
	// length. It must be comfortably longer than the server's heartbeat
	// interval: at least 2x, better 3x (the default), because up to
	// HeartbeatTimeout*3/8 of a freeze may be counted. A silent stream is
	// given up about HeartbeatTimeout after its last message, plus up to
	// ProbeTimeout for a Ping that decides whether the connection is
	// replaced too (no answer) or only the stream (an answer).
	HeartbeatTimeout time.Duration

	// ResubscribeBackoff is the wait before the second of consecutive
	// attempts to resubscribe, each of which failed before its stream
	// carried a message; it doubles with each further failure up to
	// MaxResubscribeBackoff. The first attempt after a stream that worked is
	// immediate. Zero means DefaultResubscribeBackoff (100 ms); must not be
	// negative.
	ResubscribeBackoff time.Duration

	// MaxResubscribeBackoff caps the wait between attempts to resubscribe.
	// Zero means DefaultMaxResubscribeBackoff (5 s); must not be below
	// ResubscribeBackoff.
	MaxResubscribeBackoff time.Duration
}

// withDefaults fills in the zero fields of o and checks the others.
func (o SubscribeOptions) withDefaults() (SubscribeOptions, error) {
	switch {
	case o.HeartbeatTimeout == 0:
		o.HeartbeatTimeout = DefaultTopicHeartbeatTimeout
	case o.HeartbeatTimeout > 0 && o.HeartbeatTimeout < MinTopicHeartbeatTimeout:
		return o, invalidArgument("Subscribe", "HeartbeatTimeout %v is below the minimum of %v", o.HeartbeatTimeout, MinTopicHeartbeatTimeout)
	}
	if o.ResubscribeBackoff < 0 || o.MaxResubscribeBackoff < 0 {
		return o, invalidArgument("Subscribe", "ResubscribeBackoff %v and MaxResubscribeBackoff %v must not be negative", o.ResubscribeBackoff, o.MaxResubscribeBackoff)
	}
	if o.ResubscribeBackoff == 0 {
		o.ResubscribeBackoff = DefaultResubscribeBackoff
	}
	if o.MaxResubscribeBackoff == 0 {
		o.MaxResubscribeBackoff = max(DefaultMaxResubscribeBackoff, o.ResubscribeBackoff)
	}
	if o.MaxResubscribeBackoff < o.ResubscribeBackoff {
		return o, invalidArgument("Subscribe", "MaxResubscribeBackoff %v is below ResubscribeBackoff %v", o.MaxResubscribeBackoff, o.ResubscribeBackoff)
	}
	return o, nil
}

// Publish sends value, as bytes, to topic in cache. It returns once the
// server has the item, not when subscribers get it. A value over the
// service's size limit (100 KiB on thaw serve) or publishing faster than the
// cache's rate limit fails with ErrLimitExceeded. It is not retried (a
// repeat would deliver the value twice) and, after a gap, is preceded by a
// Ping like the other calls that are not.
func (c *Client) Publish(ctx context.Context, cache, topic string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	return c.publish(ctx, rpcPublish, cache, topic, &pubsubpb.XTopicValue{Kind: &pubsubpb.XTopicValue_Binary{Binary: value}})
}

// PublishText sends text to topic in cache as the protocol's text kind,
// which subscribers see with TopicItem.Text set. Otherwise it is Publish.
func (c *Client) PublishText(ctx context.Context, cache, topic string, text string) error {
	return c.publish(ctx, rpcPublishText, cache, topic, &pubsubpb.XTopicValue{Kind: &pubsubpb.XTopicValue_Text{Text: text}})
}

func (c *Client) publish(ctx context.Context, m rpc, cache, topic string, value *pubsubpb.XTopicValue) error {
	if err := checkTopicNames(methods[m].name, cache, topic); err != nil {
		return err
	}
	req := &pubsubpb.XPublishRequest{CacheName: proto.String(cache), Topic: proto.String(topic), Value: value}
	_, err := invoke(ctx, c, m, "", func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*commonpb.XEmpty, error) {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", c.creds.token)
		return pubsubpb.NewPubsubClient(ch.conn).Publish(ctx, req, opts...)
	})
	return err
}

// checkTopicNames refuses a blank cache or topic name, as the Momento SDKs
// do before sending anything.
func checkTopicNames(op, cache, topic string) error {
	if cache == "" {
		return invalidArgument(op, "cache name is empty")
	}
	if topic == "" {
		return invalidArgument(op, "topic name is empty")
	}
	return nil
}
