package redis

import (
	"context"
	"sync"
	"time"

	"github.com/thaw-dev/thaw/internal/store"
)

// statsTimeout bounds one count of Stats, which has no context.
const statsTimeout = 30 * time.Second

// statsCache holds the last count of Stats for Config.StatsMaxAge.
type statsCache struct {
	mu    sync.Mutex // guards the fields; held during a count, so concurrent calls share it
	at    time.Time
	items int64
}

// Stats counts the live items of the namespace's caches: it SCANs every
// master for the namespace's item keys and keeps those of the caches and
// epochs in this node's registry snapshot (Redis's SCAN skips expired
// keys). That costs a pass over the cluster's keys, so Config.StatsMaxAge
// lets metrics scrapes share one. Bytes is 0: Redis accounts memory per
// node (INFO memory), not per namespace. Evictions and Expirations are 0:
// Redis counts them per node for all its keys (INFO stats). A count that
// fails returns the last good one.
func (s *Store) Stats() store.Stats {
	if s.closed.Load() {
		return store.Stats{}
	}
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	if s.cfg.StatsMaxAge > 0 && time.Since(s.stats.at) < s.cfg.StatsMaxAge {
		return store.Stats{Items: s.stats.items}
	}
	ctx, cancel := context.WithTimeout(s.bg, statsTimeout)
	defer cancel()
	items, err := s.countItems(ctx)
	if err != nil {
		if s.bg.Err() == nil {
			s.cfg.Logger.Warn("redis: counting items for Stats", "err", err)
		}
		return store.Stats{Items: s.stats.items}
	}
	s.stats.at, s.stats.items = time.Now(), items
	return store.Stats{Items: items}
}

// countItems counts the item keys of the live key spaces on every master.
func (s *Store) countItems(ctx context.Context) (int64, error) {
	live := map[string]uint64{} // escaped name → epoch
	for _, ref := range s.reg.Load().refs {
		live[string(escape(nil, ref.name))] = ref.epoch
	}
	masters, err := s.masters(ctx)
	if err != nil {
		return 0, err
	}
	// Item and topic keys end with '}', companions with "}m".
	pattern := globEscape(s.cfg.Namespace) + ":{*}"
	var total int64
	for _, node := range masters {
		// SCAN may return a key more than once (when the node's table
		// is resized during the pass), so keys are counted once each.
		seen := map[string]struct{}{}
		var cursor uint64
		for {
			entry, err := node.Do(ctx, node.B().Scan().Cursor(cursor).Match(pattern).Count(int64(s.cfg.SweepBatch)).Build()).AsScanEntry()
			if err != nil {
				return 0, s.wrap(ctx, "stats", err)
			}
			for _, key := range entry.Elements {
				p, ok := parseKey(s.cfg.Namespace, key)
				if !ok || p.kind != kindItem || p.companion {
					continue
				}
				if epoch, ok := live[p.escName]; ok && epoch == p.epoch {
					seen[key] = struct{}{}
				}
			}
			if entry.Cursor == 0 {
				break
			}
			cursor = entry.Cursor
		}
		total += int64(len(seen))
	}
	return total, nil
}
