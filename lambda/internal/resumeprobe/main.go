// Command resumeprobe is a provided-runtime bootstrap used by the emulator's
// tests to observe the resume order. It speaks the Runtime API itself over one
// raw connection and waits for each /next answer by polling the socket without
// blocking, in a tight loop, noting the wall time at which the last poll that
// found nothing began. A runtime frozen inside /next resumes inside that loop: if its event
// was written before the thaw, its first poll finds it, and no empty poll is
// later than the moment the event was sent; if the thaw came first, it polls
// an empty socket for a while after that moment. Each reply is
// {"request_id", "last_empty_unix_nano", "empty_polls"} for the /next that
// delivered the event.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"
)

// reply is what the probe saw while it waited for the event.
type reply struct {
	RequestID         string `json:"request_id"`
	LastEmptyUnixNano int64  `json:"last_empty_unix_nano"`
	EmptyPolls        int64  `json:"empty_polls"`
}

// spinReader reads a TCP connection by polling it without blocking.
type spinReader struct {
	raw        syscall.RawConn
	lastEmpty  time.Time
	emptyPolls int64
}

func (s *spinReader) Read(p []byte) (int, error) {
	for {
		// Taken before the poll: a process frozen inside the syscall
		// returns its answer, from before the freeze, after the thaw.
		began := time.Now()
		var n int
		var rerr error
		if err := s.raw.Control(func(fd uintptr) {
			n, _, rerr = syscall.Recvfrom(int(fd), p, syscall.MSG_DONTWAIT)
		}); err != nil {
			return 0, err
		}
		switch {
		case errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EINTR):
			s.lastEmpty = began
			s.emptyPolls++
		case rerr != nil:
			return 0, rerr
		case n == 0:
			return 0, io.EOF
		default:
			return n, nil
		}
	}
}

func main() {
	if err := run(os.Getenv("AWS_LAMBDA_RUNTIME_API")); err != nil {
		fmt.Fprintln(os.Stderr, "resumeprobe:", err)
		os.Exit(1)
	}
}

func run(api string) error {
	conn, err := net.Dial("tcp", api)
	if err != nil {
		return err
	}
	raw, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		return err
	}
	spin := &spinReader{raw: raw}
	in := bufio.NewReader(spin)
	for {
		spin.lastEmpty, spin.emptyPolls = time.Time{}, 0
		if _, err := fmt.Fprintf(conn, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: %s\r\n\r\n", api); err != nil {
			return err
		}
		next, err := http.ReadResponse(in, nil)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, next.Body)
		next.Body.Close()
		r := reply{RequestID: next.Header.Get("Lambda-Runtime-Aws-Request-Id"), EmptyPolls: spin.emptyPolls}
		if !spin.lastEmpty.IsZero() {
			r.LastEmptyUnixNano = spin.lastEmpty.UnixNano()
		}
		body, _ := json.Marshal(r)
		if _, err := fmt.Fprintf(conn, "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			r.RequestID, api, len(body), body); err != nil {
			return err
		}
		posted, err := http.ReadResponse(in, nil)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, posted.Body)
		posted.Body.Close()
		if posted.StatusCode != http.StatusAccepted {
			return fmt.Errorf("POST response: %s", posted.Status)
		}
	}
}
