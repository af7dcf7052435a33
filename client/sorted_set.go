package client

import (
	"context"
	"fmt"
	"math"
	"time"

	"google.golang.org/grpc"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/api/commonpb"
)

// Sorted sets: distinct byte-string values under one key, each with a
// float64 score, ordered by score and, among equal scores, by value
// (bytewise). Ranks count from 0 in the chosen order. The common rules of
// collections apply (see CollectionTTL): a missing sorted set reads as not
// found, removing its last element deletes it, and a key holding another
// kind of item fails with ErrFailedPrecondition.

// SortedSetElement is a value of a sorted set with its score.
type SortedSetElement struct {
	Value []byte
	Score float64
}

// SortOrder is the order in which sorted-set calls rank elements.
type SortOrder uint8

// Sort orders; the zero SortOrder is Ascending.
const (
	// Ascending puts the lowest score first (rank 0).
	Ascending SortOrder = iota
	// Descending puts the highest score first (rank 0).
	Descending
)

// String names the order.
func (o SortOrder) String() string {
	switch o {
	case Ascending:
		return "ascending"
	case Descending:
		return "descending"
	}
	return fmt.Sprintf("SortOrder(%d)", uint8(o))
}

// ScoreBound is one end of a range of scores. Make one with InclusiveScore
// or ExclusiveScore; the zero ScoreBound (UnboundedScore) does not bound the
// range.
type ScoreBound struct {
	score float64
	kind  scoreBoundKind
}

type scoreBoundKind uint8

const (
	boundNone scoreBoundKind = iota
	boundInclusive
	boundExclusive
)

// UnboundedScore does not bound its end of the range: the zero ScoreBound.
func UnboundedScore() ScoreBound { return ScoreBound{} }

// InclusiveScore bounds the range at score, which is in the range.
func InclusiveScore(score float64) ScoreBound { return ScoreBound{score: score, kind: boundInclusive} }

// ExclusiveScore bounds the range at score, which is not in the range.
func ExclusiveScore(score float64) ScoreBound { return ScoreBound{score: score, kind: boundExclusive} }

// String formats b as "[1.5" (inclusive), "(1.5" (exclusive) or "unbounded".
func (b ScoreBound) String() string {
	switch b.kind {
	case boundInclusive:
		return fmt.Sprintf("[%v", b.score)
	case boundExclusive:
		return fmt.Sprintf("(%v", b.score)
	}
	return "unbounded"
}

// ScoreQuery selects elements of a sorted set by score for
// SortedSetFetchByScore. The zero ScoreQuery selects every element in
// ascending order.
type ScoreQuery struct {
	// Min and Max bound the scores; the zero ScoreBound leaves that end
	// open.
	Min, Max ScoreBound
	// Order is the order of the result, applied before Offset and Count.
	Order SortOrder
	// Offset is the number of matching elements to skip; it must not be
	// negative.
	Offset int
	// Count is the largest number of elements to return; zero or negative
	// means all.
	Count int
}

// SortedSetPutElements adds elements to set, creating it when missing, or
// sets the scores of values it holds already, and sets the TTL as ttl says.
// With no elements it creates nothing. A NaN score is refused by the server
// with ErrInvalidArgument (±Inf are scores like others). Retried: putting the
// same scores twice leaves the same set.
func (c *Client) SortedSetPutElements(ctx context.Context, cache string, set []byte, elements []SortedSetElement, ttl CollectionTTL) error {
	ms, refresh, err := c.collectionTTL("SortedSetPutElements", ttl)
	if err != nil {
		return err
	}
	req := &cachepb.XSortedSetPutRequest{SetName: set, TtlMilliseconds: ms, RefreshTtl: refresh,
		Elements: make([]*cachepb.XSortedSetElement, len(elements))}
	for i, e := range elements {
		req.Elements[i] = &cachepb.XSortedSetElement{Value: e.Value, Score: e.Score}
	}
	_, err = invoke(ctx, c, rpcSortedSetPutElements, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XSortedSetPutResponse, error) {
		return ch.scs.SortedSetPut(ctx, req, opts...)
	})
	return err
}

// SortedSetFetchByRank returns the elements of set whose ranks in order r
// selects, in that order with their scores, and whether the set exists. A
// range that selects nothing in an existing set gives no elements with found
// true. Retried.
func (c *Client) SortedSetFetchByRank(ctx context.Context, cache string, set []byte, r IndexRange, order SortOrder) (elements []SortedSetElement, found bool, err error) {
	byIndex := &cachepb.XSortedSetFetchRequest_XByIndex{}
	if r.start == 0 {
		byIndex.Start = &cachepb.XSortedSetFetchRequest_XByIndex_UnboundedStart{UnboundedStart: &commonpb.XUnbounded{}}
	} else {
		byIndex.Start = &cachepb.XSortedSetFetchRequest_XByIndex_InclusiveStartIndex{InclusiveStartIndex: r.start}
	}
	if r.hasEnd {
		byIndex.End = &cachepb.XSortedSetFetchRequest_XByIndex_ExclusiveEndIndex{ExclusiveEndIndex: r.end}
	} else {
		byIndex.End = &cachepb.XSortedSetFetchRequest_XByIndex_UnboundedEnd{UnboundedEnd: &commonpb.XUnbounded{}}
	}
	req := &cachepb.XSortedSetFetchRequest{SetName: set, Order: fetchOrder(order), WithScores: true,
		Range: &cachepb.XSortedSetFetchRequest_ByIndex{ByIndex: byIndex}}
	return c.sortedSetFetch(ctx, rpcSortedSetFetchByRank, cache, req)
}

// SortedSetFetchByScore returns the elements of set that q selects, in q's
// order with their scores, and whether the set exists. No element in range
// gives no elements with found true. A negative Offset is refused with
// ErrInvalidArgument. Retried.
func (c *Client) SortedSetFetchByScore(ctx context.Context, cache string, set []byte, q ScoreQuery) (elements []SortedSetElement, found bool, err error) {
	if q.Offset < 0 || uint64(q.Offset) > math.MaxUint32 {
		return nil, false, invalidArgument("SortedSetFetchByScore", "offset %d must be between 0 and 2^32-1", q.Offset)
	}
	byScore := &cachepb.XSortedSetFetchRequest_XByScore{Offset: uint32(q.Offset), Count: -1}
	if q.Count > 0 {
		byScore.Count = clampInt32(q.Count)
	}
	if q.Min.kind == boundNone {
		byScore.Min = &cachepb.XSortedSetFetchRequest_XByScore_UnboundedMin{UnboundedMin: &commonpb.XUnbounded{}}
	} else {
		byScore.Min = &cachepb.XSortedSetFetchRequest_XByScore_MinScore{MinScore: &cachepb.XSortedSetFetchRequest_XByScore_XScore{
			Score: q.Min.score, Exclusive: q.Min.kind == boundExclusive}}
	}
	if q.Max.kind == boundNone {
		byScore.Max = &cachepb.XSortedSetFetchRequest_XByScore_UnboundedMax{UnboundedMax: &commonpb.XUnbounded{}}
	} else {
		byScore.Max = &cachepb.XSortedSetFetchRequest_XByScore_MaxScore{MaxScore: &cachepb.XSortedSetFetchRequest_XByScore_XScore{
			Score: q.Max.score, Exclusive: q.Max.kind == boundExclusive}}
	}
	req := &cachepb.XSortedSetFetchRequest{SetName: set, Order: fetchOrder(q.Order), WithScores: true,
		Range: &cachepb.XSortedSetFetchRequest_ByScore{ByScore: byScore}}
	return c.sortedSetFetch(ctx, rpcSortedSetFetchByScore, cache, req)
}

// fetchOrder converts o to the fetch request's enum.
func fetchOrder(o SortOrder) cachepb.XSortedSetFetchRequest_Order {
	if o == Descending {
		return cachepb.XSortedSetFetchRequest_DESCENDING
	}
	return cachepb.XSortedSetFetchRequest_ASCENDING
}

// sortedSetFetch sends SortedSetFetch for the client method m.
func (c *Client) sortedSetFetch(ctx context.Context, m rpc, cache string, req *cachepb.XSortedSetFetchRequest) ([]SortedSetElement, bool, error) {
	resp, err := invoke(ctx, c, m, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XSortedSetFetchResponse, error) {
		return ch.scs.SortedSetFetch(ctx, req, opts...)
	})
	if err != nil {
		return nil, false, err
	}
	switch r := resp.GetSortedSet().(type) {
	case *cachepb.XSortedSetFetchResponse_Missing:
		return nil, false, nil
	case *cachepb.XSortedSetFetchResponse_Found:
		if r.Found.GetValues() != nil {
			return nil, false, unexpected(methods[m].name, "values without the scores asked for")
		}
		got := r.Found.GetValuesWithScores().GetElements()
		out := make([]SortedSetElement, len(got))
		for i, e := range got {
			out[i] = SortedSetElement{Value: nonNil(e.GetValue()), Score: e.GetScore()}
		}
		return out, true, nil
	}
	return nil, false, unexpected(methods[m].name, "no result")
}

// ScoreResult is the outcome of one value of SortedSetGetScores.
type ScoreResult struct {
	// Score is the value's score; zero on a miss.
	Score float64
	// Found is false when the sorted set does not hold the value.
	Found bool
}

// SortedSetGetScore returns the score of value in set, and whether there is
// one: found is false when the set or the value is missing. Retried.
func (c *Client) SortedSetGetScore(ctx context.Context, cache string, set, value []byte) (score float64, found bool, err error) {
	results, _, err := c.sortedSetGetScores(ctx, rpcSortedSetGetScore, cache, set, [][]byte{value})
	if err != nil {
		return 0, false, err
	}
	return results[0].Score, results[0].Found, nil
}

// SortedSetGetScores looks up values in set and returns one result per
// value, in order, whether or not the set exists; found reports whether it
// does. When it does not, every result is a miss. Retried.
func (c *Client) SortedSetGetScores(ctx context.Context, cache string, set []byte, values [][]byte) (results []ScoreResult, found bool, err error) {
	return c.sortedSetGetScores(ctx, rpcSortedSetGetScores, cache, set, values)
}

// sortedSetGetScores sends SortedSetGetScore for the client method m.
func (c *Client) sortedSetGetScores(ctx context.Context, m rpc, cache string, set []byte, values [][]byte) ([]ScoreResult, bool, error) {
	op := methods[m].name
	req := &cachepb.XSortedSetGetScoreRequest{SetName: set, Values: values}
	resp, err := invoke(ctx, c, m, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XSortedSetGetScoreResponse, error) {
		return ch.scs.SortedSetGetScore(ctx, req, opts...)
	})
	if err != nil {
		return nil, false, err
	}
	out := make([]ScoreResult, len(values))
	switch r := resp.GetSortedSet().(type) {
	case *cachepb.XSortedSetGetScoreResponse_Missing:
		return out, false, nil
	case *cachepb.XSortedSetGetScoreResponse_Found:
		parts := r.Found.GetElements()
		if len(parts) != len(values) {
			return nil, false, unexpected(op, fmt.Sprintf("%d results for %d values", len(parts), len(values)))
		}
		for i, p := range parts {
			switch p.GetResult() {
			case cachepb.ECacheResult_Hit:
				out[i] = ScoreResult{Score: p.GetScore(), Found: true}
			case cachepb.ECacheResult_Miss:
			default:
				return nil, false, unexpected(op, fmt.Sprintf("value %d: result %v", i, p.GetResult()))
			}
		}
		return out, true, nil
	}
	return nil, false, unexpected(op, "no result")
}

// SortedSetGetRank returns the rank of value in set in order (0 for the
// lowest score in Ascending order, for the highest in Descending), and
// whether there is one: found is false when the set or the value is missing.
// Retried.
func (c *Client) SortedSetGetRank(ctx context.Context, cache string, set, value []byte, order SortOrder) (rank int, found bool, err error) {
	req := &cachepb.XSortedSetGetRankRequest{SetName: set, Value: value, Order: cachepb.XSortedSetGetRankRequest_ASCENDING}
	if order == Descending {
		req.Order = cachepb.XSortedSetGetRankRequest_DESCENDING
	}
	resp, err := invoke(ctx, c, rpcSortedSetGetRank, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XSortedSetGetRankResponse, error) {
		return ch.scs.SortedSetGetRank(ctx, req, opts...)
	})
	if err != nil {
		return 0, false, err
	}
	switch r := resp.GetRank().(type) {
	case *cachepb.XSortedSetGetRankResponse_Missing:
		return 0, false, nil
	case *cachepb.XSortedSetGetRankResponse_ElementRank:
		switch r.ElementRank.GetResult() {
		case cachepb.ECacheResult_Hit:
			return int(r.ElementRank.GetRank()), true, nil
		case cachepb.ECacheResult_Miss:
			return 0, false, nil
		}
		return 0, false, unexpected("SortedSetGetRank", fmt.Sprintf("result %v", r.ElementRank.GetResult()))
	}
	return 0, false, unexpected("SortedSetGetRank", "no result")
}

// SortedSetRemoveElements removes values from set. Values it does not hold,
// and a missing set, are no-ops; removing the last value deletes the set.
// The TTL is not changed. Retried.
func (c *Client) SortedSetRemoveElements(ctx context.Context, cache string, set []byte, values [][]byte) error {
	req := &cachepb.XSortedSetRemoveRequest{SetName: set,
		RemoveElements: &cachepb.XSortedSetRemoveRequest_Some{Some: &cachepb.XSortedSetRemoveRequest_XSome{Values: values}}}
	_, err := invoke(ctx, c, rpcSortedSetRemoveElements, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XSortedSetRemoveResponse, error) {
		return ch.scs.SortedSetRemove(ctx, req, opts...)
	})
	return err
}

// SortedSetDelete deletes the whole sorted set; a missing one is a no-op.
// Unlike Delete, it fails with ErrFailedPrecondition when the key holds
// another kind of item, which it leaves alone. Retried.
func (c *Client) SortedSetDelete(ctx context.Context, cache string, set []byte) error {
	req := &cachepb.XSortedSetRemoveRequest{SetName: set,
		RemoveElements: &cachepb.XSortedSetRemoveRequest_All{All: &cachepb.XSortedSetRemoveRequest_XAll{}}}
	_, err := invoke(ctx, c, rpcSortedSetDelete, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XSortedSetRemoveResponse, error) {
		return ch.scs.SortedSetRemove(ctx, req, opts...)
	})
	return err
}

// SortedSetIncrementScore adds amount (which may be zero or negative) to the
// score of value in set and returns the new score. A missing set or value is
// created with score amount. The TTL is set as ttl says. An increment whose
// result would be NaN (+Inf plus -Inf) fails with ErrFailedPrecondition and
// changes nothing. Never retried:
// after an error the increment may or may not have been applied.
func (c *Client) SortedSetIncrementScore(ctx context.Context, cache string, set, value []byte, amount float64, ttl CollectionTTL) (float64, error) {
	ms, refresh, err := c.collectionTTL("SortedSetIncrementScore", ttl)
	if err != nil {
		return 0, err
	}
	req := &cachepb.XSortedSetIncrementRequest{SetName: set, Value: value, Amount: amount, TtlMilliseconds: ms, RefreshTtl: refresh}
	resp, err := invoke(ctx, c, rpcSortedSetIncrementScore, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XSortedSetIncrementResponse, error) {
		return ch.scs.SortedSetIncrement(ctx, req, opts...)
	})
	if err != nil {
		return 0, err
	}
	return resp.GetScore(), nil
}

// SortedSetLength returns the number of elements in set, and whether it
// exists (an existing sorted set has at least one element). Retried.
func (c *Client) SortedSetLength(ctx context.Context, cache string, set []byte) (length int, found bool, err error) {
	req := &cachepb.XSortedSetLengthRequest{SetName: set}
	resp, err := invoke(ctx, c, rpcSortedSetLength, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XSortedSetLengthResponse, error) {
		return ch.scs.SortedSetLength(ctx, req, opts...)
	})
	if err != nil {
		return 0, false, err
	}
	switch r := resp.GetSortedSet().(type) {
	case *cachepb.XSortedSetLengthResponse_Found:
		return int(r.Found.GetLength()), true, nil
	case *cachepb.XSortedSetLengthResponse_Missing:
		return 0, false, nil
	}
	return 0, false, unexpected("SortedSetLength", "no result")
}

// SortedSetLengthByScore returns the number of elements of set whose scores
// lie between minScore and maxScore, and whether the set exists; an existing set with
// no score in range gives 0 with found true. Retried.
func (c *Client) SortedSetLengthByScore(ctx context.Context, cache string, set []byte, minScore, maxScore ScoreBound) (length int, found bool, err error) {
	req := &cachepb.XSortedSetLengthByScoreRequest{SetName: set}
	switch minScore.kind {
	case boundInclusive:
		req.Min = &cachepb.XSortedSetLengthByScoreRequest_InclusiveMin{InclusiveMin: minScore.score}
	case boundExclusive:
		req.Min = &cachepb.XSortedSetLengthByScoreRequest_ExclusiveMin{ExclusiveMin: minScore.score}
	default:
		req.Min = &cachepb.XSortedSetLengthByScoreRequest_UnboundedMin{UnboundedMin: &commonpb.XUnbounded{}}
	}
	switch maxScore.kind {
	case boundInclusive:
		req.Max = &cachepb.XSortedSetLengthByScoreRequest_InclusiveMax{InclusiveMax: maxScore.score}
	case boundExclusive:
		req.Max = &cachepb.XSortedSetLengthByScoreRequest_ExclusiveMax{ExclusiveMax: maxScore.score}
	default:
		req.Max = &cachepb.XSortedSetLengthByScoreRequest_UnboundedMax{UnboundedMax: &commonpb.XUnbounded{}}
	}
	resp, err := invoke(ctx, c, rpcSortedSetLengthByScore, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XSortedSetLengthByScoreResponse, error) {
		return ch.scs.SortedSetLengthByScore(ctx, req, opts...)
	})
	if err != nil {
		return 0, false, err
	}
	switch r := resp.GetSortedSet().(type) {
	case *cachepb.XSortedSetLengthByScoreResponse_Found:
		return int(r.Found.GetLength()), true, nil
	case *cachepb.XSortedSetLengthByScoreResponse_Missing:
		return 0, false, nil
	}
	return 0, false, unexpected("SortedSetLengthByScore", "no result")
}

// SortedSetSource is one input of SortedSetUnionStore.
type SortedSetSource struct {
	// Name is the sorted set's name (its key). A missing one counts as empty.
	Name []byte
	// Weight multiplies the source's scores before they are combined: 1
	// keeps them, and zero (the zero value) makes them all 0.
	Weight float32
}

// Aggregate is how SortedSetUnionStore combines the weighted scores of a
// value found in several sources.
type Aggregate uint8

// Aggregate functions; the zero Aggregate is AggregateSum.
const (
	// AggregateSum adds the weighted scores.
	AggregateSum Aggregate = iota
	// AggregateMin keeps the lowest weighted score.
	AggregateMin
	// AggregateMax keeps the highest weighted score.
	AggregateMax
)

// String names the aggregate function.
func (a Aggregate) String() string {
	switch a {
	case AggregateSum:
		return "sum"
	case AggregateMin:
		return "min"
	case AggregateMax:
		return "max"
	}
	return fmt.Sprintf("Aggregate(%d)", uint8(a))
}

// SortedSetUnionStore replaces destination with the union of sources (the
// destination's own elements count only if it is one of the sources), each
// source's scores multiplied by its Weight and the scores of a value found
// in several sources combined by aggregate, gives it ttl (zero:
// Config.DefaultTTL), and returns its length. An empty union deletes the
// destination and returns 0. No sources is refused by the server with
// ErrInvalidArgument. Never retried: when destination is also a source, a
// repeat would combine the result again.
func (c *Client) SortedSetUnionStore(ctx context.Context, cache string, destination []byte, sources []SortedSetSource, aggregate Aggregate, ttl time.Duration) (length int, err error) {
	ms, err := c.ttlMillis("SortedSetUnionStore", ttl)
	if err != nil {
		return 0, err
	}
	req := &cachepb.XSortedSetUnionStoreRequest{SetName: destination, TtlMilliseconds: ms,
		Sources: make([]*cachepb.XSortedSetUnionStoreRequest_XSource, len(sources))}
	switch aggregate {
	case AggregateSum:
		req.Aggregate = cachepb.XSortedSetUnionStoreRequest_SUM
	case AggregateMin:
		req.Aggregate = cachepb.XSortedSetUnionStoreRequest_MIN
	case AggregateMax:
		req.Aggregate = cachepb.XSortedSetUnionStoreRequest_MAX
	default:
		return 0, invalidArgument("SortedSetUnionStore", "unknown aggregate %v", aggregate)
	}
	for i, s := range sources {
		req.Sources[i] = &cachepb.XSortedSetUnionStoreRequest_XSource{SetName: s.Name, Weight: s.Weight}
	}
	resp, err := invoke(ctx, c, rpcSortedSetUnionStore, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XSortedSetUnionStoreResponse, error) {
		return ch.scs.SortedSetUnionStore(ctx, req, opts...)
	})
	if err != nil {
		return 0, err
	}
	return int(resp.GetLength()), nil
}
