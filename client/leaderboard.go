package client

import (
	"context"
	"math"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/thaw-dev/thaw/api/commonpb"
	"github.com/thaw-dev/thaw/api/leaderboardpb"
)

// Leaderboards: named rankings of ids (uint32) by finite float64 scores, in a
// cache but apart from its items (service leaderboard.Leaderboard). An id
// holds one score; ranks count from 0 in the chosen order, ties ordered by
// id (lowest first when Ascending, the exact reverse when Descending). A
// missing leaderboard reads as empty, and removing from or deleting one
// succeeds. One call takes or returns at most MaxLeaderboardBatch elements;
// the server answers larger requests, NaN or infinite scores, blank names
// and empty rank ranges with ErrInvalidArgument, and a missing cache with
// ErrCacheNotFound.

// MaxLeaderboardBatch is the most elements one leaderboard call takes or
// returns: upserted elements, removed or ranked ids, the span of a rank range
// and the count of a score fetch.
const MaxLeaderboardBatch = 8192

// LeaderboardElement is an id of a leaderboard with its score.
type LeaderboardElement struct {
	ID    uint32
	Score float64
}

// RankedElement is a leaderboard element with its rank in the order the call
// asked for.
type RankedElement struct {
	ID    uint32
	Score float64
	Rank  int
}

// LeaderboardScoreQuery selects elements of a leaderboard by score for
// LeaderboardFetchByScore. The zero LeaderboardScoreQuery returns the first
// MaxLeaderboardBatch elements in ascending order.
type LeaderboardScoreQuery struct {
	// Min is the lowest score selected (inclusive); nil leaves the range
	// open below.
	Min *float64
	// Max is the score the range stops before (exclusive); nil leaves the
	// range open above. Min above Max is ErrInvalidArgument; Min equal to
	// Max selects nothing.
	Max *float64
	// Order is the order of the result, applied before Offset and Count.
	Order SortOrder
	// Offset is the number of matching elements to skip, for paging; it
	// must not be negative. Default 0.
	Offset int
	// Count is the largest number of elements to return, at most
	// MaxLeaderboardBatch; zero means MaxLeaderboardBatch, as in the other
	// SDKs, and a negative Count is ErrInvalidArgument.
	Count int
}

// leaderboardOrder converts an order to the wire.
func leaderboardOrder(o SortOrder) *leaderboardpb.XOrder {
	if o == Descending {
		return leaderboardpb.XOrder_DESCENDING.Enum()
	}
	return leaderboardpb.XOrder_ASCENDING.Enum()
}

// rankedElements converts a response's elements.
func rankedElements(in []*leaderboardpb.XRankedElement) []RankedElement {
	out := make([]RankedElement, len(in))
	for i, e := range in {
		out[i] = RankedElement{ID: e.GetId(), Score: e.GetScore(), Rank: int(e.GetRank())}
	}
	return out
}

// LeaderboardUpsert sets the score of each id, adding the ids the
// leaderboard lacks and creating it when missing; all or nothing. When an id
// occurs more than once, its last score wins. Retried: upserting the same
// scores twice leaves the same leaderboard.
func (c *Client) LeaderboardUpsert(ctx context.Context, cache, leaderboard string, elements []LeaderboardElement) error {
	req := &leaderboardpb.XUpsertElementsRequest{Leaderboard: proto.String(leaderboard), Elements: make([]*leaderboardpb.XElement, len(elements))}
	for i, e := range elements {
		req.Elements[i] = &leaderboardpb.XElement{Id: proto.Uint32(e.ID), Score: proto.Float64(e.Score)}
	}
	_, err := invoke(ctx, c, rpcLeaderboardUpsert, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*commonpb.XEmpty, error) {
		return ch.leaderboard.UpsertElements(ctx, req, opts...)
	})
	return err
}

// LeaderboardFetchByRank returns the elements of ranks [start, end) in
// order, each with its rank. The range must not be empty nor span more than
// MaxLeaderboardBatch ranks; ranks past the last element select nothing.
func (c *Client) LeaderboardFetchByRank(ctx context.Context, cache, leaderboard string, start, end int, order SortOrder) ([]RankedElement, error) {
	const op = "LeaderboardFetchByRank"
	if start < 0 || end < 0 || start > math.MaxUint32 || end > math.MaxUint32 {
		return nil, invalidArgument(op, "ranks must be 0 to %d, got [%d, %d)", uint32(math.MaxUint32), start, end)
	}
	req := &leaderboardpb.XGetByRankRequest{
		Leaderboard: proto.String(leaderboard),
		RankRange:   &leaderboardpb.XRankRange{StartInclusive: proto.Uint32(uint32(start)), EndExclusive: proto.Uint32(uint32(end))},
		Order:       leaderboardOrder(order),
	}
	resp, err := invoke(ctx, c, rpcLeaderboardFetchByRank, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*leaderboardpb.XGetByRankResponse, error) {
		return ch.leaderboard.GetByRank(ctx, req, opts...)
	})
	if err != nil {
		return nil, err
	}
	return rankedElements(resp.GetElements()), nil
}

// LeaderboardFetchByScore returns the elements whose score q selects, in
// q.Order, after q.Offset of them and at most q.Count, each with its rank in
// the whole leaderboard.
func (c *Client) LeaderboardFetchByScore(ctx context.Context, cache, leaderboard string, q LeaderboardScoreQuery) ([]RankedElement, error) {
	const op = "LeaderboardFetchByScore"
	count := q.Count
	if count == 0 {
		count = MaxLeaderboardBatch
	}
	if q.Offset < 0 || q.Offset > math.MaxUint32 || count < 0 || count > math.MaxUint32 {
		return nil, invalidArgument(op, "offset %d and count %d must be 0 to %d", q.Offset, q.Count, uint32(math.MaxUint32))
	}
	r := &leaderboardpb.XScoreRange{
		Min: &leaderboardpb.XScoreRange_UnboundedMin{UnboundedMin: &commonpb.XUnbounded{}},
		Max: &leaderboardpb.XScoreRange_UnboundedMax{UnboundedMax: &commonpb.XUnbounded{}},
	}
	if q.Min != nil {
		r.Min = &leaderboardpb.XScoreRange_MinInclusive{MinInclusive: *q.Min}
	}
	if q.Max != nil {
		r.Max = &leaderboardpb.XScoreRange_MaxExclusive{MaxExclusive: *q.Max}
	}
	req := &leaderboardpb.XGetByScoreRequest{
		Leaderboard:   proto.String(leaderboard),
		ScoreRange:    r,
		Offset:        proto.Uint32(uint32(q.Offset)),
		LimitElements: proto.Uint32(uint32(count)),
		Order:         leaderboardOrder(q.Order),
	}
	resp, err := invoke(ctx, c, rpcLeaderboardFetchByScore, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*leaderboardpb.XGetByScoreResponse, error) {
		return ch.leaderboard.GetByScore(ctx, req, opts...)
	})
	if err != nil {
		return nil, err
	}
	return rankedElements(resp.GetElements()), nil
}

// LeaderboardGetRank returns the ordinal rank and score of each listed id the
// leaderboard holds, in the order of ids; ids it lacks are left out.
func (c *Client) LeaderboardGetRank(ctx context.Context, cache, leaderboard string, ids []uint32, order SortOrder) ([]RankedElement, error) {
	req := &leaderboardpb.XGetRankRequest{Leaderboard: proto.String(leaderboard), Ids: ids, Order: leaderboardOrder(order)}
	resp, err := invoke(ctx, c, rpcLeaderboardGetRank, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*leaderboardpb.XGetRankResponse, error) {
		return ch.leaderboard.GetRank(ctx, req, opts...)
	})
	if err != nil {
		return nil, err
	}
	return rankedElements(resp.GetElements()), nil
}

// LeaderboardGetCompetitionRank is LeaderboardGetRank with competition ranks:
// an id's rank is the number of elements with a strictly better score, so
// tied scores share a rank ("1224"). The service's default order is
// Descending (the highest score ranks 0); pass it explicitly.
func (c *Client) LeaderboardGetCompetitionRank(ctx context.Context, cache, leaderboard string, ids []uint32, order SortOrder) ([]RankedElement, error) {
	req := &leaderboardpb.XGetCompetitionRankRequest{Leaderboard: proto.String(leaderboard), Ids: ids, Order: leaderboardOrder(order)}
	resp, err := invoke(ctx, c, rpcLeaderboardGetCompetitionRank, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*leaderboardpb.XGetCompetitionRankResponse, error) {
		return ch.leaderboard.GetCompetitionRank(ctx, req, opts...)
	})
	if err != nil {
		return nil, err
	}
	return rankedElements(resp.GetElements()), nil
}

// LeaderboardLength returns the number of ids in the leaderboard; 0 when it
// is missing.
func (c *Client) LeaderboardLength(ctx context.Context, cache, leaderboard string) (int, error) {
	req := &leaderboardpb.XGetLeaderboardLengthRequest{Leaderboard: proto.String(leaderboard)}
	resp, err := invoke(ctx, c, rpcLeaderboardLength, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*leaderboardpb.XGetLeaderboardLengthResponse, error) {
		return ch.leaderboard.GetLeaderboardLength(ctx, req, opts...)
	})
	if err != nil {
		return 0, err
	}
	return int(resp.GetCount()), nil
}

// LeaderboardRemoveElements removes the listed ids (at least one); ids the
// leaderboard lacks are no-ops.
func (c *Client) LeaderboardRemoveElements(ctx context.Context, cache, leaderboard string, ids []uint32) error {
	req := &leaderboardpb.XRemoveElementsRequest{Leaderboard: proto.String(leaderboard), Ids: ids}
	_, err := invoke(ctx, c, rpcLeaderboardRemoveElements, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*commonpb.XEmpty, error) {
		return ch.leaderboard.RemoveElements(ctx, req, opts...)
	})
	return err
}

// LeaderboardDelete deletes the leaderboard; a missing one is no error.
func (c *Client) LeaderboardDelete(ctx context.Context, cache, leaderboard string) error {
	req := &leaderboardpb.XDeleteLeaderboardRequest{Leaderboard: proto.String(leaderboard)}
	_, err := invoke(ctx, c, rpcLeaderboardDelete, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*commonpb.XEmpty, error) {
		return ch.leaderboard.DeleteLeaderboard(ctx, req, opts...)
	})
	return err
}
