package main

import (
	"fmt"
	"strconv"
)

// fieldLen is the length of every dictionary field name that a workload
// writes; defaultKeyLen is the length of every key unless -key-len says
// otherwise, and minKeyLen the shortest that names 10,000,000 keys.
const (
	fieldLen      = 16
	defaultKeyLen = 16
	minKeyLen     = 9
)

// kind is an item type, named as Redis names it.
type kind int

const (
	kindString kind = iota // scalar items: the baseline
	kindHash               // thaw dictionaries
	kindSet                // thaw sets
	kindList               // thaw lists
	kindZSet               // thaw sorted sets
)

// kinds are all kinds in the order of the table.
var kinds = []kind{kindString, kindHash, kindSet, kindList, kindZSet}

func (k kind) String() string {
	switch k {
	case kindString:
		return "string"
	case kindHash:
		return "hash"
	case kindSet:
		return "set"
	case kindList:
		return "list"
	case kindZSet:
		return "zset"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// parseKind is the kind named s.
func parseKind(s string) (kind, error) {
	for _, k := range kinds {
		if k.String() == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("unknown kind %q (want string, hash, set, list or zset)", s)
}

// workload is one row of the table: the same elements are loaded into thaw
// and into Redis, and each side's growth is divided by elements().
type workload struct {
	kind kind
	// keys is the number of keys and perKey the number of elements under
	// each; a string key holds one element, its value.
	keys, perKey int
	// size is the length of every element's value: a string's value, a
	// dictionary value, a set member, a list value, a sorted-set member.
	size int
	// batch is the most elements written to one key by one call (one
	// command in Redis).
	batch int
	// keyLen is the length of every key.
	keyLen int
}

// elements is the number of elements the workload loads.
func (w workload) elements() int { return w.keys * w.perKey }

// shape names how the elements are spread over keys.
func (w workload) shape() string {
	if w.kind == kindString {
		return fmt.Sprintf("%d keys", w.keys)
	}
	return fmt.Sprintf("%d×%d", w.keys, w.perKey)
}

// payload is the bytes an element brings of its own: for a string its key
// and value, for a hash its field name and value, for a sorted set its
// member and its 8-byte score, for the others the value. It leaves out the
// collection keys, which the per-element figures share among perKey.
func (w workload) payload() int {
	switch w.kind {
	case kindString:
		return w.keyLen + w.size
	case kindHash:
		return fieldLen + w.size
	case kindZSet:
		return w.size + 8
	}
	return w.size
}

// write is one write to one key: a Set, or one collection write of up to
// workload.batch elements. Its slices are reused by the next write.
type write struct {
	key []byte
	// first reports the first write to key, which creates it; Redis then
	// gets a PEXPIRE for it.
	first bool
	// values are the elements' values: one for a string.
	values [][]byte
	// fields are the dictionary field names of a hash, one per value.
	fields [][]byte
	// scores are the sorted-set scores of a zset, one per value.
	scores []float64
}

// each calls fn for every write of w, in the same order on every call, and
// stops at the first error. The bytes it hands to fn are reused by the next
// call, so that a store which keeps copies is all the heap grows by.
func (w workload) each(fn func(*write) error) error {
	batch := max(1, min(w.batch, w.perKey))
	arena := make([]byte, 0, w.keyLen+batch*(fieldLen+w.size))
	wr := &write{
		values: make([][]byte, 0, batch),
		fields: make([][]byte, 0, batch),
		scores: make([]float64, 0, batch),
	}
	for k := range w.keys {
		for start := 0; start < w.perKey; start += batch {
			arena = appendName(arena[:0], 'k', k, w.keyLen)
			wr.key = arena[:w.keyLen]
			wr.first = start == 0
			wr.values, wr.fields, wr.scores = wr.values[:0], wr.fields[:0], wr.scores[:0]
			for i := start; i < min(start+batch, w.perKey); i++ {
				n := k*w.perKey + i // unique across the workload
				if w.kind == kindHash {
					from := len(arena)
					arena = appendName(arena, 'f', i, fieldLen)
					wr.fields = append(wr.fields, arena[from:])
				}
				from := len(arena)
				arena = appendValue(arena, n, w.size)
				wr.values = append(wr.values, arena[from:])
				if w.kind == kindZSet {
					wr.scores = append(wr.scores, score(n))
				}
			}
			if err := fn(wr); err != nil {
				return err
			}
		}
	}
	return nil
}

// appendName appends a name of size bytes: prefix and n in size-1 decimal
// digits.
func appendName(b []byte, prefix byte, n, size int) []byte {
	return fmt.Appendf(b, "%c%0*d", prefix, size-1, n)
}

// appendValue appends the size-byte value of element n: a 'v', n in decimal
// digits (so that values are distinct and no value is a number, which Redis
// would store as an integer) and letters after them.
func appendValue(b []byte, n, size int) []byte {
	digits := min(size-1, 15)
	b = fmt.Appendf(b, "v%0*d", digits, n)
	for j := range size - 1 - digits {
		b = append(b, byte('a'+(n+j)%26))
	}
	return b
}

// score is the sorted-set score of element n: an integer below 2^31 that a
// fixed hash of n picks, so that inserts land in random places and both
// sides get the same scores.
func score(n int) float64 {
	// splitmix64's finalizer.
	x := uint64(n) + 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x >> 33)
}
