// Package grpcsvc adapts thaw's domain packages to the Momento gRPC protocol:
// it turns protocol messages into store calls and back, and is the one place
// that maps domain errors to gRPC status codes.
package grpcsvc

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/internal/store"
)

// CacheHeader is the metadata key that carries the cache name of data-plane calls.
const CacheHeader = "cache"

// CacheService implements the scalar RPCs of cache_client.Scs on a Store.
type CacheService struct {
	cachepb.UnimplementedScsServer
	store  store.Store
	limits store.Limits
}

// NewCacheService returns the data-plane service over st, enforcing limits.
func NewCacheService(st store.Store, limits store.Limits) *CacheService {
	return &CacheService{store: st, limits: limits.WithDefaults()}
}

// CacheName returns the cache named by the call's "cache" metadata header,
// or "" when there is none.
func CacheName(ctx context.Context) string {
	// One key, not a copy of the whole metadata (FromIncomingContext):
	// this runs on every data-plane call.
	if v := metadata.ValueFromIncomingContext(ctx, CacheHeader); len(v) > 0 {
		return v[0]
	}
	return ""
}

// cacheFor returns the validated cache name of the call.
func (s *CacheService) cacheFor(ctx context.Context) (string, error) {
	name := CacheName(ctx)
	if err := s.limits.CheckCacheName(name); err != nil {
		return "", fmt.Errorf("metadata header %q: %w", CacheHeader, err)
	}
	return name, nil
}

// checkWrite validates the key, the item size and the TTL of a write.
func (s *CacheService) checkWrite(key, value []byte, ttlMillis uint64) error {
	if err := s.limits.CheckKey(key); err != nil {
		return err
	}
	if err := s.limits.CheckItemSize(key, value); err != nil {
		return err
	}
	return s.limits.CheckTTL(ttlMillis)
}

func millis(ms uint64) time.Duration { return time.Duration(ms) * time.Millisecond }

// Get returns the value of a key.
func (s *CacheService) Get(ctx context.Context, req *cachepb.XGetRequest) (*cachepb.XGetResponse, error) {
	resp, err := s.get(ctx, req)
	return resp, toStatus(ctx, err)
}

func (s *CacheService) get(ctx context.Context, req *cachepb.XGetRequest) (*cachepb.XGetResponse, error) {
	cache, err := s.cacheFor(ctx)
	if err != nil {
		return nil, err
	}
	return s.getFrom(ctx, cache, req)
}

func (s *CacheService) getFrom(ctx context.Context, cache string, req *cachepb.XGetRequest) (*cachepb.XGetResponse, error) {
	if err := s.limits.CheckKey(req.GetCacheKey()); err != nil {
		return nil, err
	}
	value, found, err := s.store.Get(ctx, cache, req.GetCacheKey())
	if err != nil {
		return nil, err
	}
	if !found {
		return &cachepb.XGetResponse{Result: cachepb.ECacheResult_Miss}, nil
	}
	return &cachepb.XGetResponse{Result: cachepb.ECacheResult_Hit, CacheBody: value}, nil
}

// GetBatch streams one Get response per requested key, in order.
func (s *CacheService) GetBatch(req *cachepb.XGetBatchRequest, stream grpc.ServerStreamingServer[cachepb.XGetResponse]) error {
	ctx := stream.Context()
	cache, err := s.cacheFor(ctx)
	if err != nil {
		return toStatus(ctx, err)
	}
	for _, item := range req.GetItems() {
		resp, err := s.getFrom(ctx, cache, item)
		if err != nil {
			return toStatus(ctx, err)
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
	return nil
}

// Set stores a value under a key.
func (s *CacheService) Set(ctx context.Context, req *cachepb.XSetRequest) (*cachepb.XSetResponse, error) {
	cache, err := s.cacheFor(ctx)
	if err == nil {
		err = s.setIn(ctx, cache, req)
	}
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return &cachepb.XSetResponse{Result: cachepb.ECacheResult_Ok}, nil
}

func (s *CacheService) setIn(ctx context.Context, cache string, req *cachepb.XSetRequest) error {
	if err := s.checkWrite(req.GetCacheKey(), req.GetCacheBody(), req.GetTtlMilliseconds()); err != nil {
		return err
	}
	return s.store.Set(ctx, cache, req.GetCacheKey(), req.GetCacheBody(), millis(req.GetTtlMilliseconds()))
}

// SetBatch stores every item and streams one Set response per item, in order.
func (s *CacheService) SetBatch(req *cachepb.XSetBatchRequest, stream grpc.ServerStreamingServer[cachepb.XSetResponse]) error {
	ctx := stream.Context()
	cache, err := s.cacheFor(ctx)
	if err != nil {
		return toStatus(ctx, err)
	}
	for _, item := range req.GetItems() {
		if err := s.setIn(ctx, cache, item); err != nil {
			return toStatus(ctx, err)
		}
		if err := stream.Send(&cachepb.XSetResponse{Result: cachepb.ECacheResult_Ok}); err != nil {
			return err
		}
	}
	return nil
}

// condition converts a SetIf request's oneof to a store condition.
func condition(req *cachepb.XSetIfRequest) (store.Condition, error) {
	switch c := req.GetCondition().(type) {
	case *cachepb.XSetIfRequest_Present:
		return store.Condition{Kind: store.Present}, nil
	case *cachepb.XSetIfRequest_PresentAndNotEqual:
		return store.Condition{Kind: store.PresentAndNotEqual, Value: c.PresentAndNotEqual.GetValueToCheck()}, nil
	case *cachepb.XSetIfRequest_Absent:
		return store.Condition{Kind: store.Absent}, nil
	case *cachepb.XSetIfRequest_Equal:
		return store.Condition{Kind: store.Equal, Value: c.Equal.GetValueToCheck()}, nil
	case *cachepb.XSetIfRequest_AbsentOrEqual:
		return store.Condition{Kind: store.AbsentOrEqual, Value: c.AbsentOrEqual.GetValueToCheck()}, nil
	case *cachepb.XSetIfRequest_NotEqual:
		return store.Condition{Kind: store.NotEqual, Value: c.NotEqual.GetValueToCheck()}, nil
	}
	return store.Condition{}, fmt.Errorf("%w: SetIf needs a condition", errInvalidRequest)
}

// SetIf stores a value when the request's condition holds.
func (s *CacheService) SetIf(ctx context.Context, req *cachepb.XSetIfRequest) (*cachepb.XSetIfResponse, error) {
	stored, err := s.setIf(ctx, req.GetCacheKey(), req.GetCacheBody(), req.GetTtlMilliseconds(), func() (store.Condition, error) { return condition(req) })
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	if stored {
		return &cachepb.XSetIfResponse{Result: &cachepb.XSetIfResponse_Stored{Stored: &cachepb.XSetIfResponse_XStored{}}}, nil
	}
	return &cachepb.XSetIfResponse{Result: &cachepb.XSetIfResponse_NotStored{NotStored: &cachepb.XSetIfResponse_XNotStored{}}}, nil
}

// SetIfNotExists is the deprecated form of SetIf with condition absent.
func (s *CacheService) SetIfNotExists(ctx context.Context, req *cachepb.XSetIfNotExistsRequest) (*cachepb.XSetIfNotExistsResponse, error) {
	stored, err := s.setIf(ctx, req.GetCacheKey(), req.GetCacheBody(), req.GetTtlMilliseconds(), func() (store.Condition, error) { return store.Condition{Kind: store.Absent}, nil })
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	if stored {
		return &cachepb.XSetIfNotExistsResponse{Result: &cachepb.XSetIfNotExistsResponse_Stored{Stored: &cachepb.XSetIfNotExistsResponse_XStored{}}}, nil
	}
	return &cachepb.XSetIfNotExistsResponse{Result: &cachepb.XSetIfNotExistsResponse_NotStored{NotStored: &cachepb.XSetIfNotExistsResponse_XNotStored{}}}, nil
}

func (s *CacheService) setIf(ctx context.Context, key, value []byte, ttlMillis uint64, cond func() (store.Condition, error)) (bool, error) {
	cache, err := s.cacheFor(ctx)
	if err != nil {
		return false, err
	}
	if err := s.checkWrite(key, value, ttlMillis); err != nil {
		return false, err
	}
	c, err := cond()
	if err != nil {
		return false, err
	}
	return s.store.SetIf(ctx, cache, key, value, millis(ttlMillis), c)
}

// Delete removes a key.
func (s *CacheService) Delete(ctx context.Context, req *cachepb.XDeleteRequest) (*cachepb.XDeleteResponse, error) {
	cache, err := s.cacheFor(ctx)
	if err == nil {
		err = s.limits.CheckKey(req.GetCacheKey())
	}
	if err == nil {
		err = s.store.Delete(ctx, cache, req.GetCacheKey())
	}
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return &cachepb.XDeleteResponse{}, nil
}

// KeysExist reports for each key whether it holds a value.
func (s *CacheService) KeysExist(ctx context.Context, req *cachepb.XKeysExistRequest) (*cachepb.XKeysExistResponse, error) {
	exists, err := s.keysExist(ctx, req.GetCacheKeys())
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return &cachepb.XKeysExistResponse{Exists: exists}, nil
}

func (s *CacheService) keysExist(ctx context.Context, keys [][]byte) ([]bool, error) {
	cache, err := s.cacheFor(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := s.limits.CheckKey(k); err != nil {
			return nil, err
		}
	}
	return s.store.KeysExist(ctx, cache, keys)
}

// Increment adds to the integer stored under a key, creating it if missing.
func (s *CacheService) Increment(ctx context.Context, req *cachepb.XIncrementRequest) (*cachepb.XIncrementResponse, error) {
	value, err := s.increment(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return &cachepb.XIncrementResponse{Value: value}, nil
}

func (s *CacheService) increment(ctx context.Context, req *cachepb.XIncrementRequest) (int64, error) {
	cache, err := s.cacheFor(ctx)
	if err != nil {
		return 0, err
	}
	if err := s.limits.CheckKey(req.GetCacheKey()); err != nil {
		return 0, err
	}
	if err := s.limits.CheckTTL(req.GetTtlMilliseconds()); err != nil {
		return 0, err
	}
	return s.store.Increment(ctx, cache, req.GetCacheKey(), req.GetAmount(), millis(req.GetTtlMilliseconds()))
}

// UpdateTtl changes the TTL of an existing key.
func (s *CacheService) UpdateTtl(ctx context.Context, req *cachepb.XUpdateTtlRequest) (*cachepb.XUpdateTtlResponse, error) {
	result, err := s.updateTTL(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	switch result {
	case store.TTLSet:
		return &cachepb.XUpdateTtlResponse{Result: &cachepb.XUpdateTtlResponse_Set{Set: &cachepb.XUpdateTtlResponse_XSet{}}}, nil
	case store.TTLNotSet:
		return &cachepb.XUpdateTtlResponse{Result: &cachepb.XUpdateTtlResponse_NotSet{NotSet: &cachepb.XUpdateTtlResponse_XNotSet{}}}, nil
	}
	return &cachepb.XUpdateTtlResponse{Result: &cachepb.XUpdateTtlResponse_Missing{Missing: &cachepb.XUpdateTtlResponse_XMissing{}}}, nil
}

func (s *CacheService) updateTTL(ctx context.Context, req *cachepb.XUpdateTtlRequest) (store.TTLUpdateResult, error) {
	cache, err := s.cacheFor(ctx)
	if err != nil {
		return 0, err
	}
	if err := s.limits.CheckKey(req.GetCacheKey()); err != nil {
		return 0, err
	}
	var kind store.TTLUpdateKind
	var ttlMillis uint64
	switch u := req.GetUpdateTtl().(type) {
	case *cachepb.XUpdateTtlRequest_IncreaseToMilliseconds:
		kind, ttlMillis = store.IncreaseTo, u.IncreaseToMilliseconds
	case *cachepb.XUpdateTtlRequest_DecreaseToMilliseconds:
		kind, ttlMillis = store.DecreaseTo, u.DecreaseToMilliseconds
	case *cachepb.XUpdateTtlRequest_OverwriteToMilliseconds:
		kind, ttlMillis = store.OverwriteTo, u.OverwriteToMilliseconds
	default:
		return 0, fmt.Errorf("%w: UpdateTtl needs increase_to, decrease_to or overwrite_to", errInvalidRequest)
	}
	if err := s.limits.CheckTTL(ttlMillis); err != nil {
		return 0, err
	}
	return s.store.UpdateTTL(ctx, cache, req.GetCacheKey(), kind, millis(ttlMillis))
}

// ItemGetTtl returns the remaining TTL of a key.
func (s *CacheService) ItemGetTtl(ctx context.Context, req *cachepb.XItemGetTtlRequest) (*cachepb.XItemGetTtlResponse, error) {
	cache, err := s.cacheFor(ctx)
	if err == nil {
		err = s.limits.CheckKey(req.GetCacheKey())
	}
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	remaining, found, err := s.store.ItemTTL(ctx, cache, req.GetCacheKey())
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	if !found {
		return &cachepb.XItemGetTtlResponse{Result: &cachepb.XItemGetTtlResponse_Missing{Missing: &cachepb.XItemGetTtlResponse_XMissing{}}}, nil
	}
	return &cachepb.XItemGetTtlResponse{Result: &cachepb.XItemGetTtlResponse_Found{Found: &cachepb.XItemGetTtlResponse_XFound{
		RemainingTtlMillis: uint64(remaining.Milliseconds()),
	}}}, nil
}

// ItemGetType returns the kind of value stored under a key.
func (s *CacheService) ItemGetType(ctx context.Context, req *cachepb.XItemGetTypeRequest) (*cachepb.XItemGetTypeResponse, error) {
	cache, err := s.cacheFor(ctx)
	if err == nil {
		err = s.limits.CheckKey(req.GetCacheKey())
	}
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	kind, found, err := s.store.ItemType(ctx, cache, req.GetCacheKey())
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	if !found {
		return &cachepb.XItemGetTypeResponse{Result: &cachepb.XItemGetTypeResponse_Missing{Missing: &cachepb.XItemGetTypeResponse_XMissing{}}}, nil
	}
	return &cachepb.XItemGetTypeResponse{Result: &cachepb.XItemGetTypeResponse_Found{Found: &cachepb.XItemGetTypeResponse_XFound{
		ItemType: cachepb.XItemGetTypeResponse_ItemType(kind),
	}}}, nil
}

// PingService answers cache_client.Ping.
type PingService struct {
	cachepb.UnimplementedPingServer
}

// Ping answers at once.
func (PingService) Ping(context.Context, *cachepb.XPingRequest) (*cachepb.XPingResponse, error) {
	return &cachepb.XPingResponse{}, nil
}
