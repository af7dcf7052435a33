package client_test

import (
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/thaw-dev/thaw/client"
)

// lbElements builds leaderboard elements from alternating ids and scores.
func lbElements(idScores ...float64) []client.LeaderboardElement {
	out := make([]client.LeaderboardElement, 0, len(idScores)/2)
	for i := 0; i+1 < len(idScores); i += 2 {
		out = append(out, client.LeaderboardElement{ID: uint32(idScores[i]), Score: idScores[i+1]})
	}
	return out
}

func TestLeaderboard(t *testing.T) {
	t.Parallel()
	c := newCollectionClient(t)
	ctx := t.Context()
	const cache, name = "c", "scores"

	if err := c.LeaderboardUpsert(ctx, cache, name, lbElements(123, 10, 234, 100, 345, 250, 456, 500, 567, 750, 678, 1000, 789, 1500, 890, 2000)); err != nil {
		t.Fatalf("LeaderboardUpsert = %v, want nil", err)
	}
	if n, err := c.LeaderboardLength(ctx, cache, name); err != nil || n != 8 {
		t.Errorf("LeaderboardLength = %d, %v; want 8, nil", n, err)
	}

	min0, max800 := 0.0, 800.0
	tests := []struct {
		name string
		call func() ([]client.RankedElement, error)
		want []client.RankedElement
	}{
		{"FetchByScore all options", func() ([]client.RankedElement, error) {
			return c.LeaderboardFetchByScore(ctx, cache, name, client.LeaderboardScoreQuery{Min: &min0, Max: &max800, Order: client.Descending, Offset: 2, Count: 10})
		}, []client.RankedElement{{ID: 345, Score: 250, Rank: 5}, {ID: 234, Score: 100, Rank: 6}, {ID: 123, Score: 10, Rank: 7}}},
		{"FetchByScore zero query", func() ([]client.RankedElement, error) {
			got, err := c.LeaderboardFetchByScore(ctx, cache, name, client.LeaderboardScoreQuery{})
			return got[:2], err
		}, []client.RankedElement{{ID: 123, Score: 10, Rank: 0}, {ID: 234, Score: 100, Rank: 1}}},
		{"FetchByRank descending", func() ([]client.RankedElement, error) {
			return c.LeaderboardFetchByRank(ctx, cache, name, 0, 2, client.Descending)
		}, []client.RankedElement{{ID: 890, Score: 2000, Rank: 0}, {ID: 789, Score: 1500, Rank: 1}}},
		{"GetRank", func() ([]client.RankedElement, error) {
			return c.LeaderboardGetRank(ctx, cache, name, []uint32{789, 1, 123}, client.Ascending)
		}, []client.RankedElement{{ID: 789, Score: 1500, Rank: 6}, {ID: 123, Score: 10, Rank: 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.call()
			if err != nil {
				t.Fatalf("%s = %v, want nil", tt.name, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.name, diff)
			}
		})
	}

	t.Run("competition rank", func(t *testing.T) {
		if err := c.LeaderboardUpsert(ctx, cache, "ties", lbElements(0, 20, 1, 10, 2, 10, 3, 5)); err != nil {
			t.Fatalf("LeaderboardUpsert(ties) = %v", err)
		}
		got, err := c.LeaderboardGetCompetitionRank(ctx, cache, "ties", []uint32{0, 1, 2, 3}, client.Descending)
		want := []client.RankedElement{{ID: 0, Score: 20, Rank: 0}, {ID: 1, Score: 10, Rank: 1}, {ID: 2, Score: 10, Rank: 1}, {ID: 3, Score: 5, Rank: 3}}
		if err != nil || !cmp.Equal(got, want) {
			t.Errorf("LeaderboardGetCompetitionRank(descending) = %v, %v; want %v", got, err, want)
		}
	})

	t.Run("remove and delete", func(t *testing.T) {
		if err := c.LeaderboardRemoveElements(ctx, cache, name, []uint32{123, 999}); err != nil {
			t.Fatalf("LeaderboardRemoveElements = %v", err)
		}
		if n, err := c.LeaderboardLength(ctx, cache, name); err != nil || n != 7 {
			t.Errorf("LeaderboardLength after remove = %d, %v; want 7, nil", n, err)
		}
		for range 2 {
			if err := c.LeaderboardDelete(ctx, cache, name); err != nil {
				t.Fatalf("LeaderboardDelete = %v, want nil", err)
			}
		}
		if n, err := c.LeaderboardLength(ctx, cache, name); err != nil || n != 0 {
			t.Errorf("LeaderboardLength after delete = %d, %v; want 0, nil", n, err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		errs := []struct {
			name string
			err  error
			want error
		}{
			{"upsert no elements", c.LeaderboardUpsert(ctx, cache, name, nil), client.ErrInvalidArgument},
			{"upsert NaN", c.LeaderboardUpsert(ctx, cache, name, lbElements(1, math.NaN())), client.ErrInvalidArgument},
			{"upsert blank leaderboard name", c.LeaderboardUpsert(ctx, cache, " ", lbElements(1, 1)), client.ErrInvalidArgument},
			{"upsert unknown cache", c.LeaderboardUpsert(ctx, "no-such-cache", name, lbElements(1, 1)), client.ErrCacheNotFound},
			{"remove no ids", c.LeaderboardRemoveElements(ctx, cache, name, nil), client.ErrInvalidArgument},
		}
		for _, e := range errs {
			if !errors.Is(e.err, e.want) {
				t.Errorf("%s = %v, want %v", e.name, e.err, e.want)
			}
		}
		for _, r := range [][2]int{{0, 0}, {10, 5}, {0, 8193}, {-1, 3}} {
			if _, err := c.LeaderboardFetchByRank(ctx, cache, name, r[0], r[1], client.Ascending); !errors.Is(err, client.ErrInvalidArgument) {
				t.Errorf("LeaderboardFetchByRank(%d, %d) = %v, want %v", r[0], r[1], err, client.ErrInvalidArgument)
			}
		}
		min100, max50 := 100.0, 50.0
		for _, q := range []client.LeaderboardScoreQuery{{Min: &min100, Max: &max50}, {Offset: -1}, {Count: -1}, {Count: 8193}} {
			if _, err := c.LeaderboardFetchByScore(ctx, cache, name, q); !errors.Is(err, client.ErrInvalidArgument) {
				t.Errorf("LeaderboardFetchByScore(%+v) = %v, want %v", q, err, client.ErrInvalidArgument)
			}
		}
	})
}
