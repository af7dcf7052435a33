package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"
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
	epochText, name, ok := strings.Cut(member, ":")
	epoch, err := strconv.ParseUint(epochText, 10, 64)
	if !ok || err != nil {
		// Not one of ours; drop it rather than retry it forever.
		return s.client.Do(ctx, s.client.B().Srem().Key(s.keys.sweep).Member(member).Build()).Error()
	}
	pattern := globEscape(cachePrefix(s.cfg.Namespace, name, epoch)) + "*"
	masters, err := s.masters(ctx)
	if err != nil {
		return err
	}
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	for addr, node := range masters {
		wg.Go(func() {
			if err := s.sweepNode(ctx, node, pattern); err != nil {
				errMu.Lock()
				if first == nil {
					first = fmt.Errorf("redis: sweep on %s: %w", addr, err)
				}
				errMu.Unlock()
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return s.client.Do(ctx, s.client.B().Srem().Key(s.keys.sweep).Member(member).Build()).Error()
}

// sweepNode UNLINKs the keys of one master that match pattern, one SCAN
// batch at a time.
func (s *Store) sweepNode(ctx context.Context, node rueidis.Client, pattern string) error {
	var cursor uint64
	for {
		entry, err := node.Do(ctx, node.B().Scan().Cursor(cursor).Match(pattern).Count(int64(s.cfg.SweepBatch)).Build()).AsScanEntry()
		if err != nil {
			return err
		}
		if len(entry.Elements) > 0 {
			cmds := make(rueidis.Commands, len(entry.Elements))
			for i, key := range entry.Elements {
				cmds[i] = s.client.B().Unlink().Key(key).Build()
			}
			for _, res := range s.client.DoMulti(ctx, cmds...) {
				if err := res.Error(); err != nil {
					return err
				}
			}
			s.sweptBatches.Add(1)
		}
		if entry.Cursor == 0 {
			return nil
		}
		cursor = entry.Cursor
	}
}

// runSweepRetry resumes, at start and every SweepRetry, the sweeps that the
// sweep set holds and this node does not run, until Close.
func (s *Store) runSweepRetry() {
	for {
		ctx, cancel := context.WithTimeout(s.bg, s.cfg.DialTimeout)
		members, err := s.client.Do(ctx, s.client.B().Smembers().Key(s.keys.sweep).Build()).AsStrSlice()
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
