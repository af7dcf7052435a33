package store

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Default service limits, matching Momento's published ones.
const (
	// DefaultMaxItemSize is the largest key plus value accepted, in bytes (5 MB).
	DefaultMaxItemSize = 5 * 1000 * 1000
	// DefaultMaxTTL is the longest item TTL accepted.
	DefaultMaxTTL = 24 * time.Hour
	// DefaultMaxKeySize is the longest key accepted, in bytes.
	DefaultMaxKeySize = 64 * 1024
	// DefaultMaxCacheNameLength is the longest cache name accepted, in bytes.
	DefaultMaxCacheNameLength = 255
)

// Limits are the request limits a server enforces before calling a Store. A
// zero field means the default.
type Limits struct {
	// MaxItemSize bounds len(key)+len(value), in bytes. Default 5 MB.
	MaxItemSize int
	// MaxTTL bounds every TTL. Default 24 h.
	MaxTTL time.Duration
	// MaxKeySize bounds a key, in bytes. Default 64 KiB.
	MaxKeySize int
	// MaxCacheNameLength bounds a cache name, in bytes. Default 255.
	MaxCacheNameLength int
}

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	if l.MaxItemSize <= 0 {
		l.MaxItemSize = DefaultMaxItemSize
	}
	if l.MaxTTL <= 0 {
		l.MaxTTL = DefaultMaxTTL
	}
	if l.MaxKeySize <= 0 {
		l.MaxKeySize = DefaultMaxKeySize
	}
	if l.MaxCacheNameLength <= 0 {
		l.MaxCacheNameLength = DefaultMaxCacheNameLength
	}
	return l
}

// CheckCacheName returns ErrInvalidName, wrapped with the reason, for a blank,
// over-long or non-UTF-8 name.
func (l Limits) CheckCacheName(name string) error {
	l = l.WithDefaults()
	switch {
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("%w: cache name must not be blank", ErrInvalidName)
	case len(name) > l.MaxCacheNameLength:
		return fmt.Errorf("%w: cache name is %d bytes, the limit is %d", ErrInvalidName, len(name), l.MaxCacheNameLength)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: cache name must be valid UTF-8", ErrInvalidName)
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
