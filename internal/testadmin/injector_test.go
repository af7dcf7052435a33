package testadmin

import (
	"context"
	"errors"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/thaw-dev/thaw/api/cachepb"
)

func get(ctx context.Context, env *testEnv) error {
	_, err := env.client.Get(ctx, &cachepb.XGetRequest{CacheKey: []byte("k")})
	return err
}

func set(ctx context.Context, env *testEnv) error {
	_, err := env.client.Set(ctx, &cachepb.XSetRequest{CacheKey: []byte("k"), CacheBody: []byte("v")})
	return err
}

func TestReturnErrorEveryName(t *testing.T) {
	env := startEnv(t, NewInjector())
	tests := []struct {
		name string
		want codes.Code
	}{
		{"invalid-argument", codes.InvalidArgument},
		{"unknown", codes.Unknown},
		{"already-exists", codes.AlreadyExists},
		{"not-found", codes.NotFound},
		{"internal", codes.Internal},
		{"permission-denied", codes.PermissionDenied},
		{"unauthenticated", codes.Unauthenticated},
		{"cancelled", codes.Canceled},
		{"unavailable", codes.Unavailable},
		{"resource-exhausted", codes.ResourceExhausted},
		{"deadline-exceeded", codes.DeadlineExceeded},
		{"failed-precondition", codes.FailedPrecondition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := withMD(t, KeyRequestID, "every-"+tt.name, KeyReturnError, tt.name, KeyErrorRPCs, "get")
			// Without error-count every call fails.
			for i := 0; i < 3; i++ {
				if got := status.Code(get(ctx, env)); got != tt.want {
					t.Errorf("Get %d = %v, want %v", i, got, tt.want)
				}
			}
		})
	}
	if got := env.scs.handled.Load(); got != 0 {
		t.Errorf("handler ran %d times for failed calls, want 0", got)
	}
}

func TestErrorCount(t *testing.T) {
	env := startEnv(t, NewInjector())
	ctx := withMD(t, KeyRequestID, "count", KeyReturnError, "unavailable", KeyErrorRPCs, "get set-if", KeyErrorCount, "2")

	// An RPC not in error-rpcs passes and does not use up the count.
	if err := set(ctx, env); err != nil {
		t.Fatalf("Set = %v, want success (not listed)", err)
	}
	for i := 0; i < 2; i++ {
		if got := status.Code(get(ctx, env)); got != codes.Unavailable {
			t.Errorf("Get %d = %v, want %v", i, got, codes.Unavailable)
		}
	}
	for i := 2; i < 5; i++ {
		if err := get(ctx, env); err != nil {
			t.Errorf("Get %d = %v, want success after error-count", i, err)
		}
	}
}

func TestErrorCountPerRequestID(t *testing.T) {
	env := startEnv(t, NewInjector())
	md := func(id string) context.Context {
		return withMD(t, KeyRequestID, id, KeyReturnError, "internal", KeyErrorRPCs, "get", KeyErrorCount, "1")
	}
	a, b := md("session-a"), md("session-b")

	if got := status.Code(get(a, env)); got != codes.Internal {
		t.Errorf("first Get of a = %v, want %v", got, codes.Internal)
	}
	if err := get(a, env); err != nil {
		t.Errorf("second Get of a = %v, want success", err)
	}
	// b has its own count, untouched by a.
	if got := status.Code(get(b, env)); got != codes.Internal {
		t.Errorf("first Get of b = %v, want %v", got, codes.Internal)
	}
	if err := get(b, env); err != nil {
		t.Errorf("second Get of b = %v, want success", err)
	}
	// Calls without fault metadata are untouched.
	if err := get(withMD(t), env); err != nil {
		t.Errorf("Get without metadata = %v, want success", err)
	}
}

func TestErrorCountConcurrent(t *testing.T) {
	env := startEnv(t, NewInjector())
	ctx := withMD(t, KeyRequestID, "race", KeyReturnError, "unavailable", KeyErrorRPCs, "get", KeyErrorCount, "5")

	var failed atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := get(ctx, env); err != nil {
				if status.Code(err) != codes.Unavailable {
					t.Errorf("Get = %v, want success or %v", err, codes.Unavailable)
				}
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if got := failed.Load(); got != 5 {
		t.Errorf("%d of 20 concurrent Gets failed, want 5", got)
	}
}

func TestDelay(t *testing.T) {
	env := startEnv(t, NewInjector())
	const delay = 150 * time.Millisecond
	ctx := withMD(t, KeyRequestID, "delay", KeyDelayRPCs, "get", KeyDelayMillis, strconv.Itoa(int(delay.Milliseconds())))

	start := time.Now()
	if err := get(ctx, env); err != nil {
		t.Fatalf("Get = %v, want success", err)
	}
	if took := time.Since(start); took < delay {
		t.Errorf("delayed Get took %v, want at least %v", took, delay)
	}
	// Without delay-count every call is delayed.
	start = time.Now()
	if err := get(ctx, env); err != nil {
		t.Fatalf("second Get = %v, want success", err)
	}
	if took := time.Since(start); took < delay {
		t.Errorf("second delayed Get took %v, want at least %v", took, delay)
	}
}

func TestDelayThenError(t *testing.T) {
	env := startEnv(t, NewInjector())
	const delay = 150 * time.Millisecond
	ctx := withMD(t, KeyRequestID, "delay-error",
		KeyDelayRPCs, "get", KeyDelayMillis, strconv.Itoa(int(delay.Milliseconds())),
		KeyErrorRPCs, "get", KeyReturnError, "unavailable")

	start := time.Now()
	err := get(ctx, env)
	took := time.Since(start)
	if got := status.Code(err); got != codes.Unavailable {
		t.Errorf("Get = %v, want %v", err, codes.Unavailable)
	}
	if took < delay {
		t.Errorf("Get failed after %v, want the error after the %v delay", took, delay)
	}
}

func TestDelayDeadline(t *testing.T) {
	env := startEnv(t, NewInjector())
	ctx := withMD(t, KeyRequestID, "deadline", KeyDelayRPCs, "get", KeyDelayMillis, "10000")
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()

	start := time.Now()
	err := get(short, env)
	if got := status.Code(err); got != codes.DeadlineExceeded {
		t.Errorf("Get with a 100ms deadline and a 10s delay = %v, want %v", err, codes.DeadlineExceeded)
	}
	if took := time.Since(start); took >= 10*time.Second {
		t.Errorf("Get took %v, want the deadline to cut the delay short", took)
	}
	if got := env.scs.handled.Load(); got != 0 {
		t.Errorf("handler ran %d times, want 0 for a call that timed out while delayed", got)
	}
}

// TestDelayCount follows the Go SDK's test: delay-count 2 with a delay longer
// than the deadline times out twice, then the call passes undelayed. The
// timed-out attempts use up the count.
func TestDelayCount(t *testing.T) {
	env := startEnv(t, NewInjector())
	ctx := withMD(t, KeyRequestID, "delay-count", KeyDelayRPCs, "set", KeyDelayMillis, "20000", KeyDelayCount, "2")
	attempt := func() error {
		c, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		return set(c, env)
	}
	for i := 0; i < 2; i++ {
		c, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		err := set(c, env)
		cancel()
		if got := status.Code(err); got != codes.DeadlineExceeded {
			t.Errorf("Set %d = %v, want %v", i, err, codes.DeadlineExceeded)
		}
	}
	// A 3s deadline is far longer than an undelayed loopback call and far
	// shorter than the 20s delay.
	if err := attempt(); err != nil {
		t.Errorf("Set after delay-count = %v, want success", err)
	}
}

func TestErrorCountNotUsedByCallsEndedDuringDelay(t *testing.T) {
	env := startEnv(t, NewInjector())
	ctx := withMD(t, KeyRequestID, "delay-then-count",
		KeyDelayRPCs, "get", KeyDelayMillis, "20000", KeyDelayCount, "1",
		KeyErrorRPCs, "get", KeyReturnError, "internal", KeyErrorCount, "1")

	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if got := status.Code(get(short, env)); got != codes.DeadlineExceeded {
		t.Errorf("delayed Get = %v, want %v", got, codes.DeadlineExceeded)
	}
	if got := status.Code(get(ctx, env)); got != codes.Internal {
		t.Errorf("next Get = %v, want %v (the error was not yet given)", got, codes.Internal)
	}
	if err := get(ctx, env); err != nil {
		t.Errorf("third Get = %v, want success", err)
	}
}

func TestMalformedMetadata(t *testing.T) {
	env := startEnv(t, NewInjector())
	tests := []struct {
		name string
		kv   []string
		want codes.Code
	}{
		{"unknown error name", []string{KeyErrorRPCs, "get", KeyReturnError, "teapot"}, codes.InvalidArgument},
		{"negative error-count", []string{KeyErrorRPCs, "get", KeyReturnError, "internal", KeyErrorCount, "-1"}, codes.InvalidArgument},
		{"word delay-ms", []string{KeyDelayRPCs, "get", KeyDelayMillis, "soon"}, codes.InvalidArgument},
		{"delay-ms beyond a day", []string{KeyDelayRPCs, "get", KeyDelayMillis, "99999999999999"}, codes.InvalidArgument},
		{"bad delay-count", []string{KeyDelayRPCs, "get", KeyDelayMillis, "1", KeyDelayCount, "x"}, codes.InvalidArgument},
		{"malformed but not for this rpc", []string{KeyErrorRPCs, "set", KeyReturnError, "teapot"}, codes.OK},
		{"error-rpcs without return-error", []string{KeyErrorRPCs, "get"}, codes.OK},
		{"stream headers on a unary call", []string{KeyStreamErrorRPCs, "get", KeyStreamError, "internal"}, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := withMD(t, append([]string{KeyRequestID, tt.name}, tt.kv...)...)
			if got := status.Code(get(ctx, env)); got != tt.want {
				t.Errorf("Get = %v, want %v", got, tt.want)
			}
		})
	}
}

// recvAll reads a server stream to its end and returns how many messages
// arrived and the final error (nil at a clean end).
func recvAll(cs grpc.ClientStream, newMsg func() any) (int, error) {
	n := 0
	for {
		err := cs.RecvMsg(newMsg())
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

func getBatch(t *testing.T, ctx context.Context, env *testEnv, keys int) (int, error) {
	t.Helper()
	req := &cachepb.XGetBatchRequest{}
	for i := 0; i < keys; i++ {
		req.Items = append(req.Items, &cachepb.XGetRequest{CacheKey: []byte(strconv.Itoa(i))})
	}
	stream, err := env.client.GetBatch(ctx, req)
	if err != nil {
		t.Fatalf("GetBatch: %v", err)
	}
	return recvAll(stream, func() any { return new(cachepb.XGetResponse) })
}

func TestStreamErrorAfterLimit(t *testing.T) {
	env := startEnv(t, NewInjector())
	tests := []struct {
		name     string
		kv       []string
		wantMsgs int
		wantCode codes.Code
	}{
		{"limit 2", []string{KeyStreamErrorRPCs, "get-batch", KeyStreamError, "internal", KeyStreamErrorMessageLimit, "2"}, 2, codes.Internal},
		{"limit 0", []string{KeyStreamErrorRPCs, "get-batch", KeyStreamError, "not-found", KeyStreamErrorMessageLimit, "0"}, 0, codes.NotFound},
		{"no limit fails at once", []string{KeyStreamErrorRPCs, "get-batch", KeyStreamError, "unavailable"}, 0, codes.Unavailable},
		{"limit above stream length", []string{KeyStreamErrorRPCs, "get-batch", KeyStreamError, "internal", KeyStreamErrorMessageLimit, "9"}, 5, codes.OK},
		{"other rpc listed", []string{KeyStreamErrorRPCs, "topic-subscribe", KeyStreamError, "internal", KeyStreamErrorMessageLimit, "1"}, 5, codes.OK},
		{"error-rpcs fails before any message", []string{KeyErrorRPCs, "get-batch", KeyReturnError, "permission-denied"}, 0, codes.PermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := withMD(t, append([]string{KeyRequestID, tt.name}, tt.kv...)...)
			n, err := getBatch(t, ctx, env, 5)
			if n != tt.wantMsgs || status.Code(err) != tt.wantCode {
				t.Errorf("GetBatch of 5 = %d messages, %v; want %d, %v", n, err, tt.wantMsgs, tt.wantCode)
			}
		})
	}
}

// TestStreamErrorSubscription is the SDKs' subscription case: a stream that
// never ends by itself fails after the limit, its handler is released, and a
// resubscription with the same metadata fails again after the limit.
func TestStreamErrorSubscription(t *testing.T) {
	env := startEnv(t, NewInjector())
	ctx := withMD(t, KeyRequestID, "subscription",
		KeyStreamErrorRPCs, "topic-subscribe", KeyStreamError, "unavailable", KeyStreamErrorMessageLimit, "3")

	for round := 0; round < 2; round++ {
		n, err := recvAll(env.subscribe(ctx, t), func() any { return new(wrapperspb.Int64Value) })
		if n != 3 || status.Code(err) != codes.Unavailable {
			t.Errorf("subscription %d = %d messages, %v; want 3, %v", round, n, err, codes.Unavailable)
		}
		select {
		case <-env.pubsub.returned:
		case <-time.After(10 * time.Second):
			t.Fatalf("subscription %d: handler still running after the stream error", round)
		}
	}
}

func TestStreamDelayAndError(t *testing.T) {
	env := startEnv(t, NewInjector())

	t.Run("delay before first message", func(t *testing.T) {
		const delay = 150 * time.Millisecond
		ctx, cancel := context.WithCancel(withMD(t, KeyRequestID, "sub-delay",
			KeyDelayRPCs, "topic-subscribe", KeyDelayMillis, strconv.Itoa(int(delay.Milliseconds()))))
		defer cancel()
		start := time.Now()
		cs := env.subscribe(ctx, t)
		if err := cs.RecvMsg(new(wrapperspb.Int64Value)); err != nil {
			t.Fatalf("first message: %v", err)
		}
		if took := time.Since(start); took < delay {
			t.Errorf("first message after %v, want at least %v", took, delay)
		}
	})

	t.Run("deadline during delay", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(withMD(t, KeyRequestID, "sub-deadline",
			KeyDelayRPCs, "topic-subscribe", KeyDelayMillis, "10000"), 100*time.Millisecond)
		defer cancel()
		desc := &grpc.StreamDesc{StreamName: "Subscribe", ServerStreams: true}
		cs, err := env.conn.NewStream(ctx, desc, subscribeMethod)
		if err == nil {
			if err = cs.SendMsg(wrapperspb.String("topic")); err == nil {
				err = cs.RecvMsg(new(wrapperspb.Int64Value))
			}
		}
		if got := status.Code(err); got != codes.DeadlineExceeded {
			t.Errorf("Subscribe = %v, want %v", err, codes.DeadlineExceeded)
		}
	})

	t.Run("error-rpcs topic-subscribe", func(t *testing.T) {
		ctx := withMD(t, KeyRequestID, "sub-error", KeyErrorRPCs, "topic-subscribe", KeyReturnError, "unauthenticated", KeyErrorCount, "1")
		n, err := recvAll(env.subscribe(ctx, t), func() any { return new(wrapperspb.Int64Value) })
		if n != 0 || status.Code(err) != codes.Unauthenticated {
			t.Errorf("first Subscribe = %d messages, %v; want 0, %v", n, err, codes.Unauthenticated)
		}
		ctx2, cancel := context.WithCancel(ctx)
		defer cancel()
		if err := env.subscribe(ctx2, t).RecvMsg(new(wrapperspb.Int64Value)); err != nil {
			t.Errorf("second Subscribe = %v, want a message after error-count", err)
		}
	})
}

func TestRequestIDEviction(t *testing.T) {
	in := NewInjector(WithMaxRequestIDs(2))
	call := unaryCaller(in, "/cache_client.Scs/Get")
	md := func(id string) []string {
		return []string{KeyRequestID, id, KeyErrorRPCs, "get", KeyReturnError, "internal", KeyErrorCount, "1"}
	}

	for _, id := range []string{"a", "b", "c"} {
		if got := status.Code(call(md(id))); got != codes.Internal {
			t.Errorf("first call of %s = %v, want %v", id, got, codes.Internal)
		}
	}
	if got := in.requestIDsHeld(); got != 2 {
		t.Errorf("requestIDsHeld() = %d, want 2", got)
	}
	// c is remembered; a, the least recently used, was forgotten.
	if err := call(md("c")); err != nil {
		t.Errorf("second call of c = %v, want success", err)
	}
	if got := status.Code(call(md("a"))); got != codes.Internal {
		t.Errorf("call of forgotten a = %v, want %v", got, codes.Internal)
	}
}

func TestRequestIDExpiry(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	advance := func(d time.Duration) {
		mu.Lock()
		now = now.Add(d)
		mu.Unlock()
	}
	in := NewInjector(WithRequestIDTTL(time.Minute), WithClock(clock))
	call := unaryCaller(in, "/cache_client.Scs/Get")
	md := []string{KeyRequestID, "old", KeyErrorRPCs, "get", KeyReturnError, "internal", KeyErrorCount, "1"}

	if got := status.Code(call(md)); got != codes.Internal {
		t.Fatalf("first call = %v, want %v", got, codes.Internal)
	}
	advance(30 * time.Second)
	if err := call(md); err != nil {
		t.Errorf("call within TTL = %v, want success", err)
	}
	advance(2 * time.Minute)
	if got := status.Code(call(md)); got != codes.Internal {
		t.Errorf("call after TTL = %v, want %v (counts forgotten)", got, codes.Internal)
	}
	if got := in.requestIDsHeld(); got != 1 {
		t.Errorf("requestIDsHeld() = %d, want 1", got)
	}
}

// unaryCaller runs the Injector's unary interceptor in front of a handler
// that succeeds, as a gRPC server would for method.
func unaryCaller(in *Injector, method string) func(kv []string) error {
	intercept := in.UnaryInterceptor()
	info := &grpc.UnaryServerInfo{FullMethod: method}
	ok := func(context.Context, any) (any, error) { return "ok", nil }
	return func(kv []string) error {
		ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(kv...))
		_, err := intercept(ctx, nil, info, ok)
		return err
	}
}

// FuzzParsePlan feeds arbitrary header values to the metadata parser: it must
// never panic, and every rejection must be an INVALID_ARGUMENT status.
func FuzzParsePlan(f *testing.F) {
	f.Add("get set", "unavailable", "2", "get", "150", "1", "get-batch", "internal", "3")
	f.Add("get", "SERVER_UNAVAILABLE", "", "", "", "", "", "", "")
	f.Add("get", "teapot", "-1", "get", "soon", "x", "get", "", "9999999999999999999999")
	f.Fuzz(func(t *testing.T, errorRPCs, returnError, errorCount, delayRPCs, delayMS, delayCount, streamRPCs, streamError, limit string) {
		md := metadata.MD{}
		for k, v := range map[string]string{
			KeyErrorRPCs: errorRPCs, KeyReturnError: returnError, KeyErrorCount: errorCount,
			KeyDelayRPCs: delayRPCs, KeyDelayMillis: delayMS, KeyDelayCount: delayCount,
			KeyStreamErrorRPCs: streamRPCs, KeyStreamError: streamError, KeyStreamErrorMessageLimit: limit,
		} {
			md.Set(k, v)
		}
		p, err := parsePlan(md, "/cache_client.Scs/GetBatch")
		if err != nil {
			if got := status.Code(err); got != codes.InvalidArgument {
				t.Fatalf("parsePlan error = %v, want code %v", err, codes.InvalidArgument)
			}
			return
		}
		if p.delay < 0 {
			t.Errorf("parsePlan delay = %v, want >= 0", p.delay)
		}
		if p.streamErr != nil && p.streamErr.limit < 0 {
			t.Errorf("parsePlan stream limit = %d, want >= 0", p.streamErr.limit)
		}
	})
}
