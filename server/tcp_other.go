//go:build !linux

package server

import (
	"net"
	"time"
)

// setUserTimeout does nothing where TCP_USER_TIMEOUT is not available.
func setUserTimeout(net.Conn, time.Duration) error { return nil }

// rawReader is Linux's (tcp_linux.go); elsewhere grpc-go reads a
// connection through its own buffer.
type rawReader struct{}

func newRawReader(net.Conn) *rawReader { return nil }
