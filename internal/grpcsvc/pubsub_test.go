package grpcsvc_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/thaw-dev/thaw/api/controlpb"
	"github.com/thaw-dev/thaw/api/pubsubpb"
	"github.com/thaw-dev/thaw/internal/auth"
	"github.com/thaw-dev/thaw/internal/grpcsvc"
	"github.com/thaw-dev/thaw/internal/store"
	"github.com/thaw-dev/thaw/internal/store/memory"
)

// pubsubEnv is a real gRPC server on loopback with the topics and control
// services over a memory store holding cache "c", and a client of both.
type pubsubEnv struct {
	store   *memory.Store
	svc     *grpcsvc.PubsubService
	pubsub  pubsubpb.PubsubClient
	control controlpb.ScsControlClient
}

// pubsubSetup configures startPubsub.
type pubsubSetup struct {
	limits store.Limits
	memory memory.Config
	opts   []grpcsvc.PubsubOption
	// server options, such as interceptors
	serverOpts []grpc.ServerOption
}

func startPubsub(t *testing.T, setup pubsubSetup) *pubsubEnv {
	t.Helper()
	st := memory.New(setup.memory)
	t.Cleanup(func() { st.Close() })
	if err := st.CreateCache(t.Context(), "c"); err != nil {
		t.Fatal(err)
	}
	svc := grpcsvc.NewPubsubService(st, setup.limits, setup.opts...)
	srv := grpc.NewServer(setup.serverOpts...)
	pubsubpb.RegisterPubsubServer(srv, svc)
	controlpb.RegisterScsControlServer(srv, grpcsvc.NewControlService(st, setup.limits))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &pubsubEnv{store: st, svc: svc, pubsub: pubsubpb.NewPubsubClient(conn), control: controlpb.NewScsControlClient(conn)}
}

func textValue(s string) *pubsubpb.XTopicValue {
	return &pubsubpb.XTopicValue{Kind: &pubsubpb.XTopicValue_Text{Text: s}}
}

func binaryValue(b []byte) *pubsubpb.XTopicValue {
	return &pubsubpb.XTopicValue{Kind: &pubsubpb.XTopicValue_Binary{Binary: b}}
}

func publishReq(cache, topic string, v *pubsubpb.XTopicValue) *pubsubpb.XPublishRequest {
	return &pubsubpb.XPublishRequest{CacheName: proto.String(cache), Topic: proto.String(topic), Value: v}
}

func (e *pubsubEnv) mustPublish(t *testing.T, topic string, v *pubsubpb.XTopicValue) {
	t.Helper()
	if _, err := e.pubsub.Publish(callCtx(t), publishReq("c", topic, v)); err != nil {
		t.Fatalf("Publish(c, %s) = %v, want nil", topic, err)
	}
}

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// subscription is a client's subscription stream, cancelled when the test
// ends.
type subscription struct {
	stream grpc.ServerStreamingClient[pubsubpb.XSubscriptionItem]
	cancel context.CancelFunc
}

// subscribe opens a subscription; errors come with the first Recv.
func (e *pubsubEnv) subscribe(t *testing.T, req *pubsubpb.XSubscriptionRequest) *subscription {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	stream, err := e.pubsub.Subscribe(ctx, req)
	if err != nil {
		t.Fatalf("Subscribe(%v) = %v", req, err)
	}
	return &subscription{stream: stream, cancel: cancel}
}

func subscribeReq(cache, topic string, resumeAt, page uint64) *pubsubpb.XSubscriptionRequest {
	return &pubsubpb.XSubscriptionRequest{CacheName: proto.String(cache), Topic: proto.String(topic),
		ResumeAtTopicSequenceNumber: proto.Uint64(resumeAt), SequencePage: proto.Uint64(page)}
}

// recv returns the next message, failing t on an error.
func (s *subscription) recv(t *testing.T) *pubsubpb.XSubscriptionItem {
	t.Helper()
	item, err := s.stream.Recv()
	if err != nil {
		t.Fatalf("Recv() = %v, want a message", err)
	}
	return item
}

// recvSkippingHeartbeats returns the next item or discontinuity.
func (s *subscription) recvSkippingHeartbeats(t *testing.T) *pubsubpb.XSubscriptionItem {
	t.Helper()
	for {
		if item := s.recv(t); item.GetHeartbeat() == nil {
			return item
		}
	}
}

// started receives the heartbeat every subscription starts with.
func (s *subscription) started(t *testing.T) *subscription {
	t.Helper()
	if first := s.recv(t); first.GetHeartbeat() == nil {
		t.Fatalf("first message = %v, want a heartbeat", first)
	}
	return s
}

func describeItem(m *pubsubpb.XSubscriptionItem) string {
	switch {
	case m.GetItem() != nil:
		it := m.GetItem()
		if v, ok := it.GetValue().GetKind().(*pubsubpb.XTopicValue_Text); ok {
			return fmt.Sprintf("item %d/%d text %q", it.GetSequencePage(), it.GetTopicSequenceNumber(), v.Text)
		}
		return fmt.Sprintf("item %d/%d binary %x", it.GetSequencePage(), it.GetTopicSequenceNumber(), it.GetValue().GetBinary())
	case m.GetDiscontinuity() != nil:
		d := m.GetDiscontinuity()
		return fmt.Sprintf("discontinuity %d→%d page %d", d.GetLastTopicSequence(), d.GetNewTopicSequence(), d.GetNewSequencePage())
	case m.GetHeartbeat() != nil:
		return "heartbeat"
	}
	return fmt.Sprintf("%v", m)
}

// textOf returns an item's text, or "" for anything else.
func textOf(m *pubsubpb.XSubscriptionItem) string {
	v, _ := m.GetItem().GetValue().GetKind().(*pubsubpb.XTopicValue_Text)
	if v == nil {
		return ""
	}
	return v.Text
}

func TestPublishAndSubscribe(t *testing.T) {
	// A long heartbeat interval: no heartbeat but the first comes between items.
	env := startPubsub(t, pubsubSetup{opts: []grpcsvc.PubsubOption{grpcsvc.WithHeartbeatInterval(time.Hour)}})
	env.mustPublish(t, "t", textValue("before the subscription"))
	sub := env.subscribe(t, subscribeReq("c", "t", 0, 0)).started(t)

	binary := bytes.Repeat([]byte{0, 1, 0xfe, 0xff}, 64)
	values := []*pubsubpb.XTopicValue{textValue("one"), binaryValue(binary), textValue("trois ✓"), binaryValue([]byte{})}
	for _, v := range values {
		env.mustPublish(t, "t", v)
	}
	var page uint64
	for i, v := range values {
		got := sub.recv(t)
		item := got.GetItem()
		if item == nil || item.GetTopicSequenceNumber() != uint64(i+2) || !proto.Equal(item.GetValue(), v) {
			t.Fatalf("message %d = %s, want item %d with %v", i, describeItem(got), i+2, v)
		}
		if page == 0 {
			page = item.GetSequencePage()
		}
		if item.GetSequencePage() != page || page == 0 {
			t.Errorf("item %d is on page %d, want one non-zero page (%d)", i+2, item.GetSequencePage(), page)
		}
	}
}

func TestSubscribeResumes(t *testing.T) {
	env := startPubsub(t, pubsubSetup{memory: memory.Config{TopicRetention: 4}})
	for i := 1; i <= 3; i++ {
		env.mustPublish(t, "t", textValue(fmt.Sprint("m", i)))
	}
	first := env.subscribe(t, subscribeReq("c", "t", 1, 0)).started(t)
	page := first.recv(t).GetItem().GetSequencePage()

	for i := 4; i <= 10; i++ {
		env.mustPublish(t, "t", textValue(fmt.Sprint("m", i)))
	}
	tests := []struct {
		name     string
		resumeAt uint64
		page     uint64
		want     []string // described messages after the first heartbeat
	}{
		{"retained", 8, page, []string{"item %[1]d/8 text \"m8\"", "item %[1]d/9 text \"m9\"", "item %[1]d/10 text \"m10\""}},
		{"past the retention", 2, page, []string{"discontinuity 1→6 page %[1]d", "item %[1]d/7 text \"m7\""}},
		{"another page", 3, page - 1, []string{"discontinuity 2→6 page %[1]d", "item %[1]d/7 text \"m7\""}},
		{"past the end", 20, page, []string{"discontinuity 19→10 page %[1]d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := env.subscribe(t, subscribeReq("c", "t", tt.resumeAt, tt.page)).started(t)
			for _, w := range tt.want {
				want := fmt.Sprintf(w, page)
				if got := describeItem(sub.recvSkippingHeartbeats(t)); got != want {
					t.Errorf("resuming at %d of page %d: got %s, want %s", tt.resumeAt, tt.page, got, want)
				}
			}
		})
	}
}

func TestHeartbeatsOnIdleStreams(t *testing.T) {
	env := startPubsub(t, pubsubSetup{opts: []grpcsvc.PubsubOption{grpcsvc.WithHeartbeatInterval(10 * time.Millisecond)}})
	sub := env.subscribe(t, subscribeReq("c", "t", 0, 0)).started(t)
	for i := range 3 {
		if got := sub.recv(t); got.GetHeartbeat() == nil {
			t.Fatalf("message %d on an idle stream = %s, want a heartbeat", i+2, describeItem(got))
		}
	}
	env.mustPublish(t, "t", textValue("x"))
	if got := sub.recvSkippingHeartbeats(t); textOf(got) != "x" {
		t.Fatalf("after publishing = %s, want the item", describeItem(got))
	}
	// Idle again: heartbeats again.
	if got := sub.recv(t); got.GetHeartbeat() == nil {
		t.Errorf("after the item = %s, want a heartbeat", describeItem(got))
	}
}

// fakeClock is the clock of the publish rate limit.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// checkLimit fails t unless err is RESOURCE_EXHAUSTED with the "err" trailer
// cause and words in its message that the SDKs read.
func checkLimit(t *testing.T, call string, err error, trailer metadata.MD, cause, words string) {
	t.Helper()
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("%s = %v, want RESOURCE_EXHAUSTED", call, err)
	}
	if got := trailer.Get("err"); len(got) != 1 || got[0] != cause {
		t.Errorf("%s trailer err = %q, want %q", call, got, cause)
	}
	if !strings.Contains(status.Convert(err).Message(), words) {
		t.Errorf("%s message %q lacks %q", call, status.Convert(err).Message(), words)
	}
}

func TestTopicLimits(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	env := startPubsub(t, pubsubSetup{
		limits: store.Limits{MaxTopicSubscriptions: 2, MaxTopicPublishRate: 3, MaxTopicMessageSize: 10},
		opts:   []grpcsvc.PubsubOption{grpcsvc.WithPubsubClock(clock.Now)},
	})
	if _, err := env.control.CreateCache(callCtx(t), &controlpb.XCreateCacheRequest{CacheName: proto.String("other")}); err != nil {
		t.Fatal(err)
	}

	t.Run("message size", func(t *testing.T) {
		for _, v := range []*pubsubpb.XTopicValue{textValue("0123456789"), binaryValue(make([]byte, 10)), textValue("ééééé")} {
			if _, err := env.pubsub.Publish(callCtx(t), publishReq("other", "size", v)); err != nil {
				t.Errorf("Publish(10 bytes) = %v, want nil", err)
			}
		}
		clock.Advance(time.Hour)
		for _, v := range []*pubsubpb.XTopicValue{textValue("0123456789a"), binaryValue(make([]byte, 11)), textValue("éééééé")} {
			var trailer metadata.MD
			_, err := env.pubsub.Publish(callCtx(t), publishReq("other", "size", v), grpc.Trailer(&trailer))
			checkLimit(t, "Publish(11 bytes or more)", err, trailer, "item_size_limit_exceeded", "item size")
		}
	})

	t.Run("publish rate", func(t *testing.T) {
		clock.Advance(time.Hour) // a full bucket
		for i := range 3 {
			if _, err := env.pubsub.Publish(callCtx(t), publishReq("c", "rate", textValue("x"))); err != nil {
				t.Fatalf("Publish #%d within the burst = %v, want nil", i+1, err)
			}
		}
		var trailer metadata.MD
		_, err := env.pubsub.Publish(callCtx(t), publishReq("c", "rate", textValue("x")), grpc.Trailer(&trailer))
		checkLimit(t, "Publish #4 within a second", err, trailer, "operations_rate_limit_exceeded", "operations")
		// Another cache has its own rate.
		if _, err := env.pubsub.Publish(callCtx(t), publishReq("other", "rate", textValue("x"))); err != nil {
			t.Errorf("Publish to another cache = %v, want nil", err)
		}
		// A third of a second brings back one publish.
		clock.Advance(time.Second/3 + time.Millisecond)
		if _, err := env.pubsub.Publish(callCtx(t), publishReq("c", "rate", textValue("x"))); err != nil {
			t.Errorf("Publish after a third of a second = %v, want nil", err)
		}
		if _, err := env.pubsub.Publish(callCtx(t), publishReq("c", "rate", textValue("x"))); status.Code(err) != codes.ResourceExhausted {
			t.Errorf("Publish right after = %v, want RESOURCE_EXHAUSTED", err)
		}
	})

	t.Run("subscriptions per cache", func(t *testing.T) {
		a := env.subscribe(t, subscribeReq("c", "t1", 0, 0)).started(t)
		env.subscribe(t, subscribeReq("c", "t2", 0, 0)).started(t)
		third := env.subscribe(t, subscribeReq("c", "t3", 0, 0))
		_, err := third.stream.Recv()
		checkLimit(t, "third Subscribe", err, third.stream.Trailer(), "topic_subscriptions_limit_exceeded", "subscribers")
		// Another cache counts apart.
		env.subscribe(t, subscribeReq("other", "t1", 0, 0)).started(t)
		// Ending one frees its place, once the server has seen it end.
		a.cancel()
		deadline := time.Now().Add(10 * time.Second)
		for {
			s := env.subscribe(t, subscribeReq("c", "t3", 0, 0))
			first, err := s.stream.Recv()
			if err == nil && first.GetHeartbeat() != nil {
				break
			}
			if status.Code(err) != codes.ResourceExhausted || time.Now().After(deadline) {
				t.Fatalf("Subscribe after cancelling one = %v, %v; want a heartbeat", first, err)
			}
			s.cancel()
			time.Sleep(10 * time.Millisecond)
		}
	})

	t.Run("ListCaches reports them", func(t *testing.T) {
		resp, err := env.control.ListCaches(callCtx(t), &controlpb.XListCachesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range resp.GetCache() {
			l := c.GetTopicLimits()
			if l.GetMaxSubscriptionCount() != 2 || l.GetMaxPublishRate() != 3 || l.GetMaxPublishMessageSizeKb() != 0 {
				t.Errorf("ListCaches topic limits of %s = %v, want 2 subscriptions, 3 a second, 0 KiB", c.GetCacheName(), l)
			}
		}
	})
}

func TestPubsubBadRequests(t *testing.T) {
	env := startPubsub(t, pubsubSetup{})
	long := strings.Repeat("n", 256)
	tests := []struct {
		name         string
		cache, topic string
		value        *pubsubpb.XTopicValue // Publish only
		want         codes.Code
	}{
		{"blank cache", " ", "t", textValue("x"), codes.InvalidArgument},
		{"cache not UTF-8", "bad\xff", "t", textValue("x"), codes.InvalidArgument},
		{"long cache", long, "t", textValue("x"), codes.InvalidArgument},
		{"empty topic", "c", "", textValue("x"), codes.InvalidArgument},
		{"blank topic", "c", "  ", textValue("x"), codes.InvalidArgument},
		{"topic not UTF-8", "c", "bad\xff", textValue("x"), codes.InvalidArgument},
		{"long topic", "c", long, textValue("x"), codes.InvalidArgument},
		{"unknown cache", "nope", "t", textValue("x"), codes.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := env.pubsub.Publish(callCtx(t), publishReq(tt.cache, tt.topic, tt.value))
			if status.Code(err) != tt.want {
				t.Errorf("Publish(%q, %q) = %v, want %v", tt.cache, tt.topic, err, tt.want)
			}
			sub := env.subscribe(t, subscribeReq(tt.cache, tt.topic, 0, 0))
			if _, err := sub.stream.Recv(); status.Code(err) != tt.want {
				t.Errorf("Subscribe(%q, %q) = %v, want %v", tt.cache, tt.topic, err, tt.want)
			}
		})
	}
	for _, v := range []*pubsubpb.XTopicValue{nil, {}, textValue("bad\xff")} {
		if _, err := env.pubsub.Publish(callCtx(t), publishReq("c", "t", v)); status.Code(err) != codes.InvalidArgument {
			t.Errorf("Publish(value %v) = %v, want INVALID_ARGUMENT", v, err)
		}
	}
}

func TestCacheDeletionAndFlushEndSubscriptions(t *testing.T) {
	env := startPubsub(t, pubsubSetup{})
	for _, name := range []string{"doomed", "flushed"} {
		if _, err := env.control.CreateCache(callCtx(t), &controlpb.XCreateCacheRequest{CacheName: proto.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	doomed := env.subscribe(t, subscribeReq("doomed", "t", 0, 0)).started(t)
	if _, err := env.pubsub.Publish(callCtx(t), publishReq("flushed", "t", textValue("old"))); err != nil {
		t.Fatal(err)
	}
	flushed := env.subscribe(t, subscribeReq("flushed", "t", 1, 0)).started(t)
	oldPage := flushed.recv(t).GetItem().GetSequencePage()

	if _, err := env.control.DeleteCache(callCtx(t), &controlpb.XDeleteCacheRequest{CacheName: proto.String("doomed")}); err != nil {
		t.Fatal(err)
	}
	if m, err := doomed.stream.Recv(); status.Code(err) != codes.NotFound {
		t.Errorf("subscription after DeleteCache = %v, %v; want NOT_FOUND", m, err)
	}

	if _, err := env.control.FlushCache(callCtx(t), &controlpb.XFlushCacheRequest{CacheName: proto.String("flushed")}); err != nil {
		t.Fatal(err)
	}
	if m, err := flushed.stream.Recv(); status.Code(err) != codes.Aborted {
		t.Errorf("subscription after FlushCache = %v, %v; want ABORTED", m, err)
	}
	// Resubscribing where it left off, as the SDKs do, tells of the reset.
	again := env.subscribe(t, subscribeReq("flushed", "t", 2, oldPage)).started(t)
	if _, err := env.pubsub.Publish(callCtx(t), publishReq("flushed", "t", textValue("new"))); err != nil {
		t.Fatal(err)
	}
	d := again.recvSkippingHeartbeats(t).GetDiscontinuity()
	if d == nil || d.GetLastTopicSequence() != 1 || d.GetNewTopicSequence() != 0 || d.GetNewSequencePage() <= oldPage {
		t.Errorf("resubscribing after FlushCache: %v, want a discontinuity from 1 to 0 on a page after %d", d, oldPage)
	}
	if got := again.recvSkippingHeartbeats(t); textOf(got) != "new" || got.GetItem().GetTopicSequenceNumber() != 1 {
		t.Errorf("then %s, want item 1 \"new\"", describeItem(got))
	}
}

func TestStopEndsSubscriptions(t *testing.T) {
	env := startPubsub(t, pubsubSetup{})
	sub := env.subscribe(t, subscribeReq("c", "t", 0, 0)).started(t)
	env.svc.Stop()
	if m, err := sub.stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("subscription after Stop = %v, %v; want UNAVAILABLE", m, err)
	}
	late := env.subscribe(t, subscribeReq("c", "t", 0, 0))
	if m, err := late.stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("Subscribe after Stop = %v, %v; want UNAVAILABLE", m, err)
	}
}

// TestSubscribeBodyIsAuthorized drives the auth stream interceptor with the
// topics service: Subscribe names its cache in the body, which the
// interceptor reads and checks before the handler, or the interceptors
// after it, see anything.
func TestSubscribeBodyIsAuthorized(t *testing.T) {
	signer, err := auth.NewSigner(bytes.Repeat([]byte("s"), 32))
	if err != nil {
		t.Fatal(err)
	}
	sign := func(c auth.Claims) string {
		tok, err := signer.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	var reached atomic.Int32 // calls that got past auth
	counting := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		reached.Add(1)
		return handler(srv, ss)
	}
	env := startPubsub(t, pubsubSetup{
		opts:       []grpcsvc.PubsubOption{grpcsvc.WithHeartbeatInterval(time.Hour)},
		serverOpts: []grpc.ServerOption{grpc.ChainStreamInterceptor(grpcsvc.AuthStreamInterceptor(signer, nil), counting)},
	})
	env.mustPublish(t, "t", textValue("retained"))

	tests := []struct {
		name   string
		key    string
		header string // the "cache" header, which must not matter
		want   codes.Code
	}{
		{"no key", "", "c", codes.Unauthenticated},
		{"garbage key", "garbage", "c", codes.Unauthenticated},
		{"key for another cache", sign(auth.Claims{Role: auth.RoleSuperuser, Caches: []string{"other"}}), "other", codes.PermissionDenied},
		{"read-only key for the cache", sign(auth.Claims{Role: auth.RoleReadOnly, Caches: []string{"c"}}), "other", codes.OK},
		{"superuser", sign(auth.Claims{Role: auth.RoleSuperuser}), "", codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := reached.Load()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			ctx = metadata.AppendToOutgoingContext(ctx, grpcsvc.CacheHeader, tt.header)
			if tt.key != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", tt.key)
			}
			stream, err := env.pubsub.Subscribe(ctx, subscribeReq("c", "t", 1, 0))
			if err != nil {
				t.Fatal(err)
			}
			first, err := stream.Recv()
			if status.Code(err) != tt.want {
				t.Fatalf("Subscribe with %s = %v, %v; want %v", tt.name, first, err, tt.want)
			}
			if tt.want != codes.OK {
				if n := reached.Load() - before; n != 0 {
					t.Errorf("a refused Subscribe went past auth %d times", n)
				}
				return
			}
			// The handler got the request as sent: it resumes at 1.
			if got := recvOne(t, stream); textOf(got) != "retained" {
				t.Errorf("after the heartbeat = %s, want the retained item", describeItem(got))
			}
		})
	}
}

func recvOne(t *testing.T, s grpc.ServerStreamingClient[pubsubpb.XSubscriptionItem]) *pubsubpb.XSubscriptionItem {
	t.Helper()
	m, err := s.Recv()
	if err != nil {
		t.Fatalf("Recv() = %v", err)
	}
	return m
}
