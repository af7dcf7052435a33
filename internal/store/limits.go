package store

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Default service limits, matching Momento's published ones.
const (
	// DefaultMaxItemSize is the largest key plus value accepted, in bytes:
	// 4883 KiB (5,000,192 bytes), the max_item_size_kb that the service's
	// ListCaches reports and the SDKs' integration tests expect, and just
	// over the "5 MB" of the docs, so that a 5,000,000-byte value with a
	// short key fits, as it does on the service.
	DefaultMaxItemSize = 4883 * 1024
	// RequestOverhead is what a request may carry beyond the item size limit
	// by default: the protocol's field tags, lengths, TTL and condition
	// around the largest item (a Set of a full-size item adds about 20
	// bytes). See Limits.MaxRequestSize.
	RequestOverhead = 1024
	// DefaultMaxElementSize bounds one element of a collection (a dictionary
	// field or value, a set member, a list value, a sorted-set value), in
	// bytes: the "128 KB" of the service's published limits, read as KiB
	// like its item size. No SDK test pins it.
	DefaultMaxElementSize = 128 * 1024
	// DefaultMaxTTL is the longest item TTL accepted.
	DefaultMaxTTL = 24 * time.Hour
	// DefaultMaxKeySize is the longest key accepted, in bytes.
	DefaultMaxKeySize = 64 * 1024
	// DefaultMaxCacheNameLength is the longest cache name accepted, in bytes.
	DefaultMaxCacheNameLength = 255

	// The topic limits are the values the service's ListCaches reports for
	// a new cache, which the SDKs' integration tests pin
	// (client-sdk-javascript common-integration-tests
	// create-delete-list-cache.ts: each topic limit is 100).

	// DefaultMaxTopicSubscriptions is how many subscriptions one cache's
	// topics may have at once.
	DefaultMaxTopicSubscriptions = 100
	// DefaultMaxTopicPublishRate is how many publishes per second one
	// cache's topics accept, sustained; a burst of as many is allowed.
	DefaultMaxTopicPublishRate = 100
	// DefaultMaxTopicMessageSize is the largest published value, in bytes:
	// the 100 KiB of max_publish_message_size_kb.
	DefaultMaxTopicMessageSize = 100 * 1024
	// DefaultMaxTopicNameLength is the longest topic name accepted, in bytes.
	DefaultMaxTopicNameLength = 255
)

// Sentinel errors of the topic limits.
var (
	// ErrInvalidTopicName means a topic name is blank, too long or not UTF-8.
	ErrInvalidTopicName = errors.New("store: invalid topic name")
	// ErrTooManySubscriptions means a cache's topics have as many
	// subscriptions as Limits.MaxTopicSubscriptions allows. Its text holds
	// "subscribers", the word the Node SDK looks for.
	ErrTooManySubscriptions = errors.New("store: topic subscribers limit exceeded")
	// ErrRateExceeded means a cache's topics were published to faster than
	// Limits.MaxTopicPublishRate allows. Its text holds "operations", the
	// word the Node SDK looks for.
	ErrRateExceeded = errors.New("store: too many operations: publish rate limit exceeded")
)

// Limits are the request limits a server enforces before calling a Store. A
// zero field means the default.
type Limits struct {
	// MaxItemSize bounds len(key)+len(value), in bytes. Default
	// DefaultMaxItemSize (4883 KiB).
	MaxItemSize int
	// MaxTTL bounds every TTL. Default 24 h.
	MaxTTL time.Duration
	// MaxElementSize bounds each element a collection write adds, in bytes.
	// Default DefaultMaxElementSize (128 KiB).
	MaxElementSize int
	// MaxKeySize bounds a key, in bytes. Default 64 KiB.
	MaxKeySize int
	// MaxCacheNameLength bounds a cache name, in bytes. Default 255.
	MaxCacheNameLength int
	// MaxRequestSize bounds the encoded size of one request message, in
	// bytes; a larger one fails with ErrRequestTooLarge before its handler
	// runs, as the service refuses it. The items of a batch (SetBatch,
	// GetBatch) count one by one, each as the request it stands for.
	// Default MaxItemSize plus RequestOverhead, so that a request carrying
	// one item of the largest size fits and its item is judged by
	// MaxItemSize. The server's transport accepts messages above it (see
	// server.MaxMessageSize), so that thaw, not gRPC, refuses them.
	MaxRequestSize int

	// MaxTopicSubscriptions bounds the subscriptions open at once on the
	// topics of one cache; one more is refused with
	// ErrTooManySubscriptions. Default DefaultMaxTopicSubscriptions (100).
	MaxTopicSubscriptions int
	// MaxTopicPublishRate bounds the publishes per second to the topics of
	// one cache, with a burst of as many; more are refused with
	// ErrRateExceeded. Default DefaultMaxTopicPublishRate (100).
	MaxTopicPublishRate int
	// MaxTopicMessageSize bounds a published value, in bytes; a larger one
	// is refused with ErrItemTooLarge. Default DefaultMaxTopicMessageSize
	// (100 KiB).
	MaxTopicMessageSize int
	// MaxTopicNameLength bounds a topic name, in bytes. Default 255.
	MaxTopicNameLength int
}

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	if l.MaxItemSize <= 0 {
		l.MaxItemSize = DefaultMaxItemSize
	}
	if l.MaxTTL <= 0 {
		l.MaxTTL = DefaultMaxTTL
	}
	if l.MaxElementSize <= 0 {
		l.MaxElementSize = DefaultMaxElementSize
	}
	if l.MaxKeySize <= 0 {
		l.MaxKeySize = DefaultMaxKeySize
	}
	if l.MaxCacheNameLength <= 0 {
		l.MaxCacheNameLength = DefaultMaxCacheNameLength
	}
	if l.MaxRequestSize <= 0 {
		l.MaxRequestSize = l.MaxItemSize + min(RequestOverhead, math.MaxInt-l.MaxItemSize)
	}
	if l.MaxTopicSubscriptions <= 0 {
		l.MaxTopicSubscriptions = DefaultMaxTopicSubscriptions
	}
	if l.MaxTopicPublishRate <= 0 {
		l.MaxTopicPublishRate = DefaultMaxTopicPublishRate
	}
	if l.MaxTopicMessageSize <= 0 {
		l.MaxTopicMessageSize = DefaultMaxTopicMessageSize
	}
	if l.MaxTopicNameLength <= 0 {
		l.MaxTopicNameLength = DefaultMaxTopicNameLength
	}
	return l
}

// CheckCacheName returns ErrInvalidName, wrapped with the reason, for a blank,
// over-long or non-UTF-8 name.
func (l Limits) CheckCacheName(name string) error {
	return checkName(ErrInvalidName, "cache", name, l.WithDefaults().MaxCacheNameLength)
}

// checkName returns sentinel, wrapped with the reason, for a blank name, one
// longer than limit bytes or one that is not UTF-8; kind ("cache", "topic")
// starts the reason.
func checkName(sentinel error, kind, name string, limit int) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("%w: %s name must not be blank", sentinel, kind)
	case len(name) > limit:
		return fmt.Errorf("%w: %s name is %d bytes, the limit is %d", sentinel, kind, len(name), limit)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: %s name must be valid UTF-8", sentinel, kind)
	}
	return nil
}

// CheckTopicName returns ErrInvalidTopicName, wrapped with the reason, for a
// blank, over-long or non-UTF-8 topic name.
func (l Limits) CheckTopicName(name string) error {
	return checkName(ErrInvalidTopicName, "topic", name, l.WithDefaults().MaxTopicNameLength)
}

// CheckTopicMessageSize returns ErrItemTooLarge, wrapped with the sizes,
// when a published value of size bytes exceeds MaxTopicMessageSize.
func (l Limits) CheckTopicMessageSize(size int) error {
	l = l.WithDefaults()
	if size > l.MaxTopicMessageSize {
		return fmt.Errorf("%w: topic message of %d bytes exceeds the limit of %d bytes", ErrItemTooLarge, size, l.MaxTopicMessageSize)
	}
	return nil
}

// CheckKey returns ErrInvalidKey, wrapped with the reason, for an empty or
// over-long key.
func (l Limits) CheckKey(key []byte) error {
	l = l.WithDefaults()
	switch {
	case len(key) == 0:
		return fmt.Errorf("%w: key must not be empty", ErrInvalidKey)
	case len(key) > l.MaxKeySize:
		return fmt.Errorf("%w: key is %d bytes, the limit is %d", ErrInvalidKey, len(key), l.MaxKeySize)
	}
	return nil
}

// CheckTTL returns ErrInvalidTTL, wrapped with the reason, for a TTL of zero or
// one above MaxTTL. The wire carries milliseconds.
func (l Limits) CheckTTL(ttlMillis uint64) error {
	l = l.WithDefaults()
	switch {
	case ttlMillis == 0:
		return fmt.Errorf("%w: ttl must be positive", ErrInvalidTTL)
	case ttlMillis > uint64(l.MaxTTL/time.Millisecond):
		return fmt.Errorf("%w: ttl of %d ms exceeds the maximum of %d ms", ErrInvalidTTL, ttlMillis, l.MaxTTL.Milliseconds())
	}
	return nil
}

// CheckItemSize returns ErrItemTooLarge, wrapped with the sizes, when key and
// value together exceed MaxItemSize.
func (l Limits) CheckItemSize(key, value []byte) error {
	l = l.WithDefaults()
	if size := len(key) + len(value); size > l.MaxItemSize {
		return fmt.Errorf("%w: item size %d bytes exceeds the limit of %d bytes", ErrItemTooLarge, size, l.MaxItemSize)
	}
	return nil
}

// CheckRequestSize returns ErrRequestTooLarge, wrapped with the sizes, when a
// request message of size bytes exceeds MaxRequestSize.
func (l Limits) CheckRequestSize(size int) error {
	l = l.WithDefaults()
	if size > l.MaxRequestSize {
		return fmt.Errorf("%w: the request is %d bytes, the limit is %d bytes", ErrRequestTooLarge, size, l.MaxRequestSize)
	}
	return nil
}

// CheckElements returns ErrElementTooLarge, wrapped with the size, for the
// first element larger than MaxElementSize.
func (l Limits) CheckElements(elements ...[]byte) error {
	l = l.WithDefaults()
	for _, e := range elements {
		if len(e) > l.MaxElementSize {
			return fmt.Errorf("%w: element size %d bytes exceeds the limit of %d bytes", ErrElementTooLarge, len(e), l.MaxElementSize)
		}
	}
	return nil
}
