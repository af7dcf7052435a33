package sandbox

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestModesExercised starts a ModeAuto sandbox with a memory cap and a CPU
// quota, as thaw lambda does, freezes and thaws it, checks that each limit is
// written where Modes says, freezes a sandbox in each forced mode, and logs
// one line saying which modes ran and, if
// the cgroup v2 memory and cpu controllers were not available, why. test.sh
// prints that line (go test -v -run TestModesExercised), so a host that
// skips the v2 limit paths says so.
func TestModesExercised(t *testing.T) {
	const memoryMB, share = 64, 0.5
	s := startSandbox(t, Config{Path: "/bin/sh", Args: []string{"-c", busyLoop}, MemoryMB: memoryMB, CPUShareOfOneCore: share})
	if _, err := s.Freeze(); err != nil {
		t.Fatalf("Freeze() = %v", err)
	}
	if _, err := s.Thaw(); err != nil {
		t.Fatalf("Thaw() = %v", err)
	}
	modes := s.Modes()
	if modes.Freeze != s.Mode() {
		t.Errorf("Modes().Freeze = %v, Mode() = %v; want them equal", modes.Freeze, s.Mode())
	}

	// The limits are in the files of the hierarchy Modes names.
	type limitFile struct{ v1, v2 string }
	var v1Dirs []string
	var v2Dir string
	switch m := s.mech.(type) {
	case *cgroupV1:
		v1Dirs = m.dirs
	case *cgroupV2:
		v2Dir = m.dir
		if m.limits != nil {
			v1Dirs = m.limits.dirs
		}
	}
	check := func(what string, mode Mode, file limitFile, want string) {
		var paths []string
		switch mode {
		case ModeCgroupV1:
			for _, d := range v1Dirs {
				paths = append(paths, filepath.Join(d, file.v1))
			}
		case ModeCgroupV2:
			paths = []string{filepath.Join(v2Dir, file.v2)}
		default:
			t.Logf("no %s cgroup on this host", what)
			return
		}
		for _, p := range paths {
			if got, err := readFileTrimmed(p); err == nil {
				if !strings.HasPrefix(got, want) {
					t.Errorf("%s = %q, want %q", p, got, want)
				}
				return
			}
		}
		t.Errorf("%s mode %v: none of %q readable", what, mode, paths)
	}
	check("memory", modes.Memory, limitFile{v1: "memory.limit_in_bytes", v2: "memory.max"}, strconv.Itoa(memoryMB<<20))
	quota := strconv.FormatInt(cpuQuota(share, 100000), 10)
	check("cpu", modes.CPU, limitFile{v1: "cpu.cfs_quota_us", v2: "cpu.max"}, quota)

	// The forced freeze modes, which the behaviour tests run where they can.
	var forced []string
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			s := startSandbox(t, Config{Path: "/bin/sleep", Args: []string{"60"}, Mode: mode})
			if _, err := s.Freeze(); err != nil {
				t.Fatalf("Freeze() = %v", err)
			}
			if _, err := s.Thaw(); err != nil {
				t.Fatalf("Thaw() = %v", err)
			}
			forced = append(forced, mode.String())
		})
	}

	line := "lambda sandbox modes exercised: " + modes.String() + " (auto; forced freeze modes working here: " + strings.Join(forced, " ") + ")"
	if h, err := findHierarchies(); err == nil {
		if why := h.v2LimitsUnavailable(); why != nil {
			line += " (v2 memory/cpu: unavailable on this host: " + why.Error() + ")"
		}
	}
	t.Log(line)
}

// readFileTrimmed reads a small cgroup file.
func readFileTrimmed(path string) (string, error) {
	data, err := os.ReadFile(path)
	return strings.TrimSpace(string(data)), err
}
