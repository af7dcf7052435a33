package storetest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/thaw-dev/thaw/internal/store"
)

// testLeaderboard is the conformance section of store.LeaderboardStore. A
// backend that does not implement it skips the section: the server then
// answers the leaderboard service with UNIMPLEMENTED.
func (h harness) testLeaderboard(t *testing.T) {
	probe := h.open(t)
	if _, ok := probe.(store.LeaderboardStore); !ok {
		t.Skipf("%T does not implement store.LeaderboardStore", probe)
	}
	groups := []struct {
		name string
		run  func(*testing.T)
	}{
		{"Upsert", h.testLeaderboardUpsert},
		{"Ties", h.testLeaderboardTies},
		{"FetchByRank", h.testLeaderboardFetchByRank},
		{"FetchByScore", h.testLeaderboardFetchByScore},
		{"GetRank", h.testLeaderboardGetRank},
		{"CompetitionRank", h.testLeaderboardCompetitionRank},
		{"RemoveAndLength", h.testLeaderboardRemove},
		{"Delete", h.testLeaderboardDelete},
		{"Missing", h.testLeaderboardMissing},
		{"NotFinite", h.testLeaderboardNotFinite},
		{"Namespace", h.testLeaderboardNamespace},
		{"UnknownCache", h.testLeaderboardUnknownCache},
		{"Large", h.testLeaderboardLarge},
		{"Concurrency", h.testLeaderboardConcurrency},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t)
		})
	}
}

// openLeaderboards returns a new store holding testCache, as a LeaderboardStore.
func (h harness) openLeaderboards(t *testing.T) (store.Store, store.LeaderboardStore) {
	t.Helper()
	s := h.openWithCache(t)
	return s, s.(store.LeaderboardStore)
}

// lbEl is a leaderboard element; lbRanked one with its rank.
func lbEl(id uint32, score float64) store.LeaderboardElement {
	return store.LeaderboardElement{ID: id, Score: score}
}

func lbRanked(id uint32, score float64, rank int) store.RankedElement {
	return store.RankedElement{ID: id, Score: score, Rank: rank}
}

func mustUpsert(t *testing.T, lb store.LeaderboardStore, name string, elements ...store.LeaderboardElement) {
	t.Helper()
	if err := lb.LeaderboardUpsert(t.Context(), testCache, name, elements); err != nil {
		t.Fatalf("LeaderboardUpsert(%q, %v) = %v, want nil", name, elements, err)
	}
}

// lbAll returns the whole leaderboard in order, with ranks.
func lbAll(t *testing.T, lb store.LeaderboardStore, name string, order store.SortedSetOrder) []store.RankedElement {
	t.Helper()
	got, err := lb.LeaderboardFetchByScore(t.Context(), testCache, name, zsetAll, order, 0, -1)
	if err != nil {
		t.Fatalf("LeaderboardFetchByScore(%q, all, %v) = %v, want nil error", name, order, err)
	}
	return got
}

// checkRanked fails t unless got equals want; an empty want matches an
// empty or nil got.
func checkRanked(t *testing.T, call string, got, want []store.RankedElement) {
	t.Helper()
	if (len(got) == 0 && len(want) == 0) || slices.Equal(got, want) {
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s = %v, want %v (-want +got):\n%s", call, got, want, diff)
	}
}

func checkLength(t *testing.T, lb store.LeaderboardStore, cache, name string, want int) {
	t.Helper()
	got, err := lb.LeaderboardLength(t.Context(), cache, name)
	if err != nil || got != want {
		t.Errorf("LeaderboardLength(%q, %q) = %d, %v; want %d, nil", cache, name, got, err, want)
	}
}

// testLeaderboardUpsert: upsert creates, adds and updates; a repeated id in
// one call keeps its last score; both orders rank from 0.
func (h harness) testLeaderboardUpsert(t *testing.T) {
	_, lb := h.openLeaderboards(t)
	mustUpsert(t, lb, "lb", lbEl(123, 100), lbEl(456, 200), lbEl(789, 300))
	checkRanked(t, "fetch ascending", lbAll(t, lb, "lb", store.Ascending),
		[]store.RankedElement{lbRanked(123, 100, 0), lbRanked(456, 200, 1), lbRanked(789, 300, 2)})

	// Updates move ids; new ones join.
	mustUpsert(t, lb, "lb", lbEl(456, 50), lbEl(1011, 500))
	checkRanked(t, "fetch after update", lbAll(t, lb, "lb", store.Ascending),
		[]store.RankedElement{lbRanked(456, 50, 0), lbRanked(123, 100, 1), lbRanked(789, 300, 2), lbRanked(1011, 500, 3)})
	checkRanked(t, "fetch descending", lbAll(t, lb, "lb", store.Descending),
		[]store.RankedElement{lbRanked(1011, 500, 0), lbRanked(789, 300, 1), lbRanked(123, 100, 2), lbRanked(456, 50, 3)})

	// The last score of a repeated id wins.
	mustUpsert(t, lb, "dup", lbEl(1, 10), lbEl(2, 20), lbEl(1, 30))
	checkRanked(t, "fetch after repeated id", lbAll(t, lb, "dup", store.Ascending),
		[]store.RankedElement{lbRanked(2, 20, 0), lbRanked(1, 30, 1)})
	checkLength(t, lb, testCache, "dup", 2)

	// Scores keep their full float64 precision; -0 and 0 tie; the whole
	// id range is allowed.
	mustUpsert(t, lb, "precise", lbEl(0, 27.004309862363737), lbEl(math.MaxUint32, 16777217), lbEl(7, -1e300))
	checkRanked(t, "fetch precise", lbAll(t, lb, "precise", store.Ascending),
		[]store.RankedElement{lbRanked(7, -1e300, 0), lbRanked(0, 27.004309862363737, 1), lbRanked(math.MaxUint32, 16777217, 2)})

	// An empty upsert changes nothing and creates nothing.
	if err := lb.LeaderboardUpsert(t.Context(), testCache, "empty", nil); err != nil {
		t.Errorf("LeaderboardUpsert(empty, none) = %v, want nil", err)
	}
	checkLength(t, lb, testCache, "empty", 0)
}

// testLeaderboardTies: equal scores are ordered by id, numerically (not by
// the ids' decimal text), lowest first; Descending is the exact reverse.
func (h harness) testLeaderboardTies(t *testing.T) {
	_, lb := h.openLeaderboards(t)
	// Ids chosen so that numeric, little-endian and decimal-text orders differ.
	mustUpsert(t, lb, "ties", lbEl(65536, 5), lbEl(256, 5), lbEl(9, 5), lbEl(1, 5), lbEl(70000, 1), lbEl(2, 9))
	checkRanked(t, "ascending", lbAll(t, lb, "ties", store.Ascending), []store.RankedElement{
		lbRanked(70000, 1, 0), lbRanked(1, 5, 1), lbRanked(9, 5, 2), lbRanked(256, 5, 3), lbRanked(65536, 5, 4), lbRanked(2, 9, 5),
	})
	checkRanked(t, "descending", lbAll(t, lb, "ties", store.Descending), []store.RankedElement{
		lbRanked(2, 9, 0), lbRanked(65536, 5, 1), lbRanked(256, 5, 2), lbRanked(9, 5, 3), lbRanked(1, 5, 4), lbRanked(70000, 1, 5),
	})
	// GetRank and FetchByRank agree with the fetch.
	got, err := lb.LeaderboardGetRank(t.Context(), testCache, "ties", []uint32{256, 1}, store.Descending)
	if err != nil {
		t.Fatalf("LeaderboardGetRank(ties) = %v", err)
	}
	checkRanked(t, "GetRank(256, 1, descending)", got, []store.RankedElement{lbRanked(256, 5, 2), lbRanked(1, 5, 4)})
	got, err = lb.LeaderboardFetchByRank(t.Context(), testCache, "ties", 2, 4, store.Ascending)
	if err != nil {
		t.Fatalf("LeaderboardFetchByRank(ties) = %v", err)
	}
	checkRanked(t, "FetchByRank(2, 4, ascending)", got, []store.RankedElement{lbRanked(9, 5, 2), lbRanked(256, 5, 3)})
}

// lbEight is the leaderboard of the SDKs' fetch-by-score tests.
var lbEight = []store.LeaderboardElement{
	lbEl(123, 10), lbEl(234, 100), lbEl(345, 250), lbEl(456, 500),
	lbEl(567, 750), lbEl(678, 1000), lbEl(789, 1500), lbEl(890, 2000),
}

// testLeaderboardFetchByRank: [start, end) in either order, clamped at the
// end; an empty or inverted range selects nothing.
func (h harness) testLeaderboardFetchByRank(t *testing.T) {
	_, lb := h.openLeaderboards(t)
	mustUpsert(t, lb, "lb", lbEight...)
	tests := []struct {
		name       string
		start, end int
		order      store.SortedSetOrder
		want       []store.RankedElement
	}{
		{"first two", 0, 2, store.Ascending, []store.RankedElement{lbRanked(123, 10, 0), lbRanked(234, 100, 1)}},
		{"top two", 0, 2, store.Descending, []store.RankedElement{lbRanked(890, 2000, 0), lbRanked(789, 1500, 1)}},
		{"middle", 3, 5, store.Ascending, []store.RankedElement{lbRanked(456, 500, 3), lbRanked(567, 750, 4)}},
		{"middle descending", 3, 5, store.Descending, []store.RankedElement{lbRanked(567, 750, 3), lbRanked(456, 500, 4)}},
		{"past the end", 6, 100, store.Ascending, []store.RankedElement{lbRanked(789, 1500, 6), lbRanked(890, 2000, 7)}},
		{"past the end descending", 7, 8192, store.Descending, []store.RankedElement{lbRanked(123, 10, 7)}},
		{"beyond", 8, 20, store.Ascending, nil},
		{"empty", 3, 3, store.Ascending, nil},
		{"inverted", 5, 3, store.Descending, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lb.LeaderboardFetchByRank(t.Context(), testCache, "lb", tt.start, tt.end, tt.order)
			if err != nil {
				t.Fatalf("LeaderboardFetchByRank(%d, %d, %v) = %v", tt.start, tt.end, tt.order, err)
			}
			checkRanked(t, fmt.Sprintf("LeaderboardFetchByRank(%d, %d, %v)", tt.start, tt.end, tt.order), got, tt.want)
		})
	}
}

// testLeaderboardFetchByScore: min inclusive, max exclusive, offset and
// count applied in order, and ranks counted in the whole leaderboard.
func (h harness) testLeaderboardFetchByScore(t *testing.T) {
	_, lb := h.openLeaderboards(t)
	mustUpsert(t, lb, "lb", lbEight...)
	rng := func(min, max store.ScoreBound) store.ScoreRange { return store.ScoreRange{Min: min, Max: max} }
	tests := []struct {
		name          string
		r             store.ScoreRange
		order         store.SortedSetOrder
		offset, count int
		want          []store.RankedElement
	}{
		{"offset and count", zsetAll, store.Ascending, 2, 2, []store.RankedElement{lbRanked(345, 250, 2), lbRanked(456, 500, 3)}},
		{"min inclusive max exclusive", rng(zsetIncl(750), zsetExcl(1500)), store.Ascending, 0, 8192,
			[]store.RankedElement{lbRanked(567, 750, 4), lbRanked(678, 1000, 5)}},
		// The SDKs' "all options" case: ranks are the descending ranks in
		// the whole leaderboard, not positions in the result.
		{"descending with offset", rng(zsetIncl(0), zsetExcl(800)), store.Descending, 2, 10,
			[]store.RankedElement{lbRanked(345, 250, 5), lbRanked(234, 100, 6), lbRanked(123, 10, 7)}},
		{"descending count", rng(zsetIncl(100), zsetUnbounded), store.Descending, 0, 2,
			[]store.RankedElement{lbRanked(890, 2000, 0), lbRanked(789, 1500, 1)}},
		{"unbounded min", rng(zsetUnbounded, zsetExcl(250)), store.Ascending, 0, 8192,
			[]store.RankedElement{lbRanked(123, 10, 0), lbRanked(234, 100, 1)}},
		{"offset past the matches", zsetAll, store.Ascending, 10, 8192, nil},
		{"offset past the matches descending", rng(zsetIncl(0), zsetExcl(200)), store.Descending, 2, 8192, nil},
		{"min equals max", rng(zsetIncl(500), zsetExcl(500)), store.Ascending, 0, 8192, nil},
		{"min above max", rng(zsetIncl(900), zsetExcl(100)), store.Ascending, 0, 8192, nil},
		{"no score in range", rng(zsetIncl(3000), zsetUnbounded), store.Descending, 0, 8192, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := fmt.Sprintf("LeaderboardFetchByScore(%+v, %v, %d, %d)", tt.r, tt.order, tt.offset, tt.count)
			got, err := lb.LeaderboardFetchByScore(t.Context(), testCache, "lb", tt.r, tt.order, tt.offset, tt.count)
			if err != nil {
				t.Fatalf("%s = %v", call, err)
			}
			checkRanked(t, call, got, tt.want)
		})
	}
}

// testLeaderboardGetRank: ranks in either order, in the order of the ids
// asked for, leaving out ids the leaderboard lacks.
func (h harness) testLeaderboardGetRank(t *testing.T) {
	_, lb := h.openLeaderboards(t)
	mustUpsert(t, lb, "lb", lbEl(123, 100), lbEl(456, 200), lbEl(789, 300))
	tests := []struct {
		name  string
		ids   []uint32
		order store.SortedSetOrder
		want  []store.RankedElement
	}{
		{"ascending", []uint32{123, 789}, store.Ascending, []store.RankedElement{lbRanked(123, 100, 0), lbRanked(789, 300, 2)}},
		{"descending", []uint32{123, 789}, store.Descending, []store.RankedElement{lbRanked(123, 100, 2), lbRanked(789, 300, 0)}},
		{"asked order kept", []uint32{789, 123}, store.Ascending, []store.RankedElement{lbRanked(789, 300, 2), lbRanked(123, 100, 0)}},
		{"missing ids left out", []uint32{1, 456, 2}, store.Ascending, []store.RankedElement{lbRanked(456, 200, 1)}},
		{"only missing ids", []uint32{1, 2}, store.Descending, nil},
		{"none asked", nil, store.Ascending, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lb.LeaderboardGetRank(t.Context(), testCache, "lb", tt.ids, tt.order)
			if err != nil {
				t.Fatalf("LeaderboardGetRank(%v, %v) = %v", tt.ids, tt.order, err)
			}
			checkRanked(t, fmt.Sprintf("LeaderboardGetRank(%v, %v)", tt.ids, tt.order), got, tt.want)
		})
	}
}

// testLeaderboardCompetitionRank: tied scores share the rank of the first
// of them, and the next score skips ("1224"), in either order.
func (h harness) testLeaderboardCompetitionRank(t *testing.T) {
	_, lb := h.openLeaderboards(t)
	// The Java SDK's competition-rank case, plus a tie at the bottom.
	mustUpsert(t, lb, "lb", lbEl(0, 20), lbEl(1, 10), lbEl(2, 10), lbEl(3, 5), lbEl(4, 5))
	tests := []struct {
		name  string
		ids   []uint32
		order store.SortedSetOrder
		want  []store.RankedElement
	}{
		{"descending", []uint32{0, 1, 2, 3, 4}, store.Descending, []store.RankedElement{
			lbRanked(0, 20, 0), lbRanked(1, 10, 1), lbRanked(2, 10, 1), lbRanked(3, 5, 3), lbRanked(4, 5, 3),
		}},
		{"ascending", []uint32{0, 1, 2, 3, 4}, store.Ascending, []store.RankedElement{
			lbRanked(0, 20, 4), lbRanked(1, 10, 2), lbRanked(2, 10, 2), lbRanked(3, 5, 0), lbRanked(4, 5, 0),
		}},
		{"subset", []uint32{2, 1}, store.Descending, []store.RankedElement{lbRanked(2, 10, 1), lbRanked(1, 10, 1)}},
		{"superset", []uint32{3, 99}, store.Descending, []store.RankedElement{lbRanked(3, 5, 3)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lb.LeaderboardGetCompetitionRank(t.Context(), testCache, "lb", tt.ids, tt.order)
			if err != nil {
				t.Fatalf("LeaderboardGetCompetitionRank(%v, %v) = %v", tt.ids, tt.order, err)
			}
			checkRanked(t, fmt.Sprintf("LeaderboardGetCompetitionRank(%v, %v)", tt.ids, tt.order), got, tt.want)
		})
	}
}

// testLeaderboardRemove: removal by id, ids the leaderboard lacks are
// no-ops, and removing the last id leaves an empty (missing) leaderboard.
func (h harness) testLeaderboardRemove(t *testing.T) {
	_, lb := h.openLeaderboards(t)
	ctx := t.Context()
	mustUpsert(t, lb, "lb", lbEl(123, 100), lbEl(456, 200), lbEl(789, 300))
	checkLength(t, lb, testCache, "lb", 3)
	if err := lb.LeaderboardRemove(ctx, testCache, "lb", []uint32{123, 789, 5}); err != nil {
		t.Fatalf("LeaderboardRemove(123, 789, 5) = %v, want nil", err)
	}
	checkRanked(t, "fetch after remove", lbAll(t, lb, "lb", store.Ascending), []store.RankedElement{lbRanked(456, 200, 0)})
	checkLength(t, lb, testCache, "lb", 1)
	if err := lb.LeaderboardRemove(ctx, testCache, "lb", []uint32{456}); err != nil {
		t.Fatalf("LeaderboardRemove(456) = %v, want nil", err)
	}
	checkLength(t, lb, testCache, "lb", 0)
	checkRanked(t, "fetch after removing all", lbAll(t, lb, "lb", store.Descending), nil)
	// It can be filled again.
	mustUpsert(t, lb, "lb", lbEl(1, 1))
	checkLength(t, lb, testCache, "lb", 1)
}

// testLeaderboardDelete: delete drops every element; deleting again, or a
// leaderboard never made, is a no-op; other leaderboards are untouched.
func (h harness) testLeaderboardDelete(t *testing.T) {
	_, lb := h.openLeaderboards(t)
	ctx := t.Context()
	mustUpsert(t, lb, "lb", lbEl(123, 100), lbEl(456, 200))
	mustUpsert(t, lb, "other", lbEl(1, 1))
	for range 2 {
		if err := lb.LeaderboardDelete(ctx, testCache, "lb"); err != nil {
			t.Fatalf("LeaderboardDelete(lb) = %v, want nil", err)
		}
		checkLength(t, lb, testCache, "lb", 0)
	}
	checkLength(t, lb, testCache, "other", 1)
	mustUpsert(t, lb, "lb", lbEl(9, 9))
	checkRanked(t, "fetch after delete and upsert", lbAll(t, lb, "lb", store.Ascending), []store.RankedElement{lbRanked(9, 9, 0)})
}

// testLeaderboardMissing: every read of a leaderboard never made answers
// empty, and removing from it succeeds.
func (h harness) testLeaderboardMissing(t *testing.T) {
	_, lb := h.openLeaderboards(t)
	ctx := t.Context()
	checkLength(t, lb, testCache, "nope", 0)
	byRank, err := lb.LeaderboardFetchByRank(ctx, testCache, "nope", 0, 100, store.Ascending)
	if err != nil || len(byRank) != 0 {
		t.Errorf("LeaderboardFetchByRank(missing) = %v, %v; want none, nil", byRank, err)
	}
	byScore, err := lb.LeaderboardFetchByScore(ctx, testCache, "nope", zsetAll, store.Descending, 0, 8192)
	if err != nil || len(byScore) != 0 {
		t.Errorf("LeaderboardFetchByScore(missing) = %v, %v; want none, nil", byScore, err)
	}
	ranks, err := lb.LeaderboardGetRank(ctx, testCache, "nope", []uint32{123}, store.Ascending)
	if err != nil || len(ranks) != 0 {
		t.Errorf("LeaderboardGetRank(missing) = %v, %v; want none, nil", ranks, err)
	}
	ranks, err = lb.LeaderboardGetCompetitionRank(ctx, testCache, "nope", []uint32{123}, store.Descending)
	if err != nil || len(ranks) != 0 {
		t.Errorf("LeaderboardGetCompetitionRank(missing) = %v, %v; want none, nil", ranks, err)
	}
	if err := lb.LeaderboardRemove(ctx, testCache, "nope", []uint32{123}); err != nil {
		t.Errorf("LeaderboardRemove(missing) = %v, want nil", err)
	}
	if err := lb.LeaderboardDelete(ctx, testCache, "nope"); err != nil {
		t.Errorf("LeaderboardDelete(missing) = %v, want nil", err)
	}
}

// testLeaderboardNotFinite: NaN and infinite scores and bounds are refused
// with ErrScoreNotFinite (an ErrInvalidScore), and an upsert holding one
// changes nothing.
func (h harness) testLeaderboardNotFinite(t *testing.T) {
	_, lb := h.openLeaderboards(t)
	ctx := t.Context()
	mustUpsert(t, lb, "lb", lbEl(1, 1))
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		err := lb.LeaderboardUpsert(ctx, testCache, "lb", []store.LeaderboardElement{lbEl(2, 2), lbEl(1, bad)})
		errorIs(t, fmt.Sprintf("LeaderboardUpsert(score %v)", bad), err, store.ErrScoreNotFinite)
		errorIs(t, fmt.Sprintf("LeaderboardUpsert(score %v)", bad), err, store.ErrInvalidScore)
		for _, r := range []store.ScoreRange{{Min: zsetIncl(bad), Max: zsetUnbounded}, {Min: zsetUnbounded, Max: zsetExcl(bad)}} {
			_, err := lb.LeaderboardFetchByScore(ctx, testCache, "lb", r, store.Ascending, 0, 10)
			errorIs(t, fmt.Sprintf("LeaderboardFetchByScore(%+v)", r), err, store.ErrScoreNotFinite)
		}
	}
	checkRanked(t, "fetch after refused upserts", lbAll(t, lb, "lb", store.Ascending), []store.RankedElement{lbRanked(1, 1, 0)})
}

// testLeaderboardNamespace: leaderboards are apart from items and from each
// other, per cache, survive a flush and go with their cache.
func (h harness) testLeaderboardNamespace(t *testing.T) {
	s, lb := h.openLeaderboards(t)
	ctx := t.Context()
	mustCreateCache(t, s, "other-cache")
	mustUpsert(t, lb, "shared", lbEl(1, 1))
	mustSet(t, s, testCache, []byte("shared"), []byte("item"), longTTL)
	if got, found := mustGet(t, s, testCache, []byte("shared")); !found || string(got) != "item" {
		t.Errorf("Get(shared) = %q, %v; want item, true", got, found)
	}
	checkLength(t, lb, testCache, "shared", 1)
	if err := s.Delete(ctx, testCache, []byte("shared")); err != nil {
		t.Fatalf("Delete(shared) = %v", err)
	}
	checkLength(t, lb, testCache, "shared", 1)
	checkLength(t, lb, "other-cache", "shared", 0)

	if err := lb.LeaderboardUpsert(ctx, "other-cache", "shared", []store.LeaderboardElement{lbEl(2, 2), lbEl(3, 3)}); err != nil {
		t.Fatalf("LeaderboardUpsert(other-cache) = %v", err)
	}
	checkLength(t, lb, "other-cache", "shared", 2)
	checkLength(t, lb, testCache, "shared", 1)

	// FlushCache empties the items only.
	if err := s.FlushCache(ctx, testCache); err != nil {
		t.Fatalf("FlushCache(%q) = %v", testCache, err)
	}
	checkLength(t, lb, testCache, "shared", 1)

	// A deleted and re-created cache has no leaderboards.
	if err := s.DeleteCache(ctx, "other-cache"); err != nil {
		t.Fatalf("DeleteCache(other-cache) = %v", err)
	}
	mustCreateCache(t, s, "other-cache")
	checkLength(t, lb, "other-cache", "shared", 0)
	checkLength(t, lb, testCache, "shared", 1)
}

// testLeaderboardUnknownCache: every method answers ErrCacheNotFound for a
// cache that does not exist.
func (h harness) testLeaderboardUnknownCache(t *testing.T) {
	_, lb := h.openLeaderboards(t)
	const cache = "no-such-cache"
	ops := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"LeaderboardUpsert", func(ctx context.Context) error {
			return lb.LeaderboardUpsert(ctx, cache, "lb", []store.LeaderboardElement{lbEl(1, 1)})
		}},
		{"LeaderboardRemove", func(ctx context.Context) error { return lb.LeaderboardRemove(ctx, cache, "lb", []uint32{1}) }},
		{"LeaderboardDelete", func(ctx context.Context) error { return lb.LeaderboardDelete(ctx, cache, "lb") }},
		{"LeaderboardLength", func(ctx context.Context) error {
			_, err := lb.LeaderboardLength(ctx, cache, "lb")
			return err
		}},
		{"LeaderboardFetchByRank", func(ctx context.Context) error {
			_, err := lb.LeaderboardFetchByRank(ctx, cache, "lb", 0, 10, store.Ascending)
			return err
		}},
		{"LeaderboardFetchByScore", func(ctx context.Context) error {
			_, err := lb.LeaderboardFetchByScore(ctx, cache, "lb", zsetAll, store.Ascending, 0, 10)
			return err
		}},
		{"LeaderboardGetRank", func(ctx context.Context) error {
			_, err := lb.LeaderboardGetRank(ctx, cache, "lb", []uint32{1}, store.Ascending)
			return err
		}},
		{"LeaderboardGetCompetitionRank", func(ctx context.Context) error {
			_, err := lb.LeaderboardGetCompetitionRank(ctx, cache, "lb", []uint32{1}, store.Descending)
			return err
		}},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			errorIs(t, op.name+"(unknown cache)", op.call(t.Context()), store.ErrCacheNotFound)
		})
	}
}

// lbModel is the expected state of a leaderboard: ids in ascending order,
// ties by id.
func lbModel(scores map[uint32]float64) []store.LeaderboardElement {
	out := make([]store.LeaderboardElement, 0, len(scores))
	for id, score := range scores {
		out = append(out, lbEl(id, score))
	}
	slices.SortFunc(out, func(a, b store.LeaderboardElement) int {
		if a.Score != b.Score {
			if a.Score < b.Score {
				return -1
			}
			return 1
		}
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out
}

// testLeaderboardLarge checks fetches, ranks and competition ranks against
// a model over a leaderboard larger than one 8192-element page, with many
// ties, through updates and removals.
func (h harness) testLeaderboardLarge(t *testing.T) {
	_, lb := h.openLeaderboards(t)
	ctx := t.Context()
	const n = 10000
	model := map[uint32]float64{}
	var batch []store.LeaderboardElement
	flush := func() {
		if len(batch) > 0 {
			mustUpsert(t, lb, "large", batch...)
			batch = batch[:0]
		}
	}
	for i := range n {
		id := uint32((i * 7919) % n * 3) // a fixed shuffle of spaced ids
		score := float64((i * 31) % 101) // many ties
		model[id] = score
		batch = append(batch, lbEl(id, score))
		if len(batch) == 8192 {
			flush()
		}
	}
	flush()
	check := func(t *testing.T, stage string) {
		t.Helper()
		want := lbModel(model)
		checkLength(t, lb, testCache, "large", len(want))
		// Page through by rank, both orders.
		for _, order := range []store.SortedSetOrder{store.Ascending, store.Descending} {
			var got []store.RankedElement
			for start := 0; start < len(want); start += 8192 {
				page, err := lb.LeaderboardFetchByRank(ctx, testCache, "large", start, start+8192, order)
				if err != nil {
					t.Fatalf("%s: LeaderboardFetchByRank(%d) = %v", stage, start, err)
				}
				got = append(got, page...)
			}
			var wantRanked []store.RankedElement
			for i := range want {
				e := want[i]
				if order == store.Descending {
					e = want[len(want)-1-i]
				}
				wantRanked = append(wantRanked, lbRanked(e.ID, e.Score, i))
			}
			checkRanked(t, fmt.Sprintf("%s: pages by rank %v", stage, order), got, wantRanked)
		}
		// One score band with an offset, descending.
		band := store.ScoreRange{Min: zsetIncl(40), Max: zsetExcl(60)}
		var wantBand []store.RankedElement
		for i := len(want) - 1; i >= 0; i-- {
			if band.Contains(want[i].Score) {
				wantBand = append(wantBand, lbRanked(want[i].ID, want[i].Score, len(want)-1-i))
			}
		}
		wantBand = wantBand[min(10, len(wantBand)):min(110, len(wantBand))]
		gotBand, err := lb.LeaderboardFetchByScore(ctx, testCache, "large", band, store.Descending, 10, 100)
		if err != nil {
			t.Fatalf("%s: LeaderboardFetchByScore(band) = %v", stage, err)
		}
		checkRanked(t, stage+": band by score", gotBand, wantBand)
		// Ranks of a sample of ids, present and absent.
		sample := []uint32{0, 3, 5, 2997, 29997, 29999, 15000}
		var wantRanks, wantCompetition []store.RankedElement
		for _, id := range sample {
			score, ok := model[id]
			if !ok {
				continue
			}
			i := slices.IndexFunc(want, func(e store.LeaderboardElement) bool { return e.ID == id })
			wantRanks = append(wantRanks, lbRanked(id, score, i))
			below := 0
			for _, e := range want {
				if e.Score < score {
					below++
				}
			}
			wantCompetition = append(wantCompetition, lbRanked(id, score, below))
		}
		gotRanks, err := lb.LeaderboardGetRank(ctx, testCache, "large", sample, store.Ascending)
		if err != nil {
			t.Fatalf("%s: LeaderboardGetRank = %v", stage, err)
		}
		checkRanked(t, stage+": ranks", gotRanks, wantRanks)
		gotCompetition, err := lb.LeaderboardGetCompetitionRank(ctx, testCache, "large", sample, store.Ascending)
		if err != nil {
			t.Fatalf("%s: LeaderboardGetCompetitionRank = %v", stage, err)
		}
		checkRanked(t, stage+": competition ranks", gotCompetition, wantCompetition)
	}
	check(t, "after inserts")

	// Move every tenth id, remove every seventh.
	var removed []uint32
	for id := range model {
		switch {
		case id%7 == 0:
			removed = append(removed, id)
		case id%10 == 0:
			model[id] = -model[id]
			batch = append(batch, lbEl(id, model[id]))
		}
	}
	flush()
	slices.Sort(removed)
	for _, id := range removed {
		delete(model, id)
	}
	if err := lb.LeaderboardRemove(ctx, testCache, "large", removed); err != nil {
		t.Fatalf("LeaderboardRemove(%d ids) = %v", len(removed), err)
	}
	check(t, "after updates and removals")
}

// testLeaderboardConcurrency: concurrent upserts of distinct ids all land,
// and concurrent reads see consistent ranks.
func (h harness) testLeaderboardConcurrency(t *testing.T) {
	_, lb := h.openLeaderboards(t)
	ctx := t.Context()
	const writers, perWriter = 8, 200
	var wg sync.WaitGroup
	errs := make(chan error, writers*2)
	for w := range writers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				id := uint32(w*perWriter + i)
				if err := lb.LeaderboardUpsert(ctx, testCache, "busy", []store.LeaderboardElement{lbEl(id, float64(id))}); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range perWriter / 10 {
				page, err := lb.LeaderboardFetchByRank(ctx, testCache, "busy", 0, 50, store.Ascending)
				if err != nil {
					errs <- err
					return
				}
				for i, e := range page {
					if e.Rank != i || (i > 0 && page[i-1].Score > e.Score) {
						errs <- fmt.Errorf("FetchByRank(0, 50) = %v: out of order at %d", page, i)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	checkLength(t, lb, testCache, "busy", writers*perWriter)
}
