package client_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/client"
	"github.com/thaw-dev/thaw/internal/apikey"
	"github.com/thaw-dev/thaw/internal/auth"
	"github.com/thaw-dev/thaw/server"
)

func TestTopicPublishSubscribe(t *testing.T) {
	t.Parallel()
	srv := startServer(t, server.Config{})
	c := newClient(t, client.Laptop(), client.LocalCredentials(srv.Addr()))
	ctx := t.Context()

	sub := subscribe(t, c, "news", client.SubscribeOptions{})
	if got := sub.Position(); got != (client.TopicPosition{}) {
		t.Errorf("Position() before any item = %+v; want zero", got)
	}
	if err := c.PublishText(ctx, "c", "news", "hello"); err != nil {
		t.Fatalf("PublishText: %v", err)
	}
	binary := []byte{0, 1, 2, 255}
	if err := c.Publish(ctx, "c", "news", binary); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if err := c.Publish(ctx, "c", "news", nil); err != nil {
		t.Fatalf("Publish(nil): %v", err)
	}
	first := next(t, sub)
	if first.Kind != client.TopicEventItem || string(first.Item.Value) != "hello" || !first.Item.Text ||
		first.Item.Position.Sequence != 1 || first.Item.Position.Page == 0 || first.Item.PublisherID != "" {
		t.Fatalf("first event = %+v; want text item hello at sequence 1 of a non-zero page", first)
	}
	page := first.Item.Position.Page
	second := next(t, sub)
	if second.Kind != client.TopicEventItem || !bytes.Equal(second.Item.Value, binary) || second.Item.Text ||
		second.Item.Position != (client.TopicPosition{Sequence: 2, Page: page}) {
		t.Fatalf("second event = %+v; want binary item %v at sequence 2", second, binary)
	}
	third := next(t, sub)
	if third.Item.Value == nil || len(third.Item.Value) != 0 || third.Item.Position.Sequence != 3 {
		t.Fatalf("third event = %+v; want an empty non-nil value at sequence 3", third)
	}
	if got, want := sub.Position(), (client.TopicPosition{Sequence: 4, Page: page}); got != want {
		t.Errorf("Position() = %+v; want %+v", got, want)
	}
	if st := sub.Stats(); st.Items != 3 || st.Heartbeats < 1 || st.Resubscribes != 0 {
		t.Errorf("Stats() = %+v; want 3 items, the first heartbeat, no resubscribe", st)
	}

	// A second subscriber resumes from a position and gets what it missed.
	again := subscribe(t, c, "news", client.SubscribeOptions{ResumeAt: client.TopicPosition{Sequence: 2, Page: page}})
	ev := next(t, again)
	if ev.Kind != client.TopicEventItem || ev.Item.Position.Sequence != 2 {
		t.Fatalf("resumed at 2: first event = %+v; want item 2", ev)
	}

	// Topics are separate.
	other := subscribe(t, c, "other", client.SubscribeOptions{})
	publish(t, c, "other", "o1")
	expectItems(t, other, 1, "o1")
	expectNoEvent(t, sub, 100*time.Millisecond)

	if err := sub.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := sub.Next(ctx); !errors.Is(err, client.ErrCancelled) {
		t.Errorf("Next after Close = %v; want ErrCancelled", err)
	}
	if err := sub.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestTopicErrors(t *testing.T) {
	t.Parallel()
	srv := startServer(t, server.Config{})
	c := newClient(t, client.Laptop(), client.LocalCredentials(srv.Addr()))
	ctx := t.Context()

	cases := []struct {
		name string
		err  error
		want error
	}{
		{"publish to a missing cache", c.PublishText(ctx, "nope", "t", "v"), client.ErrCacheNotFound},
		{"publish with no cache name", c.Publish(ctx, "", "t", []byte("v")), client.ErrInvalidArgument},
		{"publish with no topic name", c.PublishText(ctx, "c", "", "v"), client.ErrInvalidArgument},
		{"publish too large a value", c.Publish(ctx, "c", "t", make([]byte, 200*1024)), client.ErrLimitExceeded},
		{"subscribe to a missing cache", subscribeErr(c, "nope", "t", client.SubscribeOptions{}), client.ErrCacheNotFound},
		{"subscribe with no topic name", subscribeErr(c, "c", "", client.SubscribeOptions{}), client.ErrInvalidArgument},
		{"heartbeat timeout below the minimum", subscribeErr(c, "c", "t", client.SubscribeOptions{HeartbeatTimeout: time.Millisecond}), client.ErrInvalidArgument},
		{"negative backoff", subscribeErr(c, "c", "t", client.SubscribeOptions{ResubscribeBackoff: -time.Second}), client.ErrInvalidArgument},
		{"max backoff below backoff", subscribeErr(c, "c", "t", client.SubscribeOptions{ResubscribeBackoff: time.Second, MaxResubscribeBackoff: time.Millisecond}), client.ErrInvalidArgument},
	}
	for _, tc := range cases {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s = %v; want %v", tc.name, tc.err, tc.want)
		}
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Subscribe(cancelled, "c", "t", client.SubscribeOptions{}); !errors.Is(err, client.ErrCancelled) {
		t.Errorf("Subscribe(cancelled context) = %v; want ErrCancelled", err)
	}
}

// subscribeErr subscribes and returns only the error, closing any
// subscription made.
func subscribeErr(c *client.Client, cache, topic string, opts client.SubscribeOptions) error {
	sub, err := c.Subscribe(context.Background(), cache, topic, opts)
	if sub != nil {
		sub.Close()
	}
	return err
}

// TestTopicSubscriptionEnds: deleting the cache ends the subscription with
// ErrCacheNotFound, which resubscribing cannot cure; closing the client ends
// it with ErrCancelled.
func TestTopicSubscriptionEnds(t *testing.T) {
	t.Parallel()
	srv := startServer(t, server.Config{CreateCaches: []string{"doomed"}})
	c := newClient(t, client.Laptop(), client.LocalCredentials(srv.Addr()))
	sub, err := c.Subscribe(t.Context(), "doomed", "t", client.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := c.DeleteCache(t.Context(), "doomed"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if ev, err := sub.Next(ctx); !errors.Is(err, client.ErrCacheNotFound) {
		t.Fatalf("Next after DeleteCache = %+v, %v; want ErrCacheNotFound", ev, err)
	}
	if _, err := sub.Next(ctx); !errors.Is(err, client.ErrCacheNotFound) {
		t.Errorf("Next again = %v; want ErrCacheNotFound again", err)
	}

	other := newClient(t, client.Laptop(), client.LocalCredentials(srv.Addr()))
	live := subscribe(t, other, "t", client.SubscribeOptions{})
	other.Close()
	if _, err := live.Next(ctx); !errors.Is(err, client.ErrCancelled) {
		t.Errorf("Next after the client's Close = %v; want ErrCancelled", err)
	}
}

// TestTopicAuth: with auth on, publishing needs a key that may write the
// cache, subscribing one that may read it, and a key scoped to other caches
// reaches neither.
func TestTopicAuth(t *testing.T) {
	t.Parallel()
	secret, err := auth.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := auth.NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, server.Config{AuthSecret: secret})
	newKeyClient := func(claims auth.Claims) *client.Client {
		t.Helper()
		tok, err := signer.Sign(claims)
		if err != nil {
			t.Fatal(err)
		}
		creds, err := client.APIKeyCredentials(apikey.EncodeV1(srv.Addr(), tok), srv.Addr(), false)
		if err != nil {
			t.Fatal(err)
		}
		return newClient(t, client.Laptop(), creds)
	}
	reader := newKeyClient(auth.Claims{Role: auth.RoleReadOnly})
	writer := newKeyClient(auth.Claims{Role: auth.RoleReadWrite, Caches: []string{"c"}})
	elsewhere := newKeyClient(auth.Claims{Role: auth.RoleReadWrite, Caches: []string{"other"}})
	anonymous := newClient(t, client.Laptop(), client.LocalCredentials(srv.Addr()))

	cases := []struct {
		name string
		err  error
		want error
	}{
		{"PublishText with a read-only key", reader.PublishText(t.Context(), "c", "t", "v"), client.ErrPermissionDenied},
		{"PublishText with a key for another cache", elsewhere.PublishText(t.Context(), "c", "t", "v"), client.ErrPermissionDenied},
		{"Subscribe with a key for another cache", subscribeErr(elsewhere, "c", "t", client.SubscribeOptions{}), client.ErrPermissionDenied},
		{"PublishText without a key", anonymous.PublishText(t.Context(), "c", "t", "v"), client.ErrUnauthenticated},
		{"Subscribe without a key", subscribeErr(anonymous, "c", "t", client.SubscribeOptions{}), client.ErrUnauthenticated},
	}
	for _, tc := range cases {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s = %v; want %v", tc.name, tc.err, tc.want)
		}
	}
	sub := subscribe(t, reader, "t", client.SubscribeOptions{})
	publish(t, writer, "t", "v")
	expectItems(t, sub, 1, "v")
}
