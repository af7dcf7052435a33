//go:build linux

package grpcloop_test

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/thaw-dev/thaw/internal/grpcloop"
)

// FuzzFrames sends arbitrary bytes after the client preface on a fresh
// connection and closes it, then checks that the server still serves a
// call on another one and that no handler outlives the connection: no
// input may crash, hang or poison the loop.
func FuzzFrames(f *testing.F) {
	var seed bytes.Buffer
	fr := http2.NewFramer(&seed, nil)
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, kv := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", "/grpc.testing.TestService/UnaryCall"}, {":authority", "x"}, {"content-type", "application/grpc"}, {"grpc-timeout", "1S"}} {
		enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
	}
	_ = fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 10})
	_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: block.Bytes(), EndHeaders: true})
	_ = fr.WriteData(1, true, []byte{0, 0, 0, 0, 3, 0x10, 0x80, 0x01})
	_ = fr.WritePing(false, [8]byte{1})
	_ = fr.WriteWindowUpdate(0, 1<<30)
	_ = fr.WriteRSTStream(1, http2.ErrCodeCancel)
	f.Add(seed.Bytes())
	f.Add([]byte{0, 0, 0, 4, 0, 0, 0, 0, 0})
	f.Add(append([]byte{0, 0, 5, 9, 4, 0, 0, 0, 1}, 0x82, 0x86, 0x84, 0x41, 0x0f))

	s := serve(f, grpcloop.Config{MaxRecvMsgSize: 1 << 20})
	f.Fuzz(func(t *testing.T, input []byte) {
		nc, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if err := nc.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(nc, http2.ClientPreface); err != nil {
			t.Fatal(err)
		}
		_, _ = nc.Write(input) // the server may already have closed
		nc.Close()
		if _, err := s.client.EmptyCall(t.Context(), &testpb.Empty{}); err != nil {
			t.Fatalf("EmptyCall after the input: %v", err)
		}
		// The connection's end ends its calls: a handler that stays is
		// stuck (a lost wake-up, say).
		deadline := time.Now().Add(5 * time.Second)
		for s.srv.RunningHandlers() > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%d handlers still running 5 s after the connection closed", s.srv.RunningHandlers())
			}
			time.Sleep(time.Millisecond)
		}
	})
}
