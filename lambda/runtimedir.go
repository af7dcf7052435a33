package lambda

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// runtimeDirPrefix begins the name of every runtime directory (the
// bootstraps, extension pid files and status FIFOs of one emulator), which
// goes on with the owner's pid and start time: thaw-runtime-PID-START-RANDOM.
const runtimeDirPrefix = "thaw-runtime-"

// makeRuntimeDir creates this process's runtime directory in parent, named
// after it so that a later run can tell it was left behind.
func makeRuntimeDir(parent string) (string, error) {
	pid := os.Getpid()
	start, err := processStartTime(pid)
	if err != nil {
		return "", fmt.Errorf("lambda: runtime directory: %w", err)
	}
	dir, err := os.MkdirTemp(parent, fmt.Sprintf("%s%d-%d-", runtimeDirPrefix, pid, start))
	if err != nil {
		return "", fmt.Errorf("lambda: runtime directory: %w", err)
	}
	return dir, nil
}

// removeStaleRuntimeDirs removes the runtime directories in parent whose
// owner no longer runs (a thaw killed with SIGKILL never removes its own),
// killing first the signal-mode processes it left stopped.
// Directories of running emulators, this one's included, and names it did
// not make are left alone.
func removeStaleRuntimeDirs(parent string, logger *slog.Logger) {
	dirs, _ := filepath.Glob(filepath.Join(parent, runtimeDirPrefix+"*"))
	for _, dir := range dirs {
		fields := strings.SplitN(strings.TrimPrefix(filepath.Base(dir), runtimeDirPrefix), "-", 3)
		if len(fields) != 3 {
			continue
		}
		pid, err1 := strconv.Atoi(fields[0])
		start, err2 := strconv.ParseUint(fields[1], 10, 64)
		if err1 != nil || err2 != nil || pid <= 0 {
			continue
		}
		if now, err := processStartTime(pid); err == nil && now == start {
			continue // its owner still runs
		}
		killStaleProcessGroups(dir, logger)
		if err := os.RemoveAll(dir); err != nil {
			logger.Warn("removing a runtime directory left by an earlier run", "dir", dir, "err", err)
			continue
		}
		logger.Info("removed a runtime directory left by an earlier run", "dir", dir, "owner_pid", pid)
	}
}

// processGroupsFile, in a runtime directory, lists the process groups of
// the emulator's signal-mode environments, one "PGID START" line each (the
// group leader's start time). Signal mode has no cgroup to find a tree by
// after a crash: this file is how the next run finds the processes that a
// dead emulator left stopped.
const processGroupsFile = "process-groups"

// recordProcessGroup adds the group led by pgid to runtimeDir's list.
func recordProcessGroup(runtimeDir string, pgid int) error {
	st, err := readStat(pgid)
	if err != nil {
		return fmt.Errorf("lambda: record process group %d: %w", pgid, err)
	}
	f, err := os.OpenFile(filepath.Join(runtimeDir, processGroupsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("lambda: record process group %d: %w", pgid, err)
	}
	_, err = fmt.Fprintf(f, "%d %d\n", pgid, st.start)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// killStaleProcessGroups kills what is left of the process groups listed in
// the runtime directory of a dead emulator: each process still in the group
// and its session (a signal-mode sandbox's root leads both), started no
// earlier than the group's leader, gets SIGKILL and SIGCONT. Processes that
// left the group escaped thaw and are not found.
func killStaleProcessGroups(dir string, logger *slog.Logger) {
	data, err := os.ReadFile(filepath.Join(dir, processGroupsFile))
	if err != nil {
		return
	}
	type group struct {
		pgid  int
		start uint64
	}
	var groups []group
	for _, line := range strings.Split(string(data), "\n") {
		var g group
		if _, err := fmt.Sscanf(line, "%d %d", &g.pgid, &g.start); err == nil && g.pgid > 1 {
			groups = append(groups, g)
		}
	}
	if len(groups) == 0 {
		return
	}
	entries, _ := os.ReadDir("/proc")
	for _, entry := range entries {
		pid, err := strconv.Atoi(entry.Name())
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil {
			continue
		}
		for _, g := range groups {
			if st.pgrp == g.pgid && st.session == g.pgid && st.start >= g.start {
				unix.Kill(pid, unix.SIGKILL)
				unix.Kill(pid, unix.SIGCONT)
				logger.Info("killed a process left stopped by an earlier run", "pid", pid, "process_group", g.pgid)
			}
		}
	}
}

// processStartTime returns when pid started, in clock ticks after boot
// (field 22 of /proc/PID/stat): with the pid it names one process for good.
func processStartTime(pid int) (uint64, error) {
	st, err := readStat(pid)
	return st.start, err
}

// procStat holds the fields of /proc/PID/stat this file reads.
type procStat struct {
	pgrp, session int
	start         uint64 // clock ticks after boot
}

func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 || i+2 >= len(s) {
		return procStat{}, fmt.Errorf("lambda: malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+2:]) // f[0] is field 3
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("lambda: short /proc/%d/stat", pid)
	}
	var st procStat
	st.pgrp, _ = strconv.Atoi(f[2])
	st.session, _ = strconv.Atoi(f[3])
	st.start, err = strconv.ParseUint(f[19], 10, 64)
	return st, err
}
