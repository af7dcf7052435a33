package grpcsvc

import (
	"context"
	"fmt"
	"math"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/internal/store"
)

// ListPushFront adds one value at the front of a list, truncating its back
// to truncate_back_to_size when that is not zero.
func (s *CacheService) ListPushFront(ctx context.Context, req *cachepb.XListPushFrontRequest) (*cachepb.XListPushFrontResponse, error) {
	n, err := s.listPush(ctx, req.GetListName(), store.ListFront, [][]byte{req.GetValue()}, req.GetTruncateBackToSize(), req.GetTtlMilliseconds(), req.GetRefreshTtl())
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return &cachepb.XListPushFrontResponse{ListLength: n}, nil
}

// ListPushBack adds one value at the back of a list, truncating its front
// to truncate_front_to_size when that is not zero.
func (s *CacheService) ListPushBack(ctx context.Context, req *cachepb.XListPushBackRequest) (*cachepb.XListPushBackResponse, error) {
	n, err := s.listPush(ctx, req.GetListName(), store.ListBack, [][]byte{req.GetValue()}, req.GetTruncateFrontToSize(), req.GetTtlMilliseconds(), req.GetRefreshTtl())
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return &cachepb.XListPushBackResponse{ListLength: n}, nil
}

// ListConcatenateFront adds values, in their order, at the front of a list,
// truncating its back to truncate_back_to_size when that is not zero.
func (s *CacheService) ListConcatenateFront(ctx context.Context, req *cachepb.XListConcatenateFrontRequest) (*cachepb.XListConcatenateFrontResponse, error) {
	n, err := s.listPush(ctx, req.GetListName(), store.ListFront, req.GetValues(), req.GetTruncateBackToSize(), req.GetTtlMilliseconds(), req.GetRefreshTtl())
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return &cachepb.XListConcatenateFrontResponse{ListLength: n}, nil
}

// ListConcatenateBack adds values, in their order, at the back of a list,
// truncating its front to truncate_front_to_size when that is not zero.
func (s *CacheService) ListConcatenateBack(ctx context.Context, req *cachepb.XListConcatenateBackRequest) (*cachepb.XListConcatenateBackResponse, error) {
	n, err := s.listPush(ctx, req.GetListName(), store.ListBack, req.GetValues(), req.GetTruncateFrontToSize(), req.GetTtlMilliseconds(), req.GetRefreshTtl())
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return &cachepb.XListConcatenateBackResponse{ListLength: n}, nil
}

// listPush is the common part of the four list writes. A truncation size of
// 0 means none: the SDKs leave the field unset when the caller gives none.
// An empty values list (concatenations only; the real service's answer is
// not known) adds nothing and creates nothing, and answers the current
// length.
func (s *CacheService) listPush(ctx context.Context, name []byte, end store.ListEnd, values [][]byte, truncateTo uint32, ttlMillis uint64, refresh bool) (uint32, error) {
	call, err := s.collectionFor(ctx, name)
	if err != nil {
		return 0, err
	}
	w, err := s.collectionWrite(ttlMillis, refresh, values...)
	if err != nil {
		return 0, err
	}
	n, err := s.store.ListPush(ctx, call.cache, call.key, end, values, listInt(truncateTo), w)
	if err != nil {
		return 0, err
	}
	return listLength32(n), nil
}

// ListPopFront removes and returns the first element of a list.
func (s *CacheService) ListPopFront(ctx context.Context, req *cachepb.XListPopFrontRequest) (*cachepb.XListPopFrontResponse, error) {
	value, n, found, err := s.listPop(ctx, req.GetListName(), store.ListFront)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	if !found {
		return &cachepb.XListPopFrontResponse{List: &cachepb.XListPopFrontResponse_Missing{Missing: &cachepb.XListPopFrontResponse_XMissing{}}}, nil
	}
	return &cachepb.XListPopFrontResponse{List: &cachepb.XListPopFrontResponse_Found{Found: &cachepb.XListPopFrontResponse_XFound{Front: value, ListLength: n}}}, nil
}

// ListPopBack removes and returns the last element of a list.
func (s *CacheService) ListPopBack(ctx context.Context, req *cachepb.XListPopBackRequest) (*cachepb.XListPopBackResponse, error) {
	value, n, found, err := s.listPop(ctx, req.GetListName(), store.ListBack)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	if !found {
		return &cachepb.XListPopBackResponse{List: &cachepb.XListPopBackResponse_Missing{Missing: &cachepb.XListPopBackResponse_XMissing{}}}, nil
	}
	return &cachepb.XListPopBackResponse{List: &cachepb.XListPopBackResponse_Found{Found: &cachepb.XListPopBackResponse_XFound{Back: value, ListLength: n}}}, nil
}

// listPop is the common part of the two pops.
func (s *CacheService) listPop(ctx context.Context, name []byte, end store.ListEnd) ([]byte, uint32, bool, error) {
	call, err := s.collectionFor(ctx, name)
	if err != nil {
		return nil, 0, false, err
	}
	value, n, found, err := s.store.ListPop(ctx, call.cache, call.key, end)
	return value, listLength32(n), found, err
}

// ListFetch returns a slice of a list. An empty slice of an existing list
// answers missing, as the real service does (the Go SDK's test "provides no
// start and 0 as end yields no result" expects a miss); so does a start
// after the end, which the real service's answer to is not known.
func (s *CacheService) ListFetch(ctx context.Context, req *cachepb.XListFetchRequest) (*cachepb.XListFetchResponse, error) {
	values, err := s.listFetch(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	if len(values) == 0 {
		return &cachepb.XListFetchResponse{List: &cachepb.XListFetchResponse_Missing{Missing: &cachepb.XListFetchResponse_XMissing{}}}, nil
	}
	return &cachepb.XListFetchResponse{List: &cachepb.XListFetchResponse_Found{Found: &cachepb.XListFetchResponse_XFound{Values: values}}}, nil
}

func (s *CacheService) listFetch(ctx context.Context, req *cachepb.XListFetchRequest) ([][]byte, error) {
	call, err := s.collectionFor(ctx, req.GetListName())
	if err != nil {
		return nil, err
	}
	_, hasEnd := req.GetEndIndex().(*cachepb.XListFetchRequest_ExclusiveEnd)
	r := listRange(req.GetInclusiveStart(), req.GetExclusiveEnd(), hasEnd)
	values, _, err := s.store.ListFetch(ctx, call.cache, call.key, r)
	return values, err
}

// ListRetain keeps only a slice of a list; an empty slice (a start after
// the end included) deletes it.
func (s *CacheService) ListRetain(ctx context.Context, req *cachepb.XListRetainRequest) (*cachepb.XListRetainResponse, error) {
	n, found, err := s.listRetain(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	if !found {
		return &cachepb.XListRetainResponse{List: &cachepb.XListRetainResponse_Missing{Missing: &cachepb.XListRetainResponse_XMissing{}}}, nil
	}
	return &cachepb.XListRetainResponse{List: &cachepb.XListRetainResponse_Found{Found: &cachepb.XListRetainResponse_XFound{ListLength: n}}}, nil
}

func (s *CacheService) listRetain(ctx context.Context, req *cachepb.XListRetainRequest) (uint32, bool, error) {
	call, err := s.collectionFor(ctx, req.GetListName())
	if err != nil {
		return 0, false, err
	}
	w, err := s.collectionWrite(req.GetTtlMilliseconds(), req.GetRefreshTtl())
	if err != nil {
		return 0, false, err
	}
	_, hasEnd := req.GetEndIndex().(*cachepb.XListRetainRequest_ExclusiveEnd)
	r := listRange(req.GetInclusiveStart(), req.GetExclusiveEnd(), hasEnd)
	n, found, err := s.store.ListRetain(ctx, call.cache, call.key, r, w)
	return listLength32(n), found, err
}

// listRange builds the store's range from a request's start and end: an
// unbounded start, or none, is index 0, which is the same; an unbounded or
// absent end is the end of the list. (The SDKs always send one arm of each
// oneof; thaw reads a missing one as unbounded rather than refuse it.)
func listRange(start, end int32, hasEnd bool) store.ListRange {
	return store.ListRange{Start: int(start), End: int(end), EndBounded: hasEnd}
}

// ListLength returns the number of elements of a list.
func (s *CacheService) ListLength(ctx context.Context, req *cachepb.XListLengthRequest) (*cachepb.XListLengthResponse, error) {
	call, err := s.collectionFor(ctx, req.GetListName())
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	n, found, err := s.store.ListLength(ctx, call.cache, call.key)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	if !found {
		return &cachepb.XListLengthResponse{List: &cachepb.XListLengthResponse_Missing{Missing: &cachepb.XListLengthResponse_XMissing{}}}, nil
	}
	return &cachepb.XListLengthResponse{List: &cachepb.XListLengthResponse_Found{Found: &cachepb.XListLengthResponse_XFound{Length: listLength32(n)}}}, nil
}

// ListRemove removes every element equal to all_elements_with_value. A
// request without the value is refused.
func (s *CacheService) ListRemove(ctx context.Context, req *cachepb.XListRemoveRequest) (*cachepb.XListRemoveResponse, error) {
	n, found, err := s.listRemove(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	if !found {
		return &cachepb.XListRemoveResponse{List: &cachepb.XListRemoveResponse_Missing{Missing: &cachepb.XListRemoveResponse_XMissing{}}}, nil
	}
	return &cachepb.XListRemoveResponse{List: &cachepb.XListRemoveResponse_Found{Found: &cachepb.XListRemoveResponse_XFound{ListLength: n}}}, nil
}

func (s *CacheService) listRemove(ctx context.Context, req *cachepb.XListRemoveRequest) (uint32, bool, error) {
	call, err := s.collectionFor(ctx, req.GetListName())
	if err != nil {
		return 0, false, err
	}
	if _, ok := req.GetRemove().(*cachepb.XListRemoveRequest_AllElementsWithValue); !ok {
		return 0, false, fmt.Errorf("%w: ListRemove needs all_elements_with_value", errInvalidRequest)
	}
	n, found, err := s.store.ListRemoveValue(ctx, call.cache, call.key, req.GetAllElementsWithValue())
	return listLength32(n), found, err
}

// ListErase removes ranges of elements, given as begin index and count on
// the list as it was, or all of them. A request with neither is refused.
func (s *CacheService) ListErase(ctx context.Context, req *cachepb.XListEraseRequest) (*cachepb.XListEraseResponse, error) {
	n, found, err := s.listErase(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	if !found {
		return &cachepb.XListEraseResponse{List: &cachepb.XListEraseResponse_Missing{Missing: &cachepb.XListEraseResponse_XMissing{}}}, nil
	}
	return &cachepb.XListEraseResponse{List: &cachepb.XListEraseResponse_Found{Found: &cachepb.XListEraseResponse_XFound{ListLength: n}}}, nil
}

func (s *CacheService) listErase(ctx context.Context, req *cachepb.XListEraseRequest) (uint32, bool, error) {
	call, err := s.collectionFor(ctx, req.GetListName())
	if err != nil {
		return 0, false, err
	}
	var spans []store.ListSpan
	switch e := req.GetErase().(type) {
	case *cachepb.XListEraseRequest_All:
		spans = []store.ListSpan{{Begin: 0, Count: math.MaxInt}}
	case *cachepb.XListEraseRequest_Some:
		spans = make([]store.ListSpan, len(e.Some.GetRanges()))
		for i, r := range e.Some.GetRanges() {
			spans[i] = store.ListSpan{Begin: listInt(r.GetBeginIndex()), Count: listInt(r.GetCount())}
		}
	default:
		return 0, false, fmt.Errorf("%w: ListErase needs some ranges or all", errInvalidRequest)
	}
	n, found, err := s.store.ListErase(ctx, call.cache, call.key, spans)
	return listLength32(n), found, err
}

// listInt converts a uint32 of the wire to an int, saturating where int
// has 32 bits.
func listInt(u uint32) int {
	return int(min(uint64(u), uint64(math.MaxInt)))
}

// listLength32 converts a length to the wire's uint32, saturating.
func listLength32(n int) uint32 {
	return uint32(min(uint64(max(n, 0)), math.MaxUint32))
}
