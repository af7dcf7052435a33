package grpcsvc_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/api/commonpb"
	"github.com/thaw-dev/thaw/internal/grpcsvc"
	"github.com/thaw-dev/thaw/internal/store"
	"github.com/thaw-dev/thaw/internal/store/memory"
)

// scalarCall decodes a request of one scalar RPC and hands it to the service.
type scalarCall func(ctx context.Context, s *grpcsvc.CacheService, data []byte) error

func decodeAnd[Req any, PReq interface {
	*Req
	proto.Message
}, Resp any](handle func(*grpcsvc.CacheService, context.Context, PReq) (Resp, error)) scalarCall {
	return func(ctx context.Context, s *grpcsvc.CacheService, data []byte) error {
		req := PReq(new(Req))
		if err := proto.Unmarshal(data, req); err != nil {
			return nil // not a request the transport would deliver
		}
		_, err := handle(s, ctx, req)
		return err
	}
}

// scalarCalls are the unary scalar RPCs, indexed by the fuzz input's first byte.
var scalarCalls = []scalarCall{
	decodeAnd((*grpcsvc.CacheService).Get),
	decodeAnd((*grpcsvc.CacheService).Set),
	decodeAnd((*grpcsvc.CacheService).SetIf),
	decodeAnd((*grpcsvc.CacheService).SetIfNotExists),
	decodeAnd((*grpcsvc.CacheService).Delete),
	decodeAnd((*grpcsvc.CacheService).KeysExist),
	decodeAnd((*grpcsvc.CacheService).Increment),
	decodeAnd((*grpcsvc.CacheService).UpdateTtl),
	decodeAnd((*grpcsvc.CacheService).ItemGetTtl),
	decodeAnd((*grpcsvc.CacheService).ItemGetType),
}

func marshal(t testing.TB, m proto.Message) []byte {
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// FuzzScalarHandlers decodes arbitrary bytes as a scalar request and handles
// it against a real memory store. Whatever the input, the handler must not
// panic and must answer with a status the SDKs map to a client-side cause,
// never INTERNAL or UNKNOWN.
func FuzzScalarHandlers(f *testing.F) {
	seeds := []struct {
		call byte
		msg  proto.Message
	}{
		{0, &cachepb.XGetRequest{CacheKey: []byte("k")}},
		{1, &cachepb.XSetRequest{CacheKey: []byte("k"), CacheBody: []byte("1"), TtlMilliseconds: 1000}},
		{1, &cachepb.XSetRequest{CacheKey: []byte("k"), TtlMilliseconds: 1 << 62}},
		{2, &cachepb.XSetIfRequest{CacheKey: []byte("k"), CacheBody: []byte("v"), TtlMilliseconds: 1000, Condition: &cachepb.XSetIfRequest_Equal{Equal: &commonpb.Equal{ValueToCheck: []byte("1")}}}},
		{2, &cachepb.XSetIfRequest{CacheKey: []byte("k"), CacheBody: []byte("v"), TtlMilliseconds: 1000}},
		{3, &cachepb.XSetIfNotExistsRequest{CacheKey: []byte("k"), CacheBody: []byte("v"), TtlMilliseconds: 1000}},
		{4, &cachepb.XDeleteRequest{CacheKey: []byte("k")}},
		{5, &cachepb.XKeysExistRequest{CacheKeys: [][]byte{[]byte("k"), nil}}},
		{6, &cachepb.XIncrementRequest{CacheKey: []byte("k"), Amount: 1 << 62, TtlMilliseconds: 1000}},
		{6, &cachepb.XIncrementRequest{CacheKey: []byte("k"), Amount: -1 << 63, TtlMilliseconds: 1000}},
		{7, &cachepb.XUpdateTtlRequest{CacheKey: []byte("k"), UpdateTtl: &cachepb.XUpdateTtlRequest_IncreaseToMilliseconds{IncreaseToMilliseconds: 5000}}},
		{7, &cachepb.XUpdateTtlRequest{CacheKey: []byte("k")}},
		{8, &cachepb.XItemGetTtlRequest{CacheKey: []byte("k")}},
		{9, &cachepb.XItemGetTypeRequest{CacheKey: []byte("k")}},
	}
	for _, s := range seeds {
		f.Add(s.call, "c", marshal(f, s.msg))
	}
	f.Add(byte(0), "", []byte{0x0a, 0x01, 'k'})
	f.Add(byte(1), "nope", []byte{0xff, 0xff})
	f.Add(byte(0), "bad\xff", []byte{0x0a, 0x01, 'k'})

	st := memory.New(memory.Config{MaxMemory: 64 << 20})
	f.Cleanup(func() { st.Close() })
	if err := st.CreateCache(context.Background(), "c"); err != nil {
		f.Fatal(err)
	}
	svc := grpcsvc.NewCacheService(st, store.Limits{MaxItemSize: 1 << 20})
	allowed := map[codes.Code]bool{
		codes.OK: true, codes.NotFound: true, codes.InvalidArgument: true,
		codes.FailedPrecondition: true, codes.ResourceExhausted: true,
	}

	f.Fuzz(func(t *testing.T, call byte, cache string, data []byte) {
		ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("cache", cache))
		err := scalarCalls[int(call)%len(scalarCalls)](ctx, svc, data)
		if code := status.Code(err); !allowed[code] {
			t.Fatalf("call %d in cache %q with %x: %v (code %v), want a client-side status", call, cache, data, err, code)
		}
	})
}
