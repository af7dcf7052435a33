package redis

import (
	"errors"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/internal/store"
)

func mustUpsertBoard(t *testing.T, s *Store, cache, board string, elements ...store.LeaderboardElement) {
	t.Helper()
	if err := s.LeaderboardUpsert(t.Context(), cache, board, elements); err != nil {
		t.Fatalf("LeaderboardUpsert(%q, %q) = %v, want nil", cache, board, err)
	}
}

func checkBoardLength(t *testing.T, s *Store, cache, board string, want int) {
	t.Helper()
	if got, err := s.LeaderboardLength(t.Context(), cache, board); err != nil || got != want {
		t.Errorf("LeaderboardLength(%q, %q) = %d, %v; want %d, nil", cache, board, got, err, want)
	}
}

// TestLeaderboardKeysOutliveFlushAndGoWithDelete checks the key layout of
// leaderboards: apart from the items' key space, kept by a flush and its
// sweep, removed by the sweep of a delete.
func TestLeaderboardKeysOutliveFlushAndGoWithDelete(t *testing.T) {
	s := openStore(t, Config{})
	ctx := t.Context()
	mustCreate(t, s, "c}")
	ref := s.reg.Load().refs["c}"]
	mustUpsertBoard(t, s, "c}", "b}", store.LeaderboardElement{ID: 1, Score: 1}, store.LeaderboardElement{ID: 2, Score: 2})
	mustSet(t, s, "c}", []byte("b}"), []byte("item"))

	board, index, _ := ref.leaderboardKeys("b}")
	if got := rawKeys(t, s, globEscape(ref.boards)+"*"); len(got) != 2 {
		t.Errorf("leaderboard keys = %q, want %q and %q", got, board, index)
	}
	if got := rawKeys(t, s, globEscape(ref.prefix)+"*"); len(got) != 1 {
		t.Errorf("item keys = %q, want the item only", got)
	}

	if err := s.FlushCache(ctx, "c}"); err != nil {
		t.Fatalf("FlushCache() = %v", err)
	}
	waitSweeps(t, s)
	checkGet(t, s, "c}", []byte("b}"), nil)
	checkBoardLength(t, s, "c}", "b}", 2)
	if got := s.reg.Load().refs["c}"]; got.gen != ref.gen || got.epoch == ref.epoch {
		t.Errorf("after the flush, epoch %d generation %d; want a new epoch and generation %d", got.epoch, got.gen, ref.gen)
	}

	if err := s.DeleteCache(ctx, "c}"); err != nil {
		t.Fatalf("DeleteCache() = %v", err)
	}
	waitSweeps(t, s)
	if got := rawKeys(t, s, globEscape(ref.boards+leaderboardBoard)+"*"); len(got) != 0 {
		t.Errorf("leaderboards left after the delete's sweep: %q", got)
	}
	if got := rawKeys(t, s, globEscape(index)); len(got) != 0 {
		t.Errorf("index left after the delete's sweep: %q", got)
	}
	members, err := s.client.Do(ctx, s.client.B().Smembers().Key(s.keys.sweep).Build()).AsStrSlice()
	if err != nil || len(members) != 0 {
		t.Errorf("sweep set after the sweeps = %q, %v; want empty", members, err)
	}
	mustCreate(t, s, "c}")
	checkBoardLength(t, s, "c}", "b}", 0)
}

// TestLeaderboardUpsertIntoDeletedCacheIsRefused has a node that has not
// yet seen a delete upsert into the deleted cache after its sweep: the
// tombstone refuses the write, which would otherwise stay for ever.
func TestLeaderboardUpsertIntoDeletedCacheIsRefused(t *testing.T) {
	ns := uniqueNamespace(t)
	a := openStore(t, Config{Namespace: ns})
	stale := openStore(t, Config{Namespace: ns, RegistryPoll: time.Hour})
	mustCreate(t, a, "c")
	mustUpsertBoard(t, stale, "c", "b", store.LeaderboardElement{ID: 1, Score: 1})
	ref := stale.reg.Load().refs["c"]
	if err := a.DeleteCache(t.Context(), "c"); err != nil {
		t.Fatalf("DeleteCache() = %v", err)
	}
	waitSweeps(t, a)
	if _, ok := stale.reg.Load().refs["c"]; !ok {
		t.Fatal("the stale node already dropped the cache; the test needs it stale")
	}
	err := stale.LeaderboardUpsert(t.Context(), "c", "b", []store.LeaderboardElement{{ID: 2, Score: 2}})
	if !errors.Is(err, store.ErrCacheNotFound) {
		t.Errorf("LeaderboardUpsert on a stale node after the delete = %v, want ErrCacheNotFound", err)
	}
	if got := rawKeys(t, a, globEscape(ref.boards+leaderboardBoard)+"*"); len(got) != 0 {
		t.Errorf("leaderboards left after the delete: %q", got)
	}
}

// TestLeaderboardSweepResumesOnAnotherNode leaves a deleted cache's
// leaderboards to a store that opens the namespace later.
func TestLeaderboardSweepResumesOnAnotherNode(t *testing.T) {
	ns := uniqueNamespace(t)
	a := openStore(t, Config{Namespace: ns})
	mustCreate(t, a, "c")
	ref := a.reg.Load().refs["c"]
	for _, board := range []string{"one", "two", "three"} {
		mustUpsertBoard(t, a, "c", board, store.LeaderboardElement{ID: 7, Score: 7})
	}
	// The registry change and its sweep entries, without the sweeps.
	if err := deleteCacheScript.Exec(t.Context(), a.client, a.registryKeys(), []string{"c"}).Error(); err != nil {
		t.Fatalf("delete script = %v", err)
	}
	pattern := globEscape(ref.boards) + "*"
	if n := len(rawKeys(t, a, pattern)); n != 4 {
		t.Fatalf("%d leaderboard keys before the sweep, want 4 (three leaderboards and the index)", n)
	}
	b := openStore(t, Config{Namespace: ns})
	deadline := time.Now().Add(20 * time.Second)
	for {
		keys := rawKeys(t, b, pattern)
		if len(keys) == 1 && keys[0] == ref.boards+leaderboardTombstone {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leaderboard keys after 20s = %q, want the tombstone only", keys)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
