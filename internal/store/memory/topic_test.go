package memory_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/thaw-dev/thaw/internal/store"
	"github.com/thaw-dev/thaw/internal/store/memory"
)

func publish(t *testing.T, s *memory.Store, topic string, data []byte) store.TopicPosition {
	t.Helper()
	pos, err := s.Publish(t.Context(), "c", topic, store.TopicMessage{Data: data})
	if err != nil {
		t.Fatalf("Publish(%q) = %v, want nil", topic, err)
	}
	return pos
}

func subscribe(t *testing.T, s *memory.Store, topic string, from store.TopicPosition) store.TopicSubscription {
	t.Helper()
	sub, err := s.Subscribe(t.Context(), "c", topic, from)
	if err != nil {
		t.Fatalf("Subscribe(%q, %+v) = %v, want nil", topic, from, err)
	}
	t.Cleanup(func() { sub.Close() })
	return sub
}

func next(t *testing.T, sub store.TopicSubscription) store.TopicEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ev, err := sub.Next(ctx)
	if err != nil {
		t.Fatalf("Next() = %v, want an event", err)
	}
	return ev
}

// drain reads the events a resumed subscription has ready: its
// discontinuity, if any, and the sequence numbers of its items up to last.
func drain(t *testing.T, sub store.TopicSubscription, last uint64) (*store.TopicDiscontinuity, []uint64) {
	t.Helper()
	var (
		d    *store.TopicDiscontinuity
		seqs []uint64
	)
	for len(seqs) == 0 || seqs[len(seqs)-1] < last {
		ev := next(t, sub)
		if ev.Discontinuity != nil {
			if d != nil || len(seqs) > 0 {
				t.Fatalf("second discontinuity %+v after %+v, %v", *ev.Discontinuity, d, seqs)
			}
			d = ev.Discontinuity
			continue
		}
		seqs = append(seqs, ev.Item.Position.Sequence)
	}
	return d, seqs
}

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// TestTopicRetention checks the two bounds on what a topic keeps: the
// number of items, and their bytes (payload plus TopicItemOverhead), where
// the newest item is kept whatever its size.
func TestTopicRetention(t *testing.T) {
	const payload = 100
	itemBytes := int64(payload + memory.TopicItemOverhead)
	tests := []struct {
		name      string
		cfg       memory.Config
		published uint64
		sizes     []int  // payload sizes; default payload each
		wantFirst uint64 // the oldest item retained
	}{
		{"by count", memory.Config{TopicRetention: 4}, 10, nil, 7},
		{"count not reached", memory.Config{TopicRetention: 64}, 10, nil, 1},
		{"by bytes", memory.Config{TopicRetentionBytes: 3 * itemBytes}, 10, nil, 8},
		{"bytes not a multiple", memory.Config{TopicRetentionBytes: 3*itemBytes + itemBytes/2}, 10, nil, 8},
		{"oversized newest item kept alone", memory.Config{TopicRetentionBytes: 3 * itemBytes}, 4, []int{payload, payload, payload, 10 * payload}, 4},
		{"growing past the first ring", memory.Config{TopicRetention: 100}, 300, nil, 201},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, tt.cfg)
			var page uint64
			for i := range tt.published {
				size := payload
				if tt.sizes != nil {
					size = tt.sizes[i]
				}
				page = publish(t, s, "t", bytes.Repeat([]byte{'x'}, size)).Page
			}
			sub := subscribe(t, s, "t", store.TopicPosition{Sequence: 1, Page: page})
			d, seqs := drain(t, sub, tt.published)
			if tt.wantFirst == 1 {
				if d != nil {
					t.Errorf("resuming at 1 = discontinuity %+v, want none", *d)
				}
			} else if want := (store.TopicDiscontinuity{LastSequence: 0, NewSequence: tt.wantFirst - 1, NewPage: page}); d == nil || *d != want {
				t.Errorf("resuming at 1 = discontinuity %+v, want %+v", d, want)
			}
			if want := seqRange(tt.wantFirst, tt.published); fmt.Sprint(seqs) != fmt.Sprint(want) {
				t.Errorf("resuming at 1 yields items %v, want %v", seqs, want)
			}
		})
	}
}

// TestSlowSubscriberSkipsAhead: a subscriber that falls behind by more than
// the retention gets a discontinuity from what it had to the oldest item
// still kept, and then every later item, while one that keeps up misses
// nothing.
func TestSlowSubscriberSkipsAhead(t *testing.T) {
	s := newStore(t, memory.Config{TopicRetention: 8})
	slow := subscribe(t, s, "t", store.TopicPosition{})
	fast := subscribe(t, s, "t", store.TopicPosition{})
	// The slow one reads the first two items, then stops.
	var page uint64
	for i := range 2 {
		page = publish(t, s, "t", []byte{byte(i)}).Page
		next(t, slow)
		next(t, fast)
	}
	for i := 2; i < 30; i++ {
		publish(t, s, "t", []byte{byte(i)})
		if ev := next(t, fast); ev.Item.Position.Sequence != uint64(i+1) {
			t.Fatalf("fast subscriber's Next() = %+v, want item %d", ev, i+1)
		}
	}
	d, seqs := drain(t, slow, 30)
	if want := (store.TopicDiscontinuity{LastSequence: 2, NewSequence: 22, NewPage: page}); d == nil || *d != want {
		t.Errorf("slow subscriber's discontinuity = %+v, want %+v", d, want)
	}
	if want := seqRange(23, 30); fmt.Sprint(seqs) != fmt.Sprint(want) {
		t.Errorf("slow subscriber's items = %v, want %v", seqs, want)
	}
}

// TestIdleTopicsAreDropped: a topic nobody subscribes to is dropped
// TopicIdleTTL after its last use, and a subscriber resuming from its page
// then learns of the new page; a topic with a subscriber is kept.
func TestIdleTopicsAreDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStore(t, memory.Config{TopicIdleTTL: time.Minute, JanitorInterval: time.Second})
		idle := publish(t, s, "idle", []byte("a"))
		held := publish(t, s, "held", []byte("a"))
		holder := subscribe(t, s, "held", store.TopicPosition{})

		time.Sleep(30 * time.Second)
		synctest.Wait()
		// Still there before the TTL: resuming at 1 yields the item.
		sub := subscribe(t, s, "idle", store.TopicPosition{Sequence: 1, Page: idle.Page})
		if ev := next(t, sub); ev.Discontinuity != nil || ev.Item.Position != idle {
			t.Fatalf("resuming before the idle TTL = %+v, want item %+v", ev, idle)
		}
		sub.Close() // the topic is used until now

		time.Sleep(time.Minute + 10*time.Second)
		synctest.Wait()
		sub = subscribe(t, s, "idle", store.TopicPosition{Sequence: 1, Page: idle.Page})
		ev := next(t, sub)
		if d := ev.Discontinuity; d == nil || d.NewPage <= idle.Page || d.NewSequence != 0 {
			t.Errorf("resuming after the idle TTL = %+v, want a discontinuity to a new page", ev)
		}
		if pos := publish(t, s, "idle", []byte("b")); pos.Sequence != 1 || pos.Page <= idle.Page {
			t.Errorf("Publish() to the dropped topic = %+v, want sequence 1 on a new page", pos)
		}

		// The held topic kept its page and items.
		sub = subscribe(t, s, "held", store.TopicPosition{Sequence: 1, Page: held.Page})
		if ev := next(t, sub); ev.Discontinuity != nil || ev.Item.Position != held {
			t.Errorf("resuming the subscribed topic = %+v, want item %+v", ev, held)
		}
		holder.Close()
	})
}

// TestPagesIncrease: every topic that starts gets a page above all earlier
// ones, also within one millisecond.
func TestPagesIncrease(t *testing.T) {
	s := newStore(t, memory.Config{})
	var last uint64
	for i := range 100 {
		pos := publish(t, s, fmt.Sprint("t", i), []byte("x"))
		if pos.Page <= last {
			t.Fatalf("page of topic %d = %d, want above %d", i, pos.Page, last)
		}
		last = pos.Page
	}
}

// BenchmarkPublishFanout measures a publish that 1,000 waiting subscribers
// read, end to end in the store: the publisher's cost does not grow with
// them (it wakes them with one channel close), and each reads in place.
func BenchmarkPublishFanout(b *testing.B) {
	for _, subscribers := range []int{0, 1, 1000} {
		b.Run(fmt.Sprint(subscribers, "subscribers"), func(b *testing.B) {
			s := memory.New(memory.Config{})
			defer s.Close()
			ctx := context.Background()
			if err := s.CreateCache(ctx, "c"); err != nil {
				b.Fatal(err)
			}
			readCtx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			for range subscribers {
				sub, err := s.Subscribe(ctx, "c", "t", store.TopicPosition{})
				if err != nil {
					b.Fatal(err)
				}
				go func() {
					defer func() { done <- struct{}{} }()
					defer sub.Close()
					for {
						if _, err := sub.Next(readCtx); err != nil {
							return
						}
					}
				}()
			}
			msg := store.TopicMessage{Data: []byte("payload")}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Publish(ctx, "c", "t", msg); err != nil {
					b.Fatal(err)
				}
			}
			stop()
			for range subscribers {
				<-done
			}
		})
	}
}
