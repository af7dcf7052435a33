package store

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// Leaderboard errors.
var (
	// ErrInvalidLeaderboardName means a leaderboard name is blank, too long
	// or not UTF-8.
	ErrInvalidLeaderboardName = errors.New("store: invalid leaderboard name")
	// ErrScoreNotFinite means a leaderboard score or score bound is NaN or
	// ±Inf, which the service does not take. It wraps ErrInvalidScore.
	ErrScoreNotFinite = fmt.Errorf("%w: leaderboard scores must be finite", ErrInvalidScore)
)

// LeaderboardElement is one element of a leaderboard: an id, unique within
// the leaderboard, and its score.
type LeaderboardElement struct {
	ID    uint32
	Score float64
}

// RankedElement is a leaderboard element with its 0-based rank in the order
// a read asked for.
type RankedElement struct {
	ID    uint32
	Score float64
	Rank  int
}

// LeaderboardStore is implemented by a Store that keeps leaderboards. The
// server serves the leaderboard service only over such a store.
//
// A leaderboard is a named set of ids (uint32) with finite float64 scores,
// in a namespace of its cache apart from the cache's items: a leaderboard
// and an item may share a name. It orders ids by score, ties by id, lowest
// first; Descending is the exact reverse of Ascending, ties included (equal
// scores list the higher id first), so that ordinal ranks in the two orders
// always add up to length-1. The service does not document its tie order;
// this one is what a Redis ZSET gives with ids as 4-byte big-endian members.
// A leaderboard is created by its first upsert and gone when its last element
// is removed or it is deleted; reads of a missing leaderboard see an empty
// one. Leaderboards have no TTL; they go with their cache (DeleteCache) but
// survive FlushCache, which empties the items only (the service documents
// neither; its leaderboards are a service of their own, apart from items).
//
// Every method returns ErrCacheNotFound, wrapped, for a missing cache. The
// gRPC layer validates names, element counts and the span of ranges before
// calling; backends need not.
//
// Redis: one ZSET per leaderboard, members the ids as 4-byte big-endian
// strings (so that bytewise ties are numeric ones), under a key of its own
// namespace in the cache; each method is one command or one script, noted
// beside it.
type LeaderboardStore interface {
	// LeaderboardUpsert sets the score of each id, adding those the
	// leaderboard lacks; when an id occurs more than once the last score
	// wins. A NaN or infinite score is ErrScoreNotFinite and changes
	// nothing. Redis: ZADD.
	LeaderboardUpsert(ctx context.Context, cache, leaderboard string, elements []LeaderboardElement) error

	// LeaderboardRemove removes the listed ids; ids the leaderboard lacks,
	// and a missing leaderboard, are no-ops. Redis: ZREM.
	LeaderboardRemove(ctx context.Context, cache, leaderboard string, ids []uint32) error

	// LeaderboardDelete deletes the leaderboard; a missing one is a no-op.
	// Redis: UNLINK.
	LeaderboardDelete(ctx context.Context, cache, leaderboard string) error

	// LeaderboardLength returns the number of ids. Redis: ZCARD.
	LeaderboardLength(ctx context.Context, cache, leaderboard string) (int, error)

	// LeaderboardFetchByRank returns the elements of ranks [start, end) in
	// order, each with its rank; ranks beyond the last element select
	// nothing, as does start >= end. Redis: ZRANGE start end-1 [REV]
	// WITHSCORES.
	LeaderboardFetchByRank(ctx context.Context, cache, leaderboard string, start, end int, order SortedSetOrder) ([]RankedElement, error)

	// LeaderboardFetchByScore returns the elements whose score lies in r,
	// in order, skipping the first offset of them and returning at most
	// count, each with its rank in the whole leaderboard (not in r). A
	// bound that is NaN or infinite is ErrScoreNotFinite. Redis, in one
	// script: ZRANGE BYSCORE [REV] LIMIT offset count WITHSCORES, and ZRANK
	// or ZREVRANK of the first element returned.
	LeaderboardFetchByScore(ctx context.Context, cache, leaderboard string, r ScoreRange, order SortedSetOrder, offset, count int) ([]RankedElement, error)

	// LeaderboardGetRank returns, in the order of ids, each listed id the
	// leaderboard holds with its score and ordinal rank; ids it lacks are
	// left out, and an id listed twice is answered twice. Redis, in one
	// script: ZSCORE and ZRANK or ZREVRANK per id.
	LeaderboardGetRank(ctx context.Context, cache, leaderboard string, ids []uint32, order SortedSetOrder) ([]RankedElement, error)

	// LeaderboardGetCompetitionRank is LeaderboardGetRank with competition
	// ranks: an id's rank is the number of elements whose score is strictly
	// better (lower when Ascending, higher when Descending), so tied scores
	// share a rank and the next score skips as many ranks as tied ("1224").
	// Redis, in one script: ZSCORE, then ZCOUNT key -inf (score, or ZCOUNT
	// key (score +inf, per id.
	LeaderboardGetCompetitionRank(ctx context.Context, cache, leaderboard string, ids []uint32, order SortedSetOrder) ([]RankedElement, error)
}

// CheckLeaderboardName returns ErrInvalidLeaderboardName, wrapped with the
// reason, for a blank, non-UTF-8 or over-long name; leaderboard names share
// the cache names' length limit.
func (l Limits) CheckLeaderboardName(name string) error {
	return checkName(ErrInvalidLeaderboardName, "leaderboard", name, l.WithDefaults().MaxCacheNameLength)
}

// CheckLeaderboardScore returns ErrScoreNotFinite, wrapped with what the
// score is, when score is NaN or infinite.
func CheckLeaderboardScore(what string, score float64) error {
	if math.IsNaN(score) || math.IsInf(score, 0) {
		return fmt.Errorf("%w: %s is %v", ErrScoreNotFinite, what, score)
	}
	return nil
}
