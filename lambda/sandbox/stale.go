package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// owner identifies the supervisor process that made a cgroup. The start time
// tells a live owner from a later process that reuses its pid.
type owner struct {
	pid   int
	start uint64 // clock ticks after boot, field 22 of /proc/PID/stat
}

// currentOwner is this process.
var currentOwner = sync.OnceValue(func() owner {
	st, _ := readProcStat("/proc/self/stat")
	return owner{pid: os.Getpid(), start: st.startTime}
})

// suffix is appended to a sandbox's name to form its cgroup directory name.
func (o owner) suffix() string { return fmt.Sprintf("@%d-%d", o.pid, o.start) }

// parseOwner reads the owner from a cgroup directory name made by suffix.
func parseOwner(name string) (owner, bool) {
	i := strings.LastIndexByte(name, '@')
	if i < 0 {
		return owner{}, false
	}
	pidText, startText, ok := strings.Cut(name[i+1:], "-")
	if !ok {
		return owner{}, false
	}
	pid, err1 := strconv.Atoi(pidText)
	start, err2 := strconv.ParseUint(startText, 10, 64)
	if err1 != nil || err2 != nil || pid <= 0 {
		return owner{}, false
	}
	return owner{pid: pid, start: start}, true
}

// alive reports whether the owner process still runs.
func (o owner) alive() bool {
	st, err := readProcStat("/proc/" + strconv.Itoa(o.pid) + "/stat")
	return err == nil && st.startTime == o.start
}

// CleanupStale removes the sandbox cgroups that a thaw process which is no
// longer running left behind (a crash, a SIGKILL): it thaws them, kills
// their processes and removes the directories. Cgroups of running thaw
// processes, including this one, are left alone, so it is safe to call at
// any time; a supervisor calls it once when it starts. Each removal is logged
// on logger (nil discards).
//
// Without cgroups (signal mode) there is nothing to find: a tree stopped by
// a supervisor that died stays stopped, except for the root process, which
// its Pdeathsig kills.
func CleanupStale(logger *slog.Logger) error {
	return cleanupStale(logger, func(o owner) bool { return !o.alive() })
}

// cleanupStale removes the sandbox cgroups whose owner is stale. Tests pass
// a narrower test than "not alive" so that concurrent test processes do not
// remove each other's pretend-stale sandboxes.
func cleanupStale(logger *slog.Logger, stale func(owner) bool) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h, err := findHierarchies()
	if err != nil {
		return err
	}
	type target struct {
		kind string // a v1 controller, or "v2"
		m    mount
	}
	// The freezers first (v1, then v2): their cleanup thaws and kills the
	// processes, after which the memory and cpu hierarchies, which a hybrid
	// v2 sandbox uses too, only hold empty directories.
	var targets []target
	seen := map[string]bool{}
	add := func(kind string, m mount) {
		if !seen[m.dir] {
			seen[m.dir] = true
			targets = append(targets, target{kind, m})
		}
	}
	if m, ok := h.v1["freezer"]; ok {
		add("freezer", m)
	}
	if h.v2 != nil {
		add("v2", *h.v2)
	}
	for _, c := range []string{"memory", "cpu"} {
		if m, ok := h.v1[c]; ok {
			add(c, m)
		}
	}

	var errs []error
	for _, t := range targets {
		parent := filepath.Join(t.m.dir, parentName)
		entries, err := os.ReadDir(parent)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("sandbox: %w", err))
			continue
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			dir := filepath.Join(parent, e.Name())
			own, ok := parseOwner(e.Name())
			if !ok {
				logger.Warn("sandbox: leaving alone a cgroup not named by this package", "dir", dir)
				continue
			}
			if !stale(own) {
				continue
			}
			var m mechanism
			if t.kind == "v2" {
				m = openStaleCgroupV2(dir)
			} else {
				m = openStaleCgroupV1(dir, t.kind)
			}
			err := errors.Join(m.killTree(), m.waitEmpty(emptyTimeout), m.remove())
			if _, statErr := os.Stat(dir); err != nil && errors.Is(statErr, fs.ErrNotExist) {
				err = nil // another supervisor's CleanupStale got there first
			}
			if err != nil {
				errs = append(errs, err)
				logger.Warn("sandbox: could not remove stale cgroup", "dir", dir, "owner_pid", own.pid, "err", err)
				continue
			}
			logger.Info("sandbox: removed stale cgroup", "dir", dir, "owner_pid", own.pid)
		}
		_ = unix.Rmdir(parent) // only if empty
	}
	return errors.Join(errs...)
}
