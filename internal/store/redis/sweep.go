package redis

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"

	"github.com/thaw-dev/thaw/internal/store"
)

// A sweep removes the keys of a key space that the registry no longer
// serves: a deleted cache's, or a flushed cache's old epoch. Flush and
// delete queue it in the registry's sweep set in the same script that
// changes the cache, so that it survives the node: any node that opens the
// namespace, and every node each SweepRetry, resumes the sweeps it does not
// run itself. On every master it runs SCAN MATCH on the key space's prefix,
// SweepBatch keys at a time, and UNLINKs each batch (UNLINK frees the
// memory in a background thread of Redis): many short commands rather than
// one long one, so that the cluster keeps serving meanwhile. Several nodes
// sweeping the same key space do the same work twice, harmlessly. A key
// written into the old key space during the sweep by a node that had not
// yet seen the change may survive it; every key has a TTL, so it goes when
// that passes.
//
// A sweep that fails (a master that does not answer within DialTimeout, a
// failover under way; its error is one of wrap's, ErrUnavailable for
// those) leaves its member in the sweep set: only a sweep that finished on
// the owners of every slot takes it off. The next SweepRetry of any node
// resumes it from the start, on the masters the cluster has then;
// UNLINKing what is already gone costs nothing.
//
// The owners are the ones every node agrees on (agreedSlotOwners), the same
// before the sweep and after it (withStableMasters), and each master
// UNLINKs the keys its own SCAN found: sent to that node, not routed by the
// client, so that a node demoted meanwhile answers MOVED to them, and one
// demoted without keys to delete is caught by the map after. A master that
// resumes after a failover still takes writes until it learns of it, and
// its resync with the new master then undoes them: a sweep that deleted
// through it, or read the map from it, would end with the keys back on the
// new master. (Like any write, a delete that a master acknowledged but had
// not yet replicated is lost if that master fails right after; thaw does
// not use WAIT.)
//
// The leaderboards of a deleted cache are queued as "lb:<gen>:<name>". They
// share one hash slot, so their sweep is no SCAN: one script on that slot
// (see dropLeaderboardsScript) marks the generation deleted and UNLINKs the
// leaderboards its index names. It runs on the slot's master under the
// same agreed map, for the same reason, all the more since leaderboards
// have no TTL: a drop lost in a resync would leave them for ever.

// startSweep runs the sweep of member ("<epoch>:<name>") in the
// background, unless this node runs it already or is closing.
func (s *Store) startSweep(member string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return
	}
	if _, running := s.sweeps[member]; running {
		return
	}
	s.sweeps[member] = struct{}{}
	s.wg.Go(func() {
		defer func() {
			s.mu.Lock()
			delete(s.sweeps, member)
			s.mu.Unlock()
		}()
		if err := s.sweep(s.bg, member); err != nil && s.bg.Err() == nil {
			s.cfg.Logger.Warn("redis: sweeping the keys of a deleted or flushed cache (retried later)", "key_space", member, "err", err)
		}
	})
}

// sweep removes every key of the key space member on every master, then
// takes member off the sweep set.
func (s *Store) sweep(ctx context.Context, member string) error {
	if rest, ok := strings.CutPrefix(member, leaderboardSweepPrefix); ok {
		return s.sweepLeaderboards(ctx, member, rest)
	}
	epochText, name, ok := strings.Cut(member, ":")
	epoch, err := strconv.ParseUint(epochText, 10, 64)
	if !ok || err != nil {
		// Not one of ours; drop it rather than retry it forever.
		return s.forget(ctx, member)
	}
	pattern := globEscape(cachePrefix(s.cfg.Namespace, name, epoch)) + "*"
	err = s.withStableMasters(ctx, "sweep", func(_ []slotOwner, masters map[string]rueidis.Client) error {
		var (
			wg    sync.WaitGroup
			errMu sync.Mutex
			first error
		)
		for addr, node := range masters {
			wg.Go(func() {
				if err := s.sweepNode(ctx, addr, node, pattern); err != nil {
					errMu.Lock()
					if first == nil {
						first = err
					}
					errMu.Unlock()
				}
			})
		}
		wg.Wait()
		return first
	})
	if err != nil {
		return err
	}
	return s.forget(ctx, member)
}

// withStableMasters runs work, for op, with the masters every node agrees
// on (agreedSlotOwners): their slot ranges, and a client of each that
// sends to that node alone, by address. It fails with store.ErrUnavailable
// unless the agreed map is the same after work: what work deleted through
// a master that a failover replaced meanwhile may come back with the
// resync, so the caller must not count it done.
func (s *Store) withStableMasters(ctx context.Context, op string, work func(owners []slotOwner, masters map[string]rueidis.Client) error) error {
	owners, err := s.agreedSlotOwners(ctx, op)
	if err != nil {
		return err
	}
	masters, err := s.clientsOf(owners)
	if err != nil {
		return fmt.Errorf("redis: %s: %w", op, err)
	}
	if err := work(owners, masters); err != nil {
		return err
	}
	after, err := s.agreedSlotOwners(ctx, op+", after it")
	if err != nil {
		return err
	}
	if !slices.Equal(owners, after) {
		return fmt.Errorf("redis: %s: the masters changed during it: %w", op, store.ErrUnavailable)
	}
	return nil
}

// forget takes member off the sweep set.
func (s *Store) forget(ctx context.Context, member string) error {
	step, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	return s.wrap(ctx, "sweep: forget "+member, s.client.Do(step, s.client.B().Srem().Key(s.keys.sweep).Member(member).Build()).Error())
}

// sweepNode UNLINKs the keys of one master that match pattern, one SCAN
// batch at a time. Each SCAN and each round of UNLINKs has DialTimeout to
// answer, so that a master that stopped answering fails the sweep rather
// than holding it until the connection is found dead.
func (s *Store) sweepNode(ctx context.Context, addr string, node rueidis.Client, pattern string) error {
	var cursor uint64
	for {
		entry, err := s.sweepScan(ctx, addr, node, cursor, pattern)
		if err != nil {
			return err
		}
		if len(entry.Elements) > 0 {
			if err := s.sweepUnlink(ctx, addr, node, entry.Elements); err != nil {
				return err
			}
			s.sweptBatches.Add(1)
		}
		if entry.Cursor == 0 {
			return nil
		}
		cursor = entry.Cursor
	}
}

// sweepScan is one SCAN of a sweep.
func (s *Store) sweepScan(ctx context.Context, addr string, node rueidis.Client, cursor uint64, pattern string) (rueidis.ScanEntry, error) {
	step, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	entry, err := node.Do(step, node.B().Scan().Cursor(cursor).Match(pattern).Count(int64(s.cfg.SweepBatch)).Build()).AsScanEntry()
	return entry, s.wrap(ctx, "sweep: scan "+addr, err)
}

// sweepUnlink is one round of UNLINKs of a sweep, one per key (the keys
// are in many slots), sent to node, the master at addr whose SCAN found
// them: if it is no longer the master of a key's slot, it answers MOVED,
// which fails the sweep.
func (s *Store) sweepUnlink(ctx context.Context, addr string, node rueidis.Client, keys []string) error {
	step, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	cmds := make(rueidis.Commands, len(keys))
	for i, key := range keys {
		cmds[i] = node.B().Unlink().Key(key).Build()
	}
	for _, res := range node.DoMulti(step, cmds...) {
		if err := res.Error(); err != nil {
			return s.wrap(ctx, "sweep: unlink on "+addr, err)
		}
	}
	return nil
}

// runSweepRetry resumes, at start and every SweepRetry, the sweeps that the
// sweep set holds and this node does not run, until Close.
func (s *Store) runSweepRetry() {
	for {
		ctx, cancel := context.WithTimeout(s.bg, s.cfg.DialTimeout)
		members, err := s.client.Do(ctx, s.client.B().Smembers().Key(s.keys.sweep).Build()).AsStrSlice()
		err = s.wrap(s.bg, "read the sweep set", err)
		cancel()
		if err != nil && s.bg.Err() == nil {
			s.cfg.Logger.Warn("redis: reading the sweep set", "err", err)
		}
		for _, m := range members {
			s.startSweep(m)
		}
		select {
		case <-s.bg.Done():
			return
		case <-time.After(s.cfg.SweepRetry):
		}
	}
}
