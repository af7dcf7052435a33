package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// outputCopier copies one output pipe to its writer and can tell when every
// byte written into the pipe so far has been handed to the writer.
type outputCopier struct {
	r *os.File
	w io.Writer
	// waiting is true while the copier is blocked reading the pipe, i.e. it
	// holds no bytes that it has not yet written.
	waiting atomic.Bool
}

func (c *outputCopier) run() {
	buf := make([]byte, 32<<10)
	for {
		c.waiting.Store(true)
		n, err := c.r.Read(buf)
		c.waiting.Store(false)
		if n > 0 {
			if _, werr := c.w.Write(buf[:n]); werr != nil {
				// Keep draining so the tree never blocks on a full pipe.
				c.w = io.Discard
			}
		}
		if err != nil {
			return
		}
	}
}

// caughtUp reports whether the pipe is empty and the copier is waiting for
// more, so that everything written before the call has reached the writer.
func (c *outputCopier) caughtUp() bool {
	if !c.waiting.Load() {
		return false
	}
	raw, err := c.r.SyscallConn()
	if err != nil {
		return true // the pipe is closed: nothing more will come
	}
	pending := 0
	if cerr := raw.Control(func(fd uintptr) {
		pending, err = unix.IoctlGetInt(int(fd), unix.TIOCINQ) // FIONREAD
	}); cerr != nil || err != nil {
		return true
	}
	return pending == 0 && c.waiting.Load()
}

// ErrOutputBehind means SyncOutput gave up before the output caught up.
var ErrOutputBehind = errors.New("sandbox: output still being copied")

// SyncOutput waits until every byte the tree wrote to its stdout and stderr
// before the call has been passed to Config.Stdout and Config.Stderr, or
// until timeout. A supervisor calls it before it closes a unit of work (an
// invocation) so that output printed just before the work ended is counted
// with it. With nothing pending it costs one ioctl per pipe.
func (s *Sandbox) SyncOutput(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, c := range s.copiers {
		for !c.caughtUp() {
			if time.Now().After(deadline) {
				return fmt.Errorf("%w after %v", ErrOutputBehind, timeout)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	return nil
}
