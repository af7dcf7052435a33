package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// cgroupV2 is a sandbox's cgroup in the unified hierarchy.
type cgroupV2 struct {
	dir        string
	freezeFile *os.File // cgroup.freeze, kept open
	events     *os.File // cgroup.events, kept open
	memory     bool     // the memory controller is enabled for dir
}

// newCgroupV2 makes the v2 cgroup of a sandbox, enables the controllers its
// limits need and applies them. The returned setup holds the directory open
// for CLONE_INTO_CGROUP.
func newCgroupV2(h hierarchies, dirName string, cfg *Config, logger *slog.Logger) (*cgroupSetup, error) {
	if h.v2 == nil {
		return nil, fmt.Errorf("%w: no cgroup v2 hierarchy mounted", ErrUnavailable)
	}
	root := h.v2.dir
	dir, err := makeCgroup(root, dirName)
	if err != nil {
		return nil, err
	}
	c := &cgroupV2{dir: dir}
	setup := &cgroupSetup{mode: ModeCgroupV2, mech: c, v2: c}
	fail := func(err error) (*cgroupSetup, error) {
		return nil, errors.Join(err, setup.remove())
	}
	if c.freezeFile, err = os.OpenFile(filepath.Join(dir, "cgroup.freeze"), os.O_RDWR, 0); err != nil {
		// cgroup.freeze appeared in Linux 5.2.
		return fail(fmt.Errorf("%w: %w", ErrUnavailable, err))
	}
	if c.events, err = os.Open(filepath.Join(dir, "cgroup.events")); err != nil {
		return fail(fmt.Errorf("sandbox: %w", err))
	}

	// Controllers are delegated top-down: the hierarchy root, then thaw/.
	// Memory is always wanted (peak use, OOM events), cpu only for a quota.
	want := []string{"memory"}
	if cfg.CPUShareOfOneCore > 0 {
		want = append(want, "cpu")
	}
	enabled, enableErr := enableControllers(root, filepath.Dir(dir), want)
	c.memory = slices.Contains(enabled, "memory")

	if cfg.MemoryMB > 0 {
		if !c.memory {
			logger.Warn("sandbox: memory controller unavailable in the cgroup v2 hierarchy; no memory cap",
				"sandbox", dirName, "reason", enableErr)
		} else {
			limit := strconv.FormatInt(int64(cfg.MemoryMB)<<20, 10)
			if err := writeFile(filepath.Join(dir, "memory.max"), limit); err != nil {
				return fail(err)
			}
			// No swapping past the cap (Lambda has no swap); absent without swap accounting.
			if err := writeFile(filepath.Join(dir, "memory.swap.max"), "0"); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fail(err)
			}
			// Reaching the cap ends the whole environment, as on Lambda.
			_ = writeFile(filepath.Join(dir, "memory.oom.group"), "1")
		}
	}
	if cfg.CPUShareOfOneCore > 0 {
		if !slices.Contains(enabled, "cpu") {
			logger.Warn("sandbox: cpu controller unavailable in the cgroup v2 hierarchy; no CPU quota",
				"sandbox", dirName, "reason", enableErr)
		} else {
			const period = 100000
			value := fmt.Sprintf("%d %d", cpuQuota(cfg.CPUShareOfOneCore, period), period)
			if err := writeFile(filepath.Join(dir, "cpu.max"), value); err != nil {
				return fail(err)
			}
		}
	}
	if setup.dirFD, err = os.Open(dir); err != nil {
		return fail(fmt.Errorf("sandbox: %w", err))
	}
	return setup, nil
}

// enableControllers turns on the wanted controllers, where the hierarchy
// offers them, in the subtree_control of root and of parent, and returns the
// ones enabled for parent's children.
func enableControllers(root, parent string, want []string) ([]string, error) {
	offered, err := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	var errs []error
	var enabled []string
	for _, c := range want {
		if !slices.Contains(strings.Fields(string(offered)), c) {
			errs = append(errs, fmt.Errorf("sandbox: controller %s not offered by %s (bound to cgroup v1?)", c, root))
			continue
		}
		ok := true
		for _, dir := range []string{root, parent} {
			active, err := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
			if err == nil && slices.Contains(strings.Fields(string(active)), c) {
				continue
			}
			if err := writeFile(filepath.Join(dir, "cgroup.subtree_control"), "+"+c); err != nil {
				errs = append(errs, err)
				ok = false
				break
			}
		}
		if ok {
			enabled = append(enabled, c)
		}
	}
	return enabled, errors.Join(errs...)
}

// openStaleCgroupV2 wraps a leftover v2 directory for cleanup.
func openStaleCgroupV2(dir string) *cgroupV2 {
	c := &cgroupV2{dir: dir}
	c.freezeFile, _ = os.OpenFile(filepath.Join(dir, "cgroup.freeze"), os.O_RDWR, 0)
	c.events, _ = os.Open(filepath.Join(dir, "cgroup.events"))
	return c
}

// addProcess moves pid into the cgroup (used only where CLONE_INTO_CGROUP is
// missing).
func (c *cgroupV2) addProcess(pid int) error {
	return writeFile(filepath.Join(c.dir, "cgroup.procs"), strconv.Itoa(pid))
}

// event returns a value of cgroup.events: "populated" or "frozen".
func (c *cgroupV2) event(key string) (string, error) {
	if c.events == nil {
		return "", fmt.Errorf("sandbox: %s/cgroup.events not open", c.dir)
	}
	s, err := readAt(c.events)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("sandbox: no %q in %s/cgroup.events", key, c.dir)
}

// setFrozen writes cgroup.freeze and waits until cgroup.events agrees.
func (c *cgroupV2) setFrozen(abort <-chan struct{}, value string, timeout time.Duration) error {
	if c.freezeFile == nil {
		return fmt.Errorf("sandbox: %s/cgroup.freeze not open", c.dir)
	}
	if err := writeAt(c.freezeFile, value); err != nil {
		return err
	}
	return poll(abort, timeout, func() (bool, error) {
		v, err := c.event("frozen")
		return err == nil && v == value, err
	})
}

// freeze implements mechanism.
func (c *cgroupV2) freeze(abort <-chan struct{}) error {
	return c.setFrozen(abort, "1", freezeTimeout)
}

// thaw implements mechanism.
func (c *cgroupV2) thaw() error {
	return c.setFrozen(nil, "0", thawTimeout)
}

// killTree implements mechanism. cgroup.kill (Linux 5.14) kills the whole
// cgroup at once, frozen or not; older kernels get freeze, kill each, thaw.
// Either way the cgroup ends thawed.
func (c *cgroupV2) killTree() error {
	if _, err := os.Stat(c.dir); errors.Is(err, fs.ErrNotExist) {
		return nil // removed behind our back, with its processes
	}
	var errs []error
	if err := writeFile(filepath.Join(c.dir, "cgroup.kill"), "1"); err != nil {
		if c.freezeFile != nil {
			_ = c.setFrozen(nil, "1", time.Second)
		}
		if _, err := killProcs(c.dir); err != nil {
			errs = append(errs, err)
		}
	}
	if c.freezeFile != nil {
		if err := writeAt(c.freezeFile, "0"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// waitEmpty implements mechanism.
func (c *cgroupV2) waitEmpty(timeout time.Duration) error {
	err := poll(nil, timeout, func() (bool, error) {
		n, err := killProcs(c.dir)
		return n == 0, err
	})
	if err != nil {
		return fmt.Errorf("sandbox: wait for %s to empty: %w", c.dir, err)
	}
	return nil
}

// memoryEvents implements mechanism.
func (c *cgroupV2) memoryEvents() (oomKilled, limitHit bool, peak int64) {
	if !c.memory {
		return false, false, 0
	}
	events := filepath.Join(c.dir, "memory.events")
	oomKilled = keyedValue(events, "oom_kill") > 0
	limitHit = keyedValue(events, "max") > 0 || oomKilled
	peak, _ = readInt(filepath.Join(c.dir, "memory.peak"))
	return oomKilled, limitHit, peak
}

// peakMemory implements mechanism.
func (c *cgroupV2) peakMemory() (int64, error) {
	if !c.memory {
		return 0, fmt.Errorf("sandbox: no memory controller: %w", ErrUnavailable)
	}
	return readInt(filepath.Join(c.dir, "memory.peak")) // Linux 5.19
}

// remove implements mechanism.
func (c *cgroupV2) remove() error {
	for _, f := range []*os.File{c.freezeFile, c.events} {
		if f != nil {
			_ = f.Close()
		}
	}
	return removeCgroup(c.dir)
}

// describe implements mechanism.
func (c *cgroupV2) describe() string { return c.dir }

// removed implements mechanism.
func (c *cgroupV2) removed() bool {
	_, err := os.Stat(c.dir)
	return errors.Is(err, fs.ErrNotExist)
}
