package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/api/commonpb"
)

// GetResult is the outcome of one key of GetBatch.
type GetResult struct {
	// Value is the stored value; nil on a miss.
	Value []byte
	// Found is false on a miss.
	Found bool
}

// SetItem is one write of SetBatch.
type SetItem struct {
	Key, Value []byte
	// TTL is the item's time to live; zero means Config.DefaultTTL.
	TTL time.Duration
}

// ttlMillis converts a TTL argument of op to the wire's milliseconds: zero
// means the default, a fraction of a millisecond rounds up.
func (c *Client) ttlMillis(op string, ttl time.Duration) (uint64, error) {
	if ttl == 0 {
		ttl = c.cfg.DefaultTTL
	}
	if ttl < 0 {
		return 0, invalidArgument(op, "ttl %v is negative", ttl)
	}
	return uint64((ttl + time.Millisecond - 1) / time.Millisecond), nil
}

// Get returns the value stored under key in cache, and whether there was one.
// Get is retried (see Config.MaxAttempts).
func (c *Client) Get(ctx context.Context, cache string, key []byte) (value []byte, found bool, err error) {
	req := &cachepb.XGetRequest{CacheKey: key}
	resp, err := invoke(ctx, c, rpcGet, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XGetResponse, error) {
		return ch.scs.Get(ctx, req, opts...)
	})
	if err != nil {
		return nil, false, err
	}
	return getResult("Get", resp)
}

// getResult reads a Get response: Hit and Miss are answers, anything else an
// error carrying the server's message.
func getResult(op string, resp *cachepb.XGetResponse) ([]byte, bool, error) {
	switch resp.GetResult() {
	case cachepb.ECacheResult_Hit:
		v := resp.GetCacheBody()
		if v == nil {
			v = []byte{}
		}
		return v, true, nil
	case cachepb.ECacheResult_Miss:
		return nil, false, nil
	}
	return nil, false, unexpected(op, fmt.Sprintf("result %v: %s", resp.GetResult(), resp.GetMessage()))
}

// GetBatch looks up keys in cache and returns one result per key, in order.
// It is retried as a whole.
func (c *Client) GetBatch(ctx context.Context, cache string, keys [][]byte) ([]GetResult, error) {
	req := &cachepb.XGetBatchRequest{Items: make([]*cachepb.XGetRequest, len(keys))}
	for i, k := range keys {
		req.Items[i] = &cachepb.XGetRequest{CacheKey: k}
	}
	resps, err := invoke(ctx, c, rpcGetBatch, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) ([]*cachepb.XGetResponse, error) {
		stream, err := ch.scs.GetBatch(ctx, req, opts...)
		if err != nil {
			return nil, err
		}
		return receiveAll(stream, len(keys))
	})
	if err != nil {
		return nil, err
	}
	if len(resps) != len(keys) {
		return nil, unexpected("GetBatch", fmt.Sprintf("%d results for %d keys", len(resps), len(keys)))
	}
	out := make([]GetResult, len(resps))
	for i, r := range resps {
		v, found, err := getResult("GetBatch", r)
		if err != nil {
			return nil, err
		}
		out[i] = GetResult{Value: v, Found: found}
	}
	return out, nil
}

// receiveAll reads a server stream to its end.
func receiveAll[T any](stream grpc.ServerStreamingClient[T], sizeHint int) ([]*T, error) {
	out := make([]*T, 0, sizeHint)
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
}

// Set stores value under key in cache for ttl (zero: Config.DefaultTTL).
// Set is retried: writing the same value twice leaves the same item.
func (c *Client) Set(ctx context.Context, cache string, key, value []byte, ttl time.Duration) error {
	ms, err := c.ttlMillis("Set", ttl)
	if err != nil {
		return err
	}
	req := &cachepb.XSetRequest{CacheKey: key, CacheBody: value, TtlMilliseconds: ms}
	_, err = invoke(ctx, c, rpcSet, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XSetResponse, error) {
		return ch.scs.Set(ctx, req, opts...)
	})
	return err
}

// SetBatch stores every item in cache. It is retried as a whole; when it
// fails, any prefix of the items may have been stored.
func (c *Client) SetBatch(ctx context.Context, cache string, items []SetItem) error {
	req := &cachepb.XSetBatchRequest{Items: make([]*cachepb.XSetRequest, len(items))}
	for i, it := range items {
		ms, err := c.ttlMillis("SetBatch", it.TTL)
		if err != nil {
			return err
		}
		req.Items[i] = &cachepb.XSetRequest{CacheKey: it.Key, CacheBody: it.Value, TtlMilliseconds: ms}
	}
	resps, err := invoke(ctx, c, rpcSetBatch, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) ([]*cachepb.XSetResponse, error) {
		stream, err := ch.scs.SetBatch(ctx, req, opts...)
		if err != nil {
			return nil, err
		}
		return receiveAll(stream, len(items))
	})
	if err != nil {
		return err
	}
	if len(resps) != len(items) {
		return unexpected("SetBatch", fmt.Sprintf("%d results for %d items", len(resps), len(items)))
	}
	return nil
}

// Condition is the precondition of SetIf. Make one with IfPresent,
// IfAbsent, IfEqual, IfNotEqual, IfPresentAndNotEqual or IfAbsentOrEqual;
// the zero Condition is invalid.
type Condition struct {
	kind  conditionKind
	value []byte
}

type conditionKind uint8

const (
	condInvalid conditionKind = iota
	condPresent
	condAbsent
	condEqual
	condNotEqual
	condPresentAndNotEqual
	condAbsentOrEqual
)

// IfPresent holds when the key has a value.
func IfPresent() Condition { return Condition{kind: condPresent} }

// IfAbsent holds when the key has no value.
func IfAbsent() Condition { return Condition{kind: condAbsent} }

// IfEqual holds when the key's value is exactly v.
func IfEqual(v []byte) Condition { return Condition{kind: condEqual, value: v} }

// IfNotEqual holds when the key has no value or a value other than v.
func IfNotEqual(v []byte) Condition { return Condition{kind: condNotEqual, value: v} }

// IfPresentAndNotEqual holds when the key has a value other than v.
func IfPresentAndNotEqual(v []byte) Condition {
	return Condition{kind: condPresentAndNotEqual, value: v}
}

// IfAbsentOrEqual holds when the key has no value or exactly v.
func IfAbsentOrEqual(v []byte) Condition { return Condition{kind: condAbsentOrEqual, value: v} }

// String names the condition.
func (c Condition) String() string {
	return [...]string{"invalid", "present", "absent", "equal", "not equal", "present and not equal", "absent or equal"}[c.kind]
}

// setIfCondition puts c into req.
func setIfCondition(req *cachepb.XSetIfRequest, c Condition) bool {
	switch c.kind {
	case condPresent:
		req.Condition = &cachepb.XSetIfRequest_Present{Present: &commonpb.Present{}}
	case condAbsent:
		req.Condition = &cachepb.XSetIfRequest_Absent{Absent: &commonpb.Absent{}}
	case condEqual:
		req.Condition = &cachepb.XSetIfRequest_Equal{Equal: &commonpb.Equal{ValueToCheck: c.value}}
	case condNotEqual:
		req.Condition = &cachepb.XSetIfRequest_NotEqual{NotEqual: &commonpb.NotEqual{ValueToCheck: c.value}}
	case condPresentAndNotEqual:
		req.Condition = &cachepb.XSetIfRequest_PresentAndNotEqual{PresentAndNotEqual: &commonpb.PresentAndNotEqual{ValueToCheck: c.value}}
	case condAbsentOrEqual:
		req.Condition = &cachepb.XSetIfRequest_AbsentOrEqual{AbsentOrEqual: &commonpb.AbsentOrEqual{ValueToCheck: c.value}}
	default:
		return false
	}
	return true
}

// SetIf stores value under key in cache for ttl (zero: Config.DefaultTTL)
// when cond holds, and reports whether it did. It is never retried: after an
// error the write may or may not have happened.
func (c *Client) SetIf(ctx context.Context, cache string, key, value []byte, ttl time.Duration, cond Condition) (stored bool, err error) {
	ms, err := c.ttlMillis("SetIf", ttl)
	if err != nil {
		return false, err
	}
	req := &cachepb.XSetIfRequest{CacheKey: key, CacheBody: value, TtlMilliseconds: ms}
	if !setIfCondition(req, cond) {
		return false, invalidArgument("SetIf", "no condition")
	}
	resp, err := invoke(ctx, c, rpcSetIf, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XSetIfResponse, error) {
		return ch.scs.SetIf(ctx, req, opts...)
	})
	if err != nil {
		return false, err
	}
	switch resp.GetResult().(type) {
	case *cachepb.XSetIfResponse_Stored:
		return true, nil
	case *cachepb.XSetIfResponse_NotStored:
		return false, nil
	}
	return false, unexpected("SetIf", "no result")
}

// SetIfNotExists stores value under key in cache for ttl (zero:
// Config.DefaultTTL) when the key has no value, and reports whether it did.
// It sends the protocol's SetIfNotExists RPC, which the Momento SDKs have
// replaced by SetIf with IfAbsent; both behave the same. Never retried.
func (c *Client) SetIfNotExists(ctx context.Context, cache string, key, value []byte, ttl time.Duration) (stored bool, err error) {
	ms, err := c.ttlMillis("SetIfNotExists", ttl)
	if err != nil {
		return false, err
	}
	req := &cachepb.XSetIfNotExistsRequest{CacheKey: key, CacheBody: value, TtlMilliseconds: ms}
	resp, err := invoke(ctx, c, rpcSetIfNotExists, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XSetIfNotExistsResponse, error) {
		return ch.scs.SetIfNotExists(ctx, req, opts...)
	})
	if err != nil {
		return false, err
	}
	switch resp.GetResult().(type) {
	case *cachepb.XSetIfNotExistsResponse_Stored:
		return true, nil
	case *cachepb.XSetIfNotExistsResponse_NotStored:
		return false, nil
	}
	return false, unexpected("SetIfNotExists", "no result")
}

// Delete removes key from cache; deleting a missing key succeeds. Retried.
func (c *Client) Delete(ctx context.Context, cache string, key []byte) error {
	req := &cachepb.XDeleteRequest{CacheKey: key}
	_, err := invoke(ctx, c, rpcDelete, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XDeleteResponse, error) {
		return ch.scs.Delete(ctx, req, opts...)
	})
	return err
}

// KeysExist reports for each key whether it has a value in cache. Retried.
func (c *Client) KeysExist(ctx context.Context, cache string, keys [][]byte) ([]bool, error) {
	req := &cachepb.XKeysExistRequest{CacheKeys: keys}
	resp, err := invoke(ctx, c, rpcKeysExist, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XKeysExistResponse, error) {
		return ch.scs.KeysExist(ctx, req, opts...)
	})
	if err != nil {
		return nil, err
	}
	if len(resp.GetExists()) != len(keys) {
		return nil, unexpected("KeysExist", fmt.Sprintf("%d answers for %d keys", len(resp.GetExists()), len(keys)))
	}
	return resp.GetExists(), nil
}

// Increment adds amount to the integer stored as base-10 text under key in
// cache and returns the new value. A missing key is created holding amount.
// The item's TTL becomes ttl (zero: Config.DefaultTTL), as on every write. A
// value that is not an integer fails with
// ErrFailedPrecondition. Never retried: after an error the increment may or
// may not have been applied, and recovery never sends it twice.
func (c *Client) Increment(ctx context.Context, cache string, key []byte, amount int64, ttl time.Duration) (int64, error) {
	ms, err := c.ttlMillis("Increment", ttl)
	if err != nil {
		return 0, err
	}
	req := &cachepb.XIncrementRequest{CacheKey: key, Amount: amount, TtlMilliseconds: ms}
	resp, err := invoke(ctx, c, rpcIncrement, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XIncrementResponse, error) {
		return ch.scs.Increment(ctx, req, opts...)
	})
	if err != nil {
		return 0, err
	}
	return resp.GetValue(), nil
}

// TTLUpdate is how UpdateTTL changes a TTL. Make one with IncreaseTTLTo,
// DecreaseTTLTo or OverwriteTTL; the zero TTLUpdate is invalid.
type TTLUpdate struct {
	kind ttlUpdateKind
	ttl  time.Duration
}

type ttlUpdateKind uint8

const (
	ttlInvalid ttlUpdateKind = iota
	ttlIncrease
	ttlDecrease
	ttlOverwrite
)

// IncreaseTTLTo sets the TTL to ttl only when that lengthens it.
func IncreaseTTLTo(ttl time.Duration) TTLUpdate { return TTLUpdate{kind: ttlIncrease, ttl: ttl} }

// DecreaseTTLTo sets the TTL to ttl only when that shortens it.
func DecreaseTTLTo(ttl time.Duration) TTLUpdate { return TTLUpdate{kind: ttlDecrease, ttl: ttl} }

// OverwriteTTL sets the TTL to ttl.
func OverwriteTTL(ttl time.Duration) TTLUpdate { return TTLUpdate{kind: ttlOverwrite, ttl: ttl} }

// TTLUpdateResult is the outcome of UpdateTTL.
type TTLUpdateResult uint8

// Outcomes of UpdateTTL.
const (
	// TTLUpdated: the TTL was changed.
	TTLUpdated TTLUpdateResult = iota + 1
	// TTLNotUpdated: the item exists but the update's condition (increase or
	// decrease) did not hold.
	TTLNotUpdated
	// TTLKeyMissing: the key has no value.
	TTLKeyMissing
)

// String names the result.
func (r TTLUpdateResult) String() string {
	switch r {
	case TTLUpdated:
		return "updated"
	case TTLNotUpdated:
		return "not updated"
	case TTLKeyMissing:
		return "key missing"
	}
	return fmt.Sprintf("TTLUpdateResult(%d)", uint8(r))
}

// UpdateTTL changes the TTL of key in cache as update says. Never retried:
// after a lost reply, a repeated increase or decrease would report
// TTLNotUpdated for a change that happened.
func (c *Client) UpdateTTL(ctx context.Context, cache string, key []byte, update TTLUpdate) (TTLUpdateResult, error) {
	if update.ttl <= 0 {
		return 0, invalidArgument("UpdateTTL", "ttl %v must be positive", update.ttl)
	}
	ms := uint64((update.ttl + time.Millisecond - 1) / time.Millisecond)
	req := &cachepb.XUpdateTtlRequest{CacheKey: key}
	switch update.kind {
	case ttlIncrease:
		req.UpdateTtl = &cachepb.XUpdateTtlRequest_IncreaseToMilliseconds{IncreaseToMilliseconds: ms}
	case ttlDecrease:
		req.UpdateTtl = &cachepb.XUpdateTtlRequest_DecreaseToMilliseconds{DecreaseToMilliseconds: ms}
	case ttlOverwrite:
		req.UpdateTtl = &cachepb.XUpdateTtlRequest_OverwriteToMilliseconds{OverwriteToMilliseconds: ms}
	default:
		return 0, invalidArgument("UpdateTTL", "no update kind")
	}
	resp, err := invoke(ctx, c, rpcUpdateTTL, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XUpdateTtlResponse, error) {
		return ch.scs.UpdateTtl(ctx, req, opts...)
	})
	if err != nil {
		return 0, err
	}
	switch resp.GetResult().(type) {
	case *cachepb.XUpdateTtlResponse_Set:
		return TTLUpdated, nil
	case *cachepb.XUpdateTtlResponse_NotSet:
		return TTLNotUpdated, nil
	case *cachepb.XUpdateTtlResponse_Missing:
		return TTLKeyMissing, nil
	}
	return 0, unexpected("UpdateTTL", "no result")
}

// ItemTTL returns the remaining time to live of key in cache, and whether the
// key has a value. The server reports whole milliseconds. Retried.
func (c *Client) ItemTTL(ctx context.Context, cache string, key []byte) (time.Duration, bool, error) {
	req := &cachepb.XItemGetTtlRequest{CacheKey: key}
	resp, err := invoke(ctx, c, rpcItemTTL, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XItemGetTtlResponse, error) {
		return ch.scs.ItemGetTtl(ctx, req, opts...)
	})
	if err != nil {
		return 0, false, err
	}
	switch r := resp.GetResult().(type) {
	case *cachepb.XItemGetTtlResponse_Found:
		return time.Duration(r.Found.GetRemainingTtlMillis()) * time.Millisecond, true, nil
	case *cachepb.XItemGetTtlResponse_Missing:
		return 0, false, nil
	}
	return 0, false, unexpected("ItemTTL", "no result")
}

// ItemType is the kind of value stored under a key.
type ItemType uint8

// Item types, numbered as on the wire.
const (
	ItemScalar ItemType = iota
	ItemDictionary
	ItemSet
	ItemList
	ItemSortedSet
)

// String names the item type.
func (t ItemType) String() string {
	switch t {
	case ItemScalar:
		return "scalar"
	case ItemDictionary:
		return "dictionary"
	case ItemSet:
		return "set"
	case ItemList:
		return "list"
	case ItemSortedSet:
		return "sorted set"
	}
	return fmt.Sprintf("ItemType(%d)", uint8(t))
}

// ItemType returns the type of the value stored under key in cache, and
// whether the key has a value. Retried.
func (c *Client) ItemType(ctx context.Context, cache string, key []byte) (ItemType, bool, error) {
	req := &cachepb.XItemGetTypeRequest{CacheKey: key}
	resp, err := invoke(ctx, c, rpcItemType, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XItemGetTypeResponse, error) {
		return ch.scs.ItemGetType(ctx, req, opts...)
	})
	if err != nil {
		return 0, false, err
	}
	switch r := resp.GetResult().(type) {
	case *cachepb.XItemGetTypeResponse_Found:
		return ItemType(r.Found.GetItemType()), true, nil
	case *cachepb.XItemGetTypeResponse_Missing:
		return 0, false, nil
	}
	return 0, false, unexpected("ItemType", "no result")
}
