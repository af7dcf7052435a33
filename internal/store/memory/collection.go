package memory

import (
	"fmt"

	"github.com/thaw-dev/thaw/internal/store"
)

// collection is the elements of a dictionary, set, list or sorted set. It is
// changed in place under its shard's lock; the type of each kind lives in a
// file of its own.
type collection interface {
	// kind is the collection's item type.
	kind() store.ItemType
	// len is the number of elements; a collection of none is removed.
	len() int
	// payload is the size that the item size limit counts: the bytes of all
	// fields, values and members, and 8 per sorted-set score.
	payload() int64
	// footprint is the memory accounted to the elements on top of the
	// entry's key and CollectionOverhead: payload plus a per-element overhead
	// measured for each kind (see the kinds' files).
	footprint() int64
}

// collectionOp says how withCollection treats one operation.
type collectionOp struct {
	// name names the operation in errors.
	name string
	// kind is the collection type the operation works on.
	kind store.ItemType
	// write, when not nil, marks an operation that may create the collection
	// (see create) and sets its TTL as write says. Operations that only remove
	// elements (pops, deletes, differences) leave it nil: they never create
	// a collection nor touch its TTL.
	write *store.CollectionWrite
	// create makes the empty collection a write adds to when the key is
	// missing; nil means a missing collection stays missing and fn is not
	// called.
	create func() collection
}

// room is how many more payload bytes a collection may take: its item size
// limit less the key and the payload it holds; -1 means no limit.
type room int64

// fits reports whether adding grow payload bytes stays within r.
func (r room) fits(grow int64) bool { return r < 0 || grow <= int64(r) }

// tooLarge is the error for a write that would not fit.
func tooLarge(op string, grow int64, r room) error {
	return fmt.Errorf("memory: %s: adding %d bytes leaves no room under the item size limit (%d bytes left): %w", op, grow, int64(r), store.ErrItemTooLarge)
}

// withCollection runs fn on the live collection of op.kind stored under key,
// holding the shard's lock, and does the bookkeeping every collection
// operation shares: the type check, creating a missing collection for a
// write, TTL rules, memory accounting, removing a collection left empty, and
// eviction under a memory limit. fn must check everything that can fail
// before it changes the collection. found reports whether the collection
// existed (or was created) when fn ran; fn is not called when it did not.
func (s *Store) withCollection(cacheName string, key []byte, op collectionOp, fn func(c collection, r room) error) (found bool, err error) {
	ca, err := s.cache(op.name, cacheName)
	if err != nil {
		return false, err
	}
	if op.write != nil {
		if err := checkTTL(op.name, op.write.TTL); err != nil {
			return false, err
		}
	}
	// Only a write that creates a missing collection needs the shard made;
	// in a shard never used, every other operation finds nothing.
	h := s.hash(key)
	var sh *shard
	if op.create != nil && op.write != nil {
		sh = ca.shardAt(h)
	} else if sh = ca.madeShardAt(h); sh == nil {
		return false, nil
	}
	now := s.now()
	sh.mu.Lock()
	if sh.dead {
		sh.mu.Unlock()
		return false, s.goneErr(op.name, cacheName)
	}
	if _, scalar := sh.scalarLocked(h, key, now); scalar {
		sh.mu.Unlock()
		return false, wrongKind(op, store.ItemScalar)
	}
	e := sh.liveCollLocked(key, now)
	if e != nil && e.kind() != op.kind {
		sh.mu.Unlock()
		return false, wrongKind(op, e.kind())
	}
	var c collection
	switch {
	case e != nil:
		c = e.coll
	case op.create != nil && op.write != nil:
		c = op.create()
	default:
		sh.mu.Unlock()
		return false, nil
	}

	r := room(-1)
	if op.write != nil && op.write.MaxSize > 0 {
		r = room(int64(op.write.MaxSize) - int64(len(key)) - c.payload())
	}
	before := c.footprint()
	err = fn(c, r)
	var grew int64
	switch {
	case e == nil && (err != nil || c.len() == 0):
		// A collection created for a write that failed or added nothing is
		// never stored.
	case e == nil:
		grew = sh.insertCollLocked(&entry{key: string(key), coll: c, expires: deadline(now, op.write.TTL), heapKey: deadline(now, op.write.TTL), used: now})
	case c.len() == 0:
		sh.accountLocked(0, c.footprint()-before)
		sh.removeCollLocked(e)
	default:
		grew = c.footprint() - before
		sh.accountLocked(0, grew)
		if err == nil && op.write != nil && op.write.RefreshTTL {
			sh.setExpiresLocked(e, deadline(now, op.write.TTL))
		}
		sh.touchLocked(e, now)
	}
	sh.mu.Unlock()
	s.evictIfOver(grew)
	return true, err
}

// wrongKind is the error for op on a key that holds an item of type held.
func wrongKind(op collectionOp, held store.ItemType) error {
	return fmt.Errorf("memory: %s: key holds a %s, not a %s: %w", op.name, typeName(held), typeName(op.kind), store.ErrWrongType)
}

// typeName names an item type in error messages.
func typeName(t store.ItemType) string {
	switch t {
	case store.ItemScalar:
		return "scalar"
	case store.ItemDictionary:
		return "dictionary"
	case store.ItemSet:
		return "set"
	case store.ItemList:
		return "list"
	case store.ItemSortedSet:
		return "sorted set"
	}
	return fmt.Sprintf("item type %d", int(t))
}

// clone copies b into a slice that the store owns.
func clone(b []byte) []byte {
	if len(b) == 0 {
		return []byte{}
	}
	return append(make([]byte, 0, len(b)), b...)
}
