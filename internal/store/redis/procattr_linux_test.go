package redis

import "syscall"

// childProcAttr makes a child process of a test die with the test binary,
// even when the binary dies without running its cleanups (a timeout).
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
