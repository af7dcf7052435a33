package sandbox

import (
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// cpuLimitFile is the file holding the CPU quota of s: cpu.max in the v2
// cgroup, else cpu.cfs_quota_us in the v1 cpu cgroup; "" without one.
func cpuLimitFile(s *Sandbox) string {
	switch m := s.mech.(type) {
	case *cgroupV1:
		if m.cpu != "" {
			return filepath.Join(m.cpu, "cpu.cfs_quota_us")
		}
	case *cgroupV2:
		if m.cpu {
			return filepath.Join(m.dir, "cpu.max")
		}
		if m.limits != nil && m.limits.cpu != "" {
			return filepath.Join(m.limits.cpu, "cpu.cfs_quota_us")
		}
	}
	return ""
}

// throttled reads nr_throttled, the number of periods in which the kernel
// stopped the tree for having used its quota, from cpu.stat beside the
// quota file.
func throttled(t *testing.T, quotaFile string) int64 {
	t.Helper()
	path := filepath.Join(filepath.Dir(quotaFile), "cpu.stat")
	n := keyedValue(path, "nr_throttled")
	if n < 0 {
		t.Fatalf("%s: nr_throttled = %d", path, n)
	}
	return n
}

// cpuUse measures the CPU time the root process of s uses over window of
// wall time, in cores.
func cpuUse(t *testing.T, s *Sandbox, window time.Duration) float64 {
	t.Helper()
	begin, start := readProgress(t, s.Pid()), time.Now()
	time.Sleep(window)
	end, elapsed := readProgress(t, s.Pid()), time.Since(start)
	return float64(end.cpuTicks-begin.cpuTicks) / 100 / elapsed.Seconds() // USER_HZ is 100
}

// TestSetCPUShare: a sandbox started with StartCPUUncapped has its cpu
// cgroup but no quota, and a busy loop in it runs freely; SetCPUShare caps
// it, frozen or not, and SetCPUShare(0) lifts the cap again. The quota
// files are read back; the kernel's throttle count must not move while the
// loop is uncapped and must while it is capped; the loop's CPU use is
// logged, and checked only against the cap's upper bound, since a loaded
// machine gives the uncapped loop little more.
func TestSetCPUShare(t *testing.T) {
	t.Parallel()
	const share = 0.05
	for _, path := range limitPaths {
		t.Run(path.name, func(t *testing.T) {
			t.Parallel()
			s := startSandbox(t, Config{Path: "/bin/sh", Args: []string{"-c", busyLoop}, Mode: path.mode,
				CPUShareOfOneCore: share, StartCPUUncapped: true})
			skipUnlessLimitPath(t, s, path, "cpu")
			file := cpuLimitFile(s)
			uncapped, capped := "-1", strconv.FormatInt(cpuQuota(share, 100000), 10)
			if path.limit == ModeCgroupV2 {
				uncapped, capped = "max 100000", capped+" 100000"
			}
			checkQuota := func(when, want string) {
				t.Helper()
				if got, err := readFileTrimmed(file); err != nil || got != want {
					t.Errorf("%s: %s = %q, %v; want %q", when, file, got, err, want)
				}
			}
			checkQuota("at start", uncapped)
			before := throttled(t, file)
			free := cpuUse(t, s, 700*time.Millisecond)
			if n := throttled(t, file) - before; n != 0 {
				t.Errorf("uncapped busy loop throttled in %d periods, want 0", n)
			}

			// Set while frozen, as lambda does when Init ends with a freeze pending.
			if _, err := s.Freeze(); err != nil {
				t.Fatalf("Freeze() = %v", err)
			}
			if err := s.SetCPUShare(share); err != nil {
				t.Fatalf("SetCPUShare(%v) = %v", share, err)
			}
			if _, err := s.Thaw(); err != nil {
				t.Fatalf("Thaw() = %v", err)
			}
			checkQuota("after SetCPUShare", capped)
			time.Sleep(200 * time.Millisecond) // let the period running at the switch pass
			before = throttled(t, file)
			limited := cpuUse(t, s, 700*time.Millisecond)
			periods := throttled(t, file) - before
			t.Logf("%s: busy loop used %.3f of a core uncapped, %.3f capped at a %.2f share (throttled in %d periods)",
				path.name, free, limited, share, periods)
			if periods == 0 {
				t.Error("capped busy loop never throttled, want throttled")
			}
			if limited > 3*share {
				t.Errorf("CPU use capped at a %.2f share = %.3f of a core, want <= %.2f", share, limited, 3*share)
			}
			if free == 0 {
				t.Error("uncapped CPU use = 0, want some")
			}

			if err := s.SetCPUShare(0); err != nil {
				t.Fatalf("SetCPUShare(0) = %v", err)
			}
			checkQuota("after SetCPUShare(0)", uncapped)
			if err := s.SetCPUShare(-1); err == nil {
				t.Error("SetCPUShare(-1) = nil, want an error")
			}
			if err := s.Kill(); err != nil {
				t.Fatalf("Kill() = %v", err)
			}
			if err := s.SetCPUShare(share); !errors.Is(err, ErrKilled) {
				t.Errorf("SetCPUShare after Kill = %v, want ErrKilled", err)
			}
		})
	}
}

// TestSetCPUShareWithoutCPUCgroup: a sandbox with no cpu cgroup (no quota
// asked for at Start, or signal mode) cannot be capped later.
func TestSetCPUShareWithoutCPUCgroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no quota at start", Config{CPUShareOfOneCore: 0, StartCPUUncapped: true}},
		{"signal mode", Config{Mode: ModeSignal, CPUShareOfOneCore: 0.5, StartCPUUncapped: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			cfg.Path, cfg.Args = "/bin/sleep", []string{"60"}
			s := startSandbox(t, cfg)
			if s.Modes().CPU != ModeSignal {
				t.Fatalf("Modes() = %v, want no cpu cgroup", s.Modes())
			}
			if err := s.SetCPUShare(0.1); !errors.Is(err, ErrUnavailable) {
				t.Errorf("SetCPUShare(0.1) = %v, want ErrUnavailable", err)
			}
		})
	}
}
