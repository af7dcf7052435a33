package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// unprivilegedEnv makes the test binary start one ModeAuto sandbox, print
// the mode it got and exit; see TestAutoFallsBackToSignals.
const unprivilegedEnv = "SANDBOX_TEST_UNPRIVILEGED_HELPER"

// runUnprivilegedHelper starts a sandbox with a memory cap and a CPU quota,
// logging to stderr, freezes and thaws it, and prints its mode.
func runUnprivilegedHelper() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	s, err := Start(context.Background(), Config{
		Path: "/bin/sleep", Args: []string{"60"},
		MemoryMB: 128, CPUShareOfOneCore: 128.0 / 1769,
		Name: "unprivileged", Logger: logger,
	})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	_, ferr := s.Freeze()
	_, terr := s.Thaw()
	kerr := s.Kill()
	fmt.Println("mode", s.Mode(), ferr, terr, kerr)
	os.Exit(0)
}

// TestAutoFallsBackToSignals runs a supervisor as an unprivileged user, who
// cannot create cgroups here: ModeAuto must fall back to signals, warn that
// the limits are unavailable, and still freeze, thaw and kill.
func TestAutoFallsBackToSignals(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a helper as user nobody")
	}
	// The test binary's own directory is private; copy it where nobody can run it.
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "sandbox.test")
	if err := copyFile(os.Args[0], bin); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	for attempt := 0; ; attempt++ {
		stdout.Reset()
		stderr.Reset()
		helper := exec.Command(bin, "-test.run=^$")
		helper.Env = append(os.Environ(), unprivilegedEnv+"=1")
		helper.Dir = dir
		helper.Stdout, helper.Stderr = &stdout, &stderr
		helper.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		err := helper.Run()
		if errors.Is(err, syscall.ETXTBSY) && attempt < 50 {
			// A fork by a parallel test inherited our write descriptor of
			// the copy for a moment (golang.org/issue/22315).
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("helper: %v\nstdout: %s\nstderr: %s", err, &stdout, &stderr)
		}
		break
	}
	t.Logf("helper log:\n%s", &stderr)
	if got, want := strings.TrimSpace(stdout.String()), "mode signal <nil> <nil> <nil>"; got != want {
		t.Errorf("unprivileged helper printed %q, want %q", got, want)
	}
	for _, want := range []string{"no writable cgroup hierarchy", "memory cap and CPU quota unavailable", "mode=signal"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("helper log lacks %q", want)
		}
	}
}

// copyFile copies an executable.
func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func TestAutoOrder(t *testing.T) {
	tests := []struct {
		name string
		h    hierarchies
		want Mode
	}{
		{name: "v1 only", h: hierarchies{v1: map[string]mount{"freezer": {dir: "/x"}}}, want: ModeCgroupV1},
		{name: "v2 only", h: hierarchies{v1: map[string]mount{}, v2: &mount{dir: "/nonexistent"}}, want: ModeCgroupV2},
		// The v2 freezer, with the v1 memory and cpu hierarchies for limits.
		{name: "hybrid without v2 controllers", h: hierarchies{v1: map[string]mount{"freezer": {dir: "/x"}}, v2: &mount{dir: "/nonexistent"}}, want: ModeCgroupV2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.h.autoOrder()[0]; got != tc.want {
				t.Errorf("autoOrder()[0] = %v, want %v", got, tc.want)
			}
		})
	}
}
