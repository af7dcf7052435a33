package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain fails the run if any test left a cgroup of this process behind.
func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		runDeathHelper(spec)
		return
	}
	if os.Getenv(unprivilegedEnv) != "" {
		runUnprivilegedHelper()
		return
	}
	code := m.Run()
	if left := leftoverCgroups(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "sandbox tests left cgroups behind: %v\n", left)
		// Remove them, ours only: a test process must not disturb another.
		_ = cleanupStale(nil, func(o owner) bool { return o.pid == os.Getpid() })
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// leftoverCgroups lists cgroup directories named by this test process.
func leftoverCgroups() []string {
	own := fmt.Sprintf("@%d-", os.Getpid())
	var left []string
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + parentName + "/*")
	more, _ := filepath.Glob("/sys/fs/cgroup/" + parentName + "/*")
	for _, d := range append(dirs, more...) {
		if strings.Contains(filepath.Base(d), own) {
			left = append(left, d)
		}
	}
	return left
}

// allModes are the mechanisms every behaviour test runs against.
var allModes = []Mode{ModeCgroupV1, ModeCgroupV2, ModeSignal}

// busyLoop is a shell command that keeps one core busy.
const busyLoop = "while :; do :; done"

// testName makes a cgroup-safe name unique to this test run.
func testName(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return cleanName(t.Name()) + "-" + hex.EncodeToString(b[:])
}

// testLogger logs through t.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// tWriter writes to t.Log.
type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startSandbox starts a sandbox for the test, skips the test when its mode
// is not available here, and registers a cleanup that kills it and checks
// that nothing is left: no process, no cgroup directory.
func startSandbox(t testing.TB, cfg Config) *Sandbox {
	t.Helper()
	return startOwned(t, cfg, currentOwner())
}

// startOwned is startSandbox with an explicit cgroup owner.
func startOwned(t testing.TB, cfg Config, own owner) *Sandbox {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = testName(t)
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	s, err := start(context.Background(), cfg, own)
	if errors.Is(err, ErrUnavailable) {
		t.Skipf("mode %v not available on this machine: %v", cfg.Mode, err)
	}
	if err != nil {
		t.Fatalf("Start(%v) = %v", cfg.Mode, err)
	}
	if cfg.Mode != ModeAuto && s.Mode() != cfg.Mode {
		t.Errorf("Mode() = %v, want %v", s.Mode(), cfg.Mode)
	}
	dirs := cgroupDirs(s)
	t.Cleanup(func() {
		if err := s.Kill(); err != nil {
			t.Errorf("cleanup: Kill() = %v", err)
		}
		assertGone(t, s.Pid())
		for _, d := range dirs {
			if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("cleanup: cgroup %s still exists (stat error %v)", d, err)
			}
		}
	})
	return s
}

// cgroupDirs are the cgroup directories of s.
func cgroupDirs(s *Sandbox) []string {
	switch m := s.mech.(type) {
	case *cgroupV1:
		return append([]string(nil), m.dirs...)
	case *cgroupV2:
		return m.allDirs()
	}
	return nil
}

// limitPath is one way a sandbox applies its memory cap and CPU quota.
type limitPath struct {
	name  string
	mode  Mode // Config.Mode that takes this path where the host offers it
	limit Mode // hierarchy of the memory and cpu cgroups on this path
}

// limitPaths are the three ways: all v1; all v2 (a v2-only host); the v2
// freezer with v1 memory and cpu cgroups (a hybrid host).
var limitPaths = []limitPath{
	{name: "cgroup-v1", mode: ModeCgroupV1, limit: ModeCgroupV1},
	{name: "cgroup-v2", mode: ModeCgroupV2, limit: ModeCgroupV2},
	{name: "hybrid", mode: ModeCgroupV2, limit: ModeCgroupV1},
}

// skipUnlessLimitPath skips the test, saying loudly why, unless s applies
// the limit of the given controller ("memory" or "cpu") on path p.
func skipUnlessLimitPath(t *testing.T, s *Sandbox, p limitPath, controller string) {
	t.Helper()
	got := s.Modes().Memory
	if controller == "cpu" {
		got = s.Modes().CPU
	}
	if got == p.limit {
		return
	}
	reason := fmt.Sprintf("the sandbox got %v", s.Modes())
	if h, err := findHierarchies(); err == nil {
		if p.limit == ModeCgroupV2 {
			if why := h.v2LimitsUnavailable(); why != nil {
				reason = "unavailable on this host: " + why.Error()
			}
		} else if p.mode == ModeCgroupV2 && h.v2LimitsUnavailable() == nil {
			reason = "not a hybrid host: the unified hierarchy has the memory and cpu controllers"
		}
	}
	t.Skipf("SKIPPED: %s %s limit path not exercised: %s", p.name, controller, reason)
}

// assertGone fails unless pid is gone or a zombie (an orphan whose new parent
// does not reap it).
func assertGone(t testing.TB, pids ...int) {
	t.Helper()
	for _, pid := range pids {
		st, err := readProcStat("/proc/" + strconv.Itoa(pid) + "/stat")
		if err == nil && st.state != 'Z' && st.state != 'X' {
			t.Errorf("process %d still alive in state %c", pid, st.state)
		}
	}
}

// progress is what a running process advances: CPU ticks and context
// switches of all its threads.
type progress struct {
	cpuTicks uint64
	switches uint64
}

// readProgress samples progress of pid.
func readProgress(t testing.TB, pid int) progress {
	t.Helper()
	st, err := readProcStat("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatalf("read stat of %d: %v", pid, err)
	}
	p := progress{cpuTicks: st.utime + st.stime}
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/status")
	for _, path := range tasks {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && (k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches") {
				n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
				p.switches += n
			}
		}
	}
	return p
}

// lines collects output lines for the test to wait on.
type lines struct {
	mu  sync.Mutex // guards buf
	buf []byte
	c   chan string
}

func newLines() *lines { return &lines{c: make(chan string, 100)} }

// Write implements io.Writer.
func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := strings.IndexByte(string(l.buf), '\n')
		if i < 0 {
			return len(p), nil
		}
		select {
		case l.c <- string(l.buf[:i]):
		default:
		}
		l.buf = l.buf[i+1:]
	}
}

// next waits for the next line.
func (l *lines) next(t testing.TB) string {
	t.Helper()
	select {
	case s := <-l.c:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no output line within 10s")
		return ""
	}
}

// nextPid waits for a line holding a pid.
func (l *lines) nextPid(t testing.TB) int {
	t.Helper()
	s := l.next(t)
	pid, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("output line %q is not a pid", s)
	}
	return pid
}

// assertFrozen checks that none of pids makes progress over 300 ms.
func assertFrozen(t *testing.T, pids ...int) {
	t.Helper()
	before := make([]progress, len(pids))
	for i, pid := range pids {
		before[i] = readProgress(t, pid)
	}
	time.Sleep(300 * time.Millisecond)
	for i, pid := range pids {
		if after := readProgress(t, pid); after != before[i] {
			t.Errorf("frozen process %d progressed: %+v -> %+v", pid, before[i], after)
		}
	}
}

// assertRunning checks that every one of pids uses CPU within 300 ms.
func assertRunning(t *testing.T, pids ...int) {
	t.Helper()
	before := make([]progress, len(pids))
	for i, pid := range pids {
		before[i] = readProgress(t, pid)
	}
	time.Sleep(300 * time.Millisecond)
	for i, pid := range pids {
		if after := readProgress(t, pid); after.cpuTicks <= before[i].cpuTicks {
			t.Errorf("thawed process %d made no progress: %+v -> %+v", pid, before[i], after)
		}
	}
}

func TestFreezeStopsProgress(t *testing.T) {
	t.Parallel()
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			s := startSandbox(t, Config{Path: "/bin/sh", Args: []string{"-c", busyLoop}, Mode: mode})
			assertRunning(t, s.Pid())

			d, err := s.Freeze()
			if err != nil {
				t.Fatalf("Freeze() = %v", err)
			}
			t.Logf("%v: freeze took %v", mode, d)
			if !s.Frozen() {
				t.Error("Frozen() = false after Freeze")
			}
			assertFrozen(t, s.Pid())
			if d2, err := s.Freeze(); err != nil || d2 != 0 {
				t.Errorf("second Freeze() = %v, %v; want 0, nil", d2, err)
			}

			d, err = s.Thaw()
			if err != nil {
				t.Fatalf("Thaw() = %v", err)
			}
			t.Logf("%v: thaw took %v", mode, d)
			assertRunning(t, s.Pid())
		})
	}
}

func TestFreezeCoversGrandchild(t *testing.T) {
	t.Parallel()
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			s, grandchild := startBusyTree(t, mode)
			if _, err := s.Freeze(); err != nil {
				t.Fatalf("Freeze() = %v", err)
			}
			assertFrozen(t, s.Pid(), grandchild)
			if _, err := s.Thaw(); err != nil {
				t.Fatalf("Thaw() = %v", err)
			}
			assertRunning(t, s.Pid(), grandchild)
		})
	}
}

func TestOwnSessionAndProcessGroup(t *testing.T) {
	t.Parallel()
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			s := startSandbox(t, Config{Path: "/bin/sleep", Args: []string{"60"}, Mode: mode})
			st, err := readProcStat("/proc/" + strconv.Itoa(s.Pid()) + "/stat")
			if err != nil {
				t.Fatal(err)
			}
			if st.pgrp != s.Pid() || st.session != s.Pid() {
				t.Errorf("pgrp, session = %d, %d; want %d, %d", st.pgrp, st.session, s.Pid(), s.Pid())
			}
		})
	}
}

// TestPlacedBeforeExec has cat read its own cgroup membership as its first
// action: a sandbox that moved the process after starting it would race and
// usually show the supervisor's cgroup.
func TestPlacedBeforeExec(t *testing.T) {
	t.Parallel()
	for _, mode := range []Mode{ModeCgroupV1, ModeCgroupV2} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			for i := range 5 {
				out := newLines()
				s := startSandbox(t, Config{Path: "/bin/cat", Args: []string{"/proc/self/cgroup"}, Mode: mode, Stdout: out})
				if err := s.Wait(); err != nil {
					t.Fatalf("Wait() = %v", err)
				}
				var want []string
				switch m := s.mech.(type) {
				case *cgroupV1:
					want = []string{"freezer:/" + parentName + "/" + filepath.Base(m.freezer)}
					if m.memory != "" {
						want = append(want, "memory:/"+parentName+"/"+filepath.Base(m.memory))
					}
				case *cgroupV2:
					want = []string{"0::/" + parentName + "/" + filepath.Base(m.dir)}
					if m.limits != nil && m.limits.memory != "" {
						want = append(want, "memory:/"+parentName+"/"+filepath.Base(m.limits.memory))
					}
				}
				var got []string
				for len(out.c) > 0 {
					got = append(got, <-out.c)
				}
				for _, w := range want {
					found := false
					for _, line := range got {
						found = found || strings.HasSuffix(line, w)
					}
					if !found {
						t.Errorf("run %d: /proc/self/cgroup of the child = %q, want a line ending in %q", i, got, w)
					}
				}
			}
		})
	}
}

func TestMemoryCap(t *testing.T) {
	t.Parallel()
	for _, path := range limitPaths {
		t.Run(path.name, func(t *testing.T) {
			t.Parallel()
			tests := []struct {
				name    string
				size    string
				wantOOM bool
			}{
				{name: "over_cap", size: "300M", wantOOM: true},
				{name: "under_cap", size: "8M", wantOOM: false},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					// tail keeps the whole "line" of zeros in memory.
					s := startSandbox(t, Config{
						Path:     "/bin/sh",
						Args:     []string{"-c", "head -c " + tc.size + " /dev/zero | tail > /dev/null"},
						Mode:     path.mode,
						MemoryMB: 64,
					})
					skipUnlessLimitPath(t, s, path, "memory")
					err := s.Wait()
					st, _ := s.ExitState()
					t.Logf("exit state %s, peak %d MiB, Wait() = %v", st, st.PeakMemoryBytes>>20, err)
					if st.OOMKilled != tc.wantOOM {
						t.Errorf("ExitState().OOMKilled = %v, want %v", st.OOMKilled, tc.wantOOM)
					}
					if got := errors.Is(err, ErrOutOfMemory); got != tc.wantOOM {
						t.Errorf("errors.Is(Wait(), ErrOutOfMemory) = %v, want %v", got, tc.wantOOM)
					}
					if tc.wantOOM && !st.MemoryLimitHit {
						t.Error("ExitState().MemoryLimitHit = false after an OOM kill")
					}
					if !tc.wantOOM && err != nil {
						t.Errorf("Wait() = %v, want nil", err)
					}
					if st.PeakMemoryBytes <= 0 || st.PeakMemoryBytes > 64<<20 {
						t.Errorf("PeakMemoryBytes = %d, want in (0, 64 MiB]", st.PeakMemoryBytes)
					}
				})
			}
		})
	}
}

// TestPeakMemoryFollowsGrowth reads PeakMemory before and after the tree
// grows: the peak file, kept open after the first read, must give the new
// peak on every read.
func TestPeakMemoryFollowsGrowth(t *testing.T) {
	t.Parallel()
	for _, path := range limitPaths {
		t.Run(path.name, func(t *testing.T) {
			t.Parallel()
			out := newLines()
			// The tree grows once the test has read the peak and made
			// the file go; tail keeps the whole "line" of 24 MiB of zeros
			// in memory.
			goAhead := filepath.Join(t.TempDir(), "go")
			s := startSandbox(t, Config{
				Path: "/bin/sh",
				Args: []string{"-c", "echo ready; while [ ! -e " + goAhead + " ]; do sleep 0.01; done; " +
					"head -c 24M /dev/zero | tail > /dev/null; echo grown; sleep 60"},
				Mode:     path.mode,
				MemoryMB: 128,
				Stdout:   out,
			})
			skipUnlessLimitPath(t, s, path, "memory")
			if got := out.next(t); got != "ready" {
				t.Fatalf("first line %q, want ready", got)
			}
			before, err := s.PeakMemory()
			if err != nil {
				t.Fatalf("PeakMemory() before = %v", err)
			}
			if err := os.WriteFile(goAhead, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if got := out.next(t); got != "grown" {
				t.Fatalf("second line %q, want grown", got)
			}
			after, err := s.PeakMemory()
			if err != nil {
				t.Fatalf("PeakMemory() after = %v", err)
			}
			t.Logf("peak %d KiB before, %d KiB after", before>>10, after>>10)
			if after < before+16<<20 {
				t.Errorf("PeakMemory() = %d after a 24 MiB allocation, %d before: want at least 16 MiB more", after, before)
			}
		})
	}
}

func TestCPUQuota(t *testing.T) {
	t.Parallel()
	const share = 0.1
	for _, path := range limitPaths {
		t.Run(path.name, func(t *testing.T) {
			t.Parallel()
			s := startSandbox(t, Config{Path: "/bin/sh", Args: []string{"-c", busyLoop}, Mode: path.mode, CPUShareOfOneCore: share})
			skipUnlessLimitPath(t, s, path, "cpu")
			time.Sleep(200 * time.Millisecond) // let the first period's burst pass
			used := cpuUse(t, s, time.Second)
			t.Logf("%s: busy child at a %.2f share used %.3f of a core", path.name, share, used)
			if used > 0.2 {
				t.Errorf("CPU use = %.3f of a core, want <= 0.2 at a %.2f share", used, share)
			}
			if used == 0 {
				t.Error("CPU use = 0, want some")
			}
		})
	}
}

func TestKillFrozenTree(t *testing.T) {
	t.Parallel()
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			s, grandchild := startBusyTree(t, mode)
			dirs := cgroupDirs(s)
			if _, err := s.Freeze(); err != nil {
				t.Fatalf("Freeze() = %v", err)
			}
			if err := s.Kill(); err != nil {
				t.Fatalf("Kill() = %v", err)
			}
			assertGone(t, s.Pid(), grandchild)
			for _, d := range dirs {
				if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("cgroup %s exists after Kill", d)
				}
			}
			if err := s.Kill(); err != nil {
				t.Errorf("second Kill() = %v, want nil", err)
			}
			st, ok := s.ExitState()
			if !ok || !st.Killed || st.Signal.String() != "killed" {
				t.Errorf("ExitState() = %+v, %v; want killed by SIGKILL", st, ok)
			}
			if err := s.Wait(); !errors.Is(err, ErrKilled) {
				t.Errorf("Wait() = %v, want ErrKilled", err)
			}
			if _, err := s.Thaw(); !errors.Is(err, ErrKilled) {
				t.Errorf("Thaw() after Kill = %v, want ErrKilled", err)
			}
		})
	}
}

func TestKillConcurrentWithFreezeThaw(t *testing.T) {
	t.Parallel()
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			s, grandchild := startBusyTree(t, mode)
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() {
					for {
						if _, err := s.Freeze(); err != nil {
							if !errors.Is(err, ErrKilled) && !errors.Is(err, ErrExited) {
								t.Errorf("Freeze() = %v, want ErrKilled or ErrExited", err)
							}
							return
						}
						if _, err := s.Thaw(); err != nil {
							if !errors.Is(err, ErrKilled) && !errors.Is(err, ErrExited) {
								t.Errorf("Thaw() = %v, want ErrKilled or ErrExited", err)
							}
							return
						}
					}
				})
			}
			time.Sleep(50 * time.Millisecond)
			errs := make([]error, 3)
			for i := range errs {
				wg.Go(func() { errs[i] = s.Kill() })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("Kill() #%d = %v", i, err)
				}
			}
			assertGone(t, s.Pid(), grandchild)
		})
	}
}

func TestRootExitKillsRest(t *testing.T) {
	t.Parallel()
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			out := newLines()
			s := startSandbox(t, Config{
				Path:   "/bin/sh",
				Args:   []string{"-c", "sleep 600 & echo $!; exit 3"},
				Mode:   mode,
				Stdout: out,
			})
			grandchild := out.nextPid(t)
			dirs := cgroupDirs(s)
			select {
			case <-s.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("Done() not closed 10s after the root exited")
			}
			st, _ := s.ExitState()
			if st.Code != 3 || st.Signal != 0 || st.Killed || st.OOMKilled {
				t.Errorf("ExitState() = %+v, want exit status 3", st)
			}
			if err := s.Wait(); err == nil || errors.Is(err, ErrKilled) {
				t.Errorf("Wait() = %v, want an exit status 3 error", err)
			}
			assertGone(t, grandchild)
			for _, d := range dirs {
				if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("cgroup %s exists after the root exited", d)
				}
			}
			if _, err := s.Freeze(); !errors.Is(err, ErrExited) {
				t.Errorf("Freeze() after exit = %v, want ErrExited", err)
			}
		})
	}
}

func TestExitState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		script  string
		want    ExitState
		wantErr bool
	}{
		{name: "success", script: "exit 0", want: ExitState{Code: 0}},
		{name: "failure", script: "exit 7", want: ExitState{Code: 7}, wantErr: true},
		{name: "signal", script: "kill -TERM $$", want: ExitState{Code: -1, Signal: 15}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startSandbox(t, Config{Path: "/bin/sh", Args: []string{"-c", tc.script}})
			err := s.Wait()
			if (err != nil) != tc.wantErr {
				t.Errorf("Wait() = %v, want error %v", err, tc.wantErr)
			}
			st, ok := s.ExitState()
			st.PeakMemoryBytes, st.MemoryLimitHit = 0, false
			if !ok || st != tc.want {
				t.Errorf("ExitState() = %+v, %v; want %+v, true", st, ok, tc.want)
			}
		})
	}
}

func TestOutput(t *testing.T) {
	t.Parallel()
	out := newLines()
	s := startSandbox(t, Config{
		Path:   "/bin/sh",
		Args:   []string{"-c", "echo one; echo two >&2; echo three"},
		Stdout: out,
		Stderr: out,
	})
	if err := s.Wait(); err != nil {
		t.Fatalf("Wait() = %v", err)
	}
	for _, want := range []string{"one", "two", "three"} {
		if got := out.next(t); got != want {
			t.Errorf("output line = %q, want %q", got, want)
		}
	}
}

// TestCleanupStale runs its cases one after the other: each CleanupStale
// removes every stale sandbox, the other case's too.
func TestCleanupStale(t *testing.T) {
	t.Parallel()
	for _, mode := range []Mode{ModeCgroupV1, ModeCgroupV2} {
		t.Run(mode.String(), func(t *testing.T) {
			// A start time that does not match this process's: the owner
			// looks dead, as after a crash.
			dead := owner{pid: os.Getpid(), start: 1}
			stale := startOwned(t, Config{Path: "/bin/sh", Args: []string{"-c", busyLoop}, Mode: mode}, dead)
			staleDirs := cgroupDirs(stale)
			if _, err := stale.Freeze(); err != nil {
				t.Fatalf("Freeze() = %v", err)
			}
			live := startSandbox(t, Config{Path: "/bin/sh", Args: []string{"-c", busyLoop}, Mode: mode})

			// Only this process's pretend-dead owner: the public CleanupStale
			// would also remove those of test processes running alongside.
			if err := cleanupStale(testLogger(t), func(o owner) bool { return o == dead }); err != nil {
				t.Fatalf("cleanupStale() = %v", err)
			}
			select {
			case <-stale.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("stale sandbox still running after CleanupStale")
			}
			assertGone(t, stale.Pid())
			for _, d := range staleDirs {
				if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("stale cgroup %s exists after CleanupStale", d)
				}
			}
			for _, d := range cgroupDirs(live) {
				if _, err := os.Stat(d); err != nil {
					t.Errorf("live cgroup %s: %v", d, err)
				}
			}
			if _, err := live.Freeze(); err != nil {
				t.Errorf("Freeze() of the live sandbox after CleanupStale = %v", err)
			}
		})
	}
}

func TestStartErrorsLeaveNothing(t *testing.T) {
	t.Parallel()
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			name := testName(t)
			_, err := Start(context.Background(), Config{Path: "/nonexistent/bootstrap", Name: name, Mode: mode, Logger: testLogger(t)})
			if err == nil {
				t.Fatal("Start(/nonexistent/bootstrap) = nil error")
			}
			if errors.Is(err, ErrUnavailable) {
				t.Skip(err)
			}
			_, err = Start(context.Background(), Config{Path: "/bin/false", Dir: "/nonexistent", Name: name, Mode: mode, Logger: testLogger(t)})
			if err == nil {
				t.Fatal("Start with a missing Dir = nil error")
			}
			matches, _ := filepath.Glob("/sys/fs/cgroup/*/" + parentName + "/" + name + "@*")
			more, _ := filepath.Glob("/sys/fs/cgroup/" + parentName + "/" + name + "@*")
			if left := append(matches, more...); len(left) > 0 {
				t.Errorf("failed Start left cgroups %v", left)
			}
		})
	}
}

func TestNameInUse(t *testing.T) {
	t.Parallel()
	name := testName(t)
	first := startSandbox(t, Config{Path: "/bin/sleep", Args: []string{"60"}, Name: name, Mode: ModeCgroupV1})
	_, err := Start(context.Background(), Config{Path: "/bin/sleep", Args: []string{"60"}, Name: name, Mode: ModeCgroupV1})
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Start with name %q = %v, want a name-in-use error", name, err)
	}
	if _, err := first.Freeze(); err != nil {
		t.Errorf("Freeze() of the first sandbox = %v", err)
	}
}

func TestStartCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Start(ctx, Config{Path: "/bin/true"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Start(canceled ctx) = %v, want context.Canceled", err)
	}
}

func TestCleanName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"fn-1.v2_x", "fn-1.v2_x"},
		{"TestX/sub case", "TestX_sub_case"},
		{"a@b", "a_b"},
	}
	for _, tc := range tests {
		if got := cleanName(tc.in); got != tc.want {
			t.Errorf("cleanName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, in := range []string{"", ".", ".."} {
		if got := cleanName(in); !strings.HasPrefix(got, "sandbox-") {
			t.Errorf("cleanName(%q) = %q, want a generated name", in, got)
		}
	}
}

func TestParseOwner(t *testing.T) {
	tests := []struct {
		in     string
		want   owner
		wantOK bool
	}{
		{in: "fn@123-456", want: owner{123, 456}, wantOK: true},
		{in: "a-b@1-2", want: owner{1, 2}, wantOK: true},
		{in: "fn", wantOK: false},
		{in: "fn@x-1", wantOK: false},
		{in: "fn@12", wantOK: false},
	}
	for _, tc := range tests {
		got, ok := parseOwner(tc.in)
		if ok != tc.wantOK || (ok && got != tc.want) {
			t.Errorf("parseOwner(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
	if own := currentOwner(); !own.alive() {
		t.Errorf("currentOwner() = %+v is not alive", own)
	}
	if (owner{pid: os.Getpid(), start: 1}).alive() {
		t.Error("owner with a wrong start time reported alive")
	}
}

// TestSpawnerThreadReturnsHome checks that after a start that joins v1
// cgroups (v1, or v2 with v1 limits on a hybrid host) no thread of the
// supervisor is left in a sandbox cgroup. It is not parallel: another test's
// start would briefly put the spawner thread there.
func TestSpawnerThreadReturnsHome(t *testing.T) {
	for _, mode := range []Mode{ModeCgroupV1, ModeCgroupV2} {
		t.Run(mode.String(), func(t *testing.T) {
			startSandbox(t, Config{Path: "/bin/sleep", Args: []string{"60"}, Mode: mode, MemoryMB: 64, CPUShareOfOneCore: 0.5})
			assertNoThreadInSandbox(t)
		})
	}
}

// assertNoThreadInSandbox fails if a thread of this process is in a sandbox cgroup.
func assertNoThreadInSandbox(t *testing.T) {
	t.Helper()
	files, err := filepath.Glob("/proc/self/task/*/cgroup")
	if err != nil || len(files) == 0 {
		t.Fatalf("no threads listed: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // thread exited
		}
		if strings.Contains(string(data), "/"+parentName+"/") {
			t.Errorf("supervisor thread still in a sandbox cgroup: %s:\n%s", f, data)
		}
	}
}

// startBusyTree starts a busy shell with a busy grandchild in mode and returns
// the sandbox and the grandchild's pid.
func startBusyTree(t *testing.T, mode Mode) (*Sandbox, int) {
	t.Helper()
	out := newLines()
	s := startSandbox(t, Config{
		Path:   "/bin/sh",
		Args:   []string{"-c", "(" + busyLoop + ") & echo $!; " + busyLoop},
		Mode:   mode,
		Stdout: out,
	})
	return s, out.nextPid(t)
}
