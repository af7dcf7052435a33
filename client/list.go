package client

import (
	"context"
	"math"

	"google.golang.org/grpc"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/api/commonpb"
)

// Lists: an ordered sequence of byte strings under one key, duplicates and
// empty values allowed, index 0 at the front. The common rules of collections
// apply (see CollectionTTL): a missing list reads as not found, removing its
// last element deletes it, and a key holding another kind of item fails with
// ErrFailedPrecondition.

// ListPushOptions are the options of the calls that add to a list
// (ListPushFront, ListPushBack, ListConcatenateFront, ListConcatenateBack).
// The zero value sets the default TTL with refresh and does not truncate.
type ListPushOptions struct {
	// TTL is how the write sets the list's TTL.
	TTL CollectionTTL
	// TruncateToSize, when positive, bounds the list's length after the
	// write: elements beyond it are removed from the end opposite the one
	// written to (the back after a front write, the front after a back
	// write), including values of the write itself if they do not fit.
	// Zero means no bound; negative is refused with ErrInvalidArgument. It
	// is the SDKs' truncateBackToSize (front writes) and truncateFrontToSize
	// (back writes).
	TruncateToSize int
}

// pushArgs converts the options of op to the wire's fields.
func (c *Client) pushArgs(op string, o ListPushOptions) (ms uint64, refresh bool, truncate uint32, err error) {
	if o.TruncateToSize < 0 || uint64(o.TruncateToSize) > math.MaxUint32 {
		return 0, false, 0, invalidArgument(op, "TruncateToSize %d must be between 0 and 2^32-1", o.TruncateToSize)
	}
	ms, refresh, err = c.collectionTTL(op, o.TTL)
	return ms, refresh, uint32(o.TruncateToSize), err
}

// ListPushFront adds value at the front of list, creating it when missing,
// truncates the back and sets the TTL as opts say, and returns the list's
// length after the write. Never retried: a repeat would add value twice.
func (c *Client) ListPushFront(ctx context.Context, cache string, list, value []byte, opts ListPushOptions) (length int, err error) {
	ms, refresh, truncate, err := c.pushArgs("ListPushFront", opts)
	if err != nil {
		return 0, err
	}
	req := &cachepb.XListPushFrontRequest{ListName: list, Value: value, TtlMilliseconds: ms, RefreshTtl: refresh, TruncateBackToSize: truncate}
	resp, err := invoke(ctx, c, rpcListPushFront, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XListPushFrontResponse, error) {
		return ch.scs.ListPushFront(ctx, req, opts...)
	})
	if err != nil {
		return 0, err
	}
	return int(resp.GetListLength()), nil
}

// ListPushBack adds value at the back of list, creating it when missing,
// truncates the front and sets the TTL as opts say, and returns the list's
// length after the write. Never retried: a repeat would add value twice.
func (c *Client) ListPushBack(ctx context.Context, cache string, list, value []byte, opts ListPushOptions) (length int, err error) {
	ms, refresh, truncate, err := c.pushArgs("ListPushBack", opts)
	if err != nil {
		return 0, err
	}
	req := &cachepb.XListPushBackRequest{ListName: list, Value: value, TtlMilliseconds: ms, RefreshTtl: refresh, TruncateFrontToSize: truncate}
	resp, err := invoke(ctx, c, rpcListPushBack, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XListPushBackResponse, error) {
		return ch.scs.ListPushBack(ctx, req, opts...)
	})
	if err != nil {
		return 0, err
	}
	return int(resp.GetListLength()), nil
}

// ListConcatenateFront adds values, as one block in their order, at the front
// of list ([4 5] onto [1 2] gives [4 5 1 2]), creating it when missing,
// truncates the back and sets the TTL as opts say, and returns the list's
// length after the write. With no values it creates nothing and returns the
// current length (0 for a missing list). Never retried: a repeat would add
// the values twice.
func (c *Client) ListConcatenateFront(ctx context.Context, cache string, list []byte, values [][]byte, opts ListPushOptions) (length int, err error) {
	ms, refresh, truncate, err := c.pushArgs("ListConcatenateFront", opts)
	if err != nil {
		return 0, err
	}
	req := &cachepb.XListConcatenateFrontRequest{ListName: list, Values: values, TtlMilliseconds: ms, RefreshTtl: refresh, TruncateBackToSize: truncate}
	resp, err := invoke(ctx, c, rpcListConcatenateFront, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XListConcatenateFrontResponse, error) {
		return ch.scs.ListConcatenateFront(ctx, req, opts...)
	})
	if err != nil {
		return 0, err
	}
	return int(resp.GetListLength()), nil
}

// ListConcatenateBack adds values, in their order, at the back of list,
// creating it when missing, truncates the front and sets the TTL as opts
// say, and returns the list's length after the write. With no values it
// creates nothing and returns the current length. Never retried: a repeat
// would add the values twice.
func (c *Client) ListConcatenateBack(ctx context.Context, cache string, list []byte, values [][]byte, opts ListPushOptions) (length int, err error) {
	ms, refresh, truncate, err := c.pushArgs("ListConcatenateBack", opts)
	if err != nil {
		return 0, err
	}
	req := &cachepb.XListConcatenateBackRequest{ListName: list, Values: values, TtlMilliseconds: ms, RefreshTtl: refresh, TruncateFrontToSize: truncate}
	resp, err := invoke(ctx, c, rpcListConcatenateBack, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XListConcatenateBackResponse, error) {
		return ch.scs.ListConcatenateBack(ctx, req, opts...)
	})
	if err != nil {
		return 0, err
	}
	return int(resp.GetListLength()), nil
}

// ListPopFront removes the first element of list and returns it, and whether
// the list existed. Popping the last element deletes the list. The TTL is
// not changed. Never retried: a repeat would pop another element, and the
// one the first attempt popped would be lost.
func (c *Client) ListPopFront(ctx context.Context, cache string, list []byte) (value []byte, found bool, err error) {
	req := &cachepb.XListPopFrontRequest{ListName: list}
	resp, err := invoke(ctx, c, rpcListPopFront, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XListPopFrontResponse, error) {
		return ch.scs.ListPopFront(ctx, req, opts...)
	})
	if err != nil {
		return nil, false, err
	}
	switch r := resp.GetList().(type) {
	case *cachepb.XListPopFrontResponse_Found:
		return nonNil(r.Found.GetFront()), true, nil
	case *cachepb.XListPopFrontResponse_Missing:
		return nil, false, nil
	}
	return nil, false, unexpected("ListPopFront", "no result")
}

// ListPopBack removes the last element of list and returns it, and whether
// the list existed. Popping the last element deletes the list. The TTL is
// not changed. Never retried, like ListPopFront.
func (c *Client) ListPopBack(ctx context.Context, cache string, list []byte) (value []byte, found bool, err error) {
	req := &cachepb.XListPopBackRequest{ListName: list}
	resp, err := invoke(ctx, c, rpcListPopBack, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XListPopBackResponse, error) {
		return ch.scs.ListPopBack(ctx, req, opts...)
	})
	if err != nil {
		return nil, false, err
	}
	switch r := resp.GetList().(type) {
	case *cachepb.XListPopBackResponse_Found:
		return nonNil(r.Found.GetBack()), true, nil
	case *cachepb.XListPopBackResponse_Missing:
		return nil, false, nil
	}
	return nil, false, unexpected("ListPopBack", "no result")
}

// ListFetch returns the elements of list that r selects, in order, and
// whether there were any: found is false when the list is missing, and also,
// as on Momento, when r selects no element of an existing list (ListLength
// tells the two apart). Retried.
func (c *Client) ListFetch(ctx context.Context, cache string, list []byte, r IndexRange) (values [][]byte, found bool, err error) {
	req := &cachepb.XListFetchRequest{ListName: list}
	if r.start == 0 {
		req.StartIndex = &cachepb.XListFetchRequest_UnboundedStart{UnboundedStart: &commonpb.XUnbounded{}}
	} else {
		req.StartIndex = &cachepb.XListFetchRequest_InclusiveStart{InclusiveStart: r.start}
	}
	if r.hasEnd {
		req.EndIndex = &cachepb.XListFetchRequest_ExclusiveEnd{ExclusiveEnd: r.end}
	} else {
		req.EndIndex = &cachepb.XListFetchRequest_UnboundedEnd{UnboundedEnd: &commonpb.XUnbounded{}}
	}
	resp, err := invoke(ctx, c, rpcListFetch, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XListFetchResponse, error) {
		return ch.scs.ListFetch(ctx, req, opts...)
	})
	if err != nil {
		return nil, false, err
	}
	switch r := resp.GetList().(type) {
	case *cachepb.XListFetchResponse_Found:
		return nonNilAll(r.Found.GetValues()), true, nil
	case *cachepb.XListFetchResponse_Missing:
		return nil, false, nil
	}
	return nil, false, unexpected("ListFetch", "no result")
}

// ListLength returns the number of elements in list, and whether it exists
// (an existing list has at least one element). Retried.
func (c *Client) ListLength(ctx context.Context, cache string, list []byte) (length int, found bool, err error) {
	req := &cachepb.XListLengthRequest{ListName: list}
	resp, err := invoke(ctx, c, rpcListLength, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XListLengthResponse, error) {
		return ch.scs.ListLength(ctx, req, opts...)
	})
	if err != nil {
		return 0, false, err
	}
	switch r := resp.GetList().(type) {
	case *cachepb.XListLengthResponse_Found:
		return int(r.Found.GetLength()), true, nil
	case *cachepb.XListLengthResponse_Missing:
		return 0, false, nil
	}
	return 0, false, unexpected("ListLength", "no result")
}

// ListRemoveValue removes every element of list equal to value, bytewise. A
// value the list does not hold, and a missing list, are no-ops; removing
// every element deletes the list. The TTL is not changed. Retried: removing
// every occurrence twice leaves the same list.
func (c *Client) ListRemoveValue(ctx context.Context, cache string, list, value []byte) error {
	req := &cachepb.XListRemoveRequest{ListName: list,
		Remove: &cachepb.XListRemoveRequest_AllElementsWithValue{AllElementsWithValue: value}}
	_, err := invoke(ctx, c, rpcListRemoveValue, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XListRemoveResponse, error) {
		return ch.scs.ListRemove(ctx, req, opts...)
	})
	return err
}

// ListRetain keeps only the elements of list that r selects and removes the
// others; when r selects none, the list is deleted. A remaining list's TTL is
// set as ttl says. A missing list is a no-op and is not created. Never
// retried: r applies to the list as it is, so a repeat would cut again.
func (c *Client) ListRetain(ctx context.Context, cache string, list []byte, r IndexRange, ttl CollectionTTL) error {
	ms, refresh, err := c.collectionTTL("ListRetain", ttl)
	if err != nil {
		return err
	}
	req := &cachepb.XListRetainRequest{ListName: list, TtlMilliseconds: ms, RefreshTtl: refresh}
	if r.start == 0 {
		req.StartIndex = &cachepb.XListRetainRequest_UnboundedStart{UnboundedStart: &commonpb.XUnbounded{}}
	} else {
		req.StartIndex = &cachepb.XListRetainRequest_InclusiveStart{InclusiveStart: r.start}
	}
	if r.hasEnd {
		req.EndIndex = &cachepb.XListRetainRequest_ExclusiveEnd{ExclusiveEnd: r.end}
	} else {
		req.EndIndex = &cachepb.XListRetainRequest_UnboundedEnd{UnboundedEnd: &commonpb.XUnbounded{}}
	}
	_, err = invoke(ctx, c, rpcListRetain, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XListRetainResponse, error) {
		return ch.scs.ListRetain(ctx, req, opts...)
	})
	return err
}

// ListSpan is Count elements of a list from index Start, counted from the
// front: a part of the list that ListErase removes.
type ListSpan struct {
	// Start is the index of the first element; it must not be negative.
	Start int
	// Count is the number of elements; it must not be negative.
	Count int
}

// ListErase removes the elements that any of spans covers, their indexes
// counting from the front of the list as it was before the call. Spans may
// overlap and run past the end of the list. Removing every element deletes
// the list; a missing list is a no-op. The TTL is not changed. A negative
// Start or Count is refused with ErrInvalidArgument. Never retried: the
// indexes apply to the list as it is, so a repeat would remove other
// elements.
func (c *Client) ListErase(ctx context.Context, cache string, list []byte, spans []ListSpan) error {
	ranges := make([]*cachepb.XListRange, len(spans))
	for i, s := range spans {
		if s.Start < 0 || s.Count < 0 || uint64(s.Start) > math.MaxUint32 || uint64(s.Count) > math.MaxUint32 {
			return invalidArgument("ListErase", "span %d (start %d, count %d) must have start and count between 0 and 2^32-1", i, s.Start, s.Count)
		}
		ranges[i] = &cachepb.XListRange{BeginIndex: uint32(s.Start), Count: uint32(s.Count)}
	}
	req := &cachepb.XListEraseRequest{ListName: list,
		Erase: &cachepb.XListEraseRequest_Some{Some: &cachepb.XListEraseRequest_XListRanges{Ranges: ranges}}}
	_, err := invoke(ctx, c, rpcListErase, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XListEraseResponse, error) {
		return ch.scs.ListErase(ctx, req, opts...)
	})
	return err
}

// ListDelete deletes the whole list; a missing one is a no-op. Unlike
// Delete, it fails with ErrFailedPrecondition when the key holds another
// kind of item, which it leaves alone. Retried.
func (c *Client) ListDelete(ctx context.Context, cache string, list []byte) error {
	req := &cachepb.XListEraseRequest{ListName: list,
		Erase: &cachepb.XListEraseRequest_All{All: &cachepb.XListEraseRequest_XAll{}}}
	_, err := invoke(ctx, c, rpcListDelete, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XListEraseResponse, error) {
		return ch.scs.ListErase(ctx, req, opts...)
	})
	return err
}
