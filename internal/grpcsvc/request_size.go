package grpcsvc

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/internal/store"
)

// The service refuses a request larger than its request limit with
// RESOURCE_EXHAUSTED, "request limit" in the message and the "err" trailer
// request_size_limit_exceeded: the Node SDK reads the message, the Go and
// Rust SDKs the trailer, and all report "Request size limit exceeded for
// this account". gRPC's own refusal of a message above the transport's
// maximum ("received message larger than max") matches neither, so the
// server lets larger messages through its transport and these interceptors
// refuse them instead.

// RequestSizeUnaryInterceptor refuses a unary request whose encoded size
// exceeds limits.MaxRequestSize (see store.Limits) before its handler runs.
func RequestSizeUnaryInterceptor(limits store.Limits) grpc.UnaryServerInterceptor {
	limits = limits.WithDefaults()
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if err := checkRequestSize(limits, req); err != nil {
			return nil, toStatus(ctx, fmt.Errorf("%s: %w", info.FullMethod, err))
		}
		return handler(ctx, req)
	}
}

// RequestSizeStreamInterceptor is RequestSizeUnaryInterceptor for streaming
// calls: it checks every message the handler receives.
func RequestSizeStreamInterceptor(limits store.Limits) grpc.StreamServerInterceptor {
	limits = limits.WithDefaults()
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return handler(srv, sizeCheckedStream{ServerStream: ss, limits: limits, method: info.FullMethod})
	}
}

// sizeCheckedStream refuses received messages over the request limit.
type sizeCheckedStream struct {
	grpc.ServerStream
	limits store.Limits
	method string
}

// RecvMsg receives a message and checks its size.
func (s sizeCheckedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if err := checkRequestSize(s.limits, m); err != nil {
		return toStatus(s.Context(), fmt.Errorf("%s: %w", s.method, err))
	}
	return nil
}

// checkRequestSize applies limits.MaxRequestSize to a request message. A
// batch counts item by item, each as the Get or Set request it stands for:
// the SDKs send up to their message cap (10,486,000 bytes for Node) in one
// batch, and nothing shows the service refusing a batch whose items are
// each within the limit.
func checkRequestSize(limits store.Limits, req any) error {
	switch r := req.(type) {
	case *cachepb.XSetBatchRequest:
		for _, item := range r.GetItems() {
			if err := limits.CheckRequestSize(proto.Size(item)); err != nil {
				return err
			}
		}
		return nil
	case *cachepb.XGetBatchRequest:
		for _, item := range r.GetItems() {
			if err := limits.CheckRequestSize(proto.Size(item)); err != nil {
				return err
			}
		}
		return nil
	case proto.Message:
		return limits.CheckRequestSize(proto.Size(r))
	}
	return nil
}
