package grpcsvc

import (
	"context"

	"github.com/thaw-dev/thaw/internal/store"
)

// collectionCall holds what every collection handler validates first: the
// call's cache and the collection's name (its key).
type collectionCall struct {
	cache string
	key   []byte
}

// collectionFor validates the cache header and the collection name of a call.
func (s *CacheService) collectionFor(ctx context.Context, name []byte) (collectionCall, error) {
	cache, err := s.cacheFor(ctx)
	if err != nil {
		return collectionCall{}, err
	}
	if err := s.limits.CheckKey(name); err != nil {
		return collectionCall{}, err
	}
	return collectionCall{cache: cache, key: name}, nil
}

// collectionWrite turns a write's ttl_milliseconds and refresh_ttl into the
// store's CollectionWrite, with the item size limit bounding the whole
// collection, after checking each element the write adds against the
// element size limit.
func (s *CacheService) collectionWrite(ttlMillis uint64, refresh bool, elements ...[]byte) (store.CollectionWrite, error) {
	if err := s.limits.CheckTTL(ttlMillis); err != nil {
		return store.CollectionWrite{}, err
	}
	if err := s.limits.CheckElements(elements...); err != nil {
		return store.CollectionWrite{}, err
	}
	return store.CollectionWrite{TTL: millis(ttlMillis), RefreshTTL: refresh, MaxSize: s.limits.MaxItemSize}, nil
}
