package client_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/thaw-dev/thaw/client"
)

// elements builds sorted-set elements from alternating values and scores.
func elements(pairs ...any) []client.SortedSetElement {
	out := make([]client.SortedSetElement, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		var v []byte
		switch p := pairs[i].(type) {
		case string:
			v = []byte(p)
		case []byte:
			v = p
		}
		out = append(out, client.SortedSetElement{Value: v, Score: pairs[i+1].(float64)})
	}
	return out
}

func TestSortedSet(t *testing.T) {
	t.Parallel()
	c := newCollectionClient(t)

	t.Run("operations", func(t *testing.T) {
		ctx := t.Context()
		s := []byte("sorted")
		var ttl client.CollectionTTL

		missing := map[string]func() (bool, error){
			"SortedSetFetchByRank": func() (bool, error) {
				_, found, err := c.SortedSetFetchByRank(ctx, "c", s, client.AllIndices(), client.Ascending)
				return found, err
			},
			"SortedSetFetchByScore": func() (bool, error) {
				_, found, err := c.SortedSetFetchByScore(ctx, "c", s, client.ScoreQuery{})
				return found, err
			},
			"SortedSetGetScore": func() (bool, error) {
				_, found, err := c.SortedSetGetScore(ctx, "c", s, []byte("a"))
				return found, err
			},
			"SortedSetGetRank": func() (bool, error) {
				_, found, err := c.SortedSetGetRank(ctx, "c", s, []byte("a"), client.Ascending)
				return found, err
			},
			"SortedSetLength": func() (bool, error) { _, found, err := c.SortedSetLength(ctx, "c", s); return found, err },
			"SortedSetLengthByScore": func() (bool, error) {
				_, found, err := c.SortedSetLengthByScore(ctx, "c", s, client.UnboundedScore(), client.UnboundedScore())
				return found, err
			},
		}
		for name, call := range missing {
			if found, err := call(); err != nil || found {
				t.Errorf("%s(missing sorted set) = found %v, %v; want not found", name, found, err)
			}
		}
		results, found, err := c.SortedSetGetScores(ctx, "c", s, values("a", "b"))
		if err != nil || found || !cmp.Equal(results, []client.ScoreResult{{}, {}}) {
			t.Errorf("SortedSetGetScores(missing sorted set) = %v, %v, %v; want two misses, not found", results, found, err)
		}
		if err := c.SortedSetRemoveElements(ctx, "c", s, values("a")); err != nil {
			t.Errorf("SortedSetRemoveElements(missing) = %v; want nil", err)
		}

		// Put b with another score first: a second put overwrites it.
		if err := c.SortedSetPutElements(ctx, "c", s, elements("b", 20.0, "c", 3.0), ttl); err != nil {
			t.Fatalf("SortedSetPutElements: %v", err)
		}
		if err := c.SortedSetPutElements(ctx, "c", s, elements("a", 1.0, "b", 2.0, binary, -1.5, "", 10.0), ttl); err != nil {
			t.Fatalf("SortedSetPutElements: %v", err)
		}
		if err := c.SortedSetPutElements(ctx, "c", []byte("nan"), elements("v", math.NaN()), ttl); !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("SortedSetPutElements(NaN score) = %v; want ErrInvalidArgument", err)
		}
		asc := elements(binary, -1.5, "a", 1.0, "b", 2.0, "c", 3.0, []byte{}, 10.0)
		desc := elements([]byte{}, 10.0, "c", 3.0, "b", 2.0, "a", 1.0, binary, -1.5)
		byRank := []struct {
			r     client.IndexRange
			order client.SortOrder
			want  []client.SortedSetElement
		}{
			{client.AllIndices(), client.Ascending, asc},
			{client.AllIndices(), client.Descending, desc},
			{client.IndexSlice(1, 3), client.Ascending, asc[1:3]},
			{client.IndexFrom(-2), client.Ascending, asc[3:]},
			{client.IndexSlice(0, 2), client.Descending, desc[:2]},
			{client.IndexFrom(-2), client.Descending, desc[3:]},
			{client.IndexSlice(-4, -1), client.Ascending, asc[1:4]},
			{client.IndexSlice(0, 100), client.Ascending, asc},
			{client.IndexFrom(100), client.Ascending, []client.SortedSetElement{}},
			{client.IndexSlice(3, 1), client.Ascending, []client.SortedSetElement{}},
		}
		for _, tc := range byRank {
			got, found, err := c.SortedSetFetchByRank(ctx, "c", s, tc.r, tc.order)
			if err != nil || !found {
				t.Errorf("SortedSetFetchByRank(%v, %v) = %v, %v; want found", tc.r, tc.order, found, err)
			} else if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("SortedSetFetchByRank(%v, %v) (-want +got):\n%s", tc.r, tc.order, diff)
			}
		}
		byScore := []struct {
			name string
			q    client.ScoreQuery
			want []client.SortedSetElement
		}{
			{"everything", client.ScoreQuery{}, asc},
			{"inclusive [1, 3]", client.ScoreQuery{Min: client.InclusiveScore(1), Max: client.InclusiveScore(3)}, asc[1:4]},
			{"exclusive (1, 3)", client.ScoreQuery{Min: client.ExclusiveScore(1), Max: client.ExclusiveScore(3)}, asc[2:3]},
			{"max only", client.ScoreQuery{Max: client.InclusiveScore(-1.5)}, asc[:1]},
			{"descending from 2", client.ScoreQuery{Min: client.InclusiveScore(2), Order: client.Descending}, desc[:3]},
			{"descending, offset 1, count 2", client.ScoreQuery{Order: client.Descending, Offset: 1, Count: 2}, desc[1:3]},
			{"count beyond the end", client.ScoreQuery{Offset: 3, Count: 10}, asc[3:]},
			{"offset beyond the end", client.ScoreQuery{Offset: 10}, []client.SortedSetElement{}},
			{"no score in range", client.ScoreQuery{Min: client.InclusiveScore(100)}, []client.SortedSetElement{}},
		}
		for _, tc := range byScore {
			got, found, err := c.SortedSetFetchByScore(ctx, "c", s, tc.q)
			if err != nil || !found {
				t.Errorf("SortedSetFetchByScore(%s) = %v, %v; want found", tc.name, found, err)
			} else if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("SortedSetFetchByScore(%s) (-want +got):\n%s", tc.name, diff)
			}
		}

		if score, found, err := c.SortedSetGetScore(ctx, "c", s, []byte("b")); err != nil || !found || score != 2 {
			t.Errorf("SortedSetGetScore(b) = %v, %v, %v; want 2 (overwritten)", score, found, err)
		}
		if score, found, err := c.SortedSetGetScore(ctx, "c", s, []byte("nope")); err != nil || found || score != 0 {
			t.Errorf("SortedSetGetScore(missing value) = %v, %v, %v; want a miss", score, found, err)
		}
		results, found, err = c.SortedSetGetScores(ctx, "c", s, [][]byte{[]byte("a"), []byte("nope"), binary, {}})
		if err != nil || !found {
			t.Errorf("SortedSetGetScores = %v, %v; want found", found, err)
		} else if diff := cmp.Diff([]client.ScoreResult{{Score: 1, Found: true}, {}, {Score: -1.5, Found: true}, {Score: 10, Found: true}}, results); diff != "" {
			t.Errorf("SortedSetGetScores (-want +got):\n%s", diff)
		}
		ranks := []struct {
			value string
			order client.SortOrder
			want  int
			found bool
		}{
			{"a", client.Ascending, 1, true},
			{"a", client.Descending, 3, true},
			{string(binary), client.Ascending, 0, true},
			{"", client.Descending, 0, true},
			{"nope", client.Ascending, 0, false},
		}
		for _, tc := range ranks {
			if rank, found, err := c.SortedSetGetRank(ctx, "c", s, []byte(tc.value), tc.order); err != nil || found != tc.found || rank != tc.want {
				t.Errorf("SortedSetGetRank(%q, %v) = %d, %v, %v; want %d, %v", tc.value, tc.order, rank, found, err, tc.want, tc.found)
			}
		}

		increments := []struct {
			value  string
			amount float64
			want   float64
		}{
			{"a", 2.5, 3.5},
			{"a", 0, 3.5},
			{"new", -1, -1},
		}
		for _, tc := range increments {
			if got, err := c.SortedSetIncrementScore(ctx, "c", s, []byte(tc.value), tc.amount, ttl); err != nil || got != tc.want {
				t.Errorf("SortedSetIncrementScore(%q, %v) = %v, %v; want %v", tc.value, tc.amount, got, err, tc.want)
			}
		}
		if got, err := c.SortedSetIncrementScore(ctx, "c", []byte("new-sorted"), []byte("v"), 4, ttl); err != nil || got != 4 {
			t.Errorf("SortedSetIncrementScore(missing sorted set, 4) = %v, %v; want 4", got, err)
		}
		if n, found, err := c.SortedSetLength(ctx, "c", s); err != nil || !found || n != 6 {
			t.Errorf("SortedSetLength = %d, %v, %v; want 6", n, found, err)
		}
		// Scores now: binary -1.5, new -1, b 2, c 3, a 3.5, empty 10.
		lengths := []struct {
			name     string
			min, max client.ScoreBound
			want     int
		}{
			{"unbounded", client.UnboundedScore(), client.UnboundedScore(), 6},
			{"[3, ∞)", client.InclusiveScore(3), client.UnboundedScore(), 3},
			{"(3, 10)", client.ExclusiveScore(3), client.ExclusiveScore(10), 1},
			{"(-∞, -1]", client.UnboundedScore(), client.InclusiveScore(-1), 2},
		}
		for _, tc := range lengths {
			if n, found, err := c.SortedSetLengthByScore(ctx, "c", s, tc.min, tc.max); err != nil || !found || n != tc.want {
				t.Errorf("SortedSetLengthByScore(%s) = %d, %v, %v; want %d, found", tc.name, n, found, err, tc.want)
			}
		}
		if n, _, err := c.SortedSetLengthByScore(ctx, "c", s, client.InclusiveScore(1000), client.UnboundedScore()); err != nil || n != 0 {
			t.Errorf("SortedSetLengthByScore(no score in range) = %d, %v; want 0", n, err)
		}
		if typ, found, err := c.ItemType(ctx, "c", s); err != nil || !found || typ != client.ItemSortedSet {
			t.Errorf("ItemType = %v, %v, %v; want sorted set", typ, found, err)
		}

		if err := c.SortedSetRemoveElements(ctx, "c", s, values("a", "nope")); err != nil {
			t.Fatalf("SortedSetRemoveElements: %v", err)
		}
		if n, _, err := c.SortedSetLength(ctx, "c", s); err != nil || n != 5 {
			t.Errorf("SortedSetLength after removing a and a missing value = %d, %v; want 5", n, err)
		}
		if err := c.SortedSetRemoveElements(ctx, "c", s, [][]byte{binary, []byte("new"), []byte("b"), []byte("c"), {}}); err != nil {
			t.Fatalf("SortedSetRemoveElements(the rest): %v", err)
		}
		if _, found, err := c.SortedSetFetchByRank(ctx, "c", s, client.AllIndices(), client.Ascending); err != nil || found {
			t.Errorf("SortedSetFetchByRank after removing every value = %v, %v; want not found (deleted)", found, err)
		}
		if err := c.SortedSetPutElements(ctx, "c", s, elements("a", 1.0), ttl); err != nil {
			t.Fatal(err)
		}
		if err := c.SortedSetDelete(ctx, "c", s); err != nil {
			t.Fatalf("SortedSetDelete: %v", err)
		}
		if _, found, err := c.SortedSetLength(ctx, "c", s); err != nil || found {
			t.Errorf("SortedSetLength after SortedSetDelete = %v, %v; want not found", found, err)
		}
		if err := c.SortedSetDelete(ctx, "c", s); err != nil {
			t.Errorf("SortedSetDelete(missing) = %v; want nil", err)
		}
		if _, _, err := c.SortedSetLength(ctx, "nope", s); !errors.Is(err, client.ErrCacheNotFound) {
			t.Errorf("SortedSetLength(missing cache) = %v; want ErrCacheNotFound", err)
		}
	})

	t.Run("ties", func(t *testing.T) {
		ctx := t.Context()
		s := []byte("ties")
		if err := c.SortedSetPutElements(ctx, "c", s, elements("tie-b", 5.0, "tie-a", 5.0, "low", 1.0), client.CollectionTTL{}); err != nil {
			t.Fatal(err)
		}
		got, _, err := c.SortedSetFetchByRank(ctx, "c", s, client.AllIndices(), client.Ascending)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(elements("low", 1.0, "tie-a", 5.0, "tie-b", 5.0), got); diff != "" {
			t.Errorf("SortedSetFetchByRank with equal scores (-want +got):\n%s", diff)
		}
	})

	t.Run("union store", func(t *testing.T) {
		ctx := t.Context()
		var ttl client.CollectionTTL
		s3, s4, dest := []byte("union-3"), []byte("union-4"), []byte("union-dest")
		if err := c.SortedSetPutElements(ctx, "c", s3, elements("foo", 1.0, "bar", 3.0), ttl); err != nil {
			t.Fatal(err)
		}
		if err := c.SortedSetPutElements(ctx, "c", s4, elements("abc", 2.0, "bar", 2.0), ttl); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name      string
			weight4   float32
			aggregate client.Aggregate
			want      []client.SortedSetElement
		}{
			{"sum", 2.5, client.AggregateSum, elements("foo", 1.0, "abc", 5.0, "bar", 8.0)},
			{"min", 2.5, client.AggregateMin, elements("foo", 1.0, "bar", 3.0, "abc", 5.0)},
			{"max", 2.5, client.AggregateMax, elements("foo", 1.0, "abc", 5.0, "bar", 5.0)},
			{"negative weight", -1, client.AggregateSum, elements("abc", -2.0, "bar", 1.0, "foo", 1.0)},
			{"zero weight", 0, client.AggregateSum, elements("abc", 0.0, "foo", 1.0, "bar", 3.0)},
		}
		for _, tc := range cases {
			sources := []client.SortedSetSource{{Name: s3, Weight: 1}, {Name: s4, Weight: tc.weight4}}
			n, err := c.SortedSetUnionStore(ctx, "c", dest, sources, tc.aggregate, 10*time.Minute)
			if err != nil || n != 3 {
				t.Errorf("SortedSetUnionStore(%s) = %d, %v; want 3", tc.name, n, err)
				continue
			}
			got, _, err := c.SortedSetFetchByRank(ctx, "c", dest, client.AllIndices(), client.Ascending)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("destination after SortedSetUnionStore(%s) (-want +got):\n%s", tc.name, diff)
			}
		}
		if remaining, found, err := c.ItemTTL(ctx, "c", dest); err != nil || !found || remaining > 10*time.Minute || remaining <= 9*time.Minute {
			t.Errorf("ItemTTL(destination) = %v, %v, %v; want in (9m, 10m]", remaining, found, err)
		}
		// The destination as a source: its elements count like any other's.
		sources := []client.SortedSetSource{{Name: dest, Weight: 1}, {Name: []byte("union-missing"), Weight: 1}}
		if n, err := c.SortedSetUnionStore(ctx, "c", dest, sources, client.AggregateSum, 0); err != nil || n != 3 {
			t.Errorf("SortedSetUnionStore(destination and a missing source) = %d, %v; want 3", n, err)
		}
		sources = []client.SortedSetSource{{Name: []byte("union-missing"), Weight: 1}}
		if n, err := c.SortedSetUnionStore(ctx, "c", dest, sources, client.AggregateSum, 0); err != nil || n != 0 {
			t.Errorf("SortedSetUnionStore(a missing source) = %d, %v; want 0", n, err)
		}
		if exists, err := c.KeysExist(ctx, "c", [][]byte{dest}); err != nil || exists[0] {
			t.Errorf("KeysExist(destination) after an empty union = %v, %v; want [false] (deleted)", exists, err)
		}
		if _, err := c.SortedSetUnionStore(ctx, "c", dest, nil, client.AggregateSum, 0); !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("SortedSetUnionStore(no sources) = %v; want ErrInvalidArgument", err)
		}
	})

	t.Run("TTL", func(t *testing.T) {
		seed := func(ctx context.Context, key []byte, ttl client.CollectionTTL) error {
			return c.SortedSetPutElements(ctx, "c", key, elements("seed", 1.0), ttl)
		}
		checkCollectionTTL(t, c, seed, []ttlCase{
			{name: "SortedSetPutElements", write: func(ctx context.Context, key []byte, ttl client.CollectionTTL) error {
				return c.SortedSetPutElements(ctx, "c", key, elements("new", 2.0), ttl)
			}},
			{name: "SortedSetPutElements unchanged", write: seed},
			{name: "SortedSetIncrementScore", write: func(ctx context.Context, key []byte, ttl client.CollectionTTL) error {
				_, err := c.SortedSetIncrementScore(ctx, "c", key, []byte("seed"), 1, ttl)
				return err
			}},
		})
	})

	t.Run("wrong type", func(t *testing.T) {
		var ttl client.CollectionTTL
		v := []byte("v")
		checkWrongType(t, c, client.ItemSortedSet, map[string]func(context.Context, []byte) error{
			"SortedSetPutElements": func(ctx context.Context, k []byte) error {
				return c.SortedSetPutElements(ctx, "c", k, elements("v", 1.0), ttl)
			},
			"SortedSetFetchByRank": func(ctx context.Context, k []byte) error {
				_, _, err := c.SortedSetFetchByRank(ctx, "c", k, client.AllIndices(), client.Ascending)
				return err
			},
			"SortedSetFetchByScore": func(ctx context.Context, k []byte) error {
				_, _, err := c.SortedSetFetchByScore(ctx, "c", k, client.ScoreQuery{})
				return err
			},
			"SortedSetGetScore": func(ctx context.Context, k []byte) error {
				_, _, err := c.SortedSetGetScore(ctx, "c", k, v)
				return err
			},
			"SortedSetGetScores": func(ctx context.Context, k []byte) error {
				_, _, err := c.SortedSetGetScores(ctx, "c", k, [][]byte{v})
				return err
			},
			"SortedSetGetRank": func(ctx context.Context, k []byte) error {
				_, _, err := c.SortedSetGetRank(ctx, "c", k, v, client.Ascending)
				return err
			},
			"SortedSetRemoveElements": func(ctx context.Context, k []byte) error {
				return c.SortedSetRemoveElements(ctx, "c", k, [][]byte{v})
			},
			"SortedSetDelete": func(ctx context.Context, k []byte) error { return c.SortedSetDelete(ctx, "c", k) },
			"SortedSetIncrementScore": func(ctx context.Context, k []byte) error {
				_, err := c.SortedSetIncrementScore(ctx, "c", k, v, 1, ttl)
				return err
			},
			"SortedSetLength": func(ctx context.Context, k []byte) error { _, _, err := c.SortedSetLength(ctx, "c", k); return err },
			"SortedSetLengthByScore": func(ctx context.Context, k []byte) error {
				_, _, err := c.SortedSetLengthByScore(ctx, "c", k, client.UnboundedScore(), client.UnboundedScore())
				return err
			},
			"SortedSetUnionStore(as a source)": func(ctx context.Context, k []byte) error {
				_, err := c.SortedSetUnionStore(ctx, "c", []byte("union-of-wrong-type"), []client.SortedSetSource{{Name: k, Weight: 1}}, client.AggregateSum, 0)
				return err
			},
			"SortedSetUnionStore(as the destination)": func(ctx context.Context, k []byte) error {
				_, err := c.SortedSetUnionStore(ctx, "c", k, []client.SortedSetSource{{Name: []byte("kind-sorted-set"), Weight: 1}}, client.AggregateSum, 0)
				return err
			},
		})
	})

	t.Run("retries", func(t *testing.T) {
		var ttl client.CollectionTTL
		s, v := []byte("retried"), []byte("v")
		checkRetries(t, map[string]retryCase{
			"SortedSetPutElements": {"sorted-set-put", func(ctx context.Context) error {
				return c.SortedSetPutElements(ctx, "c", s, elements("v", 1.0), ttl)
			}, true},
			"SortedSetFetchByRank": {"sorted-set-fetch", func(ctx context.Context) error {
				_, _, err := c.SortedSetFetchByRank(ctx, "c", s, client.AllIndices(), client.Ascending)
				return err
			}, true},
			"SortedSetFetchByScore": {"sorted-set-fetch", func(ctx context.Context) error {
				_, _, err := c.SortedSetFetchByScore(ctx, "c", s, client.ScoreQuery{})
				return err
			}, true},
			"SortedSetGetScore": {"sorted-set-get-score", func(ctx context.Context) error {
				_, _, err := c.SortedSetGetScore(ctx, "c", s, v)
				return err
			}, true},
			"SortedSetGetScores": {"sorted-set-get-score", func(ctx context.Context) error {
				_, _, err := c.SortedSetGetScores(ctx, "c", s, [][]byte{v})
				return err
			}, true},
			"SortedSetGetRank": {"sorted-set-get-rank", func(ctx context.Context) error {
				_, _, err := c.SortedSetGetRank(ctx, "c", s, v, client.Descending)
				return err
			}, true},
			"SortedSetRemoveElements": {"sorted-set-remove", func(ctx context.Context) error {
				return c.SortedSetRemoveElements(ctx, "c", s, values("other"))
			}, true},
			"SortedSetDelete": {"sorted-set-remove", func(ctx context.Context) error {
				return c.SortedSetDelete(ctx, "c", []byte("retried-gone"))
			}, true},
			"SortedSetIncrementScore": {"sorted-set-increment", func(ctx context.Context) error {
				_, err := c.SortedSetIncrementScore(ctx, "c", s, v, 1, ttl)
				return err
			}, false},
			"SortedSetLength": {"sorted-set-length", func(ctx context.Context) error {
				_, _, err := c.SortedSetLength(ctx, "c", s)
				return err
			}, true},
			"SortedSetLengthByScore": {"sorted-set-length-by-score", func(ctx context.Context) error {
				_, _, err := c.SortedSetLengthByScore(ctx, "c", s, client.InclusiveScore(0), client.ExclusiveScore(9))
				return err
			}, true},
			"SortedSetUnionStore": {"sorted-set-union-store", func(ctx context.Context) error {
				_, err := c.SortedSetUnionStore(ctx, "c", []byte("retried-union"), []client.SortedSetSource{{Name: s, Weight: 1}}, client.AggregateSum, 0)
				return err
			}, false},
		})
	})
}
