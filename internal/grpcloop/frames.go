//go:build linux

package grpcloop

import (
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"strings"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// HTTP/2 frame types, flags, settings and error codes (RFC 9113).
const (
	frameData         = 0x0
	frameHeaders      = 0x1
	framePriority     = 0x2
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePushPromise  = 0x5
	framePing         = 0x6
	frameGoAway       = 0x7
	frameWindowUpdate = 0x8
	frameContinuation = 0x9

	flagAck        = 0x1
	flagEndStream  = 0x1
	flagEndHeaders = 0x4
	flagPadded     = 0x8
	flagPriority   = 0x20

	settingMaxConcurrentStreams = 0x3
	settingInitialWindowSize    = 0x4
	settingMaxFrameSize         = 0x5
	settingMaxHeaderListSize    = 0x6

	errNo                 = 0x0
	errProtocol           = 0x1
	errFlowControl        = 0x3
	errFrameSize          = 0x6
	errRefusedStream      = 0x7
	errCancel             = 0x8
	errCompression        = 0x9
	errEnhanceYourCalm    = 0xb
	frameHeaderLen        = 9
	clientPreface         = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	defaultWindow         = 65535
	defaultMaxFrameSize   = 1 << 14
	maxAllowedFrameSize   = 1<<24 - 1
	maxWindow             = 1<<31 - 1
	grpcMessageHeaderLen  = 5
	grpcContentType       = "application/grpc"
	maxHeaderListSize     = 1 << 20
	maxHeaderBlockPending = maxHeaderListSize + 64<<10
)

// Flow-control windows the server grants.
const (
	// streamWindow is each stream's receive window (SETTINGS_INITIAL_WINDOW_SIZE).
	streamWindow = 1 << 20
	// connWindow is the connection's receive window.
	connWindow = 16 << 20
)

// appendFrame appends a frame header and payload.
func appendFrame(b []byte, typ, flags byte, stream uint32, payload []byte) []byte {
	b = appendFrameHeader(b, len(payload), typ, flags, stream)
	return append(b, payload...)
}

// appendFrameHeader appends the 9-byte header of a frame of n bytes.
func appendFrameHeader(b []byte, n int, typ, flags byte, stream uint32) []byte {
	b = append(b, byte(n>>16), byte(n>>8), byte(n), typ, flags)
	return binary.BigEndian.AppendUint32(b, stream&0x7fffffff)
}

// appendWindowUpdate appends a WINDOW_UPDATE frame.
func appendWindowUpdate(b []byte, stream uint32, inc uint32) []byte {
	b = appendFrameHeader(b, 4, frameWindowUpdate, 0, stream)
	return binary.BigEndian.AppendUint32(b, inc)
}

// appendRSTStream appends a RST_STREAM frame.
func appendRSTStream(b []byte, stream uint32, code uint32) []byte {
	b = appendFrameHeader(b, 4, frameRSTStream, 0, stream)
	return binary.BigEndian.AppendUint32(b, code)
}

// appendGoAway appends a GOAWAY frame.
func appendGoAway(b []byte, lastStream uint32, code uint32, debug string) []byte {
	b = appendFrameHeader(b, 8+len(debug), frameGoAway, 0, 0)
	b = binary.BigEndian.AppendUint32(b, lastStream&0x7fffffff)
	b = binary.BigEndian.AppendUint32(b, code)
	return append(b, debug...)
}

// appendServerPreface appends the server's SETTINGS and the WINDOW_UPDATE
// that raises the connection's window from its default.
func appendServerPreface(b []byte, maxStreams int) []byte {
	settings := [][2]uint32{
		{settingMaxConcurrentStreams, uint32(maxStreams)},
		{settingInitialWindowSize, streamWindow},
		{settingMaxHeaderListSize, maxHeaderListSize},
	}
	b = appendFrameHeader(b, 6*len(settings), frameSettings, 0, 0)
	for _, s := range settings {
		b = binary.BigEndian.AppendUint16(b, uint16(s[0]))
		b = binary.BigEndian.AppendUint32(b, s[1])
	}
	return appendWindowUpdate(b, 0, connWindow-defaultWindow)
}

// appendHpackInt appends v as an HPACK integer with an n-bit prefix whose
// other bits are first's (RFC 7541 §5.1).
func appendHpackInt(b []byte, first byte, n uint, v uint64) []byte {
	limit := uint64(1)<<n - 1
	if v < limit {
		return append(b, first|byte(v))
	}
	b = append(b, first|byte(limit))
	v -= limit
	for v >= 128 {
		b = append(b, byte(v&0x7f|0x80))
		v >>= 7
	}
	return append(b, byte(v))
}

// appendHpackString appends a string literal without Huffman coding.
func appendHpackString(b []byte, s string) []byte {
	b = appendHpackInt(b, 0, 7, uint64(len(s)))
	return append(b, s...)
}

// appendField appends a literal header field without indexing with a new
// name (RFC 7541 §6.2.2). The server never adds to the client's dynamic
// table, so a connection needs no HPACK encoder state.
func appendField(b []byte, name, value string) []byte {
	b = append(b, 0x00)
	b = appendHpackString(b, name)
	return appendHpackString(b, value)
}

// Static-table fields of a response (RFC 7541 Appendix A).
var (
	fieldStatus200     = []byte{0x88}                                                         // :status 200, index 8
	fieldContentType   = appendHpackString(appendHpackInt(nil, 0x00, 4, 31), grpcContentType) // content-type, name index 31
	reservedHeaderKeys = map[string]bool{
		"content-type": true, "te": true, "grpc-status": true, "grpc-message": true,
		"grpc-status-details-bin": true, "grpc-timeout": true, "grpc-encoding": true,
		"grpc-accept-encoding": true,
	}
)

// fieldStatus is the :status field of an HTTP status other than 200
// (name index 8, literal value).
func fieldStatus(code string) []byte {
	return appendHpackString(appendHpackInt(nil, 0x00, 4, 8), code)
}

// appendMetadata appends md's fields, base64 for -bin keys, leaving out
// pseudo-headers and the ones the protocol reserves.
func appendMetadata(b []byte, md metadata.MD) []byte {
	for k, vs := range md {
		if strings.HasPrefix(k, ":") || reservedHeaderKeys[k] {
			continue
		}
		for _, v := range vs {
			if strings.HasSuffix(k, "-bin") {
				v = base64.RawStdEncoding.EncodeToString([]byte(v))
			}
			b = appendField(b, k, v)
		}
	}
	return b
}

// appendStatus appends the trailer fields of st.
func appendStatus(b []byte, st *status.Status) []byte {
	b = appendField(b, "grpc-status", strconv.Itoa(int(st.Code())))
	if msg := st.Message(); msg != "" {
		b = appendField(b, "grpc-message", encodeGRPCMessage(msg))
	}
	if p := st.Proto(); len(p.GetDetails()) > 0 {
		if details, err := proto.Marshal(p); err == nil {
			b = appendField(b, "grpc-status-details-bin", base64.RawStdEncoding.EncodeToString(details))
		}
	}
	return b
}

// encodeGRPCMessage percent-encodes what gRPC's grpc-message may not carry
// as it is: bytes outside printable ASCII, and '%'.
func encodeGRPCMessage(msg string) string {
	clean := true
	for i := 0; i < len(msg); i++ {
		if c := msg[i]; c < 0x20 || c > 0x7e || c == '%' {
			clean = false
			break
		}
	}
	if clean {
		return msg
	}
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c < 0x20 || c > 0x7e || c == '%' {
			sb.WriteByte('%')
			sb.WriteByte(hex[c>>4])
			sb.WriteByte(hex[c&0xf])
			continue
		}
		sb.WriteByte(c)
	}
	return sb.String()
}
