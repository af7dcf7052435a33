package memory

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/thaw-dev/thaw/internal/store"
)

// Leaderboards reuse the sorted set: each id is a 4-byte big-endian value, so
// that the skip list's bytewise order of tied values is the numeric order of
// their ids, as in a Redis ZSET holding the same members.

var _ store.LeaderboardStore = (*Store)(nil)

// leaderboardSet is the leaderboards of one cache, apart from its items. The
// zero value is empty and ready; the set goes with its cache and survives a
// flush. Leaderboards count neither in Stats nor against Config.MaxMemory,
// and are never evicted: the service keeps them apart from cache items.
type leaderboardSet struct {
	mu     sync.RWMutex          // guards byName and the sorted sets in it
	byName map[string]*sortedSet // never holds an empty set
}

// leaderboardID is the sorted-set value of an id.
func leaderboardID(id uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], id)
	return string(b[:])
}

// rankedElement turns the node x, at rank in the order asked for, into a
// ranked element.
func rankedElement(x *znode, rank int) store.RankedElement {
	return store.RankedElement{ID: binary.BigEndian.Uint32([]byte(x.value)), Score: x.score, Rank: rank}
}

// leaderboards returns the leaderboards of the cache named name.
func (s *Store) leaderboards(op, name string) (*leaderboardSet, error) {
	c, err := s.cache(op, name)
	if err != nil {
		return nil, err
	}
	return &c.leaderboards, nil
}

// read runs fn under the read lock on the leaderboard named name, or on nil
// when there is none.
func (ls *leaderboardSet) read(name string, fn func(z *sortedSet)) {
	ls.mu.RLock()
	defer ls.mu.RUnlock()
	fn(ls.byName[name])
}

// LeaderboardUpsert sets the scores of elements' ids, creating the
// leaderboard if needed.
func (s *Store) LeaderboardUpsert(_ context.Context, cacheName, name string, elements []store.LeaderboardElement) error {
	const op = "leaderboard upsert"
	for _, e := range elements {
		if err := store.CheckLeaderboardScore(fmt.Sprintf("the score of id %d", e.ID), e.Score); err != nil {
			return fmt.Errorf("memory: %s: %w", op, err)
		}
	}
	ls, err := s.leaderboards(op, cacheName)
	if err != nil || len(elements) == 0 {
		return err
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	z := ls.byName[name]
	if z == nil {
		z = newSortedSet().(*sortedSet)
		if ls.byName == nil {
			ls.byName = make(map[string]*sortedSet)
		}
		ls.byName[name] = z
	}
	for _, e := range elements {
		z.put(leaderboardID(e.ID), e.Score)
	}
	return nil
}

// LeaderboardRemove removes ids from the leaderboard, deleting it when it
// is left empty.
func (s *Store) LeaderboardRemove(_ context.Context, cacheName, name string, ids []uint32) error {
	ls, err := s.leaderboards("leaderboard remove", cacheName)
	if err != nil {
		return err
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	z := ls.byName[name]
	if z == nil {
		return nil
	}
	for _, id := range ids {
		z.delete([]byte(leaderboardID(id)))
	}
	if z.len() == 0 {
		delete(ls.byName, name)
	}
	return nil
}

// LeaderboardDelete deletes the leaderboard.
func (s *Store) LeaderboardDelete(_ context.Context, cacheName, name string) error {
	ls, err := s.leaderboards("leaderboard delete", cacheName)
	if err != nil {
		return err
	}
	ls.mu.Lock()
	delete(ls.byName, name)
	ls.mu.Unlock()
	return nil
}

// LeaderboardLength returns the number of ids in the leaderboard.
func (s *Store) LeaderboardLength(_ context.Context, cacheName, name string) (int, error) {
	ls, err := s.leaderboards("leaderboard length", cacheName)
	if err != nil {
		return 0, err
	}
	n := 0
	ls.read(name, func(z *sortedSet) {
		if z != nil {
			n = z.len()
		}
	})
	return n, nil
}

// LeaderboardFetchByRank returns the elements of ranks [start, end) in order.
func (s *Store) LeaderboardFetchByRank(_ context.Context, cacheName, name string, start, end int, order store.SortedSetOrder) ([]store.RankedElement, error) {
	ls, err := s.leaderboards("leaderboard fetch by rank", cacheName)
	if err != nil {
		return nil, err
	}
	out := []store.RankedElement{}
	start = max(start, 0)
	ls.read(name, func(z *sortedSet) {
		if z == nil {
			return
		}
		n := z.len()
		end = min(end, n)
		if start >= end {
			return
		}
		out = make([]store.RankedElement, 0, end-start)
		if order == store.Descending {
			for x := z.list.at(n - 1 - start); len(out) < end-start; x = x.prev {
				out = append(out, rankedElement(x, start+len(out)))
			}
			return
		}
		for x := z.list.at(start); len(out) < end-start; x = x.next() {
			out = append(out, rankedElement(x, start+len(out)))
		}
	})
	return out, nil
}

// LeaderboardFetchByScore returns the elements with a score in r, in order,
// after skipping offset of them, at most count (all when negative), each with
// its rank in the whole leaderboard.
func (s *Store) LeaderboardFetchByScore(_ context.Context, cacheName, name string, r store.ScoreRange, order store.SortedSetOrder, offset, count int) ([]store.RankedElement, error) {
	const op = "leaderboard fetch by score"
	for _, b := range []store.ScoreBound{r.Min, r.Max} {
		if b.Unbounded {
			continue
		}
		if err := store.CheckLeaderboardScore("a score bound", b.Score); err != nil {
			return nil, fmt.Errorf("memory: %s: %w", op, err)
		}
	}
	ls, err := s.leaderboards(op, cacheName)
	if err != nil {
		return nil, err
	}
	out := []store.RankedElement{}
	if count == 0 || offset < 0 {
		return out, nil
	}
	ls.read(name, func(z *sortedSet) {
		if z == nil {
			return
		}
		n := z.len()
		if count < 0 || count > n {
			count = n
		}
		if order == store.Descending {
			last, rank := z.list.lastIn(r) // ascending rank
			if last == nil || rank < offset {
				return
			}
			rank -= offset
			for x := z.list.at(rank); x != nil && r.AboveMin(x.score) && len(out) < count; x = x.prev {
				out = append(out, rankedElement(x, n-1-rank+len(out)))
			}
			return
		}
		first, rank := z.list.firstIn(r)
		if first == nil || offset >= n-rank {
			return
		}
		rank += offset
		for x := z.list.at(rank); x != nil && r.BelowMax(x.score) && len(out) < count; x = x.next() {
			out = append(out, rankedElement(x, rank+len(out)))
		}
	})
	return out, nil
}

// LeaderboardGetRank returns the ordinal rank of each listed id the
// leaderboard holds, in the order of ids.
func (s *Store) LeaderboardGetRank(_ context.Context, cacheName, name string, ids []uint32, order store.SortedSetOrder) ([]store.RankedElement, error) {
	return s.leaderboardRanks("leaderboard get rank", cacheName, name, ids, func(z *sortedSet, x *znode) int {
		rank := z.list.rank(x)
		if order == store.Descending {
			rank = z.len() - 1 - rank
		}
		return rank
	})
}

// LeaderboardGetCompetitionRank returns the competition rank of each listed
// id the leaderboard holds, in the order of ids.
func (s *Store) LeaderboardGetCompetitionRank(_ context.Context, cacheName, name string, ids []uint32, order store.SortedSetOrder) ([]store.RankedElement, error) {
	return s.leaderboardRanks("leaderboard get competition rank", cacheName, name, ids, func(z *sortedSet, x *znode) int {
		if order == store.Descending {
			// Those above: all but the ones up to the last scoring x.score.
			_, last := z.list.lastIn(store.ScoreRange{Min: store.ScoreBound{Unbounded: true}, Max: store.ScoreBound{Score: x.score}})
			return z.len() - 1 - last
		}
		// Those below: the rank of the first scoring x.score.
		_, first := z.list.firstIn(store.ScoreRange{Min: store.ScoreBound{Score: x.score}, Max: store.ScoreBound{Unbounded: true}})
		return first
	})
}

// leaderboardRanks answers a rank lookup: each listed id the leaderboard
// holds, in the order of ids, ranked by rankOf.
func (s *Store) leaderboardRanks(op, cacheName, name string, ids []uint32, rankOf func(z *sortedSet, x *znode) int) ([]store.RankedElement, error) {
	ls, err := s.leaderboards(op, cacheName)
	if err != nil {
		return nil, err
	}
	out := []store.RankedElement{}
	ls.read(name, func(z *sortedSet) {
		if z == nil {
			return
		}
		for _, id := range ids {
			if x := z.byValue[leaderboardID(id)]; x != nil {
				out = append(out, rankedElement(x, rankOf(z, x)))
			}
		}
	})
	return out, nil
}
