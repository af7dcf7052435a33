package client

import (
	"context"
	"time"

	"google.golang.org/grpc"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/api/commonpb"
)

// The hash-conditional scalars: GetWithHash returns a value with a hash of
// it, and SetIfHash writes only when the hash of the stored value matches
// one the caller read before, which makes compare-and-swap possible without
// sending the old value back. The hash is opaque bytes computed by the
// server from the value alone: equal values have equal hashes, and a
// different value a different hash.

// GetWithHash returns the value stored under key in cache with its hash, and
// whether there is one. A key holding a collection fails with
// ErrFailedPrecondition. Retried.
func (c *Client) GetWithHash(ctx context.Context, cache string, key []byte) (value, hash []byte, found bool, err error) {
	req := &cachepb.XGetWithHashRequest{CacheKey: key}
	resp, err := invoke(ctx, c, rpcGetWithHash, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XGetWithHashResponse, error) {
		return ch.scs.GetWithHash(ctx, req, opts...)
	})
	if err != nil {
		return nil, nil, false, err
	}
	switch r := resp.GetResult().(type) {
	case *cachepb.XGetWithHashResponse_Found:
		return nonNil(r.Found.GetValue()), nonNil(r.Found.GetHash()), true, nil
	case *cachepb.XGetWithHashResponse_Missing:
		return nil, nil, false, nil
	}
	return nil, nil, false, unexpected("GetWithHash", "no result")
}

// HashCondition is the precondition of SetIfHash, on the hash of the value
// stored under the key. Make one with IfPresentAndHashEqual,
// IfPresentAndHashNotEqual, IfAbsentOrHashEqual or IfAbsentOrHashNotEqual;
// the zero HashCondition is invalid.
type HashCondition struct {
	kind hashConditionKind
	hash []byte
}

type hashConditionKind uint8

const (
	hashCondInvalid hashConditionKind = iota
	hashCondPresentAndEqual
	hashCondPresentAndNotEqual
	hashCondAbsentOrEqual
	hashCondAbsentOrNotEqual
)

// IfPresentAndHashEqual holds when the key has a value whose hash is hash.
func IfPresentAndHashEqual(hash []byte) HashCondition {
	return HashCondition{kind: hashCondPresentAndEqual, hash: hash}
}

// IfPresentAndHashNotEqual holds when the key has a value whose hash is not
// hash.
func IfPresentAndHashNotEqual(hash []byte) HashCondition {
	return HashCondition{kind: hashCondPresentAndNotEqual, hash: hash}
}

// IfAbsentOrHashEqual holds when the key has no value, or one whose hash is
// hash.
func IfAbsentOrHashEqual(hash []byte) HashCondition {
	return HashCondition{kind: hashCondAbsentOrEqual, hash: hash}
}

// IfAbsentOrHashNotEqual holds when the key has no value, or one whose hash
// is not hash.
func IfAbsentOrHashNotEqual(hash []byte) HashCondition {
	return HashCondition{kind: hashCondAbsentOrNotEqual, hash: hash}
}

// String names the condition.
func (c HashCondition) String() string {
	return [...]string{"invalid", "present and hash equal", "present and hash not equal", "absent or hash equal", "absent or hash not equal"}[c.kind]
}

// SetWithHash stores value under key in cache for ttl (zero:
// Config.DefaultTTL), whatever the key held, and returns the hash of the
// stored value. Retried: writing the same value twice leaves the same item
// and the same hash.
func (c *Client) SetWithHash(ctx context.Context, cache string, key, value []byte, ttl time.Duration) (hash []byte, err error) {
	ms, err := c.ttlMillis("SetWithHash", ttl)
	if err != nil {
		return nil, err
	}
	req := &cachepb.XSetIfHashRequest{CacheKey: key, CacheBody: value, TtlMilliseconds: ms,
		Condition: &cachepb.XSetIfHashRequest_Unconditional{Unconditional: &commonpb.Unconditional{}}}
	hash, stored, err := c.setIfHash(ctx, rpcSetWithHash, cache, req)
	if err == nil && !stored {
		return nil, unexpected("SetWithHash", "an unconditional write was not stored")
	}
	return hash, err
}

// SetIfHash stores value under key in cache for ttl (zero:
// Config.DefaultTTL) when cond holds, and returns the hash of the stored
// value and whether it stored it; the hash is nil when it did not. A key
// holding a collection fails with ErrFailedPrecondition. Never retried:
// after an error the write may or may not have happened, and a repeat of a
// write that did would report "not stored".
func (c *Client) SetIfHash(ctx context.Context, cache string, key, value []byte, ttl time.Duration, cond HashCondition) (hash []byte, stored bool, err error) {
	ms, err := c.ttlMillis("SetIfHash", ttl)
	if err != nil {
		return nil, false, err
	}
	req := &cachepb.XSetIfHashRequest{CacheKey: key, CacheBody: value, TtlMilliseconds: ms}
	switch cond.kind {
	case hashCondPresentAndEqual:
		req.Condition = &cachepb.XSetIfHashRequest_PresentAndHashEqual{PresentAndHashEqual: &commonpb.PresentAndHashEqual{HashToCheck: cond.hash}}
	case hashCondPresentAndNotEqual:
		req.Condition = &cachepb.XSetIfHashRequest_PresentAndNotHashEqual{PresentAndNotHashEqual: &commonpb.PresentAndNotHashEqual{HashToCheck: cond.hash}}
	case hashCondAbsentOrEqual:
		req.Condition = &cachepb.XSetIfHashRequest_AbsentOrHashEqual{AbsentOrHashEqual: &commonpb.AbsentOrHashEqual{HashToCheck: cond.hash}}
	case hashCondAbsentOrNotEqual:
		req.Condition = &cachepb.XSetIfHashRequest_AbsentOrNotHashEqual{AbsentOrNotHashEqual: &commonpb.AbsentOrNotHashEqual{HashToCheck: cond.hash}}
	default:
		return nil, false, invalidArgument("SetIfHash", "no condition")
	}
	return c.setIfHash(ctx, rpcSetIfHash, cache, req)
}

// setIfHash sends SetIfHash for the client method m.
func (c *Client) setIfHash(ctx context.Context, m rpc, cache string, req *cachepb.XSetIfHashRequest) ([]byte, bool, error) {
	resp, err := invoke(ctx, c, m, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XSetIfHashResponse, error) {
		return ch.scs.SetIfHash(ctx, req, opts...)
	})
	if err != nil {
		return nil, false, err
	}
	switch r := resp.GetResult().(type) {
	case *cachepb.XSetIfHashResponse_Stored:
		return nonNil(r.Stored.GetNewHash()), true, nil
	case *cachepb.XSetIfHashResponse_NotStored:
		return nil, false, nil
	}
	return nil, false, unexpected(methods[m].name, "no result")
}
