package client_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/client"
)

// timerClock is a fake Clock with timers, for subscriptions' watchdogs: it
// moves only when told, and Advance runs the timers that came due, in
// Advance's goroutine, after moving the time, as a thaw would find them.
type timerClock struct {
	mu     sync.Mutex // guards now and timers
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func newTimerClock() *timerClock { return &timerClock{now: time.Unix(1_700_000_000, 0)} }

// Now returns the fake time.
func (c *timerClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f at d from the fake now.
func (c *timerClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		i := slices.Index(c.timers, t)
		if i < 0 {
			return false
		}
		c.timers = slices.Delete(c.timers, i, i+1)
		t.stopped = true
		return true
	}
}

// Advance moves the time by d and then runs every timer due, earliest
// first: a freeze of d, at whose end the late timers fire together.
func (c *timerClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var due *fakeTimer
		for _, t := range c.timers {
			if !t.at.After(c.now) && (due == nil || t.at.Before(due.at)) {
				due = t
			}
		}
		if due == nil {
			c.mu.Unlock()
			return
		}
		c.timers = slices.DeleteFunc(c.timers, func(t *fakeTimer) bool { return t == due })
		c.mu.Unlock()
		due.f()
	}
}

// Step advances the time by d, n times: a process that runs throughout, its
// timers on time.
func (c *timerClock) Step(d time.Duration, n int) {
	for range n {
		c.Advance(d)
	}
}

// pending returns the number of timers scheduled.
func (c *timerClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// waitArmed waits until a timer is scheduled: the subscription's pump is
// waiting for a message under its watchdog.
func (c *timerClock) waitArmed(t testing.TB) {
	t.Helper()
	waitUntil(t, "the watchdog to be armed", func() bool { return c.pending() > 0 })
}

// waitUntil polls cond every 10 ms for up to 15 s (these machines are
// noisy), and fails the test naming what it waited for.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// subscribe subscribes c to topic in cache "c" and closes the subscription
// when the test ends.
func subscribe(t testing.TB, c *client.Client, topic string, opts client.SubscribeOptions) *client.Subscription {
	t.Helper()
	sub, err := c.Subscribe(t.Context(), "c", topic, opts)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", topic, err)
	}
	t.Cleanup(func() { sub.Close() })
	return sub
}

// publish publishes the texts to topic in cache "c", in order.
func publish(t testing.TB, c *client.Client, topic string, texts ...string) {
	t.Helper()
	for _, text := range texts {
		if err := c.PublishText(context.Background(), "c", topic, text); err != nil {
			t.Fatalf("PublishText(%q, %q): %v", topic, text, err)
		}
	}
}

// texts returns "m<from>" to "m<to>".
func texts(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("m%d", i))
	}
	return out
}

// next returns the subscription's next event, waiting up to 15 s.
func next(t testing.TB, sub *client.Subscription) client.TopicEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ev, err := sub.Next(ctx)
	if err != nil {
		t.Fatalf("Next: %v (stats %+v)", err, sub.Stats())
	}
	return ev
}

// expectItems reads one event per text and fails unless each is the item
// with that text, at sequence numbers going up by one from firstSeq.
func expectItems(t testing.TB, sub *client.Subscription, firstSeq uint64, want ...string) {
	t.Helper()
	for i, text := range want {
		ev := next(t, sub)
		seq := firstSeq + uint64(i)
		if ev.Kind != client.TopicEventItem || string(ev.Item.Value) != text || ev.Item.Position.Sequence != seq {
			t.Fatalf("Next = %+v; want item %q at sequence %d (stats %+v)", ev, text, seq, sub.Stats())
		}
	}
}

// expectNoEvent fails if an event arrives within d.
func expectNoEvent(t testing.TB, sub *client.Subscription, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	ev, err := sub.Next(ctx)
	if err == nil {
		t.Fatalf("Next = %+v; want no event", ev)
	}
	if !errors.Is(err, client.ErrTimeout) {
		t.Fatalf("Next = %v; want ErrTimeout", err)
	}
}
