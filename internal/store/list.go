package store

import "context"

// ListEnd names one end of a list.
type ListEnd int

// The two ends of a list.
const (
	// ListFront is the end at index 0.
	ListFront ListEnd = iota + 1
	// ListBack is the end at index len-1.
	ListBack
)

// String names the end as the protocol does.
func (e ListEnd) String() string {
	switch e {
	case ListFront:
		return "front"
	case ListBack:
		return "back"
	}
	return "unknown"
}

// ListRange is a half-open slice [Start, End) of a list with Python's slice
// rules: a negative index counts from the end (-1 is the last element), an
// index beyond either end is clamped to it, and a range whose start falls at
// or after its end is empty. The zero value is the whole list.
type ListRange struct {
	// Start is the first index of the range, inclusive. Zero is the front.
	Start int
	// End is the index after the last one of the range, exclusive; it
	// applies only when EndBounded is set.
	End int
	// EndBounded says that End bounds the range; when it is false the range
	// runs to the end of the list.
	EndBounded bool
}

// Bounds resolves r against a list of n elements into the indexes lo ≤ hi of
// the elements it selects, [lo, hi), with 0 ≤ lo ≤ hi ≤ n. Backends use it so
// that all agree on the slice rules.
func (r ListRange) Bounds(n int) (lo, hi int) {
	lo = resolveListIndex(r.Start, n)
	hi = n
	if r.EndBounded {
		hi = resolveListIndex(r.End, n)
	}
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// resolveListIndex turns a possibly negative index into one in [0, n].
func resolveListIndex(i, n int) int {
	if i < 0 {
		i += n
	}
	return min(max(i, 0), n)
}

// ListSpan is Count elements from index Begin, counted from the front: a
// part of the list that ListErase removes.
type ListSpan struct {
	Begin int
	Count int
}

// ListStore holds the List operations of Collections: ordered sequences of
// byte strings, duplicates and empty values allowed, under one key. Each is
// one atomic operation on the key (a Redis backend uses one list command or
// one script on a LIST). Every operation returns ErrCacheNotFound for a
// missing cache and ErrWrongType when the key holds a scalar or another
// collection type. Reads report a missing list as not found. An operation
// that leaves a list with no elements deletes it, TTL and all, and reports
// the length 0; later calls see it missing. Values returned are shared with
// the store and must not be modified.
type ListStore interface {
	// ListPush adds values as one block at end, keeping their order: pushing
	// [a, b] to the front of [c] gives [a, b, c], to the back [c, a, b]. Then,
	// if truncateTo is positive and the list is longer, it removes elements
	// from the opposite end until truncateTo remain (the block itself may lose
	// some). It creates a missing list, applies w's TTL rules and returns the
	// length after truncation. It fails with ErrItemTooLarge, changing
	// nothing, if the list would exceed w.MaxSize after truncation. With no
	// values a missing list stays missing (length 0), and an existing one is
	// only truncated and has its TTL refreshed as w says.
	ListPush(ctx context.Context, cache string, key []byte, end ListEnd, values [][]byte, truncateTo int, w CollectionWrite) (length int, err error)
	// ListPop removes the element at end and returns it with the length left
	// after the pop; found is false, and nothing changes, for a missing list.
	// Popping the last element deletes the list.
	ListPop(ctx context.Context, cache string, key []byte, end ListEnd) (value []byte, length int, found bool, err error)
	// ListFetch returns the elements of r in order. found is false for a
	// missing list; an existing list whose range is empty is found with no
	// values.
	ListFetch(ctx context.Context, cache string, key []byte, r ListRange) (values [][]byte, found bool, err error)
	// ListRetain keeps only the elements of r and returns the length left;
	// found is false, and nothing changes, for a missing list, which it never
	// creates. An empty range deletes the list. When the list remains, its TTL
	// is refreshed as w says (w.MaxSize does not matter: retain only removes).
	ListRetain(ctx context.Context, cache string, key []byte, r ListRange, w CollectionWrite) (length int, found bool, err error)
	// ListLength returns the number of elements; found is false for a
	// missing list.
	ListLength(ctx context.Context, cache string, key []byte) (length int, found bool, err error)
	// ListRemoveValue removes every element equal to value, bytewise, and
	// returns the length left; found is false for a missing list. Removing a
	// value the list does not hold changes nothing. The TTL is not touched.
	ListRemoveValue(ctx context.Context, cache string, key, value []byte) (length int, found bool, err error)
	// ListErase removes the elements that any of spans covers, indexes
	// counting from the front of the list as it was before the call, and
	// returns the length left; found is false for a missing list. Spans may
	// overlap and run past the end, where they are clamped; a span with a
	// negative Begin or a Count below 1 covers nothing. The TTL is not
	// touched.
	ListErase(ctx context.Context, cache string, key []byte, spans []ListSpan) (length int, found bool, err error)
}
