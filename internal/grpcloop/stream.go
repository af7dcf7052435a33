//go:build linux

package grpcloop

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// stream is one call. Its fields below the context are guarded by the
// connection's mu.
type stream struct {
	c      *conn
	id     uint32
	method string
	ctx    context.Context
	cancel context.CancelFunc

	// readable is signalled when a message arrives, the client ends its
	// side, or the stream ends.
	readable sync.Cond
	// msgs are complete received messages the handler has not taken;
	// queued is their size in bytes with their 5-byte prefixes.
	msgs   [][]byte
	queued int64
	// assembling is the message being received, prefix first.
	assembling []byte
	// ungranted is what was received since the server last gave the
	// stream window back; streamWindow less ungranted is what is left.
	ungranted int64
	// inEnded: the client has ended its side. inErr: what the next read
	// fails with instead (a message over the limit, say).
	inEnded bool
	inErr   error
	// sendWindow is the stream's send window.
	sendWindow int64
	// header and trailer are the metadata the handler set; headerSent once
	// the response headers are out; done once the stream has ended, by its
	// trailers or a reset.
	header, trailer metadata.MD
	headerSent      bool
	done            bool
}

// startStream checks a new stream's request headers and starts its
// handler in the slot headerBlock took, or answers at once when the
// request cannot be served. It reports whether the handler started.
func (c *conn) startStream(id uint32, endStream bool) (bool, error) {
	var method, contentType, encoding, timeout string
	post := false
	md := metadata.MD{}
	for _, f := range c.srv.poll.fields {
		switch f.Name {
		case ":method":
			post = f.Value == "POST"
		case ":path":
			method = f.Value
		case ":scheme":
		case "content-type":
			contentType = f.Value
		case "grpc-encoding":
			encoding = f.Value
		case "grpc-timeout":
			timeout = f.Value
		case "te", "grpc-accept-encoding", "connection":
		default:
			if strings.HasPrefix(f.Name, ":") && f.Name != ":authority" {
				continue
			}
			v := f.Value
			if strings.HasSuffix(f.Name, "-bin") {
				b, err := decodeBinaryHeader(v)
				if err != nil {
					return false, c.answer(id, endStream, status.Newf(codes.Internal, "malformed binary metadata %q: %v", f.Name, err))
				}
				v = string(b)
			}
			md[f.Name] = append(md[f.Name], v)
		}
	}
	// HTTP statuses and gRPC codes as grpc-go answers such requests.
	switch {
	case !post || method == "":
		return false, c.answerHTTP(id, endStream, fieldStatus("405"), status.New(codes.Internal, "a gRPC call is a POST with a :path"))
	case contentType != grpcContentType && !strings.HasPrefix(contentType, grpcContentType+"+") && !strings.HasPrefix(contentType, grpcContentType+";"):
		return false, c.answerHTTP(id, endStream, fieldStatus("415"), status.Newf(codes.InvalidArgument, "invalid gRPC request content-type %q", contentType))
	case encoding != "" && encoding != "identity":
		return false, c.answer(id, endStream, status.Newf(codes.Unimplemented, "grpc: Decompressor is not installed for grpc-encoding %q", encoding))
	}

	var ctx context.Context
	var cancel context.CancelFunc
	if timeout != "" {
		d, err := parseTimeout(timeout)
		if err != nil {
			return false, c.answer(id, endStream, status.Newf(codes.Internal, "malformed grpc-timeout: %v", err))
		}
		ctx, cancel = context.WithTimeout(context.Background(), d)
	} else {
		ctx, cancel = context.WithCancel(context.Background())
	}
	st := &stream{c: c, id: id, method: method, cancel: cancel}
	st.readable.L = &c.mu
	ctx = metadata.NewIncomingContext(ctx, md)
	ctx = peer.NewContext(ctx, &peer.Peer{Addr: c.remote, LocalAddr: c.local})
	st.ctx = grpc.NewContextWithServerTransportStream(ctx, st)
	// A handler waiting to read or to send wakes when the call ends.
	context.AfterFunc(st.ctx, st.wake)

	h, known := c.srv.methods[method]
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cancel()
		return false, errConnClosed
	}
	if c.streams == nil {
		c.streams = make(map[uint32]*stream)
	}
	c.streams[id] = st
	st.sendWindow = c.peerWindow
	if endStream {
		st.endInputLocked()
	}
	c.mu.Unlock()
	go st.run(h, known)
	return true, nil
}

// answer ends a stream the server will not run with st's status alone.
func (c *conn) answer(id uint32, endStream bool, st *status.Status) error {
	return c.answerHTTP(id, endStream, fieldStatus200, st)
}

// answerHTTP is answer with another :status field, for a request that is
// not a gRPC call (fieldStatus).
func (c *conn) answerHTTP(id uint32, endStream bool, httpStatus []byte, st *status.Status) error {
	block := appendStatus(append(append([]byte(nil), httpStatus...), fieldContentType...), st)
	b := appendFrame(nil, frameHeaders, flagEndHeaders|flagEndStream, id, block)
	if !endStream {
		b = appendRSTStream(b, id, errNo)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeLocked(b)
}

// run calls the stream's handler and sends its status.
func (st *stream) run(h handler, known bool) {
	c := st.c
	defer func() {
		st.cancel()
		c.releaseSlot()
	}()
	srv := c.srv
	switch {
	case known && h.unary != nil:
		st.finish(st.runUnary(h))
	case known:
		st.finish(nil, st.runStream(h.impl, h.stream.Handler, h.stream.ClientStreams, h.stream.ServerStreams))
	case srv.cfg.UnknownStreamHandler != nil:
		st.finish(nil, st.runStream(nil, srv.cfg.UnknownStreamHandler, true, true))
	default:
		st.finish(nil, status.Errorf(codes.Unimplemented, "unknown method %s", st.method))
	}
}

// runStream calls a streaming handler through the stream interceptors.
func (st *stream) runStream(impl any, handle grpc.StreamHandler, clientStreams, serverStreams bool) error {
	ss := serverStream{st}
	intercept := st.c.srv.stream
	if intercept == nil {
		return handle(impl, ss)
	}
	return intercept(impl, ss, &grpc.StreamServerInfo{FullMethod: st.method, IsClientStream: clientStreams, IsServerStream: serverStreams}, handle)
}

// runUnary calls a unary handler and returns its marshalled reply.
func (st *stream) runUnary(h handler) ([]byte, error) {
	dec := func(m any) error {
		b, err := st.recv()
		if errors.Is(err, io.EOF) {
			return status.Error(codes.Internal, "grpc: the request ended without a message")
		}
		if err != nil {
			return err
		}
		return unmarshal(b, m)
	}
	reply, err := h.unary.Handler(h.impl, st.ctx, dec, st.c.srv.unary)
	if err != nil {
		return nil, err
	}
	return marshal(reply)
}

func marshal(m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, status.Errorf(codes.Internal, "grpc: cannot marshal a %T", m)
	}
	b, err := proto.Marshal(pm)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "grpc: error while marshaling: %v", err)
	}
	return b, nil
}

func unmarshal(b []byte, m any) error {
	pm, ok := m.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "grpc: cannot unmarshal into a %T", m)
	}
	if err := proto.Unmarshal(b, pm); err != nil {
		return status.Errorf(codes.Internal, "grpc: error unmarshalling request: %v", err)
	}
	return nil
}

// wake wakes a handler waiting on the stream, once its context has ended.
func (st *stream) wake() {
	st.c.mu.Lock()
	st.readable.Broadcast()
	st.c.sendable.Broadcast()
	st.c.mu.Unlock()
}

// receiveLocked takes a DATA frame's bytes (n with padding) and queues
// the messages they complete.
func (st *stream) receiveLocked(p []byte, n int64, endStream bool) error {
	c := st.c
	if st.ungranted+n > streamWindow {
		return c.resetLocked(st, errFlowControl)
	}
	st.ungranted += n
	limit := c.srv.cfg.MaxRecvMsgSize
	for len(p) > 0 && st.inErr == nil {
		if len(st.assembling) < grpcMessageHeaderLen {
			k := min(grpcMessageHeaderLen-len(st.assembling), len(p))
			st.assembling = append(st.assembling, p[:k]...)
			p = p[k:]
			if len(st.assembling) < grpcMessageHeaderLen {
				break
			}
			size := binary.BigEndian.Uint32(st.assembling[1:])
			switch {
			case st.assembling[0] != 0:
				st.inErr = status.Error(codes.Internal, "grpc: compressed flag set with identity or empty encoding")
			case int64(size) > int64(limit):
				st.inErr = status.Errorf(codes.ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", size, limit)
			default:
				// Grown as the bytes come, not from the length a client
				// claims.
				grown := make([]byte, grpcMessageHeaderLen, grpcMessageHeaderLen+min(int(size), len(p)))
				copy(grown, st.assembling)
				st.assembling = grown
			}
		}
		if st.inErr != nil {
			break
		}
		want := grpcMessageHeaderLen + int(binary.BigEndian.Uint32(st.assembling[1:]))
		k := min(want-len(st.assembling), len(p))
		st.assembling = append(st.assembling, p[:k]...)
		p = p[k:]
		if len(st.assembling) == want {
			st.msgs = append(st.msgs, st.assembling[grpcMessageHeaderLen:])
			st.queued += int64(want)
			st.assembling = nil
		}
	}
	if st.inErr != nil {
		st.assembling = nil
	}
	if endStream {
		st.endInputLocked()
	}
	st.readable.Broadcast()
	return st.grantLocked()
}

// grantLocked gives the stream window back for what was received, unless
// the handler has not taken half a window of complete messages yet: that
// is the flow control that holds a client back.
func (st *stream) grantLocked() error {
	if st.inEnded || st.done || st.ungranted < streamWindow/4 || st.queued > streamWindow/2 {
		return nil
	}
	inc := st.ungranted
	st.ungranted = 0
	return st.c.writeLocked(appendWindowUpdate(nil, st.id, uint32(inc)))
}

// endInputLocked notes that the client has ended its side.
func (st *stream) endInputLocked() {
	st.inEnded = true
	if len(st.assembling) > 0 && st.inErr == nil {
		st.inErr = status.Error(codes.Internal, "grpc: the request ended inside a message")
	}
	st.readable.Broadcast()
}

// abortLocked ends the stream without a status: the client reset it or
// the connection closed.
func (st *stream) abortLocked() {
	if st.done {
		return
	}
	st.done = true
	delete(st.c.streams, st.id)
	st.cancel()
	st.readable.Broadcast()
	st.c.sendable.Broadcast()
}

// recv returns the next message, io.EOF once the client has ended its side,
// or why the stream cannot be read.
func (st *stream) recv() ([]byte, error) {
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(st.msgs) == 0 && !st.inEnded && st.inErr == nil && !st.done && st.ctx.Err() == nil {
		st.readable.Wait()
	}
	if len(st.msgs) > 0 {
		m := st.msgs[0]
		st.msgs[0] = nil
		st.msgs = st.msgs[1:]
		st.queued -= int64(len(m) + grpcMessageHeaderLen)
		if err := st.grantLocked(); err != nil {
			return nil, err
		}
		return m, nil
	}
	switch {
	case st.inErr != nil:
		return nil, st.inErr
	case st.done || st.ctx.Err() != nil:
		return nil, contextStatus(st.ctx)
	default:
		return nil, io.EOF
	}
}

// contextStatus is the status of a call whose context has ended.
func contextStatus(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return status.Error(codes.DeadlineExceeded, context.DeadlineExceeded.Error())
	}
	return status.Error(codes.Canceled, context.Canceled.Error())
}

// headerBlockLocked returns the response header block with the metadata
// set so far.
func (st *stream) headerBlockLocked() []byte {
	b := append(append([]byte(nil), fieldStatus200...), fieldContentType...)
	return appendMetadata(b, st.header)
}

// sendHeaderLocked queues the response headers, once.
func (st *stream) sendHeaderLocked(b []byte) []byte {
	if st.headerSent {
		return b
	}
	st.headerSent = true
	st.c.wroteSince.Store(true)
	return st.c.appendHeaderFrames(b, st.id, st.headerBlockLocked(), false)
}

// appendHeaderFrames appends a header block as HEADERS and as many
// CONTINUATION frames as the client's frame size needs.
func (c *conn) appendHeaderFrames(b []byte, id uint32, block []byte, endStream bool) []byte {
	typ, flags := byte(frameHeaders), byte(0)
	if endStream {
		flags = flagEndStream
	}
	for {
		n := min(len(block), c.peerMaxFrame)
		f := flags
		if n == len(block) {
			f |= flagEndHeaders
		}
		b = appendFrame(b, typ, f, id, block[:n])
		block = block[n:]
		if len(block) == 0 {
			return b
		}
		typ, flags = frameContinuation, 0
	}
}

// sendMessage sends one message, headers first when they have not gone
// yet, within the send windows; with trailers, the status after it.
func (st *stream) sendMessage(payload []byte, trailers *status.Status) error {
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.done || c.closed {
		return contextStatus(st.ctx)
	}
	var prefix [grpcMessageHeaderLen]byte
	binary.BigEndian.PutUint32(prefix[1:], uint32(len(payload)))
	// Room for the headers, the message and a frame header per frame, up
	// to the most sendMessage queues at once.
	frames := len(payload)/c.peerMaxFrame + 2
	out := st.sendHeaderLocked(make([]byte, 0, min(256+grpcMessageHeaderLen+len(payload)+frameHeaderLen*frames, maxPendingData+c.peerMaxFrame+256)))
	rest := [][]byte{prefix[:], payload}
	begun := false // part of the message has gone out
	for len(rest[0])+len(rest[1]) > 0 {
		window := min(c.sendWindow, st.sendWindow, int64(c.peerMaxFrame))
		// Wait for the client's window, or for the socket to take what is
		// queued: the client reads too slowly for more.
		if window <= 0 || len(c.pending) >= maxPendingData || len(out) >= maxPendingData {
			c.wroteSince.Store(true)
			if err := c.writeLocked(out); err != nil {
				return err
			}
			out = out[:0]
			// The context's end wakes waiters once: one that ended
			// before this wait would never wake it.
			if (window <= 0 || len(c.pending) > 0) && st.ctx.Err() == nil {
				c.sendable.Wait()
			}
			if st.done || c.closed {
				return contextStatus(st.ctx)
			}
			if st.ctx.Err() != nil {
				// The call ended while waiting. A message cut short
				// cannot be followed by a status: reset the stream.
				if begun {
					_ = c.resetLocked(st, errCancel)
				}
				return contextStatus(st.ctx)
			}
			continue
		}
		n := min(window, int64(len(rest[0])+len(rest[1])))
		out = appendFrameHeader(out, int(n), frameData, 0, st.id)
		for left := int(n); left > 0; {
			k := min(left, len(rest[0]))
			out = append(out, rest[0][:k]...)
			rest[0] = rest[0][k:]
			left -= k
			if len(rest[0]) == 0 {
				rest[0], rest[1] = rest[1], nil
			}
		}
		c.sendWindow -= n
		st.sendWindow -= n
		begun = true
	}
	c.wroteSince.Store(true)
	if trailers != nil {
		out = st.trailersLocked(out, trailers)
	}
	return c.writeLocked(out)
}

// trailersLocked appends the stream's status and ends it.
func (st *stream) trailersLocked(out []byte, s *status.Status) []byte {
	c := st.c
	if !st.headerSent && len(st.header) > 0 {
		out = st.sendHeaderLocked(out) // header metadata stays header metadata
	}
	var block []byte
	if st.headerSent {
		block = appendStatus(nil, s)
	} else { // trailers-only: one HEADERS frame with the headers too
		st.headerSent = true
		block = appendStatus(st.headerBlockLocked(), s)
	}
	out = c.appendHeaderFrames(out, st.id, appendMetadata(block, st.trailer), true)
	if !st.inEnded {
		out = appendRSTStream(out, st.id, errNo) // the rest of the request is not needed
	}
	st.done = true
	delete(c.streams, st.id)
	st.readable.Broadcast()
	return out
}

// finish sends the unary reply, if any, and the status of err.
func (st *stream) finish(reply []byte, err error) {
	s := statusOK
	if err != nil {
		var ok bool
		if s, ok = status.FromError(err); !ok {
			s = status.FromContextError(err)
		}
	}
	if err == nil && reply != nil {
		sendErr := st.sendMessage(reply, s)
		if sendErr == nil {
			return
		}
		s = status.Convert(sendErr) // the reply did not go: its status does
	}
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.done || c.closed {
		return
	}
	_ = c.writeLocked(st.trailersLocked(nil, s))
}

// Method returns the full method name (grpc.ServerTransportStream).
func (st *stream) Method() string { return st.method }

// SetHeader adds md to the response headers until they are sent.
func (st *stream) SetHeader(md metadata.MD) error {
	return st.addMetadata(md, func() error {
		st.header = metadata.Join(st.header, md)
		return nil
	})
}

// SendHeader sends the response headers with md.
func (st *stream) SendHeader(md metadata.MD) error {
	return st.addMetadata(md, func() error {
		if st.done || st.c.closed {
			return contextStatus(st.ctx)
		}
		st.header = metadata.Join(st.header, md)
		return st.c.writeLocked(st.sendHeaderLocked(nil))
	})
}

// SetTrailer adds md to the trailers.
func (st *stream) SetTrailer(md metadata.MD) error {
	if err := validMetadata(md); err != nil {
		return err
	}
	st.c.mu.Lock()
	defer st.c.mu.Unlock()
	if st.done {
		return status.Error(codes.Internal, "transport: the stream has ended")
	}
	st.trailer = metadata.Join(st.trailer, md)
	return nil
}

// addMetadata checks md and runs add under the connection's lock, unless
// the headers have gone.
func (st *stream) addMetadata(md metadata.MD, add func() error) error {
	if err := validMetadata(md); err != nil {
		return err
	}
	st.c.mu.Lock()
	defer st.c.mu.Unlock()
	if st.headerSent {
		return status.Error(codes.Internal, "transport: the stream has already sent its headers")
	}
	return add()
}

// serverStream is the grpc.ServerStream a streaming handler gets.
type serverStream struct{ st *stream }

func (s serverStream) SetHeader(md metadata.MD) error  { return s.st.SetHeader(md) }
func (s serverStream) SendHeader(md metadata.MD) error { return s.st.SendHeader(md) }
func (s serverStream) SetTrailer(md metadata.MD)       { _ = s.st.SetTrailer(md) }
func (s serverStream) Context() context.Context        { return s.st.ctx }

// SendMsg marshals and sends m.
func (s serverStream) SendMsg(m any) error {
	b, err := marshal(m)
	if err != nil {
		return err
	}
	return s.st.sendMessage(b, nil)
}

// RecvMsg receives the next message into m; io.EOF once the client has
// ended its side.
func (s serverStream) RecvMsg(m any) error {
	b, err := s.st.recv()
	if err != nil {
		return err
	}
	return unmarshal(b, m)
}

// parseTimeout parses a grpc-timeout value: up to 8 digits and a unit.
func parseTimeout(s string) (time.Duration, error) {
	if len(s) < 2 || len(s) > 9 {
		return 0, fmt.Errorf("%q", s)
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q", s)
	}
	unit, ok := timeoutUnits[s[len(s)-1]]
	if !ok {
		return 0, fmt.Errorf("%q: unknown unit", s)
	}
	if n > int64(time.Duration(1<<63-1)/unit) {
		return time.Duration(1<<63 - 1), nil
	}
	return time.Duration(n) * unit, nil
}

// validMetadata checks what HTTP/2 can carry, as grpc-go checks it: keys
// of lowercase letters, digits, '-', '_' and '.', not starting with ':';
// values of printable ASCII unless the key ends in "-bin".
func validMetadata(md metadata.MD) error {
	for k, vs := range md {
		if k == "" || strings.HasPrefix(k, ":") {
			return status.Errorf(codes.Internal, "header key %q is not allowed", k)
		}
		for i := 0; i < len(k); i++ {
			if c := k[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				return status.Errorf(codes.Internal, "header key %q contains illegal characters", k)
			}
		}
		if strings.HasSuffix(k, "-bin") {
			continue
		}
		for _, v := range vs {
			for i := 0; i < len(v); i++ {
				if c := v[i]; c < 0x20 || c > 0x7e {
					return status.Errorf(codes.Internal, "header key %q has a value with illegal characters", k)
				}
			}
		}
	}
	return nil
}

// statusOK is the status of a call that succeeded.
var statusOK = status.New(codes.OK, "")

// timeoutUnits are grpc-timeout's units.
var timeoutUnits = map[byte]time.Duration{'H': time.Hour, 'M': time.Minute, 'S': time.Second, 'm': time.Millisecond, 'u': time.Microsecond, 'n': time.Nanosecond}

// decodeBinaryHeader decodes a -bin header's value, padded or not.
func decodeBinaryHeader(v string) ([]byte, error) {
	if len(v)%4 == 0 {
		return base64.StdEncoding.DecodeString(v)
	}
	return base64.RawStdEncoding.DecodeString(v)
}
