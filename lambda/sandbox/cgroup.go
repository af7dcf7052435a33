package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// parentName is the directory under each hierarchy's root that holds every
// sandbox cgroup.
const parentName = "thaw"

// mount is a mounted cgroup hierarchy.
type mount struct {
	dir  string // mount point, e.g. /sys/fs/cgroup/freezer
	root string // path of the hierarchy mounted there, "/" unless a subtree is bind-mounted
}

// hierarchies are the cgroup hierarchies this package can use.
type hierarchies struct {
	v1 map[string]mount // by controller: freezer, memory, cpu
	v2 *mount           // the unified hierarchy, nil if not mounted
}

// v1Controllers are the v1 controllers a sandbox uses.
var v1Controllers = []string{"freezer", "memory", "cpu"}

// findHierarchies reads /proc/self/mountinfo.
func findHierarchies() (hierarchies, error) {
	h := hierarchies{v1: map[string]mount{}}
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return h, fmt.Errorf("sandbox: read mountinfo: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// id parent maj:min root mountpoint opts [optional...] - fstype source superopts
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || len(fields) < sep+4 {
			continue
		}
		m := mount{dir: unescapeMountinfo(fields[4]), root: unescapeMountinfo(fields[3])}
		switch fields[sep+1] {
		case "cgroup2":
			if h.v2 == nil {
				h.v2 = &m
			}
		case "cgroup":
			for _, opt := range strings.Split(fields[sep+3], ",") {
				for _, c := range v1Controllers {
					if opt == c {
						if _, seen := h.v1[c]; !seen {
							h.v1[c] = m
						}
					}
				}
			}
		}
	}
	return h, nil
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) of mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// v2Controllers returns the controllers the unified hierarchy offers.
func (h hierarchies) v2Controllers() []string {
	if h.v2 == nil {
		return nil
	}
	data, err := os.ReadFile(filepath.Join(h.v2.dir, "cgroup.controllers"))
	if err != nil {
		return nil
	}
	return strings.Fields(string(data))
}

// autoOrder is the order in which ModeAuto tries the cgroup mechanisms. The
// v2 freezer comes first wherever a unified hierarchy is mounted, hybrid
// machines included (their v1 memory and cpu hierarchies then apply the
// limits): cgroup.freeze is confirmed through cgroup.events within
// microseconds, while the v1 freezer's FREEZING state takes milliseconds to
// settle on every freeze and thaw.
func (h hierarchies) autoOrder() []Mode {
	if h.v2 != nil {
		return []Mode{ModeCgroupV2, ModeCgroupV1}
	}
	return []Mode{ModeCgroupV1, ModeCgroupV2}
}

// v2LimitsUnavailable says why the unified hierarchy cannot give a sandbox
// the memory or cpu controller, or returns nil if it offers both. On a
// hybrid machine the two are bound to v1 hierarchies, and a controller can
// belong to one hierarchy only.
func (h hierarchies) v2LimitsUnavailable() error {
	if h.v2 == nil {
		return errors.New("no cgroup v2 hierarchy mounted")
	}
	offered := h.v2Controllers()
	var missing []string
	for _, c := range []string{"memory", "cpu"} {
		if !slices.Contains(offered, c) {
			if m, ok := h.v1[c]; ok {
				missing = append(missing, fmt.Sprintf("%s bound to cgroup v1 at %s", c, m.dir))
			} else {
				missing = append(missing, c+" not offered")
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%s; %s/cgroup.controllers offers only %q", strings.Join(missing, ", "), h.v2.dir, strings.Join(offered, " "))
}

// cgroupSetup is what setupCgroups made for one sandbox.
type cgroupSetup struct {
	modes Modes
	mech  mechanism
	joins []joinDir // v1 (and v1 limits of a hybrid v2 setup): cgroups the spawner thread joins before forking
	dirFD *os.File  // v2: the cgroup directory, for CLONE_INTO_CGROUP
	v2    *cgroupV2 // v2: for placing the process after the fact on old kernels
}

// remove undoes setupCgroups.
func (c *cgroupSetup) remove() error {
	if c.dirFD != nil {
		_ = c.dirFD.Close()
	}
	return c.mech.remove()
}

// setupCgroups makes the cgroups of a sandbox for cfg.Mode and applies its
// limits. It returns nil, nil when the sandbox is to use signals.
func setupCgroups(cfg *Config, dirName string, logger *slog.Logger) (*cgroupSetup, error) {
	// signalMode logs that the sandbox uses signals and, if limits were
	// asked for, that they are unavailable.
	signalMode := func(msg string, reason error) {
		if cfg.MemoryMB > 0 || cfg.CPUShareOfOneCore > 0 {
			msg += "; memory cap and CPU quota unavailable"
		}
		logger.Warn(msg, "sandbox", dirName, "memory_mb", cfg.MemoryMB, "cpu_share", cfg.CPUShareOfOneCore, "reason", reason)
	}
	if cfg.Mode == ModeSignal {
		if cfg.MemoryMB > 0 || cfg.CPUShareOfOneCore > 0 {
			signalMode("sandbox: signal mode forced", nil)
		}
		return nil, nil
	}
	h, err := findHierarchies()
	if err != nil {
		if cfg.Mode != ModeAuto {
			return nil, err
		}
		h = hierarchies{v1: map[string]mount{}}
	}
	try := func(m Mode) (*cgroupSetup, error) {
		switch m {
		case ModeCgroupV1:
			return newCgroupV1(h, dirName, cfg, logger)
		case ModeCgroupV2:
			return newCgroupV2(h, dirName, cfg, logger)
		}
		return nil, fmt.Errorf("sandbox: unknown Mode %v", m)
	}
	switch cfg.Mode {
	case ModeCgroupV1, ModeCgroupV2:
		return try(cfg.Mode)
	case ModeAuto:
	default:
		return nil, fmt.Errorf("sandbox: unknown Mode %d", int(cfg.Mode))
	}
	var reasons []error
	for _, m := range h.autoOrder() {
		c, err := try(m)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, ErrUnavailable) {
			return nil, err
		}
		reasons = append(reasons, err)
	}
	signalMode("sandbox: no writable cgroup hierarchy; freezing with SIGSTOP/SIGCONT to the process group", errors.Join(reasons...))
	return nil, nil
}

// makeCgroup creates mountDir/thaw/name. A concurrent cleanup may remove the
// empty parent between the two mkdirs, hence the retries.
func makeCgroup(mountDir, name string) (string, error) {
	parent := filepath.Join(mountDir, parentName)
	dir := filepath.Join(parent, name)
	for attempt := 0; ; attempt++ {
		if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return "", classifyMkdir(err)
		}
		err := os.Mkdir(dir, 0o755)
		switch {
		case err == nil:
			return dir, nil
		case errors.Is(err, fs.ErrNotExist) && attempt < 5:
			continue
		case errors.Is(err, fs.ErrExist):
			return "", fmt.Errorf("sandbox: cgroup %s already exists: sandbox name in use", dir)
		}
		return "", classifyMkdir(err)
	}
}

// classifyMkdir marks the errors that mean "not allowed here" as
// ErrUnavailable, so ModeAuto falls back instead of failing.
func classifyMkdir(err error) error {
	if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EROFS) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return fmt.Errorf("sandbox: %w", err)
}

// removeCgroup removes a sandbox cgroup directory, waiting while the kernel
// still counts exiting processes in it, then removes the shared parent if
// that is now empty (another sandbox's mkdir retries if it loses that race).
func removeCgroup(dir string) error {
	err := poll(nil, emptyTimeout, func() (bool, error) {
		err := unix.Rmdir(dir)
		switch {
		case err == nil || errors.Is(err, syscall.ENOENT):
			return true, nil
		case errors.Is(err, syscall.EBUSY):
			return false, nil
		}
		return false, err
	})
	if err != nil {
		return fmt.Errorf("sandbox: remove cgroup %s: %w", dir, err)
	}
	_ = unix.Rmdir(filepath.Dir(dir)) // fails harmlessly while other sandboxes exist
	return nil
}

// writeFile writes s to an existing cgroup file.
func writeFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sandbox: write %q to %s: %w", s, path, err)
	}
	return nil
}

// readAt reads a small cgroup file kept open, from its start.
func readAt(f *os.File) (string, error) {
	var buf [256]byte
	n, err := f.ReadAt(buf[:], 0)
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("sandbox: read %s: %w", f.Name(), err)
	}
	return string(buf[:n]), nil
}

// writeAt writes s to a cgroup file kept open.
func writeAt(f *os.File, s string) error {
	if _, err := f.WriteAt([]byte(s), 0); err != nil {
		return fmt.Errorf("sandbox: write %q to %s: %w", s, f.Name(), err)
	}
	return nil
}

// readIntAt reads a cgroup file holding one integer, kept open in *f: it is
// opened on the first read (at path) and read in place after that, since
// opening a cgroup file costs more than reading it. The caller closes *f.
func readIntAt(f **os.File, path string) (int64, error) {
	if *f == nil {
		opened, err := os.Open(path)
		if err != nil {
			return 0, fmt.Errorf("sandbox: %w", err)
		}
		*f = opened
	}
	text, err := readAt(*f)
	if err != nil {
		return 0, err
	}
	return parseInt(path, text)
}

// readInt reads a cgroup file holding one integer.
func readInt(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("sandbox: %w", err)
	}
	return parseInt(path, string(data))
}

// parseInt parses the integer that the cgroup file at path holds.
func parseInt(path, text string) (int64, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("sandbox: parse %s: %w", path, err)
	}
	return v, nil
}

// keyedValue returns the value of key in a "key value" per line cgroup file
// such as memory.events or memory.oom_control, or 0.
func keyedValue(path, key string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if ok && k == key {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// cgroupProcs lists the processes in a cgroup directory.
func cgroupProcs(dir string) ([]int, error) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// killProcs sends SIGKILL to every process of the given cgroups and returns
// how many it signalled. It never signals the supervisor itself, nor, in v1,
// a process only one of whose threads is in the cgroup: that is a
// supervisor's spawner thread passing through (see spawn.go), while every
// process of a sandbox is wholly inside.
func killProcs(dirs ...string) (int, error) {
	self := os.Getpid()
	n := 0
	var errs []error
	for _, dir := range dirs {
		pids, err := cgroupProcs(dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var threads map[int]bool // v1 only: tids in the cgroup
		if len(pids) > 0 {
			if data, err := os.ReadFile(filepath.Join(dir, "tasks")); err == nil {
				threads = map[int]bool{}
				for _, f := range strings.Fields(string(data)) {
					if tid, err := strconv.Atoi(f); err == nil {
						threads[tid] = true
					}
				}
			}
		}
		for _, pid := range pids {
			if pid == self || pid <= 0 || (threads != nil && !threads[pid]) {
				continue
			}
			if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
				errs = append(errs, fmt.Errorf("sandbox: kill %d: %w", pid, err))
				continue
			}
			n++
		}
	}
	return n, errors.Join(errs...)
}

// poll calls check until it reports true, abort is closed (ErrKilled) or
// timeout passes (ErrTimeout). The kernel usually confirms a freeze within
// microseconds, so it yields a few times before it starts sleeping.
func poll(abort <-chan struct{}, timeout time.Duration, check func() (bool, error)) error {
	start := time.Now()
	deadline := start.Add(timeout)
	sleep := 20 * time.Microsecond
	for i := 0; ; i++ {
		ok, err := check()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-abort:
			return ErrKilled
		default:
		}
		if time.Now().After(deadline) {
			return ErrTimeout
		}
		if i < 20 {
			runtime.Gosched()
			continue
		}
		time.Sleep(sleep)
		// A short cap keeps the wait close to the kernel's own latency: a
		// freeze confirmed at 650 µs must not be noticed at 1.3 ms, since
		// the next event waits for it. Long waits (a CPU-throttled tree)
		// back off further.
		limit := 100 * time.Microsecond
		if time.Since(start) > 20*time.Millisecond {
			limit = time.Millisecond
		}
		sleep = min(sleep*2, limit)
	}
}

// cpuQuota converts a share of one core into a quota for the given period,
// both in microseconds, never below the kernel's 1 ms minimum.
func cpuQuota(share float64, periodUS int64) int64 {
	q := int64(share * float64(periodUS))
	return max(q, 1000)
}
