package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/internal/store"
)

// maxRetentionProbe bounds how many items testTopics publishes to one topic
// to find where its retention ends: a backend that keeps more is unbounded
// as far as the suite can tell.
const maxRetentionProbe = 1 << 16

// testTopics covers publish and subscribe: sequence numbers and pages,
// ordering, resuming, discontinuities, slow subscribers, and the end of
// subscriptions when their cache is deleted or flushed or the store closed.
func (h harness) testTopics(t *testing.T) {
	t.Run("PublishNumbersItems", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		var page uint64
		for want := uint64(1); want <= 3; want++ {
			pos := mustPublish(t, s, testCache, "t", text("m"))
			if pos.Sequence != want || pos.Page == 0 || (page != 0 && pos.Page != page) {
				t.Errorf("Publish #%d = %+v, want sequence %d on one non-zero page", want, pos, want)
			}
			page = pos.Page
		}
		// Another topic, and the same topic in another cache, count apart.
		if pos := mustPublish(t, s, testCache, "other", text("m")); pos.Sequence != 1 {
			t.Errorf("Publish(other topic) = %+v, want sequence 1", pos)
		}
		mustCreateCache(t, s, "second")
		if pos := mustPublish(t, s, "second", "t", text("m")); pos.Sequence != 1 {
			t.Errorf("Publish(t in another cache) = %+v, want sequence 1", pos)
		}
	})

	t.Run("UnknownCache", func(t *testing.T) {
		t.Parallel()
		s := h.open(t)
		_, err := s.Publish(t.Context(), "nope", "t", text("m"))
		errorIs(t, "Publish(unknown cache)", err, store.ErrCacheNotFound)
		sub, err := s.Subscribe(t.Context(), "nope", "t", store.TopicPosition{})
		if sub != nil {
			sub.Close()
		}
		errorIs(t, "Subscribe(unknown cache)", err, store.ErrCacheNotFound)
	})

	t.Run("LiveItemsInOrder", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		mustPublish(t, s, testCache, "t", text("before"))
		sub := mustSubscribe(t, s, testCache, "t", store.TopicPosition{})
		msgs := []store.TopicMessage{
			text("one"),
			{Data: allByteValues()},
			{Text: true, Data: []byte("")},
			{Data: []byte{}},
			{Text: true, Data: []byte("héllo"), PublisherID: "pub-1"},
		}
		var positions []store.TopicPosition
		for _, m := range msgs {
			positions = append(positions, mustPublish(t, s, testCache, "t", m))
		}
		for i, m := range msgs {
			checkItem(t, nextEvent(t, sub), positions[i], m)
		}
	})

	t.Run("NextWaitsForItems", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		sub := mustSubscribe(t, s, testCache, "t", store.TopicPosition{})
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		if ev, err := sub.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Next() on an idle topic = %+v, %v; want context.DeadlineExceeded", ev, err)
		}
		// The subscription still works, and an item published while Next
		// waits wakes it.
		got := make(chan store.TopicEvent, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			ev, err := sub.Next(ctx)
			if err != nil {
				t.Errorf("Next() = %v, want the item published meanwhile", err)
			}
			got <- ev
		}()
		time.Sleep(10 * time.Millisecond)
		pos := mustPublish(t, s, testCache, "t", text("wake"))
		checkItem(t, <-got, pos, text("wake"))
	})

	t.Run("Resume", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		tests := []struct {
			name string
			at   uint64 // resume_at
			page bool   // whether to name the page, or leave it 0
			want []int  // indexes of the five items published before
		}{
			{"at 3 of the page", 3, true, []int{2, 3, 4}},
			{"at 1, page unknown", 1, false, []int{0, 1, 2, 3, 4}},
			{"after the last", 6, true, nil},
		}
		for _, tt := range tests {
			topic := "t " + tt.name
			var positions []store.TopicPosition
			for i := range 5 {
				positions = append(positions, mustPublish(t, s, testCache, topic, text(fmt.Sprint(i))))
			}
			from := store.TopicPosition{Sequence: tt.at}
			if tt.page {
				from.Page = positions[0].Page
			}
			sub := mustSubscribe(t, s, testCache, topic, from)
			for _, i := range tt.want {
				checkItem(t, nextEvent(t, sub), positions[i], text(fmt.Sprint(i)))
			}
			pos := mustPublish(t, s, testCache, topic, text("new"))
			checkItem(t, nextEvent(t, sub), pos, text("new"))
		}
	})

	t.Run("ResumeOnAnotherPage", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		first := mustPublish(t, s, testCache, "t", text("a"))
		second := mustPublish(t, s, testCache, "t", text("b"))
		// A page the topic never had: the subscriber's numbers mean
		// nothing here, so it hears of the page and gets everything.
		sub := mustSubscribe(t, s, testCache, "t", store.TopicPosition{Sequence: 7, Page: first.Page - 1})
		checkDiscontinuity(t, nextEvent(t, sub), store.TopicDiscontinuity{LastSequence: 6, NewSequence: 0, NewPage: first.Page})
		checkItem(t, nextEvent(t, sub), first, text("a"))
		checkItem(t, nextEvent(t, sub), second, text("b"))
	})

	t.Run("ResumePastTheEnd", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		pos := mustPublish(t, s, testCache, "t", text("a"))
		sub := mustSubscribe(t, s, testCache, "t", store.TopicPosition{Sequence: 10, Page: pos.Page})
		checkDiscontinuity(t, nextEvent(t, sub), store.TopicDiscontinuity{LastSequence: 9, NewSequence: 1, NewPage: pos.Page})
		next := mustPublish(t, s, testCache, "t", text("b"))
		checkItem(t, nextEvent(t, sub), next, text("b"))
	})

	t.Run("DiscontinuityBeyondRetention", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		page, published := publishBeyondRetention(t, s, "t")
		sub := mustSubscribe(t, s, testCache, "t", store.TopicPosition{Sequence: 1, Page: page})
		ev := nextEvent(t, sub)
		d := ev.Discontinuity
		if d == nil || d.LastSequence != 0 || d.NewPage != page || d.NewSequence == 0 || d.NewSequence >= published {
			t.Fatalf("Next() after resuming at 1 of %d items = %+v, want a discontinuity from 0 to a retained item on page %d", published, describeEvent(ev), page)
		}
		// The retained items follow, in order, to the last one.
		for seq := d.NewSequence + 1; seq <= published; seq++ {
			ev := nextEvent(t, sub)
			if ev.Discontinuity != nil || ev.Item.Position != (store.TopicPosition{Sequence: seq, Page: page}) {
				t.Fatalf("Next() after the discontinuity = %+v, want item %d", describeEvent(ev), seq)
			}
		}
	})

	t.Run("SlowSubscriberDoesNotStallOthers", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		slow := mustSubscribe(t, s, testCache, "t", store.TopicPosition{})
		fast := mustSubscribe(t, s, testCache, "t", store.TopicPosition{})
		// The slow subscriber reads nothing while the topic runs far past
		// its retention; publishing never waits for it, and the fast one
		// gets every item as it comes.
		_, retained := publishBeyondRetention(t, s, "probe")
		n := 2*retained + 10
		var last store.TopicPosition
		for i := range n {
			last = mustPublish(t, s, testCache, "t", text(fmt.Sprint(i)))
			checkItem(t, nextEvent(t, fast), last, text(fmt.Sprint(i)))
		}
		ev := nextEvent(t, slow)
		d := ev.Discontinuity
		if d == nil || d.LastSequence != 0 || d.NewPage != last.Page || d.NewSequence == 0 || d.NewSequence >= last.Sequence {
			t.Fatalf("slow subscriber's Next() after %d items = %+v, want a discontinuity", n, describeEvent(ev))
		}
		for seq := d.NewSequence + 1; seq <= last.Sequence; seq++ {
			if ev := nextEvent(t, slow); ev.Item.Position.Sequence != seq {
				t.Fatalf("slow subscriber's Next() = %+v, want item %d", describeEvent(ev), seq)
			}
		}
	})

	t.Run("ConcurrentPublishers", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		const workers, perWorker = 8, 50
		sub := mustSubscribe(t, s, testCache, "t", store.TopicPosition{})
		var (
			mu   sync.Mutex
			sent = map[uint64]string{} // sequence → payload
			wg   sync.WaitGroup
		)
		for w := range workers {
			wg.Go(func() {
				for i := range perWorker {
					payload := fmt.Sprintf("w%d-%d", w, i)
					pos, err := s.Publish(t.Context(), testCache, "t", text(payload))
					if err != nil {
						t.Errorf("Publish() = %v, want nil", err)
						return
					}
					mu.Lock()
					if prev, dup := sent[pos.Sequence]; dup {
						t.Errorf("Publish(%s) = sequence %d, already given to %s", payload, pos.Sequence, prev)
					}
					sent[pos.Sequence] = payload
					mu.Unlock()
				}
			})
		}
		// Read while they publish: items come in order, each with the
		// payload its publisher was told it had. The subscriber may fall
		// behind; a discontinuity then skips ahead, never back.
		received := map[uint64]string{}
		next := uint64(1)
		for next <= workers*perWorker {
			ev := nextEvent(t, sub)
			if d := ev.Discontinuity; d != nil {
				if d.NewSequence+1 < next {
					t.Fatalf("discontinuity %+v goes back before item %d", *d, next)
				}
				next = d.NewSequence + 1
				continue
			}
			if ev.Item.Position.Sequence != next {
				t.Fatalf("Next() = item %d, want item %d", ev.Item.Position.Sequence, next)
			}
			received[next] = string(ev.Item.Message.Data)
			next++
		}
		wg.Wait()
		if len(sent) != workers*perWorker {
			t.Errorf("publishers got %d distinct sequence numbers, want %d", len(sent), workers*perWorker)
		}
		for seq, got := range received {
			if want := sent[seq]; got != want {
				t.Errorf("item %d = %q, want %q, what its publisher was told", seq, got, want)
			}
		}
	})

	t.Run("DeleteCacheEndsSubscriptions", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		mustPublish(t, s, testCache, "t", text("a"))
		waiting := mustSubscribe(t, s, testCache, "t", store.TopicPosition{})
		behind := mustSubscribe(t, s, testCache, "t", store.TopicPosition{Sequence: 1})
		ended := nextErrAsync(waiting)
		time.Sleep(10 * time.Millisecond)
		if err := s.DeleteCache(t.Context(), testCache); err != nil {
			t.Fatalf("DeleteCache() = %v, want nil", err)
		}
		errorIs(t, "waiting Next() after DeleteCache", <-ended, store.ErrCacheNotFound)
		// A subscription with items still unread ends too: they went
		// with the cache.
		_, err := behind.Next(t.Context())
		errorIs(t, "Next() with unread items after DeleteCache", err, store.ErrCacheNotFound)
		_, err = behind.Next(t.Context())
		errorIs(t, "second Next() after DeleteCache", err, store.ErrCacheNotFound)
		_, err = s.Publish(t.Context(), testCache, "t", text("b"))
		errorIs(t, "Publish() after DeleteCache", err, store.ErrCacheNotFound)

		// A new cache of the same name starts the topic on a new page.
		mustCreateCache(t, s, testCache)
		if pos := mustPublish(t, s, testCache, "t", text("c")); pos.Sequence != 1 {
			t.Errorf("Publish() in the recreated cache = %+v, want sequence 1", pos)
		}
	})

	t.Run("FlushCacheResetsTopics", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		before := mustPublish(t, s, testCache, "t", text("a"))
		sub := mustSubscribe(t, s, testCache, "t", store.TopicPosition{})
		ended := nextErrAsync(sub)
		time.Sleep(10 * time.Millisecond)
		if err := s.FlushCache(t.Context(), testCache); err != nil {
			t.Fatalf("FlushCache() = %v, want nil", err)
		}
		errorIs(t, "Next() after FlushCache", <-ended, store.ErrTopicReset)

		// The topic starts again on a later page, without the old items;
		// a subscriber resuming from the old page hears of the reset.
		resumed := mustSubscribe(t, s, testCache, "t", store.TopicPosition{Sequence: before.Sequence + 1, Page: before.Page})
		after := mustPublish(t, s, testCache, "t", text("b"))
		if after.Sequence != 1 || after.Page <= before.Page {
			t.Errorf("Publish() after FlushCache = %+v, want sequence 1 on a page after %d", after, before.Page)
		}
		checkDiscontinuity(t, nextEvent(t, resumed), store.TopicDiscontinuity{LastSequence: before.Sequence, NewSequence: 0, NewPage: after.Page})
		checkItem(t, nextEvent(t, resumed), after, text("b"))
	})

	t.Run("CloseStoreEndsSubscriptions", func(t *testing.T) {
		t.Parallel()
		s := h.newStore(t)
		mustCreateCache(t, s, testCache)
		sub := mustSubscribe(t, s, testCache, "t", store.TopicPosition{})
		ended := nextErrAsync(sub)
		time.Sleep(10 * time.Millisecond)
		if err := s.Close(); err != nil {
			t.Fatalf("Close() = %v, want nil", err)
		}
		errorIs(t, "Next() after the store's Close", <-ended, store.ErrClosed)
		_, err := s.Publish(t.Context(), testCache, "t", text("m"))
		errorIs(t, "Publish() after Close", err, store.ErrClosed)
	})

	t.Run("CloseSubscription", func(t *testing.T) {
		t.Parallel()
		s := h.openWithCache(t)
		sub, err := s.Subscribe(t.Context(), testCache, "t", store.TopicPosition{})
		if err != nil {
			t.Fatalf("Subscribe() = %v, want nil", err)
		}
		if err := sub.Close(); err != nil {
			t.Errorf("Close() = %v, want nil", err)
		}
		if err := sub.Close(); err != nil {
			t.Errorf("second Close() = %v, want nil", err)
		}
		_, err = sub.Next(t.Context())
		errorIs(t, "Next() after Close", err, store.ErrClosed)
		// Publishing goes on for others.
		mustPublish(t, s, testCache, "t", text("m"))
	})
}

func text(s string) store.TopicMessage {
	return store.TopicMessage{Text: true, Data: []byte(s)}
}

// allByteValues returns the bytes 0 to 255.
func allByteValues() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func mustPublish(t *testing.T, s store.Store, cache, topic string, msg store.TopicMessage) store.TopicPosition {
	t.Helper()
	pos, err := s.Publish(t.Context(), cache, topic, msg)
	if err != nil {
		t.Fatalf("Publish(%q, %q, %q) = %v, want nil", cache, topic, msg.Data, err)
	}
	return pos
}

// mustSubscribe subscribes and closes the subscription when t ends.
func mustSubscribe(t *testing.T, s store.Store, cache, topic string, from store.TopicPosition) store.TopicSubscription {
	t.Helper()
	sub, err := s.Subscribe(t.Context(), cache, topic, from)
	if err != nil {
		t.Fatalf("Subscribe(%q, %q, %+v) = %v, want nil", cache, topic, from, err)
	}
	t.Cleanup(func() { sub.Close() })
	return sub
}

// nextEvent returns the next event, failing t after waitTimeout.
func nextEvent(t *testing.T, sub store.TopicSubscription) store.TopicEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	ev, err := sub.Next(ctx)
	if err != nil {
		t.Fatalf("Next() = %v, want an event", err)
	}
	return ev
}

// nextErrAsync calls Next in a goroutine and delivers its error, which the
// test expects once it has ended the subscription.
func nextErrAsync(sub store.TopicSubscription) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		_, err := sub.Next(ctx)
		done <- err
	}()
	return done
}

func checkItem(t *testing.T, ev store.TopicEvent, pos store.TopicPosition, msg store.TopicMessage) {
	t.Helper()
	got := ev.Item
	if ev.Discontinuity != nil || got.Position != pos || got.Message.Text != msg.Text ||
		!bytes.Equal(got.Message.Data, msg.Data) || got.Message.PublisherID != msg.PublisherID {
		t.Errorf("Next() = %s, want item %+v %s", describeEvent(ev), pos, describeMessage(msg))
	}
}

func checkDiscontinuity(t *testing.T, ev store.TopicEvent, want store.TopicDiscontinuity) {
	t.Helper()
	if ev.Discontinuity == nil || *ev.Discontinuity != want {
		t.Errorf("Next() = %s, want discontinuity %+v", describeEvent(ev), want)
	}
}

func describeEvent(ev store.TopicEvent) string {
	if d := ev.Discontinuity; d != nil {
		return fmt.Sprintf("discontinuity %+v", *d)
	}
	return fmt.Sprintf("item %+v %s", ev.Item.Position, describeMessage(ev.Item.Message))
}

func describeMessage(m store.TopicMessage) string {
	kind := "binary"
	if m.Text {
		kind = "text"
	}
	return fmt.Sprintf("%s %q from %q", kind, m.Data, m.PublisherID)
}

// publishBeyondRetention publishes to topic in testCache until its first
// item is no longer retained, and returns the topic's page and the number
// of items published, which is more than the topic retains. It fails t if
// the first item is still retained after maxRetentionProbe items.
func publishBeyondRetention(t *testing.T, s store.Store, topic string) (page, published uint64) {
	t.Helper()
	for range maxRetentionProbe {
		pos := mustPublish(t, s, testCache, topic, text("x"))
		sub, err := s.Subscribe(t.Context(), testCache, topic, store.TopicPosition{Sequence: 1, Page: pos.Page})
		if err != nil {
			t.Fatalf("Subscribe(at 1) = %v, want nil", err)
		}
		ev := nextEvent(t, sub)
		sub.Close()
		if ev.Discontinuity != nil {
			return pos.Page, pos.Sequence
		}
	}
	t.Fatalf("item 1 of topic %q is still retained after %d items, want a bounded retention", topic, maxRetentionProbe)
	return 0, 0
}
