package storetest

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/internal/store"
)

// zsetLong is the write of sorted sets that must not expire.
var zsetLong = store.CollectionWrite{TTL: longTTL, RefreshTTL: true}

// zsetAll is the score range without bounds.
var zsetAll = store.ScoreRange{Min: store.ScoreBound{Unbounded: true}, Max: store.ScoreBound{Unbounded: true}}

// testSortedSet is the conformance section of the SortedSet operations.
func (h harness) testSortedSet(t *testing.T) {
	groups := []struct {
		name string
		run  func(*testing.T)
	}{
		{"Put", h.testSortedSetPut},
		{"Order", h.testSortedSetOrder},
		{"FetchByRank", h.testSortedSetFetchByRank},
		{"FetchByScore", h.testSortedSetFetchByScore},
		{"GetScores", h.testSortedSetGetScores},
		{"GetRank", h.testSortedSetGetRank},
		{"Remove", h.testSortedSetRemove},
		{"Delete", h.testSortedSetDelete},
		{"Increment", h.testSortedSetIncrement},
		{"Length", h.testSortedSetLength},
		{"LengthByScore", h.testSortedSetLengthByScore},
		{"UnionStore", h.testSortedSetUnionStore},
		{"WrongType", h.testSortedSetWrongType},
		{"ItemOperations", h.testSortedSetItemOperations},
		{"TTL", h.testSortedSetTTL},
		{"Expired", h.testSortedSetExpired},
		{"MaxSize", h.testSortedSetMaxSize},
		{"Binary", h.testSortedSetBinary},
		{"UnknownCache", h.testSortedSetUnknownCache},
		{"Large", h.testSortedSetLarge},
		{"Concurrency", h.testSortedSetConcurrency},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t)
		})
	}
}

// zsetEl is a sorted-set element.
func zsetEl(value string, score float64) store.SortedSetElement {
	return store.SortedSetElement{Value: []byte(value), Score: score}
}

// zsetIncl, zsetExcl and zsetUnbounded are score bounds.
func zsetIncl(score float64) store.ScoreBound { return store.ScoreBound{Score: score} }
func zsetExcl(score float64) store.ScoreBound {
	return store.ScoreBound{Score: score, Exclusive: true}
}

var zsetUnbounded = store.ScoreBound{Unbounded: true}

// zsetString renders elements for failure messages.
func zsetString(elements []store.SortedSetElement) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, e := range elements {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%q:%v", e.Value, e.Score)
	}
	b.WriteByte(']')
	return b.String()
}

// zsetEqual reports whether two element lists are equal, in order. Scores
// compare with ==, so 0 and -0 are equal.
func zsetEqual(a, b []store.SortedSetElement) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].Value, b[i].Value) || a[i].Score != b[i].Score {
			return false
		}
	}
	return true
}

func mustSortedSetPut(t *testing.T, s store.Store, key string, w store.CollectionWrite, elements ...store.SortedSetElement) {
	t.Helper()
	if err := s.SortedSetPut(t.Context(), testCache, []byte(key), elements, w); err != nil {
		t.Fatalf("SortedSetPut(%q, %s) = %v, want nil", key, zsetString(elements), err)
	}
}

// sortedSetContents returns the sorted set under key in ascending order, or
// nil when SortedSetFetchByRank does not find it.
func sortedSetContents(t *testing.T, s store.Store, key string) []store.SortedSetElement {
	t.Helper()
	elements, found, err := s.SortedSetFetchByRank(t.Context(), testCache, []byte(key), store.RankRange{ToEnd: true}, store.Ascending)
	if err != nil {
		t.Fatalf("SortedSetFetchByRank(%q, all) = %v, want nil error", key, err)
	}
	if !found {
		if len(elements) != 0 {
			t.Errorf("SortedSetFetchByRank(%q, all) = %s, not found; want none", key, zsetString(elements))
		}
		return nil
	}
	if elements == nil {
		elements = []store.SortedSetElement{}
	}
	return elements
}

// checkSortedSet fails t unless the sorted set under key holds exactly want
// in ascending order, or does not exist when want is nil, as
// SortedSetFetchByRank, SortedSetLength and ItemType all tell.
func checkSortedSet(t *testing.T, s store.Store, key string, want []store.SortedSetElement) {
	t.Helper()
	got := sortedSetContents(t, s, key)
	switch {
	case want == nil && got != nil:
		t.Errorf("SortedSetFetchByRank(%q) = %s, want not found", key, zsetString(got))
	case want != nil && got == nil:
		t.Errorf("SortedSetFetchByRank(%q) = not found, want %s", key, zsetString(want))
	case !zsetEqual(got, want):
		t.Errorf("SortedSetFetchByRank(%q) = %s, want %s", key, zsetString(got), zsetString(want))
	}
	n, found, err := s.SortedSetLength(t.Context(), testCache, []byte(key))
	if err != nil || found != (want != nil) || n != len(want) {
		t.Errorf("SortedSetLength(%q) = %d, %v, %v; want %d, %v, nil", key, n, found, err, len(want), want != nil)
	}
	typ, found, err := s.ItemType(t.Context(), testCache, []byte(key))
	if err != nil || found != (want != nil) || (found && typ != store.ItemSortedSet) {
		t.Errorf("ItemType(%q) = %v, %v, %v; want %v, %v, nil", key, typ, found, err, store.ItemSortedSet, want != nil)
	}
}

// zsetFixture is the eight-element set of the SDKs' fetch tests, in
// ascending order.
var zsetFixture = []store.SortedSetElement{
	zsetEl("foo", 1), zsetEl("bar", 2), zsetEl("baz", 42), zsetEl("habanero", 68),
	zsetEl("bam", 1000), zsetEl("burrito", 9000), zsetEl("taco", 90210), zsetEl("jalapeno", 1_000_000),
}

// zsetReversed returns elements in reverse order.
func zsetReversed(elements []store.SortedSetElement) []store.SortedSetElement {
	out := make([]store.SortedSetElement, len(elements))
	for i, e := range elements {
		out[len(elements)-1-i] = e
	}
	return out
}

func (h harness) testSortedSetPut(t *testing.T) {
	s := h.openWithCache(t)
	ctx := t.Context()

	t.Run("Creates", func(t *testing.T) {
		mustSortedSetPut(t, s, "new", zsetLong, zsetEl("b", 2), zsetEl("a", 1))
		checkSortedSet(t, s, "new", []store.SortedSetElement{zsetEl("a", 1), zsetEl("b", 2)})
	})
	t.Run("OverwritesScore", func(t *testing.T) {
		mustSortedSetPut(t, s, "over", zsetLong, zsetEl("a", 1), zsetEl("b", 2), zsetEl("c", 3))
		mustSortedSetPut(t, s, "over", zsetLong, zsetEl("a", 10), zsetEl("d", 0))
		checkSortedSet(t, s, "over", []store.SortedSetElement{zsetEl("d", 0), zsetEl("b", 2), zsetEl("c", 3), zsetEl("a", 10)})
	})
	t.Run("SameScoreAgain", func(t *testing.T) {
		mustSortedSetPut(t, s, "same", zsetLong, zsetEl("a", 1), zsetEl("b", 2))
		mustSortedSetPut(t, s, "same", zsetLong, zsetEl("a", 1))
		checkSortedSet(t, s, "same", []store.SortedSetElement{zsetEl("a", 1), zsetEl("b", 2)})
	})
	t.Run("RepeatedValueLastWins", func(t *testing.T) {
		mustSortedSetPut(t, s, "dup", zsetLong, zsetEl("a", 1), zsetEl("b", 5), zsetEl("a", 9), zsetEl("a", 3))
		checkSortedSet(t, s, "dup", []store.SortedSetElement{zsetEl("a", 3), zsetEl("b", 5)})
	})
	t.Run("EmptyValue", func(t *testing.T) {
		mustSortedSetPut(t, s, "empty-value", zsetLong, zsetEl("", 5), zsetEl("a", 5))
		checkSortedSet(t, s, "empty-value", []store.SortedSetElement{zsetEl("", 5), zsetEl("a", 5)})
	})
	t.Run("NoElementsCreatesNothing", func(t *testing.T) {
		mustSortedSetPut(t, s, "none", zsetLong)
		checkSortedSet(t, s, "none", nil)
		mustSortedSetPut(t, s, "none-existing", zsetLong, zsetEl("a", 1))
		mustSortedSetPut(t, s, "none-existing", zsetLong)
		checkSortedSet(t, s, "none-existing", []store.SortedSetElement{zsetEl("a", 1)})
	})
	t.Run("Infinities", func(t *testing.T) {
		mustSortedSetPut(t, s, "inf", zsetLong, zsetEl("max", math.MaxFloat64), zsetEl("pinf", math.Inf(1)), zsetEl("ninf", math.Inf(-1)), zsetEl("min", -math.MaxFloat64))
		checkSortedSet(t, s, "inf", []store.SortedSetElement{
			zsetEl("ninf", math.Inf(-1)), zsetEl("min", -math.MaxFloat64), zsetEl("max", math.MaxFloat64), zsetEl("pinf", math.Inf(1)),
		})
	})
	t.Run("NaNRefused", func(t *testing.T) {
		mustSortedSetPut(t, s, "nan", zsetLong, zsetEl("a", 1))
		err := s.SortedSetPut(ctx, testCache, []byte("nan"), []store.SortedSetElement{zsetEl("b", 2), zsetEl("a", math.NaN())}, zsetLong)
		errorIs(t, "SortedSetPut(a: NaN)", err, store.ErrInvalidScore)
		checkSortedSet(t, s, "nan", []store.SortedSetElement{zsetEl("a", 1)})
		err = s.SortedSetPut(ctx, testCache, []byte("nan-new"), []store.SortedSetElement{zsetEl("a", math.NaN())}, zsetLong)
		errorIs(t, "SortedSetPut(new set, a: NaN)", err, store.ErrInvalidScore)
		checkSortedSet(t, s, "nan-new", nil)
	})
	t.Run("CallerMayReuseSlices", func(t *testing.T) {
		value := []byte("value")
		mustSortedSetPut(t, s, "reuse", zsetLong, store.SortedSetElement{Value: value, Score: 1})
		copy(value, "XXXXX")
		checkSortedSet(t, s, "reuse", []store.SortedSetElement{zsetEl("value", 1)})
		got := sortedSetContents(t, s, "reuse")
		copy(got[0].Value, "YYYYY")
		checkSortedSet(t, s, "reuse", []store.SortedSetElement{zsetEl("value", 1)})
	})
}

func (h harness) testSortedSetOrder(t *testing.T) {
	s := h.openWithCache(t)
	// Ties order by value bytewise: "" < "A" < "a" < "aa" < "b" < "\xff".
	mustSortedSetPut(t, s, "ties", zsetLong,
		zsetEl("b", 1), zsetEl("\xff", 1), zsetEl("aa", 1), zsetEl("a", 1), zsetEl("", 1), zsetEl("A", 1),
		zsetEl("z", 0), zsetEl("0", 2), zsetEl("neg", -1), zsetEl("negzero", math.Copysign(0, -1)))
	asc := []store.SortedSetElement{
		zsetEl("neg", -1), zsetEl("negzero", 0), zsetEl("z", 0),
		zsetEl("", 1), zsetEl("A", 1), zsetEl("a", 1), zsetEl("aa", 1), zsetEl("b", 1), zsetEl("\xff", 1),
		zsetEl("0", 2),
	}
	checkSortedSet(t, s, "ties", asc)
	desc, found, err := s.SortedSetFetchByRank(t.Context(), testCache, []byte("ties"), store.RankRange{ToEnd: true}, store.Descending)
	if want := zsetReversed(asc); err != nil || !found || !zsetEqual(desc, want) {
		t.Errorf("SortedSetFetchByRank(ties, descending) = %s, %v, %v; want %s, true, nil (the exact reverse)", zsetString(desc), found, err, zsetString(want))
	}
	for i, e := range asc {
		rank, ranked, found, err := s.SortedSetGetRank(t.Context(), testCache, []byte("ties"), e.Value, store.Ascending)
		if err != nil || !found || !ranked || rank != i {
			t.Errorf("SortedSetGetRank(ties, %q, ascending) = %d, %v, %v, %v; want %d, true, true, nil", e.Value, rank, ranked, found, err, i)
		}
		rank, ranked, found, err = s.SortedSetGetRank(t.Context(), testCache, []byte("ties"), e.Value, store.Descending)
		if want := len(asc) - 1 - i; err != nil || !found || !ranked || rank != want {
			t.Errorf("SortedSetGetRank(ties, %q, descending) = %d, %v, %v, %v; want %d, true, true, nil", e.Value, rank, ranked, found, err, want)
		}
	}
}

func (h harness) testSortedSetFetchByRank(t *testing.T) {
	s := h.openWithCache(t)
	mustSortedSetPut(t, s, "z", zsetLong, zsetFixture...)
	f := zsetFixture
	desc := zsetReversed(f)
	empty := []store.SortedSetElement{}
	tests := []struct {
		name  string
		r     store.RankRange
		order store.SortedSetOrder
		want  []store.SortedSetElement
	}{
		{"All", store.RankRange{ToEnd: true}, store.Ascending, f},
		{"Start", store.RankRange{Start: 4, ToEnd: true}, store.Ascending, f[4:]},
		{"End", store.RankRange{End: 3}, store.Ascending, f[:3]},
		{"StartAndEnd", store.RankRange{Start: 1, End: 5}, store.Ascending, f[1:5]},
		{"StartOutOfRange", store.RankRange{Start: 10, ToEnd: true}, store.Ascending, empty},
		{"StartAtLength", store.RankRange{Start: 8, End: 9}, store.Ascending, empty},
		{"EndOutOfRange", store.RankRange{Start: 5, End: 100}, store.Ascending, f[5:]},
		{"NegativeStart", store.RankRange{Start: -5, ToEnd: true}, store.Ascending, f[3:]},
		{"NegativeEnd", store.RankRange{End: -2}, store.Ascending, f[:6]},
		{"BothNegative", store.RankRange{Start: -5, End: -2}, store.Ascending, f[3:6]},
		{"NegativeStartBeyond", store.RankRange{Start: -100, End: 2}, store.Ascending, f[:2]},
		{"NegativeEndBeyond", store.RankRange{End: -100}, store.Ascending, empty},
		{"StartEqualsEnd", store.RankRange{Start: 3, End: 3}, store.Ascending, empty},
		{"StartAfterEnd", store.RankRange{Start: 3, End: -6}, store.Ascending, empty},
		{"EndZero", store.RankRange{}, store.Ascending, empty},
		{"DescAll", store.RankRange{ToEnd: true}, store.Descending, desc},
		{"DescStart", store.RankRange{Start: 5, ToEnd: true}, store.Descending, desc[5:]},
		{"DescEnd", store.RankRange{End: 2}, store.Descending, desc[:2]},
		{"DescStartAndEnd", store.RankRange{Start: 1, End: 4}, store.Descending, desc[1:4]},
		{"DescNegativeStart", store.RankRange{Start: -3, ToEnd: true}, store.Descending, desc[5:]},
		{"DescNegativeEnd", store.RankRange{End: -3}, store.Descending, desc[:5]},
		{"DescOutOfRange", store.RankRange{Start: 8, ToEnd: true}, store.Descending, empty},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, found, err := s.SortedSetFetchByRank(t.Context(), testCache, []byte("z"), tc.r, tc.order)
			if err != nil || !found || !zsetEqual(got, tc.want) {
				t.Errorf("SortedSetFetchByRank(%+v, %v) = %s, %v, %v; want %s, true, nil", tc.r, tc.order, zsetString(got), found, err, zsetString(tc.want))
			}
		})
	}
	t.Run("Missing", func(t *testing.T) {
		got, found, err := s.SortedSetFetchByRank(t.Context(), testCache, []byte("missing"), store.RankRange{ToEnd: true}, store.Ascending)
		if err != nil || found || len(got) != 0 {
			t.Errorf("SortedSetFetchByRank(missing) = %s, %v, %v; want none, false, nil", zsetString(got), found, err)
		}
	})
}

func (h harness) testSortedSetFetchByScore(t *testing.T) {
	s := h.openWithCache(t)
	mustSortedSetPut(t, s, "z", zsetLong, zsetFixture...)
	mustSortedSetPut(t, s, "ties", zsetLong, zsetEl("a", 1), zsetEl("b", 2), zsetEl("c", 2), zsetEl("d", 2), zsetEl("e", 3))
	mustSortedSetPut(t, s, "inf", zsetLong, zsetEl("ninf", math.Inf(-1)), zsetEl("zero", 0), zsetEl("pinf", math.Inf(1)))
	f := zsetFixture
	desc := zsetReversed(f)
	empty := []store.SortedSetElement{}
	rng := func(min, max store.ScoreBound) store.ScoreRange { return store.ScoreRange{Min: min, Max: max} }
	tests := []struct {
		name          string
		key           string
		r             store.ScoreRange
		order         store.SortedSetOrder
		offset, count int
		want          []store.SortedSetElement
	}{
		{"All", "z", zsetAll, store.Ascending, 0, -1, f},
		{"Inclusive", "z", rng(zsetIncl(2), zsetIncl(1000)), store.Ascending, 0, -1, f[1:5]},
		{"Exclusive", "z", rng(zsetExcl(2), zsetExcl(1000)), store.Ascending, 0, -1, f[2:4]},
		{"MinOnly", "z", rng(zsetIncl(42), zsetUnbounded), store.Ascending, 0, -1, f[2:]},
		{"MaxOnly", "z", rng(zsetUnbounded, zsetIncl(42)), store.Ascending, 0, -1, f[:3]},
		{"BetweenScores", "z", rng(zsetIncl(3), zsetIncl(41)), store.Ascending, 0, -1, empty},
		{"OutOfRange", "z", rng(zsetIncl(2_000_000), zsetUnbounded), store.Ascending, 0, -1, empty},
		{"MinAboveMax", "z", rng(zsetIncl(100), zsetIncl(10)), store.Ascending, 0, -1, empty},
		{"PointInclusive", "z", rng(zsetIncl(42), zsetIncl(42)), store.Ascending, 0, -1, f[2:3]},
		{"PointExclusive", "z", rng(zsetExcl(42), zsetIncl(42)), store.Ascending, 0, -1, empty},
		{"Offset", "z", zsetAll, store.Ascending, 2, -1, f[2:]},
		{"Count", "z", zsetAll, store.Ascending, 0, 3, f[:3]},
		{"OffsetAndCount", "z", rng(zsetIncl(2), zsetUnbounded), store.Ascending, 2, 2, f[3:5]},
		{"CountBeyond", "z", rng(zsetIncl(2), zsetIncl(1000)), store.Ascending, 1, 100, f[2:5]},
		{"OffsetAtEnd", "z", rng(zsetIncl(2), zsetIncl(1000)), store.Ascending, 4, -1, empty},
		{"OffsetBeyond", "z", zsetAll, store.Ascending, 100, -1, empty},
		{"CountZero", "z", zsetAll, store.Ascending, 0, 0, empty},
		{"DescAll", "z", zsetAll, store.Descending, 0, -1, desc},
		{"DescRange", "z", rng(zsetIncl(2), zsetIncl(1000)), store.Descending, 0, -1, desc[3:7]},
		// The SDKs' example: min 20, max 100000, offset 2, count 2.
		{"DescOffsetAndCount", "z", rng(zsetIncl(20), zsetIncl(100000)), store.Descending, 2, 2, []store.SortedSetElement{zsetEl("bam", 1000), zsetEl("habanero", 68)}},
		{"DescOffsetAtEnd", "z", rng(zsetIncl(2), zsetIncl(1000)), store.Descending, 4, -1, empty},
		{"DescExclusive", "z", rng(zsetExcl(1), zsetExcl(68)), store.Descending, 0, -1, []store.SortedSetElement{zsetEl("baz", 42), zsetEl("bar", 2)}},
		{"TiesAscending", "ties", rng(zsetIncl(2), zsetIncl(2)), store.Ascending, 1, -1, []store.SortedSetElement{zsetEl("c", 2), zsetEl("d", 2)}},
		{"TiesDescending", "ties", rng(zsetIncl(2), zsetIncl(2)), store.Descending, 1, -1, []store.SortedSetElement{zsetEl("c", 2), zsetEl("b", 2)}},
		{"InfiniteBounds", "inf", rng(zsetIncl(math.Inf(-1)), zsetIncl(math.Inf(1))), store.Ascending, 0, -1,
			[]store.SortedSetElement{zsetEl("ninf", math.Inf(-1)), zsetEl("zero", 0), zsetEl("pinf", math.Inf(1))}},
		{"ExclusiveInfiniteBounds", "inf", rng(zsetExcl(math.Inf(-1)), zsetExcl(math.Inf(1))), store.Ascending, 0, -1, []store.SortedSetElement{zsetEl("zero", 0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, found, err := s.SortedSetFetchByScore(t.Context(), testCache, []byte(tc.key), tc.r, tc.order, tc.offset, tc.count)
			if err != nil || !found || !zsetEqual(got, tc.want) {
				t.Errorf("SortedSetFetchByScore(%s, %+v, %v, offset %d, count %d) = %s, %v, %v; want %s, true, nil",
					tc.key, tc.r, tc.order, tc.offset, tc.count, zsetString(got), found, err, zsetString(tc.want))
			}
		})
	}
	t.Run("Missing", func(t *testing.T) {
		got, found, err := s.SortedSetFetchByScore(t.Context(), testCache, []byte("missing"), zsetAll, store.Ascending, 0, -1)
		if err != nil || found || len(got) != 0 {
			t.Errorf("SortedSetFetchByScore(missing) = %s, %v, %v; want none, false, nil", zsetString(got), found, err)
		}
	})
	t.Run("NaNBound", func(t *testing.T) {
		for _, r := range []store.ScoreRange{rng(zsetIncl(math.NaN()), zsetUnbounded), rng(zsetUnbounded, zsetExcl(math.NaN()))} {
			_, _, err := s.SortedSetFetchByScore(t.Context(), testCache, []byte("z"), r, store.Ascending, 0, -1)
			errorIs(t, fmt.Sprintf("SortedSetFetchByScore(%+v)", r), err, store.ErrInvalidScore)
		}
	})
}

func (h harness) testSortedSetGetScores(t *testing.T) {
	s := h.openWithCache(t)
	mustSortedSetPut(t, s, "z", zsetLong, zsetEl("a", 1.5), zsetEl("b", -2), zsetEl("", 0), zsetEl("inf", math.Inf(1)))
	hit := func(score float64) store.SortedSetScore { return store.SortedSetScore{Score: score, Found: true} }
	miss := store.SortedSetScore{}
	tests := []struct {
		name      string
		key       string
		values    []string
		want      []store.SortedSetScore
		wantFound bool
	}{
		{"OneHit", "z", []string{"a"}, []store.SortedSetScore{hit(1.5)}, true},
		{"OneMiss", "z", []string{"zz"}, []store.SortedSetScore{miss}, true},
		{"RequestOrder", "z", []string{"b", "zz", "a", "", "inf"}, []store.SortedSetScore{hit(-2), miss, hit(1.5), hit(0), hit(math.Inf(1))}, true},
		{"Repeated", "z", []string{"a", "a", "zz", "zz"}, []store.SortedSetScore{hit(1.5), hit(1.5), miss, miss}, true},
		{"NoValues", "z", nil, []store.SortedSetScore{}, true},
		{"MissingSet", "missing", []string{"a"}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, found, err := s.SortedSetGetScores(t.Context(), testCache, []byte(tc.key), keys(tc.values...))
			if err != nil || found != tc.wantFound || len(got) != len(tc.want) {
				t.Fatalf("SortedSetGetScores(%q, %q) = %v, %v, %v; want %v, %v, nil", tc.key, tc.values, got, found, err, tc.want, tc.wantFound)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("SortedSetGetScores(%q, %q) = %v, want %v", tc.key, tc.values, got, tc.want)
					break
				}
			}
		})
	}
}

func (h harness) testSortedSetGetRank(t *testing.T) {
	s := h.openWithCache(t)
	mustSortedSetPut(t, s, "z", zsetLong, zsetEl("foo", 42), zsetEl("bar", 84), zsetEl("baz", 90210))
	tests := []struct {
		name                  string
		key, value            string
		order                 store.SortedSetOrder
		wantRank              int
		wantRanked, wantFound bool
	}{
		{"Lowest", "z", "foo", store.Ascending, 0, true, true},
		{"Middle", "z", "bar", store.Ascending, 1, true, true},
		{"Highest", "z", "baz", store.Ascending, 2, true, true},
		{"DescLowest", "z", "foo", store.Descending, 2, true, true},
		{"DescHighest", "z", "baz", store.Descending, 0, true, true},
		{"MissingValue", "z", "nope", store.Ascending, 0, false, true},
		{"MissingValueDesc", "z", "nope", store.Descending, 0, false, true},
		{"MissingSet", "missing", "foo", store.Ascending, 0, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rank, ranked, found, err := s.SortedSetGetRank(t.Context(), testCache, []byte(tc.key), []byte(tc.value), tc.order)
			if err != nil || found != tc.wantFound || ranked != tc.wantRanked || (ranked && rank != tc.wantRank) {
				t.Errorf("SortedSetGetRank(%q, %q, %v) = %d, %v, %v, %v; want %d, %v, %v, nil", tc.key, tc.value, tc.order, rank, ranked, found, err, tc.wantRank, tc.wantRanked, tc.wantFound)
			}
		})
	}
}

func (h harness) testSortedSetRemove(t *testing.T) {
	s := h.openWithCache(t)
	ctx := t.Context()
	remove := func(t *testing.T, key string, values ...string) {
		t.Helper()
		if err := s.SortedSetRemove(ctx, testCache, []byte(key), keys(values...)); err != nil {
			t.Fatalf("SortedSetRemove(%q, %q) = %v, want nil", key, values, err)
		}
	}
	t.Run("Some", func(t *testing.T) {
		mustSortedSetPut(t, s, "some", zsetLong, zsetEl("a", 1), zsetEl("b", 2), zsetEl("c", 3), zsetEl("", 4))
		remove(t, "some", "b", "nope", "", "b")
		checkSortedSet(t, s, "some", []store.SortedSetElement{zsetEl("a", 1), zsetEl("c", 3)})
	})
	t.Run("Absent", func(t *testing.T) {
		mustSortedSetPut(t, s, "absent", zsetLong, zsetEl("a", 1))
		remove(t, "absent", "nope")
		remove(t, "absent")
		checkSortedSet(t, s, "absent", []store.SortedSetElement{zsetEl("a", 1)})
	})
	t.Run("MissingSet", func(t *testing.T) {
		remove(t, "missing", "a")
		checkSortedSet(t, s, "missing", nil)
	})
	t.Run("LastElementDeletes", func(t *testing.T) {
		mustSortedSetPut(t, s, "last", zsetLong, zsetEl("a", 1), zsetEl("b", 2))
		remove(t, "last", "a")
		remove(t, "last", "b")
		checkSortedSet(t, s, "last", nil)
		if got, err := s.KeysExist(ctx, testCache, keys("last")); err != nil || len(got) != 1 || got[0] {
			t.Errorf("KeysExist(emptied sorted set) = %v, %v; want [false], nil", got, err)
		}
		// A later write starts a new set.
		mustSortedSetPut(t, s, "last", zsetLong, zsetEl("c", 3))
		checkSortedSet(t, s, "last", []store.SortedSetElement{zsetEl("c", 3)})
	})
	t.Run("AllAtOnceDeletes", func(t *testing.T) {
		mustSortedSetPut(t, s, "all", zsetLong, zsetEl("a", 1), zsetEl("b", 2))
		remove(t, "all", "b", "a")
		checkSortedSet(t, s, "all", nil)
	})
}

func (h harness) testSortedSetDelete(t *testing.T) {
	s := h.openWithCache(t)
	ctx := t.Context()
	mustSortedSetPut(t, s, "z", zsetLong, zsetEl("a", 1), zsetEl("b", 2))
	mustSortedSetPut(t, s, "other", zsetLong, zsetEl("a", 1))
	for range 2 { // deleting a missing set is a no-op
		if err := s.SortedSetDelete(ctx, testCache, []byte("z")); err != nil {
			t.Fatalf("SortedSetDelete(z) = %v, want nil", err)
		}
		checkSortedSet(t, s, "z", nil)
	}
	checkSortedSet(t, s, "other", []store.SortedSetElement{zsetEl("a", 1)})
}

func (h harness) testSortedSetIncrement(t *testing.T) {
	s := h.openWithCache(t)
	ctx := t.Context()
	incr := func(t *testing.T, key, value string, amount, want float64) {
		t.Helper()
		got, err := s.SortedSetIncrement(ctx, testCache, []byte(key), []byte(value), amount, zsetLong)
		if err != nil || got != want {
			t.Fatalf("SortedSetIncrement(%q, %q, %v) = %v, %v; want %v, nil", key, value, amount, got, err, want)
		}
	}
	t.Run("CreatesSet", func(t *testing.T) {
		incr(t, "new", "a", 1, 1)
		incr(t, "new", "b", 42, 42)
		checkSortedSet(t, s, "new", []store.SortedSetElement{zsetEl("a", 1), zsetEl("b", 42)})
	})
	t.Run("Existing", func(t *testing.T) {
		mustSortedSetPut(t, s, "ex", zsetLong, zsetEl("a", 90210), zsetEl("b", 100000))
		incr(t, "ex", "a", 10, 90220)
		incr(t, "ex", "a", -20, 90200)
		incr(t, "ex", "a", 0, 90200)
		incr(t, "ex", "a", 0.5, 90200.5)
		incr(t, "ex", "b", -100000, 0)
		checkSortedSet(t, s, "ex", []store.SortedSetElement{zsetEl("b", 0), zsetEl("a", 90200.5)})
	})
	t.Run("ZeroOnMissingValue", func(t *testing.T) {
		incr(t, "zero", "a", 0, 0)
		checkSortedSet(t, s, "zero", []store.SortedSetElement{zsetEl("a", 0)})
	})
	t.Run("Reorders", func(t *testing.T) {
		mustSortedSetPut(t, s, "reorder", zsetLong, zsetEl("a", 1), zsetEl("b", 2), zsetEl("c", 3))
		incr(t, "reorder", "a", 5, 6)
		checkSortedSet(t, s, "reorder", []store.SortedSetElement{zsetEl("b", 2), zsetEl("c", 3), zsetEl("a", 6)})
		rank, ranked, found, err := s.SortedSetGetRank(ctx, testCache, []byte("reorder"), []byte("a"), store.Ascending)
		if err != nil || !found || !ranked || rank != 2 {
			t.Errorf("SortedSetGetRank(a) after increment = %d, %v, %v, %v; want 2, true, true, nil", rank, ranked, found, err)
		}
	})
	t.Run("Infinity", func(t *testing.T) {
		incr(t, "inf", "a", math.Inf(1), math.Inf(1))
		incr(t, "inf", "a", 1e300, math.Inf(1))
		incr(t, "inf", "b", math.MaxFloat64, math.MaxFloat64)
		incr(t, "inf", "b", math.MaxFloat64, math.Inf(1)) // overflow rounds to +Inf, as in Redis
		checkSortedSet(t, s, "inf", []store.SortedSetElement{zsetEl("a", math.Inf(1)), zsetEl("b", math.Inf(1))})
	})
	t.Run("NaNResultRefused", func(t *testing.T) {
		mustSortedSetPut(t, s, "nan", zsetLong, zsetEl("p", math.Inf(1)), zsetEl("n", math.Inf(-1)))
		_, err := s.SortedSetIncrement(ctx, testCache, []byte("nan"), []byte("p"), math.Inf(-1), zsetLong)
		errorIs(t, "SortedSetIncrement(+Inf, -Inf)", err, store.ErrScoreNaN)
		errorIs(t, "SortedSetIncrement(+Inf, -Inf)", err, store.ErrOverflow)
		_, err = s.SortedSetIncrement(ctx, testCache, []byte("nan"), []byte("n"), math.Inf(1), zsetLong)
		errorIs(t, "SortedSetIncrement(-Inf, +Inf)", err, store.ErrScoreNaN)
		checkSortedSet(t, s, "nan", []store.SortedSetElement{zsetEl("n", math.Inf(-1)), zsetEl("p", math.Inf(1))})
	})
	t.Run("NaNAmountRefused", func(t *testing.T) {
		mustSortedSetPut(t, s, "nan-amount", zsetLong, zsetEl("a", 1))
		_, err := s.SortedSetIncrement(ctx, testCache, []byte("nan-amount"), []byte("a"), math.NaN(), zsetLong)
		errorIs(t, "SortedSetIncrement(NaN)", err, store.ErrInvalidScore)
		_, err = s.SortedSetIncrement(ctx, testCache, []byte("nan-new"), []byte("a"), math.NaN(), zsetLong)
		errorIs(t, "SortedSetIncrement(new set, NaN)", err, store.ErrInvalidScore)
		checkSortedSet(t, s, "nan-amount", []store.SortedSetElement{zsetEl("a", 1)})
		checkSortedSet(t, s, "nan-new", nil)
	})
}

func (h harness) testSortedSetLength(t *testing.T) {
	s := h.openWithCache(t)
	mustSortedSetPut(t, s, "z", zsetLong, zsetFixture...)
	tests := []struct {
		name      string
		key       string
		want      int
		wantFound bool
	}{
		{"Existing", "z", len(zsetFixture), true},
		{"Missing", "missing", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, found, err := s.SortedSetLength(t.Context(), testCache, []byte(tc.key))
			if err != nil || found != tc.wantFound || n != tc.want {
				t.Errorf("SortedSetLength(%q) = %d, %v, %v; want %d, %v, nil", tc.key, n, found, err, tc.want, tc.wantFound)
			}
		})
	}
}

func (h harness) testSortedSetLengthByScore(t *testing.T) {
	s := h.openWithCache(t)
	// The SDKs' nine-element fixture.
	mustSortedSetPut(t, s, "z", zsetLong, append(zsetFixture[:len(zsetFixture):len(zsetFixture)], zsetEl("ninf", math.Inf(-1)))...)
	rng := func(min, max store.ScoreBound) store.ScoreRange { return store.ScoreRange{Min: min, Max: max} }
	tests := []struct {
		name      string
		key       string
		r         store.ScoreRange
		want      int
		wantFound bool
	}{
		{"All", "z", zsetAll, 9, true},
		{"MinInclusive", "z", rng(zsetIncl(42), zsetUnbounded), 6, true},
		{"MinExclusive", "z", rng(zsetExcl(42), zsetUnbounded), 5, true},
		{"MaxInclusive", "z", rng(zsetUnbounded, zsetIncl(42)), 4, true},
		{"MaxExclusive", "z", rng(zsetUnbounded, zsetExcl(42)), 3, true},
		{"Both", "z", rng(zsetIncl(1), zsetIncl(42)), 3, true},
		{"BothExclusive", "z", rng(zsetExcl(1), zsetExcl(1000)), 3, true},
		{"Point", "z", rng(zsetIncl(68), zsetIncl(68)), 1, true},
		{"None", "z", rng(zsetIncl(3), zsetIncl(41)), 0, true},
		{"MinAboveMax", "z", rng(zsetIncl(50), zsetIncl(10)), 0, true},
		{"NegativeInfinity", "z", rng(zsetIncl(math.Inf(-1)), zsetIncl(math.Inf(-1))), 1, true},
		{"Missing", "missing", zsetAll, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, found, err := s.SortedSetLengthByScore(t.Context(), testCache, []byte(tc.key), tc.r)
			if err != nil || found != tc.wantFound || n != tc.want {
				t.Errorf("SortedSetLengthByScore(%q, %+v) = %d, %v, %v; want %d, %v, nil", tc.key, tc.r, n, found, err, tc.want, tc.wantFound)
			}
		})
	}
	t.Run("NaNBound", func(t *testing.T) {
		_, _, err := s.SortedSetLengthByScore(t.Context(), testCache, []byte("z"), rng(zsetIncl(math.NaN()), zsetUnbounded))
		errorIs(t, "SortedSetLengthByScore(NaN)", err, store.ErrInvalidScore)
	})
}

func (h harness) testSortedSetUnionStore(t *testing.T) {
	s := h.openWithCache(t)
	ctx := t.Context()
	// The SDKs' example: set3 {foo:1, bar:3} and set4 {abc:2, bar:2}.
	mustSortedSetPut(t, s, "set3", zsetLong, zsetEl("foo", 1), zsetEl("bar", 3))
	mustSortedSetPut(t, s, "set4", zsetLong, zsetEl("abc", 2), zsetEl("bar", 2))
	mustSortedSetPut(t, s, "inf", zsetLong, zsetEl("p", math.Inf(1)), zsetEl("n", math.Inf(-1)), zsetEl("one", 1))
	mustSortedSetPut(t, s, "ninf", zsetLong, zsetEl("p", math.Inf(-1)))
	src := func(key string, weight float32) store.SortedSetSource {
		return store.SortedSetSource{Key: []byte(key), Weight: weight}
	}
	union := func(dest string, sources []store.SortedSetSource, agg store.SortedSetAggregate, w store.CollectionWrite) (int, error) {
		return s.SortedSetUnionStore(ctx, testCache, []byte(dest), sources, agg, w)
	}
	tests := []struct {
		name    string
		sources []store.SortedSetSource
		agg     store.SortedSetAggregate
		want    []store.SortedSetElement // nil: dest is deleted
	}{
		{"Sum", []store.SortedSetSource{src("set3", 1), src("set4", 2.5)}, store.AggregateSum,
			[]store.SortedSetElement{zsetEl("foo", 1), zsetEl("abc", 5), zsetEl("bar", 8)}},
		{"Min", []store.SortedSetSource{src("set3", 1), src("set4", 2.5)}, store.AggregateMin,
			[]store.SortedSetElement{zsetEl("foo", 1), zsetEl("bar", 3), zsetEl("abc", 5)}},
		{"Max", []store.SortedSetSource{src("set3", 1), src("set4", 2.5)}, store.AggregateMax,
			[]store.SortedSetElement{zsetEl("foo", 1), zsetEl("abc", 5), zsetEl("bar", 5)}},
		{"One", []store.SortedSetSource{src("set3", 1)}, store.AggregateSum,
			[]store.SortedSetElement{zsetEl("foo", 1), zsetEl("bar", 3)}},
		{"WeightZero", []store.SortedSetSource{src("set3", 0)}, store.AggregateSum,
			[]store.SortedSetElement{zsetEl("bar", 0), zsetEl("foo", 0)}},
		{"WeightNegative", []store.SortedSetSource{src("set3", -1)}, store.AggregateSum,
			[]store.SortedSetElement{zsetEl("bar", -3), zsetEl("foo", -1)}},
		{"SameSourceTwice", []store.SortedSetSource{src("set3", 1), src("set3", 2)}, store.AggregateSum,
			[]store.SortedSetElement{zsetEl("foo", 3), zsetEl("bar", 9)}},
		{"MissingSourceIsEmpty", []store.SortedSetSource{src("missing", 1), src("set4", 1)}, store.AggregateMin,
			[]store.SortedSetElement{zsetEl("abc", 2), zsetEl("bar", 2)}},
		{"AllMissing", []store.SortedSetSource{src("missing", 1), src("missing2", 1)}, store.AggregateSum, nil},
		{"NoSources", nil, store.AggregateSum, nil},
		{"ZeroTimesInfinityIsZero", []store.SortedSetSource{src("inf", 0)}, store.AggregateSum,
			[]store.SortedSetElement{zsetEl("n", 0), zsetEl("one", 0), zsetEl("p", 0)}},
		{"InfinityMinusInfinityIsZero", []store.SortedSetSource{src("inf", 1), src("ninf", 1)}, store.AggregateSum,
			[]store.SortedSetElement{zsetEl("n", math.Inf(-1)), zsetEl("p", 0), zsetEl("one", 1)}},
		{"InfinityMin", []store.SortedSetSource{src("inf", 1), src("ninf", 1)}, store.AggregateMin,
			[]store.SortedSetElement{zsetEl("n", math.Inf(-1)), zsetEl("p", math.Inf(-1)), zsetEl("one", 1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dest := "dest-" + tc.name
			// The destination's old contents go, whatever they were.
			mustSortedSetPut(t, s, dest, zsetLong, zsetEl("old", 1), zsetEl("foo", 100))
			n, err := union(dest, tc.sources, tc.agg, zsetLong)
			if err != nil || n != len(tc.want) {
				t.Fatalf("SortedSetUnionStore(%s, %v) = %d, %v; want %d, nil", tc.name, tc.agg, n, err, len(tc.want))
			}
			checkSortedSet(t, s, dest, tc.want)
		})
	}
	t.Run("SourcesUnchanged", func(t *testing.T) {
		checkSortedSet(t, s, "set3", []store.SortedSetElement{zsetEl("foo", 1), zsetEl("bar", 3)})
		checkSortedSet(t, s, "set4", []store.SortedSetElement{zsetEl("abc", 2), zsetEl("bar", 2)})
	})
	t.Run("MissingDestination", func(t *testing.T) {
		n, err := union("fresh", []store.SortedSetSource{src("set4", 1)}, store.AggregateSum, zsetLong)
		if err != nil || n != 2 {
			t.Fatalf("SortedSetUnionStore(fresh) = %d, %v; want 2, nil", n, err)
		}
		checkSortedSet(t, s, "fresh", []store.SortedSetElement{zsetEl("abc", 2), zsetEl("bar", 2)})
		n, err = union("fresh-empty", []store.SortedSetSource{src("missing", 1)}, store.AggregateSum, zsetLong)
		if err != nil || n != 0 {
			t.Fatalf("SortedSetUnionStore(fresh-empty, missing) = %d, %v; want 0, nil", n, err)
		}
		checkSortedSet(t, s, "fresh-empty", nil)
	})
	t.Run("DestinationIsSource", func(t *testing.T) {
		mustSortedSetPut(t, s, "self", zsetLong, zsetEl("a", 1), zsetEl("bar", 1))
		n, err := union("self", []store.SortedSetSource{src("self", 2), src("set4", 1)}, store.AggregateSum, zsetLong)
		if err != nil || n != 3 {
			t.Fatalf("SortedSetUnionStore(self, [self, set4]) = %d, %v; want 3, nil", n, err)
		}
		checkSortedSet(t, s, "self", []store.SortedSetElement{zsetEl("a", 2), zsetEl("abc", 2), zsetEl("bar", 4)})
	})
	t.Run("NaNWeightRefused", func(t *testing.T) {
		mustSortedSetPut(t, s, "nan-dest", zsetLong, zsetEl("keep", 1))
		_, err := union("nan-dest", []store.SortedSetSource{src("set3", float32(math.NaN()))}, store.AggregateSum, zsetLong)
		errorIs(t, "SortedSetUnionStore(weight NaN)", err, store.ErrInvalidScore)
		checkSortedSet(t, s, "nan-dest", []store.SortedSetElement{zsetEl("keep", 1)})
	})
	t.Run("InfiniteWeight", func(t *testing.T) {
		n, err := union("inf-weight", []store.SortedSetSource{src("set4", float32(math.Inf(-1)))}, store.AggregateSum, zsetLong)
		if err != nil || n != 2 {
			t.Fatalf("SortedSetUnionStore(weight -Inf) = %d, %v; want 2, nil", n, err)
		}
		checkSortedSet(t, s, "inf-weight", []store.SortedSetElement{zsetEl("abc", math.Inf(-1)), zsetEl("bar", math.Inf(-1))})
	})
	t.Run("WrongTypeSource", func(t *testing.T) {
		mustSet(t, s, testCache, []byte("scalar-src"), []byte("v"), longTTL)
		mustSortedSetPut(t, s, "wt-dest", zsetLong, zsetEl("keep", 1))
		_, err := union("wt-dest", []store.SortedSetSource{src("set3", 1), src("scalar-src", 1)}, store.AggregateSum, zsetLong)
		errorIs(t, "SortedSetUnionStore(source is a scalar)", err, store.ErrWrongType)
		checkSortedSet(t, s, "wt-dest", []store.SortedSetElement{zsetEl("keep", 1)})
		checkValue(t, s, testCache, []byte("scalar-src"), []byte("v"))
	})
	t.Run("WrongTypeDestination", func(t *testing.T) {
		mustSet(t, s, testCache, []byte("scalar-dest"), []byte("v"), longTTL)
		_, err := union("scalar-dest", []store.SortedSetSource{src("set3", 1)}, store.AggregateSum, zsetLong)
		errorIs(t, "SortedSetUnionStore(destination is a scalar)", err, store.ErrWrongType)
		checkValue(t, s, testCache, []byte("scalar-dest"), []byte("v"))
	})
	t.Run("TTL", func(t *testing.T) {
		const medium = time.Minute
		// The destination takes the union's TTL even without RefreshTTL:
		// it is replaced, not updated.
		mustSortedSetPut(t, s, "ttl-dest", zsetLong, zsetEl("old", 1))
		if _, err := union("ttl-dest", []store.SortedSetSource{src("set3", 1)}, store.AggregateSum, store.CollectionWrite{TTL: medium}); err != nil {
			t.Fatalf("SortedSetUnionStore(ttl-dest, %v) = %v, want nil", medium, err)
		}
		checkRemaining(t, s, testCache, []byte("ttl-dest"), 0, medium)
		if _, err := union("ttl-new", []store.SortedSetSource{src("set3", 1)}, store.AggregateSum, store.CollectionWrite{TTL: shortTTL}); err != nil {
			t.Fatalf("SortedSetUnionStore(ttl-new, %v) = %v, want nil", shortTTL, err)
		}
		eventually(t, "a union destination to expire", func() bool { return sortedSetContents(t, s, "ttl-new") == nil })
		// The sources keep theirs.
		checkRemaining(t, s, testCache, []byte("set3"), longTTL/2, longTTL)
	})
}

// sortedSetOps calls every sorted-set operation on one key, for the tests
// that check the error each returns.
var sortedSetOps = []struct {
	name string
	call func(ctx context.Context, s store.Store, cache string, key []byte) error
}{
	{"SortedSetPut", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		return s.SortedSetPut(ctx, cache, key, []store.SortedSetElement{zsetEl("a", 1)}, zsetLong)
	}},
	{"SortedSetFetchByRank", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, _, err := s.SortedSetFetchByRank(ctx, cache, key, store.RankRange{ToEnd: true}, store.Ascending)
		return err
	}},
	{"SortedSetFetchByScore", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, _, err := s.SortedSetFetchByScore(ctx, cache, key, zsetAll, store.Descending, 0, -1)
		return err
	}},
	{"SortedSetGetScores", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, _, err := s.SortedSetGetScores(ctx, cache, key, keys("a"))
		return err
	}},
	{"SortedSetGetRank", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, _, _, err := s.SortedSetGetRank(ctx, cache, key, []byte("a"), store.Ascending)
		return err
	}},
	{"SortedSetRemove", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		return s.SortedSetRemove(ctx, cache, key, keys("a"))
	}},
	{"SortedSetDelete", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		return s.SortedSetDelete(ctx, cache, key)
	}},
	{"SortedSetIncrement", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, err := s.SortedSetIncrement(ctx, cache, key, []byte("a"), 1, zsetLong)
		return err
	}},
	{"SortedSetLength", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, _, err := s.SortedSetLength(ctx, cache, key)
		return err
	}},
	{"SortedSetLengthByScore", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, _, err := s.SortedSetLengthByScore(ctx, cache, key, zsetAll)
		return err
	}},
	{"SortedSetUnionStoreDestination", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, err := s.SortedSetUnionStore(ctx, cache, key, []store.SortedSetSource{{Key: []byte("storetest-zset-source"), Weight: 1}}, store.AggregateSum, zsetLong)
		return err
	}},
	{"SortedSetUnionStoreSource", func(ctx context.Context, s store.Store, cache string, key []byte) error {
		_, err := s.SortedSetUnionStore(ctx, cache, []byte("storetest-zset-dest"), []store.SortedSetSource{{Key: key, Weight: 1}}, store.AggregateSum, zsetLong)
		return err
	}},
}

func (h harness) testSortedSetWrongType(t *testing.T) {
	s := h.openWithCache(t)
	ctx := t.Context()
	mustSet(t, s, testCache, []byte("scalar"), []byte("7"), longTTL)
	if err := s.DictionarySet(ctx, testCache, []byte("dict"), []store.DictionaryField{{Field: []byte("f"), Value: []byte("v")}}, zsetLong); err != nil {
		t.Fatalf("DictionarySet(dict) = %v, want nil", err)
	}
	// The union's other key holds a sorted set, so that only the key under
	// test can fail.
	mustSortedSetPut(t, s, "storetest-zset-source", zsetLong, zsetEl("s", 1))
	for _, target := range []string{"scalar", "dict"} {
		for _, op := range sortedSetOps {
			t.Run(op.name+"On"+target, func(t *testing.T) {
				errorIs(t, fmt.Sprintf("%s(%s)", op.name, target), op.call(ctx, s, testCache, []byte(target)), store.ErrWrongType)
			})
		}
	}
	checkValue(t, s, testCache, []byte("scalar"), []byte("7"))
	if values, found, err := s.DictionaryGet(ctx, testCache, []byte("dict"), keys("f")); err != nil || !found || len(values) != 1 || string(values[0].Value) != "v" {
		t.Errorf("DictionaryGet(dict, f) = %v, %v, %v; want [v], true, nil", values, found, err)
	}
	checkSortedSet(t, s, "storetest-zset-dest", nil)

	mustSortedSetPut(t, s, "zset", zsetLong, zsetEl("a", 1))
	otherOps := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Get", func(ctx context.Context) error {
			_, _, err := s.Get(ctx, testCache, []byte("zset"))
			return err
		}},
		{"SetIf", func(ctx context.Context) error {
			_, err := s.SetIf(ctx, testCache, []byte("zset"), []byte("v"), longTTL, store.Condition{Kind: store.Present})
			return err
		}},
		{"Increment", func(ctx context.Context) error {
			_, err := s.Increment(ctx, testCache, []byte("zset"), 1, longTTL)
			return err
		}},
		{"DictionarySet", func(ctx context.Context) error {
			return s.DictionarySet(ctx, testCache, []byte("zset"), []store.DictionaryField{{Field: []byte("f"), Value: []byte("v")}}, zsetLong)
		}},
	}
	for _, op := range otherOps {
		t.Run(op.name+"OnSortedSet", func(t *testing.T) {
			errorIs(t, op.name+"(zset)", op.call(ctx), store.ErrWrongType)
		})
	}
	checkSortedSet(t, s, "zset", []store.SortedSetElement{zsetEl("a", 1)})
}

func (h harness) testSortedSetItemOperations(t *testing.T) {
	s := h.openWithCache(t)
	ctx := t.Context()
	const medium = time.Minute
	mustSortedSetPut(t, s, "z", store.CollectionWrite{TTL: medium}, zsetEl("a", 1))

	if typ, found, err := s.ItemType(ctx, testCache, []byte("z")); err != nil || !found || typ != store.ItemSortedSet {
		t.Errorf("ItemType(z) = %v, %v, %v; want %v, true, nil", typ, found, err, store.ItemSortedSet)
	}
	checkRemaining(t, s, testCache, []byte("z"), 0, medium)
	if got, err := s.KeysExist(ctx, testCache, keys("z", "missing")); err != nil || len(got) != 2 || !got[0] || got[1] {
		t.Errorf("KeysExist(z, missing) = %v, %v; want [true false], nil", got, err)
	}
	if got, err := s.UpdateTTL(ctx, testCache, []byte("z"), store.IncreaseTo, longTTL); err != nil || got != store.TTLSet {
		t.Errorf("UpdateTTL(z, increase to %v) = %v, %v; want %v, nil", longTTL, got, err, store.TTLSet)
	}
	checkRemaining(t, s, testCache, []byte("z"), longTTL/2, longTTL)
	checkSortedSet(t, s, "z", []store.SortedSetElement{zsetEl("a", 1)})

	// Set replaces a sorted set with a scalar; Delete removes one.
	mustSet(t, s, testCache, []byte("z"), []byte("scalar"), longTTL)
	checkValue(t, s, testCache, []byte("z"), []byte("scalar"))
	if typ, found, err := s.ItemType(ctx, testCache, []byte("z")); err != nil || !found || typ != store.ItemScalar {
		t.Errorf("ItemType(z) after Set = %v, %v, %v; want %v, true, nil", typ, found, err, store.ItemScalar)
	}
	mustSortedSetPut(t, s, "d", zsetLong, zsetEl("a", 1))
	if err := s.Delete(ctx, testCache, []byte("d")); err != nil {
		t.Fatalf("Delete(d) = %v, want nil", err)
	}
	checkSortedSet(t, s, "d", nil)
}

func (h harness) testSortedSetTTL(t *testing.T) {
	s := h.openWithCache(t)
	const medium = time.Minute // neither expires during a test nor reaches longTTL/2
	writes := []struct {
		name  string
		write func(ctx context.Context, key []byte, w store.CollectionWrite) error
	}{
		{"SortedSetPut", func(ctx context.Context, key []byte, w store.CollectionWrite) error {
			return s.SortedSetPut(ctx, testCache, key, []store.SortedSetElement{zsetEl("a", 1)}, w)
		}},
		{"SortedSetIncrement", func(ctx context.Context, key []byte, w store.CollectionWrite) error {
			_, err := s.SortedSetIncrement(ctx, testCache, key, []byte("a"), 1, w)
			return err
		}},
	}
	for _, op := range writes {
		t.Run(op.name, func(t *testing.T) {
			t.Parallel()
			checkCollectionTTLRules(t, s, op.name, "sorted set", zsetLong, op.write,
				func(t *testing.T, key string) bool { return sortedSetContents(t, s, key) == nil })
		})
	}
	t.Run("NoElementsRefreshes", func(t *testing.T) {
		t.Parallel()
		mustSortedSetPut(t, s, "noelements", store.CollectionWrite{TTL: medium}, zsetEl("a", 1))
		mustSortedSetPut(t, s, "noelements", zsetLong)
		checkRemaining(t, s, testCache, []byte("noelements"), longTTL/2, longTTL)
	})
	t.Run("RemoveKeepsTTL", func(t *testing.T) {
		t.Parallel()
		mustSortedSetPut(t, s, "remove", store.CollectionWrite{TTL: medium}, zsetEl("a", 1), zsetEl("b", 2))
		if err := s.SortedSetRemove(t.Context(), testCache, []byte("remove"), keys("a")); err != nil {
			t.Fatalf("SortedSetRemove(a) = %v, want nil", err)
		}
		checkRemaining(t, s, testCache, []byte("remove"), 0, medium)
	})
	t.Run("FailedWriteKeepsTTL", func(t *testing.T) {
		t.Parallel()
		mustSortedSetPut(t, s, "failed", store.CollectionWrite{TTL: medium}, zsetEl("a", math.Inf(1)))
		_, err := s.SortedSetIncrement(t.Context(), testCache, []byte("failed"), []byte("a"), math.Inf(-1), zsetLong)
		errorIs(t, "SortedSetIncrement(+Inf, -Inf)", err, store.ErrScoreNaN)
		checkRemaining(t, s, testCache, []byte("failed"), 0, medium)
	})
}

func (h harness) testSortedSetExpired(t *testing.T) {
	s := h.openWithCache(t)
	ctx := t.Context()
	for _, op := range sortedSetOps {
		mustSortedSetPut(t, s, "expired-"+op.name, store.CollectionWrite{TTL: shortTTL}, zsetEl("a", 1), zsetEl("b", 2))
	}
	mustSortedSetPut(t, s, "expired-scalar", store.CollectionWrite{TTL: shortTTL}, zsetEl("a", 1))
	setExpired(t, s, testCache, nil) // returns once every sorted set above has expired

	key := func(op string) []byte { return []byte("expired-" + op) }
	if got, found, err := s.SortedSetFetchByRank(ctx, testCache, key("SortedSetFetchByRank"), store.RankRange{ToEnd: true}, store.Ascending); err != nil || found {
		t.Errorf("SortedSetFetchByRank(expired) = %s, %v, %v; want not found", zsetString(got), found, err)
	}
	if got, found, err := s.SortedSetFetchByScore(ctx, testCache, key("SortedSetFetchByScore"), zsetAll, store.Ascending, 0, -1); err != nil || found {
		t.Errorf("SortedSetFetchByScore(expired) = %s, %v, %v; want not found", zsetString(got), found, err)
	}
	if got, found, err := s.SortedSetGetScores(ctx, testCache, key("SortedSetGetScores"), keys("a")); err != nil || found {
		t.Errorf("SortedSetGetScores(expired) = %v, %v, %v; want not found", got, found, err)
	}
	if _, _, found, err := s.SortedSetGetRank(ctx, testCache, key("SortedSetGetRank"), []byte("a"), store.Ascending); err != nil || found {
		t.Errorf("SortedSetGetRank(expired) = %v, %v; want not found", found, err)
	}
	if n, found, err := s.SortedSetLength(ctx, testCache, key("SortedSetLength")); err != nil || found {
		t.Errorf("SortedSetLength(expired) = %d, %v, %v; want not found", n, found, err)
	}
	if n, found, err := s.SortedSetLengthByScore(ctx, testCache, key("SortedSetLengthByScore"), zsetAll); err != nil || found {
		t.Errorf("SortedSetLengthByScore(expired) = %d, %v, %v; want not found", n, found, err)
	}
	if err := s.SortedSetRemove(ctx, testCache, key("SortedSetRemove"), keys("a")); err != nil {
		t.Errorf("SortedSetRemove(expired) = %v, want nil", err)
	}
	checkSortedSet(t, s, "expired-SortedSetRemove", nil)
	if err := s.SortedSetDelete(ctx, testCache, key("SortedSetDelete")); err != nil {
		t.Errorf("SortedSetDelete(expired) = %v, want nil", err)
	}
	checkSortedSet(t, s, "expired-SortedSetDelete", nil)
	mustSortedSetPut(t, s, "expired-SortedSetPut", zsetLong, zsetEl("c", 3))
	checkSortedSet(t, s, "expired-SortedSetPut", []store.SortedSetElement{zsetEl("c", 3)})
	if got, err := s.SortedSetIncrement(ctx, testCache, key("SortedSetIncrement"), []byte("a"), 5, zsetLong); err != nil || got != 5 {
		t.Errorf("SortedSetIncrement(expired, a, 5) = %v, %v; want 5, nil", got, err)
	}
	checkSortedSet(t, s, "expired-SortedSetIncrement", []store.SortedSetElement{zsetEl("a", 5)})
	// An expired source counts as empty; an expired destination is replaced.
	mustSortedSetPut(t, s, "live", zsetLong, zsetEl("x", 1))
	n, err := s.SortedSetUnionStore(ctx, testCache, key("SortedSetUnionStoreDestination"),
		[]store.SortedSetSource{{Key: key("SortedSetUnionStoreSource"), Weight: 1}, {Key: []byte("live"), Weight: 1}}, store.AggregateSum, zsetLong)
	if err != nil || n != 1 {
		t.Errorf("SortedSetUnionStore(expired dest, [expired, live]) = %d, %v; want 1, nil", n, err)
	}
	checkSortedSet(t, s, "expired-SortedSetUnionStoreDestination", []store.SortedSetElement{zsetEl("x", 1)})
	mustSet(t, s, testCache, key("scalar"), []byte("v"), longTTL)
	checkValue(t, s, testCache, key("scalar"), []byte("v"))
}

func (h harness) testSortedSetMaxSize(t *testing.T) {
	s := h.openWithCache(t)
	ctx := t.Context()
	// The size of a sorted set is its key plus, per element, the value and
	// 8 bytes of score.
	const limit = 30
	w := store.CollectionWrite{TTL: longTTL, RefreshTTL: true, MaxSize: limit}
	pad := func(n int) string { return strings.Repeat("x", n) }
	put := func(key string, elements ...store.SortedSetElement) error {
		return s.SortedSetPut(ctx, testCache, []byte(key), elements, w)
	}

	t.Run("Put", func(t *testing.T) {
		t.Parallel()
		// "p" + (8 + 8) + (5 + 8) = 30.
		if err := put("p", zsetEl(pad(8), 1), zsetEl("abcde", 2)); err != nil {
			t.Fatalf("SortedSetPut to exactly %d bytes = %v, want nil", limit, err)
		}
		want := []store.SortedSetElement{zsetEl(pad(8), 1), zsetEl("abcde", 2)}
		tests := []struct {
			name     string
			elements []store.SortedSetElement
			wantErr  bool
		}{
			{"NewEmptyValue", []store.SortedSetElement{zsetEl("", 3)}, true}, // 8 bytes of score
			{"NewValue", []store.SortedSetElement{zsetEl("y", 3)}, true},
			{"NewScoreOnly", []store.SortedSetElement{zsetEl("abcde", 7), zsetEl(pad(8), -1)}, false},
		}
		for _, tc := range tests {
			before := sortedSetContents(t, s, "p")
			err := put("p", tc.elements...)
			if tc.wantErr {
				errorIs(t, fmt.Sprintf("SortedSetPut(%s)", tc.name), err, store.ErrItemTooLarge)
				checkSortedSet(t, s, "p", before)
				continue
			}
			if err != nil {
				t.Fatalf("SortedSetPut(%s) = %v, want nil", tc.name, err)
			}
		}
		want[0].Score, want[1].Score = -1, 7
		checkSortedSet(t, s, "p", want)
		// Room freed by a removal can be used again.
		if err := s.SortedSetRemove(ctx, testCache, []byte("p"), keys("abcde")); err != nil {
			t.Fatalf("SortedSetRemove(abcde) = %v, want nil", err)
		}
		if err := put("p", zsetEl("12345", 0)); err != nil {
			t.Fatalf("SortedSetPut into freed room = %v, want nil", err)
		}
	})

	t.Run("NewSetTooLarge", func(t *testing.T) {
		t.Parallel()
		err := put("n", zsetEl(pad(10), 1), zsetEl(pad(11), 2))
		errorIs(t, "SortedSetPut(new set of 38 bytes)", err, store.ErrItemTooLarge)
		checkSortedSet(t, s, "n", nil)
	})

	t.Run("RepeatedValueCountsOnce", func(t *testing.T) {
		t.Parallel()
		if err := put("r", zsetEl(pad(21), 1), zsetEl(pad(21), 2)); err != nil {
			t.Fatalf("SortedSetPut(one value twice, %d bytes once) = %v, want nil", limit, err)
		}
		checkSortedSet(t, s, "r", []store.SortedSetElement{zsetEl(pad(21), 2)})
	})

	t.Run("Increment", func(t *testing.T) {
		t.Parallel()
		if err := put("i", zsetEl(pad(21), 1)); err != nil {
			t.Fatalf("SortedSetPut to exactly %d bytes = %v, want nil", limit, err)
		}
		_, err := s.SortedSetIncrement(ctx, testCache, []byte("i"), []byte(""), 1, w)
		errorIs(t, "SortedSetIncrement(new value) past the limit", err, store.ErrItemTooLarge)
		if got, err := s.SortedSetIncrement(ctx, testCache, []byte("i"), []byte(pad(21)), 1, w); err != nil || got != 2 {
			t.Errorf("SortedSetIncrement(existing value) at the limit = %v, %v; want 2, nil", got, err)
		}
		checkSortedSet(t, s, "i", []store.SortedSetElement{zsetEl(pad(21), 2)})
		small := store.CollectionWrite{TTL: longTTL, MaxSize: 9}
		_, err = s.SortedSetIncrement(ctx, testCache, []byte("k"), []byte("v"), 1, small)
		errorIs(t, "SortedSetIncrement(k, v) over 9 bytes", err, store.ErrItemTooLarge)
		checkSortedSet(t, s, "k", nil)
	})

	t.Run("UnionStore", func(t *testing.T) {
		t.Parallel()
		mustSortedSetPut(t, s, "u-src1", zsetLong, zsetEl(pad(10), 1))
		mustSortedSetPut(t, s, "u-src2", zsetLong, zsetEl(pad(11), 1))
		mustSortedSetPut(t, s, "u", zsetLong, zsetEl("keep", 1))
		sources := []store.SortedSetSource{{Key: []byte("u-src1"), Weight: 1}, {Key: []byte("u-src2"), Weight: 1}}
		_, err := s.SortedSetUnionStore(ctx, testCache, []byte("u"), sources, store.AggregateSum, w)
		errorIs(t, "SortedSetUnionStore(38 bytes)", err, store.ErrItemTooLarge)
		checkSortedSet(t, s, "u", []store.SortedSetElement{zsetEl("keep", 1)})
		// "u" + (10 + 8) = 19 fits, whatever the old contents took.
		if n, err := s.SortedSetUnionStore(ctx, testCache, []byte("u"), sources[:1], store.AggregateSum, w); err != nil || n != 1 {
			t.Errorf("SortedSetUnionStore(19 bytes) = %d, %v; want 1, nil", n, err)
		}
	})

	t.Run("ZeroMeansNoBound", func(t *testing.T) {
		t.Parallel()
		big := pad(1 << 16)
		mustSortedSetPut(t, s, "unbounded", store.CollectionWrite{TTL: longTTL}, zsetEl(big, 1))
		checkSortedSet(t, s, "unbounded", []store.SortedSetElement{zsetEl(big, 1)})
	})
}

func (h harness) testSortedSetBinary(t *testing.T) {
	s := h.openWithCache(t)
	ctx := t.Context()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	key := []byte("\x00zset\xff")
	values := [][]byte{all, {0}, {0, 0}, {0xff}, []byte("\xc3\x28"), {}, []byte("a\x00b")}
	elements := make([]store.SortedSetElement, len(values))
	for i, v := range values {
		elements[i] = store.SortedSetElement{Value: v, Score: 7} // one score: ordered by bytes
	}
	if err := s.SortedSetPut(ctx, testCache, key, elements, zsetLong); err != nil {
		t.Fatalf("SortedSetPut(binary) = %v, want nil", err)
	}
	want := []store.SortedSetElement{
		{Value: []byte{}, Score: 7}, {Value: []byte{0}, Score: 7}, {Value: []byte{0, 0}, Score: 7},
		{Value: all, Score: 7}, {Value: []byte("a\x00b"), Score: 7}, {Value: []byte("\xc3\x28"), Score: 7}, {Value: []byte{0xff}, Score: 7},
	}
	got, found, err := s.SortedSetFetchByRank(ctx, testCache, key, store.RankRange{ToEnd: true}, store.Ascending)
	if err != nil || !found || !zsetEqual(got, want) {
		t.Errorf("SortedSetFetchByRank(binary) = %s, %v, %v; want %s, true, nil", zsetString(got), found, err, zsetString(want))
	}
	scores, found, err := s.SortedSetGetScores(ctx, testCache, key, [][]byte{all, {0, 0}, {0, 1}})
	if want := []store.SortedSetScore{{Score: 7, Found: true}, {Score: 7, Found: true}, {}}; err != nil || !found || len(scores) != 3 || scores[0] != want[0] || scores[1] != want[1] || scores[2] != want[2] {
		t.Errorf("SortedSetGetScores(binary) = %v, %v, %v; want %v, true, nil", scores, found, err, want)
	}
	if err := s.SortedSetRemove(ctx, testCache, key, [][]byte{{0}, all}); err != nil {
		t.Fatalf("SortedSetRemove(binary) = %v, want nil", err)
	}
	rank, ranked, found, err := s.SortedSetGetRank(ctx, testCache, key, []byte{0, 0}, store.Ascending)
	if err != nil || !found || !ranked || rank != 1 {
		t.Errorf("SortedSetGetRank(\\x00\\x00) = %d, %v, %v, %v; want 1, true, true, nil", rank, ranked, found, err)
	}
}

func (h harness) testSortedSetUnknownCache(t *testing.T) {
	s := h.openWithCache(t)
	for _, op := range sortedSetOps {
		t.Run(op.name, func(t *testing.T) {
			errorIs(t, op.name+"(unknown cache)", op.call(t.Context(), s, "no-such-cache", []byte("z")), store.ErrCacheNotFound)
		})
	}
}

// testSortedSetLarge checks every read against a model over a set large
// enough for a backend's index structure to matter, through inserts, score
// changes and removals, with many tied scores.
func (h harness) testSortedSetLarge(t *testing.T) {
	s := h.openWithCache(t)
	ctx := t.Context()
	const n = 3000
	model := map[string]float64{}
	var batch []store.SortedSetElement
	for i := range n {
		value := fmt.Sprintf("v%05d", (i*7919)%n) // a fixed shuffle
		score := float64((i * 31) % 97)           // many ties
		model[value] = score
		batch = append(batch, zsetEl(value, score))
		if len(batch) == 100 {
			mustSortedSetPut(t, s, "large", zsetLong, batch...)
			batch = batch[:0]
		}
	}
	check := func(t *testing.T, stage string) {
		t.Helper()
		want := zsetSorted(model)
		got := sortedSetContents(t, s, "large")
		if !zsetEqual(got, want) {
			t.Fatalf("%s: SortedSetFetchByRank(all) has %d elements, want the model's %d in order", stage, len(got), len(want))
		}
		for _, i := range []int{0, 1, len(want) / 3, len(want) / 2, len(want) - 2, len(want) - 1} {
			e := want[i]
			rank, ranked, _, err := s.SortedSetGetRank(ctx, testCache, []byte("large"), e.Value, store.Ascending)
			if err != nil || !ranked || rank != i {
				t.Errorf("%s: SortedSetGetRank(%q) = %d, %v, %v; want %d", stage, e.Value, rank, ranked, err, i)
			}
			rank, ranked, _, err = s.SortedSetGetRank(ctx, testCache, []byte("large"), e.Value, store.Descending)
			if err != nil || !ranked || rank != len(want)-1-i {
				t.Errorf("%s: SortedSetGetRank(%q, descending) = %d, %v, %v; want %d", stage, e.Value, rank, ranked, err, len(want)-1-i)
			}
			page, _, err := s.SortedSetFetchByRank(ctx, testCache, []byte("large"), store.RankRange{Start: i, End: i + 5}, store.Ascending)
			if wantPage := want[i:min(i+5, len(want))]; err != nil || !zsetEqual(page, wantPage) {
				t.Errorf("%s: SortedSetFetchByRank(%d, %d) = %s, %v; want %s", stage, i, i+5, zsetString(page), err, zsetString(wantPage))
			}
		}
		for _, r := range []store.ScoreRange{
			{Min: zsetIncl(10), Max: zsetIncl(20)},
			{Min: zsetExcl(10), Max: zsetExcl(20)},
			{Min: zsetIncl(96), Max: zsetUnbounded},
			{Min: zsetUnbounded, Max: zsetExcl(0)},
		} {
			var wantIn []store.SortedSetElement
			for _, e := range want {
				if r.Contains(e.Score) {
					wantIn = append(wantIn, e)
				}
			}
			if got, _, err := s.SortedSetLengthByScore(ctx, testCache, []byte("large"), r); err != nil || got != len(wantIn) {
				t.Errorf("%s: SortedSetLengthByScore(%+v) = %d, %v; want %d", stage, r, got, err, len(wantIn))
			}
			page, _, err := s.SortedSetFetchByScore(ctx, testCache, []byte("large"), r, store.Descending, 3, 10)
			rev := zsetReversed(wantIn)
			if wantPage := rev[min(3, len(rev)):min(13, len(rev))]; err != nil || !zsetEqual(page, wantPage) {
				t.Errorf("%s: SortedSetFetchByScore(%+v, descending, 3, 10) = %s, %v; want %s", stage, r, zsetString(page), err, zsetString(wantPage))
			}
		}
	}
	check(t, "after puts")

	for i := 0; i < n; i += 3 {
		value := fmt.Sprintf("v%05d", i)
		amount := float64(i%13) - 6
		got, err := s.SortedSetIncrement(ctx, testCache, []byte("large"), []byte(value), amount, zsetLong)
		model[value] += amount
		if err != nil || got != model[value] {
			t.Fatalf("SortedSetIncrement(%q, %v) = %v, %v; want %v, nil", value, amount, got, err, model[value])
		}
	}
	check(t, "after increments")

	var remove [][]byte
	for i := 0; i < n; i += 2 {
		value := fmt.Sprintf("v%05d", i)
		remove = append(remove, []byte(value))
		delete(model, value)
	}
	if err := s.SortedSetRemove(ctx, testCache, []byte("large"), remove); err != nil {
		t.Fatalf("SortedSetRemove(%d values) = %v, want nil", len(remove), err)
	}
	check(t, "after removals")
}

// zsetSorted returns the elements of a model in ascending order.
func zsetSorted(model map[string]float64) []store.SortedSetElement {
	out := make([]store.SortedSetElement, 0, len(model))
	for v, score := range model {
		out = append(out, zsetEl(v, score))
	}
	slices.SortFunc(out, func(a, b store.SortedSetElement) int {
		if c := cmp.Compare(a.Score, b.Score); c != 0 {
			return c
		}
		return bytes.Compare(a.Value, b.Value)
	})
	return out
}

func (h harness) testSortedSetConcurrency(t *testing.T) {
	s := h.openWithCache(t)
	ctx := t.Context()
	const workers, rounds = 8, 200
	mustSortedSetPut(t, s, "src", zsetLong, zsetEl("a", 1), zsetEl("b", 2))
	done := make(chan error, 2*workers)
	for w := range workers {
		go func() {
			var err error
			for i := 0; i < rounds && err == nil; i++ {
				_, err = s.SortedSetIncrement(ctx, testCache, []byte("counter"), []byte("n"), 1, zsetLong)
			}
			done <- err
		}()
		go func() {
			// Unions read "src" and "counter" while they change, and write
			// a destination of their own or a shared one.
			var err error
			dest := []byte(fmt.Sprintf("dest-%d", w%2))
			sources := []store.SortedSetSource{{Key: []byte("src"), Weight: 1}, {Key: []byte("counter"), Weight: 1}, {Key: dest, Weight: 0}}
			for i := 0; i < rounds/10 && err == nil; i++ {
				_, err = s.SortedSetUnionStore(ctx, testCache, dest, sources, store.AggregateMax, zsetLong)
				if err == nil {
					err = s.SortedSetPut(ctx, testCache, []byte("src"), []store.SortedSetElement{zsetEl(fmt.Sprintf("w%d", w), float64(i))}, zsetLong)
				}
			}
			done <- err
		}()
	}
	for range 2 * workers {
		if err := <-done; err != nil {
			t.Fatalf("concurrent sorted-set operation = %v, want nil", err)
		}
	}
	scores, found, err := s.SortedSetGetScores(ctx, testCache, []byte("counter"), keys("n"))
	if want := float64(workers * rounds); err != nil || !found || len(scores) != 1 || scores[0].Score != want {
		t.Errorf("SortedSetGetScores(counter, n) after %d concurrent increments = %v, %v, %v; want %v", workers*rounds, scores, found, err, want)
	}
}
