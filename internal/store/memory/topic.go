package memory

import (
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/thaw-dev/thaw/internal/store"
)

// TopicItemOverhead is the number of bytes accounted to every retained topic
// item on top of its payload, against Config.TopicRetentionBytes: the entry
// and its slot.
const TopicItemOverhead = 64

// initialTopicSlots is the size of a new topic's ring; it doubles as the
// topic retains more, up to Config.TopicRetention.
const initialTopicSlots = 8

// closedChan is a channel that is always closed: the wake channel of a
// topic that has ended, so that its waiting subscribers return at once.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// topicSet is the topics of one cache.
type topicSet struct {
	mu     sync.RWMutex      // guards byName and ended
	byName map[string]*topic // live topics
	ended  error             // set when the cache is deleted or the store closed
}

// topic is one topic: a ring of its most recent items that subscribers read
// in place.
//
// Publishers serialize on mu; subscribers take no lock. A publisher writes
// the new item's slot (after growing the ring or moving first past the
// items it evicts), then head, then closes the wake channel; a subscriber
// loads the wake channel, then head, then the ring and the slot, so that it
// never misses a publish it would have to wait for, and a slot it finds
// holding another sequence number, or nothing, was evicted, which first
// then shows.
type topic struct {
	name      string
	page      uint64 // the sequence page; fixed for the topic's life
	retention uint64 // most items kept
	maxBytes  int64  // most bytes kept, but for the newest item

	mu    sync.Mutex // guards publishing: bytes, dead and writes to ring, head, first, wake and ended
	bytes int64      // accounted to the retained items
	// dead means the topic left its set (dropped idle, or its cache was
	// flushed or deleted): publishers and new subscribers look it up again.
	dead bool

	ring  atomic.Pointer[topicRing]
	head  atomic.Uint64 // the last sequence number published; 0 before the first
	first atomic.Uint64 // the oldest sequence number retained; head+1 when none is
	// wake is closed, and replaced, on every publish; closedChan once the
	// topic has ended.
	wake atomic.Pointer[chan struct{}]
	// ended is why the topic's subscriptions end; nil while they go on.
	ended atomic.Pointer[error]

	subscribers atomic.Int64 // open subscriptions
	lastUsed    atomic.Int64 // store clock of the last publish, subscribe or unsubscribe
}

// topicRing holds a topic's retained items, the item with sequence number n
// in slots[n&mask]. It is replaced by a larger one as the topic grows.
type topicRing struct {
	slots []atomic.Pointer[topicEntry]
	mask  uint64
}

// topicEntry is one retained item; it never changes once published.
type topicEntry struct {
	seq  uint64
	size int64 // accounted bytes
	msg  store.TopicMessage
}

// newTopic returns an empty topic on page.
func newTopic(name string, page uint64, cfg Config) *topic {
	t := &topic{
		name:      name,
		page:      page,
		retention: uint64(cfg.TopicRetention),
		maxBytes:  cfg.TopicRetentionBytes,
	}
	t.ring.Store(newTopicRing(min(initialTopicSlots, ringSize(t.retention))))
	t.first.Store(1)
	wake := make(chan struct{})
	t.wake.Store(&wake)
	return t
}

// ringSize is the number of slots, a power of two, that holds n items.
func ringSize(n uint64) uint64 {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len64(n-1)
}

func newTopicRing(size uint64) *topicRing {
	return &topicRing{slots: make([]atomic.Pointer[topicEntry], size), mask: size - 1}
}

// entry returns the retained item with sequence number seq, or nil when the
// ring no longer holds it.
func (t *topic) entry(seq uint64) *topicEntry {
	r := t.ring.Load()
	e := r.slots[seq&r.mask].Load()
	if e == nil || e.seq != seq {
		return nil
	}
	return e
}

// publish appends msg and returns its position, or false when the topic is
// dead and the caller must look it up again.
func (t *topic) publish(msg store.TopicMessage, now int64) (store.TopicPosition, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dead {
		return store.TopicPosition{}, false
	}
	seq := t.head.Load() + 1
	size := int64(len(msg.Data)) + TopicItemOverhead
	r := t.ring.Load()

	// Evict the oldest items until at most retention-1 are left and their
	// bytes leave room for this one; it is kept whatever its size.
	first := t.first.Load()
	for first < seq && (seq-first >= t.retention || t.bytes+size > t.maxBytes) {
		slot := &r.slots[first&r.mask]
		if old := slot.Load(); old != nil && old.seq == first {
			t.bytes -= old.size
		}
		first++
		t.first.Store(first) // before the slot changes: see topic
		slot.Store(nil)
	}
	if n := seq - first + 1; n > uint64(len(r.slots)) {
		r = t.growLocked(r, first, seq-1, ringSize(n))
	}
	r.slots[seq&r.mask].Store(&topicEntry{seq: seq, size: size, msg: msg})
	t.bytes += size
	t.head.Store(seq)
	t.lastUsed.Store(now)
	next := make(chan struct{})
	close(*t.wake.Swap(&next))
	return store.TopicPosition{Sequence: seq, Page: t.page}, true
}

// growLocked replaces r with a ring of size slots holding the retained items
// from through to, and returns it. The caller holds t.mu.
func (t *topic) growLocked(r *topicRing, from, to, size uint64) *topicRing {
	next := newTopicRing(size)
	for seq := from; seq <= to; seq++ {
		if e := r.slots[seq&r.mask].Load(); e != nil && e.seq == seq {
			next.slots[seq&next.mask].Store(e)
		}
	}
	t.ring.Store(next) // before head moves past the old ring: see topic
	return next
}

// end ends the topic's subscriptions with err and marks it dead. Only the
// first end counts.
func (t *topic) end(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dead = true
	if t.ended.Load() != nil {
		return
	}
	t.ended.Store(&err)
	closed := closedChan
	close(*t.wake.Swap(&closed))
}

// endErr returns why the topic's subscriptions end, or nil.
func (t *topic) endErr() error {
	if p := t.ended.Load(); p != nil {
		return *p
	}
	return nil
}

// lookup returns the topic named name, creating it on a new page when there
// is none. It fails with the set's end error once the cache is gone.
func (ts *topicSet) lookup(s *Store, name string) (*topic, error) {
	ts.mu.RLock()
	t, ended := ts.byName[name], ts.ended
	ts.mu.RUnlock()
	if t != nil || ended != nil {
		return t, ended
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.ended != nil {
		return nil, ts.ended
	}
	if t := ts.byName[name]; t != nil {
		return t, nil
	}
	if ts.byName == nil {
		ts.byName = map[string]*topic{}
	}
	t = newTopic(name, s.newTopicPage(), s.cfg)
	t.lastUsed.Store(s.now())
	ts.byName[name] = t
	return t, nil
}

// reset drops every topic, ending its subscriptions with err; the set stays
// usable and the next use of a name starts a new page.
func (ts *topicSet) reset(err error) {
	ts.mu.Lock()
	old := ts.byName
	ts.byName = nil
	ts.mu.Unlock()
	for _, t := range old {
		t.end(err)
	}
}

// end drops every topic, ending its subscriptions with err, and refuses new
// ones with err from now on.
func (ts *topicSet) end(err error) {
	ts.mu.Lock()
	if ts.ended == nil {
		ts.ended = err
	}
	old := ts.byName
	ts.byName = nil
	ts.mu.Unlock()
	for _, t := range old {
		t.end(err)
	}
}

// dropIdle drops the topics without subscribers that were last used before
// the store clock reading before.
func (ts *topicSet) dropIdle(before int64) {
	var idle []*topic
	ts.mu.RLock()
	for _, t := range ts.byName {
		if t.subscribers.Load() == 0 && t.lastUsed.Load() < before {
			idle = append(idle, t)
		}
	}
	ts.mu.RUnlock()
	for _, t := range idle {
		ts.mu.Lock()
		t.mu.Lock()
		// Subscribers register under t.mu, so the check holds until unlock.
		if !t.dead && ts.byName[t.name] == t && t.subscribers.Load() == 0 && t.lastUsed.Load() < before {
			t.dead = true
			delete(ts.byName, t.name)
		}
		t.mu.Unlock()
		ts.mu.Unlock()
	}
}

// topicCount returns the number of live topics.
func (ts *topicSet) topicCount() int {
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	return len(ts.byName)
}

// newTopicPage returns a sequence page for a topic that starts now: the
// wall-clock time in milliseconds, or one more than the last page given out
// when that is greater. Pages thus grow over the store's life and, as long
// as the clock does not go back, across restarts, so that a subscriber that
// resumes with the page of a topic that was reset learns so.
func (s *Store) newTopicPage() uint64 {
	now := uint64(time.Now().UnixMilli())
	for {
		last := s.lastPage.Load()
		page := max(now, last+1)
		if s.lastPage.CompareAndSwap(last, page) {
			return page
		}
	}
}

// sweepTopics drops the topics of every cache that have been idle, without
// subscribers, for longer than Config.TopicIdleTTL.
func (s *Store) sweepTopics() {
	before := s.now() - int64(s.cfg.TopicIdleTTL)
	s.mu.Lock()
	caches := slices.Clone(s.sorted)
	s.mu.Unlock()
	for _, c := range caches {
		c.topics.dropIdle(before)
	}
}
