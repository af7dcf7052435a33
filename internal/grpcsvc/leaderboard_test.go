package grpcsvc_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/thaw-dev/thaw/api/commonpb"
	"github.com/thaw-dev/thaw/api/leaderboardpb"
	"github.com/thaw-dev/thaw/internal/grpcsvc"
	"github.com/thaw-dev/thaw/internal/store"
	"github.com/thaw-dev/thaw/internal/store/memory"
)

// newLeaderboardService returns a service over a fresh memory store holding
// cache "c", whose leaderboard "lb" holds the SDKs' eight-element example,
// and a context naming "c".
func newLeaderboardService(t *testing.T) (*grpcsvc.LeaderboardService, context.Context) {
	t.Helper()
	st := memory.New(memory.Config{})
	t.Cleanup(func() { st.Close() })
	if err := st.CreateCache(t.Context(), "c"); err != nil {
		t.Fatal(err)
	}
	svc := grpcsvc.NewLeaderboardService(st, store.Limits{})
	ctx := metadata.NewIncomingContext(t.Context(), metadata.Pairs(grpcsvc.CacheHeader, "c"))
	if _, err := svc.UpsertElements(ctx, lbUpsert("lb", 123, 10, 234, 100, 345, 250, 456, 500, 567, 750, 678, 1000, 789, 1500, 890, 2000)); err != nil {
		t.Fatalf("UpsertElements(lb) = %v, want nil", err)
	}
	return svc, ctx
}

// lbUpsert builds an upsert of alternating ids and scores.
func lbUpsert(name string, idScores ...float64) *leaderboardpb.XUpsertElementsRequest {
	req := &leaderboardpb.XUpsertElementsRequest{Leaderboard: proto.String(name)}
	for i := 0; i+1 < len(idScores); i += 2 {
		req.Elements = append(req.Elements, &leaderboardpb.XElement{Id: proto.Uint32(uint32(idScores[i])), Score: proto.Float64(idScores[i+1])})
	}
	return req
}

// lbTriple is one ranked element of a response.
type lbTriple struct {
	ID    uint32
	Rank  uint32
	Score float64
}

// lbTriples renders a response's elements as triples after a wire round trip.
func lbTriples(t *testing.T, elements []*leaderboardpb.XRankedElement) []lbTriple {
	t.Helper()
	resp := roundTrip(t, &leaderboardpb.XGetByRankResponse{Elements: elements})
	out := []lbTriple{}
	for _, e := range resp.GetElements() {
		out = append(out, lbTriple{e.GetId(), e.GetRank(), e.GetScore()})
	}
	return out
}

func TestLeaderboardReads(t *testing.T) {
	svc, ctx := newLeaderboardService(t)
	desc := leaderboardpb.XOrder_DESCENDING.Enum()
	asc := leaderboardpb.XOrder_ASCENDING.Enum()
	lb := proto.String("lb")
	tests := []struct {
		name string
		call func() ([]*leaderboardpb.XRankedElement, error)
		want []lbTriple
	}{
		{"GetByScore all options", func() ([]*leaderboardpb.XRankedElement, error) {
			resp, err := svc.GetByScore(ctx, &leaderboardpb.XGetByScoreRequest{
				Leaderboard: lb, Order: desc, Offset: proto.Uint32(2), LimitElements: proto.Uint32(10),
				ScoreRange: &leaderboardpb.XScoreRange{
					Min: &leaderboardpb.XScoreRange_MinInclusive{MinInclusive: 0},
					Max: &leaderboardpb.XScoreRange_MaxExclusive{MaxExclusive: 800},
				},
			})
			return resp.GetElements(), err
		}, []lbTriple{{345, 5, 250}, {234, 6, 100}, {123, 7, 10}}},
		{"GetByScore without a range", func() ([]*leaderboardpb.XRankedElement, error) {
			resp, err := svc.GetByScore(ctx, &leaderboardpb.XGetByScoreRequest{Leaderboard: lb, Offset: proto.Uint32(6), LimitElements: proto.Uint32(8192)})
			return resp.GetElements(), err
		}, []lbTriple{{789, 6, 1500}, {890, 7, 2000}}},
		{"GetByScore unbounded arms", func() ([]*leaderboardpb.XRankedElement, error) {
			resp, err := svc.GetByScore(ctx, &leaderboardpb.XGetByScoreRequest{
				Leaderboard: lb, LimitElements: proto.Uint32(1), Order: desc,
				ScoreRange: &leaderboardpb.XScoreRange{
					Min: &leaderboardpb.XScoreRange_UnboundedMin{UnboundedMin: &commonpb.XUnbounded{}},
					Max: &leaderboardpb.XScoreRange_UnboundedMax{UnboundedMax: &commonpb.XUnbounded{}},
				},
			})
			return resp.GetElements(), err
		}, []lbTriple{{890, 0, 2000}}},
		{"GetByRank descending", func() ([]*leaderboardpb.XRankedElement, error) {
			resp, err := svc.GetByRank(ctx, &leaderboardpb.XGetByRankRequest{Leaderboard: lb, Order: desc,
				RankRange: &leaderboardpb.XRankRange{StartInclusive: proto.Uint32(1), EndExclusive: proto.Uint32(3)}})
			return resp.GetElements(), err
		}, []lbTriple{{789, 1, 1500}, {678, 2, 1000}}},
		{"GetByRank full span past the end", func() ([]*leaderboardpb.XRankedElement, error) {
			resp, err := svc.GetByRank(ctx, &leaderboardpb.XGetByRankRequest{Leaderboard: lb,
				RankRange: &leaderboardpb.XRankRange{StartInclusive: proto.Uint32(7), EndExclusive: proto.Uint32(8199)}})
			return resp.GetElements(), err
		}, []lbTriple{{890, 7, 2000}}},
		{"GetRank skips missing ids", func() ([]*leaderboardpb.XRankedElement, error) {
			resp, err := svc.GetRank(ctx, &leaderboardpb.XGetRankRequest{Leaderboard: lb, Ids: []uint32{890, 1, 123}, Order: desc})
			return resp.GetElements(), err
		}, []lbTriple{{890, 0, 2000}, {123, 7, 10}}},
		{"GetRank of a missing leaderboard", func() ([]*leaderboardpb.XRankedElement, error) {
			resp, err := svc.GetRank(ctx, &leaderboardpb.XGetRankRequest{Leaderboard: proto.String("none"), Ids: []uint32{123}})
			return resp.GetElements(), err
		}, []lbTriple{}},
		{"GetCompetitionRank defaults to descending", func() ([]*leaderboardpb.XRankedElement, error) {
			resp, err := svc.GetCompetitionRank(ctx, &leaderboardpb.XGetCompetitionRankRequest{Leaderboard: lb, Ids: []uint32{890}})
			return resp.GetElements(), err
		}, []lbTriple{{890, 0, 2000}}},
		{"GetCompetitionRank ascending", func() ([]*leaderboardpb.XRankedElement, error) {
			resp, err := svc.GetCompetitionRank(ctx, &leaderboardpb.XGetCompetitionRankRequest{Leaderboard: lb, Ids: []uint32{890}, Order: asc})
			return resp.GetElements(), err
		}, []lbTriple{{890, 7, 2000}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			elements, err := tt.call()
			if err != nil {
				t.Fatalf("%s = %v, want nil", tt.name, err)
			}
			if diff := cmp.Diff(tt.want, lbTriples(t, elements)); diff != "" {
				t.Errorf("%s: elements (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

func TestLeaderboardWritesAndLength(t *testing.T) {
	svc, ctx := newLeaderboardService(t)
	length := func() uint32 {
		t.Helper()
		resp, err := svc.GetLeaderboardLength(ctx, &leaderboardpb.XGetLeaderboardLengthRequest{Leaderboard: proto.String("lb")})
		if err != nil {
			t.Fatalf("GetLeaderboardLength(lb) = %v, want nil", err)
		}
		return resp.GetCount()
	}
	if got := length(); got != 8 {
		t.Errorf("GetLeaderboardLength(lb) = %d, want 8", got)
	}
	if _, err := svc.RemoveElements(ctx, &leaderboardpb.XRemoveElementsRequest{Leaderboard: proto.String("lb"), Ids: []uint32{123, 4}}); err != nil {
		t.Fatalf("RemoveElements(lb) = %v, want nil", err)
	}
	if got := length(); got != 7 {
		t.Errorf("GetLeaderboardLength(lb) after remove = %d, want 7", got)
	}
	for range 2 { // deleting again is a no-op
		if _, err := svc.DeleteLeaderboard(ctx, &leaderboardpb.XDeleteLeaderboardRequest{Leaderboard: proto.String("lb")}); err != nil {
			t.Fatalf("DeleteLeaderboard(lb) = %v, want nil", err)
		}
	}
	if got := length(); got != 0 {
		t.Errorf("GetLeaderboardLength(lb) after delete = %d, want 0", got)
	}
}

func TestLeaderboardErrors(t *testing.T) {
	svc, ctx := newLeaderboardService(t)
	noCache := metadata.NewIncomingContext(t.Context(), metadata.Pairs(grpcsvc.CacheHeader, "missing"))
	lb := proto.String("lb")
	rank := func(start, end uint32) *leaderboardpb.XGetByRankRequest {
		return &leaderboardpb.XGetByRankRequest{Leaderboard: lb, RankRange: &leaderboardpb.XRankRange{StartInclusive: proto.Uint32(start), EndExclusive: proto.Uint32(end)}}
	}
	byScore := func(min, max float64, limit uint32) *leaderboardpb.XGetByScoreRequest {
		return &leaderboardpb.XGetByScoreRequest{Leaderboard: lb, LimitElements: proto.Uint32(limit), ScoreRange: &leaderboardpb.XScoreRange{
			Min: &leaderboardpb.XScoreRange_MinInclusive{MinInclusive: min},
			Max: &leaderboardpb.XScoreRange_MaxExclusive{MaxExclusive: max},
		}}
	}
	many := make([]uint32, grpcsvc.MaxLeaderboardBatch+1)
	for i := range many {
		many[i] = uint32(i)
	}
	tooManyElements := lbUpsert("lb")
	for i := range grpcsvc.MaxLeaderboardBatch + 1 {
		tooManyElements.Elements = append(tooManyElements.Elements, &leaderboardpb.XElement{Id: proto.Uint32(uint32(i)), Score: proto.Float64(1)})
	}
	tests := []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"upsert no elements", func() error { _, err := svc.UpsertElements(ctx, lbUpsert("lb")); return err }, codes.InvalidArgument},
		{"upsert too many elements", func() error { _, err := svc.UpsertElements(ctx, tooManyElements); return err }, codes.InvalidArgument},
		{"upsert NaN", func() error { _, err := svc.UpsertElements(ctx, lbUpsert("lb", 1, math.NaN())); return err }, codes.InvalidArgument},
		{"upsert +Inf", func() error { _, err := svc.UpsertElements(ctx, lbUpsert("lb", 1, math.Inf(1))); return err }, codes.InvalidArgument},
		{"upsert blank name", func() error { _, err := svc.UpsertElements(ctx, lbUpsert("  ", 1, 1)); return err }, codes.InvalidArgument},
		{"upsert name not UTF-8", func() error { _, err := svc.UpsertElements(ctx, lbUpsert("\xff", 1, 1)); return err }, codes.InvalidArgument},
		{"upsert name too long", func() error { _, err := svc.UpsertElements(ctx, lbUpsert(strings.Repeat("n", 4096), 1, 1)); return err }, codes.InvalidArgument},
		{"upsert unknown cache", func() error { _, err := svc.UpsertElements(noCache, lbUpsert("lb", 1, 1)); return err }, codes.NotFound},
		{"upsert no cache header", func() error { _, err := svc.UpsertElements(t.Context(), lbUpsert("lb", 1, 1)); return err }, codes.InvalidArgument},
		{"remove no ids", func() error {
			_, err := svc.RemoveElements(ctx, &leaderboardpb.XRemoveElementsRequest{Leaderboard: lb})
			return err
		}, codes.InvalidArgument},
		{"remove too many ids", func() error {
			_, err := svc.RemoveElements(ctx, &leaderboardpb.XRemoveElementsRequest{Leaderboard: lb, Ids: many})
			return err
		}, codes.InvalidArgument},
		{"rank range empty", func() error { _, err := svc.GetByRank(ctx, rank(0, 0)); return err }, codes.InvalidArgument},
		{"rank range unset", func() error {
			_, err := svc.GetByRank(ctx, &leaderboardpb.XGetByRankRequest{Leaderboard: lb})
			return err
		}, codes.InvalidArgument},
		{"rank range inverted", func() error { _, err := svc.GetByRank(ctx, rank(10, 5)); return err }, codes.InvalidArgument},
		{"rank range over 8192", func() error { _, err := svc.GetByRank(ctx, rank(0, 8193)); return err }, codes.InvalidArgument},
		{"rank range over 8192 later", func() error { _, err := svc.GetByRank(ctx, rank(123, 8316)); return err }, codes.InvalidArgument},
		{"score min above max", func() error { _, err := svc.GetByScore(ctx, byScore(100, 50, 10)); return err }, codes.InvalidArgument},
		{"score bound NaN", func() error { _, err := svc.GetByScore(ctx, byScore(math.NaN(), 50, 10)); return err }, codes.InvalidArgument},
		{"score bound -Inf", func() error { _, err := svc.GetByScore(ctx, byScore(math.Inf(-1), 50, 10)); return err }, codes.InvalidArgument},
		{"score limit 0", func() error { _, err := svc.GetByScore(ctx, byScore(0, 50, 0)); return err }, codes.InvalidArgument},
		{"score limit over 8192", func() error { _, err := svc.GetByScore(ctx, byScore(0, 50, 8193)); return err }, codes.InvalidArgument},
		{"get rank too many ids", func() error {
			_, err := svc.GetRank(ctx, &leaderboardpb.XGetRankRequest{Leaderboard: lb, Ids: many})
			return err
		}, codes.InvalidArgument},
		{"competition rank too many ids", func() error {
			_, err := svc.GetCompetitionRank(ctx, &leaderboardpb.XGetCompetitionRankRequest{Leaderboard: lb, Ids: many})
			return err
		}, codes.InvalidArgument},
		{"length unknown cache", func() error {
			_, err := svc.GetLeaderboardLength(noCache, &leaderboardpb.XGetLeaderboardLengthRequest{Leaderboard: lb})
			return err
		}, codes.NotFound},
		{"delete blank name", func() error {
			_, err := svc.DeleteLeaderboard(ctx, &leaderboardpb.XDeleteLeaderboardRequest{Leaderboard: proto.String("")})
			return err
		}, codes.InvalidArgument},
		// The limits are inclusive.
		{"rank range of exactly 8192", func() error { _, err := svc.GetByRank(ctx, rank(123, 8315)); return err }, codes.OK},
		{"score limit 8192", func() error { _, err := svc.GetByScore(ctx, byScore(0, 0, 8192)); return err }, codes.OK},
		{"get rank of no ids", func() error {
			_, err := svc.GetRank(ctx, &leaderboardpb.XGetRankRequest{Leaderboard: lb})
			return err
		}, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if got := status.Code(err); got != tt.want {
				t.Errorf("%s = %v (%v), want %v", tt.name, got, err, tt.want)
			}
		})
	}
	// Nothing refused changed the leaderboard.
	resp, err := svc.GetLeaderboardLength(ctx, &leaderboardpb.XGetLeaderboardLengthRequest{Leaderboard: lb})
	if err != nil || resp.GetCount() != 8 {
		t.Errorf("GetLeaderboardLength(lb) = %d, %v; want 8, nil", resp.GetCount(), err)
	}
}

// itemsOnly is a Store that keeps no leaderboards: it hides the memory
// store's leaderboard methods.
type itemsOnly struct{ store.Store }

func TestLeaderboardWithoutLeaderboardStore(t *testing.T) {
	st := memory.New(memory.Config{})
	t.Cleanup(func() { st.Close() })
	svc := grpcsvc.NewLeaderboardService(itemsOnly{st}, store.Limits{})
	ctx := metadata.NewIncomingContext(t.Context(), metadata.Pairs(grpcsvc.CacheHeader, "c"))
	_, err := svc.UpsertElements(ctx, lbUpsert("lb", 1, 1))
	if got := status.Code(err); got != codes.Unimplemented {
		t.Errorf("UpsertElements over a store without leaderboards = %v (%v), want Unimplemented", got, err)
	}
}
