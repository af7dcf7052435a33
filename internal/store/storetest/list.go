package storetest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/internal/store"
)

// listWrite is the CollectionWrite of list writes that set no particular
// TTL: long, refreshed on every write, no size bound.
var listWrite = store.CollectionWrite{TTL: longTTL, RefreshTTL: true}

// listSlice is the range [start:end).
func listSlice(start, end int) store.ListRange {
	return store.ListRange{Start: start, End: end, EndBounded: true}
}

// listFrom is the range [start:], to the end of the list.
func listFrom(start int) store.ListRange {
	return store.ListRange{Start: start}
}

// showRange renders a range in Python's slice notation.
func showRange(r store.ListRange) string {
	if !r.EndBounded {
		return fmt.Sprintf("[%d:]", r.Start)
	}
	return fmt.Sprintf("[%d:%d]", r.Start, r.End)
}

// listStrings converts values to strings, for comparisons and messages.
func listStrings(values [][]byte) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

// listPush is ListPush that fails t on an error and returns the length.
func listPush(t *testing.T, s store.Store, key string, end store.ListEnd, values []string, truncateTo int, w store.CollectionWrite) int {
	t.Helper()
	n, err := s.ListPush(t.Context(), testCache, []byte(key), end, keys(values...), truncateTo, w)
	if err != nil {
		t.Fatalf("ListPush(%q, %v, %q, %d) = %v, want nil", key, end, values, truncateTo, err)
	}
	return n
}

// listMake creates the list key holding values, which must not be empty.
func listMake(t *testing.T, s store.Store, key string, values ...string) {
	t.Helper()
	if n := listPush(t, s, key, store.ListBack, values, 0, listWrite); n != len(values) {
		t.Fatalf("ListPush(%q, back, %q) = %d, want %d", key, values, n, len(values))
	}
}

// listGet returns the whole list key and whether it exists.
func listGet(t *testing.T, s store.Store, key string) ([]string, bool) {
	t.Helper()
	values, found, err := s.ListFetch(t.Context(), testCache, []byte(key), store.ListRange{})
	if err != nil {
		t.Fatalf("ListFetch(%q, [:]) = %v, want nil error", key, err)
	}
	return listStrings(values), found
}

// checkList fails t unless the list key holds want, in order, or is missing
// when want is nil. A missing list must also be missing for ListLength,
// ItemType and KeysExist.
func checkList(t *testing.T, s store.Store, key string, want []string) {
	t.Helper()
	got, found := listGet(t, s, key)
	n, lenFound, err := s.ListLength(t.Context(), testCache, []byte(key))
	if err != nil {
		t.Fatalf("ListLength(%q) = %v, want nil error", key, err)
	}
	if want == nil {
		if found || lenFound {
			t.Errorf("ListFetch(%q) = %q, found; ListLength = %d, %v; want not found", key, got, n, lenFound)
		}
		typ, typeFound, err := s.ItemType(t.Context(), testCache, []byte(key))
		if err != nil || typeFound {
			t.Errorf("ItemType(%q) = %v, %v, %v; want not found", key, typ, typeFound, err)
		}
		exist, err := s.KeysExist(t.Context(), testCache, keys(key))
		if err != nil || !slices.Equal(exist, []bool{false}) {
			t.Errorf("KeysExist(%q) = %v, %v; want [false]", key, exist, err)
		}
		return
	}
	if !found || !slices.Equal(got, want) {
		t.Errorf("ListFetch(%q, [:]) = %q, found %v; want %q", key, got, found, want)
	}
	if !lenFound || n != len(want) {
		t.Errorf("ListLength(%q) = %d, found %v; want %d", key, n, lenFound, len(want))
	}
}

// listDigits is the ten-element list "0".."9" of the range tests.
var listDigits = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// testList is the conformance section of the List operations.
func (h harness) testList(t *testing.T) {
	t.Run("Push", h.testListPush)
	t.Run("Pop", h.testListPop)
	t.Run("Fetch", h.testListFetch)
	t.Run("Retain", h.testListRetain)
	t.Run("RemoveValue", h.testListRemoveValue)
	t.Run("Erase", h.testListErase)
	t.Run("Missing", h.testListMissing)
	t.Run("WrongType", h.testListWrongType)
	t.Run("TTL", h.testListTTL)
	t.Run("ItemTooLarge", h.testListItemTooLarge)
	t.Run("Binary", h.testListBinary)
	t.Run("UnknownCache", h.testListUnknownCache)
	t.Run("Model", h.testListModel)
}

// listStep is one ListPush of a table test and the length it must return.
type listStep struct {
	end        store.ListEnd
	values     []string
	truncateTo int
	wantLen    int
}

// testListPush covers the order pushes and concatenations leave, truncation
// of the opposite end, and the lengths they return.
func (h harness) testListPush(t *testing.T) {
	t.Parallel()
	front, back := store.ListFront, store.ListBack
	tests := []struct {
		name  string
		steps []listStep
		want  []string
	}{
		{"FrontOneAtATime", []listStep{{front, []string{"a"}, 0, 1}, {front, []string{"b"}, 0, 2}, {front, []string{"c"}, 0, 3}}, []string{"c", "b", "a"}},
		{"BackOneAtATime", []listStep{{back, []string{"a"}, 0, 1}, {back, []string{"b"}, 0, 2}, {back, []string{"c"}, 0, 3}}, []string{"a", "b", "c"}},
		{"FrontBlockKeepsOrder", []listStep{{back, []string{"1", "2", "3"}, 0, 3}, {front, []string{"4", "5", "6"}, 0, 6}}, []string{"4", "5", "6", "1", "2", "3"}},
		{"BackBlockKeepsOrder", []listStep{{back, []string{"1", "2", "3"}, 0, 3}, {back, []string{"4", "5", "6"}, 0, 6}}, []string{"1", "2", "3", "4", "5", "6"}},
		{"FrontTruncatesBack", []listStep{{front, []string{"one"}, 2, 1}, {front, []string{"two"}, 2, 2}, {front, []string{"three"}, 2, 2}}, []string{"three", "two"}},
		{"BackTruncatesFront", []listStep{{back, []string{"one"}, 2, 1}, {back, []string{"two"}, 2, 2}, {back, []string{"three"}, 2, 2}}, []string{"two", "three"}},
		{"BackBlockTruncatesFront", []listStep{{back, []string{"1", "2", "3"}, 0, 3}, {back, []string{"4", "5", "6"}, 5, 5}}, []string{"2", "3", "4", "5", "6"}},
		{"FrontBlockTruncatesBack", []listStep{{back, []string{"one", "two", "three"}, 0, 3}, {front, []string{"four", "five", "six"}, 4, 4}}, []string{"four", "five", "six", "one"}},
		{"FrontBlockReplacesAll", []listStep{{back, []string{"1", "2", "3", "4", "5"}, 0, 5}, {front, []string{"100", "101", "102"}, 3, 3}}, []string{"100", "101", "102"}},
		{"FrontBlockItselfTruncated", []listStep{{front, []string{"v1", "v2", "v1", "v2"}, 2, 2}}, []string{"v1", "v2"}},
		{"BackBlockItselfTruncated", []listStep{{back, []string{"a", "b", "c", "d"}, 2, 2}}, []string{"c", "d"}},
		{"BackBlockLongerThanList", []listStep{{back, []string{"x", "y"}, 0, 2}, {back, []string{"a", "b", "c", "d"}, 3, 3}}, []string{"b", "c", "d"}},
		{"ZeroMeansNoTruncation", []listStep{{back, []string{"1", "2", "3"}, 0, 3}, {front, []string{"0"}, 0, 4}}, []string{"0", "1", "2", "3"}},
		{"TruncateAboveLength", []listStep{{back, []string{"1", "2"}, 10, 2}, {back, []string{"3"}, 3, 3}}, []string{"1", "2", "3"}},
		{"TruncateShrinksLongList", []listStep{{back, []string{"1", "2", "3", "4", "5", "6"}, 0, 6}, {back, []string{"7"}, 2, 2}}, []string{"6", "7"}},
		{"TruncateToOne", []listStep{{front, []string{"a", "b"}, 0, 2}, {front, []string{"c"}, 1, 1}}, []string{"c"}},
		{"Duplicates", []listStep{{back, []string{"a", "a"}, 0, 2}, {front, []string{"a"}, 0, 3}}, []string{"a", "a", "a"}},
		{"EmptyValues", []listStep{{back, []string{"", "x", ""}, 0, 3}, {front, []string{""}, 0, 4}}, []string{"", "", "x", ""}},
		{"NoValuesOnExisting", []listStep{{back, []string{"1", "2", "3"}, 0, 3}, {front, nil, 0, 3}, {back, []string{}, 0, 3}}, []string{"1", "2", "3"}},
		{"NoValuesStillTruncates", []listStep{{back, []string{"1", "2", "3"}, 0, 3}, {back, nil, 2, 2}}, []string{"2", "3"}},
	}
	s := h.openWithCache(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, st := range tc.steps {
				if n := listPush(t, s, tc.name, st.end, st.values, st.truncateTo, listWrite); n != st.wantLen {
					t.Fatalf("ListPush(%q, %v, %q, %d) = %d, want %d", tc.name, st.end, st.values, st.truncateTo, n, st.wantLen)
				}
			}
			checkList(t, s, tc.name, tc.want)
			typ, found, err := s.ItemType(t.Context(), testCache, []byte(tc.name))
			if err != nil || !found || typ != store.ItemList {
				t.Errorf("ItemType(%q) = %v, %v, %v; want %v, true, nil", tc.name, typ, found, err, store.ItemList)
			}
		})
	}

	t.Run("NoValuesCreatesNothing", func(t *testing.T) {
		t.Parallel()
		for _, end := range []store.ListEnd{store.ListFront, store.ListBack} {
			if n := listPush(t, s, "nothing", end, nil, 0, listWrite); n != 0 {
				t.Errorf("ListPush(nothing, %v, []) = %d, want 0", end, n)
			}
		}
		checkList(t, s, "nothing", nil)
	})

	t.Run("Long", func(t *testing.T) {
		t.Parallel()
		// Long enough to make a backend's buffers grow several times and wrap.
		var want []string
		for i := range 3000 {
			v := fmt.Sprint(i)
			if i%2 == 0 {
				listPush(t, s, "long", store.ListFront, []string{v}, 0, listWrite)
				want = slices.Insert(want, 0, v)
			} else {
				listPush(t, s, "long", store.ListBack, []string{v}, 0, listWrite)
				want = append(want, v)
			}
		}
		checkList(t, s, "long", want)
	})

	t.Run("PassedValuesNotShared", func(t *testing.T) {
		t.Parallel()
		values := [][]byte{[]byte("abc")}
		if _, err := s.ListPush(t.Context(), testCache, []byte("unshared"), store.ListBack, values, 0, listWrite); err != nil {
			t.Fatalf("ListPush(unshared) = %v, want nil", err)
		}
		got, _ := listGet(t, s, "unshared")
		// Pushing again must not change what an earlier fetch returned.
		listPush(t, s, "unshared", store.ListFront, []string{"zzz"}, 1, listWrite)
		if !slices.Equal(got, []string{"abc"}) {
			t.Errorf("values returned by ListFetch changed to %q by later writes, want [abc]", got)
		}
	})
}

// testListPop covers pops at both ends, the length they report and the
// deletion of an emptied list.
func (h harness) testListPop(t *testing.T) {
	t.Parallel()
	s := h.openWithCache(t)
	listMake(t, s, "l", "a", "b", "c", "d")
	pops := []struct {
		end     store.ListEnd
		want    string
		wantLen int
	}{
		{store.ListFront, "a", 3},
		{store.ListBack, "d", 2},
		{store.ListBack, "c", 1},
		{store.ListFront, "b", 0},
	}
	for _, p := range pops {
		value, n, found, err := s.ListPop(t.Context(), testCache, []byte("l"), p.end)
		if err != nil || !found || string(value) != p.want || n != p.wantLen {
			t.Fatalf("ListPop(l, %v) = %q, %d, %v, %v; want %q, %d, true, nil", p.end, value, n, found, err, p.want, p.wantLen)
		}
	}
	checkList(t, s, "l", nil)
	for _, end := range []store.ListEnd{store.ListFront, store.ListBack} {
		value, n, found, err := s.ListPop(t.Context(), testCache, []byte("l"), end)
		if err != nil || found || value != nil || n != 0 {
			t.Errorf("ListPop(emptied, %v) = %q, %d, %v, %v; want nil, 0, false, nil", end, value, n, found, err)
		}
	}
	checkList(t, s, "l", nil)

	// Pushing after the list was emptied starts a new one.
	if n := listPush(t, s, "l", store.ListFront, []string{"new"}, 0, listWrite); n != 1 {
		t.Errorf("ListPush(l, front, [new]) after emptying = %d, want 1", n)
	}
	checkList(t, s, "l", []string{"new"})
}

// listRangeCase is a range and the elements of listDigits it selects.
type listRangeCase struct {
	r    store.ListRange
	want []string
}

// listRangeCases are the slice rules: the proto's examples on ten elements,
// the SDK tests' ones, clamping and empty ranges.
var listRangeCases = []listRangeCase{
	{store.ListRange{}, listDigits},
	{listFrom(0), listDigits},
	{listSlice(0, 10), listDigits},
	{listSlice(2, 4), []string{"2", "3"}},
	{listSlice(5, 0), []string{}},
	{listFrom(-5), []string{"5", "6", "7", "8", "9"}},
	{listSlice(0, -5), []string{"0", "1", "2", "3", "4"}},
	{listSlice(2, -6), []string{"2", "3"}},
	{listSlice(-7, -2), []string{"3", "4", "5", "6", "7"}},
	{listSlice(-2, -6), []string{}},
	{listSlice(-2, -1), []string{"8"}},
	{listSlice(0, 1), []string{"0"}},
	{listSlice(0, -9), []string{"0"}},
	{listFrom(-3), []string{"7", "8", "9"}},
	{listFrom(8), []string{"8", "9"}},
	{listFrom(9), []string{"9"}},
	{listFrom(10), []string{}},
	{listFrom(11), []string{}},
	{listSlice(3, 1), []string{}},
	{listSlice(4, 4), []string{}},
	{listSlice(0, 0), []string{}},
	{listSlice(-100, 100), listDigits},
	{listSlice(-100, 2), []string{"0", "1"}},
	{listSlice(8, 100), []string{"8", "9"}},
	{listFrom(-100), listDigits},
	{listSlice(0, -100), []string{}},
	{listSlice(math.MinInt32, math.MaxInt32), listDigits},
}

// testListFetch covers ListFetch's slice rules and its answers for a
// missing list.
func (h harness) testListFetch(t *testing.T) {
	t.Parallel()
	s := h.openWithCache(t)
	listMake(t, s, "digits", listDigits...)
	for _, tc := range listRangeCases {
		t.Run(showRange(tc.r), func(t *testing.T) {
			t.Parallel()
			values, found, err := s.ListFetch(t.Context(), testCache, []byte("digits"), tc.r)
			if got := listStrings(values); err != nil || !found || !slices.Equal(got, tc.want) {
				t.Errorf("ListFetch(digits, %s) = %q, %v, %v; want %q, true, nil", showRange(tc.r), got, found, err, tc.want)
			}
		})
	}

	t.Run("OneElement", func(t *testing.T) {
		t.Parallel()
		listMake(t, s, "one", "a")
		for _, tc := range []listRangeCase{
			{listSlice(-1, 1), []string{"a"}},
			{listSlice(1, -1), []string{}},
			{listSlice(0, -1), []string{}},
			{listFrom(0), []string{"a"}},
		} {
			values, found, err := s.ListFetch(t.Context(), testCache, []byte("one"), tc.r)
			if got := listStrings(values); err != nil || !found || !slices.Equal(got, tc.want) {
				t.Errorf("ListFetch(one, %s) = %q, %v, %v; want %q, true, nil", showRange(tc.r), got, found, err, tc.want)
			}
		}
	})

	t.Run("DoesNotChangeList", func(t *testing.T) {
		t.Parallel()
		listMake(t, s, "unchanged", "x", "y")
		if _, _, err := s.ListFetch(t.Context(), testCache, []byte("unchanged"), listSlice(1, 1)); err != nil {
			t.Fatalf("ListFetch(unchanged, [1:1]) = %v, want nil", err)
		}
		checkList(t, s, "unchanged", []string{"x", "y"})
	})
}

// testListRetain covers ListRetain's slice rules, the length it reports and
// the deletion of a list it empties.
func (h harness) testListRetain(t *testing.T) {
	t.Parallel()
	s := h.openWithCache(t)
	for i, tc := range listRangeCases {
		t.Run(showRange(tc.r), func(t *testing.T) {
			t.Parallel()
			key := fmt.Sprintf("retain-%d", i)
			listMake(t, s, key, listDigits...)
			n, found, err := s.ListRetain(t.Context(), testCache, []byte(key), tc.r, listWrite)
			if err != nil || !found || n != len(tc.want) {
				t.Fatalf("ListRetain(digits, %s) = %d, %v, %v; want %d, true, nil", showRange(tc.r), n, found, err, len(tc.want))
			}
			if len(tc.want) == 0 {
				checkList(t, s, key, nil)
				return
			}
			checkList(t, s, key, tc.want)
		})
	}

	// The .NET SDK's retain cases, on the list v1..v6.
	six := []string{"v1", "v2", "v3", "v4", "v5", "v6"}
	for i, tc := range []listRangeCase{
		{listSlice(1, 4), []string{"v2", "v3", "v4"}},
		{listSlice(2, -1), []string{"v3", "v4", "v5"}},
		{listSlice(-4, -1), []string{"v3", "v4", "v5"}},
		{listFrom(-3), []string{"v4", "v5", "v6"}},
		{listSlice(0, 1), []string{"v1"}},
		{listSlice(0, -3), []string{"v1", "v2", "v3"}},
	} {
		t.Run("Six"+showRange(tc.r), func(t *testing.T) {
			t.Parallel()
			key := fmt.Sprintf("six-%d", i)
			listMake(t, s, key, six...)
			n, found, err := s.ListRetain(t.Context(), testCache, []byte(key), tc.r, listWrite)
			if err != nil || !found || n != len(tc.want) {
				t.Fatalf("ListRetain(six, %s) = %d, %v, %v; want %d, true, nil", showRange(tc.r), n, found, err, len(tc.want))
			}
			checkList(t, s, key, tc.want)
		})
	}

	t.Run("Repeated", func(t *testing.T) {
		t.Parallel()
		listMake(t, s, "repeated", "a", "b", "c", "d", "e")
		for _, step := range []struct {
			r    store.ListRange
			want []string
		}{
			{listSlice(1, -1), []string{"b", "c", "d"}},
			{listSlice(1, 2), []string{"c"}},
			{listFrom(0), []string{"c"}},
		} {
			if n, found, err := s.ListRetain(t.Context(), testCache, []byte("repeated"), step.r, listWrite); err != nil || !found || n != len(step.want) {
				t.Fatalf("ListRetain(repeated, %s) = %d, %v, %v; want %d, true, nil", showRange(step.r), n, found, err, len(step.want))
			}
			checkList(t, s, "repeated", step.want)
		}
	})
}

// testListRemoveValue covers removing every occurrence of a value.
func (h harness) testListRemoveValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		initial []string
		value   string
		want    []string // nil: the list is deleted
	}{
		{"AllOccurrences", []string{"#0", "#1", "#2", "#3", "#4", "#4", "#0", "#4"}, "#4", []string{"#0", "#1", "#2", "#3", "#0"}},
		{"Absent", []string{"a", "b"}, "c", []string{"a", "b"}},
		{"OnlyOne", []string{"a", "b", "c"}, "b", []string{"a", "c"}},
		{"Front", []string{"x", "x", "a"}, "x", []string{"a"}},
		{"Back", []string{"a", "x", "x"}, "x", []string{"a"}},
		{"EmptyValue", []string{"", "a", "", "b"}, "", []string{"a", "b"}},
		{"Bytewise", []string{"a", "A", "a\x00", " a", "a "}, "a", []string{"A", "a\x00", " a", "a "}},
		{"PrefixIsNotEqual", []string{"ab", "abc", "a"}, "ab", []string{"abc", "a"}},
		{"EmptiesList", []string{"z", "z", "z"}, "z", nil},
	}
	s := h.openWithCache(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			listMake(t, s, tc.name, tc.initial...)
			n, found, err := s.ListRemoveValue(t.Context(), testCache, []byte(tc.name), []byte(tc.value))
			if err != nil || !found || n != len(tc.want) {
				t.Fatalf("ListRemoveValue(%q, %q) = %d, %v, %v; want %d, true, nil", tc.initial, tc.value, n, found, err, len(tc.want))
			}
			checkList(t, s, tc.name, tc.want)
		})
	}
}

// testListErase covers erasing spans of indexes.
func (h harness) testListErase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		spans []store.ListSpan
		want  []string // from listDigits; nil: the list is deleted
	}{
		{"None", nil, listDigits},
		{"One", []store.ListSpan{{Begin: 2, Count: 3}}, []string{"0", "1", "5", "6", "7", "8", "9"}},
		{"Front", []store.ListSpan{{Begin: 0, Count: 1}}, listDigits[1:]},
		{"Back", []store.ListSpan{{Begin: 9, Count: 1}}, listDigits[:9]},
		{"Several", []store.ListSpan{{Begin: 0, Count: 1}, {Begin: 4, Count: 2}, {Begin: 8, Count: 1}}, []string{"1", "2", "3", "6", "7", "9"}},
		{"IndexesBeforeErase", []store.ListSpan{{Begin: 8, Count: 1}, {Begin: 0, Count: 1}}, []string{"1", "2", "3", "4", "5", "6", "7", "9"}},
		{"Overlapping", []store.ListSpan{{Begin: 1, Count: 3}, {Begin: 2, Count: 4}, {Begin: 2, Count: 1}}, []string{"0", "6", "7", "8", "9"}},
		{"PastEnd", []store.ListSpan{{Begin: 7, Count: 100}}, []string{"0", "1", "2", "3", "4", "5", "6"}},
		{"BeginPastEnd", []store.ListSpan{{Begin: 10, Count: 5}, {Begin: 1000, Count: 1}}, listDigits},
		{"ZeroCount", []store.ListSpan{{Begin: 3, Count: 0}}, listDigits},
		{"NegativeIgnored", []store.ListSpan{{Begin: -1, Count: 5}, {Begin: 2, Count: -1}}, listDigits},
		{"Everything", []store.ListSpan{{Begin: 0, Count: 10}}, nil},
		{"EverythingHuge", []store.ListSpan{{Begin: 0, Count: math.MaxInt32}}, nil},
		{"EverythingInPieces", []store.ListSpan{{Begin: 5, Count: 5}, {Begin: 0, Count: 5}}, nil},
	}
	s := h.openWithCache(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			listMake(t, s, tc.name, listDigits...)
			n, found, err := s.ListErase(t.Context(), testCache, []byte(tc.name), tc.spans)
			if err != nil || !found || n != len(tc.want) {
				t.Fatalf("ListErase(digits, %v) = %d, %v, %v; want %d, true, nil", tc.spans, n, found, err, len(tc.want))
			}
			checkList(t, s, tc.name, tc.want)
		})
	}
}

// testListMissing checks that every operation on a missing list reports it
// as not found, and that none but a push with values creates it.
func (h harness) testListMissing(t *testing.T) {
	t.Parallel()
	s := h.openWithCache(t)
	ctx := t.Context()
	key := []byte("missing")
	if values, found, err := s.ListFetch(ctx, testCache, key, store.ListRange{}); err != nil || found || values != nil {
		t.Errorf("ListFetch(missing) = %q, %v, %v; want nil, false, nil", values, found, err)
	}
	if n, found, err := s.ListLength(ctx, testCache, key); err != nil || found || n != 0 {
		t.Errorf("ListLength(missing) = %d, %v, %v; want 0, false, nil", n, found, err)
	}
	for _, end := range []store.ListEnd{store.ListFront, store.ListBack} {
		if v, n, found, err := s.ListPop(ctx, testCache, key, end); err != nil || found || v != nil || n != 0 {
			t.Errorf("ListPop(missing, %v) = %q, %d, %v, %v; want nil, 0, false, nil", end, v, n, found, err)
		}
	}
	if n, found, err := s.ListRetain(ctx, testCache, key, listSlice(0, 5), listWrite); err != nil || found || n != 0 {
		t.Errorf("ListRetain(missing) = %d, %v, %v; want 0, false, nil", n, found, err)
	}
	if n, found, err := s.ListRemoveValue(ctx, testCache, key, []byte("v")); err != nil || found || n != 0 {
		t.Errorf("ListRemoveValue(missing) = %d, %v, %v; want 0, false, nil", n, found, err)
	}
	if n, found, err := s.ListErase(ctx, testCache, key, []store.ListSpan{{Begin: 0, Count: 1}}); err != nil || found || n != 0 {
		t.Errorf("ListErase(missing) = %d, %v, %v; want 0, false, nil", n, found, err)
	}
	checkList(t, s, "missing", nil)
}

// listOps calls every List operation on key, for the tests that check the
// error of each. Writes push values that fit any bound.
var listOps = []struct {
	name string
	call func(ctx context.Context, s store.Store, cache string, key []byte) error
}{
	{"ListPush(front)", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, err := s.ListPush(ctx, cache, key, store.ListFront, keys("v"), 0, listWrite)
		return err
	}},
	{"ListPush(back)", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, err := s.ListPush(ctx, cache, key, store.ListBack, keys("v", "w"), 1, listWrite)
		return err
	}},
	{"ListPush(no values)", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, err := s.ListPush(ctx, cache, key, store.ListBack, nil, 0, listWrite)
		return err
	}},
	{"ListPop(front)", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, _, _, err := s.ListPop(ctx, cache, key, store.ListFront)
		return err
	}},
	{"ListPop(back)", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, _, _, err := s.ListPop(ctx, cache, key, store.ListBack)
		return err
	}},
	{"ListFetch", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, _, err := s.ListFetch(ctx, cache, key, store.ListRange{})
		return err
	}},
	{"ListRetain", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, _, err := s.ListRetain(ctx, cache, key, listSlice(0, 0), listWrite)
		return err
	}},
	{"ListLength", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, _, err := s.ListLength(ctx, cache, key)
		return err
	}},
	{"ListRemoveValue", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, _, err := s.ListRemoveValue(ctx, cache, key, []byte("v"))
		return err
	}},
	{"ListErase", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, _, err := s.ListErase(ctx, cache, key, []store.ListSpan{{Begin: 0, Count: 100}})
		return err
	}},
}

// testListWrongType checks that every List operation refuses a key holding
// a scalar or another collection, and leaves it unchanged; and that scalar
// operations refuse a list.
func (h harness) testListWrongType(t *testing.T) {
	t.Parallel()
	s := h.openWithCache(t)
	ctx := t.Context()
	mustSet(t, s, testCache, []byte("scalar"), []byte("v"), longTTL)
	dict := store.DictionaryField{Field: []byte("f"), Value: []byte("v")}
	if err := s.DictionarySet(ctx, testCache, []byte("dictionary"), []store.DictionaryField{dict}, listWrite); err != nil {
		t.Fatalf("DictionarySet(dictionary) = %v, want nil", err)
	}
	for _, op := range listOps {
		t.Run(op.name, func(t *testing.T) {
			errorIs(t, op.name+" on a scalar", op.call(ctx, s, testCache, []byte("scalar")), store.ErrWrongType)
			checkValue(t, s, testCache, []byte("scalar"), []byte("v"))
			errorIs(t, op.name+" on a dictionary", op.call(ctx, s, testCache, []byte("dictionary")), store.ErrWrongType)
			if n, found, err := s.DictionaryLength(ctx, testCache, []byte("dictionary")); err != nil || !found || n != 1 {
				t.Errorf("DictionaryLength(dictionary) after %s = %d, %v, %v; want 1, true, nil", op.name, n, found, err)
			}
		})
	}

	t.Run("ScalarOpsOnList", func(t *testing.T) {
		listMake(t, s, "list", "a")
		_, _, err := s.Get(ctx, testCache, []byte("list"))
		errorIs(t, "Get(list)", err, store.ErrWrongType)
		_, err = s.Increment(ctx, testCache, []byte("list"), 1, longTTL)
		errorIs(t, "Increment(list)", err, store.ErrWrongType)
		_, err = s.SetIf(ctx, testCache, []byte("list"), []byte("v"), longTTL, store.Condition{Kind: store.Present})
		errorIs(t, "SetIf(list, present)", err, store.ErrWrongType)
		err = s.DictionarySet(ctx, testCache, []byte("list"), []store.DictionaryField{dict}, listWrite)
		errorIs(t, "DictionarySet(list)", err, store.ErrWrongType)
		checkList(t, s, "list", []string{"a"})

		// Set replaces whatever the key held; Delete removes it.
		mustSet(t, s, testCache, []byte("list"), []byte("scalar now"), longTTL)
		checkValue(t, s, testCache, []byte("list"), []byte("scalar now"))
		listMake(t, s, "deleted", "a", "b")
		if err := s.Delete(ctx, testCache, []byte("deleted")); err != nil {
			t.Fatalf("Delete(deleted) = %v, want nil", err)
		}
		checkList(t, s, "deleted", nil)
	})
}

// testListTTL covers the TTL rules of list writes: set on creation, reset
// by writes with RefreshTTL and kept by the others.
func (h harness) testListTTL(t *testing.T) {
	t.Parallel()
	s := h.openWithCache(t)
	ctx := t.Context()
	const ttl = time.Minute
	noRefresh := store.CollectionWrite{TTL: longTTL}
	refresh := store.CollectionWrite{TTL: longTTL, RefreshTTL: true}
	// Each write starts from a list created with ttl, then writes with
	// longTTL: a refresh moves the expiry above ttl, no refresh keeps it.
	writes := []struct {
		name  string
		write func(key []byte, w store.CollectionWrite) error
	}{
		{"PushFront", func(key []byte, w store.CollectionWrite) error {
			_, err := s.ListPush(ctx, testCache, key, store.ListFront, keys("x"), 0, w)
			return err
		}},
		{"PushBack", func(key []byte, w store.CollectionWrite) error {
			_, err := s.ListPush(ctx, testCache, key, store.ListBack, keys("x", "y"), 0, w)
			return err
		}},
		{"PushNothing", func(key []byte, w store.CollectionWrite) error {
			_, err := s.ListPush(ctx, testCache, key, store.ListBack, nil, 0, w)
			return err
		}},
		{"PushTruncating", func(key []byte, w store.CollectionWrite) error {
			_, err := s.ListPush(ctx, testCache, key, store.ListBack, keys("x"), 1, w)
			return err
		}},
		{"Retain", func(key []byte, w store.CollectionWrite) error {
			_, _, err := s.ListRetain(ctx, testCache, key, listFrom(1), w)
			return err
		}},
	}
	for _, wr := range writes {
		t.Run(wr.name+"/Refresh", func(t *testing.T) {
			t.Parallel()
			key := wr.name + "-refresh"
			listPush(t, s, key, store.ListBack, []string{"a", "b"}, 0, store.CollectionWrite{TTL: ttl, RefreshTTL: true})
			if err := wr.write([]byte(key), refresh); err != nil {
				t.Fatalf("%s(%s, refresh) = %v, want nil", wr.name, key, err)
			}
			checkRemaining(t, s, testCache, []byte(key), ttl, longTTL)
		})
		t.Run(wr.name+"/NoRefresh", func(t *testing.T) {
			t.Parallel()
			key := wr.name + "-no-refresh"
			listPush(t, s, key, store.ListBack, []string{"a", "b"}, 0, store.CollectionWrite{TTL: ttl, RefreshTTL: true})
			if err := wr.write([]byte(key), noRefresh); err != nil {
				t.Fatalf("%s(%s, no refresh) = %v, want nil", wr.name, key, err)
			}
			checkRemaining(t, s, testCache, []byte(key), 0, ttl)
		})
	}

	t.Run("RemovalsKeepTTL", func(t *testing.T) {
		t.Parallel()
		key := []byte("removals")
		listPush(t, s, "removals", store.ListBack, []string{"a", "b", "c", "d", "e"}, 0, store.CollectionWrite{TTL: ttl})
		if _, _, _, err := s.ListPop(ctx, testCache, key, store.ListFront); err != nil {
			t.Fatalf("ListPop(removals) = %v, want nil", err)
		}
		if _, _, err := s.ListRemoveValue(ctx, testCache, key, []byte("c")); err != nil {
			t.Fatalf("ListRemoveValue(removals) = %v, want nil", err)
		}
		if _, _, err := s.ListErase(ctx, testCache, key, []store.ListSpan{{Begin: 0, Count: 1}}); err != nil {
			t.Fatalf("ListErase(removals) = %v, want nil", err)
		}
		checkList(t, s, "removals", []string{"d", "e"})
		checkRemaining(t, s, testCache, key, 0, ttl)
	})

	t.Run("CreatedWithTTLWithoutRefresh", func(t *testing.T) {
		t.Parallel()
		// Creation sets the TTL whatever RefreshTTL says; a later write
		// without refresh does not extend it.
		short := store.CollectionWrite{TTL: shortTTL}
		listPush(t, s, "expires", store.ListFront, []string{"one"}, 0, short)
		listPush(t, s, "expires", store.ListFront, []string{"two"}, 0, store.CollectionWrite{TTL: longTTL})
		eventually(t, "the list to expire", func() bool {
			_, found, err := s.ListLength(ctx, testCache, []byte("expires"))
			if err != nil {
				t.Fatalf("ListLength(expires) = %v, want nil error", err)
			}
			return !found
		})
		checkList(t, s, "expires", nil)
		// A push after expiry starts a new list.
		if n := listPush(t, s, "expires", store.ListBack, []string{"three"}, 0, listWrite); n != 1 {
			t.Errorf("ListPush(expired list) = %d, want 1", n)
		}
		checkList(t, s, "expires", []string{"three"})
	})

	t.Run("ExpiredIsMissing", func(t *testing.T) {
		t.Parallel()
		listPush(t, s, "expired", store.ListBack, []string{"a", "b"}, 0, store.CollectionWrite{TTL: shortTTL})
		time.Sleep(shortTTL)
		eventually(t, "the list to expire", func() bool {
			_, found := mustItemTTL(t, s, testCache, []byte("expired"))
			return !found
		})
		for _, op := range listOps {
			if op.name == "ListPush(front)" || op.name == "ListPush(back)" {
				continue
			}
			if err := op.call(ctx, s, testCache, []byte("expired")); err != nil {
				t.Errorf("%s(expired) = %v, want nil", op.name, err)
			}
		}
		checkList(t, s, "expired", nil)
	})
}

// testListItemTooLarge covers CollectionWrite.MaxSize: a push that would
// make the key plus the values exceed it fails and changes nothing, and
// truncation counts before the check.
func (h harness) testListItemTooLarge(t *testing.T) {
	t.Parallel()
	s := h.openWithCache(t)
	ctx := t.Context()
	// Keys are 3 bytes, so 10 bytes of values fit.
	bounded := store.CollectionWrite{TTL: longTTL, RefreshTTL: true, MaxSize: 13}
	push := func(key string, end store.ListEnd, values []string, truncateTo int) (int, error) {
		return s.ListPush(ctx, testCache, []byte(key), end, keys(values...), truncateTo, bounded)
	}

	t.Run("NewListTooLarge", func(t *testing.T) {
		t.Parallel()
		for _, end := range []store.ListEnd{store.ListFront, store.ListBack} {
			_, err := push("new", end, []string{"0123456789x"}, 0)
			errorIs(t, "ListPush(new, 11 bytes)", err, store.ErrItemTooLarge)
			_, err = push("new", end, []string{"01234", "56789", "x"}, 0)
			errorIs(t, "ListPush(new, 3 values of 11 bytes)", err, store.ErrItemTooLarge)
		}
		checkList(t, s, "new", nil)
	})

	t.Run("Exact", func(t *testing.T) {
		t.Parallel()
		if n, err := push("exa", store.ListBack, []string{"01234", "56789"}, 0); err != nil || n != 2 {
			t.Fatalf("ListPush(exa, 10 bytes) = %d, %v; want 2, nil", n, err)
		}
		// Empty values add no bytes.
		if n, err := push("exa", store.ListFront, []string{""}, 0); err != nil || n != 3 {
			t.Fatalf("ListPush(exa, empty value) = %d, %v; want 3, nil", n, err)
		}
		_, err := push("exa", store.ListFront, []string{"x"}, 0)
		errorIs(t, "ListPush(exa, 1 byte over)", err, store.ErrItemTooLarge)
		checkList(t, s, "exa", []string{"", "01234", "56789"})
	})

	t.Run("GrowthTooLarge", func(t *testing.T) {
		t.Parallel()
		if _, err := push("gro", store.ListBack, []string{"0123", "4567"}, 0); err != nil {
			t.Fatalf("ListPush(gro, 8 bytes) = %v, want nil", err)
		}
		for _, end := range []store.ListEnd{store.ListFront, store.ListBack} {
			_, err := push("gro", end, []string{"a", "bc"}, 0)
			errorIs(t, fmt.Sprintf("ListPush(gro, %v, 3 more bytes)", end), err, store.ErrItemTooLarge)
		}
		checkList(t, s, "gro", []string{"0123", "4567"})
	})

	t.Run("TruncationMakesRoom", func(t *testing.T) {
		t.Parallel()
		if _, err := push("tru", store.ListBack, []string{"01234", "56789"}, 0); err != nil {
			t.Fatalf("ListPush(tru, 10 bytes) = %v, want nil", err)
		}
		// Each push drops an element as large as the one it adds.
		for i, v := range []string{"abcde", "fghij", "klmno"} {
			if n, err := push("tru", store.ListBack, []string{v}, 2); err != nil || n != 2 {
				t.Fatalf("ListPush(tru, %q, truncate 2) #%d = %d, %v; want 2, nil", v, i, n, err)
			}
		}
		checkList(t, s, "tru", []string{"fghij", "klmno"})
		if n, err := push("tru", store.ListFront, []string{"12345"}, 2); err != nil || n != 2 {
			t.Fatalf("ListPush(tru, front, 12345, truncate 2) = %d, %v; want 2, nil", n, err)
		}
		checkList(t, s, "tru", []string{"12345", "fghij"})
		// Dropping a smaller element than the one added is still too much.
		if _, err := push("tru", store.ListBack, []string{"a"}, 0); err == nil {
			t.Fatalf("ListPush(tru, 1 byte over) = nil, want an error")
		}
		_, err := push("tru", store.ListBack, []string{"123456"}, 2)
		errorIs(t, "ListPush(tru, 6 bytes dropping 5, truncate 2)", err, store.ErrItemTooLarge)
		checkList(t, s, "tru", []string{"12345", "fghij"})
	})

	t.Run("BlockTruncatedToFit", func(t *testing.T) {
		t.Parallel()
		// The part of the block that truncation drops never counts.
		if n, err := push("blk", store.ListBack, []string{"0123456789", "abcdefghij"}, 1); err != nil || n != 1 {
			t.Fatalf("ListPush(blk, 20 bytes, truncate 1) = %d, %v; want 1, nil", n, err)
		}
		checkList(t, s, "blk", []string{"abcdefghij"})
	})
}

// testListBinary checks that keys and values are arbitrary bytes.
func (h harness) testListBinary(t *testing.T) {
	t.Parallel()
	s := h.openWithCache(t)
	ctx := t.Context()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	key := []byte{0, 0xff, 'l', 0x80, 0}
	values := [][]byte{all, {0}, {0xff, 0xfe}, {}, []byte("\xc3\x28 invalid utf-8"), {0}}
	if n, err := s.ListPush(ctx, testCache, key, store.ListBack, values, 0, listWrite); err != nil || n != len(values) {
		t.Fatalf("ListPush(binary) = %d, %v; want %d, nil", n, err, len(values))
	}
	got, found, err := s.ListFetch(ctx, testCache, key, store.ListRange{})
	if err != nil || !found || !slices.EqualFunc(got, values, func(a, b []byte) bool { return string(a) == string(b) }) {
		t.Fatalf("ListFetch(binary) = %q, %v, %v; want %q", got, found, err, values)
	}
	// The other key differing in one byte is another list.
	other := slices.Clone(key)
	other[len(other)-1] = 1
	if _, found, _ := s.ListLength(ctx, testCache, other); found {
		t.Errorf("ListLength(key differing in the last byte) found, want not found")
	}
	if n, found, err := s.ListRemoveValue(ctx, testCache, key, []byte{0}); err != nil || !found || n != 4 {
		t.Errorf("ListRemoveValue(binary, \\x00) = %d, %v, %v; want 4, true, nil", n, found, err)
	}
	v, _, found, err := s.ListPop(ctx, testCache, key, store.ListFront)
	if err != nil || !found || string(v) != string(all) {
		t.Errorf("ListPop(binary, front) = %q, %v, %v; want the 256 bytes", v, found, err)
	}
	v, _, found, err = s.ListPop(ctx, testCache, key, store.ListBack)
	if err != nil || !found || string(v) != "\xc3\x28 invalid utf-8" {
		t.Errorf("ListPop(binary, back) = %q, %v, %v; want %q", v, found, err, "\xc3\x28 invalid utf-8")
	}
	got, _, _ = s.ListFetch(ctx, testCache, key, store.ListRange{})
	if want := []string{"\xff\xfe", ""}; !slices.Equal(listStrings(got), want) {
		t.Errorf("ListFetch(binary) = %q, want %q", got, want)
	}
}

// testListUnknownCache checks that every List operation fails with
// ErrCacheNotFound on a cache that does not exist.
func (h harness) testListUnknownCache(t *testing.T) {
	t.Parallel()
	s := h.openWithCache(t)
	for _, op := range listOps {
		errorIs(t, op.name+" on an unknown cache", op.call(t.Context(), s, "no-such-cache", []byte("k")), store.ErrCacheNotFound)
	}
}

// testListModel runs a long random sequence of List operations against one
// list and a plain slice, comparing the two after every step, so that a
// backend's buffer handling (growth, wrap-around, shrinking) meets every
// operation.
func (h harness) testListModel(t *testing.T) {
	t.Parallel()
	s := h.openWithCache(t)
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(1, 2))
	key := []byte("model")
	var model []string
	value := func() string { return fmt.Sprint(rng.IntN(20)) }
	for step := range 3000 {
		var what string
		switch op := rng.IntN(10); {
		case op < 4:
			end := store.ListEnd(1 + rng.IntN(2))
			block := make([]string, rng.IntN(6))
			for i := range block {
				block[i] = value()
			}
			truncateTo := 0
			if rng.IntN(4) == 0 {
				truncateTo = 1 + rng.IntN(40)
			}
			what = fmt.Sprintf("ListPush(%v, %q, %d)", end, block, truncateTo)
			n, err := s.ListPush(ctx, testCache, key, end, keys(block...), truncateTo, listWrite)
			if end == store.ListFront {
				model = append(slices.Clone(block), model...)
				if truncateTo > 0 && len(model) > truncateTo {
					model = model[:truncateTo]
				}
			} else {
				model = append(model, block...)
				if truncateTo > 0 && len(model) > truncateTo {
					model = model[len(model)-truncateTo:]
				}
			}
			if err != nil || n != len(model) {
				t.Fatalf("step %d: %s = %d, %v; want %d, nil", step, what, n, err, len(model))
			}
		case op < 6:
			end := store.ListEnd(1 + rng.IntN(2))
			what = fmt.Sprintf("ListPop(%v)", end)
			v, n, found, err := s.ListPop(ctx, testCache, key, end)
			var want string
			if len(model) > 0 {
				if end == store.ListFront {
					want, model = model[0], model[1:]
				} else {
					want, model = model[len(model)-1], model[:len(model)-1]
				}
			}
			if err != nil || found != (want != "") || string(v) != want || n != len(model) {
				t.Fatalf("step %d: %s = %q, %d, %v, %v; want %q, %d", step, what, v, n, found, err, want, len(model))
			}
		case op < 7:
			r := listSlice(rng.IntN(30)-15, rng.IntN(30)-10)
			if rng.IntN(3) == 0 {
				r = listFrom(rng.IntN(10) - 3)
			}
			if len(model) < 10 { // keep the list from dying too often
				r = store.ListRange{}
			}
			what = "ListRetain" + showRange(r)
			lo, hi := r.Bounds(len(model))
			if len(model) > 0 {
				model = model[lo:hi]
			}
			n, found, err := s.ListRetain(ctx, testCache, key, r, listWrite)
			if err != nil || n != len(model) {
				t.Fatalf("step %d: %s = %d, %v, %v; want %d", step, what, n, found, err, len(model))
			}
		case op < 8:
			v := value()
			what = fmt.Sprintf("ListRemoveValue(%q)", v)
			model = slices.DeleteFunc(model, func(m string) bool { return m == v })
			if n, _, err := s.ListRemoveValue(ctx, testCache, key, []byte(v)); err != nil || n != len(model) {
				t.Fatalf("step %d: %s = %d, %v; want %d", step, what, n, err, len(model))
			}
		case op < 9:
			sp := store.ListSpan{Begin: rng.IntN(len(model) + 2), Count: rng.IntN(4)}
			what = fmt.Sprintf("ListErase(%v)", sp)
			if sp.Begin < len(model) {
				model = slices.Delete(model, sp.Begin, min(sp.Begin+sp.Count, len(model)))
			}
			if n, _, err := s.ListErase(ctx, testCache, key, []store.ListSpan{sp}); err != nil || n != len(model) {
				t.Fatalf("step %d: %s = %d, %v; want %d", step, what, n, err, len(model))
			}
		default:
			r := listSlice(rng.IntN(40)-20, rng.IntN(40)-20)
			what = "ListFetch" + showRange(r)
			values, found, err := s.ListFetch(ctx, testCache, key, r)
			lo, hi := r.Bounds(len(model))
			want := model[lo:hi]
			if err != nil || found != (len(model) > 0) || !slices.Equal(listStrings(values), want) {
				t.Fatalf("step %d: %s = %q, %v, %v; want %q", step, what, values, found, err, want)
			}
		}
		got, found := listGet(t, s, string(key))
		if found != (len(model) > 0) || !slices.Equal(got, model) {
			t.Fatalf("step %d: after %s the list is %q (found %v), want %q", step, what, got, found, strings.Join(model, " "))
		}
	}
}
