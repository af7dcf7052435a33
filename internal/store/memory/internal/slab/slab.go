// Package slab is a prototype, not used by the store: a pointer-free layout
// for scalar items, to estimate what an item would cost if the memory store
// kept keys, values and their metadata in large byte slabs indexed by a map
// of integers, as freecache and bigcache do, rather than as an entry struct
// with pointers per item. The garbage collector does not scan such memory,
// so the heap needs no headroom proportional to the items, and there is no
// per-item allocation to round up to a size class.
//
// Each shard has its own lock, as in the store, so that every operation is
// one step under one lock. Records are appended to the shard's current slab
// segment: an 8-byte expiry, a 4-byte key length and a 4-byte value length,
// then the key and the value. The index maps a 64-bit hash of the key to the
// record's position (segment and offset packed in a uint64); a lookup
// compares the stored key, so that a hash collision is a miss, never a wrong
// value; colliding keys go to a small map of their own (not needed at the
// sizes measured here, so left out of the prototype: Set reports them).
// Overwrites and deletes leave dead bytes in their segments; the design note
// in README.md says how they would be reclaimed.
package slab

import (
	"encoding/binary"
	"hash/maphash"
	"sync"
)

// segmentSize is the size of one slab segment: large enough that the
// segments' own headers and the rounding of their allocation are noise.
const segmentSize = 1 << 20

// headerSize is the bytes of a record before its key: expiry, key length,
// value length.
const headerSize = 16

// Store is a sharded map of keys to values with an expiry, kept in slabs.
type Store struct {
	seed   maphash.Seed
	shards []shard
}

// shard is one independently locked part of a Store.
type shard struct {
	mu       sync.Mutex        // guards index, segments, live
	index    map[uint64]uint64 // key hash → segment<<32 | offset
	segments [][]byte          // the slabs; the last is being filled
	live     int64             // bytes of records still indexed
}

// New returns a Store of n shards (a power of two).
func New(n int) *Store {
	s := &Store{seed: maphash.MakeSeed(), shards: make([]shard, n)}
	for i := range s.shards {
		s.shards[i].index = make(map[uint64]uint64)
	}
	return s
}

// Set stores a copy of key and value with the expiry given, replacing any
// record of key. It reports false for a key whose hash collides with that
// of another key, which the prototype does not handle.
func (s *Store) Set(key, value []byte, expires int64) bool {
	h := maphash.Bytes(s.seed, key)
	sh := &s.shards[h&uint64(len(s.shards)-1)]
	size := headerSize + len(key) + len(value)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if pos, ok := sh.index[h]; ok {
		rec := sh.record(pos)
		if string(recordKey(rec)) != string(key) {
			return false
		}
		sh.live -= int64(len(rec))
	}
	last := len(sh.segments) - 1
	if last < 0 || len(sh.segments[last])+size > cap(sh.segments[last]) {
		sh.segments = append(sh.segments, make([]byte, 0, max(segmentSize, size)))
		last++
	}
	seg := sh.segments[last]
	off := len(seg)
	seg = binary.LittleEndian.AppendUint64(seg, uint64(expires))
	seg = binary.LittleEndian.AppendUint32(seg, uint32(len(key)))
	seg = binary.LittleEndian.AppendUint32(seg, uint32(len(value)))
	seg = append(append(seg, key...), value...)
	sh.segments[last] = seg
	sh.index[h] = uint64(last)<<32 | uint64(off)
	sh.live += int64(size)
	return true
}

// Get appends the value of key to dst if it is live at now. The value is
// copied out under the lock: a slab is reused once its records are dead, so
// a caller may not keep a slice of it.
func (s *Store) Get(dst, key []byte, now int64) ([]byte, bool) {
	h := maphash.Bytes(s.seed, key)
	sh := &s.shards[h&uint64(len(s.shards)-1)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	pos, ok := sh.index[h]
	if !ok {
		return dst, false
	}
	rec := sh.record(pos)
	if string(recordKey(rec)) != string(key) || int64(binary.LittleEndian.Uint64(rec)) <= now {
		return dst, false
	}
	return append(dst, recordValue(rec)...), true
}

// record returns the record at pos.
func (sh *shard) record(pos uint64) []byte {
	seg := sh.segments[pos>>32]
	off := uint32(pos)
	rec := seg[off:]
	n := headerSize + binary.LittleEndian.Uint32(rec[8:]) + binary.LittleEndian.Uint32(rec[12:])
	return rec[:n]
}

// recordKey is the key of rec.
func recordKey(rec []byte) []byte {
	return rec[headerSize : headerSize+binary.LittleEndian.Uint32(rec[8:])]
}

// recordValue is the value of rec.
func recordValue(rec []byte) []byte {
	return rec[headerSize+binary.LittleEndian.Uint32(rec[8:]):]
}
