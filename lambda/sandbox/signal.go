package sandbox

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// processGroup freezes a tree with SIGSTOP and SIGCONT to its process group,
// for machines without a writable cgroup hierarchy. Processes that leave the
// group escape it.
type processGroup struct {
	pgid    int
	members []int // group members found by the last freeze, checked by thaw
}

// freeze implements mechanism. Once kill(-pgid, SIGSTOP) returns, every
// member, including one being forked at that moment, has the signal pending,
// so the members are listed once and then watched until all their threads
// are stopped.
func (g *processGroup) freeze(abort <-chan struct{}) error {
	if err := unix.Kill(-g.pgid, unix.SIGSTOP); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return ErrExited
		}
		return fmt.Errorf("sandbox: SIGSTOP process group %d: %w", g.pgid, err)
	}
	members, err := groupMembers(g.pgid)
	if err != nil {
		return err
	}
	g.members = members
	return poll(abort, freezeTimeout, func() (bool, error) {
		for _, pid := range g.members {
			if !processStopped(pid) {
				return false, nil
			}
		}
		return true, nil
	})
}

// thaw implements mechanism. SIGCONT wakes stopped threads while it is sent;
// the poll only confirms it.
func (g *processGroup) thaw() error {
	if err := unix.Kill(-g.pgid, unix.SIGCONT); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("sandbox: SIGCONT process group %d: %w", g.pgid, err)
	}
	return poll(nil, thawTimeout, func() (bool, error) {
		for _, pid := range g.members {
			if processHasState(pid, 'T') {
				return false, nil
			}
		}
		return true, nil
	})
}

// killTree implements mechanism. SIGKILL ends stopped processes too; the
// SIGCONT after it only makes sure nothing of the group stays stopped.
func (g *processGroup) killTree() error {
	if err := unix.Kill(-g.pgid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("sandbox: SIGKILL process group %d: %w", g.pgid, err)
	}
	_ = unix.Kill(-g.pgid, unix.SIGCONT)
	return nil
}

// waitEmpty implements mechanism: zombies count as gone.
func (g *processGroup) waitEmpty(timeout time.Duration) error {
	err := poll(nil, timeout, func() (bool, error) {
		members, err := groupMembers(g.pgid)
		if err != nil {
			return false, err
		}
		for _, pid := range members {
			st, err := readProcStat("/proc/" + strconv.Itoa(pid) + "/stat")
			if err == nil && st.state != 'Z' && st.state != 'X' {
				_ = unix.Kill(-g.pgid, unix.SIGKILL)
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("sandbox: wait for process group %d to die: %w", g.pgid, err)
	}
	return nil
}

// memoryEvents implements mechanism: unknown without cgroups.
func (g *processGroup) memoryEvents() (bool, bool, int64) { return false, false, 0 }

// peakMemory implements mechanism.
func (g *processGroup) peakMemory() (int64, error) {
	return 0, fmt.Errorf("sandbox: no memory cgroup in signal mode: %w", ErrUnavailable)
}

// setCPUShare implements mechanism: a process group has no CPU quota.
func (g *processGroup) setCPUShare(float64) error {
	return fmt.Errorf("sandbox: no cpu cgroup in signal mode: %w", ErrUnavailable)
}

// remove implements mechanism: there is nothing to remove.
func (g *processGroup) remove() error { return nil }

// removed implements mechanism: a process group has nothing to remove, and
// waitEmpty is what tells whether it is gone.
func (g *processGroup) removed() bool { return false }

// describe implements mechanism.
func (g *processGroup) describe() string { return "process group " + strconv.Itoa(g.pgid) }

// procStat holds the fields of /proc/PID/stat this package reads.
type procStat struct {
	state     byte
	pgrp      int
	session   int
	utime     uint64 // clock ticks in user mode
	stime     uint64 // clock ticks in kernel mode
	startTime uint64 // clock ticks after boot
}

// readProcStat parses /proc/PID/stat, or /proc/PID/task/TID/stat when path
// names it.
func readProcStat(path string) (procStat, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return procStat{}, err
	}
	// The command name is in parentheses and may hold spaces and ')'.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return procStat{}, fmt.Errorf("sandbox: malformed %s", path)
	}
	f := strings.Fields(s[i+2:]) // f[0] is field 3 (state)
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("sandbox: short %s", path)
	}
	var st procStat
	st.state = f[0][0]
	st.pgrp, _ = strconv.Atoi(f[2])
	st.session, _ = strconv.Atoi(f[3])
	st.utime, _ = strconv.ParseUint(f[11], 10, 64)
	st.stime, _ = strconv.ParseUint(f[12], 10, 64)
	st.startTime, _ = strconv.ParseUint(f[19], 10, 64)
	return st, nil
}

// groupMembers lists the processes whose process group is pgid.
func groupMembers(pgid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readProcStat("/proc/" + e.Name() + "/stat")
		if err == nil && st.pgrp == pgid {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// processStopped reports whether every thread of pid is stopped (or the
// process is gone or a zombie).
func processStopped(pid int) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return true // gone
	}
	for _, e := range entries {
		st, err := readProcStat(dir + "/" + e.Name() + "/stat")
		if err != nil {
			continue // thread exited
		}
		switch st.state {
		case 'T', 't', 'Z', 'X':
		default:
			return false
		}
	}
	return true
}

// processHasState reports whether any thread of pid is in the given state.
func processHasState(pid int, state byte) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if st, err := readProcStat(dir + "/" + e.Name() + "/stat"); err == nil && st.state == state {
			return true
		}
	}
	return false
}
