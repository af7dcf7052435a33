//go:build !linux

package server

import (
	"net"
	"time"
)

// setUserTimeout does nothing where TCP_USER_TIMEOUT is not available.
func setUserTimeout(net.Conn, time.Duration) error { return nil }
