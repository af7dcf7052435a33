package lambda

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ResumeOrder says what a frozen environment finds when it resumes for its
// next event: whether the event is already waiting in the runtime's socket or
// arrives only after the thaw.
type ResumeOrder string

// Resume orders.
const (
	// ResumeEventFirst, the default (the zero value means it too), writes the
	// whole answer to the runtime's pending /next while the environment is
	// still frozen and thaws it only then, as on Lambda: the first thing the
	// resumed runtime can see is its event, together with anything else the
	// freeze held back (expired timers, data that reached other sockets).
	ResumeEventFirst ResumeOrder = "event-first"
	// ResumeThawFirst thaws the environment first and writes the answer to
	// /next only after that, the order thaw used before: the resumed
	// runtime may run for a while before its event is there to read.
	ResumeThawFirst ResumeOrder = "thaw-first"
)

// ResumeOrders lists the valid resume orders, the default first.
func ResumeOrders() []ResumeOrder { return []ResumeOrder{ResumeEventFirst, ResumeThawFirst} }

// ParseResumeOrder parses "event-first" or "thaw-first"; "" is event-first.
func ParseResumeOrder(s string) (ResumeOrder, error) {
	switch ResumeOrder(s) {
	case "", ResumeEventFirst:
		return ResumeEventFirst, nil
	case ResumeThawFirst:
		return ResumeThawFirst, nil
	}
	return "", fmt.Errorf("lambda: unknown resume order %q (want %s or %s)", s, ResumeEventFirst, ResumeThawFirst)
}

// eventFlushBound bounds how long an event-first hand-over waits for the
// answer to reach the frozen runtime's socket before it thaws anyway: a large
// payload can fill the socket buffers of a process that reads nothing while
// frozen, and only the thaw lets it drain them.
const eventFlushBound = 200 * time.Millisecond

// writeNext writes inv as the answer to /next. Content-Length is set so that
// once flushed the answer is complete without the handler returning.
func writeNext(w http.ResponseWriter, function string, inv *invocation) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(inv.payload)))
	h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", functionARN(function))
	h.Set("Lambda-Runtime-Trace-Id", inv.traceID)
	if inv.clientContext != "" {
		h.Set("Lambda-Runtime-Client-Context", inv.clientContext)
	}
	w.WriteHeader(http.StatusOK)
	w.Write(inv.payload)
}

// errNotReceived means the runtime's socket did not hold the event in time.
var errNotReceived = errors.New("lambda: event not received by the runtime's socket")

// waitReceived waits until every byte thaw's end of the connection from
// runtimeAddr to apiAddr (both "127.0.0.1:port") has sent is in the receive
// queue of the runtime's end, or until deadline. A write to loopback returns
// once the data is queued for delivery, which the kernel may finish a little
// later in a softirq. The runtime, frozen, reads nothing meanwhile, and it had
// read all that came before when it asked for its event, so its receive queue
// holding at least what thaw's end has not seen acknowledged means all of it
// arrived (and once that is acknowledged, it did).
func waitReceived(runtimeAddr, apiAddr string, deadline time.Time) error {
	runtimeEnd, err := netip.ParseAddrPort(runtimeAddr)
	if err != nil {
		return fmt.Errorf("lambda: runtime address: %w", err)
	}
	apiEnd, err := netip.ParseAddrPort(apiAddr)
	if err != nil {
		return fmt.Errorf("lambda: runtime API address: %w", err)
	}
	diag, err := openSockDiag()
	if err != nil {
		return err
	}
	defer diag.close()
	for pause := 20 * time.Microsecond; ; pause = min(2*pause, time.Millisecond) {
		queued, _, err := diag.queues(runtimeEnd, apiEnd)
		if err != nil {
			return err
		}
		_, unacked, err := diag.queues(apiEnd, runtimeEnd)
		if err != nil {
			return err
		}
		if queued >= unacked {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %d of %d bytes", errNotReceived, queued, unacked)
		}
		time.Sleep(pause)
	}
}

// sockDiag is a netlink socket for sock_diag lookups, with its buffers; one
// serves the lookups of one hand-over.
type sockDiag struct {
	fd       int
	msg, buf []byte
}

// openSockDiag opens a sock_diag socket. Close it when done.
func openSockDiag() (*sockDiag, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("lambda: sock_diag socket: %w", err)
	}
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100_000})
	// struct nlmsghdr, then struct inet_diag_req_v2 with its inet_diag_sockid.
	const headerLen, reqLen = unix.SizeofNlMsghdr, 56
	msg := make([]byte, headerLen+reqLen)
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], unix.SOCK_DIAG_BY_FAMILY)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(msg[8:], 1)
	req := msg[headerLen:]
	req[0], req[1] = unix.AF_INET, unix.IPPROTO_TCP
	binary.NativeEndian.PutUint32(req[4:], 0xffffffff) // every state
	for i := 48; i < 56; i++ {
		req[i] = 0xff // the sockid's cookie: INET_DIAG_NOCOOKIE
	}
	return &sockDiag{fd: fd, msg: msg, buf: make([]byte, 4096)}, nil
}

// close closes the socket.
func (d *sockDiag) close() { unix.Close(d.fd) }

// queues asks the kernel (sock_diag), on d's socket, for the IPv4 TCP
// socket whose local end is local and remote end remote, and returns the
// bytes in its receive queue and those it has written but not seen
// acknowledged, as /proc/net/tcp's rx_queue and tx_queue (which take
// milliseconds to read on a busy machine; this is one lookup).
func (d *sockDiag) queues(local, remote netip.AddrPort) (received, unacked uint32, err error) {
	if !local.Addr().Unmap().Is4() || !remote.Addr().Unmap().Is4() {
		return 0, 0, fmt.Errorf("lambda: sock_diag lookup of %v-%v: IPv4 only", local, remote)
	}
	id := d.msg[unix.SizeofNlMsghdr+8:]
	binary.BigEndian.PutUint16(id[0:], local.Port())
	binary.BigEndian.PutUint16(id[2:], remote.Port())
	l, r := local.Addr().Unmap().As4(), remote.Addr().Unmap().As4()
	copy(id[4:], l[:])
	copy(id[20:], r[:])
	if err := unix.Sendto(d.fd, d.msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, 0, fmt.Errorf("lambda: sock_diag request: %w", err)
	}
	n, _, err := unix.Recvfrom(d.fd, d.buf, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("lambda: sock_diag answer: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(d.buf[:n])
	if err != nil || len(msgs) == 0 {
		return 0, 0, fmt.Errorf("lambda: sock_diag answer: %v", err)
	}
	m := msgs[0]
	if m.Header.Type == unix.NLMSG_ERROR {
		if len(m.Data) >= 4 {
			if errno := -int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
				return 0, 0, fmt.Errorf("lambda: sock_diag lookup of %v-%v: %w", local, remote, syscall.Errno(errno))
			}
		}
		return 0, 0, fmt.Errorf("lambda: sock_diag lookup of %v-%v: no answer", local, remote)
	}
	// struct inet_diag_msg: 4 bytes, the sockid (48), expires, rqueue, wqueue.
	if len(m.Data) < 64 {
		return 0, 0, fmt.Errorf("lambda: sock_diag answer of %d bytes", len(m.Data))
	}
	return binary.NativeEndian.Uint32(m.Data[56:]), binary.NativeEndian.Uint32(m.Data[60:]), nil
}
