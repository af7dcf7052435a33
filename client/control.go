package client

import (
	"context"
	"errors"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/thaw-dev/thaw/api/controlpb"
)

// CreateCache creates the cache name. It reports created false, with no
// error, when the cache exists already, as the Momento SDKs report
// AlreadyExists as a success. Never retried (see the method table in
// methods.go); it has Config.ControlTimeout.
func (c *Client) CreateCache(ctx context.Context, name string) (created bool, err error) {
	if name == "" {
		return false, invalidArgument("CreateCache", "cache name is empty")
	}
	req := &controlpb.XCreateCacheRequest{CacheName: proto.String(name)}
	_, err = invoke(ctx, c, rpcCreateCache, "", func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*controlpb.XCreateCacheResponse, error) {
		return ch.control.CreateCache(ctx, req, opts...)
	})
	if errors.Is(err, ErrAlreadyExists) {
		return false, nil
	}
	return err == nil, err
}

// DeleteCache deletes the cache name and everything in it. A missing cache
// is ErrCacheNotFound. Never retried; it has Config.ControlTimeout.
func (c *Client) DeleteCache(ctx context.Context, name string) error {
	if name == "" {
		return invalidArgument("DeleteCache", "cache name is empty")
	}
	req := &controlpb.XDeleteCacheRequest{CacheName: proto.String(name)}
	_, err := invoke(ctx, c, rpcDeleteCache, "", func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*controlpb.XDeleteCacheResponse, error) {
		return ch.control.DeleteCache(ctx, req, opts...)
	})
	return err
}

// FlushCache removes every item from the cache name, keeping the cache. A
// missing cache is ErrCacheNotFound. Retried; it has Config.ControlTimeout.
func (c *Client) FlushCache(ctx context.Context, name string) error {
	if name == "" {
		return invalidArgument("FlushCache", "cache name is empty")
	}
	req := &controlpb.XFlushCacheRequest{CacheName: proto.String(name)}
	_, err := invoke(ctx, c, rpcFlushCache, "", func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*controlpb.XFlushCacheResponse, error) {
		return ch.control.FlushCache(ctx, req, opts...)
	})
	return err
}

// ListCaches returns the names of every cache, following the server's pages;
// each page is one call with Config.ControlTimeout. Retried per page.
func (c *Client) ListCaches(ctx context.Context) ([]string, error) {
	var names []string
	token := ""
	for {
		req := &controlpb.XListCachesRequest{NextToken: proto.String(token)}
		resp, err := invoke(ctx, c, rpcListCaches, "", func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*controlpb.XListCachesResponse, error) {
			return ch.control.ListCaches(ctx, req, opts...)
		})
		if err != nil {
			return nil, err
		}
		for _, cache := range resp.GetCache() {
			names = append(names, cache.GetCacheName())
		}
		if token = resp.GetNextToken(); token == "" {
			return names, nil
		}
	}
}
