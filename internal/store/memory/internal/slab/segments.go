package slab

import "encoding/binary"

// Segment sizes: a new segment is an eighth of the Log's segment bytes,
// rounded up to a power of two within [minSegment, maxSegment], or the
// record's size if that is larger. Small shards thus take little, and in
// large ones the unused end of the tail is a small part of the whole.
const (
	minSegment = 256
	maxSegment = 64 << 10
)

// compactFraction: a Log compacts a segment when its dead bytes exceed
// 1/compactFraction of its segment bytes, which bounds the memory that
// deletes and overwrites leave behind. Choosing the segment with the most
// dead bytes keeps the copying under compactFraction-1 bytes per byte
// freed.
const compactFraction = 8

// appendRecord writes a record of key and value at the tail and returns its
// position. now dates a segment it opens.
func (l *Log) appendRecord(key, value []byte, expires int64, now int64) uint64 {
	size := headerSize + len(key) + len(value)
	seg := l.tailFor(size, now)
	off := len(seg.buf)
	b := binary.LittleEndian.AppendUint64(seg.buf, uint64(expires))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(key)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(value)))
	seg.buf = append(append(b, key...), value...)
	seg.live += size
	return uint64(l.tail)<<32 | uint64(off)
}

// moveRecord copies rec, a record of another place, to the tail with its
// read mark cleared unless keepUsed, and returns its new position. The copy
// has not been handed out, so it loses the shared mark: callers hold the
// old one's value, if any.
func (l *Log) moveRecord(rec []byte, keepUsed bool, now int64) uint64 {
	seg := l.tailFor(len(rec), now)
	off := len(seg.buf)
	seg.buf = append(seg.buf, rec...)
	drop := uint32(sharedBit)
	if !keepUsed {
		drop |= usedBit
	}
	n := seg.buf[off+8:]
	binary.LittleEndian.PutUint32(n, binary.LittleEndian.Uint32(n)&^drop)
	seg.live += len(rec)
	return uint64(l.tail)<<32 | uint64(off)
}

// tailFor returns the tail segment, opening a new one if size bytes do not
// fit in it. An append never reallocates a segment.
func (l *Log) tailFor(size int, now int64) *segment {
	if l.tail >= 0 {
		seg := &l.segs[l.tail]
		if len(seg.buf)+size <= cap(seg.buf) {
			return seg
		}
		if seg.live == 0 {
			l.drop(uint32(l.tail))
		}
	}
	n := minSegment
	for n < maxSegment && (n < size || int64(n) < l.segBytes/8) {
		n <<= 1
	}
	n = max(n, size)
	var slot uint32
	if last := len(l.free) - 1; last >= 0 {
		slot = l.free[last]
		l.free = l.free[:last]
	} else {
		slot = uint32(len(l.segs))
		l.segs = append(l.segs, segment{})
	}
	l.segs[slot] = segment{buf: make([]byte, 0, n), created: now}
	l.order = append(l.order, slot)
	l.tail = int(slot)
	l.segBytes += int64(n)
	return &l.segs[slot]
}

// kill marks the size bytes of the record at pos dead, after its index slot
// was removed or repointed. A segment left with no live record is dropped,
// unless it is the tail: tailFor drops it when it opens the next one. A
// segment is never emptied for reuse, since callers may hold its values.
func (l *Log) kill(pos uint64, size int) {
	slot := uint32(pos >> 32)
	seg := &l.segs[slot]
	seg.live -= size
	l.garbage += int64(size)
	if seg.live > 0 {
		return
	}
	if int(slot) != l.tail {
		l.drop(slot)
	}
}

// drop frees the segment at slot, none of whose records is live.
func (l *Log) drop(slot uint32) {
	for i, s := range l.order {
		if s == slot {
			if i == 0 {
				l.cursor = 0
			}
			l.order = append(l.order[:i], l.order[i+1:]...)
			break
		}
	}
	seg := &l.segs[slot]
	l.garbage -= int64(len(seg.buf))
	l.segBytes -= int64(cap(seg.buf))
	*seg = segment{}
	if int(slot) == l.tail {
		l.tail = -1
	}
	l.free = append(l.free, slot)
}

// maybeCompact compacts the segment with the most dead bytes if the dead
// bytes exceed their bound (see compactFraction).
func (l *Log) maybeCompact(now int64) {
	if l.garbage*compactFraction <= l.segBytes {
		return
	}
	best, most := uint32(0), -1
	for _, slot := range l.order {
		seg := &l.segs[slot]
		if dead := len(seg.buf) - seg.live; dead > most {
			best, most = slot, dead
		}
	}
	if most > 0 {
		l.compact(best, now)
	}
}

// compact moves the live records of the segment at slot to the tail, marks
// kept, and drops it.
func (l *Log) compact(slot uint32, now int64) {
	if int(slot) == l.tail {
		l.tail = -1 // the moved records go to a new segment
	}
	buf, live := l.segs[slot].buf, l.segs[slot].live
	moved := 0
	for off := 0; off < len(buf) && moved < live; {
		rec := buf[off:]
		rec = rec[:recordSize(rec)]
		if r, ok := l.locate(l.hash(recordKey(rec)), uint64(slot)<<32|uint64(off)); ok {
			l.repoint(r, l.moveRecord(rec, true, now))
			moved += len(rec)
		}
		off += len(rec)
	}
	l.segs[slot].live = 0
	l.garbage += int64(live)
	l.drop(slot)
}

// Oldest returns the clock reading at which the oldest segment holding
// items was opened (no item in l was written earlier), and false if l holds
// no items. Eviction compares it across Logs.
func (l *Log) Oldest() (int64, bool) {
	if l.items == 0 {
		return 0, false
	}
	return l.segs[l.order[0]].created, true
}

// EvictOne removes one item, the first written of those not read since they
// were written, in the order of the segments: a record read since gets a
// second chance, copied to the tail with its mark cleared. It returns the
// evicted key's and value's lengths, and false if l holds no items. now
// dates the segments it opens.
//
// A record given a second chance while the head segment is also the tail
// goes to a new segment, so that Oldest tells how recent it is; EvictOne
// never evicts a record it moved itself, and returns false when it gave
// every record left a second chance: the Log is then younger than it was,
// and another may hold older items.
func (l *Log) EvictOne(now int64) (keyLen, valueLen int, ok bool) {
	moved := -1 // the slot of the segment this call opened for second chances
	for l.items > 0 {
		slot := l.order[0]
		buf := l.segs[slot].buf
		if l.cursor >= len(buf) || int(slot) == moved {
			// Every record before the cursor is dead, so a segment passed
			// whole was dropped by kill, unless it is the tail, and then
			// the only segment: no item is left. Or the cursor reached the
			// records this call moved.
			return 0, 0, false
		}
		off := l.cursor
		rec := buf[off:]
		rec = rec[:recordSize(rec)]
		l.cursor += len(rec)
		pos := uint64(slot)<<32 | uint64(off)
		r, live := l.locate(l.hash(recordKey(rec)), pos)
		if !live {
			continue
		}
		if recordUsed(rec) {
			sealed := int(slot) == l.tail
			if sealed {
				l.tail = -1
			}
			l.repoint(r, l.moveRecord(rec, false, now))
			if sealed {
				moved = l.tail
			}
			l.kill(pos, len(rec))
			continue
		}
		keyLen, valueLen = l.removeAt(r, rec)
		return keyLen, valueLen, true
	}
	return 0, 0, false
}
