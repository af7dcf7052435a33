package grpcsvc

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/thaw-dev/thaw/api/controlpb"
	"github.com/thaw-dev/thaw/internal/store"
)

// ControlService implements the cache RPCs of control_client.ScsControl on a
// Store; signing keys and indexes answer UNIMPLEMENTED.
type ControlService struct {
	controlpb.UnimplementedScsControlServer
	store  store.Store
	limits store.Limits
}

// NewControlService returns the control-plane service over st.
func NewControlService(st store.Store, limits store.Limits) *ControlService {
	return &ControlService{store: st, limits: limits.WithDefaults()}
}

func (s *ControlService) checkName(name string) error {
	if err := s.limits.CheckCacheName(name); err != nil {
		return fmt.Errorf("cache_name: %w", err)
	}
	return nil
}

// CreateCache creates a cache; an existing one is ALREADY_EXISTS.
func (s *ControlService) CreateCache(ctx context.Context, req *controlpb.XCreateCacheRequest) (*controlpb.XCreateCacheResponse, error) {
	err := s.checkName(req.GetCacheName())
	if err == nil {
		err = s.store.CreateCache(ctx, req.GetCacheName())
	}
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return &controlpb.XCreateCacheResponse{}, nil
}

// DeleteCache removes a cache and its items; a missing one is NOT_FOUND.
func (s *ControlService) DeleteCache(ctx context.Context, req *controlpb.XDeleteCacheRequest) (*controlpb.XDeleteCacheResponse, error) {
	err := s.checkName(req.GetCacheName())
	if err == nil {
		err = s.store.DeleteCache(ctx, req.GetCacheName())
	}
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return &controlpb.XDeleteCacheResponse{}, nil
}

// FlushCache removes every item of a cache; a missing one is NOT_FOUND.
func (s *ControlService) FlushCache(ctx context.Context, req *controlpb.XFlushCacheRequest) (*controlpb.XFlushCacheResponse, error) {
	err := s.checkName(req.GetCacheName())
	if err == nil {
		err = s.store.FlushCache(ctx, req.GetCacheName())
	}
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return &controlpb.XFlushCacheResponse{}, nil
}

// ListCaches returns, in one page with the server's limits, every cache the
// call's key may see: all of them, or those a scoped key names.
func (s *ControlService) ListCaches(ctx context.Context, _ *controlpb.XListCachesRequest) (*controlpb.XListCachesResponse, error) {
	names, err := s.store.ListCaches(ctx)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	limits := &controlpb.XCacheLimits{
		MaxItemSizeKb: proto.Uint32(uint32(s.limits.MaxItemSize / 1000)),
		MaxTtlSeconds: proto.Uint64(uint64(s.limits.MaxTTL.Seconds())),
	}
	resp := &controlpb.XListCachesResponse{}
	for _, name := range names {
		if !KeyCanSee(ctx, name) {
			continue
		}
		resp.Cache = append(resp.Cache, &controlpb.XCache{CacheName: proto.String(name), CacheLimits: limits, TopicLimits: &controlpb.XTopicLimits{}})
	}
	return resp, nil
}
