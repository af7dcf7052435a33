package client

// HTTP/2 framing facts (RFC 9113) the tracer needs.
const (
	// clientPreface opens every HTTP/2 connection from the client side.
	clientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	// frameHeaderLen is the size of every frame header: 24-bit length,
	// 8-bit type, 8-bit flags, 31-bit stream id.
	frameHeaderLen = 9

	frameTypePing   = 0x6
	frameTypeGoAway = 0x7
	// flagAck marks a PING that answers one.
	flagAck = 0x1

	// pingPayloadLen is the fixed size of a PING payload.
	pingPayloadLen = 8
	// goAwayFixedLen is a GOAWAY's last stream id and error code.
	goAwayFixedLen = 8
	// maxGoAwayDebug bounds the GOAWAY debug data the tracer keeps; the rest
	// is skipped, so a peer cannot make the tracer allocate.
	maxGoAwayDebug = 256
)

// frame is a PING or GOAWAY frame seen by a frameParser. payload holds the
// frame's payload, cut at goAwayFixedLen+maxGoAwayDebug bytes; it is only
// valid during the callback.
type frame struct {
	typ     byte
	flags   byte
	length  uint32 // the payload length the header announced
	payload []byte
}

// frameParser follows one direction of an HTTP/2 connection as a byte stream
// cut anywhere, decoding frame headers and skipping payloads. It keeps the
// payloads of PING and GOAWAY frames only, in a fixed buffer, and hands them
// to onFrame; every other frame costs a header decode and a skip. It does not
// allocate. A stream that does not start with the client preface (when one is
// expected) turns the parser off for good.
type frameParser struct {
	prefaceLeft int // bytes of the client preface still expected
	header      [frameHeaderLen]byte
	headerLen   int    // bytes of header gathered
	payloadLeft uint32 // bytes of the current frame's payload not yet seen
	cur         frame
	keep        [goAwayFixedLen + maxGoAwayDebug]byte
	keepLen     int // bytes of payload kept so far
	keepWant    int // bytes of payload to keep for the current frame
	off         bool
	onFrame     func(frame)
}

// newFrameParser returns a parser for the client-to-server direction when
// outbound is true (which begins with the preface), else for the
// server-to-client direction.
func newFrameParser(outbound bool, onFrame func(frame)) *frameParser {
	p := &frameParser{onFrame: onFrame}
	if outbound {
		p.prefaceLeft = len(clientPreface)
	}
	return p
}

// feed consumes the next bytes of the stream.
func (p *frameParser) feed(b []byte) {
	for len(b) > 0 && !p.off {
		switch {
		case p.prefaceLeft > 0:
			seen := len(clientPreface) - p.prefaceLeft
			n := min(p.prefaceLeft, len(b))
			if string(b[:n]) != clientPreface[seen:seen+n] {
				p.off = true
				return
			}
			p.prefaceLeft -= n
			b = b[n:]
		case p.headerLen < frameHeaderLen:
			n := copy(p.header[p.headerLen:], b)
			p.headerLen += n
			b = b[n:]
			if p.headerLen == frameHeaderLen {
				p.startFrame()
			}
		default:
			n := int(min(p.payloadLeft, uint32(min(len(b), 1<<30))))
			if p.keepLen < p.keepWant {
				p.keepLen += copy(p.keep[p.keepLen:p.keepWant], b[:n])
			}
			p.payloadLeft -= uint32(n)
			b = b[n:]
			if p.payloadLeft == 0 {
				p.endFrame()
			}
		}
	}
}

// startFrame decodes a complete header.
func (p *frameParser) startFrame() {
	h := p.header
	p.cur = frame{
		length: uint32(h[0])<<16 | uint32(h[1])<<8 | uint32(h[2]),
		typ:    h[3],
		flags:  h[4],
	}
	p.payloadLeft = p.cur.length
	p.keepLen = 0
	p.keepWant = 0
	if p.cur.typ == frameTypePing || p.cur.typ == frameTypeGoAway {
		p.keepWant = int(min(p.cur.length, uint32(len(p.keep))))
	}
	if p.payloadLeft == 0 {
		p.endFrame()
	}
}

// endFrame reports a kept frame and readies the parser for the next header.
func (p *frameParser) endFrame() {
	if p.keepWant > 0 || p.cur.typ == frameTypePing || p.cur.typ == frameTypeGoAway {
		p.cur.payload = p.keep[:p.keepLen]
		if p.onFrame != nil {
			p.onFrame(p.cur)
		}
	}
	p.headerLen = 0
	p.cur = frame{}
}
