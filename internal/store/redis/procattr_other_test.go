//go:build !linux

package redis

import "syscall"

// childProcAttr is nil where Pdeathsig does not exist: a child process
// outlives a test binary that dies without running its cleanups.
func childProcAttr() *syscall.SysProcAttr { return nil }
