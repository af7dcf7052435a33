package server_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/thaw-dev/thaw/api/controlpb"
	"github.com/thaw-dev/thaw/api/pubsubpb"
	"github.com/thaw-dev/thaw/internal/store"
	"github.com/thaw-dev/thaw/internal/testadmin"
	"github.com/thaw-dev/thaw/server"
)

func publishText(cache, topic, text string) *pubsubpb.XPublishRequest {
	return &pubsubpb.XPublishRequest{CacheName: proto.String(cache), Topic: proto.String(topic),
		Value: &pubsubpb.XTopicValue{Kind: &pubsubpb.XTopicValue_Text{Text: text}}}
}

func subscribeTo(cache, topic string, resumeAt, page uint64) *pubsubpb.XSubscriptionRequest {
	return &pubsubpb.XSubscriptionRequest{CacheName: proto.String(cache), Topic: proto.String(topic),
		ResumeAtTopicSequenceNumber: proto.Uint64(resumeAt), SequencePage: proto.Uint64(page)}
}

// recvKind receives one message and names its kind, with an item's text.
func recvKind(t *testing.T, s grpc.ServerStreamingClient[pubsubpb.XSubscriptionItem]) string {
	t.Helper()
	m, err := s.Recv()
	if err != nil {
		t.Fatalf("Recv() = %v, want a message", err)
	}
	switch {
	case m.GetHeartbeat() != nil:
		return "heartbeat"
	case m.GetDiscontinuity() != nil:
		d := m.GetDiscontinuity()
		return fmt.Sprintf("discontinuity %d→%d", d.GetLastTopicSequence(), d.GetNewTopicSequence())
	}
	return fmt.Sprintf("item %d %s", m.GetItem().GetTopicSequenceNumber(), m.GetItem().GetValue().GetText())
}

// TestTopicsOverTheWire runs the topics service of a whole server: the
// configured heartbeat interval, retention and limits, over the
// generated client.
func TestTopicsOverTheWire(t *testing.T) {
	srv := startServer(t, server.Config{
		CreateCaches:           []string{"c"},
		TopicHeartbeatInterval: 20 * time.Millisecond,
		TopicRetention:         4,
		Limits:                 store.Limits{MaxTopicSubscriptions: 7, MaxTopicPublishRate: 1000, MaxTopicMessageSize: 50 << 10},
	})
	c := dial(t, srv.Addr())
	pubsub := pubsubpb.NewPubsubClient(c.conn)
	ctx := inCache(t, "c")

	live, err := pubsub.Subscribe(ctx, subscribeTo("c", "t", 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	// The first heartbeat, then more while idle.
	for i := range 3 {
		if got := recvKind(t, live); got != "heartbeat" {
			t.Fatalf("message %d of an idle subscription = %s, want heartbeat", i, got)
		}
	}
	// Items one at a time: with a retention of 4, a subscriber that
	// fell behind a burst would rightly get a discontinuity.
	for i := 1; i <= 3; i++ {
		if _, err := pubsub.Publish(ctx, publishText("c", "t", fmt.Sprint("m", i))); err != nil {
			t.Fatalf("Publish(m%d) = %v", i, err)
		}
		got := recvKind(t, live)
		for got == "heartbeat" {
			got = recvKind(t, live)
		}
		if want := fmt.Sprintf("item %d m%d", i, i); got != want {
			t.Fatalf("live subscription got %s, want %s", got, want)
		}
	}

	// Four items are retained: resuming at 1 of ten skips six.
	for i := 1; i <= 10; i++ {
		if _, err := pubsub.Publish(ctx, publishText("c", "r", fmt.Sprint("m", i))); err != nil {
			t.Fatalf("Publish(m%d) = %v", i, err)
		}
	}
	resumed, err := pubsub.Subscribe(ctx, subscribeTo("c", "r", 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"heartbeat", "discontinuity 0→6", "item 7 m7"} {
		if got := recvKind(t, resumed); got != want {
			t.Errorf("resumed subscription got %s, want %s", got, want)
		}
	}

	// A message above the configured size is refused.
	big := &pubsubpb.XPublishRequest{CacheName: proto.String("c"), Topic: proto.String("t"),
		Value: &pubsubpb.XTopicValue{Kind: &pubsubpb.XTopicValue_Binary{Binary: make([]byte, 50<<10+1)}}}
	if _, err := pubsub.Publish(ctx, big); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("Publish(50 KiB + 1) = %v, want RESOURCE_EXHAUSTED", err)
	}

	// ListCaches reports the limits the server enforces.
	resp, err := c.control.ListCaches(ctx, &controlpb.XListCachesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := &controlpb.XTopicLimits{MaxPublishRate: proto.Uint32(1000), MaxSubscriptionCount: proto.Uint32(7), MaxPublishMessageSizeKb: proto.Uint32(50)}
	if got := resp.GetCache()[0].GetTopicLimits(); !proto.Equal(got, want) {
		t.Errorf("ListCaches topic limits = %v, want %v", got, want)
	}
}

// TestShutdownEndsSubscriptions: a graceful shutdown does not wait for topic
// subscriptions, which never end by themselves; they end with UNAVAILABLE,
// which the SDKs answer by subscribing again.
func TestShutdownEndsSubscriptions(t *testing.T) {
	srv := startServer(t, server.Config{CreateCaches: []string{"c"}})
	pubsub := pubsubpb.NewPubsubClient(dial(t, srv.Addr()).conn)
	sub, err := pubsub.Subscribe(inCache(t, "c"), subscribeTo("c", "t", 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if got := recvKind(t, sub); got != "heartbeat" {
		t.Fatalf("first message = %s, want heartbeat", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown() = %v", err)
	}
	if ctx.Err() != nil {
		t.Errorf("Shutdown() waited for its whole deadline: the subscription held it")
	}
	if m, err := sub.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("subscription after Shutdown = %v, %v; want UNAVAILABLE", m, err)
	}
}

// TestTopicFaultInjection: momento-local's injection metadata names the
// topic RPCs topic-publish and topic-subscribe, as the SDKs' tests do.
func TestTopicFaultInjection(t *testing.T) {
	srv := startServer(t, server.Config{CreateCaches: []string{"c"}, EnableTestAdmin: true, TopicHeartbeatInterval: 10 * time.Millisecond})
	pubsub := pubsubpb.NewPubsubClient(dial(t, srv.Addr()).conn)

	ctx := inCache(t, "c", testadmin.KeyRequestID, "publish", testadmin.KeyErrorRPCs, "topic-publish",
		testadmin.KeyReturnError, "unavailable", testadmin.KeyErrorCount, "1")
	if _, err := pubsub.Publish(ctx, publishText("c", "t", "x")); status.Code(err) != codes.Unavailable {
		t.Errorf("first Publish with an injected error = %v, want UNAVAILABLE", err)
	}
	if _, err := pubsub.Publish(ctx, publishText("c", "t", "x")); err != nil {
		t.Errorf("second Publish with error-count 1 = %v, want nil", err)
	}

	// A stream cut after three messages: the first heartbeat and two more.
	ctx = inCache(t, "c", testadmin.KeyRequestID, "subscribe", testadmin.KeyStreamErrorRPCs, "topic-subscribe",
		testadmin.KeyStreamError, "unavailable", testadmin.KeyStreamErrorMessageLimit, "3")
	sub, err := pubsub.Subscribe(ctx, subscribeTo("c", "t", 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	received := 0
	for {
		if _, err = sub.Recv(); err != nil {
			break
		}
		received++
	}
	if status.Code(err) != codes.Unavailable || received != 3 {
		t.Errorf("subscription with stream-error-message-limit 3 = %d messages then %v, want 3 then UNAVAILABLE", received, err)
	}
}

// TestTopicCallsAreScopedByTheBody: topic calls name their cache in the
// body, and auth reads it there; the "cache" header, which a topic call
// need not send, neither grants nor denies anything.
func TestTopicCallsAreScopedByTheBody(t *testing.T) {
	s := startSecuredServer(t)
	pubsub := pubsubpb.NewPubsubClient(s.conn)
	withKey := func(key, header string) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		t.Cleanup(cancel)
		return metadata.AppendToOutgoingContext(ctx, "authorization", s.keys[key], "cache", header)
	}
	tests := []struct {
		name          string
		key           string
		header, body  string
		wantPublish   codes.Code
		wantSubscribe codes.Code
	}{
		{"scoped key, its cache in the header only", keyOtherCache, otherCache, securedCache, codes.PermissionDenied, codes.PermissionDenied},
		{"scoped key, its cache in the body", keyOtherCache, securedCache, otherCache, codes.OK, codes.OK},
		{"read-only key", keyReadOnly, securedCache, securedCache, codes.PermissionDenied, codes.OK},
		{"read-write key", keyReadWrite, "", securedCache, codes.OK, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.state(t)
			_, err := pubsub.Publish(withKey(tt.key, tt.header), publishText(tt.body, seedTopic, "v"))
			if status.Code(err) != tt.wantPublish {
				t.Errorf("Publish = %v, want %v", err, tt.wantPublish)
			}
			if tt.wantPublish != codes.OK {
				if diff := stateDiff(before, s.state(t)); diff != "" {
					t.Errorf("a refused Publish changed the store: %s", diff)
				}
			}
			sub, err := pubsub.Subscribe(withKey(tt.key, tt.header), subscribeTo(tt.body, seedTopic, 0, 0))
			if err == nil {
				_, err = sub.Recv()
			}
			if status.Code(err) != tt.wantSubscribe {
				t.Errorf("Subscribe = %v, want %v", err, tt.wantSubscribe)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Subscribe timed out")
			}
		})
	}
}
