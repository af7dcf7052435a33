package memory

import "github.com/thaw-dev/thaw/internal/store/memory/internal/slab"

// ItemOverhead is the fixed number of bytes accounted to every scalar item
// on top of its key and value: its 16-byte record header in its shard's
// slab segments, its slot in the index of key hashes (a map of integers,
// at the fill its growth leaves) and its slot in the expiry heap.
// Stats().Bytes and Config.MaxMemory count it; collections are accounted
// CollectionOverhead instead.
//
// Measured, not guessed (Go 1.26, linux/amd64), with the workload of
// 12-byte keys and 100-byte values, a TTL each: the live heap (HeapAlloc
// after GC) grows by 185.5 bytes per item at 100,000 items and 186.9 at
// 1,000,000 (BenchmarkItemMemory), that is 73.5 to 74.9 beyond the 112 bytes
// of key and value, of which the 16-byte header is exact and the rest moves
// with the index map's growth steps. 72 keeps the accounted bytes within 2%
// of the heap there, and within 6% for 16-byte values;
// TestItemMemoryOverhead fails beyond 10%. The memory that deletes and
// overwrites leave in segments until compaction (at most an eighth of them)
// and the unused end of each shard's last segment are not accounted.
const ItemOverhead = 72

// itemSize is the number of bytes accounted to a scalar item.
func itemSize(keyLen, valueLen int) int64 {
	return int64(keyLen+valueLen) + ItemOverhead
}

// scalarLocked finds the scalar of key, whose hash is h, if it has not
// expired at now. It removes an expired one it finds. The Ref is valid
// until the shard's next write.
func (sh *shard) scalarLocked(h uint64, key []byte, now int64) (slab.Ref, bool) {
	r, ok := sh.scalars.Lookup(h, key)
	if !ok {
		return r, false
	}
	if sh.scalars.Expires(r) <= now {
		sh.removeScalarLocked(r, now)
		sh.stats.expirations.Add(1)
		return slab.Ref{}, false
	}
	return r, true
}

// putScalarLocked stores a copy of value under key, whose hash is h, until
// expires, replacing any scalar or collection of key, and returns the
// change in accounted bytes.
func (sh *shard) putScalarLocked(h uint64, key, value []byte, expires, now int64) int64 {
	if len(sh.colls) != 0 {
		if e := sh.colls[string(key)]; e != nil { // a scalar replaces a collection
			sh.removeCollLocked(e)
		}
	}
	var grew int64
	added := 0
	if oldLen, replaced := sh.scalars.Put(h, key, value, expires, now); replaced {
		grew = int64(len(value) - oldLen)
	} else {
		grew = itemSize(len(key), len(value))
		added = 1
		sh.listLocked()
	}
	sh.noteExpiryLocked()
	sh.accountLocked(added, grew)
	return grew
}

// removeScalarLocked removes the scalar at r.
func (sh *shard) removeScalarLocked(r slab.Ref, now int64) {
	sh.removedScalarLocked(sh.scalars.Remove(r, now))
}

// removedScalarLocked accounts for the removal of a scalar whose key and
// value had the lengths given.
func (sh *shard) removedScalarLocked(keyLen, valueLen int) {
	sh.accountLocked(-1, -itemSize(keyLen, valueLen))
}
