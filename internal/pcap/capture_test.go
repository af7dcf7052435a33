package pcap

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/thaw-dev/thaw/internal/netem"
	"github.com/thaw-dev/thaw/internal/pcap/pcaptest"
)

// phases stands in for the lab's record of invocations: what was running
// when, and the comment a packet sent then gets.
type phases struct {
	mu    sync.Mutex // guards spans
	spans []phase
}

type phase struct {
	start time.Time
	label string
}

func (p *phases) begin(t time.Time, label string) {
	p.mu.Lock()
	p.spans = append(p.spans, phase{t, label})
	p.mu.Unlock()
}

func (p *phases) at(t time.Time) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	label := "before"
	for _, s := range p.spans {
		if !t.Before(s.start) {
			label = s.label
		}
	}
	return label
}

// captureGRPC runs a short gRPC exchange through a netem proxy with a
// capture on: a call under "invocation req-1", an idle second under
// "frozen" during which the server's keepalive PING is answered, a call
// under "invocation req-2", with freeze and thaw notes between. It returns
// the pcapng file written.
func captureGRPC(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The server pings a connection idle for a second (grpc-go's minimum).
	srv := grpc.NewServer(grpc.KeepaliveParams(keepalive.ServerParameters{Time: time.Second, Timeout: 5 * time.Second}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)

	capture := New()
	p, err := netem.Listen(netem.Config{Target: ln.Addr().String(), Latency: time.Millisecond,
		OnEvent: capture.OnEvent, OnDeliver: capture.OnDeliver})
	if err != nil {
		t.Fatalf("netem.Listen: %v", err)
	}
	defer p.Close()

	cc, err := grpc.NewClient("passthrough:///"+p.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	hc := healthpb.NewHealthClient(cc)
	check := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatalf("Check: %v", err)
		}
	}

	var ph phases
	ph.begin(time.Now(), "invocation req-1")
	check()
	freeze := time.Now()
	ph.begin(freeze, "frozen")
	capture.Note(freeze, "freeze")
	time.Sleep(2500 * time.Millisecond) // well past the server's keepalive time
	thaw := time.Now()
	capture.Note(thaw, "thaw req-2")
	ph.begin(thaw, "invocation req-2")
	check()
	cc.Close()
	p.Close()

	path := filepath.Join(t.TempDir(), "grpc.pcapng")
	if d := os.Getenv("PCAP_KEEP"); d != "" {
		path = filepath.Join(d, "grpc.pcapng")
	}
	if err := capture.WriteFile(path, ph.at); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	return path
}

// The capture of a real gRPC exchange decodes as HTTP/2 in tshark, shows the
// keepalive PING and its ACK with the comment of the phase they passed in,
// lists the notes, and has no malformed packet, no bad checksum and no
// expert finding of warning level or above (such as "previous segment not
// captured").
func TestCaptureOfGRPCDecodesInTshark(t *testing.T) {
	pcaptest.Require(t)
	recs := pcaptest.Decode(t, captureGRPC(t), ServerPort)

	var sawPing, sawAck bool
	var got []string // comments, repeats removed
	for _, r := range recs {
		if r.Problem != "" {
			t.Errorf("record %d: %s", r.Number, r.Problem)
		}
		if r.Comment == "" {
			t.Errorf("record %d has no comment", r.Number)
		}
		if len(got) == 0 || got[len(got)-1] != r.Comment {
			got = append(got, r.Comment)
		}
		for _, f := range r.HTTP2 {
			if f.Type != pcaptest.FramePing {
				continue
			}
			t.Logf("record %d: PING flags %#x from %s: %q", r.Number, f.Flags, r.Src, r.Comment)
			// The server's idle-time keepalive PING passes while "frozen";
			// the client's ACK follows.
			switch {
			case r.Comment != "frozen":
			case r.Src == "10.0.1.1" && f.Flags == 0:
				sawPing = true
			case r.Src == "10.0.0.1" && f.Flags == pcaptest.FlagAck && sawPing:
				sawAck = true
			}
		}
	}
	if !sawPing || !sawAck {
		t.Errorf("PING from 10.0.1.1 then its ACK from 10.0.0.1 while frozen: saw %v, %v", sawPing, sawAck)
	}
	// The phases and notes come in order.
	want := []string{"invocation req-1", "freeze", "frozen", "thaw req-2", "invocation req-2"}
	if !slices.Equal(got, want) {
		t.Errorf("comments in order = %q, want %q", got, want)
	}
}

// The file is pcapng that gopacket's reader accepts too: the frames decode
// as Ethernet/IPv4/TCP with sequence numbers that add up, and the notes are
// empty packets.
func TestCaptureReadsBackWithPcapgo(t *testing.T) {
	c := New()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	big := bytes.Repeat([]byte("x"), 3*mss+10)
	c.OnEvent(netem.Event{Time: ms(0), Kind: netem.EventAccepted, Conn: 1, Client: "127.0.0.1:40001"})
	c.OnDeliver(netem.Delivery{Time: ms(1), Conn: 1, Dir: netem.ToTarget, Data: []byte("hello")})
	c.OnDeliver(netem.Delivery{Time: ms(2), Conn: 1, Dir: netem.ToClient, Data: big})
	c.Note(ms(3), "freeze")
	c.OnDeliver(netem.Delivery{Time: ms(4), Conn: 1, Dir: netem.ToTarget, FIN: true})
	c.OnDeliver(netem.Delivery{Time: ms(5), Conn: 1, Dir: netem.ToClient, FIN: true})
	c.OnEvent(netem.Event{Time: ms(6), Kind: netem.EventClosed, Conn: 1})

	var buf bytes.Buffer
	if err := c.Write(&buf, func(time.Time) string { return "invocation r" }); err != nil {
		t.Fatalf("Write: %v", err)
	}
	r, err := pcapgo.NewNgReader(&buf, pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		t.Fatalf("NewNgReader: %v", err)
	}
	type seg struct {
		from           string
		flags          string
		seqRel, ackRel uint32
		n              int
	}
	var got []seg
	var isn [2]uint32 // client's, server's
	notes := 0
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("ReadPacketData: %v", err)
		}
		if ci.InterfaceIndex == ifaceNotes {
			notes++
			if !bytes.Equal(data, notePDU) {
				t.Errorf("note data = %x, want %x", data, notePDU)
			}
			if !ci.Timestamp.Equal(ms(3)) {
				t.Errorf("note at %v, want %v", ci.Timestamp, ms(3))
			}
			continue
		}
		pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		if el := pkt.ErrorLayer(); el != nil {
			t.Fatalf("decode: %v", el.Error())
		}
		ip := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		tcp := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		flags := ""
		for _, f := range []struct {
			on   bool
			name string
		}{{tcp.SYN, "S"}, {tcp.ACK, "A"}, {tcp.PSH, "P"}, {tcp.FIN, "F"}, {tcp.RST, "R"}} {
			if f.on {
				flags += f.name
			}
		}
		from := 0
		if ip.SrcIP.String() == "10.0.1.1" {
			from = 1
		}
		if tcp.SYN {
			isn[from] = tcp.Seq
		}
		s := seg{from: ip.SrcIP.String(), flags: flags, seqRel: tcp.Seq - isn[from], n: len(tcp.Payload)}
		if tcp.ACK {
			s.ackRel = tcp.Ack - isn[1-from]
		}
		got = append(got, s)
	}
	for i, want := range []struct {
		name     string
		linkType layers.LinkType
	}{{"netem proxy (synthetic TCP/IP)", layers.LinkTypeEthernet}, {"notes", linkTypeUpperPDU}} {
		intf, err := r.Interface(i)
		if err != nil || intf.Name != want.name || intf.LinkType != want.linkType || intf.TimestampResolution != 9 {
			t.Errorf("Interface(%d) = %+v, %v; want %q, link type %d, resolution 9", i, intf, err, want.name, want.linkType)
		}
	}
	const c1, s1 = "10.0.0.1", "10.0.1.1"
	want := []seg{
		{c1, "S", 0, 0, 0},
		{s1, "SA", 0, 1, 0},
		{c1, "A", 1, 1, 0},
		{c1, "AP", 1, 1, 5},
		{s1, "A", 1, 6, mss},
		{s1, "A", 1 + mss, 6, mss},
		{s1, "A", 1 + 2*mss, 6, mss},
		{s1, "AP", 1 + 3*mss, 6, 10},
		{c1, "AF", 6, 1 + 3*mss + 10, 0},
		{s1, "AF", 1 + 3*mss + 10, 7, 0},
		{c1, "A", 7, 1 + 3*mss + 11, 0},
	}
	if len(got) != len(want) {
		t.Fatalf("segments = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("segment %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if notes != 1 {
		t.Errorf("%d notes, want 1", notes)
	}
}
