package grpcsvc

import (
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"time"
	"unicode/utf8"

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

// What ListCaches reports of every cache beyond the limits thaw enforces:
// the service's rates for a new cache, as the SDKs' integration tests pin
// them (client-sdk-javascript common-integration-tests
// create-delete-list-cache.ts: max_traffic_rate at least 500 and
// max_throughput_kbps at least 10240). thaw reports them and enforces
// neither. The topic limits it reports are the ones it enforces
// (store.Limits; 100 each by default, as the same test pins them).
const (
	reportedMaxTrafficRate    = 500
	reportedMaxThroughputKbps = 10240
)

// ListCachesPageSize is the most caches one ListCaches response holds; a
// response that stops short of the end carries next_token. No Momento SDK
// follows next_token (they send none and ignore the one returned), so the
// page is large enough that an SDK sees every cache of any realistic
// thaw server, and small enough to bound the response.
const ListCachesPageSize = 1000

// ListCaches returns, sorted by name, a page of the caches the call's key may
// see (all of them, or those a scoped key names) with the limits of each.
// The page starts after the cache that next_token names; next_token in the
// response, set when more caches follow, names the last cache returned.
func (s *ControlService) ListCaches(ctx context.Context, req *controlpb.XListCachesRequest) (*controlpb.XListCachesResponse, error) {
	resp, err := s.listCaches(ctx, req.GetNextToken())
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	return resp, nil
}

func (s *ControlService) listCaches(ctx context.Context, token string) (*controlpb.XListCachesResponse, error) {
	after, err := decodeListToken(token)
	if err != nil {
		return nil, err
	}
	names, err := s.store.ListCaches(ctx)
	if err != nil {
		return nil, err
	}
	start, found := slices.BinarySearch(names, after)
	if found {
		start++
	}
	cacheLimits, topicLimits := s.reportedLimits()
	resp := &controlpb.XListCachesResponse{}
	for _, name := range names[start:] {
		if !KeyCanSee(ctx, name) {
			continue
		}
		if len(resp.Cache) == ListCachesPageSize {
			resp.NextToken = proto.String(encodeListToken(resp.Cache[len(resp.Cache)-1].GetCacheName()))
			break
		}
		resp.Cache = append(resp.Cache, &controlpb.XCache{CacheName: proto.String(name), CacheLimits: cacheLimits, TopicLimits: topicLimits})
	}
	return resp, nil
}

// reportedLimits are the limits ListCaches reports for every cache: the item
// size (in KiB, rounded down), TTL and topic limits that the server
// enforces, and the service's rates.
func (s *ControlService) reportedLimits() (*controlpb.XCacheLimits, *controlpb.XTopicLimits) {
	itemKiB := clampUint32(s.limits.MaxItemSize / 1024)
	return &controlpb.XCacheLimits{
			MaxTrafficRate:    proto.Uint32(reportedMaxTrafficRate),
			MaxThroughputKbps: proto.Uint32(reportedMaxThroughputKbps),
			MaxItemSizeKb:     proto.Uint32(itemKiB),
			MaxTtlSeconds:     proto.Uint64(uint64(s.limits.MaxTTL / time.Second)),
		}, &controlpb.XTopicLimits{
			MaxPublishRate:          proto.Uint32(clampUint32(s.limits.MaxTopicPublishRate)),
			MaxSubscriptionCount:    proto.Uint32(clampUint32(s.limits.MaxTopicSubscriptions)),
			MaxPublishMessageSizeKb: proto.Uint32(clampUint32(s.limits.MaxTopicMessageSize / 1024)),
		}
}

// clampUint32 converts a non-negative limit to the protocol's uint32,
// saturating.
func clampUint32(n int) uint32 {
	return uint32(min(uint64(max(n, 0)), math.MaxUint32))
}

// encodeListToken makes the next_token that resumes a listing after the
// cache named last. Clients must treat it as opaque.
func encodeListToken(last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(last))
}

// decodeListToken returns the cache name a next_token resumes after; the
// empty token starts from the beginning. A token this server cannot have
// issued is an invalid argument.
func decodeListToken(token string) (string, error) {
	if token == "" {
		return "", nil
	}
	name, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(name) == 0 || !utf8.Valid(name) {
		return "", fmt.Errorf("%w: next_token %q is not a token ListCaches returned", errInvalidRequest, token)
	}
	return string(name), nil
}
