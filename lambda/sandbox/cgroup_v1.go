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
	"time"
)

// cgroupV1 is a sandbox's cgroups in the v1 freezer, memory and cpu
// hierarchies.
type cgroupV1 struct {
	freezer string   // directory in the freezer hierarchy, "" only for stale cleanup
	memory  string   // directory in the memory hierarchy, "" when unavailable
	cpu     string   // directory in the cpu hierarchy, "" when no quota was asked for
	dirs    []string // every directory made, each hierarchy once
	state   *os.File // freezer.state, kept open: freezing is on the hot path
	peak    *os.File // memory.max_usage_in_bytes, kept open once read: it is read after every invocation
}

// newCgroupV1 makes the v1 cgroups of a sandbox and applies cfg's limits.
func newCgroupV1(h hierarchies, dirName string, cfg *Config, logger *slog.Logger) (*cgroupSetup, error) {
	c, joins, err := makeV1Cgroups(h, dirName, cfg, logger, v1Wanted{freezer: true, memory: true, cpu: cfg.CPUShareOfOneCore > 0})
	if err != nil {
		return nil, err
	}
	return &cgroupSetup{mech: c, joins: joins, modes: c.modes(ModeCgroupV1)}, nil
}

// v1Wanted says which v1 hierarchies makeV1Cgroups makes a cgroup in.
type v1Wanted struct{ freezer, memory, cpu bool }

// makeV1Cgroups makes the sandbox's cgroups in the wanted v1 hierarchies and
// applies cfg's limits there. The freezer is required when wanted; a missing
// memory or cpu hierarchy only costs its limit, with a warning. On error
// nothing is left behind.
func makeV1Cgroups(h hierarchies, dirName string, cfg *Config, logger *slog.Logger, want v1Wanted) (*cgroupV1, []joinDir, error) {
	c := &cgroupV1{}
	var joins []joinDir
	made := map[string]string{} // mount point → directory made there (co-mounted controllers share one)
	ensure := func(controller string) (string, error) {
		m, ok := h.v1[controller]
		if !ok {
			return "", fmt.Errorf("%w: no cgroup v1 %s hierarchy mounted", ErrUnavailable, controller)
		}
		if dir, ok := made[m.dir]; ok {
			return dir, nil
		}
		dir, err := makeCgroup(m.dir, dirName)
		if err != nil {
			return "", err
		}
		made[m.dir] = dir
		c.dirs = append(c.dirs, dir)
		joins = append(joins, joinDir{dir: dir, controller: controller, mount: m})
		return dir, nil
	}
	fail := func(err error) (*cgroupV1, []joinDir, error) {
		return nil, nil, errors.Join(err, c.remove())
	}

	if want.freezer {
		dir, err := ensure("freezer")
		if err != nil {
			return nil, nil, err
		}
		c.freezer = dir
		if c.state, err = os.OpenFile(filepath.Join(dir, "freezer.state"), os.O_RDWR, 0); err != nil {
			return fail(fmt.Errorf("sandbox: %w", err))
		}
	}

	// The memory cgroup is made even without a cap: it measures peak use.
	if want.memory {
		switch dir, err := ensure("memory"); {
		case err == nil:
			c.memory = dir
			if cfg.MemoryMB > 0 {
				limit := strconv.FormatInt(int64(cfg.MemoryMB)<<20, 10)
				if err := writeFile(filepath.Join(dir, "memory.limit_in_bytes"), limit); err != nil {
					return fail(err)
				}
				// With swap accounting, forbid swapping past the cap (Lambda has no swap).
				if _, err := os.Stat(filepath.Join(dir, "memory.memsw.limit_in_bytes")); err == nil {
					if err := writeFile(filepath.Join(dir, "memory.memsw.limit_in_bytes"), limit); err != nil {
						return fail(err)
					}
				}
			}
		case errors.Is(err, ErrUnavailable):
			if cfg.MemoryMB > 0 {
				logger.Warn("sandbox: memory cgroup unavailable; no memory cap", "sandbox", dirName, "reason", err)
			}
		default:
			return fail(err)
		}
	}

	if want.cpu {
		switch dir, err := ensure("cpu"); {
		case err == nil:
			c.cpu = dir
			// A new cgroup has no quota (-1): uncapped until setCPUShare.
			if !cfg.StartCPUUncapped {
				if err := c.setCPUShare(cfg.CPUShareOfOneCore); err != nil {
					return fail(err)
				}
			}
		case errors.Is(err, ErrUnavailable):
			logger.Warn("sandbox: cpu cgroup unavailable; no CPU quota", "sandbox", dirName, "reason", err)
		default:
			return fail(err)
		}
	}
	return c, joins, nil
}

// modes reports freeze as the freeze mechanism and ModeCgroupV1 for each
// limit this sandbox has a v1 cgroup for.
func (c *cgroupV1) modes(freeze Mode) Modes {
	m := Modes{Freeze: freeze, Memory: ModeSignal, CPU: ModeSignal}
	if c.memory != "" {
		m.Memory = ModeCgroupV1
	}
	if c.cpu != "" {
		m.CPU = ModeCgroupV1
	}
	return m
}

// openStaleCgroupV1 wraps a leftover directory of one v1 hierarchy for
// cleanup.
func openStaleCgroupV1(dir, controller string) *cgroupV1 {
	c := &cgroupV1{dirs: []string{dir}}
	switch controller {
	case "freezer":
		c.freezer = dir
		c.state, _ = os.OpenFile(filepath.Join(dir, "freezer.state"), os.O_RDWR, 0)
	case "memory":
		c.memory = dir
	case "cpu":
		c.cpu = dir
	}
	return c
}

// readState returns FROZEN, FREEZING or THAWED.
func (c *cgroupV1) readState() (string, error) {
	s, err := readAt(c.state)
	return strings.TrimSpace(s), err
}

// freeze implements mechanism.
func (c *cgroupV1) freeze(abort <-chan struct{}) error {
	if err := writeAt(c.state, "FROZEN"); err != nil {
		return err
	}
	lastWrite := time.Now()
	return poll(abort, freezeTimeout, func() (bool, error) {
		st, err := c.readState()
		if err != nil || st == "FROZEN" {
			return err == nil, err
		}
		// Still FREEZING: a task that was busy in the kernel may have missed
		// the wakeup; writing FROZEN again asks every task once more.
		if time.Since(lastWrite) > 20*time.Millisecond {
			lastWrite = time.Now()
			if err := writeAt(c.state, "FROZEN"); err != nil {
				return false, err
			}
		}
		return false, nil
	})
}

// thaw implements mechanism.
func (c *cgroupV1) thaw() error {
	if err := writeAt(c.state, "THAWED"); err != nil {
		return err
	}
	return poll(nil, thawTimeout, func() (bool, error) {
		st, err := c.readState()
		return err == nil && st == "THAWED", err
	})
}

// killTree implements mechanism. The tree is frozen first so that no process
// can fork, or exit and free its pid for reuse, between listing and killing;
// then every process gets SIGKILL and the tree is thawed, because a frozen
// task under the v1 freezer does not act on SIGKILL until it is thawed.
func (c *cgroupV1) killTree() error {
	var errs []error
	if c.state != nil && !c.gone() {
		if err := writeAt(c.state, "FROZEN"); err != nil {
			errs = append(errs, err)
		} else {
			// Best effort: a task stuck in the kernel may keep the cgroup
			// FREEZING; the kills go out anyway and waitEmpty repeats them.
			_ = poll(nil, time.Second, func() (bool, error) {
				st, err := c.readState()
				return st == "FROZEN", err
			})
		}
	}
	if _, err := killProcs(c.dirs...); err != nil {
		errs = append(errs, err)
	}
	if c.state != nil && !c.gone() {
		if err := writeAt(c.state, "THAWED"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// gone reports whether the freezer directory was removed behind this
// sandbox's back (by CleanupStale of another supervisor, or by hand); its
// processes are then dead already.
func (c *cgroupV1) gone() bool {
	_, err := os.Stat(c.freezer)
	return errors.Is(err, fs.ErrNotExist)
}

// removed implements mechanism.
func (c *cgroupV1) removed() bool {
	for _, dir := range c.dirs {
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			return false
		}
	}
	return true
}

// waitEmpty implements mechanism. It repeats the kills for processes that
// were forked while the first round went out.
func (c *cgroupV1) waitEmpty(timeout time.Duration) error {
	err := poll(nil, timeout, func() (bool, error) {
		n, err := killProcs(c.dirs...)
		return n == 0, err
	})
	if err != nil {
		return fmt.Errorf("sandbox: wait for %s to empty: %w", c.describe(), err)
	}
	return nil
}

// memoryEvents implements mechanism.
func (c *cgroupV1) memoryEvents() (oomKilled, limitHit bool, peak int64) {
	if c.memory == "" {
		return false, false, 0
	}
	oomKilled = keyedValue(filepath.Join(c.memory, "memory.oom_control"), "oom_kill") > 0
	failcnt, _ := readInt(filepath.Join(c.memory, "memory.failcnt"))
	peak, _ = c.peakMemory()
	return oomKilled, failcnt > 0 || oomKilled, peak
}

// peakMemory implements mechanism.
func (c *cgroupV1) peakMemory() (int64, error) {
	if c.memory == "" {
		return 0, fmt.Errorf("sandbox: no memory cgroup: %w", ErrUnavailable)
	}
	return readIntAt(&c.peak, filepath.Join(c.memory, "memory.max_usage_in_bytes"))
}

// setCPUShare implements mechanism: cpu.cfs_quota_us, -1 for no quota.
func (c *cgroupV1) setCPUShare(share float64) error {
	if c.cpu == "" {
		return fmt.Errorf("sandbox: no cgroup v1 cpu cgroup: %w", ErrUnavailable)
	}
	quota := int64(-1)
	if share > 0 {
		period, err := readInt(filepath.Join(c.cpu, "cpu.cfs_period_us"))
		if err != nil {
			return err
		}
		quota = cpuQuota(share, period)
	}
	return writeFile(filepath.Join(c.cpu, "cpu.cfs_quota_us"), strconv.FormatInt(quota, 10))
}

// remove implements mechanism.
func (c *cgroupV1) remove() error {
	for _, f := range []*os.File{c.state, c.peak} {
		if f != nil {
			_ = f.Close()
		}
	}
	var errs []error
	for _, dir := range c.dirs {
		if err := removeCgroup(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// describe implements mechanism.
func (c *cgroupV1) describe() string { return strings.Join(c.dirs, ",") }
