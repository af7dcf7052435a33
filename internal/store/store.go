// Package store defines what thaw's cache server needs from a storage backend:
// named caches of scalar items with per-item TTLs, and the atomic conditional
// writes, increments and TTL updates of the Momento protocol.
//
// The interface names no memory-only concept. Every method is one atomic
// operation that a networked backend can express (a Redis backend maps
// SetIf and Increment to a script or a single command, UpdateTTL to
// PEXPIRE with GT/LT), so that the server and the conformance suite in
// storetest treat all backends alike.
package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"
)

// Sentinel errors returned, possibly wrapped, by every Store. The gRPC layer
// maps them to status codes with errors.Is.
var (
	// ErrCacheNotFound means the named cache does not exist.
	ErrCacheNotFound = errors.New("store: cache not found")
	// ErrCacheExists means CreateCache was asked for a cache that exists.
	ErrCacheExists = errors.New("store: cache already exists")
	// ErrCacheLimit means CreateCache was refused because the store holds
	// as many caches as its configured limit allows (memory.Config.MaxCaches,
	// `thaw serve --max-caches`). The service answers RESOURCE_EXHAUSTED
	// ("Your account has a limit of 10 caches").
	ErrCacheLimit = errors.New("store: cache limit exceeded")
	// ErrNotInteger means Increment found a value that is not a base-10 int64.
	ErrNotInteger = errors.New("store: value is not an integer")
	// ErrOverflow means Increment would leave the int64 range.
	ErrOverflow = errors.New("store: increment would overflow")
	// ErrItemTooLarge means an item exceeds the configured maximum item size.
	ErrItemTooLarge = errors.New("store: item size exceeds the limit")
	// ErrElementTooLarge means one element of a collection write exceeds
	// the configured maximum element size.
	ErrElementTooLarge = errors.New("store: element size exceeds the limit")
	// ErrRequestTooLarge means a whole request message exceeds the
	// configured maximum request size. Its text holds "request limit", the
	// words the Node SDK looks for to tell it from other limits.
	ErrRequestTooLarge = errors.New("store: request limit exceeded")
	// ErrInvalidName means a cache name is blank, too long or not UTF-8.
	ErrInvalidName = errors.New("store: invalid cache name")
	// ErrInvalidKey means a key is empty or too long.
	ErrInvalidKey = errors.New("store: invalid key")
	// ErrInvalidTTL means a TTL is zero or above the configured maximum.
	ErrInvalidTTL = errors.New("store: invalid ttl")
	// ErrClosed means the store has been closed.
	ErrClosed = errors.New("store: closed")
	// ErrUnavailable means the store's backend cannot be reached for now
	// (a refused or broken connection, a cluster without a master for a
	// slot): the call may succeed when retried later.
	ErrUnavailable = errors.New("store: unavailable")
)

// Pinger is implemented by a Store whose backend can become unreachable,
// such as a Redis Cluster: Ping reports, within ctx, whether the backend
// answers. The server polls it for its health check.
type Pinger interface {
	Ping(ctx context.Context) error
}

// ConditionKind selects when SetIf writes.
type ConditionKind int

// The SetIf conditions of the Momento protocol.
const (
	// Present writes only when the key holds a value.
	Present ConditionKind = iota + 1
	// PresentAndNotEqual writes when the key holds a value other than Condition.Value.
	PresentAndNotEqual
	// Absent writes only when the key holds no value.
	Absent
	// Equal writes only when the key holds exactly Condition.Value.
	Equal
	// AbsentOrEqual writes when the key is missing or holds Condition.Value.
	AbsentOrEqual
	// NotEqual writes when the key is missing or holds a value other than Condition.Value.
	NotEqual

	// The hash conditions of SetIfHash compare Condition.Value with Hash of
	// the current value instead of with the value itself.

	// PresentAndHashEqual writes when the key holds a value whose Hash is Condition.Value.
	PresentAndHashEqual
	// PresentAndNotHashEqual writes when the key holds a value whose Hash is not Condition.Value.
	PresentAndNotHashEqual
	// AbsentOrHashEqual writes when the key is missing or its value's Hash is Condition.Value.
	AbsentOrHashEqual
	// AbsentOrNotHashEqual writes when the key is missing or its value's Hash is not Condition.Value.
	AbsentOrNotHashEqual
)

// String names the condition as the protocol does.
func (k ConditionKind) String() string {
	switch k {
	case Present:
		return "present"
	case PresentAndNotEqual:
		return "present_and_not_equal"
	case Absent:
		return "absent"
	case Equal:
		return "equal"
	case AbsentOrEqual:
		return "absent_or_equal"
	case NotEqual:
		return "not_equal"
	case PresentAndHashEqual:
		return "present_and_hash_equal"
	case PresentAndNotHashEqual:
		return "present_and_not_hash_equal"
	case AbsentOrHashEqual:
		return "absent_or_hash_equal"
	case AbsentOrNotHashEqual:
		return "absent_or_not_hash_equal"
	}
	return "unknown"
}

// Condition is the guard of a SetIf. Value is the comparand of the *Equal kinds
// (a value, or for the hash kinds a hash as Hash returns it) and ignored by
// Present and Absent.
type Condition struct {
	Kind  ConditionKind
	Value []byte
}

// Holds reports whether the condition holds for the current state of a key:
// current is its value and exists says whether it has one. Backends that
// evaluate conditions in-process use it so that all agree on the semantics.
func (c Condition) Holds(current []byte, exists bool) bool {
	switch c.Kind {
	case Present:
		return exists
	case PresentAndNotEqual:
		return exists && string(current) != string(c.Value)
	case Absent:
		return !exists
	case Equal:
		return exists && string(current) == string(c.Value)
	case AbsentOrEqual:
		return !exists || string(current) == string(c.Value)
	case NotEqual:
		return !exists || string(current) != string(c.Value)
	case PresentAndHashEqual:
		return exists && c.hashMatches(current)
	case PresentAndNotHashEqual:
		return exists && !c.hashMatches(current)
	case AbsentOrHashEqual:
		return !exists || c.hashMatches(current)
	case AbsentOrNotHashEqual:
		return !exists || !c.hashMatches(current)
	}
	return false
}

// hashMatches reports whether the hash of current is the condition's Value.
func (c Condition) hashMatches(current []byte) bool {
	return bytes.Equal(Hash(current), c.Value)
}

// HashSize is the length of every hash Hash returns.
const HashSize = 2 * sha256.Size

// Hash is the hash of a scalar value that GetWithHash and SetIfHash return
// and the hash conditions compare: the SHA-256 digest of the value's bytes
// (the key is not part of it), written as 64 lower-case hex digits.
//
// Momento does not publish the algorithm of its service, so clients must
// treat a hash as opaque bytes that they only compare with another. It is
// ASCII so that the SDKs' hashString(), which decodes the bytes as UTF-8,
// loses nothing when a client sends the string back. Computing it from the
// stored value, rather than remembering the hash of the last SetIfHash,
// keeps it right after plain Set, Increment and SetIf writes too.
func Hash(value []byte) []byte {
	sum := sha256.Sum256(value)
	return hex.AppendEncode(make([]byte, 0, HashSize), sum[:])
}

// TTLUpdateKind selects how UpdateTTL treats the item's current TTL.
type TTLUpdateKind int

// The UpdateTtl modes of the Momento protocol.
const (
	// IncreaseTo applies the new TTL only if it is longer than the remaining one.
	IncreaseTo TTLUpdateKind = iota + 1
	// DecreaseTo applies the new TTL only if it is shorter than the remaining one.
	DecreaseTo
	// OverwriteTo applies the new TTL unconditionally.
	OverwriteTo
)

// TTLUpdateResult is the outcome of UpdateTTL.
type TTLUpdateResult int

// Outcomes of UpdateTTL.
const (
	// TTLSet means the new TTL was applied.
	TTLSet TTLUpdateResult = iota + 1
	// TTLNotSet means the key exists but the increase/decrease condition failed.
	TTLNotSet
	// TTLMissing means the key does not exist.
	TTLMissing
)

// ItemType is the kind of value a key holds: a scalar or one of the
// protocol's collection types.
type ItemType int

// Item types, numbered as in the protocol's ItemGetType response.
const (
	ItemScalar ItemType = iota
	ItemDictionary
	ItemSet
	ItemList
	ItemSortedSet
)

// Stats are a backend's gauges and counters for metrics.
type Stats struct {
	// Items is the number of live items across all caches.
	Items int64
	// Bytes is the memory accounted to items (keys, values and overhead)
	// and, in a backend that holds caches itself, to each cache's
	// structures.
	Bytes int64
	// Evictions counts items removed to stay under the memory limit.
	Evictions int64
	// Expirations counts items removed because their TTL passed.
	Expirations int64
}

// Store is a set of named caches of scalar items. Every method is safe for
// concurrent use and atomic with respect to the others on the same key.
// Every method that names a cache returns ErrCacheNotFound when it does not
// exist. TTLs are positive; an item whose TTL has passed is never returned
// and counts as absent for every condition. Keys and values are arbitrary
// bytes; callers must not modify slices after passing them in, and must not
// modify slices a Store returns.
type Store interface {
	// CreateCache creates an empty cache, or returns ErrCacheExists. A
	// backend configured with a limit on the number of caches returns
	// ErrCacheLimit when it holds that many; the check and the creation are
	// one atomic step, and an existing name is ErrCacheExists whatever the
	// count.
	CreateCache(ctx context.Context, cache string) error
	// DeleteCache removes a cache and all its items.
	DeleteCache(ctx context.Context, cache string) error
	// FlushCache removes all items of a cache and keeps the cache.
	FlushCache(ctx context.Context, cache string) error
	// ListCaches returns the names of all caches, sorted.
	ListCaches(ctx context.Context) ([]string, error)

	// Get returns the value of key and whether it was found.
	Get(ctx context.Context, cache string, key []byte) (value []byte, found bool, err error)
	// Set stores value under key with the given TTL, replacing any value.
	Set(ctx context.Context, cache string, key, value []byte, ttl time.Duration) error
	// SetIf stores value under key with the given TTL when cond holds, as one
	// atomic step, and reports whether it stored. The hash kinds compare with
	// Hash of the current value; a backend that cannot hash in its atomic
	// step (Redis scripts offer SHA-1 only) keeps each scalar's Hash beside
	// it, written with the value.
	SetIf(ctx context.Context, cache string, key, value []byte, ttl time.Duration, cond Condition) (stored bool, err error)
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, cache string, key []byte) error
	// KeysExist reports, for each key in order, whether it holds a value.
	KeysExist(ctx context.Context, cache string, keys [][]byte) ([]bool, error)
	// Increment adds amount to the base-10 integer stored under key and
	// returns the result, atomically. A missing key is created holding amount.
	// The item's TTL is set to ttl, as on every write. A value that is not an
	// int64 in base 10 is ErrNotInteger; leaving the int64 range is ErrOverflow.
	Increment(ctx context.Context, cache string, key []byte, amount int64, ttl time.Duration) (int64, error)
	// UpdateTTL changes the TTL of an existing key as kind says.
	UpdateTTL(ctx context.Context, cache string, key []byte, kind TTLUpdateKind, ttl time.Duration) (TTLUpdateResult, error)
	// ItemTTL returns the remaining TTL of key and whether it was found.
	ItemTTL(ctx context.Context, cache string, key []byte) (remaining time.Duration, found bool, err error)
	// ItemType returns the kind of value stored under key and whether it was found.
	ItemType(ctx context.Context, cache string, key []byte) (ItemType, bool, error)

	// Collections are the dictionary, set, list and sorted-set operations.
	// Delete, KeysExist, UpdateTTL, ItemTTL and ItemType work on every kind
	// of item; Get, SetIf and Increment on a collection fail with
	// ErrWrongType, and Set replaces whatever the key held.
	Collections

	// TopicStore is publish and subscribe on the topics of each cache.
	// Deleting a cache ends its topics' subscriptions with
	// ErrCacheNotFound; flushing one ends them with ErrTopicReset and drops
	// what the topics retained.
	TopicStore

	// Stats returns current gauges and counters.
	Stats() Stats
	// Close releases the store's resources; later calls return ErrClosed.
	Close() error
}
