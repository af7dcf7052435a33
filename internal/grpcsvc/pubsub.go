package grpcsvc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/thaw-dev/thaw/api/commonpb"
	"github.com/thaw-dev/thaw/api/pubsubpb"
	"github.com/thaw-dev/thaw/internal/store"
)

// DefaultHeartbeatInterval is how long a subscription stream may be idle
// before the service sends a heartbeat: one second, the cadence the SDKs'
// own tests expect of a topic subscription ("Expecting 1 second between
// heartbeats usually", client-sdk-dotnet
// tests/Integration/Momento.Sdk.Tests/Retry/TopicClientRetryTest.cs; the
// Node and Go SDK tests count several heartbeats within a few seconds).
const DefaultHeartbeatInterval = time.Second

// MinHeartbeatInterval is the shortest heartbeat interval accepted.
const MinHeartbeatInterval = time.Millisecond

// errShuttingDown ends the subscriptions of a server that is stopping.
var errShuttingDown = status.Error(codes.Unavailable, "server is shutting down; subscribe again")

// PubsubService implements cache_client.pubsub.Pubsub on a Store: Publish,
// and Subscribe streams that start with a heartbeat, carry items and
// discontinuities, and send a heartbeat whenever they have been idle for the
// heartbeat interval. It enforces the topic limits of store.Limits per
// cache: subscriptions at once, publishes per second and message size.
type PubsubService struct {
	pubsubpb.UnimplementedPubsubServer
	store     store.Store
	limits    store.Limits
	heartbeat time.Duration
	now       func() time.Time

	subscriptions subscriptionCounts
	rates         publishRates

	// stopped is done once Stop is called: subscriptions end and new ones
	// are refused.
	stopped context.Context
	stop    context.CancelFunc
}

// PubsubOption configures a PubsubService.
type PubsubOption func(*PubsubService)

// WithHeartbeatInterval sets how long a subscription may be idle before the
// service sends a heartbeat. Default DefaultHeartbeatInterval (1 s); values
// below MinHeartbeatInterval are raised to it, zero keeps the default.
func WithHeartbeatInterval(d time.Duration) PubsubOption {
	return func(s *PubsubService) {
		if d != 0 {
			s.heartbeat = max(d, MinHeartbeatInterval)
		}
	}
}

// WithPubsubClock replaces time.Now for the publish rate limit (tests).
func WithPubsubClock(now func() time.Time) PubsubOption {
	return func(s *PubsubService) {
		if now != nil {
			s.now = now
		}
	}
}

// NewPubsubService returns the topics service over st, enforcing limits.
func NewPubsubService(st store.Store, limits store.Limits, opts ...PubsubOption) *PubsubService {
	s := &PubsubService{
		store:     st,
		limits:    limits.WithDefaults(),
		heartbeat: DefaultHeartbeatInterval,
		now:       time.Now,
	}
	for _, o := range opts {
		o(s)
	}
	s.stopped, s.stop = context.WithCancel(context.Background())
	return s
}

// HeartbeatInterval returns the idle time after which a subscription gets a
// heartbeat.
func (s *PubsubService) HeartbeatInterval() time.Duration { return s.heartbeat }

// Stop ends every subscription with UNAVAILABLE, so that the SDKs resubscribe
// (elsewhere, or once the server is back), and refuses new ones. A server
// calls it before a graceful stop, which would otherwise wait for streams
// that never end by themselves.
func (s *PubsubService) Stop() { s.stop() }

// names validates the cache and topic names of a request.
func (s *PubsubService) names(cache, topic string) error {
	if err := s.limits.CheckCacheName(cache); err != nil {
		return fmt.Errorf("cache_name: %w", err)
	}
	if err := s.limits.CheckTopicName(topic); err != nil {
		return fmt.Errorf("topic: %w", err)
	}
	return nil
}

// Publish appends a text or binary value to a topic. It answers once the
// topic has the value, whether or not anyone subscribes.
func (s *PubsubService) Publish(ctx context.Context, req *pubsubpb.XPublishRequest) (*commonpb.XEmpty, error) {
	if err := s.publish(ctx, req); err != nil {
		return nil, toStatus(ctx, err)
	}
	return &commonpb.XEmpty{}, nil
}

func (s *PubsubService) publish(ctx context.Context, req *pubsubpb.XPublishRequest) error {
	cache, topic := req.GetCacheName(), req.GetTopic()
	if err := s.names(cache, topic); err != nil {
		return err
	}
	msg, err := topicMessage(req.GetValue())
	if err != nil {
		return err
	}
	if err := s.limits.CheckTopicMessageSize(len(msg.Data)); err != nil {
		return err
	}
	if !s.rates.allow(cache, s.limits.MaxTopicPublishRate, s.now()) {
		return fmt.Errorf("cache %q: more than %d publishes per second: %w", cache, s.limits.MaxTopicPublishRate, store.ErrRateExceeded)
	}
	_, err = s.store.Publish(ctx, cache, topic, msg)
	return err
}

// topicMessage converts a published value. Text must be UTF-8, as the
// protocol's string type demands; thaw's proto2 declaration leaves the check
// to it.
func topicMessage(v *pubsubpb.XTopicValue) (store.TopicMessage, error) {
	switch kind := v.GetKind().(type) {
	case *pubsubpb.XTopicValue_Text:
		if !utf8.ValidString(kind.Text) {
			return store.TopicMessage{}, fmt.Errorf("%w: value.text must be valid UTF-8", errInvalidRequest)
		}
		return store.TopicMessage{Text: true, Data: []byte(kind.Text)}, nil
	case *pubsubpb.XTopicValue_Binary:
		return store.TopicMessage{Data: kind.Binary}, nil
	}
	return store.TopicMessage{}, fmt.Errorf("%w: value must be text or binary", errInvalidRequest)
}

// Subscribe streams a topic: a heartbeat at once (the SDKs wait for a first
// message before they report the subscription), then the items from the
// requested position in order, a discontinuity where it skips some, and a
// heartbeat after every idle heartbeat interval. It ends when the caller
// goes away, with NOT_FOUND when the cache is deleted, ABORTED when it is
// flushed (the topic is reset: resubscribing finds a new sequence page) and
// UNAVAILABLE when the server stops.
func (s *PubsubService) Subscribe(req *pubsubpb.XSubscriptionRequest, stream grpc.ServerStreamingServer[pubsubpb.XSubscriptionItem]) error {
	ctx := stream.Context()
	err := s.subscribe(ctx, req, stream)
	if s.stopped.Err() != nil && ctx.Err() == nil {
		return errShuttingDown
	}
	return toStatus(ctx, err)
}

func (s *PubsubService) subscribe(ctx context.Context, req *pubsubpb.XSubscriptionRequest, stream grpc.ServerStreamingServer[pubsubpb.XSubscriptionItem]) error {
	cache, topic := req.GetCacheName(), req.GetTopic()
	if err := s.names(cache, topic); err != nil {
		return err
	}
	if s.stopped.Err() != nil {
		return errShuttingDown
	}
	release, ok := s.subscriptions.acquire(cache, s.limits.MaxTopicSubscriptions)
	if !ok {
		return fmt.Errorf("cache %q has %d subscribers: %w", cache, s.limits.MaxTopicSubscriptions, store.ErrTooManySubscriptions)
	}
	defer release()

	// The subscription's context ends with the call or with Stop.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.stopped, cancel)()

	from := store.TopicPosition{Sequence: req.GetResumeAtTopicSequenceNumber(), Page: req.GetSequencePage()}
	sub, err := s.store.Subscribe(ctx, cache, topic, from)
	if err != nil {
		return err
	}
	defer sub.Close()
	if err := stream.Send(heartbeatItem()); err != nil {
		return err
	}
	for {
		idle, cancelIdle := context.WithTimeout(ctx, s.heartbeat)
		ev, err := sub.Next(idle)
		cancelIdle()
		var item *pubsubpb.XSubscriptionItem
		switch {
		case err == nil:
			item = subscriptionItem(ev)
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			item = heartbeatItem()
		default:
			return err
		}
		if err := stream.Send(item); err != nil {
			return err
		}
	}
}

func heartbeatItem() *pubsubpb.XSubscriptionItem {
	return &pubsubpb.XSubscriptionItem{Kind: &pubsubpb.XSubscriptionItem_Heartbeat{Heartbeat: &pubsubpb.XHeartbeat{}}}
}

// subscriptionItem converts a store event to its stream message.
func subscriptionItem(ev store.TopicEvent) *pubsubpb.XSubscriptionItem {
	if d := ev.Discontinuity; d != nil {
		return &pubsubpb.XSubscriptionItem{Kind: &pubsubpb.XSubscriptionItem_Discontinuity{Discontinuity: &pubsubpb.XDiscontinuity{
			LastTopicSequence: proto.Uint64(d.LastSequence),
			NewTopicSequence:  proto.Uint64(d.NewSequence),
			NewSequencePage:   proto.Uint64(d.NewPage),
		}}}
	}
	msg := ev.Item.Message
	value := &pubsubpb.XTopicValue{Kind: &pubsubpb.XTopicValue_Binary{Binary: msg.Data}}
	if msg.Text {
		value.Kind = &pubsubpb.XTopicValue_Text{Text: string(msg.Data)}
	}
	item := &pubsubpb.XTopicItem{
		TopicSequenceNumber: proto.Uint64(ev.Item.Position.Sequence),
		Value:               value,
		SequencePage:        proto.Uint64(ev.Item.Position.Page),
	}
	if msg.PublisherID != "" {
		item.PublisherId = proto.String(msg.PublisherID)
	}
	return &pubsubpb.XSubscriptionItem{Kind: &pubsubpb.XSubscriptionItem_Item{Item: item}}
}

// subscriptionCounts counts the open subscriptions of each cache.
type subscriptionCounts struct {
	mu      sync.Mutex     // guards byCache
	byCache map[string]int // caches with at least one subscription
}

// acquire counts one more subscription of cache unless it has limit already;
// release uncounts it.
func (c *subscriptionCounts) acquire(cache string, limit int) (release func(), ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byCache[cache] >= limit {
		return nil, false
	}
	if c.byCache == nil {
		c.byCache = map[string]int{}
	}
	c.byCache[cache]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.byCache[cache]--; c.byCache[cache] <= 0 {
				delete(c.byCache, cache)
			}
		})
	}, true
}

// maxIdleBuckets is how many publish-rate buckets are kept before the full
// ones, which mean no more than no bucket at all, are dropped.
const maxIdleBuckets = 1024

// publishRates is a token bucket per cache: rate tokens a second, at most
// rate in store, one per publish. Each bucket has its own lock, so
// publishers of different caches do not wait for each other.
type publishRates struct {
	buckets sync.Map // cache name → *rateBucket
	size    atomic.Int64
}

type rateBucket struct {
	mu     sync.Mutex // guards tokens and last
	tokens float64
	last   time.Time
}

// allow takes a token from cache's bucket and reports whether there was one.
func (r *publishRates) allow(cache string, rate int, now time.Time) bool {
	v, ok := r.buckets.Load(cache)
	if !ok {
		if r.size.Load() >= maxIdleBuckets {
			r.dropFull(rate, now)
		}
		var loaded bool
		v, loaded = r.buckets.LoadOrStore(cache, &rateBucket{tokens: float64(rate), last: now})
		if !loaded {
			r.size.Add(1)
		}
	}
	return v.(*rateBucket).take(float64(rate), now)
}

// take refills the bucket for the time since it was last used and takes one
// token if it has one.
func (b *rateBucket) take(rate float64, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(rate, b.tokens+elapsed.Seconds()*rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// dropFull forgets the buckets that have refilled completely.
func (r *publishRates) dropFull(rate int, now time.Time) {
	r.buckets.Range(func(key, v any) bool {
		b := v.(*rateBucket)
		b.mu.Lock()
		full := b.tokens+now.Sub(b.last).Seconds()*float64(rate) >= float64(rate)
		b.mu.Unlock()
		if full && r.buckets.CompareAndDelete(key, v) {
			r.size.Add(-1)
		}
		return true
	})
}
