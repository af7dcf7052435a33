package pcap

import (
	"fmt"
	"net"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// The synthetic network every capture shows: the function's host talks to
// the cache server, whatever loopback addresses the proxy really used.
var (
	clientMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01} // locally administered
	serverMAC = net.HardwareAddr{0x02, 0, 0, 0, 0x01, 0x01}
	clientIP  = net.IPv4(10, 0, 0, 1).To4()
	serverIP  = net.IPv4(10, 0, 1, 1).To4()
)

const (
	// ServerPort is the server's TCP port in every capture. tshark does not
	// guess HTTP/2 on it; decode it with -d tcp.port==50051,http2 (or ,tls
	// for a capture of a TLS run).
	ServerPort = 50051
	// mss is the largest payload of one synthetic segment: an Ethernet MTU
	// of 1500 less 20 octets of IPv4 and 20 of TCP header.
	mss = 1460
	// windowShift is the window scale both sides announce (RFC 7323), so
	// that the advertised window, 65535<<8, never looks full: the synthetic
	// receivers send no pure ACKs.
	windowShift = 8
)

// side is one end of a synthetic connection.
type side int

const (
	client side = iota
	server
)

func (s side) other() side { return 1 - s }

// flow is the TCP state of one synthetic connection while its frames are
// built: what each side has sent so far, as sequence numbers.
type flow struct {
	port   [2]uint16 // TCP port of each side
	next   [2]uint32 // next sequence number each side sends
	ipID   [2]uint16
	fin    [2]bool // the side has sent its FIN
	closed bool    // both FINs, or a RST, were sent

	buf gopacket.SerializeBuffer
}

// newFlow starts the state of connection id, whose client used clientPort.
// The initial sequence numbers derive from id, so captures are
// reproducible.
func newFlow(id uint64, clientPort uint16) *flow {
	f := &flow{buf: gopacket.NewSerializeBuffer()}
	f.port = [2]uint16{clientPort, ServerPort}
	f.next = [2]uint32{uint32(0x10000000 + id*0x10000), uint32(0x80000000 + id*0x10000)}
	return f
}

// tcpFlags are the flags of one segment.
type tcpFlags struct{ syn, ack, psh, fin, rst bool }

// handshake returns the SYN, SYN-ACK and ACK that open the connection.
func (f *flow) handshake() ([][]byte, error) {
	var frames [][]byte
	for _, step := range []struct {
		from  side
		flags tcpFlags
	}{
		{client, tcpFlags{syn: true}},
		{server, tcpFlags{syn: true, ack: true}},
		{client, tcpFlags{ack: true}},
	} {
		fr, err := f.segment(step.from, step.flags, nil)
		if err != nil {
			return nil, err
		}
		frames = append(frames, fr)
	}
	return frames, nil
}

// data returns the segments that carry payload from one side, at most mss
// octets each.
func (f *flow) data(from side, payload []byte) ([][]byte, error) {
	var frames [][]byte
	for len(payload) > 0 {
		n := min(len(payload), mss)
		fr, err := f.segment(from, tcpFlags{ack: true, psh: n == len(payload)}, payload[:n])
		if err != nil {
			return nil, err
		}
		frames = append(frames, fr)
		payload = payload[n:]
	}
	return frames, nil
}

// finish returns the FIN of one side, and the last ACK if the other side's
// FIN came before. A side's second FIN returns nothing.
func (f *flow) finish(from side) ([][]byte, error) {
	if f.fin[from] || f.closed {
		return nil, nil
	}
	fr, err := f.segment(from, tcpFlags{fin: true, ack: true}, nil)
	if err != nil {
		return nil, err
	}
	f.fin[from] = true
	frames := [][]byte{fr}
	if f.fin[from.other()] {
		f.closed = true
		last, err := f.segment(from.other(), tcpFlags{ack: true}, nil)
		if err != nil {
			return nil, err
		}
		frames = append(frames, last)
	}
	return frames, nil
}

// reset returns a RST from each side, as the proxy resets both sockets.
func (f *flow) reset() ([][]byte, error) {
	if f.closed {
		return nil, nil
	}
	var frames [][]byte
	for _, s := range []side{server, client} {
		fr, err := f.segment(s, tcpFlags{rst: true, ack: true}, nil)
		if err != nil {
			return nil, err
		}
		frames = append(frames, fr)
	}
	f.closed = true
	return frames, nil
}

// segment builds one Ethernet frame from a side and advances its sequence
// number by what the segment occupies: its payload, plus one for SYN or FIN.
func (f *flow) segment(from side, flags tcpFlags, payload []byte) ([]byte, error) {
	to := from.other()
	eth := &layers.Ethernet{SrcMAC: clientMAC, DstMAC: serverMAC, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, Flags: layers.IPv4DontFragment,
		SrcIP: clientIP, DstIP: serverIP, Id: f.ipID[from]}
	if from == server {
		eth.SrcMAC, eth.DstMAC = serverMAC, clientMAC
		ip.SrcIP, ip.DstIP = serverIP, clientIP
	}
	f.ipID[from]++
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(f.port[from]), DstPort: layers.TCPPort(f.port[to]),
		Seq: f.next[from], Window: 0xFFFF,
		SYN: flags.syn, ACK: flags.ack, PSH: flags.psh, FIN: flags.fin, RST: flags.rst,
	}
	if flags.ack {
		tcp.Ack = f.next[to]
	}
	if flags.syn {
		tcp.Options = []layers.TCPOption{
			{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{mss >> 8, mss & 0xFF}},
			{OptionType: layers.TCPOptionKindNop, OptionLength: 1},
			{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{windowShift}},
		}
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		return nil, fmt.Errorf("pcap: %w", err)
	}
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(f.buf, opts, eth, ip, tcp, gopacket.Payload(payload)); err != nil {
		return nil, fmt.Errorf("pcap: build segment: %w", err)
	}
	f.next[from] += uint32(len(payload))
	if flags.syn || flags.fin {
		f.next[from]++
	}
	return append([]byte(nil), f.buf.Bytes()...), nil
}
