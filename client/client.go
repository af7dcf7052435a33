package client

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/api/controlpb"
	"github.com/thaw-dev/thaw/api/leaderboardpb"
)

// Client is a connection to a thaw (or Momento-compatible) cache server. Its
// methods are safe for concurrent use. It holds one gRPC connection, which
// freeze-aware recovery may replace (see the package documentation).
type Client struct {
	cfg   Config
	creds Credentials
	trace *tracer // nil when tracing is off
	act   *activity

	// current is the channel calls use; nil once the client is closed.
	current atomic.Pointer[channel]

	mu          sync.Mutex // guards replacing current, nextChannel and spare
	nextChannel uint64
	spare       *spare // the spare raced against current after a gap; nil if none

	closers sync.WaitGroup // old channels being closed in the background
}

// channel is one gRPC connection and the stubs on it.
type channel struct {
	id      uint64
	conn    *grpc.ClientConn
	scs     cachepb.ScsClient
	ping    cachepb.PingClient
	control controlpb.ScsControlClient

	leaderboard leaderboardpb.LeaderboardClient
}

// New validates cfg, starts connecting to the server named by creds and
// waits until the first connection attempt has succeeded or failed, ctx has
// ended or cfg.Timeout has passed, whichever comes first. A server that
// cannot be reached is not an error for New: calls keep trying to connect and
// fail with ErrUnavailable or ErrTimeout. Connecting in New puts the
// handshake in a Lambda function's init phase rather than in its first
// invocation.
func New(ctx context.Context, cfg Config, creds Credentials, opts ...Option) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if creds.endpoint == "" {
		return nil, invalidArgument("New", "credentials have no endpoint")
	}
	if err := ctx.Err(); err != nil {
		return nil, &Error{Code: CodeCancelled, Op: "New", Message: err.Error(), cause: err}
	}
	o := options{clock: systemClock{}}
	for _, opt := range opts {
		opt(&o)
	}
	c := &Client{cfg: cfg, creds: creds, act: newActivity(o.clock)}
	if o.tracer != nil {
		c.trace = newTracer(o.tracer, cfg)
	}
	c.nextChannel = 1
	ch, err := c.dial(c.nextChannel)
	if err != nil {
		return nil, err
	}
	c.current.Store(ch)
	c.act.replied(c.act.now())
	waitReady(ctx, ch.conn, cfg.Timeout)
	return c, nil
}

// waitReady starts connecting conn and waits until it is ready or has
// failed once, ctx ends or limit passes.
func waitReady(ctx context.Context, conn *grpc.ClientConn, limit time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	conn.Connect()
	for {
		s := conn.GetState()
		if s == connectivity.Ready || s == connectivity.TransientFailure || s == connectivity.Shutdown || !conn.WaitForStateChange(ctx, s) {
			return
		}
	}
}

// dial makes a channel with the client's settings. grpc.NewClient only
// fails on a malformed target or options, so this is cheap and rarely fails.
func (c *Client) dial(id uint64) (*channel, error) {
	var tc credentials.TransportCredentials = insecure.NewCredentials()
	if c.creds.tls != nil {
		tc = credentials.NewTLS(c.creds.tls)
	}
	opts := []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(c.cfg.MaxMessageSize), grpc.MaxCallSendMsgSize(c.cfg.MaxMessageSize)),
		grpc.WithUserAgent("thaw-go-client"),
	}
	// No keepalive option at all when keepalive is off: grpc-go turns a
	// zero interval into 10 s rather than into "never".
	if c.cfg.KeepaliveTime > 0 {
		opts = append(opts, grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:                c.cfg.KeepaliveTime,
			Timeout:             c.cfg.KeepaliveTimeout,
			PermitWithoutStream: c.cfg.KeepalivePermitWithoutCalls,
		}))
	}
	if c.trace != nil {
		tc = tracingCredentials{tc}
		opts = append(opts, grpc.WithContextDialer(c.trace.dialer(id)))
	}
	opts = append(opts, grpc.WithTransportCredentials(tc))
	conn, err := grpc.NewClient(c.creds.endpoint, opts...)
	if err != nil {
		return nil, &Error{Code: CodeInvalidArgument, Op: "New", Message: fmt.Sprintf("connect to %s: %v", c.creds.endpoint, err), cause: err}
	}
	return &channel{
		id:      id,
		conn:    conn,
		scs:     cachepb.NewScsClient(conn),
		ping:    cachepb.NewPingClient(conn),
		control: controlpb.NewScsControlClient(conn),

		leaderboard: leaderboardpb.NewLeaderboardClient(conn),
	}, nil
}

// Close closes the connection. Calls in flight end with ErrCancelled; later
// calls fail with ErrCancelled at once. Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	ch := c.current.Swap(nil)
	sp := c.spare
	if sp != nil {
		c.spare = nil
		sp.kept = true // closed here, not by the last call to leave it
	}
	c.mu.Unlock()
	var err error
	if ch != nil {
		if cerr := ch.conn.Close(); cerr != nil {
			err = fmt.Errorf("client: close: %w", cerr)
		}
	}
	if sp != nil {
		sp.stop()
		sp.ch.conn.Close()
	}
	c.closers.Wait()
	return err
}

// Config returns the configuration the client was created with.
func (c *Client) Config() Config { return c.cfg }

// errClosed is returned by calls on a closed client.
func errClosed(op string) *Error {
	return &Error{Code: CodeCancelled, Op: op, Message: "client is closed"}
}

// sendFunc sends one attempt of an RPC on a channel.
type sendFunc[T any] func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (T, error)

// invoke runs one call of RPC m: deadline, metadata, freeze-aware recovery,
// retries and error mapping. cache is the cache name for data-plane RPCs.
func invoke[T any](ctx context.Context, c *Client, m rpc, cache string, send sendFunc[T]) (T, error) {
	var zero T
	info := &methods[m]
	ch := c.current.Load()
	if ch == nil {
		return zero, errClosed(info.name)
	}
	if info.plane == planeData && cache == "" {
		return zero, invalidArgument(info.name, "cache name is empty")
	}
	if c.trace != nil {
		c.trace.beginCall(ctx)
	}
	start := c.act.now()
	callStart := time.Now() // wall time, whatever the Clock: for the trace and the hedge delay
	timeout := c.cfg.Timeout
	if info.plane == planeControl {
		timeout = c.cfg.ControlTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch info.plane {
	case planeData:
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", c.creds.token, "cache", cache)
	case planeControl:
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", c.creds.token)
	}

	probe := false
	gap := c.act.gap(start)
	plan := c.planFor(gap)
	if plan != planNone {
		ch, probe = c.recoverBefore(ctx, ch, info, plan, gap)
	}

	attempts, sent := 0, 0
	for {
		var (
			resp    T
			err     error
			trailer metadata.MD
		)
		if probe {
			// The short first attempt on a suspect connection, raced
			// against a spare (recovery_race.go); ch is where the call
			// goes on.
			suspect := ch
			resp, trailer, ch, err = raceAfterGap(ctx, c, ch, gap, send)
			if err != nil && ch != suspect && !serverReplied(status.Code(err)) && ctx.Err() == nil {
				probe = false
				sent++
				continue // the spare took over after the suspect gave no answer
			}
		} else {
			resp, err = send(ctx, ch, grpc.Trailer(&trailer))
		}
		sent++
		if err == nil {
			c.act.replied(start)
			if plan == planNone {
				c.act.recordCallTime(time.Since(callStart))
			}
			c.traceCall(info, callStart, sent, ch, nil)
			return resp, nil
		}
		code := status.Code(err)
		if serverReplied(code) {
			c.act.replied(start)
		} else {
			c.act.noReply(code)
		}
		if ctx.Err() == nil {
			if probe {
				probe = false
				if probeFailed(err) {
					ch = c.replace(ch, "probe attempt failed: "+code.String(), gap)
					continue
				}
			}
			attempts++
			if info.idempotent && retryable(code) && attempts < c.cfg.MaxAttempts {
				if ch = c.current.Load(); ch == nil {
					return zero, errClosed(info.name)
				}
				continue
			}
		}
		e := fromRPC(info.name, err, trailer)
		c.traceCall(info, callStart, sent, ch, e)
		return zero, e
	}
}

// traceCall reports the end of a call that was sent attempts times:
// failures at Warn, successes at Debug.
func (c *Client) traceCall(info *methodInfo, start time.Time, attempts int, ch *channel, err *Error) {
	if c.trace == nil {
		return
	}
	level := slog.LevelDebug
	msg := EventCall
	if err != nil {
		level, msg = slog.LevelWarn, EventCallFailed
	}
	if !c.trace.enabled(level) {
		return
	}
	attrs := []slog.Attr{slog.String("op", info.name), slog.Duration("took", time.Since(start)),
		slog.Int("attempts", attempts), slog.Uint64("channel", ch.id)}
	if err != nil {
		attrs = append(attrs, slog.String("code", err.Code.String()), slog.String("err", err.Message))
	}
	c.trace.emit(level, msg, attrs...)
}

// Ping checks that the server answers, with the data-call Timeout. It sends
// cache_client.Ping, which needs no authorization.
func (c *Client) Ping(ctx context.Context) error {
	_, err := invoke(ctx, c, rpcPing, "", func(ctx context.Context, ch *channel, opts ...grpc.CallOption) (*cachepb.XPingResponse, error) {
		return ch.ping.Ping(ctx, &cachepb.XPingRequest{}, opts...)
	})
	return err
}

// unexpected returns the error for a reply the client does not understand.
func unexpected(op string, what string) *Error {
	return &Error{Code: CodeUnknown, Op: op, Message: "unexpected reply: " + what, cause: status.Error(codes.Unknown, what)}
}
