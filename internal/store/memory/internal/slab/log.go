// Package slab keeps the memory store's scalar items without a pointer per
// item: records appended to large byte segments, found through a map of
// integers from a 64-bit hash of the key to the record's position, with a
// pointer-free heap of expiries beside them. The garbage collector scans
// none of it, and nothing per item is rounded up to a size class, so an item
// costs its key and value, a 16-byte record header, its index slot and its
// expiry heap slot (see README.md for the figures).
//
// A Log is one shard's worth of items. It has no lock: the memory store
// calls it under the shard's lock, so that every operation on an item, its
// reads, its checks and its writes, is one step. A Ref, and a value that
// Value returns, are valid only until the next call that writes. A value
// that Share returns never changes, so the store hands it out without a
// copy: the record is marked, and its value is never written again (a
// same-length overwrite, otherwise in place, appends instead; its header is
// still written, for its expiry and its read mark), and a segment that is
// dropped, or compacted, is left to the garbage collector, which keeps it
// while a caller holds a value in it. No segment is emptied for reuse.
//
// Memory freed by deletes, overwrites, expiry and eviction is reclaimed two
// ways: a segment whose records are all dead is dropped once it is not the
// tail, and when dead bytes exceed an eighth of the segments' bytes the
// segment holding the most of them is compacted, its live records copied to
// the tail. Eviction is first in, first out over the segments, with a second
// chance for records read since they were written.
package slab

import "encoding/binary"

// headerSize is the bytes of a record before its key: an 8-byte expiry, a
// 4-byte key length whose top two bits are the record's marks (see usedBit
// and sharedBit), and a 4-byte value length.
const headerSize = 16

// The marks in a record's key length. usedBit marks a record read since it
// was written or last given a second chance by eviction. sharedBit marks a
// record whose value Share handed out: its value may then never be written
// again, so that an overwrite of the same length, which otherwise writes in
// place, appends a new record.
const (
	usedBit   = 1 << 31
	sharedBit = 1 << 30
	flagBits  = usedBit | sharedBit
)

// primary is the place of a key that its hash indexes directly, as opposed
// to one of the collision list (see Log.collisions).
const primary = -1

// Log holds scalar items in segments. Make it with New; the zero value is
// not usable.
type Log struct {
	// hash is the hash of keys that every caller's h must equal; compaction
	// and eviction use it to find the index slot of a record they move.
	hash func(key []byte) uint64
	// index maps a key's hash to the position of its record: segment slot
	// in the high 32 bits, offset in the low 32.
	index map[uint64]uint64
	// collisions holds the positions of the keys whose hash indexes another
	// key's record, by that hash. With 64-bit hashes it is almost always
	// empty; every lookup that misses in index on a different key checks it.
	collisions map[uint64][]uint64
	// items is the number of live records, in index and collisions.
	items int
	// peak is the largest items since index was made: Go maps never shrink,
	// so Shrink rebuilds an index that has lost most of its items.
	peak int

	// segs are the segments by slot; a dropped segment leaves a nil buf,
	// and its slot in free for reuse.
	segs []segment
	free []uint32
	// order is the slots of the segments, oldest first: eviction starts
	// from order[0] (the head) and appends go to the tail.
	order []uint32
	// tail is the slot of the segment being appended to, -1 for none.
	tail int
	// cursor is the offset in the head segment before which every record is
	// dead or was moved: where eviction resumes.
	cursor int
	// segBytes is the capacity of all segments; garbage is the bytes of the
	// dead records in them.
	segBytes, garbage int64

	// expiry is a min-heap of expiries by key hash; see expiry.go.
	expiry expiryHeap
}

// segment is a byte slab of records, appended to until full.
type segment struct {
	buf []byte
	// live is the bytes of the segment's records that the index points to.
	live int
	// created is the caller's clock reading when the segment was opened:
	// no record in it was written earlier.
	created int64
}

// Ref is where a key's record is, as Lookup found it. It is valid until the
// next call that writes to the Log.
type Ref struct {
	hash  uint64
	pos   uint64
	where int // primary, or the position's index in collisions[hash]
	// rec is the record, as Lookup found it; nil in the Refs of moves.
	rec []byte
}

// New returns an empty Log whose keys hash with hash: every h given to a
// method must be hash(key).
func New(hash func(key []byte) uint64) *Log {
	l := &Log{hash: hash}
	l.reset()
	return l
}

// reset empties l and lets go of its memory.
func (l *Log) reset() {
	*l = Log{hash: l.hash, index: make(map[uint64]uint64), tail: -1}
}

// Len returns the number of items in l, expired or not.
func (l *Log) Len() int { return l.items }

// SegmentBytes is the capacity of l's segments: what its records take.
func (l *Log) SegmentBytes() int64 { return l.segBytes }

// Garbage is the bytes of dead records that l's segments still hold.
func (l *Log) Garbage() int64 { return l.garbage }

// Lookup finds the record of key, whose hash is h.
func (l *Log) Lookup(h uint64, key []byte) (Ref, bool) {
	if pos, ok := l.index[h]; ok {
		if rec := l.record(pos); string(recordKey(rec)) == string(key) {
			return Ref{hash: h, pos: pos, where: primary, rec: rec}, true
		}
		for i, pos := range l.collisions[h] {
			if rec := l.record(pos); string(recordKey(rec)) == string(key) {
				return Ref{hash: h, pos: pos, where: i, rec: rec}, true
			}
		}
	}
	return Ref{}, false
}

// Value returns the value of the record at r, valid until the next call
// that writes: a same-length overwrite writes it in place.
func (l *Log) Value(r Ref) []byte { return recordValue(r.rec) }

// Share returns the value of the record at r and marks it, so that it is
// never written again: the caller may keep it, and must not modify it.
func (l *Log) Share(r Ref) []byte {
	setMark(r.rec, sharedBit)
	return recordValue(r.rec)
}

// Expires returns the expiry of the record at r.
func (l *Log) Expires(r Ref) int64 { return recordExpires(r.rec) }

// SetExpires changes the expiry of the record at r, in place.
func (l *Log) SetExpires(r Ref, expires int64) {
	rec := r.rec
	if expires < recordExpires(rec) {
		l.pushExpiry(expires, r.hash)
	}
	binary.LittleEndian.PutUint64(rec, uint64(expires))
}

// Touch marks the record at r as read, so that eviction gives it a second
// chance.
func (l *Log) Touch(r Ref) {
	setMark(r.rec, usedBit)
}

// setMark sets the mark bit in rec's header.
func setMark(rec []byte, bit uint32) {
	if n := binary.LittleEndian.Uint32(rec[8:]); n&bit == 0 {
		binary.LittleEndian.PutUint32(rec[8:], n|bit)
	}
}

// Put stores value under key, whose hash is h, until expires, replacing any
// record of key. now is the caller's clock reading, which eviction compares
// across Logs. It returns the length of the value it replaced and whether
// there was one. A value of the replaced one's length is written in place,
// unless Share handed the old one out; otherwise the new record is
// appended.
func (l *Log) Put(h uint64, key, value []byte, expires, now int64) (oldLen int, replaced bool) {
	r, found := l.Lookup(h, key)
	if found {
		rec := r.rec
		oldLen = len(recordValue(rec))
		if oldLen == len(value) && binary.LittleEndian.Uint32(rec[8:])&sharedBit == 0 {
			l.SetExpires(r, expires)
			copy(recordValue(rec), value)
			l.Touch(r)
			return oldLen, true
		}
		pos := l.appendRecord(key, value, expires, now)
		l.repoint(r, pos)
		if expires < recordExpires(rec) {
			l.pushExpiry(expires, h)
		}
		l.kill(r.pos, len(rec))
		l.maybeCompact(now)
		return oldLen, true
	}
	pos := l.appendRecord(key, value, expires, now)
	if _, taken := l.index[h]; taken {
		if l.collisions == nil {
			l.collisions = make(map[uint64][]uint64)
		}
		l.collisions[h] = append(l.collisions[h], pos)
	} else {
		l.index[h] = pos
	}
	l.items++
	l.peak = max(l.peak, l.items)
	l.pushExpiry(expires, h)
	return 0, false
}

// Remove deletes the record at r and returns its key's and value's
// lengths. now is the caller's clock reading, for the segments compaction
// may open.
func (l *Log) Remove(r Ref, now int64) (keyLen, valueLen int) {
	keyLen, valueLen = l.removeAt(r, r.rec)
	l.maybeCompact(now)
	return keyLen, valueLen
}

// removeAt takes rec, the record at r, out of the index and counts its
// bytes dead; it returns its key's and value's lengths.
func (l *Log) removeAt(r Ref, rec []byte) (keyLen, valueLen int) {
	l.unindex(r)
	l.kill(r.pos, len(rec))
	return len(recordKey(rec)), len(recordValue(rec))
}

// Clear removes every item and lets go of the memory l holds.
func (l *Log) Clear() { l.reset() }

// unindex takes the key at r out of the index; its record stays, dead.
func (l *Log) unindex(r Ref) {
	l.items--
	list := l.collisions[r.hash]
	if r.where == primary {
		if len(list) == 0 {
			delete(l.index, r.hash)
			return
		}
		l.index[r.hash] = list[len(list)-1]
		r.where = len(list) - 1
	} else {
		list[r.where] = list[len(list)-1]
	}
	if len(list) == 1 {
		delete(l.collisions, r.hash)
	} else {
		l.collisions[r.hash] = list[:len(list)-1]
	}
}

// repoint makes the index slot of r point to pos.
func (l *Log) repoint(r Ref, pos uint64) {
	if r.where == primary {
		l.index[r.hash] = pos
	} else {
		l.collisions[r.hash][r.where] = pos
	}
}

// locate returns the Ref of the record at pos if the index points to it,
// that is if it is live; h is the hash of its key.
func (l *Log) locate(h, pos uint64) (Ref, bool) {
	if p, ok := l.index[h]; !ok {
		return Ref{}, false
	} else if p == pos {
		return Ref{hash: h, pos: pos, where: primary}, true
	}
	for i, p := range l.collisions[h] {
		if p == pos {
			return Ref{hash: h, pos: pos, where: i}, true
		}
	}
	return Ref{}, false
}

// record returns the record at pos.
func (l *Log) record(pos uint64) []byte {
	rec := l.segs[pos>>32].buf[uint32(pos):]
	return rec[:recordSize(rec)]
}

// recordSize is the length of the record at the start of rec.
func recordSize(rec []byte) int {
	return headerSize + int(binary.LittleEndian.Uint32(rec[8:])&^flagBits) + int(binary.LittleEndian.Uint32(rec[12:]))
}

// recordExpires is the expiry of rec.
func recordExpires(rec []byte) int64 { return int64(binary.LittleEndian.Uint64(rec)) }

// recordKey is the key of rec.
func recordKey(rec []byte) []byte {
	return rec[headerSize : headerSize+binary.LittleEndian.Uint32(rec[8:])&^flagBits]
}

// recordValue is the value of rec.
func recordValue(rec []byte) []byte {
	return rec[headerSize+binary.LittleEndian.Uint32(rec[8:])&^flagBits : len(rec)]
}

// recordUsed reports whether rec was read since it was written.
func recordUsed(rec []byte) bool { return binary.LittleEndian.Uint32(rec[8:])&usedBit != 0 }
