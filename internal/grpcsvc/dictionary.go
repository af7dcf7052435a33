package grpcsvc

import (
	"context"
	"fmt"
	"math"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/internal/store"
)

// Dictionaries on the wire. Field names and values are arbitrary bytes, the
// empty string included (the service's own limits on them are not public;
// Redis accepts both). Requests with no fields are not refused: a read
// answers per field, so with nothing, and a write or removal of nothing
// changes no field (see store.DictionaryStore).

// DictionaryGet answers, for each requested field in order, its value or a
// miss; a missing dictionary answers missing.
func (s *CacheService) DictionaryGet(ctx context.Context, req *cachepb.XDictionaryGetRequest) (*cachepb.XDictionaryGetResponse, error) {
	resp, err := s.dictionaryGet(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return resp, nil
}

func (s *CacheService) dictionaryGet(ctx context.Context, req *cachepb.XDictionaryGetRequest) (*cachepb.XDictionaryGetResponse, error) {
	call, err := s.collectionFor(ctx, req.GetDictionaryName())
	if err != nil {
		return nil, err
	}
	values, found, err := s.store.DictionaryGet(ctx, call.cache, call.key, req.GetFields())
	if err != nil {
		return nil, err
	}
	if !found {
		return &cachepb.XDictionaryGetResponse{Dictionary: &cachepb.XDictionaryGetResponse_Missing{Missing: &cachepb.XDictionaryGetResponse_XMissing{}}}, nil
	}
	// One allocation for all parts: a Get may ask for many fields.
	parts := make([]cachepb.XDictionaryGetResponse_XDictionaryGetResponsePart, len(values))
	items := make([]*cachepb.XDictionaryGetResponse_XDictionaryGetResponsePart, len(values))
	for i, v := range values {
		if v.Found {
			parts[i].Result, parts[i].CacheBody = cachepb.ECacheResult_Hit, v.Value
		} else {
			parts[i].Result = cachepb.ECacheResult_Miss
		}
		items[i] = &parts[i]
	}
	return &cachepb.XDictionaryGetResponse{Dictionary: &cachepb.XDictionaryGetResponse_Found{Found: &cachepb.XDictionaryGetResponse_XFound{Items: items}}}, nil
}

// DictionaryFetch answers every field and value of a dictionary, in no
// particular order, or missing.
func (s *CacheService) DictionaryFetch(ctx context.Context, req *cachepb.XDictionaryFetchRequest) (*cachepb.XDictionaryFetchResponse, error) {
	resp, err := s.dictionaryFetch(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return resp, nil
}

func (s *CacheService) dictionaryFetch(ctx context.Context, req *cachepb.XDictionaryFetchRequest) (*cachepb.XDictionaryFetchResponse, error) {
	call, err := s.collectionFor(ctx, req.GetDictionaryName())
	if err != nil {
		return nil, err
	}
	fields, found, err := s.store.DictionaryFetch(ctx, call.cache, call.key)
	if err != nil {
		return nil, err
	}
	if !found {
		return &cachepb.XDictionaryFetchResponse{Dictionary: &cachepb.XDictionaryFetchResponse_Missing{Missing: &cachepb.XDictionaryFetchResponse_XMissing{}}}, nil
	}
	pairs := make([]cachepb.XDictionaryFieldValuePair, len(fields))
	items := make([]*cachepb.XDictionaryFieldValuePair, len(fields))
	for i, f := range fields {
		pairs[i].Field, pairs[i].Value = f.Field, f.Value
		items[i] = &pairs[i]
	}
	return &cachepb.XDictionaryFetchResponse{Dictionary: &cachepb.XDictionaryFetchResponse_Found{Found: &cachepb.XDictionaryFetchResponse_XFound{Items: items}}}, nil
}

// DictionarySet stores fields of a dictionary, creating it if missing.
func (s *CacheService) DictionarySet(ctx context.Context, req *cachepb.XDictionarySetRequest) (*cachepb.XDictionarySetResponse, error) {
	if err := s.dictionarySet(ctx, req); err != nil {
		return nil, toStatus(ctx, err)
	}
	return &cachepb.XDictionarySetResponse{}, nil
}

func (s *CacheService) dictionarySet(ctx context.Context, req *cachepb.XDictionarySetRequest) error {
	call, err := s.collectionFor(ctx, req.GetDictionaryName())
	if err != nil {
		return err
	}
	fields := make([]store.DictionaryField, len(req.GetItems()))
	elements := make([][]byte, 0, 2*len(req.GetItems()))
	for i, item := range req.GetItems() {
		fields[i] = store.DictionaryField{Field: item.GetField(), Value: item.GetValue()}
		elements = append(elements, item.GetField(), item.GetValue())
	}
	w, err := s.collectionWrite(req.GetTtlMilliseconds(), req.GetRefreshTtl(), elements...)
	if err != nil {
		return err
	}
	return s.store.DictionarySet(ctx, call.cache, call.key, fields, w)
}

// DictionaryIncrement adds to the integer held by a field, creating the
// field and the dictionary if missing, and answers the result. A field
// holding something other than a base-10 int64, or a result outside the
// int64 range, is FAILED_PRECONDITION (the service documents the first and
// only says "an error response" for the second).
func (s *CacheService) DictionaryIncrement(ctx context.Context, req *cachepb.XDictionaryIncrementRequest) (*cachepb.XDictionaryIncrementResponse, error) {
	value, err := s.dictionaryIncrement(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return &cachepb.XDictionaryIncrementResponse{Value: value}, nil
}

func (s *CacheService) dictionaryIncrement(ctx context.Context, req *cachepb.XDictionaryIncrementRequest) (int64, error) {
	call, err := s.collectionFor(ctx, req.GetDictionaryName())
	if err != nil {
		return 0, err
	}
	w, err := s.collectionWrite(req.GetTtlMilliseconds(), req.GetRefreshTtl(), req.GetField())
	if err != nil {
		return 0, err
	}
	return s.store.DictionaryIncrement(ctx, call.cache, call.key, req.GetField(), req.GetAmount(), w)
}

// DictionaryDelete removes some fields of a dictionary, deleting it when none
// is left, or the whole dictionary. A request that says neither is
// INVALID_ARGUMENT.
func (s *CacheService) DictionaryDelete(ctx context.Context, req *cachepb.XDictionaryDeleteRequest) (*cachepb.XDictionaryDeleteResponse, error) {
	if err := s.dictionaryDelete(ctx, req); err != nil {
		return nil, toStatus(ctx, err)
	}
	return &cachepb.XDictionaryDeleteResponse{}, nil
}

func (s *CacheService) dictionaryDelete(ctx context.Context, req *cachepb.XDictionaryDeleteRequest) error {
	call, err := s.collectionFor(ctx, req.GetDictionaryName())
	if err != nil {
		return err
	}
	switch d := req.GetDelete().(type) {
	case *cachepb.XDictionaryDeleteRequest_Some_:
		return s.store.DictionaryRemove(ctx, call.cache, call.key, d.Some.GetFields())
	case *cachepb.XDictionaryDeleteRequest_All_:
		return s.store.DictionaryDelete(ctx, call.cache, call.key)
	}
	return fmt.Errorf("%w: DictionaryDelete needs some or all", errInvalidRequest)
}

// DictionaryLength answers the number of fields of a dictionary, or missing.
func (s *CacheService) DictionaryLength(ctx context.Context, req *cachepb.XDictionaryLengthRequest) (*cachepb.XDictionaryLengthResponse, error) {
	resp, err := s.dictionaryLength(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return resp, nil
}

func (s *CacheService) dictionaryLength(ctx context.Context, req *cachepb.XDictionaryLengthRequest) (*cachepb.XDictionaryLengthResponse, error) {
	call, err := s.collectionFor(ctx, req.GetDictionaryName())
	if err != nil {
		return nil, err
	}
	n, found, err := s.store.DictionaryLength(ctx, call.cache, call.key)
	if err != nil {
		return nil, err
	}
	if !found {
		return &cachepb.XDictionaryLengthResponse{Dictionary: &cachepb.XDictionaryLengthResponse_Missing{Missing: &cachepb.XDictionaryLengthResponse_XMissing{}}}, nil
	}
	// The wire's uint32 cannot overflow under the item size limit; clamp anyway.
	return &cachepb.XDictionaryLengthResponse{Dictionary: &cachepb.XDictionaryLengthResponse_Found{Found: &cachepb.XDictionaryLengthResponse_XFound{Length: uint32(min(n, math.MaxUint32))}}}, nil
}
