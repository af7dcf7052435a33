package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/redis/rueidis"

	"github.com/thaw-dev/thaw/internal/store"
)

// TestWrapMarksUnavailable: the client's errors for a cluster that cannot
// be reached become store.ErrUnavailable; an ended ctx and other errors do not.
func TestWrapMarksUnavailable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"closed connection", io.EOF, true},
		{"no connection", rueidis.ErrClosing, true},
		{"no node for the slot", rueidis.ErrNoSlot, true},
		{"deadline of the call", context.DeadlineExceeded, false},
		{"cancelled call", context.Canceled, false},
		{"other error", errors.New("something else"), false},
	}
	var s Store
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.wrap("get", tt.err)
			if got := errors.Is(err, store.ErrUnavailable); got != tt.want {
				t.Errorf("errors.Is(wrap(%v), ErrUnavailable) = %v, want %v", tt.err, got, tt.want)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("wrap(%v) = %v, want it to wrap the client's error", tt.err, err)
			}
		})
	}
}
