package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/api/controlpb"
	"github.com/thaw-dev/thaw/internal/apikey"
	"github.com/thaw-dev/thaw/internal/certs"
)

// maxMessageSize bounds one gRPC message each way: room for the largest
// value Config allows.
const maxMessageSize = MaxValueSize + 1<<20

// TokenFromAPIKey returns what the SDKs send as the authorization header for
// key: the api_key inside a v1 API key (what `thaw token create` prints), or
// key itself otherwise (a JWT, or a bare token), and the endpoint the v1 key
// names, if any.
func TokenFromAPIKey(key string) (token, endpoint string) {
	if ep, inner, err := apikey.DecodeV1(key); err == nil {
		return inner, ep
	}
	return key, ""
}

// tlsConfig returns the TLS configuration cfg asks for, or nil for
// plaintext. nextProtos is set for connections made without grpc-go.
func tlsConfig(cfg Config, nextProtos ...string) (*tls.Config, error) {
	if !cfg.UsesTLS() {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify, NextProtos: nextProtos}
	if cfg.CAFile != "" {
		pool, err := certs.Pool(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("bench: --ca-file: %w", err)
		}
		tc.RootCAs = pool
	}
	if host, _, err := net.SplitHostPort(cfg.Endpoint); err == nil {
		tc.ServerName = host
	}
	return tc, nil
}

// conns are the gRPC connections of a load run.
type conns struct {
	conns   []*grpc.ClientConn
	scs     []cachepb.ScsClient
	control controlpb.ScsControlClient
	// md is the metadata of every data call: authorization and cache, as the
	// SDKs send them.
	md metadata.MD
	// authMD is the metadata of control calls: authorization only.
	authMD metadata.MD
}

// dialConns opens cfg.Connections connections and pings each, so that every
// one is connected (TCP, TLS, HTTP/2) before the load starts.
func dialConns(ctx context.Context, cfg Config) (*conns, error) {
	tc, err := tlsConfig(cfg)
	if err != nil {
		return nil, err
	}
	var creds credentials.TransportCredentials = insecure.NewCredentials()
	if tc != nil {
		creds = credentials.NewTLS(tc)
	}
	c := &conns{
		md:     metadata.Pairs("authorization", cfg.Token, "cache", cfg.Cache),
		authMD: metadata.Pairs("authorization", cfg.Token),
	}
	for range cfg.Connections {
		conn, err := grpc.NewClient(cfg.Endpoint,
			grpc.WithTransportCredentials(creds),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessageSize), grpc.MaxCallSendMsgSize(maxMessageSize)),
			grpc.WithUserAgent("thaw-bench"),
		)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("bench: connect to %s: %w", cfg.Endpoint, err)
		}
		c.conns = append(c.conns, conn)
		c.scs = append(c.scs, cachepb.NewScsClient(conn))
	}
	c.control = controlpb.NewScsControlClient(c.conns[0])
	for i, conn := range c.conns {
		pctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		_, err := cachepb.NewPingClient(conn).Ping(pctx, &cachepb.XPingRequest{})
		cancel()
		if err != nil {
			c.close()
			return nil, fmt.Errorf("bench: ping %s on connection %d: %w", cfg.Endpoint, i+1, describeRPCError(err))
		}
	}
	return c, nil
}

// dataContext returns ctx carrying the data calls' metadata.
func (c *conns) dataContext(ctx context.Context) context.Context {
	return metadata.NewOutgoingContext(ctx, c.md)
}

// createCache creates the cache, accepting one that exists. A key that may
// not create caches (PERMISSION_DENIED), or a server without the control
// service (UNIMPLEMENTED), is not an error: the cache may exist, and the
// first requests tell. It returns what to tell the user, if anything.
func (c *conns) createCache(ctx context.Context, cfg Config) (note string, err error) {
	ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(ctx, c.authMD), cfg.Timeout)
	defer cancel()
	_, err = c.control.CreateCache(ctx, &controlpb.XCreateCacheRequest{CacheName: proto.String(cfg.Cache)})
	switch status.Code(err) {
	case codes.OK:
		return fmt.Sprintf("created cache %q", cfg.Cache), nil
	case codes.AlreadyExists:
		return "", nil
	case codes.PermissionDenied:
		return fmt.Sprintf("this key may not create caches; assuming cache %q exists", cfg.Cache), nil
	case codes.Unimplemented:
		return fmt.Sprintf("the server does not implement CreateCache; assuming cache %q exists", cfg.Cache), nil
	}
	return "", fmt.Errorf("bench: create cache %q: %w", cfg.Cache, describeRPCError(err))
}

func (c *conns) close() {
	for _, conn := range c.conns {
		conn.Close()
	}
}

// rpcError is a failed call described for people: its status code and
// message, with a hint for the usual set-up mistakes.
type rpcError struct {
	code codes.Code
	msg  string
	hint string
	err  error
}

func (e *rpcError) Error() string {
	s := fmt.Sprintf("%v: %s", e.code, e.msg)
	if e.hint != "" {
		s += " (" + e.hint + ")"
	}
	return s
}

func (e *rpcError) Unwrap() error { return e.err }

// describeRPCError adds a hint to a gRPC error.
func describeRPCError(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	e := &rpcError{code: st.Code(), msg: st.Message(), err: err}
	switch st.Code() {
	case codes.Unauthenticated:
		e.hint = "check --api-key, $THAW_API_KEY or $MOMENTO_API_KEY"
	case codes.PermissionDenied:
		e.hint = "the API key's role or caches do not allow this"
	case codes.Unavailable:
		e.hint = "is the server running, and does --tls match how it serves?"
	case codes.NotFound:
		e.hint = "the cache does not exist and could not be created"
	}
	return e
}

// codeOf returns the status code name of a failed request, for the errors
// by code: a gRPC code, or "Unexpected" for a reply the bench does not
// understand.
func codeOf(err error) string {
	if st, ok := status.FromError(err); ok {
		return st.Code().String()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return codes.DeadlineExceeded.String()
	}
	return "Unexpected"
}
