package store

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// Sorted-set errors.
var (
	// ErrInvalidScore means a sorted-set score, increment amount, score bound
	// or union weight is NaN, which has no place in the order. Callers
	// validate requests first (the gRPC layer answers INVALID_ARGUMENT), so a
	// backend returns it only to a caller that skipped that check.
	ErrInvalidScore = errors.New("store: sorted-set score is NaN")
	// ErrScoreNaN means SortedSetIncrement would make a score NaN: the
	// element holds +Inf or -Inf and the amount is the opposite infinity.
	// Like an integer increment leaving int64, the request is valid but the
	// stored value cannot take it, so it wraps ErrOverflow (which the gRPC
	// layer maps to FAILED_PRECONDITION). Redis refuses ZINCRBY alike
	// ("resulting score is not a number").
	ErrScoreNaN = fmt.Errorf("%w: the score would be NaN", ErrOverflow)
)

// SortedSetElement is one element of a sorted set: a value, unique within
// the set, and its score.
type SortedSetElement struct {
	Value []byte
	Score float64
}

// SortedSetOrder is the direction in which ranks count and fetches list.
type SortedSetOrder int

const (
	// Ascending lists the lowest score first; ties by value, bytewise.
	Ascending SortedSetOrder = iota
	// Descending is the exact reverse of Ascending, ties included (values
	// with equal scores come in descending byte order, as in Redis's
	// ZREVRANGE; the Momento service does not document its tie order).
	Descending
)

// String names the order.
func (o SortedSetOrder) String() string {
	switch o {
	case Ascending:
		return "ascending"
	case Descending:
		return "descending"
	}
	return fmt.Sprintf("order %d", int(o))
}

// RankRange selects elements by their 0-based position in the requested
// order, as a Python slice does: Start is inclusive and End exclusive, a
// negative value counts from the end (-1 is the last element), values
// beyond either end are clamped, and a range that is empty after that
// selects nothing. ToEnd ignores End and selects through the last element.
// An unbounded start is Start 0.
type RankRange struct {
	Start int
	End   int
	ToEnd bool
}

// ScoreBound is one end of a score range: Score itself is included unless
// Exclusive, and Unbounded ignores both (no bound on that side). Score may
// be ±Inf but not NaN.
type ScoreBound struct {
	Score     float64
	Exclusive bool
	Unbounded bool
}

// ScoreRange selects the elements whose score lies between Min and Max. A
// range with Min above Max (or empty because of exclusive bounds) selects
// nothing; it is not an error.
type ScoreRange struct {
	Min ScoreBound
	Max ScoreBound
}

// Contains reports whether score lies in r.
func (r ScoreRange) Contains(score float64) bool {
	return r.AboveMin(score) && r.BelowMax(score)
}

// AboveMin reports whether score satisfies r's lower bound.
func (r ScoreRange) AboveMin(score float64) bool {
	switch {
	case r.Min.Unbounded:
		return true
	case r.Min.Exclusive:
		return score > r.Min.Score
	}
	return score >= r.Min.Score
}

// BelowMax reports whether score satisfies r's upper bound.
func (r ScoreRange) BelowMax(score float64) bool {
	switch {
	case r.Max.Unbounded:
		return true
	case r.Max.Exclusive:
		return score < r.Max.Score
	}
	return score <= r.Max.Score
}

// Valid returns ErrInvalidScore, wrapped, when a bound of r is NaN.
func (r ScoreRange) Valid() error {
	for _, b := range []ScoreBound{r.Min, r.Max} {
		if !b.Unbounded && math.IsNaN(b.Score) {
			return fmt.Errorf("%w: score range bound", ErrInvalidScore)
		}
	}
	return nil
}

// SortedSetScore is the answer for one value of SortedSetGetScores.
type SortedSetScore struct {
	Score float64
	Found bool
}

// SortedSetAggregate combines the weighted scores of a value that several
// sources of SortedSetUnionStore hold.
type SortedSetAggregate int

const (
	// AggregateSum adds the weighted scores.
	AggregateSum SortedSetAggregate = iota
	// AggregateMin keeps the lowest weighted score.
	AggregateMin
	// AggregateMax keeps the highest weighted score.
	AggregateMax
)

// String names the aggregate function.
func (a SortedSetAggregate) String() string {
	switch a {
	case AggregateSum:
		return "sum"
	case AggregateMin:
		return "min"
	case AggregateMax:
		return "max"
	}
	return fmt.Sprintf("aggregate %d", int(a))
}

// Combine returns the function that combines two weighted scores of one
// value under a, as ZUNIONSTORE's AGGREGATE does; every backend's
// SortedSetUnionStore uses it.
func (a SortedSetAggregate) Combine() (func(x, y float64) float64, error) {
	switch a {
	case AggregateSum:
		return func(x, y float64) float64 {
			if sum := x + y; !math.IsNaN(sum) {
				return sum
			}
			return 0 // +Inf plus -Inf, as Redis
		}, nil
	case AggregateMin:
		return math.Min, nil
	case AggregateMax:
		return math.Max, nil
	}
	return nil, fmt.Errorf("unknown aggregate function %v", a)
}

// SortedSetSource is one input of SortedSetUnionStore: a sorted set of the
// same cache and the factor its scores are multiplied by.
type SortedSetSource struct {
	Key    []byte
	Weight float32
}

// SortedSetStore holds the SortedSet operations of Collections.
//
// A sorted set maps distinct values (arbitrary bytes, the empty value
// included) to float64 scores and orders them by score, ties by value
// bytewise; a Redis backend keeps it in a ZSET, whose ties are also ordered
// bytewise. Scores may be ±Inf, never NaN: a NaN score, amount, bound or
// weight is ErrInvalidScore. Every method returns ErrWrongType when the key
// holds another kind of item; a read of a missing sorted set reports
// found false; a write that leaves it empty deletes it.
type SortedSetStore interface {
	// SortedSetPut adds each element, or sets the score of a value the set
	// holds, creating the set if needed; when a value occurs more than once
	// in elements, the last score wins (as in ZADD). An empty elements list
	// creates nothing, though on an existing set it still refreshes the TTL
	// as w says. The whole set must fit in w.MaxSize (ErrItemTooLarge, and
	// nothing changes). Redis: ZADD (plus PEXPIRE) in one script.
	SortedSetPut(ctx context.Context, cache string, key []byte, elements []SortedSetElement, w CollectionWrite) error

	// SortedSetFetchByRank returns the elements in r, in order. A missing
	// set is found false; an existing one is found true even when r selects
	// nothing. Redis: ZRANGE with REV, after turning the exclusive end into
	// an inclusive stop.
	SortedSetFetchByRank(ctx context.Context, cache string, key []byte, r RankRange, order SortedSetOrder) (elements []SortedSetElement, found bool, err error)

	// SortedSetFetchByScore returns the elements whose score lies in r, in
	// order, skipping the first offset of them and returning at most count
	// (a negative count returns all the rest; zero returns none). A missing
	// set is found false; an existing one is found true even when nothing
	// matches. Redis: ZRANGE BYSCORE [REV] LIMIT offset count.
	SortedSetFetchByScore(ctx context.Context, cache string, key []byte, r ScoreRange, order SortedSetOrder, offset, count int) (elements []SortedSetElement, found bool, err error)

	// SortedSetGetScores returns one answer per value, in the order of
	// values: its score, or Found false for a value the set lacks. A missing
	// set is found false. Redis: ZMSCORE.
	SortedSetGetScores(ctx context.Context, cache string, key []byte, values [][]byte) (scores []SortedSetScore, found bool, err error)

	// SortedSetGetRank returns the 0-based rank of value in order (rank 0 is
	// the lowest score when Ascending, the highest when Descending).
	// ranked is false when the set exists but lacks value; found is false
	// when the set is missing. Redis: ZRANK or ZREVRANK.
	SortedSetGetRank(ctx context.Context, cache string, key, value []byte, order SortedSetOrder) (rank int, ranked, found bool, err error)

	// SortedSetRemove removes the listed values; values the set lacks, and
	// a missing set, are no-ops. The TTL is unchanged. Redis: ZREM.
	SortedSetRemove(ctx context.Context, cache string, key []byte, values [][]byte) error

	// SortedSetDelete deletes the sorted set; a missing one is a no-op.
	// Unlike Delete it refuses a key of another type. Redis: TYPE then DEL
	// in one script.
	SortedSetDelete(ctx context.Context, cache string, key []byte) error

	// SortedSetIncrement adds amount (which may be zero, negative or ±Inf)
	// to the score of value and returns the new score; a missing value, or
	// set, starts at 0. A result that would be NaN (+Inf plus -Inf) is
	// ErrScoreNaN and changes nothing. The TTL follows w; the set must fit
	// in w.MaxSize. Redis: ZINCRBY (plus PEXPIRE) in one script.
	SortedSetIncrement(ctx context.Context, cache string, key, value []byte, amount float64, w CollectionWrite) (score float64, err error)

	// SortedSetLength returns the number of elements. Redis: ZCARD.
	SortedSetLength(ctx context.Context, cache string, key []byte) (length int, found bool, err error)

	// SortedSetLengthByScore returns the number of elements whose score lies
	// in r; an existing set is found true even when none does. Redis: ZCOUNT.
	SortedSetLengthByScore(ctx context.Context, cache string, key []byte, r ScoreRange) (length int, found bool, err error)

	// SortedSetUnionStore replaces the sorted set under dest with the union
	// of the sources, all in cache, and returns its length. Each source's
	// scores are multiplied by its weight; a value in several sources gets
	// the aggregate of its weighted scores over the sources that hold it.
	// Following Redis, a product or sum that is NaN (0 × ±Inf, +Inf plus
	// -Inf) counts as 0. A missing source counts as empty, and a source may
	// be listed twice (it counts twice) or be dest itself (its old contents
	// are read). No sources make an empty union (the gRPC layer refuses that
	// request, as the service does). A source or dest of another type is
	// ErrWrongType, and a NaN weight ErrInvalidScore, both changing nothing. The destination gets w.TTL
	// whatever w.RefreshTTL says (it is replaced, not updated) and must fit
	// in w.MaxSize; an empty union deletes it and returns 0.
	//
	// Redis: ZUNIONSTORE with WEIGHTS and AGGREGATE plus PEXPIRE, in one
	// script. In Redis Cluster all keys of one command must share a hash
	// slot, and a cache's keys generally do not: a cluster backend either
	// reads each source (ZRANGE WITHSCORES) and writes dest in a second
	// script, giving the same per-source snapshot guarantee as the memory
	// backend, or keeps the whole union atomic only when the keys share a
	// hash tag.
	SortedSetUnionStore(ctx context.Context, cache string, dest []byte, sources []SortedSetSource, aggregate SortedSetAggregate, w CollectionWrite) (length int, err error)
}
