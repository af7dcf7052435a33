package grpcsvc

import (
	"context"
	"fmt"
	"math"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/internal/store"
)

// Sorted sets on the wire. Scores are float64 and may be ±Inf; a NaN score,
// amount, bound or weight is refused with INVALID_ARGUMENT before the store
// sees it (the service documents nothing on NaN; Redis refuses it alike).
// An increment whose result would be NaN (+Inf plus -Inf) depends on the
// stored score, so it is FAILED_PRECONDITION, through store.ErrScoreNaN.

// SortedSetPut adds elements to a sorted set or updates their scores.
func (s *CacheService) SortedSetPut(ctx context.Context, req *cachepb.XSortedSetPutRequest) (*cachepb.XSortedSetPutResponse, error) {
	if err := s.sortedSetPut(ctx, req); err != nil {
		return nil, toStatus(ctx, err)
	}
	return &cachepb.XSortedSetPutResponse{}, nil
}

func (s *CacheService) sortedSetPut(ctx context.Context, req *cachepb.XSortedSetPutRequest) error {
	call, err := s.collectionFor(ctx, req.GetSetName())
	if err != nil {
		return err
	}
	values := make([][]byte, len(req.GetElements()))
	for i, e := range req.GetElements() {
		values[i] = e.GetValue()
	}
	w, err := s.collectionWrite(req.GetTtlMilliseconds(), req.GetRefreshTtl(), values...)
	if err != nil {
		return err
	}
	elements := make([]store.SortedSetElement, len(req.GetElements()))
	for i, e := range req.GetElements() {
		if math.IsNaN(e.GetScore()) {
			return fmt.Errorf("%w: the score of element %d is NaN", errInvalidRequest, i)
		}
		elements[i] = store.SortedSetElement{Value: e.GetValue(), Score: e.GetScore()}
	}
	return s.store.SortedSetPut(ctx, call.cache, call.key, elements, w)
}

// SortedSetFetch returns a sorted set's elements selected by rank or by
// score. A set that exists answers found, even with no element selected;
// only a missing set answers missing.
func (s *CacheService) SortedSetFetch(ctx context.Context, req *cachepb.XSortedSetFetchRequest) (*cachepb.XSortedSetFetchResponse, error) {
	resp, err := s.sortedSetFetch(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return resp, nil
}

func (s *CacheService) sortedSetFetch(ctx context.Context, req *cachepb.XSortedSetFetchRequest) (*cachepb.XSortedSetFetchResponse, error) {
	call, err := s.collectionFor(ctx, req.GetSetName())
	if err != nil {
		return nil, err
	}
	order, err := sortedSetOrder(int32(req.GetOrder()))
	if err != nil {
		return nil, err
	}
	var (
		elements []store.SortedSetElement
		found    bool
	)
	switch rg := req.GetRange().(type) {
	case *cachepb.XSortedSetFetchRequest_ByScore:
		r, err := sortedSetScoreRange(rg.ByScore)
		if err != nil {
			return nil, err
		}
		elements, found, err = s.store.SortedSetFetchByScore(ctx, call.cache, call.key, r, order, int(rg.ByScore.GetOffset()), int(rg.ByScore.GetCount()))
		if err != nil {
			return nil, err
		}
	default: // by index; no range at all fetches the whole set
		elements, found, err = s.store.SortedSetFetchByRank(ctx, call.cache, call.key, sortedSetRankRange(req.GetByIndex()), order)
		if err != nil {
			return nil, err
		}
	}
	if !found {
		return &cachepb.XSortedSetFetchResponse{SortedSet: &cachepb.XSortedSetFetchResponse_Missing{Missing: &cachepb.XSortedSetFetchResponse_XMissing{}}}, nil
	}
	return &cachepb.XSortedSetFetchResponse{SortedSet: &cachepb.XSortedSetFetchResponse_Found{Found: sortedSetFound(elements, req.GetWithScores())}}, nil
}

// sortedSetFound builds the found arm of a fetch response. Its elements arm is
// always set, also for an empty result: the SDKs tell a hit by its presence.
func sortedSetFound(elements []store.SortedSetElement, withScores bool) *cachepb.XSortedSetFetchResponse_XFound {
	if withScores {
		out := make([]*cachepb.XSortedSetElement, len(elements))
		for i, e := range elements {
			out[i] = &cachepb.XSortedSetElement{Value: e.Value, Score: e.Score}
		}
		return &cachepb.XSortedSetFetchResponse_XFound{Elements: &cachepb.XSortedSetFetchResponse_XFound_ValuesWithScores{
			ValuesWithScores: &cachepb.XSortedSetFetchResponse_XFound_XValuesWithScores{Elements: out},
		}}
	}
	values := make([][]byte, len(elements))
	for i, e := range elements {
		values[i] = e.Value
	}
	return &cachepb.XSortedSetFetchResponse_XFound{Elements: &cachepb.XSortedSetFetchResponse_XFound_Values{
		Values: &cachepb.XSortedSetFetchResponse_XFound_XValues{Values: values},
	}}
}

// sortedSetOrder converts a request's order enum, which fetch and get rank
// declare separately with the same numbers.
func sortedSetOrder(order int32) (store.SortedSetOrder, error) {
	switch order {
	case int32(cachepb.XSortedSetFetchRequest_ASCENDING):
		return store.Ascending, nil
	case int32(cachepb.XSortedSetFetchRequest_DESCENDING):
		return store.Descending, nil
	}
	return 0, fmt.Errorf("%w: unknown sorted set order %d", errInvalidRequest, order)
}

// sortedSetRankRange converts a by-index range; an unset start or end is unbounded.
func sortedSetRankRange(ix *cachepb.XSortedSetFetchRequest_XByIndex) store.RankRange {
	r := store.RankRange{ToEnd: true}
	if start, ok := ix.GetStart().(*cachepb.XSortedSetFetchRequest_XByIndex_InclusiveStartIndex); ok {
		r.Start = int(start.InclusiveStartIndex)
	}
	if end, ok := ix.GetEnd().(*cachepb.XSortedSetFetchRequest_XByIndex_ExclusiveEndIndex); ok {
		r.End, r.ToEnd = int(end.ExclusiveEndIndex), false
	}
	return r
}

// sortedSetScoreRange converts a by-score range; an unset bound is unbounded.
func sortedSetScoreRange(bs *cachepb.XSortedSetFetchRequest_XByScore) (store.ScoreRange, error) {
	r := store.ScoreRange{Min: store.ScoreBound{Unbounded: true}, Max: store.ScoreBound{Unbounded: true}}
	if m, ok := bs.GetMin().(*cachepb.XSortedSetFetchRequest_XByScore_MinScore); ok {
		r.Min = store.ScoreBound{Score: m.MinScore.GetScore(), Exclusive: m.MinScore.GetExclusive()}
	}
	if m, ok := bs.GetMax().(*cachepb.XSortedSetFetchRequest_XByScore_MaxScore); ok {
		r.Max = store.ScoreBound{Score: m.MaxScore.GetScore(), Exclusive: m.MaxScore.GetExclusive()}
	}
	return r, sortedSetValidRange(r)
}

// sortedSetValidRange refuses a NaN bound.
func sortedSetValidRange(r store.ScoreRange) error {
	if err := r.Valid(); err != nil {
		return fmt.Errorf("%w: %w", errInvalidRequest, err)
	}
	return nil
}

// SortedSetGetScore returns the score of each requested value, in request
// order: Hit with the score, or Miss for a value the set lacks.
func (s *CacheService) SortedSetGetScore(ctx context.Context, req *cachepb.XSortedSetGetScoreRequest) (*cachepb.XSortedSetGetScoreResponse, error) {
	call, err := s.collectionFor(ctx, req.GetSetName())
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	scores, found, err := s.store.SortedSetGetScores(ctx, call.cache, call.key, req.GetValues())
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	if !found {
		return &cachepb.XSortedSetGetScoreResponse{SortedSet: &cachepb.XSortedSetGetScoreResponse_Missing{Missing: &cachepb.XSortedSetGetScoreResponse_XSortedSetMissing{}}}, nil
	}
	parts := make([]*cachepb.XSortedSetGetScoreResponse_XSortedSetGetScoreResponsePart, len(scores))
	for i, sc := range scores {
		part := &cachepb.XSortedSetGetScoreResponse_XSortedSetGetScoreResponsePart{Result: cachepb.ECacheResult_Miss}
		if sc.Found {
			part.Result, part.Score = cachepb.ECacheResult_Hit, sc.Score
		}
		parts[i] = part
	}
	return &cachepb.XSortedSetGetScoreResponse{SortedSet: &cachepb.XSortedSetGetScoreResponse_Found{
		Found: &cachepb.XSortedSetGetScoreResponse_XSortedSetFound{Elements: parts},
	}}, nil
}

// SortedSetRemove removes some values of a sorted set, or all of it.
func (s *CacheService) SortedSetRemove(ctx context.Context, req *cachepb.XSortedSetRemoveRequest) (*cachepb.XSortedSetRemoveResponse, error) {
	if err := s.sortedSetRemove(ctx, req); err != nil {
		return nil, toStatus(ctx, err)
	}
	return &cachepb.XSortedSetRemoveResponse{}, nil
}

func (s *CacheService) sortedSetRemove(ctx context.Context, req *cachepb.XSortedSetRemoveRequest) error {
	call, err := s.collectionFor(ctx, req.GetSetName())
	if err != nil {
		return err
	}
	switch rm := req.GetRemoveElements().(type) {
	case *cachepb.XSortedSetRemoveRequest_All:
		return s.store.SortedSetDelete(ctx, call.cache, call.key)
	case *cachepb.XSortedSetRemoveRequest_Some:
		return s.store.SortedSetRemove(ctx, call.cache, call.key, rm.Some.GetValues())
	}
	return fmt.Errorf("%w: SortedSetRemove needs all or some values", errInvalidRequest)
}

// SortedSetIncrement adds an amount to the score of a value, starting from
// 0 for a value (or set) that is missing, and returns the new score.
func (s *CacheService) SortedSetIncrement(ctx context.Context, req *cachepb.XSortedSetIncrementRequest) (*cachepb.XSortedSetIncrementResponse, error) {
	score, err := s.sortedSetIncrement(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return &cachepb.XSortedSetIncrementResponse{Score: score}, nil
}

func (s *CacheService) sortedSetIncrement(ctx context.Context, req *cachepb.XSortedSetIncrementRequest) (float64, error) {
	call, err := s.collectionFor(ctx, req.GetSetName())
	if err != nil {
		return 0, err
	}
	w, err := s.collectionWrite(req.GetTtlMilliseconds(), req.GetRefreshTtl(), req.GetValue())
	if err != nil {
		return 0, err
	}
	if math.IsNaN(req.GetAmount()) {
		return 0, fmt.Errorf("%w: the amount is NaN", errInvalidRequest)
	}
	return s.store.SortedSetIncrement(ctx, call.cache, call.key, req.GetValue(), req.GetAmount(), w)
}

// SortedSetGetRank returns the 0-based rank of a value in the requested
// order; a value the set lacks answers element_rank with result Miss, a
// missing set answers missing.
func (s *CacheService) SortedSetGetRank(ctx context.Context, req *cachepb.XSortedSetGetRankRequest) (*cachepb.XSortedSetGetRankResponse, error) {
	resp, err := s.sortedSetGetRank(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return resp, nil
}

func (s *CacheService) sortedSetGetRank(ctx context.Context, req *cachepb.XSortedSetGetRankRequest) (*cachepb.XSortedSetGetRankResponse, error) {
	call, err := s.collectionFor(ctx, req.GetSetName())
	if err != nil {
		return nil, err
	}
	order, err := sortedSetOrder(int32(req.GetOrder()))
	if err != nil {
		return nil, err
	}
	rank, ranked, found, err := s.store.SortedSetGetRank(ctx, call.cache, call.key, req.GetValue(), order)
	switch {
	case err != nil:
		return nil, err
	case !found:
		return &cachepb.XSortedSetGetRankResponse{Rank: &cachepb.XSortedSetGetRankResponse_Missing{Missing: &cachepb.XSortedSetGetRankResponse_XSortedSetMissing{}}}, nil
	case !ranked:
		return &cachepb.XSortedSetGetRankResponse{Rank: &cachepb.XSortedSetGetRankResponse_ElementRank{
			ElementRank: &cachepb.XSortedSetGetRankResponse_XRankResponsePart{Result: cachepb.ECacheResult_Miss},
		}}, nil
	}
	return &cachepb.XSortedSetGetRankResponse{Rank: &cachepb.XSortedSetGetRankResponse_ElementRank{
		ElementRank: &cachepb.XSortedSetGetRankResponse_XRankResponsePart{Result: cachepb.ECacheResult_Hit, Rank: uint64(rank)},
	}}, nil
}

// SortedSetLength returns the number of elements of a sorted set.
func (s *CacheService) SortedSetLength(ctx context.Context, req *cachepb.XSortedSetLengthRequest) (*cachepb.XSortedSetLengthResponse, error) {
	call, err := s.collectionFor(ctx, req.GetSetName())
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	n, found, err := s.store.SortedSetLength(ctx, call.cache, call.key)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	if !found {
		return &cachepb.XSortedSetLengthResponse{SortedSet: &cachepb.XSortedSetLengthResponse_Missing{Missing: &cachepb.XSortedSetLengthResponse_XMissing{}}}, nil
	}
	return &cachepb.XSortedSetLengthResponse{SortedSet: &cachepb.XSortedSetLengthResponse_Found{
		Found: &cachepb.XSortedSetLengthResponse_XFound{Length: sortedSetLen(n)},
	}}, nil
}

// SortedSetLengthByScore returns the number of elements with a score in
// the requested range; an unset bound is unbounded.
func (s *CacheService) SortedSetLengthByScore(ctx context.Context, req *cachepb.XSortedSetLengthByScoreRequest) (*cachepb.XSortedSetLengthByScoreResponse, error) {
	resp, err := s.sortedSetLengthByScore(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return resp, nil
}

func (s *CacheService) sortedSetLengthByScore(ctx context.Context, req *cachepb.XSortedSetLengthByScoreRequest) (*cachepb.XSortedSetLengthByScoreResponse, error) {
	call, err := s.collectionFor(ctx, req.GetSetName())
	if err != nil {
		return nil, err
	}
	r := store.ScoreRange{Min: store.ScoreBound{Unbounded: true}, Max: store.ScoreBound{Unbounded: true}}
	switch m := req.GetMin().(type) {
	case *cachepb.XSortedSetLengthByScoreRequest_InclusiveMin:
		r.Min = store.ScoreBound{Score: m.InclusiveMin}
	case *cachepb.XSortedSetLengthByScoreRequest_ExclusiveMin:
		r.Min = store.ScoreBound{Score: m.ExclusiveMin, Exclusive: true}
	}
	switch m := req.GetMax().(type) {
	case *cachepb.XSortedSetLengthByScoreRequest_InclusiveMax:
		r.Max = store.ScoreBound{Score: m.InclusiveMax}
	case *cachepb.XSortedSetLengthByScoreRequest_ExclusiveMax:
		r.Max = store.ScoreBound{Score: m.ExclusiveMax, Exclusive: true}
	}
	if err := sortedSetValidRange(r); err != nil {
		return nil, err
	}
	n, found, err := s.store.SortedSetLengthByScore(ctx, call.cache, call.key, r)
	if err != nil {
		return nil, err
	}
	if !found {
		return &cachepb.XSortedSetLengthByScoreResponse{SortedSet: &cachepb.XSortedSetLengthByScoreResponse_Missing{Missing: &cachepb.XSortedSetLengthByScoreResponse_XMissing{}}}, nil
	}
	return &cachepb.XSortedSetLengthByScoreResponse{SortedSet: &cachepb.XSortedSetLengthByScoreResponse_Found{
		Found: &cachepb.XSortedSetLengthByScoreResponse_XFound{Length: sortedSetLen(n)},
	}}, nil
}

// SortedSetUnionStore replaces a sorted set with the weighted union of
// others in the same cache and returns its length.
func (s *CacheService) SortedSetUnionStore(ctx context.Context, req *cachepb.XSortedSetUnionStoreRequest) (*cachepb.XSortedSetUnionStoreResponse, error) {
	n, err := s.sortedSetUnionStore(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return &cachepb.XSortedSetUnionStoreResponse{Length: sortedSetLen(n)}, nil
}

func (s *CacheService) sortedSetUnionStore(ctx context.Context, req *cachepb.XSortedSetUnionStoreRequest) (int, error) {
	call, err := s.collectionFor(ctx, req.GetSetName())
	if err != nil {
		return 0, err
	}
	// The service refuses a union of nothing [T: JS "errors when no source
	// is provided"], which the SDK does not check.
	if len(req.GetSources()) == 0 {
		return 0, fmt.Errorf("%w: SortedSetUnionStore needs at least one source", errInvalidRequest)
	}
	sources := make([]store.SortedSetSource, len(req.GetSources()))
	for i, src := range req.GetSources() {
		if err := s.limits.CheckKey(src.GetSetName()); err != nil {
			return 0, fmt.Errorf("source %d: %w", i, err)
		}
		if math.IsNaN(float64(src.GetWeight())) {
			return 0, fmt.Errorf("%w: the weight of source %d is NaN", errInvalidRequest, i)
		}
		sources[i] = store.SortedSetSource{Key: src.GetSetName(), Weight: src.GetWeight()}
	}
	var aggregate store.SortedSetAggregate
	switch req.GetAggregate() {
	case cachepb.XSortedSetUnionStoreRequest_SUM:
		aggregate = store.AggregateSum
	case cachepb.XSortedSetUnionStoreRequest_MIN:
		aggregate = store.AggregateMin
	case cachepb.XSortedSetUnionStoreRequest_MAX:
		aggregate = store.AggregateMax
	default:
		return 0, fmt.Errorf("%w: unknown aggregate function %d", errInvalidRequest, req.GetAggregate())
	}
	// The union replaces the destination, which always takes the TTL: the
	// request has no refresh flag.
	w, err := s.collectionWrite(req.GetTtlMilliseconds(), true)
	if err != nil {
		return 0, err
	}
	return s.store.SortedSetUnionStore(ctx, call.cache, call.key, sources, aggregate, w)
}

// sortedSetLen converts a length for a uint32 field, saturating.
func sortedSetLen(n int) uint32 {
	return uint32(min(max(n, 0), math.MaxUint32))
}
