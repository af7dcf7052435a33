package grpcsvc

import (
	"context"
	"fmt"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/internal/store"
)

// The hash-conditional scalars: GetWithHash returns a value with its hash,
// and SetIfHash compares a client's hash with the hash of the stored value.
// The hash is store.Hash, computed from the value whenever it is needed, so
// that it is right after every kind of write; clients treat it as opaque.

// GetWithHash returns the value of a key and its hash.
func (s *CacheService) GetWithHash(ctx context.Context, req *cachepb.XGetWithHashRequest) (*cachepb.XGetWithHashResponse, error) {
	resp, err := s.getWithHash(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return resp, nil
}

func (s *CacheService) getWithHash(ctx context.Context, req *cachepb.XGetWithHashRequest) (*cachepb.XGetWithHashResponse, error) {
	cache, err := s.cacheFor(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.limits.CheckKey(req.GetCacheKey()); err != nil {
		return nil, err
	}
	value, found, err := s.store.Get(ctx, cache, req.GetCacheKey())
	if err != nil {
		return nil, err
	}
	if !found {
		return &cachepb.XGetWithHashResponse{Result: &cachepb.XGetWithHashResponse_Missing{Missing: &cachepb.XGetWithHashResponse_XMissing{}}}, nil
	}
	return &cachepb.XGetWithHashResponse{Result: &cachepb.XGetWithHashResponse_Found{Found: &cachepb.XGetWithHashResponse_XFound{
		Value: value,
		Hash:  store.Hash(value),
	}}}, nil
}

// hashCondition converts a SetIfHash request's oneof to a store condition;
// unconditional is false when the request names one, and true for the
// unconditional arm, which has none.
func hashCondition(req *cachepb.XSetIfHashRequest) (cond store.Condition, unconditional bool, err error) {
	switch c := req.GetCondition().(type) {
	case *cachepb.XSetIfHashRequest_PresentAndHashEqual:
		return store.Condition{Kind: store.PresentAndHashEqual, Value: c.PresentAndHashEqual.GetHashToCheck()}, false, nil
	case *cachepb.XSetIfHashRequest_PresentAndNotHashEqual:
		return store.Condition{Kind: store.PresentAndNotHashEqual, Value: c.PresentAndNotHashEqual.GetHashToCheck()}, false, nil
	case *cachepb.XSetIfHashRequest_AbsentOrHashEqual:
		return store.Condition{Kind: store.AbsentOrHashEqual, Value: c.AbsentOrHashEqual.GetHashToCheck()}, false, nil
	case *cachepb.XSetIfHashRequest_AbsentOrNotHashEqual:
		return store.Condition{Kind: store.AbsentOrNotHashEqual, Value: c.AbsentOrNotHashEqual.GetHashToCheck()}, false, nil
	case *cachepb.XSetIfHashRequest_Unconditional:
		return store.Condition{}, true, nil
	}
	return store.Condition{}, false, fmt.Errorf("%w: SetIfHash needs a condition", errInvalidRequest)
}

// SetIfHash stores a value when the request's hash condition holds, and
// answers the new value's hash. The unconditional arm (the SDKs'
// setWithHash) is a Set: like Set it replaces whatever the key held, a
// collection included, whereas a hash condition on a collection fails with
// FAILED_PRECONDITION, as SetIf does.
func (s *CacheService) SetIfHash(ctx context.Context, req *cachepb.XSetIfHashRequest) (*cachepb.XSetIfHashResponse, error) {
	stored, err := s.setIfHash(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	if !stored {
		return &cachepb.XSetIfHashResponse{Result: &cachepb.XSetIfHashResponse_NotStored{NotStored: &cachepb.XSetIfHashResponse_XNotStored{}}}, nil
	}
	// The hash of what was stored is the hash of what was sent: there is no
	// need to read it back, and no window in which another write could
	// change the answer.
	return &cachepb.XSetIfHashResponse{Result: &cachepb.XSetIfHashResponse_Stored{Stored: &cachepb.XSetIfHashResponse_XStored{
		NewHash: store.Hash(req.GetCacheBody()),
	}}}, nil
}

func (s *CacheService) setIfHash(ctx context.Context, req *cachepb.XSetIfHashRequest) (bool, error) {
	cache, err := s.cacheFor(ctx)
	if err != nil {
		return false, err
	}
	key, value, ttlMillis := req.GetCacheKey(), req.GetCacheBody(), req.GetTtlMilliseconds()
	if err := s.checkWrite(key, value, ttlMillis); err != nil {
		return false, err
	}
	cond, unconditional, err := hashCondition(req)
	if err != nil {
		return false, err
	}
	if unconditional {
		if err := s.store.Set(ctx, cache, key, value, millis(ttlMillis)); err != nil {
			return false, err
		}
		return true, nil
	}
	return s.store.SetIf(ctx, cache, key, value, millis(ttlMillis), cond)
}
