package client

import (
	"context"
	"fmt"
	"math"

	"google.golang.org/grpc"

	"github.com/thaw-dev/thaw/api/cachepb"
)

// Sets: an unordered collection of distinct byte strings under one key (the
// protocol's Set type, not to be confused with the scalar Set call). The
// common rules of collections apply (see CollectionTTL): a missing set reads
// as not found, removing its last element deletes it, and a key holding
// another kind of item fails with ErrFailedPrecondition.

// SetFetch returns every element of set, in no particular order, and whether
// the set exists. Retried.
func (c *Client) SetFetch(ctx context.Context, cache string, set []byte) (elements [][]byte, found bool, err error) {
	req := &cachepb.XSetFetchRequest{SetName: set}
	resp, err := invoke(ctx, c, rpcSetFetch, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XSetFetchResponse, error) {
		return ch.scs.SetFetch(ctx, req, opts...)
	})
	if err != nil {
		return nil, false, err
	}
	switch r := resp.GetSet().(type) {
	case *cachepb.XSetFetchResponse_Found:
		return nonNilAll(r.Found.GetElements()), true, nil
	case *cachepb.XSetFetchResponse_Missing:
		return nil, false, nil
	}
	return nil, false, unexpected("SetFetch", "no result")
}

// SetAddElements adds elements to set, creating it when missing; elements it
// holds already are kept once. The TTL is set as ttl says, even when every
// element was there already. With no elements it creates nothing. Retried:
// adding twice leaves the same set.
func (c *Client) SetAddElements(ctx context.Context, cache string, set []byte, elements [][]byte, ttl CollectionTTL) error {
	ms, refresh, err := c.collectionTTL("SetAddElements", ttl)
	if err != nil {
		return err
	}
	req := &cachepb.XSetUnionRequest{SetName: set, Elements: elements, TtlMilliseconds: ms, RefreshTtl: refresh}
	_, err = invoke(ctx, c, rpcSetAddElements, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XSetUnionResponse, error) {
		return ch.scs.SetUnion(ctx, req, opts...)
	})
	return err
}

// SetRemoveElements removes elements from set. Elements it does not hold, and
// a missing set, are no-ops; removing the last element deletes the set. The
// TTL is not changed. Retried.
func (c *Client) SetRemoveElements(ctx context.Context, cache string, set []byte, elements [][]byte) error {
	req := &cachepb.XSetDifferenceRequest{SetName: set, Difference: &cachepb.XSetDifferenceRequest_Subtrahend{
		Subtrahend: &cachepb.XSetDifferenceRequest_XSubtrahend{SubtrahendSet: &cachepb.XSetDifferenceRequest_XSubtrahend_Set{
			Set: &cachepb.XSetDifferenceRequest_XSubtrahend_XSet{Elements: elements}}}}}
	_, err := invoke(ctx, c, rpcSetRemoveElements, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XSetDifferenceResponse, error) {
		return ch.scs.SetDifference(ctx, req, opts...)
	})
	return err
}

// SetDelete deletes the whole set; a missing one is a no-op. Unlike Delete,
// it fails with ErrFailedPrecondition when the key holds another kind of
// item, which it leaves alone. Retried.
func (c *Client) SetDelete(ctx context.Context, cache string, set []byte) error {
	req := &cachepb.XSetDifferenceRequest{SetName: set, Difference: &cachepb.XSetDifferenceRequest_Subtrahend{
		Subtrahend: &cachepb.XSetDifferenceRequest_XSubtrahend{SubtrahendSet: &cachepb.XSetDifferenceRequest_XSubtrahend_Identity{
			Identity: &cachepb.XSetDifferenceRequest_XSubtrahend_XIdentity{}}}}}
	_, err := invoke(ctx, c, rpcSetDelete, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XSetDifferenceResponse, error) {
		return ch.scs.SetDifference(ctx, req, opts...)
	})
	return err
}

// SetContainsElements reports for each of elements, in order, whether set
// holds it, and whether the set exists; when it does not, every answer is
// false. Retried.
func (c *Client) SetContainsElements(ctx context.Context, cache string, set []byte, elements [][]byte) (contains []bool, found bool, err error) {
	req := &cachepb.XSetContainsRequest{SetName: set, Elements: elements}
	resp, err := invoke(ctx, c, rpcSetContainsElements, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XSetContainsResponse, error) {
		return ch.scs.SetContains(ctx, req, opts...)
	})
	if err != nil {
		return nil, false, err
	}
	switch r := resp.GetSet().(type) {
	case *cachepb.XSetContainsResponse_Found:
		got := r.Found.GetContains()
		if len(got) != len(elements) {
			return nil, false, unexpected("SetContainsElements", fmt.Sprintf("%d answers for %d elements", len(got), len(elements)))
		}
		return got, true, nil
	case *cachepb.XSetContainsResponse_Missing:
		return make([]bool, len(elements)), false, nil
	}
	return nil, false, unexpected("SetContainsElements", "no result")
}

// SetLength returns the number of elements in set, and whether it exists
// (an existing set has at least one element). Retried.
func (c *Client) SetLength(ctx context.Context, cache string, set []byte) (length int, found bool, err error) {
	req := &cachepb.XSetLengthRequest{SetName: set}
	resp, err := invoke(ctx, c, rpcSetLength, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XSetLengthResponse, error) {
		return ch.scs.SetLength(ctx, req, opts...)
	})
	if err != nil {
		return 0, false, err
	}
	switch r := resp.GetSet().(type) {
	case *cachepb.XSetLengthResponse_Found:
		return int(r.Found.GetLength()), true, nil
	case *cachepb.XSetLengthResponse_Missing:
		return 0, false, nil
	}
	return 0, false, unexpected("SetLength", "no result")
}

// SetSample returns up to limit distinct elements of set chosen at random
// (the whole set when limit is at least its size; none, with found true,
// when limit is zero), and whether the set exists. A negative limit is
// refused with ErrInvalidArgument. The set is not changed. Retried.
func (c *Client) SetSample(ctx context.Context, cache string, set []byte, limit int) (elements [][]byte, found bool, err error) {
	if limit < 0 {
		return nil, false, invalidArgument("SetSample", "limit %d is negative", limit)
	}
	req := &cachepb.XSetSampleRequest{SetName: set, Limit: uint64(limit)}
	resp, err := invoke(ctx, c, rpcSetSample, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XSetSampleResponse, error) {
		return ch.scs.SetSample(ctx, req, opts...)
	})
	if err != nil {
		return nil, false, err
	}
	switch r := resp.GetSet().(type) {
	case *cachepb.XSetSampleResponse_Found:
		return nonNilAll(r.Found.GetElements()), true, nil
	case *cachepb.XSetSampleResponse_Missing:
		return nil, false, nil
	}
	return nil, false, unexpected("SetSample", "no result")
}

// SetPop removes up to count elements of set chosen at random and returns
// them (every element when count is at least the set's size, which deletes
// the set), and whether the set existed. A count below 1 is refused with
// ErrInvalidArgument. Never retried: a repeat would pop other elements, and
// the ones the first attempt popped would be lost.
func (c *Client) SetPop(ctx context.Context, cache string, set []byte, count int) (elements [][]byte, found bool, err error) {
	if count < 1 || uint64(count) > math.MaxUint32 {
		return nil, false, invalidArgument("SetPop", "count %d must be between 1 and 2^32-1", count)
	}
	req := &cachepb.XSetPopRequest{SetName: set, Count: uint32(count)}
	resp, err := invoke(ctx, c, rpcSetPop, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XSetPopResponse, error) {
		return ch.scs.SetPop(ctx, req, opts...)
	})
	if err != nil {
		return nil, false, err
	}
	switch r := resp.GetSet().(type) {
	case *cachepb.XSetPopResponse_Found:
		return nonNilAll(r.Found.GetElements()), true, nil
	case *cachepb.XSetPopResponse_Missing:
		return nil, false, nil
	}
	return nil, false, unexpected("SetPop", "no result")
}
