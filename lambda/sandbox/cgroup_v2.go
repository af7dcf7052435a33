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

// cgroupV2 is a sandbox's cgroup in the unified hierarchy. On a hybrid
// machine, whose memory and cpu controllers are bound to v1 hierarchies, the
// tree is also in v1 memory and cpu cgroups (limits): one process can be in
// a cgroup of every hierarchy at once, so the v2 freezer freezes it while
// the v1 controllers cap it.
type cgroupV2 struct {
	dir        string
	freezeFile *os.File  // cgroup.freeze, kept open
	events     *os.File  // cgroup.events, kept open
	peak       *os.File  // memory.peak, kept open once read: it is read after every invocation
	memory     bool      // the memory controller is enabled for dir
	cpu        bool      // the cpu controller is enabled for dir
	limits     *cgroupV1 // v1 memory and cpu cgroups standing in for missing v2 controllers; nil if none
}

// newCgroupV2 makes the v2 cgroup of a sandbox, enables the controllers its
// limits need and applies them. A limit whose controller the unified
// hierarchy lacks goes to the v1 hierarchy of that controller, if one is
// mounted (a hybrid machine). The returned setup holds the directory open
// for CLONE_INTO_CGROUP and lists the v1 cgroups the spawner joins.
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
	setup := &cgroupSetup{mech: c, v2: c}
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
	c.cpu = slices.Contains(enabled, "cpu")

	// Hybrid: what v2 cannot limit, the v1 hierarchies do.
	_, v1Memory := h.v1["memory"]
	_, v1CPU := h.v1["cpu"]
	fromV1 := v1Wanted{memory: !c.memory && v1Memory, cpu: cfg.CPUShareOfOneCore > 0 && !c.cpu && v1CPU}
	if fromV1.memory || fromV1.cpu {
		limits, joins, err := makeV1Cgroups(h, dirName, cfg, logger, fromV1)
		if err != nil && !errors.Is(err, ErrUnavailable) {
			return fail(err)
		}
		if err == nil {
			c.limits = limits
			setup.joins = joins
		}
	}
	setup.modes = c.modes()

	if cfg.MemoryMB > 0 {
		switch {
		case c.memory:
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
		case setup.modes.Memory != ModeCgroupV1:
			logger.Warn("sandbox: memory controller unavailable in the cgroup v2 hierarchy and no v1 memory hierarchy; no memory cap",
				"sandbox", dirName, "reason", enableErr)
		}
	}
	if cfg.CPUShareOfOneCore > 0 {
		switch {
		case c.cpu:
			// A new cgroup's cpu.max is "max 100000": uncapped until setCPUShare.
			if !cfg.StartCPUUncapped {
				if err := c.setCPUShare(cfg.CPUShareOfOneCore); err != nil {
					return fail(err)
				}
			}
		case setup.modes.CPU != ModeCgroupV1:
			logger.Warn("sandbox: cpu controller unavailable in the cgroup v2 hierarchy and no v1 cpu hierarchy; no CPU quota",
				"sandbox", dirName, "reason", enableErr)
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

// waitEmpty implements mechanism. The v1 limit cgroups hold the same
// processes, so they are empty too once the v2 cgroup is.
func (c *cgroupV2) waitEmpty(timeout time.Duration) error {
	err := poll(nil, timeout, func() (bool, error) {
		n, err := killProcs(c.allDirs()...)
		return n == 0, err
	})
	if err != nil {
		return fmt.Errorf("sandbox: wait for %s to empty: %w", c.describe(), err)
	}
	return nil
}

// allDirs lists the v2 directory and the v1 limit directories.
func (c *cgroupV2) allDirs() []string {
	if c.limits == nil {
		return []string{c.dir}
	}
	return append([]string{c.dir}, c.limits.dirs...)
}

// modes reports ModeCgroupV2 for freezing and, for each limit, the
// hierarchy that applies it.
func (c *cgroupV2) modes() Modes {
	m := Modes{Freeze: ModeCgroupV2, Memory: ModeSignal, CPU: ModeSignal}
	if c.limits != nil {
		m = c.limits.modes(ModeCgroupV2)
	}
	if c.memory {
		m.Memory = ModeCgroupV2
	}
	if c.cpu {
		m.CPU = ModeCgroupV2
	}
	return m
}

// memoryEvents implements mechanism.
func (c *cgroupV2) memoryEvents() (oomKilled, limitHit bool, peak int64) {
	if !c.memory {
		if c.limits != nil {
			return c.limits.memoryEvents()
		}
		return false, false, 0
	}
	events := filepath.Join(c.dir, "memory.events")
	oomKilled = keyedValue(events, "oom_kill") > 0
	limitHit = keyedValue(events, "max") > 0 || oomKilled
	peak, _ = c.peakMemory()
	return oomKilled, limitHit, peak
}

// peakMemory implements mechanism.
func (c *cgroupV2) peakMemory() (int64, error) {
	if !c.memory {
		if c.limits != nil {
			return c.limits.peakMemory()
		}
		return 0, fmt.Errorf("sandbox: no memory controller: %w", ErrUnavailable)
	}
	return readIntAt(&c.peak, filepath.Join(c.dir, "memory.peak")) // Linux 5.19
}

// cpuMaxPeriod is the period, in microseconds, of the quotas written to cpu.max.
const cpuMaxPeriod = 100000

// setCPUShare implements mechanism: cpu.max ("max PERIOD" for no quota), or
// on a hybrid machine the v1 cpu cgroup.
func (c *cgroupV2) setCPUShare(share float64) error {
	if !c.cpu {
		if c.limits != nil {
			return c.limits.setCPUShare(share)
		}
		return fmt.Errorf("sandbox: no cpu controller for %s: %w", c.dir, ErrUnavailable)
	}
	value := fmt.Sprintf("max %d", cpuMaxPeriod)
	if share > 0 {
		value = fmt.Sprintf("%d %d", cpuQuota(share, cpuMaxPeriod), cpuMaxPeriod)
	}
	return writeFile(filepath.Join(c.dir, "cpu.max"), value)
}

// remove implements mechanism: the v2 cgroup and the v1 limit cgroups.
func (c *cgroupV2) remove() error {
	for _, f := range []*os.File{c.freezeFile, c.events, c.peak} {
		if f != nil {
			_ = f.Close()
		}
	}
	err := removeCgroup(c.dir)
	if c.limits != nil {
		err = errors.Join(err, c.limits.remove())
	}
	return err
}

// describe implements mechanism.
func (c *cgroupV2) describe() string { return strings.Join(c.allDirs(), ",") }

// removed implements mechanism.
func (c *cgroupV2) removed() bool {
	_, err := os.Stat(c.dir)
	return errors.Is(err, fs.ErrNotExist) && (c.limits == nil || c.limits.removed())
}
