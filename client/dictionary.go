package client

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	"github.com/thaw-dev/thaw/api/cachepb"
)

// Dictionaries: a map of fields to values, both byte strings, under one key.
// The common rules of collections apply (see CollectionTTL): a missing
// dictionary reads as not found, removing its last field deletes it, and a
// key holding another kind of item fails with ErrFailedPrecondition.

// DictionaryGetField returns the value of field in dictionary, and whether
// there is one: found is false when the dictionary or the field is missing.
// Retried.
func (c *Client) DictionaryGetField(ctx context.Context, cache string, dictionary, field []byte) (value []byte, found bool, err error) {
	results, _, err := c.dictionaryGet(ctx, rpcDictionaryGetField, cache, dictionary, [][]byte{field})
	if err != nil {
		return nil, false, err
	}
	return results[0].Value, results[0].Found, nil
}

// DictionaryGetFields looks up fields in dictionary and returns one result
// per field, in order, whether or not the dictionary exists; found reports
// whether it does. When it does not, every result is a miss. Retried.
func (c *Client) DictionaryGetFields(ctx context.Context, cache string, dictionary []byte, fields [][]byte) (results []GetResult, found bool, err error) {
	return c.dictionaryGet(ctx, rpcDictionaryGetFields, cache, dictionary, fields)
}

// dictionaryGet sends DictionaryGet for the client method m.
func (c *Client) dictionaryGet(ctx context.Context, m rpc, cache string, dictionary []byte, fields [][]byte) ([]GetResult, bool, error) {
	op := methods[m].name
	req := &cachepb.XDictionaryGetRequest{DictionaryName: dictionary, Fields: fields}
	resp, err := invoke(ctx, c, m, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XDictionaryGetResponse, error) {
		return ch.scs.DictionaryGet(ctx, req, opts...)
	})
	if err != nil {
		return nil, false, err
	}
	out := make([]GetResult, len(fields))
	switch r := resp.GetDictionary().(type) {
	case *cachepb.XDictionaryGetResponse_Missing:
		return out, false, nil
	case *cachepb.XDictionaryGetResponse_Found:
		parts := r.Found.GetItems()
		if len(parts) != len(fields) {
			return nil, false, unexpected(op, fmt.Sprintf("%d results for %d fields", len(parts), len(fields)))
		}
		for i, p := range parts {
			switch p.GetResult() {
			case cachepb.ECacheResult_Hit:
				out[i] = GetResult{Value: nonNil(p.GetCacheBody()), Found: true}
			case cachepb.ECacheResult_Miss:
			default:
				return nil, false, unexpected(op, fmt.Sprintf("field %d: result %v", i, p.GetResult()))
			}
		}
		return out, true, nil
	}
	return nil, false, unexpected(op, "no result")
}

// DictionaryFetch returns every field of dictionary with its value, keyed by
// the field's bytes as a string, and whether the dictionary exists; the map
// is nil when it does not. Retried.
func (c *Client) DictionaryFetch(ctx context.Context, cache string, dictionary []byte) (fields map[string][]byte, found bool, err error) {
	req := &cachepb.XDictionaryFetchRequest{DictionaryName: dictionary}
	resp, err := invoke(ctx, c, rpcDictionaryFetch, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XDictionaryFetchResponse, error) {
		return ch.scs.DictionaryFetch(ctx, req, opts...)
	})
	if err != nil {
		return nil, false, err
	}
	switch r := resp.GetDictionary().(type) {
	case *cachepb.XDictionaryFetchResponse_Missing:
		return nil, false, nil
	case *cachepb.XDictionaryFetchResponse_Found:
		items := r.Found.GetItems()
		out := make(map[string][]byte, len(items))
		for _, it := range items {
			out[string(it.GetField())] = nonNil(it.GetValue())
		}
		return out, true, nil
	}
	return nil, false, unexpected("DictionaryFetch", "no result")
}

// DictionarySetFields stores every field of fields (a field's bytes as a
// string, and its value) in dictionary, creating it when missing, and sets
// its TTL as ttl says. Fields not named keep their values. With no fields it
// creates nothing (and only refreshes an existing dictionary's TTL as ttl
// says). Retried: setting the same values twice leaves the same dictionary.
func (c *Client) DictionarySetFields(ctx context.Context, cache string, dictionary []byte, fields map[string][]byte, ttl CollectionTTL) error {
	ms, refresh, err := c.collectionTTL("DictionarySetFields", ttl)
	if err != nil {
		return err
	}
	req := &cachepb.XDictionarySetRequest{DictionaryName: dictionary, TtlMilliseconds: ms, RefreshTtl: refresh,
		Items: make([]*cachepb.XDictionaryFieldValuePair, 0, len(fields))}
	for f, v := range fields {
		req.Items = append(req.Items, &cachepb.XDictionaryFieldValuePair{Field: []byte(f), Value: v})
	}
	_, err = invoke(ctx, c, rpcDictionarySetFields, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XDictionarySetResponse, error) {
		return ch.scs.DictionarySet(ctx, req, opts...)
	})
	return err
}

// DictionaryIncrement adds amount (which may be zero or negative) to the
// integer stored as base-10 text in field of dictionary and returns the new
// value. A missing dictionary or field is created holding amount. The TTL is
// set as ttl says. A field holding anything but an integer, or a result
// beyond int64, fails with ErrFailedPrecondition. Never retried: after an error the increment may or
// may not have been applied.
func (c *Client) DictionaryIncrement(ctx context.Context, cache string, dictionary, field []byte, amount int64, ttl CollectionTTL) (int64, error) {
	ms, refresh, err := c.collectionTTL("DictionaryIncrement", ttl)
	if err != nil {
		return 0, err
	}
	req := &cachepb.XDictionaryIncrementRequest{DictionaryName: dictionary, Field: field, Amount: amount, TtlMilliseconds: ms, RefreshTtl: refresh}
	resp, err := invoke(ctx, c, rpcDictionaryIncrement, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XDictionaryIncrementResponse, error) {
		return ch.scs.DictionaryIncrement(ctx, req, opts...)
	})
	if err != nil {
		return 0, err
	}
	return resp.GetValue(), nil
}

// DictionaryRemoveFields removes fields from dictionary. Fields it does not
// hold, and a missing dictionary, are no-ops; removing the last field deletes
// the dictionary. The TTL is not changed. Retried.
func (c *Client) DictionaryRemoveFields(ctx context.Context, cache string, dictionary []byte, fields [][]byte) error {
	req := &cachepb.XDictionaryDeleteRequest{DictionaryName: dictionary,
		Delete: &cachepb.XDictionaryDeleteRequest_Some_{Some: &cachepb.XDictionaryDeleteRequest_Some{Fields: fields}}}
	_, err := invoke(ctx, c, rpcDictionaryRemoveFields, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XDictionaryDeleteResponse, error) {
		return ch.scs.DictionaryDelete(ctx, req, opts...)
	})
	return err
}

// DictionaryDelete deletes the whole dictionary; a missing one is a no-op.
// Unlike Delete, it fails with ErrFailedPrecondition when the key holds
// another kind of item, which it leaves alone. Retried.
func (c *Client) DictionaryDelete(ctx context.Context, cache string, dictionary []byte) error {
	req := &cachepb.XDictionaryDeleteRequest{DictionaryName: dictionary,
		Delete: &cachepb.XDictionaryDeleteRequest_All_{All: &cachepb.XDictionaryDeleteRequest_All{}}}
	_, err := invoke(ctx, c, rpcDictionaryDelete, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XDictionaryDeleteResponse, error) {
		return ch.scs.DictionaryDelete(ctx, req, opts...)
	})
	return err
}

// DictionaryLength returns the number of fields in dictionary, and whether it
// exists (an existing dictionary has at least one field). Retried.
func (c *Client) DictionaryLength(ctx context.Context, cache string, dictionary []byte) (length int, found bool, err error) {
	req := &cachepb.XDictionaryLengthRequest{DictionaryName: dictionary}
	resp, err := invoke(ctx, c, rpcDictionaryLength, cache, func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XDictionaryLengthResponse, error) {
		return ch.scs.DictionaryLength(ctx, req, opts...)
	})
	if err != nil {
		return 0, false, err
	}
	switch r := resp.GetDictionary().(type) {
	case *cachepb.XDictionaryLengthResponse_Found:
		return int(r.Found.GetLength()), true, nil
	case *cachepb.XDictionaryLengthResponse_Missing:
		return 0, false, nil
	}
	return 0, false, unexpected("DictionaryLength", "no result")
}
