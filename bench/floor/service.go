package floor

import (
	"context"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/api/controlpb"
)

// cacheService answers the data plane's Get and Set; the rest of Scs is
// UNIMPLEMENTED.
type cacheService struct {
	cachepb.UnimplementedScsServer
	s *Server
}

// cacheItems returns the items of the cache that the call's "cache"
// metadata header names, or the status a Momento server answers with.
func (c cacheService) cacheItems(ctx context.Context) (*sync.Map, error) {
	names := metadata.ValueFromIncomingContext(ctx, "cache")
	if len(names) == 0 || names[0] == "" {
		return nil, status.Error(codes.InvalidArgument, "floor: missing cache metadata header")
	}
	items, ok := c.s.items(names[0])
	if !ok {
		return nil, status.Errorf(codes.NotFound, "floor: cache %q not found", names[0])
	}
	return items, nil
}

// Get answers Hit with the stored value, or Miss.
func (c cacheService) Get(ctx context.Context, req *cachepb.XGetRequest) (*cachepb.XGetResponse, error) {
	items, err := c.cacheItems(ctx)
	if err != nil {
		return nil, err
	}
	v, ok := items.Load(string(req.GetCacheKey()))
	if !ok {
		return &cachepb.XGetResponse{Result: cachepb.ECacheResult_Miss}, nil
	}
	return &cachepb.XGetResponse{Result: cachepb.ECacheResult_Hit, CacheBody: v.([]byte)}, nil
}

// Set stores the value under the key; the TTL is accepted and ignored.
func (c cacheService) Set(ctx context.Context, req *cachepb.XSetRequest) (*cachepb.XSetResponse, error) {
	items, err := c.cacheItems(ctx)
	if err != nil {
		return nil, err
	}
	// The request's bytes are its own (protobuf copies them on unmarshal),
	// so the value can be kept as it is.
	items.Store(string(req.GetCacheKey()), req.GetCacheBody())
	return &cachepb.XSetResponse{Result: cachepb.ECacheResult_Ok}, nil
}

// pingService answers cache_client.Ping, which clients (thaw bench among
// them) call to check a new connection.
type pingService struct {
	cachepb.UnimplementedPingServer
}

// Ping answers with an empty response.
func (pingService) Ping(context.Context, *cachepb.XPingRequest) (*cachepb.XPingResponse, error) {
	return &cachepb.XPingResponse{}, nil
}

// controlService answers CreateCache; the rest of ScsControl is
// UNIMPLEMENTED.
type controlService struct {
	controlpb.UnimplementedScsControlServer
	s *Server
}

// CreateCache makes an empty cache, or answers ALREADY_EXISTS, which the
// SDKs read as success.
func (c controlService) CreateCache(_ context.Context, req *controlpb.XCreateCacheRequest) (*controlpb.XCreateCacheResponse, error) {
	name := req.GetCacheName()
	if name == "" {
		return nil, status.Error(codes.InvalidArgument, "floor: empty cache name")
	}
	if _, loaded := c.s.caches.LoadOrStore(name, new(sync.Map)); loaded {
		return nil, status.Errorf(codes.AlreadyExists, "floor: cache %q already exists", name)
	}
	return &controlpb.XCreateCacheResponse{}, nil
}
