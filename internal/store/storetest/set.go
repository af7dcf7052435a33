package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/internal/store"
)

// setWrite is the CollectionWrite of set writes that set no particular TTL:
// long, refreshed on every write, no size bound.
var setWrite = store.CollectionWrite{TTL: longTTL, RefreshTTL: true}

// setStrings converts members to sorted strings: sets have no order, so
// comparisons and messages use this one.
func setStrings(members [][]byte) []string {
	out := make([]string, len(members))
	for i, m := range members {
		out[i] = string(m)
	}
	slices.Sort(out)
	return out
}

// sortedCopy returns ss sorted, leaving ss alone.
func sortedCopy(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}

// setAdd is SetUnion with setWrite that fails t on an error.
func setAdd(t *testing.T, s store.Store, key string, members ...string) {
	t.Helper()
	if err := s.SetUnion(t.Context(), testCache, []byte(key), keys(members...), setWrite); err != nil {
		t.Fatalf("SetUnion(%q, %q) = %v, want nil", key, members, err)
	}
}

// setContents returns the members of the set key, sorted, and whether it
// exists.
func setContents(t *testing.T, s store.Store, key string) ([]string, bool) {
	t.Helper()
	members, found, err := s.SetFetch(t.Context(), testCache, []byte(key))
	if err != nil {
		t.Fatalf("SetFetch(%q) = %v, want nil error", key, err)
	}
	return setStrings(members), found
}

// checkSet fails t unless the set key holds exactly want (in any order), or
// is missing when want is nil. A missing set must also be missing for
// SetLength, ItemType and KeysExist; an existing one must be an ItemSet.
func checkSet(t *testing.T, s store.Store, key string, want []string) {
	t.Helper()
	ctx := t.Context()
	got, found := setContents(t, s, key)
	n, lenFound, err := s.SetLength(ctx, testCache, []byte(key))
	if err != nil {
		t.Fatalf("SetLength(%q) = %v, want nil error", key, err)
	}
	typ, typeFound, err := s.ItemType(ctx, testCache, []byte(key))
	if err != nil {
		t.Fatalf("ItemType(%q) = %v, want nil error", key, err)
	}
	if want == nil {
		if found || lenFound || typeFound {
			t.Errorf("set %q: SetFetch = %q, found %v; SetLength = %d, found %v; ItemType found %v; want not found", key, got, found, n, lenFound, typeFound)
		}
		exist, err := s.KeysExist(ctx, testCache, keys(key))
		if err != nil || !slices.Equal(exist, []bool{false}) {
			t.Errorf("KeysExist(%q) = %v, %v; want [false]", key, exist, err)
		}
		return
	}
	if want := sortedCopy(want); !found || !slices.Equal(got, want) {
		t.Errorf("SetFetch(%q) = %q, found %v; want %q", key, got, found, want)
	}
	if !lenFound || n != len(want) {
		t.Errorf("SetLength(%q) = %d, found %v; want %d", key, n, lenFound, len(want))
	}
	if !typeFound || typ != store.ItemSet {
		t.Errorf("ItemType(%q) = %v, found %v; want %v", key, typ, typeFound, store.ItemSet)
	}
}

// checkDistinctSubset fails t unless got holds n distinct members of set.
func checkDistinctSubset(t *testing.T, call string, got [][]byte, set []string, n int) {
	t.Helper()
	if len(got) != n {
		t.Errorf("%s returned %d members %q, want %d", call, len(got), setStrings(got), n)
	}
	seen := map[string]bool{}
	for _, m := range got {
		if seen[string(m)] {
			t.Errorf("%s returned %q twice", call, m)
		}
		seen[string(m)] = true
		if !slices.Contains(set, string(m)) {
			t.Errorf("%s returned %q, not a member of %q", call, m, set)
		}
	}
}

// testSet is the conformance section of the Set operations.
func (h harness) testSet(t *testing.T) {
	t.Run("Union", h.testSetUnion)
	t.Run("Remove", h.testSetRemove)
	t.Run("SubtractFrom", h.testSetSubtractFrom)
	t.Run("Delete", h.testSetDelete)
	t.Run("Fetch", h.testSetFetch)
	t.Run("Sample", h.testSetSample)
	t.Run("Contains", h.testSetContains)
	t.Run("Length", h.testSetLength)
	t.Run("Pop", h.testSetPop)
	t.Run("Missing", h.testSetMissing)
	t.Run("WrongType", h.testSetWrongType)
	t.Run("TTL", h.testSetTTL)
	t.Run("ItemTooLarge", h.testSetItemTooLarge)
	t.Run("Binary", h.testSetBinary)
	t.Run("UnknownCache", h.testSetUnknownCache)
	t.Run("Concurrency", h.testSetConcurrency)
	t.Run("Model", h.testSetModel)
}

// testSetUnion covers adding members: creation, duplicates in the set and
// in the request, and requests that add nothing.
func (h harness) testSetUnion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		initial []string // nil: the set is missing
		add     []string
		want    []string // nil: the set must be missing afterwards
	}{
		{"CreatesMissing", nil, []string{"a", "b"}, []string{"a", "b"}},
		{"AddsNew", []string{"a"}, []string{"b", "c"}, []string{"a", "b", "c"}},
		{"ExistingOnce", []string{"a", "b"}, []string{"b", "a", "c"}, []string{"a", "b", "c"}},
		{"AllExisting", []string{"a", "b"}, []string{"a"}, []string{"a", "b"}},
		{"RepeatsInRequest", nil, []string{"x", "x", "y", "x"}, []string{"x", "y"}},
		{"EmptyMember", []string{"a"}, []string{""}, []string{"", "a"}},
		{"OnlyEmptyMember", nil, []string{"", ""}, []string{""}},
		{"NothingOnMissing", nil, []string{}, nil},
		{"NothingOnExisting", []string{"a"}, nil, []string{"a"}},
	}
	s := h.openWithCache(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.initial != nil {
				setAdd(t, s, tc.name, tc.initial...)
			}
			if err := s.SetUnion(t.Context(), testCache, []byte(tc.name), keys(tc.add...), setWrite); err != nil {
				t.Fatalf("SetUnion(%q, %q) = %v, want nil", tc.name, tc.add, err)
			}
			checkSet(t, s, tc.name, tc.want)
		})
	}
}

// testSetRemove covers removing members: absent members are ignored, and a
// set left empty disappears.
func (h harness) testSetRemove(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		initial []string // nil: the set is missing
		remove  []string
		want    []string // nil: the set must be missing afterwards
	}{
		{"Some", []string{"a", "b", "c"}, []string{"a", "c"}, []string{"b"}},
		{"Absent", []string{"a", "b"}, []string{"x", "y"}, []string{"a", "b"}},
		{"Mixed", []string{"a", "b"}, []string{"x", "b", "b"}, []string{"a"}},
		{"Nothing", []string{"a"}, nil, []string{"a"}},
		{"EmptyMember", []string{"", "a"}, []string{""}, []string{"a"}},
		{"Last", []string{"a"}, []string{"a"}, nil},
		{"All", []string{"a", "b", "c"}, []string{"c", "b", "a", "z"}, nil},
		{"MissingSet", nil, []string{"a"}, nil},
	}
	s := h.openWithCache(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.initial != nil {
				setAdd(t, s, tc.name, tc.initial...)
			}
			found, err := s.SetRemove(t.Context(), testCache, []byte(tc.name), keys(tc.remove...))
			if err != nil || found != (tc.initial != nil) {
				t.Fatalf("SetRemove(%q, %q) = %v, %v; want %v, nil", tc.name, tc.remove, found, err, tc.initial != nil)
			}
			checkSet(t, s, tc.name, tc.want)
		})
	}

	t.Run("ThenUnionStartsOver", func(t *testing.T) {
		t.Parallel()
		setAdd(t, s, "again", "a", "b")
		if _, err := s.SetRemove(t.Context(), testCache, []byte("again"), keys("a", "b")); err != nil {
			t.Fatalf("SetRemove(again, a, b) = %v, want nil", err)
		}
		setAdd(t, s, "again", "c")
		checkSet(t, s, "again", []string{"c"})
	})
}

// testSetSubtractFrom covers the minuend form of the protocol's difference:
// the set becomes the request's elements minus its members.
func (h harness) testSetSubtractFrom(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		initial []string // nil: the set is missing
		minuend []string
		want    []string // nil: the set must be missing afterwards
	}{
		{"Overlap", []string{"a", "b"}, []string{"b", "c", "d"}, []string{"c", "d"}},
		{"Disjoint", []string{"a"}, []string{"x", "y"}, []string{"x", "y"}},
		{"Repeats", []string{"a"}, []string{"x", "x", "a"}, []string{"x"}},
		{"Subset", []string{"a", "b", "c"}, []string{"a", "c"}, nil},
		{"Empty", []string{"a"}, nil, nil},
		{"MissingSet", nil, []string{"a", "b"}, nil},
	}
	s := h.openWithCache(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.initial != nil {
				setAdd(t, s, tc.name, tc.initial...)
			}
			found, err := s.SetSubtractFrom(t.Context(), testCache, []byte(tc.name), keys(tc.minuend...), 0)
			if err != nil || found != (tc.initial != nil) {
				t.Fatalf("SetSubtractFrom(%q, %q) = %v, %v; want %v, nil", tc.name, tc.minuend, found, err, tc.initial != nil)
			}
			checkSet(t, s, tc.name, tc.want)
		})
	}
}

// testSetDelete covers deleting a whole set through the Set operations.
func (h harness) testSetDelete(t *testing.T) {
	t.Parallel()
	s := h.openWithCache(t)
	ctx := t.Context()
	setAdd(t, s, "doomed", "a", "b", "c")
	if found, err := s.SetDelete(ctx, testCache, []byte("doomed")); err != nil || !found {
		t.Fatalf("SetDelete(doomed) = %v, %v; want true, nil", found, err)
	}
	checkSet(t, s, "doomed", nil)
	if found, err := s.SetDelete(ctx, testCache, []byte("doomed")); err != nil || found {
		t.Errorf("SetDelete(doomed) again = %v, %v; want false, nil", found, err)
	}
	setAdd(t, s, "doomed", "d")
	checkSet(t, s, "doomed", []string{"d"})
}

// testSetFetch covers reading whole sets of several sizes.
func (h harness) testSetFetch(t *testing.T) {
	t.Parallel()
	s := h.openWithCache(t)
	for _, n := range []int{1, 2, 100, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			key := fmt.Sprintf("fetch-%d", n)
			members := make([]string, n)
			for i := range members {
				members[i] = fmt.Sprintf("m%05d", i)
			}
			setAdd(t, s, key, members...)
			checkSet(t, s, key, members)
		})
	}
}

// testSetSample covers sampling: as many distinct members as asked, up to
// the whole set, none for a limit of 0, and the set left unchanged.
func (h harness) testSetSample(t *testing.T) {
	t.Parallel()
	s := h.openWithCache(t)
	ctx := t.Context()
	members := []string{"a", "b", "c", "d", "e"}
	setAdd(t, s, "five", members...)
	for _, tc := range []struct {
		limit, want int
	}{{0, 0}, {1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}, {6, 5}, {1000, 5}, {-1, 0}} {
		t.Run(fmt.Sprint(tc.limit), func(t *testing.T) {
			got, found, err := s.SetSample(ctx, testCache, []byte("five"), tc.limit)
			if err != nil || !found {
				t.Fatalf("SetSample(five, %d) = %q, %v, %v; want %d members, true, nil", tc.limit, got, found, err, tc.want)
			}
			if got == nil {
				t.Errorf("SetSample(five, %d) = nil, want a non-nil slice", tc.limit)
			}
			checkDistinctSubset(t, fmt.Sprintf("SetSample(five, %d)", tc.limit), got, members, tc.want)
		})
	}
	checkSet(t, s, "five", members)

	t.Run("Random", func(t *testing.T) {
		// Samples of one must not always be the same member. A uniform
		// sampler repeats one member 200 times with chance 5·(1/5)^200.
		seen := map[string]bool{}
		for range 200 {
			got, _, err := s.SetSample(ctx, testCache, []byte("five"), 1)
			if err != nil || len(got) != 1 {
				t.Fatalf("SetSample(five, 1) = %q, %v; want one member", got, err)
			}
			seen[string(got[0])] = true
		}
		if len(seen) < 2 {
			t.Errorf("200 SetSample(five, 1) returned only %v, want random members", seen)
		}
	})
}

// testSetContains covers per-element membership, in request order.
func (h harness) testSetContains(t *testing.T) {
	t.Parallel()
	s := h.openWithCache(t)
	setAdd(t, s, "abc", "a", "b", "c", "")
	tests := []struct {
		name     string
		elements []string
		want     []bool
	}{
		{"One", []string{"a"}, []bool{true}},
		{"Absent", []string{"z"}, []bool{false}},
		{"Order", []string{"z", "c", "y", "a"}, []bool{false, true, false, true}},
		{"Repeats", []string{"b", "b", "x", "x"}, []bool{true, true, false, false}},
		{"EmptyMember", []string{"", "a"}, []bool{true, true}},
		{"Prefix", []string{"ab", "A"}, []bool{false, false}},
		{"None", []string{}, []bool{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, found, err := s.SetContains(t.Context(), testCache, []byte("abc"), keys(tc.elements...))
			if err != nil || !found || !slices.Equal(got, tc.want) || got == nil {
				t.Errorf("SetContains(abc, %q) = %v, %v, %v; want %v, true, nil", tc.elements, got, found, err, tc.want)
			}
		})
	}
}

// testSetLength covers the length as members come and go.
func (h harness) testSetLength(t *testing.T) {
	t.Parallel()
	s := h.openWithCache(t)
	ctx := t.Context()
	length := func(want int, wantFound bool) {
		t.Helper()
		n, found, err := s.SetLength(ctx, testCache, []byte("len"))
		if err != nil || found != wantFound || n != want {
			t.Errorf("SetLength(len) = %d, %v, %v; want %d, %v, nil", n, found, err, want, wantFound)
		}
	}
	length(0, false)
	setAdd(t, s, "len", "a", "b", "c")
	length(3, true)
	setAdd(t, s, "len", "c", "d")
	length(4, true)
	if _, err := s.SetRemove(ctx, testCache, []byte("len"), keys("a", "z")); err != nil {
		t.Fatalf("SetRemove(len) = %v, want nil", err)
	}
	length(3, true)
	if _, _, err := s.SetPop(ctx, testCache, []byte("len"), 2); err != nil {
		t.Fatalf("SetPop(len, 2) = %v, want nil", err)
	}
	length(1, true)
	if _, _, err := s.SetPop(ctx, testCache, []byte("len"), 1); err != nil {
		t.Fatalf("SetPop(len, 1) = %v, want nil", err)
	}
	length(0, false)
}

// testSetPop covers popping fewer, as many and more members than the set
// holds, popping nothing, and popping a set empty one member at a time.
func (h harness) testSetPop(t *testing.T) {
	t.Parallel()
	s := h.openWithCache(t)
	members := []string{"a", "b", "c", "d", "e"}
	for _, tc := range []struct {
		count, want int
	}{{0, 0}, {-1, 0}, {1, 1}, {3, 3}, {4, 4}, {5, 5}, {6, 5}, {1000, 5}} {
		t.Run(fmt.Sprint(tc.count), func(t *testing.T) {
			t.Parallel()
			key := fmt.Sprintf("pop%d", tc.count)
			setAdd(t, s, key, members...)
			got, found, err := s.SetPop(t.Context(), testCache, []byte(key), tc.count)
			if err != nil || !found || got == nil {
				t.Fatalf("SetPop(%s, %d) = %q, %v, %v; want %d members, true, nil", key, tc.count, got, found, err, tc.want)
			}
			call := fmt.Sprintf("SetPop(%s, %d)", key, tc.count)
			checkDistinctSubset(t, call, got, members, tc.want)
			// What was popped is gone; the rest stays.
			var rest []string
			for _, m := range members {
				if !slices.Contains(setStrings(got), m) {
					rest = append(rest, m)
				}
			}
			checkSet(t, s, key, rest)
		})
	}

	t.Run("UntilEmpty", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		setAdd(t, s, "drain", members...)
		var popped []string
		for range members {
			got, found, err := s.SetPop(ctx, testCache, []byte("drain"), 1)
			if err != nil || !found || len(got) != 1 {
				t.Fatalf("SetPop(drain, 1) after %q = %q, %v, %v; want one member", popped, got, found, err)
			}
			popped = append(popped, string(got[0]))
		}
		if slices.Sort(popped); !slices.Equal(popped, members) {
			t.Errorf("SetPop(drain, 1) ×5 popped %q, want %q", popped, members)
		}
		checkSet(t, s, "drain", nil)
		if got, found, err := s.SetPop(ctx, testCache, []byte("drain"), 1); err != nil || found || got != nil {
			t.Errorf("SetPop(drained) = %q, %v, %v; want nil, false, nil", got, found, err)
		}
	})
}

// testSetMissing checks that every operation on a missing set reports it as
// not found, and that none but a union with elements creates it.
func (h harness) testSetMissing(t *testing.T) {
	t.Parallel()
	s := h.openWithCache(t)
	ctx := t.Context()
	key := []byte("missing")
	if got, found, err := s.SetFetch(ctx, testCache, key); err != nil || found || got != nil {
		t.Errorf("SetFetch(missing) = %q, %v, %v; want nil, false, nil", got, found, err)
	}
	if got, found, err := s.SetSample(ctx, testCache, key, 3); err != nil || found || got != nil {
		t.Errorf("SetSample(missing, 3) = %q, %v, %v; want nil, false, nil", got, found, err)
	}
	if got, found, err := s.SetSample(ctx, testCache, key, 0); err != nil || found || got != nil {
		t.Errorf("SetSample(missing, 0) = %q, %v, %v; want nil, false, nil", got, found, err)
	}
	if got, found, err := s.SetContains(ctx, testCache, key, keys("a", "b")); err != nil || found || got != nil {
		t.Errorf("SetContains(missing) = %v, %v, %v; want nil, false, nil", got, found, err)
	}
	if n, found, err := s.SetLength(ctx, testCache, key); err != nil || found || n != 0 {
		t.Errorf("SetLength(missing) = %d, %v, %v; want 0, false, nil", n, found, err)
	}
	if got, found, err := s.SetPop(ctx, testCache, key, 2); err != nil || found || got != nil {
		t.Errorf("SetPop(missing, 2) = %q, %v, %v; want nil, false, nil", got, found, err)
	}
	if found, err := s.SetRemove(ctx, testCache, key, keys("a")); err != nil || found {
		t.Errorf("SetRemove(missing) = %v, %v; want false, nil", found, err)
	}
	if found, err := s.SetSubtractFrom(ctx, testCache, key, keys("a"), 0); err != nil || found {
		t.Errorf("SetSubtractFrom(missing) = %v, %v; want false, nil", found, err)
	}
	if found, err := s.SetDelete(ctx, testCache, key); err != nil || found {
		t.Errorf("SetDelete(missing) = %v, %v; want false, nil", found, err)
	}
	if err := s.SetUnion(ctx, testCache, key, nil, setWrite); err != nil {
		t.Errorf("SetUnion(missing, nothing) = %v, want nil", err)
	}
	checkSet(t, s, "missing", nil)
}

// setOps calls every Set operation on key, for the tests that check the
// error of each. Writes add members that fit any bound.
var setOps = []struct {
	name string
	call func(ctx context.Context, s store.Store, cache string, key []byte) error
}{
	{"SetUnion", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		return s.SetUnion(ctx, cache, key, keys("v"), setWrite)
	}},
	{"SetUnion(nothing)", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		return s.SetUnion(ctx, cache, key, nil, setWrite)
	}},
	{"SetRemove", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, err := s.SetRemove(ctx, cache, key, keys("v"))
		return err
	}},
	{"SetSubtractFrom", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, err := s.SetSubtractFrom(ctx, cache, key, keys("w"), 0)
		return err
	}},
	{"SetDelete", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, err := s.SetDelete(ctx, cache, key)
		return err
	}},
	{"SetFetch", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, _, err := s.SetFetch(ctx, cache, key)
		return err
	}},
	{"SetSample", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, _, err := s.SetSample(ctx, cache, key, 2)
		return err
	}},
	{"SetContains", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, _, err := s.SetContains(ctx, cache, key, keys("v"))
		return err
	}},
	{"SetLength", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, _, err := s.SetLength(ctx, cache, key)
		return err
	}},
	{"SetPop", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, _, err := s.SetPop(ctx, cache, key, 1)
		return err
	}},
}

// testSetWrongType checks that every Set operation refuses a key holding a
// scalar or another collection, and leaves it unchanged; and that scalar
// and other collection operations refuse a set.
func (h harness) testSetWrongType(t *testing.T) {
	t.Parallel()
	s := h.openWithCache(t)
	ctx := t.Context()
	mustSet(t, s, testCache, []byte("scalar"), []byte("v"), longTTL)
	dict := []store.DictionaryField{{Field: []byte("f"), Value: []byte("v")}}
	if err := s.DictionarySet(ctx, testCache, []byte("dictionary"), dict, setWrite); err != nil {
		t.Fatalf("DictionarySet(dictionary) = %v, want nil", err)
	}
	for _, op := range setOps {
		t.Run(op.name, func(t *testing.T) {
			errorIs(t, op.name+" on a scalar", op.call(ctx, s, testCache, []byte("scalar")), store.ErrWrongType)
			checkValue(t, s, testCache, []byte("scalar"), []byte("v"))
			errorIs(t, op.name+" on a dictionary", op.call(ctx, s, testCache, []byte("dictionary")), store.ErrWrongType)
			if n, found, err := s.DictionaryLength(ctx, testCache, []byte("dictionary")); err != nil || !found || n != 1 {
				t.Errorf("DictionaryLength(dictionary) after %s = %d, %v, %v; want 1, true, nil", op.name, n, found, err)
			}
		})
	}

	t.Run("OtherOpsOnSet", func(t *testing.T) {
		setAdd(t, s, "set", "a")
		_, _, err := s.Get(ctx, testCache, []byte("set"))
		errorIs(t, "Get(set)", err, store.ErrWrongType)
		_, err = s.Increment(ctx, testCache, []byte("set"), 1, longTTL)
		errorIs(t, "Increment(set)", err, store.ErrWrongType)
		_, err = s.SetIf(ctx, testCache, []byte("set"), []byte("v"), longTTL, store.Condition{Kind: store.Present})
		errorIs(t, "SetIf(set, present)", err, store.ErrWrongType)
		err = s.DictionarySet(ctx, testCache, []byte("set"), dict, setWrite)
		errorIs(t, "DictionarySet(set)", err, store.ErrWrongType)
		checkSet(t, s, "set", []string{"a"})

		// Set replaces whatever the key held; Delete removes it.
		mustSet(t, s, testCache, []byte("set"), []byte("scalar now"), longTTL)
		checkValue(t, s, testCache, []byte("set"), []byte("scalar now"))
		setAdd(t, s, "deleted", "a", "b")
		if err := s.Delete(ctx, testCache, []byte("deleted")); err != nil {
			t.Fatalf("Delete(deleted) = %v, want nil", err)
		}
		checkSet(t, s, "deleted", nil)
	})
}

// testSetTTL covers the TTL rules of set writes: set on creation, reset by
// unions with RefreshTTL (even those that add nothing) and kept by the
// others and by every removal.
func (h harness) testSetTTL(t *testing.T) {
	t.Parallel()
	s := h.openWithCache(t)
	ctx := t.Context()
	const ttl = time.Minute
	// Each union starts from a set created with ttl, then writes with
	// longTTL: a refresh moves the expiry above ttl, no refresh keeps it.
	unions := []struct {
		name     string
		elements []string
	}{
		{"AddsNew", []string{"x", "y"}},
		{"AddsNothingNew", []string{"a"}},
		{"Empty", nil},
	}
	for _, u := range unions {
		t.Run(u.name+"/Refresh", func(t *testing.T) {
			t.Parallel()
			key := u.name + "-refresh"
			if err := s.SetUnion(ctx, testCache, []byte(key), keys("a", "b"), store.CollectionWrite{TTL: ttl}); err != nil {
				t.Fatalf("SetUnion(%s, ttl %v) = %v, want nil", key, ttl, err)
			}
			if err := s.SetUnion(ctx, testCache, []byte(key), keys(u.elements...), store.CollectionWrite{TTL: longTTL, RefreshTTL: true}); err != nil {
				t.Fatalf("SetUnion(%s, %q, refresh) = %v, want nil", key, u.elements, err)
			}
			checkRemaining(t, s, testCache, []byte(key), ttl, longTTL)
		})
		t.Run(u.name+"/NoRefresh", func(t *testing.T) {
			t.Parallel()
			key := u.name + "-no-refresh"
			if err := s.SetUnion(ctx, testCache, []byte(key), keys("a", "b"), store.CollectionWrite{TTL: ttl, RefreshTTL: true}); err != nil {
				t.Fatalf("SetUnion(%s, ttl %v) = %v, want nil", key, ttl, err)
			}
			if err := s.SetUnion(ctx, testCache, []byte(key), keys(u.elements...), store.CollectionWrite{TTL: longTTL}); err != nil {
				t.Fatalf("SetUnion(%s, %q, no refresh) = %v, want nil", key, u.elements, err)
			}
			checkRemaining(t, s, testCache, []byte(key), 0, ttl)
		})
	}

	t.Run("RemovalsKeepTTL", func(t *testing.T) {
		t.Parallel()
		key := []byte("removals")
		if err := s.SetUnion(ctx, testCache, key, keys("a", "b", "c", "d", "e"), store.CollectionWrite{TTL: ttl}); err != nil {
			t.Fatalf("SetUnion(removals) = %v, want nil", err)
		}
		if _, err := s.SetRemove(ctx, testCache, key, keys("a")); err != nil {
			t.Fatalf("SetRemove(removals) = %v, want nil", err)
		}
		if _, _, err := s.SetPop(ctx, testCache, key, 1); err != nil {
			t.Fatalf("SetPop(removals) = %v, want nil", err)
		}
		if _, err := s.SetSubtractFrom(ctx, testCache, key, keys("a", "z"), 0); err != nil {
			t.Fatalf("SetSubtractFrom(removals) = %v, want nil", err)
		}
		checkSet(t, s, "removals", []string{"a", "z"})
		checkRemaining(t, s, testCache, key, 0, ttl)
	})

	t.Run("CreatedWithTTLWithoutRefresh", func(t *testing.T) {
		t.Parallel()
		// Creation sets the TTL whatever RefreshTTL says; a later union
		// without refresh does not extend it.
		key := []byte("expires")
		if err := s.SetUnion(ctx, testCache, key, keys("one"), store.CollectionWrite{TTL: shortTTL}); err != nil {
			t.Fatalf("SetUnion(expires, short ttl) = %v, want nil", err)
		}
		if err := s.SetUnion(ctx, testCache, key, keys("two"), store.CollectionWrite{TTL: longTTL}); err != nil {
			t.Fatalf("SetUnion(expires, no refresh) = %v, want nil", err)
		}
		eventually(t, "the set to expire", func() bool {
			_, found, err := s.SetLength(ctx, testCache, key)
			if err != nil {
				t.Fatalf("SetLength(expires) = %v, want nil error", err)
			}
			return !found
		})
		checkSet(t, s, "expires", nil)
		// A union after expiry starts a new set, with the new TTL.
		setAdd(t, s, "expires", "three")
		checkSet(t, s, "expires", []string{"three"})
		checkRemaining(t, s, testCache, key, longTTL-time.Minute, longTTL)
	})

	t.Run("ExpiredIsMissing", func(t *testing.T) {
		t.Parallel()
		key := []byte("expired")
		if err := s.SetUnion(ctx, testCache, key, keys("a", "b"), store.CollectionWrite{TTL: shortTTL}); err != nil {
			t.Fatalf("SetUnion(expired, short ttl) = %v, want nil", err)
		}
		time.Sleep(shortTTL)
		eventually(t, "the set to expire", func() bool {
			_, found := mustItemTTL(t, s, testCache, key)
			return !found
		})
		if got, found, err := s.SetContains(ctx, testCache, key, keys("a")); err != nil || found {
			t.Errorf("SetContains(expired) = %v, %v, %v; want not found", got, found, err)
		}
		if got, found, err := s.SetPop(ctx, testCache, key, 5); err != nil || found {
			t.Errorf("SetPop(expired) = %q, %v, %v; want not found", got, found, err)
		}
		if found, err := s.SetSubtractFrom(ctx, testCache, key, keys("x"), 0); err != nil || found {
			t.Errorf("SetSubtractFrom(expired) = %v, %v; want not found", found, err)
		}
		checkSet(t, s, "expired", nil)
	})
}

// testSetItemTooLarge covers CollectionWrite.MaxSize and the maxSize of
// SetSubtractFrom: a write that would make the key plus the members exceed
// it fails and changes nothing; members already present and repeats add no
// bytes.
func (h harness) testSetItemTooLarge(t *testing.T) {
	t.Parallel()
	s := h.openWithCache(t)
	ctx := t.Context()
	// Keys are 3 bytes, so 10 bytes of members fit.
	bounded := store.CollectionWrite{TTL: longTTL, RefreshTTL: true, MaxSize: 13}
	union := func(key string, members ...string) error {
		return s.SetUnion(ctx, testCache, []byte(key), keys(members...), bounded)
	}

	t.Run("NewSetTooLarge", func(t *testing.T) {
		t.Parallel()
		errorIs(t, "SetUnion(new, 11 bytes)", union("new", "0123456789x"), store.ErrItemTooLarge)
		errorIs(t, "SetUnion(new, 3 members of 11 bytes)", union("new", "01234", "56789", "x"), store.ErrItemTooLarge)
		checkSet(t, s, "new", nil)
	})

	t.Run("Exact", func(t *testing.T) {
		t.Parallel()
		if err := union("exa", "01234", "56789"); err != nil {
			t.Fatalf("SetUnion(exa, 10 bytes) = %v, want nil", err)
		}
		// Present members, repeats and the empty member add no bytes.
		if err := union("exa", "01234", "", "", "56789"); err != nil {
			t.Fatalf("SetUnion(exa, present members and the empty one) = %v, want nil", err)
		}
		errorIs(t, "SetUnion(exa, 1 byte over)", union("exa", "x"), store.ErrItemTooLarge)
		checkSet(t, s, "exa", []string{"", "01234", "56789"})
	})

	t.Run("RepeatsCountOnce", func(t *testing.T) {
		t.Parallel()
		if err := union("rep", "01234", "01234", "01234"); err != nil {
			t.Fatalf("SetUnion(rep, one 5-byte member three times) = %v, want nil", err)
		}
		checkSet(t, s, "rep", []string{"01234"})
	})

	t.Run("GrowthTooLarge", func(t *testing.T) {
		t.Parallel()
		if err := union("gro", "0123", "4567"); err != nil {
			t.Fatalf("SetUnion(gro, 8 bytes) = %v, want nil", err)
		}
		errorIs(t, "SetUnion(gro, 3 more bytes)", union("gro", "a", "bc"), store.ErrItemTooLarge)
		checkSet(t, s, "gro", []string{"0123", "4567"})
		// A refused write does not refresh the TTL either.
		checkRemaining(t, s, testCache, []byte("gro"), longTTL-time.Minute, longTTL)
	})

	t.Run("RemovalMakesRoom", func(t *testing.T) {
		t.Parallel()
		if err := union("rem", "01234", "56789"); err != nil {
			t.Fatalf("SetUnion(rem, 10 bytes) = %v, want nil", err)
		}
		if _, err := s.SetRemove(ctx, testCache, []byte("rem"), keys("01234")); err != nil {
			t.Fatalf("SetRemove(rem) = %v, want nil", err)
		}
		if err := union("rem", "abcde"); err != nil {
			t.Errorf("SetUnion(rem, 5 bytes into the freed room) = %v, want nil", err)
		}
		checkSet(t, s, "rem", []string{"56789", "abcde"})
	})

	t.Run("SubtractFrom", func(t *testing.T) {
		t.Parallel()
		setAdd(t, s, "sub", "a")
		found, err := s.SetSubtractFrom(ctx, testCache, []byte("sub"), keys("a", "0123456789x"), 13)
		errorIs(t, "SetSubtractFrom(sub, 11 new bytes, max 13)", err, store.ErrItemTooLarge)
		if !found {
			t.Errorf("SetSubtractFrom(sub, too large) found = false, want true")
		}
		checkSet(t, s, "sub", []string{"a"})
		// The members it replaces do not count: 10 new bytes fit.
		if found, err := s.SetSubtractFrom(ctx, testCache, []byte("sub"), keys("a", "0123456789"), 13); err != nil || !found {
			t.Errorf("SetSubtractFrom(sub, 10 new bytes, max 13) = %v, %v; want true, nil", found, err)
		}
		checkSet(t, s, "sub", []string{"0123456789"})
	})
}

// testSetBinary checks that keys and members are arbitrary bytes, compared
// bytewise.
func (h harness) testSetBinary(t *testing.T) {
	t.Parallel()
	s := h.openWithCache(t)
	ctx := t.Context()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	key := []byte{0, 0xff, 's', 0x80, 0}
	members := [][]byte{all, {0}, {0, 0}, {0xff, 0xfe}, {}, []byte("\xc3\x28 invalid utf-8"), []byte("a"), []byte("a\x00"), []byte("A")}
	if err := s.SetUnion(ctx, testCache, key, members, setWrite); err != nil {
		t.Fatalf("SetUnion(binary) = %v, want nil", err)
	}
	got, found, err := s.SetFetch(ctx, testCache, key)
	if want := setStrings(members); err != nil || !found || !slices.Equal(setStrings(got), want) {
		t.Fatalf("SetFetch(binary) = %q, %v, %v; want %q", setStrings(got), found, err, want)
	}
	contains, _, err := s.SetContains(ctx, testCache, key, [][]byte{{0}, {0, 0, 0}, all[:255], []byte("a\x00"), {0xff}})
	if want := []bool{true, false, false, true, false}; err != nil || !slices.Equal(contains, want) {
		t.Errorf("SetContains(binary) = %v, %v; want %v", contains, err, want)
	}
	// A key differing in one byte is another set.
	other := slices.Clone(key)
	other[len(other)-1] = 1
	if _, found, _ := s.SetLength(ctx, testCache, other); found {
		t.Errorf("SetLength(key differing in the last byte) found, want not found")
	}
	if _, err := s.SetRemove(ctx, testCache, key, [][]byte{{0}, all, []byte("a")}); err != nil {
		t.Fatalf("SetRemove(binary) = %v, want nil", err)
	}
	got, _, _ = s.SetFetch(ctx, testCache, key)
	if want := sortedCopy([]string{"\x00\x00", "\xff\xfe", "", "\xc3\x28 invalid utf-8", "a\x00", "A"}); !slices.Equal(setStrings(got), want) {
		t.Errorf("SetFetch(binary) after SetRemove = %q, want %q", setStrings(got), want)
	}
	popped, _, err := s.SetPop(ctx, testCache, key, 100)
	if want := sortedCopy([]string{"\x00\x00", "\xff\xfe", "", "\xc3\x28 invalid utf-8", "a\x00", "A"}); err != nil || !slices.Equal(setStrings(popped), want) {
		t.Errorf("SetPop(binary, 100) = %q, %v; want %q", setStrings(popped), err, want)
	}
	if _, found, _ := s.SetFetch(ctx, testCache, key); found {
		t.Errorf("SetFetch(binary) after popping everything found, want not found")
	}
}

// testSetUnknownCache checks that every Set operation fails with
// ErrCacheNotFound on a cache that does not exist.
func (h harness) testSetUnknownCache(t *testing.T) {
	t.Parallel()
	s := h.openWithCache(t)
	for _, op := range setOps {
		errorIs(t, op.name+" on an unknown cache", op.call(t.Context(), s, "no-such-cache", []byte("k")), store.ErrCacheNotFound)
	}
}

// testSetConcurrency checks that concurrent unions lose no member and that
// concurrent pops hand every member out exactly once.
func (h harness) testSetConcurrency(t *testing.T) {
	t.Parallel()
	s := h.openWithCache(t)
	ctx := t.Context()
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				// Every member is added by two writers.
				m := fmt.Sprintf("m%d-%d", w/2, i)
				if err := s.SetUnion(ctx, testCache, []byte("shared"), keys(m), setWrite); err != nil {
					t.Errorf("SetUnion(shared, %s) = %v, want nil", m, err)
					return
				}
			}
		})
	}
	wg.Wait()
	want := writers / 2 * each
	if n, found, err := s.SetLength(ctx, testCache, []byte("shared")); err != nil || !found || n != want {
		t.Fatalf("SetLength(shared) after concurrent unions = %d, %v, %v; want %d", n, found, err, want)
	}

	var mu sync.Mutex
	popped := map[string]int{}
	for range writers {
		wg.Go(func() {
			for {
				got, found, err := s.SetPop(ctx, testCache, []byte("shared"), 7)
				if err != nil {
					t.Errorf("SetPop(shared, 7) = %v, want nil", err)
					return
				}
				if !found {
					return
				}
				mu.Lock()
				for _, m := range got {
					popped[string(m)]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(popped) != want {
		t.Errorf("concurrent SetPop handed out %d distinct members, want %d", len(popped), want)
	}
	for m, n := range popped {
		if n != 1 {
			t.Errorf("concurrent SetPop handed out %q %d times, want once", m, n)
		}
	}
	checkSet(t, s, "shared", nil)
}

// testSetModel runs a long random sequence of Set operations against one
// set and a Go map, comparing the two after every step, so that a backend's
// bookkeeping (growth, removal, shrinking) meets every operation.
func (h harness) testSetModel(t *testing.T) {
	t.Parallel()
	s := h.openWithCache(t)
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(3, 4))
	key := []byte("model")
	model := map[string]bool{}
	members := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprint(rng.IntN(300))
		}
		return out
	}
	for step := range 3000 {
		var what string
		switch op := rng.IntN(10); {
		case op < 5:
			add := members(rng.IntN(40))
			what = fmt.Sprintf("SetUnion(%d members)", len(add))
			if err := s.SetUnion(ctx, testCache, key, keys(add...), setWrite); err != nil {
				t.Fatalf("step %d: %s = %v, want nil", step, what, err)
			}
			for _, m := range add {
				model[m] = true
			}
		case op < 7:
			remove := members(rng.IntN(60))
			what = fmt.Sprintf("SetRemove(%d members)", len(remove))
			if found, err := s.SetRemove(ctx, testCache, key, keys(remove...)); err != nil || found != (len(model) > 0) {
				t.Fatalf("step %d: %s = %v, %v; want %v, nil", step, what, found, err, len(model) > 0)
			}
			for _, m := range remove {
				delete(model, m)
			}
		case op < 9:
			count := rng.IntN(30)
			what = fmt.Sprintf("SetPop(%d)", count)
			got, found, err := s.SetPop(ctx, testCache, key, count)
			if err != nil || found != (len(model) > 0) {
				t.Fatalf("step %d: %s = %v, %v; want %v, nil", step, what, found, err, len(model) > 0)
			}
			if want := min(count, len(model)); len(got) != want {
				t.Fatalf("step %d: %s returned %d members, want %d", step, what, len(got), want)
			}
			for _, m := range got {
				if !model[string(m)] {
					t.Fatalf("step %d: %s returned %q, not a member", step, what, m)
				}
				delete(model, string(m))
			}
		default:
			minuend := members(rng.IntN(20))
			what = fmt.Sprintf("SetSubtractFrom(%d members)", len(minuend))
			if found, err := s.SetSubtractFrom(ctx, testCache, key, keys(minuend...), 0); err != nil || found != (len(model) > 0) {
				t.Fatalf("step %d: %s = %v, %v; want %v, nil", step, what, found, err, len(model) > 0)
			}
			if len(model) > 0 {
				next := map[string]bool{}
				for _, m := range minuend {
					if !model[m] {
						next[m] = true
					}
				}
				model = next
			}
		}
		got, found := setContents(t, s, string(key))
		want := make([]string, 0, len(model))
		for m := range model {
			want = append(want, m)
		}
		slices.Sort(want)
		if found != (len(want) > 0) || !slices.Equal(got, want) {
			t.Fatalf("step %d: after %s SetFetch = %d members, found %v; want %d members", step, what, len(got), found, len(want))
		}
	}
}
