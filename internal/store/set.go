package store

import "context"

// SetStore holds the Set operations of Collections: an unordered set of
// distinct byte-string members under one key, which a Redis backend keeps in
// a SET. Members are compared bytewise; the empty string is a member like any
// other.
//
// Every operation fails with ErrCacheNotFound when the cache does not exist
// and with ErrWrongType when the key holds a scalar or another collection
// type. The reads and the removals report found == false, and change
// nothing, when the key holds no set: a set is never empty, since removing
// its last member deletes it (type and TTL included). Only SetUnion creates a
// set, and only SetUnion touches a set's TTL. Results that list members come
// in no particular order.
type SetStore interface {
	// SetUnion adds elements to the set under key (SADD plus PEXPIRE in one
	// script). Elements the set holds, and repeats within elements, are
	// added once. A missing set is created with w.TTL whatever
	// w.RefreshTTL says; an existing one gets w.TTL when w.RefreshTTL is
	// set, even when every element was already a member, and keeps its
	// expiry otherwise. An empty elements list creates nothing but still
	// refreshes an existing set's TTL. When the key and all members after the
	// union would exceed w.MaxSize, it fails with ErrItemTooLarge and
	// changes nothing.
	SetUnion(ctx context.Context, cache string, key []byte, elements [][]byte, w CollectionWrite) error

	// SetRemove removes elements from the set under key (SREM): members not
	// in the set are ignored, and a set left empty is deleted. It reports
	// whether the set existed.
	SetRemove(ctx context.Context, cache string, key []byte, elements [][]byte) (found bool, err error)

	// SetSubtractFrom replaces the set under key with the members of minuend
	// that it does not hold: the protocol's SetDifference with a minuend,
	// "cache = request - stored" (one script: SMISMEMBER, DEL, SADD). When
	// nothing is left, the set is deleted; otherwise it keeps its expiry.
	// A missing set stays missing: the request carries no TTL to create one
	// with. When the key and the new members would exceed maxSize (zero
	// means no bound) it fails with ErrItemTooLarge and changes nothing. It
	// reports whether the set existed.
	SetSubtractFrom(ctx context.Context, cache string, key []byte, minuend [][]byte, maxSize int) (found bool, err error)

	// SetDelete deletes the set under key (TYPE check plus DEL): the
	// protocol's SetDifference with the set's identity as subtrahend.
	// Unlike Delete it fails with ErrWrongType on another kind of item. It
	// reports whether the set existed.
	SetDelete(ctx context.Context, cache string, key []byte) (found bool, err error)

	// SetFetch returns every member of the set under key (SMEMBERS).
	SetFetch(ctx context.Context, cache string, key []byte) (members [][]byte, found bool, err error)

	// SetSample returns min(limit, size) distinct members of the set under
	// key, chosen at random (SRANDMEMBER with a positive count); limit 0
	// gives an empty, non-nil result for a set that exists, and a negative
	// limit counts as 0. The set is not changed.
	SetSample(ctx context.Context, cache string, key []byte, limit int) (members [][]byte, found bool, err error)

	// SetContains reports, for each of elements in order, whether the set
	// under key holds it (SMISMEMBER); contains has len(elements) entries
	// when found.
	SetContains(ctx context.Context, cache string, key []byte, elements [][]byte) (contains []bool, found bool, err error)

	// SetLength returns the number of members of the set under key (SCARD);
	// it is at least 1 when found.
	SetLength(ctx context.Context, cache string, key []byte) (length int, found bool, err error)

	// SetPop removes and returns min(count, size) members of the set under
	// key, chosen at random (SPOP with a count). Popping every member
	// deletes the set. count 0 gives an empty, non-nil result and changes
	// nothing, as in Redis; a negative count counts as 0.
	SetPop(ctx context.Context, cache string, key []byte, count int) (members [][]byte, found bool, err error)
}
