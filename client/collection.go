package client

import (
	"fmt"
	"math"
	"time"
)

// The collection types (dictionaries, sets, lists, sorted sets) share the
// cache's key space with the scalars: a collection's name is its key, which
// Delete, KeysExist, ItemTTL, ItemType and UpdateTTL take like any other.
// Rules common to every collection call:
//
//   - Reads of a missing collection report found == false, never an error.
//   - A collection exists only while it has elements: the write that removes
//     its last element deletes it, TTL and all.
//   - A call on a key that holds another kind of item (a scalar, or another
//     collection type) fails with ErrFailedPrecondition.
//   - A write that would make the whole collection larger than the server's
//     item size limit fails with ErrLimitExceeded and changes nothing.
//   - Writes that add elements take a CollectionTTL.

// CollectionTTL says how a write sets the time to live of the collection it
// changes, as the Momento SDKs' CollectionTtl does. A write that creates the
// collection gives it TTL. A write to an existing collection resets its
// expiry to TTL from now, even when the write changes nothing and even when
// that shortens it, unless NoRefresh is set: then the collection keeps the
// expiry it had. The zero CollectionTTL, Config.DefaultTTL with refresh, is
// the SDKs' default (CollectionTtl.fromCacheTtl()).
type CollectionTTL struct {
	// TTL is the collection's time to live. Zero means Config.DefaultTTL;
	// negative is refused with ErrInvalidArgument; a fraction of a
	// millisecond rounds up. The server caps it (24 h by default).
	TTL time.Duration
	// NoRefresh leaves the expiry of an existing collection alone; TTL then
	// only applies when the write creates the collection. Default false: the
	// SDKs' refreshTtl defaults to true.
	NoRefresh bool
}

// DefaultCollectionTTL returns the zero CollectionTTL: Config.DefaultTTL,
// refreshed on every write. It is the SDKs' CollectionTtl.fromCacheTtl().
func DefaultCollectionTTL() CollectionTTL { return CollectionTTL{} }

// CollectionTTLOf returns ttl, refreshed on every write: the SDKs'
// CollectionTtl.of(ttl).
func CollectionTTLOf(ttl time.Duration) CollectionTTL { return CollectionTTL{TTL: ttl} }

// WithNoRefreshTTLOnUpdates returns t with NoRefresh set, so that writes to an
// existing collection keep its expiry.
func (t CollectionTTL) WithNoRefreshTTLOnUpdates() CollectionTTL {
	t.NoRefresh = true
	return t
}

// WithRefreshTTLOnUpdates returns t with NoRefresh cleared, so that every
// write resets the collection's expiry to TTL from now.
func (t CollectionTTL) WithRefreshTTLOnUpdates() CollectionTTL {
	t.NoRefresh = false
	return t
}

// String formats t as "1m0s refresh" or "1m0s no refresh"; a zero TTL reads
// "default".
func (t CollectionTTL) String() string {
	ttl := "default"
	if t.TTL != 0 {
		ttl = t.TTL.String()
	}
	if t.NoRefresh {
		return ttl + " no refresh"
	}
	return ttl + " refresh"
}

// collectionTTL converts the CollectionTTL argument of op to the wire's
// ttl_milliseconds and refresh_ttl.
func (c *Client) collectionTTL(op string, t CollectionTTL) (ms uint64, refresh bool, err error) {
	ms, err = c.ttlMillis(op, t.TTL)
	return ms, !t.NoRefresh, err
}

// IndexRange selects elements of a list or, by rank, of a sorted set, as a
// Python slice does: from a start index (inclusive) to an end index
// (exclusive), where a negative index counts from the end (-1 is the last
// element), an index beyond either end is clamped to it, and a range whose
// start falls at or after its end selects nothing. Make one with IndexSlice
// or IndexFrom; the zero IndexRange (AllIndices) selects every element.
type IndexRange struct {
	start, end int32
	hasEnd     bool
}

// AllIndices selects every element: the zero IndexRange.
func AllIndices() IndexRange { return IndexRange{} }

// IndexSlice selects the elements from start (inclusive) to end (exclusive):
// IndexSlice(0, 3) the first three, IndexSlice(-3, -1) the two before the
// last, IndexSlice(2, 2) none.
func IndexSlice(start, end int) IndexRange {
	return IndexRange{start: clampInt32(start), end: clampInt32(end), hasEnd: true}
}

// IndexFrom selects the elements from start (inclusive) to the end:
// IndexFrom(-5) the last five, IndexFrom(1) all but the first.
func IndexFrom(start int) IndexRange { return IndexRange{start: clampInt32(start)} }

// String formats r as a Python slice, such as "[2:4]", "[-5:]" or "[:]".
func (r IndexRange) String() string {
	s := "["
	if r.start != 0 {
		s += fmt.Sprint(r.start)
	}
	s += ":"
	if r.hasEnd {
		s += fmt.Sprint(r.end)
	}
	return s + "]"
}

// clampInt32 brings an index within the wire's sint32. The server clamps
// indexes to the collection anyway, and no collection has 2^31 elements, so
// clamping changes no result.
func clampInt32(i int) int32 {
	return int32(min(max(i, math.MinInt32), math.MaxInt32))
}

// nonNil returns v, or an empty non-nil slice when v is nil: a hit on an empty
// value is []byte{}, never nil, as Get returns it.
func nonNil(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}

// nonNilAll applies nonNil to every value.
func nonNilAll(vs [][]byte) [][]byte {
	for i, v := range vs {
		vs[i] = nonNil(v)
	}
	return vs
}
