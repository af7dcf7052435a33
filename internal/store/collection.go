package store

import (
	"errors"
	"time"
)

// ErrWrongType means a call for one kind of item (a scalar, or one of the
// collection types) found a key holding another kind.
var ErrWrongType = errors.New("store: key holds another type of item")

// CollectionWrite says how a write treats the collection it changes.
type CollectionWrite struct {
	// TTL is the collection's time to live; it must be positive.
	TTL time.Duration
	// RefreshTTL sets the collection's TTL to TTL on every write. When it is
	// false, TTL applies only when the write creates the collection, and an
	// existing collection keeps its expiry.
	RefreshTTL bool
	// MaxSize bounds the size of the whole collection after the write: its
	// key plus the bytes of all its elements (fields and values, members,
	// list values, sorted-set values plus 8 bytes per score). A write that
	// would exceed it changes nothing and fails with ErrItemTooLarge. Zero
	// means no bound.
	MaxSize int
}

// Collections are the operations on the protocol's collection types. Each
// is one atomic operation on one key, which a Redis backend expresses as one
// command or one script on a HASH, SET, LIST or ZSET. Every operation on a
// key that holds another kind of item fails with ErrWrongType; a collection
// whose last element is removed disappears, as if deleted; reads of a
// missing collection report it as not found rather than empty.
type Collections interface {
	DictionaryStore
	SetStore
	ListStore
	SortedSetStore
}
