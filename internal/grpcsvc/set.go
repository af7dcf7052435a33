package grpcsvc

import (
	"context"
	"fmt"
	"math"

	"github.com/thaw-dev/thaw/api/cachepb"
)

// SetFetch returns every member of a set, in no particular order, or
// missing when there is no set.
func (s *CacheService) SetFetch(ctx context.Context, req *cachepb.XSetFetchRequest) (*cachepb.XSetFetchResponse, error) {
	members, found, err := s.setRead(ctx, req.GetSetName(), func(call collectionCall) ([][]byte, bool, error) {
		return s.store.SetFetch(ctx, call.cache, call.key)
	})
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	if !found {
		return &cachepb.XSetFetchResponse{Set: &cachepb.XSetFetchResponse_Missing{Missing: &cachepb.XSetFetchResponse_XMissing{}}}, nil
	}
	return &cachepb.XSetFetchResponse{Set: &cachepb.XSetFetchResponse_Found{Found: &cachepb.XSetFetchResponse_XFound{Elements: members}}}, nil
}

// SetSample returns up to limit distinct members of a set, chosen at random:
// the whole set when limit is at least its size, and a found response with
// no members for a limit of 0.
func (s *CacheService) SetSample(ctx context.Context, req *cachepb.XSetSampleRequest) (*cachepb.XSetSampleResponse, error) {
	members, found, err := s.setRead(ctx, req.GetSetName(), func(call collectionCall) ([][]byte, bool, error) {
		return s.store.SetSample(ctx, call.cache, call.key, int(min(req.GetLimit(), math.MaxInt)))
	})
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	if !found {
		return &cachepb.XSetSampleResponse{Set: &cachepb.XSetSampleResponse_Missing{Missing: &cachepb.XSetSampleResponse_XMissing{}}}, nil
	}
	return &cachepb.XSetSampleResponse{Set: &cachepb.XSetSampleResponse_Found{Found: &cachepb.XSetSampleResponse_XFound{Elements: members}}}, nil
}

// SetPop removes and returns up to count members of a set, chosen at
// random; popping its last member deletes the set.
//
// A count of 0 never comes from the JS SDK (it refuses counts below 1) nor
// from Go (which sends 1 for an unset count), and the real service's answer
// is not known: thaw follows Redis's SPOP with a count of 0 and answers a
// found response with no members, leaving the set alone.
func (s *CacheService) SetPop(ctx context.Context, req *cachepb.XSetPopRequest) (*cachepb.XSetPopResponse, error) {
	members, found, err := s.setRead(ctx, req.GetSetName(), func(call collectionCall) ([][]byte, bool, error) {
		return s.store.SetPop(ctx, call.cache, call.key, int(req.GetCount()))
	})
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	if !found {
		return &cachepb.XSetPopResponse{Set: &cachepb.XSetPopResponse_Missing{Missing: &cachepb.XSetPopResponse_XMissing{}}}, nil
	}
	return &cachepb.XSetPopResponse{Set: &cachepb.XSetPopResponse_Found{Found: &cachepb.XSetPopResponse_XFound{Elements: members}}}, nil
}

// setRead validates the call and the set name, then runs read.
func (s *CacheService) setRead(ctx context.Context, name []byte, read func(collectionCall) ([][]byte, bool, error)) ([][]byte, bool, error) {
	call, err := s.collectionFor(ctx, name)
	if err != nil {
		return nil, false, err
	}
	return read(call)
}

// SetUnion adds elements to a set, creating it with ttl_milliseconds when
// missing. With refresh_ttl the set's TTL is reset even when every element
// was a member already. An empty elements list creates nothing.
func (s *CacheService) SetUnion(ctx context.Context, req *cachepb.XSetUnionRequest) (*cachepb.XSetUnionResponse, error) {
	if err := s.setUnion(ctx, req); err != nil {
		return nil, toStatus(ctx, err)
	}
	return &cachepb.XSetUnionResponse{}, nil
}

func (s *CacheService) setUnion(ctx context.Context, req *cachepb.XSetUnionRequest) error {
	call, err := s.collectionFor(ctx, req.GetSetName())
	if err != nil {
		return err
	}
	w, err := s.collectionWrite(req.GetTtlMilliseconds(), req.GetRefreshTtl(), req.GetElements()...)
	if err != nil {
		return err
	}
	return s.store.SetUnion(ctx, call.cache, call.key, req.GetElements(), w)
}

// SetDifference removes members from a set as its oneof says: subtrahend.set
// removes those elements (what the SDKs' removeElement(s) send),
// subtrahend.identity deletes the set, and minuend replaces the set with the
// request's elements minus its members ("cache = request - stored" in the
// protocol). A set left empty is deleted. The response is found when the set
// existed and missing when it did not; the TTL is never changed. A minuend
// on a missing set creates nothing, since the request carries no TTL.
func (s *CacheService) SetDifference(ctx context.Context, req *cachepb.XSetDifferenceRequest) (*cachepb.XSetDifferenceResponse, error) {
	found, err := s.setDifference(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	if !found {
		return &cachepb.XSetDifferenceResponse{Set: &cachepb.XSetDifferenceResponse_Missing{Missing: &cachepb.XSetDifferenceResponse_XMissing{}}}, nil
	}
	return &cachepb.XSetDifferenceResponse{Set: &cachepb.XSetDifferenceResponse_Found{Found: &cachepb.XSetDifferenceResponse_XFound{}}}, nil
}

func (s *CacheService) setDifference(ctx context.Context, req *cachepb.XSetDifferenceRequest) (bool, error) {
	call, err := s.collectionFor(ctx, req.GetSetName())
	if err != nil {
		return false, err
	}
	switch d := req.GetDifference().(type) {
	case *cachepb.XSetDifferenceRequest_Minuend:
		return s.store.SetSubtractFrom(ctx, call.cache, call.key, d.Minuend.GetElements(), s.limits.MaxItemSize)
	case *cachepb.XSetDifferenceRequest_Subtrahend:
		switch sub := d.Subtrahend.GetSubtrahendSet().(type) {
		case *cachepb.XSetDifferenceRequest_XSubtrahend_Set:
			return s.store.SetRemove(ctx, call.cache, call.key, sub.Set.GetElements())
		case *cachepb.XSetDifferenceRequest_XSubtrahend_Identity:
			return s.store.SetDelete(ctx, call.cache, call.key)
		}
		return false, fmt.Errorf("%w: SetDifference subtrahend needs set or identity", errInvalidRequest)
	}
	return false, fmt.Errorf("%w: SetDifference needs minuend or subtrahend", errInvalidRequest)
}

// SetContains answers, for each requested element in order, whether the set
// holds it, or missing when there is no set.
func (s *CacheService) SetContains(ctx context.Context, req *cachepb.XSetContainsRequest) (*cachepb.XSetContainsResponse, error) {
	contains, found, err := s.setContains(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	if !found {
		return &cachepb.XSetContainsResponse{Set: &cachepb.XSetContainsResponse_Missing{Missing: &cachepb.XSetContainsResponse_XMissing{}}}, nil
	}
	return &cachepb.XSetContainsResponse{Set: &cachepb.XSetContainsResponse_Found{Found: &cachepb.XSetContainsResponse_XFound{Contains: contains}}}, nil
}

func (s *CacheService) setContains(ctx context.Context, req *cachepb.XSetContainsRequest) ([]bool, bool, error) {
	call, err := s.collectionFor(ctx, req.GetSetName())
	if err != nil {
		return nil, false, err
	}
	return s.store.SetContains(ctx, call.cache, call.key, req.GetElements())
}

// SetLength returns the number of members of a set, or missing when there
// is no set.
func (s *CacheService) SetLength(ctx context.Context, req *cachepb.XSetLengthRequest) (*cachepb.XSetLengthResponse, error) {
	n, found, err := s.setLength(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, err)
	}
	if !found {
		return &cachepb.XSetLengthResponse{Set: &cachepb.XSetLengthResponse_Missing{Missing: &cachepb.XSetLengthResponse_XMissing{}}}, nil
	}
	return &cachepb.XSetLengthResponse{Set: &cachepb.XSetLengthResponse_Found{Found: &cachepb.XSetLengthResponse_XFound{
		Length: uint32(min(uint64(max(n, 0)), math.MaxUint32)),
	}}}, nil
}

func (s *CacheService) setLength(ctx context.Context, req *cachepb.XSetLengthRequest) (int, bool, error) {
	call, err := s.collectionFor(ctx, req.GetSetName())
	if err != nil {
		return 0, false, err
	}
	return s.store.SetLength(ctx, call.cache, call.key)
}
