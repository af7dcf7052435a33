package store

import "context"

// DictionaryField is one field of a dictionary and its value. Both are
// arbitrary bytes; either may be empty.
type DictionaryField struct {
	Field []byte
	Value []byte
}

// DictionaryValue is the answer for one field asked of DictionaryGet: its
// value when Found, or nothing. An empty Value with Found set is a field
// that holds the empty string.
type DictionaryValue struct {
	Value []byte
	Found bool
}

// DictionaryStore holds the Dictionary operations of Collections: a map of
// fields to values under one key, which a Redis backend keeps in a HASH.
// Every method works on the live dictionary under key; one that finds the
// key holding another kind of item fails with ErrWrongType and changes
// nothing.
type DictionaryStore interface {
	// DictionaryGet returns, for each field in the order asked (repeats
	// included), its value or a miss; found is false, with no values, when
	// the dictionary does not exist. Asking for no fields answers an empty
	// slice and whether the dictionary exists. (Redis: EXISTS and HMGET in
	// one script.)
	DictionaryGet(ctx context.Context, cache string, key []byte, fields [][]byte) (values []DictionaryValue, found bool, err error)
	// DictionaryFetch returns every field and value, in no particular order;
	// found is false when the dictionary does not exist. (Redis: HGETALL.)
	DictionaryFetch(ctx context.Context, cache string, key []byte) (fields []DictionaryField, found bool, err error)
	// DictionarySet stores each field's value, adding fields that are
	// missing and replacing the values of the others; of fields repeated in
	// one call the last wins. It creates a missing dictionary and sets TTLs
	// as w says. A call with no fields changes no field and creates nothing,
	// but on an existing dictionary it is a write like any other for the TTL.
	// A dictionary that would outgrow w.MaxSize is left unchanged and the
	// call fails with ErrItemTooLarge. (Redis: HSET and PEXPIRE in one
	// script.)
	DictionarySet(ctx context.Context, cache string, key []byte, fields []DictionaryField, w CollectionWrite) error
	// DictionaryIncrement adds amount (any int64, zero included) to the
	// base-10 int64 held by field and returns the result, which it stores in
	// base 10. A missing field, or a missing dictionary, is created holding
	// amount. A value that is not a base-10 int64 fails with ErrNotInteger,
	// and a result outside the int64 range with ErrOverflow; both leave the
	// dictionary unchanged. TTLs and MaxSize as for DictionarySet. (Redis:
	// HINCRBY and PEXPIRE in one script.)
	DictionaryIncrement(ctx context.Context, cache string, key, field []byte, amount int64, w CollectionWrite) (int64, error)
	// DictionaryRemove removes the given fields; fields that are missing,
	// and a missing dictionary, are no-ops. A dictionary left without
	// fields is deleted. The TTL is unchanged. (Redis: HDEL.)
	DictionaryRemove(ctx context.Context, cache string, key []byte, fields [][]byte) error
	// DictionaryDelete deletes the whole dictionary; a missing one is a
	// no-op. Unlike Delete it refuses a key holding another kind of item.
	// (Redis: TYPE and DEL in one script.)
	DictionaryDelete(ctx context.Context, cache string, key []byte) error
	// DictionaryLength returns the number of fields; found is false when the
	// dictionary does not exist (an existing one has at least one field).
	// (Redis: HLEN after a TYPE check.)
	DictionaryLength(ctx context.Context, cache string, key []byte) (length int, found bool, err error)
}
