package memory

import (
	"context"
	"math/rand/v2"

	"github.com/thaw-dev/thaw/internal/store"
)

// setMemberOverhead is the memory accounted to each member of a set on top
// of its bytes: its slot in members (a string header), its slot in index
// (a string header and an int, in a Swiss-table group with a control byte),
// both at the fill that their growth by doubling leaves on average, and the
// size-class rounding of the member's own allocation.
//
// Measured, not guessed: TestSetMemberOverhead (set_test.go) adds 100,000
// distinct members of 1 to 32 bytes to one set and compares the live heap
// (runtime.ReadMemStats after runtime.GC) before and after, less the members'
// bytes. On linux/amd64 with Go 1.26 that is 57 bytes per member; the same
// measurement at 20,000 to 200,000 members gives 56 to 80 (it depends on
// where the map and the slice are between two doublings), about 66 on
// average, hence 64.
const setMemberOverhead = 64

// set is the members of a set collection. members holds them densely, so
// that a random member is one random index away; index maps each member to
// its position in members, so that membership and removal are O(1). A
// member's string is shared by both.
type set struct {
	members []string
	index   map[string]int
	// bytes is the sum of the members' lengths: the set's payload.
	bytes int64
}

// newSet returns an empty set, ready for a write to fill.
func newSet() collection {
	return &set{index: make(map[string]int)}
}

func (s *set) kind() store.ItemType { return store.ItemSet }
func (s *set) len() int             { return len(s.members) }
func (s *set) payload() int64       { return s.bytes }
func (s *set) footprint() int64     { return s.bytes + int64(len(s.members))*setMemberOverhead }

// has reports whether member is in s.
func (s *set) has(member []byte) bool {
	_, ok := s.index[string(member)]
	return ok
}

// add inserts member, which s must not hold.
func (s *set) add(member string) {
	s.index[member] = len(s.members)
	s.members = append(s.members, member)
	s.bytes += int64(len(member))
}

// removeAt removes the member at position i, moving the last member into
// its place, and returns it.
func (s *set) removeAt(i int) string {
	member := s.members[i]
	last := len(s.members) - 1
	if i != last {
		moved := s.members[last]
		s.members[i] = moved
		s.index[moved] = i
	}
	s.members[last] = ""
	s.members = s.members[:last]
	delete(s.index, member)
	s.bytes -= int64(len(member))
	return member
}

// remove removes member if s holds it.
func (s *set) remove(member []byte) {
	if i, ok := s.index[string(member)]; ok {
		s.removeAt(i)
	}
}

// clear removes every member.
func (s *set) clear() {
	s.members = nil
	s.index = make(map[string]int)
	s.bytes = 0
}

// shrinkSetMin is the capacity below which shrink leaves a set alone.
const shrinkSetMin = 64

// shrink releases the memory of a set that has lost most of its members:
// Go maps never shrink and slices keep their capacity, so it rebuilds both
// once at most a quarter of the slots are in use. Rebuilding costs O(n) after
// at least 3n removals, so it is O(1) per removal amortised.
func (s *set) shrink() {
	if cap(s.members) < shrinkSetMin || len(s.members) > cap(s.members)/4 {
		return
	}
	members := make([]string, len(s.members), 2*len(s.members))
	copy(members, s.members)
	index := make(map[string]int, len(members))
	for i, m := range members {
		index[m] = i
	}
	s.members, s.index = members, index
}

// sample returns k distinct members chosen uniformly at random, 0 <= k <=
// len(s.members), without changing s.
func (s *set) sample(k int) [][]byte {
	n := len(s.members)
	out := make([][]byte, 0, k)
	if 2*k > n {
		// Most of the set: shuffle a copy and keep a prefix.
		all := make([]string, n)
		copy(all, s.members)
		for i := range k {
			j := i + rand.IntN(n-i)
			all[i], all[j] = all[j], all[i]
			out = append(out, []byte(all[i]))
		}
		return out
	}
	// A small part: Floyd's algorithm picks k distinct indexes with k draws.
	chosen := make(map[int]struct{}, k)
	for j := n - k; j < n; j++ {
		i := rand.IntN(j + 1)
		if _, dup := chosen[i]; dup {
			i = j
		}
		chosen[i] = struct{}{}
		out = append(out, []byte(s.members[i]))
	}
	return out
}

// setOp is the collectionOp of a set operation that neither creates the set
// nor touches its TTL.
func setOp(name string) collectionOp {
	return collectionOp{name: name, kind: store.ItemSet}
}

// asSet is c, which withCollection has checked to be a set.
func asSet(c collection) *set { return c.(*set) }

// SetUnion adds elements to the set under key, creating it if missing.
func (s *Store) SetUnion(_ context.Context, cacheName string, key []byte, elements [][]byte, w store.CollectionWrite) error {
	op := collectionOp{name: "set union", kind: store.ItemSet, write: &w, create: newSet}
	_, err := s.withCollection(cacheName, key, op, func(c collection, r room) error {
		st := asSet(c)
		// Size the new members first, counting repeats in elements once.
		var grow int64
		var fresh map[string]struct{}
		for _, e := range elements {
			if st.has(e) {
				continue
			}
			if _, dup := fresh[string(e)]; dup {
				continue
			}
			if fresh == nil {
				fresh = make(map[string]struct{}, len(elements))
			}
			fresh[string(e)] = struct{}{}
			grow += int64(len(e))
		}
		if !r.fits(grow) {
			return tooLarge(op.name, grow, r)
		}
		for _, e := range elements {
			if !st.has(e) {
				st.add(string(e))
			}
		}
		return nil
	})
	return err
}

// SetRemove removes elements from the set under key.
func (s *Store) SetRemove(_ context.Context, cacheName string, key []byte, elements [][]byte) (bool, error) {
	return s.withCollection(cacheName, key, setOp("set remove"), func(c collection, _ room) error {
		st := asSet(c)
		for _, e := range elements {
			st.remove(e)
		}
		st.shrink()
		return nil
	})
}

// SetSubtractFrom replaces the set under key with the members of minuend it
// does not hold.
func (s *Store) SetSubtractFrom(_ context.Context, cacheName string, key []byte, minuend [][]byte, maxSize int) (bool, error) {
	const name = "set subtract from"
	return s.withCollection(cacheName, key, setOp(name), func(c collection, _ room) error {
		st := asSet(c)
		var keep []string
		seen := make(map[string]struct{}, len(minuend))
		var size int64
		for _, e := range minuend {
			if st.has(e) {
				continue
			}
			if _, dup := seen[string(e)]; dup {
				continue
			}
			seen[string(e)] = struct{}{}
			keep = append(keep, string(e))
			size += int64(len(e))
		}
		if maxSize > 0 {
			if r := room(int64(maxSize) - int64(len(key))); !r.fits(size) {
				return tooLarge(name, size, r)
			}
		}
		st.clear()
		for _, m := range keep {
			st.add(m)
		}
		return nil
	})
}

// SetDelete deletes the set under key.
func (s *Store) SetDelete(_ context.Context, cacheName string, key []byte) (bool, error) {
	return s.withCollection(cacheName, key, setOp("set delete"), func(c collection, _ room) error {
		asSet(c).clear()
		return nil
	})
}

// SetFetch returns every member of the set under key.
func (s *Store) SetFetch(_ context.Context, cacheName string, key []byte) ([][]byte, bool, error) {
	var out [][]byte
	found, err := s.withCollection(cacheName, key, setOp("set fetch"), func(c collection, _ room) error {
		st := asSet(c)
		out = make([][]byte, len(st.members))
		for i, m := range st.members {
			out[i] = []byte(m)
		}
		return nil
	})
	return out, found, err
}

// SetSample returns up to limit distinct random members of the set under key.
func (s *Store) SetSample(_ context.Context, cacheName string, key []byte, limit int) ([][]byte, bool, error) {
	var out [][]byte
	found, err := s.withCollection(cacheName, key, setOp("set sample"), func(c collection, _ room) error {
		st := asSet(c)
		out = st.sample(min(max(limit, 0), len(st.members)))
		return nil
	})
	return out, found, err
}

// SetContains reports for each element whether the set under key holds it.
func (s *Store) SetContains(_ context.Context, cacheName string, key []byte, elements [][]byte) ([]bool, bool, error) {
	var contains []bool
	found, err := s.withCollection(cacheName, key, setOp("set contains"), func(c collection, _ room) error {
		st := asSet(c)
		contains = make([]bool, len(elements))
		for i, e := range elements {
			contains[i] = st.has(e)
		}
		return nil
	})
	return contains, found, err
}

// SetLength returns the number of members of the set under key.
func (s *Store) SetLength(_ context.Context, cacheName string, key []byte) (int, bool, error) {
	var n int
	found, err := s.withCollection(cacheName, key, setOp("set length"), func(c collection, _ room) error {
		n = c.len()
		return nil
	})
	return n, found, err
}

// SetPop removes and returns up to count random members of the set under key.
func (s *Store) SetPop(_ context.Context, cacheName string, key []byte, count int) ([][]byte, bool, error) {
	var out [][]byte
	found, err := s.withCollection(cacheName, key, setOp("set pop"), func(c collection, _ room) error {
		st := asSet(c)
		k := min(max(count, 0), len(st.members))
		out = make([][]byte, 0, k)
		if k == len(st.members) {
			for _, m := range st.members {
				out = append(out, []byte(m))
			}
			st.clear()
			return nil
		}
		for range k {
			out = append(out, []byte(st.removeAt(rand.IntN(len(st.members)))))
		}
		st.shrink()
		return nil
	})
	return out, found, err
}
