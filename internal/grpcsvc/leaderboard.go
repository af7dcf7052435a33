package grpcsvc

import (
	"context"
	"fmt"
	"math"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/thaw-dev/thaw/api/commonpb"
	"github.com/thaw-dev/thaw/api/leaderboardpb"
	"github.com/thaw-dev/thaw/internal/store"
)

// MaxLeaderboardBatch is the most elements one leaderboard call takes or
// returns: the elements of an upsert, the ids of a remove or rank lookup,
// the span of a rank range and the limit of a score fetch. Larger requests
// are INVALID_ARGUMENT, as the service answers them.
const MaxLeaderboardBatch = 8192

// LeaderboardService implements leaderboard.Leaderboard on a store that
// keeps leaderboards. The cache travels in the "cache" metadata header, as
// on the data plane; the body names the leaderboard.
//
// Requests are checked here, the store's contract being the order and the
// ranks: a blank, non-UTF-8 or over-long leaderboard name, a NaN or infinite
// score or bound, an empty upsert or remove, more than MaxLeaderboardBatch
// elements or ids, a rank range that is empty, inverted or spans more than
// MaxLeaderboardBatch ranks, a score range whose minimum is above its
// maximum, and a limit of 0 or above MaxLeaderboardBatch are all
// INVALID_ARGUMENT. Reads of a missing leaderboard answer empty, and removing
// from or deleting one succeeds, as the service does.
type LeaderboardService struct {
	leaderboardpb.UnimplementedLeaderboardServer
	store  store.LeaderboardStore // nil when the backend keeps no leaderboards
	limits store.Limits
}

// NewLeaderboardService returns the leaderboard service over st, enforcing
// limits. When st does not implement store.LeaderboardStore every method
// answers UNIMPLEMENTED.
func NewLeaderboardService(st store.Store, limits store.Limits) *LeaderboardService {
	lb, _ := st.(store.LeaderboardStore)
	return &LeaderboardService{store: lb, limits: limits.WithDefaults()}
}

// errNoLeaderboards answers every call when the backend keeps no leaderboards.
var errNoLeaderboards = status.Error(codes.Unimplemented, "grpcsvc: this server's store does not keep leaderboards")

// leaderboardFor validates the store, the cache header and the leaderboard
// name of a call and returns the cache.
func (s *LeaderboardService) leaderboardFor(ctx context.Context, name string) (string, error) {
	if s.store == nil {
		return "", errNoLeaderboards
	}
	cache := CacheName(ctx)
	if err := s.limits.CheckCacheName(cache); err != nil {
		return "", fmt.Errorf("metadata header %q: %w", CacheHeader, err)
	}
	if err := s.limits.CheckLeaderboardName(name); err != nil {
		return "", err
	}
	return cache, nil
}

// leaderboardOrder converts a request's order.
func leaderboardOrder(o leaderboardpb.XOrder) store.SortedSetOrder {
	if o == leaderboardpb.XOrder_DESCENDING {
		return store.Descending
	}
	return store.Ascending
}

// checkBatch refuses more than MaxLeaderboardBatch things, and none at all
// unless allowEmpty.
func checkBatch(what string, n int, allowEmpty bool) error {
	switch {
	case n == 0 && !allowEmpty:
		return fmt.Errorf("%w: must provide at least one %s", errInvalidRequest, what)
	case n > MaxLeaderboardBatch:
		return fmt.Errorf("%w: %d %ss, the limit is %d per call", errInvalidRequest, n, what, MaxLeaderboardBatch)
	}
	return nil
}

// rankedElements converts store results to the wire.
func rankedElements(in []store.RankedElement) []*leaderboardpb.XRankedElement {
	out := make([]*leaderboardpb.XRankedElement, len(in))
	for i, e := range in {
		out[i] = &leaderboardpb.XRankedElement{Id: proto.Uint32(e.ID), Rank: proto.Uint32(uint32(e.Rank)), Score: proto.Float64(e.Score)}
	}
	return out
}

// DeleteLeaderboard deletes a leaderboard.
func (s *LeaderboardService) DeleteLeaderboard(ctx context.Context, req *leaderboardpb.XDeleteLeaderboardRequest) (*commonpb.XEmpty, error) {
	cache, err := s.leaderboardFor(ctx, req.GetLeaderboard())
	if err == nil {
		err = s.store.LeaderboardDelete(ctx, cache, req.GetLeaderboard())
	}
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return &commonpb.XEmpty{}, nil
}

// UpsertElements sets the scores of ids, all or nothing.
func (s *LeaderboardService) UpsertElements(ctx context.Context, req *leaderboardpb.XUpsertElementsRequest) (*commonpb.XEmpty, error) {
	if err := s.upsertElements(ctx, req); err != nil {
		return nil, toStatus(ctx, err)
	}
	return &commonpb.XEmpty{}, nil
}

func (s *LeaderboardService) upsertElements(ctx context.Context, req *leaderboardpb.XUpsertElementsRequest) error {
	cache, err := s.leaderboardFor(ctx, req.GetLeaderboard())
	if err != nil {
		return err
	}
	if err := checkBatch("element", len(req.GetElements()), false); err != nil {
		return err
	}
	elements := make([]store.LeaderboardElement, len(req.GetElements()))
	for i, e := range req.GetElements() {
		if err := store.CheckLeaderboardScore(fmt.Sprintf("the score of id %d", e.GetId()), e.GetScore()); err != nil {
			return err
		}
		elements[i] = store.LeaderboardElement{ID: e.GetId(), Score: e.GetScore()}
	}
	return s.store.LeaderboardUpsert(ctx, cache, req.GetLeaderboard(), elements)
}

// RemoveElements removes ids from a leaderboard.
func (s *LeaderboardService) RemoveElements(ctx context.Context, req *leaderboardpb.XRemoveElementsRequest) (*commonpb.XEmpty, error) {
	cache, err := s.leaderboardFor(ctx, req.GetLeaderboard())
	if err == nil {
		err = checkBatch("id", len(req.GetIds()), false)
	}
	if err == nil {
		err = s.store.LeaderboardRemove(ctx, cache, req.GetLeaderboard(), req.GetIds())
	}
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return &commonpb.XEmpty{}, nil
}

// GetLeaderboardLength counts a leaderboard's ids.
func (s *LeaderboardService) GetLeaderboardLength(ctx context.Context, req *leaderboardpb.XGetLeaderboardLengthRequest) (*leaderboardpb.XGetLeaderboardLengthResponse, error) {
	cache, err := s.leaderboardFor(ctx, req.GetLeaderboard())
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	n, err := s.store.LeaderboardLength(ctx, cache, req.GetLeaderboard())
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return &leaderboardpb.XGetLeaderboardLengthResponse{Count: proto.Uint32(uint32(min(n, math.MaxUint32)))}, nil
}

// GetByRank returns the elements of a rank range.
func (s *LeaderboardService) GetByRank(ctx context.Context, req *leaderboardpb.XGetByRankRequest) (*leaderboardpb.XGetByRankResponse, error) {
	elements, err := s.getByRank(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return &leaderboardpb.XGetByRankResponse{Elements: rankedElements(elements)}, nil
}

func (s *LeaderboardService) getByRank(ctx context.Context, req *leaderboardpb.XGetByRankRequest) ([]store.RankedElement, error) {
	cache, err := s.leaderboardFor(ctx, req.GetLeaderboard())
	if err != nil {
		return nil, err
	}
	start, end := req.GetRankRange().GetStartInclusive(), req.GetRankRange().GetEndExclusive()
	switch {
	case start >= end:
		return nil, fmt.Errorf("%w: rank range [%d, %d) is empty: the start must be below the end", errInvalidRequest, start, end)
	case end-start > MaxLeaderboardBatch:
		return nil, fmt.Errorf("%w: rank range [%d, %d) spans %d ranks, the limit is %d", errInvalidRequest, start, end, end-start, MaxLeaderboardBatch)
	}
	return s.store.LeaderboardFetchByRank(ctx, cache, req.GetLeaderboard(), int(start), int(end), leaderboardOrder(req.GetOrder()))
}

// GetByScore returns the elements of a score range, paged by offset and limit.
func (s *LeaderboardService) GetByScore(ctx context.Context, req *leaderboardpb.XGetByScoreRequest) (*leaderboardpb.XGetByScoreResponse, error) {
	elements, err := s.getByScore(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return &leaderboardpb.XGetByScoreResponse{Elements: rankedElements(elements)}, nil
}

func (s *LeaderboardService) getByScore(ctx context.Context, req *leaderboardpb.XGetByScoreRequest) ([]store.RankedElement, error) {
	cache, err := s.leaderboardFor(ctx, req.GetLeaderboard())
	if err != nil {
		return nil, err
	}
	r, err := leaderboardScoreRange(req.GetScoreRange())
	if err != nil {
		return nil, err
	}
	limit := req.GetLimitElements()
	if limit == 0 || limit > MaxLeaderboardBatch {
		return nil, fmt.Errorf("%w: limit_elements is %d, it must be 1 to %d", errInvalidRequest, limit, MaxLeaderboardBatch)
	}
	return s.store.LeaderboardFetchByScore(ctx, cache, req.GetLeaderboard(), r, leaderboardOrder(req.GetOrder()), int(req.GetOffset()), int(limit))
}

// leaderboardScoreRange converts a score range: [min_inclusive,
// max_exclusive), an unset or unbounded end being open.
func leaderboardScoreRange(sr *leaderboardpb.XScoreRange) (store.ScoreRange, error) {
	r := store.ScoreRange{Min: store.ScoreBound{Unbounded: true}, Max: store.ScoreBound{Unbounded: true}}
	if m, ok := sr.GetMin().(*leaderboardpb.XScoreRange_MinInclusive); ok {
		if err := store.CheckLeaderboardScore("min_inclusive", m.MinInclusive); err != nil {
			return r, err
		}
		r.Min = store.ScoreBound{Score: m.MinInclusive}
	}
	if m, ok := sr.GetMax().(*leaderboardpb.XScoreRange_MaxExclusive); ok {
		if err := store.CheckLeaderboardScore("max_exclusive", m.MaxExclusive); err != nil {
			return r, err
		}
		r.Max = store.ScoreBound{Score: m.MaxExclusive, Exclusive: true}
	}
	if !r.Min.Unbounded && !r.Max.Unbounded && r.Min.Score > r.Max.Score {
		return r, fmt.Errorf("%w: min_inclusive %v is above max_exclusive %v", errInvalidRequest, r.Min.Score, r.Max.Score)
	}
	return r, nil
}

// GetRank returns the ordinal ranks of ids.
func (s *LeaderboardService) GetRank(ctx context.Context, req *leaderboardpb.XGetRankRequest) (*leaderboardpb.XGetRankResponse, error) {
	elements, err := s.ranks(ctx, req.GetLeaderboard(), req.GetIds(), leaderboardOrder(req.GetOrder()), false)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return &leaderboardpb.XGetRankResponse{Elements: rankedElements(elements)}, nil
}

// GetCompetitionRank returns the competition ranks of ids; the order
// defaults to descending.
func (s *LeaderboardService) GetCompetitionRank(ctx context.Context, req *leaderboardpb.XGetCompetitionRankRequest) (*leaderboardpb.XGetCompetitionRankResponse, error) {
	order := store.Descending
	if req.Order != nil {
		order = leaderboardOrder(req.GetOrder())
	}
	elements, err := s.ranks(ctx, req.GetLeaderboard(), req.GetIds(), order, true)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return &leaderboardpb.XGetCompetitionRankResponse{Elements: rankedElements(elements)}, nil
}

// ranks answers a rank lookup, ordinal or competition. No ids answer no
// elements.
func (s *LeaderboardService) ranks(ctx context.Context, name string, ids []uint32, order store.SortedSetOrder, competition bool) ([]store.RankedElement, error) {
	cache, err := s.leaderboardFor(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := checkBatch("id", len(ids), true); err != nil {
		return nil, err
	}
	if competition {
		return s.store.LeaderboardGetCompetitionRank(ctx, cache, name, ids, order)
	}
	return s.store.LeaderboardGetRank(ctx, cache, name, ids, order)
}
