package memory

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/thaw-dev/thaw/internal/store"
)

const (
	// dictionaryFieldOverhead is the memory accounted to each field on top
	// of the bytes of its name and value: its map slot (a 16-byte string
	// header and a 24-byte slice header, plus a control byte, at the map's
	// load factor) and the size-class rounding of the two allocations that
	// hold the name and the value.
	//
	// Measured, not guessed: TestDictionaryFootprint (dictionary_test.go)
	// fills a dictionary with 100k fields and compares the growth of
	// runtime.MemStats.HeapAlloc, after a GC, with the payload. On
	// linux/amd64 with Go 1.26 (with and without -race) that overhead was
	// 63 bytes per field for 16- and 24-byte names and values at 100k and
	// 200k fields (the map's table just before it doubles), 100 at 60k
	// and 120k (just after), and up to 124 for 100-byte names and values
	// or 73–127 for 1-byte ones, whose allocations round up to their size
	// class. 88 is the middle of that range across a growth cycle.
	dictionaryFieldOverhead = 88
	// dictionaryShrinkMinPeak is the smallest peak at which removing fields
	// rebuilds the map: Go maps never give back their table, so a map
	// that has lost most of its fields is copied into a smaller one.
	dictionaryShrinkMinPeak = 64
)

// dictionary is the collection behind the Dictionary operations: a map from
// field to value. Values are never modified in place, only replaced, so
// slices of them can be handed out after the shard lock is released.
type dictionary struct {
	fields map[string][]byte
	// bytes is the payload: the sum of len(field)+len(value).
	bytes int64
	// peak is the largest len(fields) since fields was made; see
	// dictionaryShrinkMinPeak.
	peak int
}

var _ collection = (*dictionary)(nil)

// newDictionary returns an empty dictionary, as a collection for collectionOp.create.
func newDictionary() collection {
	return &dictionary{fields: make(map[string][]byte)}
}

func (d *dictionary) kind() store.ItemType { return store.ItemDictionary }
func (d *dictionary) len() int             { return len(d.fields) }
func (d *dictionary) payload() int64       { return d.bytes }
func (d *dictionary) footprint() int64 {
	return d.bytes + int64(len(d.fields))*dictionaryFieldOverhead
}

// put stores value, which the dictionary now owns, under field.
func (d *dictionary) put(field string, value []byte) {
	if old, ok := d.fields[field]; ok {
		d.bytes += int64(len(value) - len(old))
	} else {
		d.bytes += int64(len(field) + len(value))
	}
	d.fields[field] = value
	d.peak = max(d.peak, len(d.fields))
}

// remove deletes field if present, and rebuilds a map that has shrunk to a
// quarter of its peak.
func (d *dictionary) remove(field []byte) {
	old, ok := d.fields[string(field)]
	if !ok {
		return
	}
	delete(d.fields, string(field))
	d.bytes -= int64(len(field) + len(old))
	if d.peak >= dictionaryShrinkMinPeak && len(d.fields) <= d.peak/4 {
		fields := make(map[string][]byte, len(d.fields))
		for f, v := range d.fields {
			fields[f] = v
		}
		d.fields = fields
		d.peak = len(fields)
	}
}

// setGrowth is how much the payload would grow if fields were stored, the
// last of repeated fields winning.
func (d *dictionary) setGrowth(fields []store.DictionaryField) int64 {
	// last maps a field to the index of its last occurrence; a single field
	// cannot repeat and needs no map.
	var last map[string]int
	if len(fields) > 1 {
		last = make(map[string]int, len(fields))
		for i, f := range fields {
			last[string(f.Field)] = i
		}
	}
	var grow int64
	for i, f := range fields {
		if last != nil && last[string(f.Field)] != i {
			continue
		}
		if old, ok := d.fields[string(f.Field)]; ok {
			grow += int64(len(f.Value) - len(old))
		} else {
			grow += int64(len(f.Field) + len(f.Value))
		}
	}
	return grow
}

// dictionaryOp is the collectionOp of a Dictionary operation named name; a
// write creates a missing dictionary and sets its TTL as w says.
func dictionaryOp(name string, w *store.CollectionWrite) collectionOp {
	op := collectionOp{name: name, kind: store.ItemDictionary, write: w}
	if w != nil {
		op.create = newDictionary
	}
	return op
}

// DictionaryGet returns the values of fields, in order, from the dictionary under key.
func (s *Store) DictionaryGet(_ context.Context, cacheName string, key []byte, fields [][]byte) ([]store.DictionaryValue, bool, error) {
	var values []store.DictionaryValue
	found, err := s.withCollection(cacheName, key, dictionaryOp("dictionary get", nil), func(c collection, _ room) error {
		d := c.(*dictionary)
		values = make([]store.DictionaryValue, len(fields))
		for i, f := range fields {
			values[i].Value, values[i].Found = d.fields[string(f)]
		}
		return nil
	})
	if err != nil || !found {
		return nil, false, err
	}
	return values, true, nil
}

// DictionaryFetch returns every field and value of the dictionary under key.
func (s *Store) DictionaryFetch(_ context.Context, cacheName string, key []byte) ([]store.DictionaryField, bool, error) {
	var fields []store.DictionaryField
	found, err := s.withCollection(cacheName, key, dictionaryOp("dictionary fetch", nil), func(c collection, _ room) error {
		d := c.(*dictionary)
		fields = make([]store.DictionaryField, 0, len(d.fields))
		for f, v := range d.fields {
			fields = append(fields, store.DictionaryField{Field: []byte(f), Value: v})
		}
		return nil
	})
	if err != nil || !found {
		return nil, false, err
	}
	return fields, true, nil
}

// DictionarySet stores copies of fields in the dictionary under key.
func (s *Store) DictionarySet(_ context.Context, cacheName string, key []byte, fields []store.DictionaryField, w store.CollectionWrite) error {
	op := dictionaryOp("dictionary set", &w)
	_, err := s.withCollection(cacheName, key, op, func(c collection, r room) error {
		d := c.(*dictionary)
		if grow := d.setGrowth(fields); !r.fits(grow) {
			return tooLarge(op.name, grow, r)
		}
		for _, f := range fields {
			d.put(string(f.Field), clone(f.Value))
		}
		return nil
	})
	return err
}

// DictionaryIncrement adds amount to the integer held by field in the
// dictionary under key and returns the result.
func (s *Store) DictionaryIncrement(_ context.Context, cacheName string, key, field []byte, amount int64, w store.CollectionWrite) (int64, error) {
	op := dictionaryOp("dictionary increment", &w)
	var sum int64
	_, err := s.withCollection(cacheName, key, op, func(c collection, r room) error {
		d := c.(*dictionary)
		sum = amount
		old, exists := d.fields[string(field)]
		if exists {
			current, err := strconv.ParseInt(string(old), 10, 64)
			if err != nil {
				return fmt.Errorf("memory: %s: field %q: %w", op.name, dictionaryErrField(field), store.ErrNotInteger)
			}
			if (amount > 0 && current > math.MaxInt64-amount) || (amount < 0 && current < math.MinInt64-amount) {
				return fmt.Errorf("memory: %s: field %q: %d + %d: %w", op.name, dictionaryErrField(field), current, amount, store.ErrOverflow)
			}
			sum = current + amount
		}
		value := strconv.AppendInt(nil, sum, 10)
		grow := int64(len(field) + len(value))
		if exists {
			grow = int64(len(value) - len(old))
		}
		if !r.fits(grow) {
			return tooLarge(op.name, grow, r)
		}
		d.put(string(field), value)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return sum, nil
}

// DictionaryRemove removes fields from the dictionary under key.
func (s *Store) DictionaryRemove(_ context.Context, cacheName string, key []byte, fields [][]byte) error {
	_, err := s.withCollection(cacheName, key, dictionaryOp("dictionary remove", nil), func(c collection, _ room) error {
		d := c.(*dictionary)
		for _, f := range fields {
			d.remove(f)
		}
		return nil
	})
	return err
}

// DictionaryDelete deletes the dictionary under key.
func (s *Store) DictionaryDelete(_ context.Context, cacheName string, key []byte) error {
	_, err := s.withCollection(cacheName, key, dictionaryOp("dictionary delete", nil), func(c collection, _ room) error {
		// withCollection removes a collection left empty.
		d := c.(*dictionary)
		d.fields = map[string][]byte{}
		d.bytes, d.peak = 0, 0
		return nil
	})
	return err
}

// DictionaryLength returns the number of fields of the dictionary under key.
func (s *Store) DictionaryLength(_ context.Context, cacheName string, key []byte) (int, bool, error) {
	var n int
	found, err := s.withCollection(cacheName, key, dictionaryOp("dictionary length", nil), func(c collection, _ room) error {
		n = c.len()
		return nil
	})
	if err != nil || !found {
		return 0, false, err
	}
	return n, true, nil
}

// dictionaryErrField shortens a field name for an error message.
func dictionaryErrField(b []byte) []byte {
	const limit = 64
	if len(b) > limit {
		return b[:limit]
	}
	return b
}
