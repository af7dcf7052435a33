package client

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/http2"
)

// seenFrame is a frame as the parser reported it, payload copied.
type seenFrame struct {
	Type, Flags byte
	Length      uint32
	Payload     string
}

func collect(outbound bool, chunks ...[]byte) ([]seenFrame, bool) {
	var got []seenFrame
	p := newFrameParser(outbound, func(f frame) {
		got = append(got, seenFrame{f.typ, f.flags, f.length, string(f.payload)})
	})
	for _, c := range chunks {
		p.feed(c)
	}
	return got, p.off
}

// sampleStream is a client-side HTTP/2 byte stream written by x/net's Framer.
func sampleStream(t testing.TB) []byte {
	var buf bytes.Buffer
	buf.WriteString(clientPreface)
	fr := http2.NewFramer(&buf, nil)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20}))
	must(fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte("hpack"), EndHeaders: true}))
	must(fr.WriteData(1, true, bytes.Repeat([]byte{7}, 40000)))
	must(fr.WritePing(false, [8]byte{}))
	must(fr.WriteData(3, false, nil))
	must(fr.WritePing(true, [8]byte{2, 4, 16, 16, 9, 14, 7, 7}))
	must(fr.WriteGoAway(5, http2.ErrCodeEnhanceYourCalm, []byte(strings.Repeat("x", 1000))))
	must(fr.WritePing(false, [8]byte{1, 2, 3, 4, 5, 6, 7, 8}))
	return buf.Bytes()
}

func wantSample() []seenFrame {
	goAway := string([]byte{0, 0, 0, 5, 0, 0, 0, byte(http2.ErrCodeEnhanceYourCalm)}) + strings.Repeat("x", maxGoAwayDebug)
	return []seenFrame{
		{frameTypePing, 0, 8, string(make([]byte, 8))},
		{frameTypePing, flagAck, 8, string([]byte{2, 4, 16, 16, 9, 14, 7, 7})},
		{frameTypeGoAway, 0, 1008, goAway},
		{frameTypePing, 0, 8, string([]byte{1, 2, 3, 4, 5, 6, 7, 8})},
	}
}

func TestFrameParser(t *testing.T) {
	stream := sampleStream(t)
	for _, size := range []int{1, 2, 7, 9, 24, 25, 100, 4096, len(stream)} {
		var chunks [][]byte
		for b := stream; len(b) > 0; {
			n := min(size, len(b))
			chunks = append(chunks, b[:n])
			b = b[n:]
		}
		got, off := collect(true, chunks...)
		if off {
			t.Fatalf("chunks of %d: parser turned itself off", size)
		}
		if diff := cmp.Diff(wantSample(), got); diff != "" {
			t.Errorf("chunks of %d: frames (-want +got):\n%s", size, diff)
		}
	}
	// The server side has no preface.
	got, _ := collect(false, stream[len(clientPreface):])
	if diff := cmp.Diff(wantSample(), got); diff != "" {
		t.Errorf("inbound frames (-want +got):\n%s", diff)
	}
	// Anything but the preface turns the outbound parser off.
	if got, off := collect(true, []byte("GET / HTTP/1.1\r\n\r\n"), stream); !off || len(got) != 0 {
		t.Errorf("non-HTTP/2 stream: off %v, %d frames; want off with no frames", off, len(got))
	}
}

func TestPingPurpose(t *testing.T) {
	cases := map[[8]byte]string{
		{}:                          "keepalive",
		{2, 4, 16, 16, 9, 14, 7, 7}: "bdp",
		{1, 6, 1, 8, 0, 3, 3, 9}:    "shutdown",
		{9, 9, 9, 9, 9, 9, 9, 9}:    "other",
	}
	for payload, want := range cases {
		if got := pingPurpose(payload); got != want {
			t.Errorf("pingPurpose(%v) = %q; want %q", payload, got, want)
		}
	}
}

// FuzzFrameParser checks that how a stream is cut into reads never changes
// the frames seen, and that no input makes the parser panic.
func FuzzFrameParser(f *testing.F) {
	f.Add(sampleStream(f), uint8(3))
	f.Add([]byte(clientPreface+"\x00\x00\x08\x06\x00\x00\x00\x00\x00abcdefgh"), uint8(1))
	f.Add([]byte(clientPreface+"\xff\xff\xff\x07\x00\x00\x00\x00\x00"), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, cut uint8) {
		whole, wholeOff := collect(true, data)
		size := int(cut)%64 + 1
		var chunks [][]byte
		for b := data; len(b) > 0; {
			n := min(size, len(b))
			chunks = append(chunks, b[:n])
			b = b[n:]
		}
		pieces, piecesOff := collect(true, chunks...)
		if wholeOff != piecesOff {
			t.Fatalf("off: whole %v, in chunks of %d %v", wholeOff, size, piecesOff)
		}
		if diff := cmp.Diff(whole, pieces); diff != "" {
			t.Fatalf("chunks of %d change the frames (-whole +chunks):\n%s", size, diff)
		}
		for _, fr := range whole {
			if len(fr.Payload) > goAwayFixedLen+maxGoAwayDebug {
				t.Fatalf("kept %d payload bytes; the bound is %d", len(fr.Payload), goAwayFixedLen+maxGoAwayDebug)
			}
		}
	})
}

// BenchmarkFrameParser measures the parser alone over a stream of mostly
// DATA frames: the cost the tracer adds to every read and write.
func BenchmarkFrameParser(b *testing.B) {
	stream := sampleStream(b)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	p := newFrameParser(true, func(frame) {})
	for b.Loop() {
		*p = frameParser{prefaceLeft: len(clientPreface), onFrame: p.onFrame}
		for s := stream; len(s) > 0; {
			n := min(16384, len(s))
			p.feed(s[:n])
			s = s[n:]
		}
	}
}
