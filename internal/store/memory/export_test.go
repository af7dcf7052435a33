package memory

import "github.com/thaw-dev/thaw/internal/store"

// ItemStats is s.Stats() without the bytes accounted to caches and shards
// themselves (see CacheOverhead), for the tests of what items are
// accounted: a shard's overhead appears when a request first reaches it.
func ItemStats(s *Store) store.Stats {
	st := s.Stats()
	st.Bytes -= s.structBytes.Load()
	return st
}
