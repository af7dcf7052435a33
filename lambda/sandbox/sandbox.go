package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Errors returned by a Sandbox; match them with errors.Is.
var (
	// ErrExited means the root process has exited, so the tree can no longer
	// be frozen or thawed.
	ErrExited = errors.New("sandbox: process tree has exited")
	// ErrKilled means Kill was called.
	ErrKilled = errors.New("sandbox: killed")
	// ErrOutOfMemory means the kernel's OOM killer ended a process of the
	// tree because the tree reached Config.MemoryMB.
	ErrOutOfMemory = errors.New("sandbox: out of memory")
	// ErrTimeout means the kernel did not confirm a freeze, thaw or kill in
	// time (a process stuck in uninterruptible sleep can cause it).
	ErrTimeout = errors.New("sandbox: timed out")
	// ErrUnavailable means the requested mechanism (Config.Mode) or
	// measurement is not available on this machine.
	ErrUnavailable = errors.New("sandbox: unavailable")
)

// Bounds on waiting for the kernel. They are far above what a healthy kernel
// needs (microseconds to milliseconds) and only stop a stuck call from
// hanging the supervisor.
const (
	freezeTimeout = 5 * time.Second
	thawTimeout   = 5 * time.Second
	// killTimeout bounds Kill's wait for the root process to die and the
	// cgroups to be removed.
	killTimeout = 10 * time.Second
	// emptyTimeout bounds the wait for the cgroups to become empty after
	// every process got SIGKILL.
	emptyTimeout = 5 * time.Second
	// outputGrace bounds the wait for the output pipes to drain once the
	// tree is dead; a writer that escaped the tree cannot hold Kill longer.
	outputGrace = 2 * time.Second
)

// Mode is the mechanism a sandbox uses to freeze its process tree.
type Mode int

const (
	// ModeAuto picks the cheapest faithful mechanism available: cgroup v2
	// wherever a writable unified hierarchy is mounted (on a hybrid machine
	// combined with the v1 memory and cpu hierarchies for the limits), else
	// cgroup v1, else signals. It is the zero value.
	ModeAuto Mode = iota
	// ModeCgroupV1 uses the v1 freezer, memory and cpu hierarchies.
	ModeCgroupV1
	// ModeCgroupV2 freezes with cgroup.freeze of the unified hierarchy and
	// caps with its memory.max and cpu.max. On a hybrid machine, whose memory
	// and cpu controllers are bound to v1, the caps come from the v1 memory
	// and cpu hierarchies instead; Sandbox.Modes tells which.
	ModeCgroupV2
	// ModeSignal sends SIGSTOP and SIGCONT to the process group. No memory
	// cap, no CPU quota.
	ModeSignal
)

// String returns the name used in logs: auto, cgroup-v1, cgroup-v2, signal.
func (m Mode) String() string {
	switch m {
	case ModeAuto:
		return "auto"
	case ModeCgroupV1:
		return "cgroup-v1"
	case ModeCgroupV2:
		return "cgroup-v2"
	case ModeSignal:
		return "signal"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Modes says which mechanism does each of a sandbox's jobs.
type Modes struct {
	// Freeze is ModeCgroupV1, ModeCgroupV2 or ModeSignal.
	Freeze Mode
	// Memory is the hierarchy of the memory cgroup that caps and measures
	// the tree: ModeCgroupV1 or ModeCgroupV2, or ModeSignal when there is
	// none (no cap, no peak).
	Memory Mode
	// CPU is the hierarchy of the cpu cgroup that applies the quota, or
	// ModeSignal when there is none (no quota asked for, or unavailable).
	CPU Mode
}

// String returns "freeze=cgroup-v2 memory=cgroup-v1 cpu=none".
func (m Modes) String() string {
	limit := func(l Mode) string {
		if l == ModeSignal || l == ModeAuto {
			return "none"
		}
		return l.String()
	}
	return fmt.Sprintf("freeze=%v memory=%s cpu=%s", m.Freeze, limit(m.Memory), limit(m.CPU))
}

// Config describes the runtime process of a sandbox and its limits.
type Config struct {
	// Path is the program to run, e.g. /var/task/bootstrap or /usr/bin/node.
	// A name without a slash is looked up in the supervisor's PATH. Required.
	Path string
	// Args are the arguments after the program name (argv[1:]).
	Args []string
	// Dir is the working directory; empty means the supervisor's.
	Dir string
	// Env is the complete environment of the process; nil means the
	// supervisor's environment (as in os/exec).
	Env []string
	// Stdout and Stderr receive the tree's output; nil discards it. When both
	// are the same writer, one pipe feeds it, so it is never written to
	// concurrently and lines keep their order. Output is copied until every
	// process of the tree has exited; Wait and Kill return after that.
	Stdout, Stderr io.Writer
	// MemoryMB caps the memory of the whole tree in MiB (memory.limit_in_bytes
	// or memory.max, swap disallowed). Reaching it lets the kernel's OOM
	// killer end a process of the tree, which ExitState reports. 0, the
	// default, means no cap. Unavailable in ModeSignal (a warning is logged).
	MemoryMB int
	// CPUShareOfOneCore is the CPU time the whole tree may use per unit of
	// wall time, as a fraction of one core: 0.1 is 10 ms every 100 ms, 2 is
	// two full cores. Lambda gives MemoryMB/1769. 0, the default, means no
	// quota. Values below 0.01 are raised to 0.01 (the kernel's minimum quota
	// of 1 ms per 100 ms period). Unavailable in ModeSignal.
	CPUShareOfOneCore float64
	// StartCPUUncapped starts the tree without the quota CPUShareOfOneCore
	// asks for: its cpu cgroup is made, but left uncapped until
	// [Sandbox.SetCPUShare] applies a share. Lambda gives managed runtimes
	// burst CPU during the Init phase and the memory-proportional share
	// after it. It has no effect when CPUShareOfOneCore is 0 (no cpu cgroup
	// is made) or in ModeSignal. False, the default, applies the quota from
	// the start.
	StartCPUUncapped bool
	// Name identifies the sandbox in cgroup directory names and logs. Only
	// letters, digits, '.', '_' and '-' are kept; others become '_'. It must
	// be unique among the running sandboxes of one supervisor; empty means a
	// random name.
	Name string
	// Mode forces a mechanism. ModeAuto, the default, picks the best one and
	// falls back to ModeSignal with a warning; a forced cgroup mode that is
	// not available makes Start fail with ErrUnavailable.
	Mode Mode
	// Logger receives the line saying which mechanism is in use, warnings
	// about unavailable limits, and cleanup problems. nil discards them.
	Logger *slog.Logger
}

// ExitState describes how a sandbox's process tree ended.
type ExitState struct {
	// Code is the exit status of the root process, or -1 if a signal ended it.
	Code int
	// Signal is the signal that ended the root process, 0 if it exited.
	Signal syscall.Signal
	// OOMKilled reports that the kernel's OOM killer ended at least one
	// process of the tree because the tree reached Config.MemoryMB (cgroup
	// memory.oom_control or memory.events oom_kill). The victim need not be
	// the root: a shell whose child was killed may exit with status 137.
	OOMKilled bool
	// MemoryLimitHit reports that the tree reached Config.MemoryMB at least
	// once (memory.failcnt or memory.events max), even if reclaiming memory
	// avoided a kill.
	MemoryLimitHit bool
	// Killed reports that Kill was called while the root process was running.
	Killed bool
	// PeakMemoryBytes is the highest memory use of the tree seen by its
	// memory cgroup, 0 when unknown (ModeSignal, or no memory controller).
	PeakMemoryBytes int64
}

// String describes the state as in "exit status 2" or "signal: killed, out
// of memory".
func (e ExitState) String() string {
	var b strings.Builder
	if e.Signal != 0 {
		fmt.Fprintf(&b, "signal: %v", e.Signal)
	} else {
		fmt.Fprintf(&b, "exit status %d", e.Code)
	}
	if e.OOMKilled {
		b.WriteString(", out of memory")
	}
	if e.Killed {
		b.WriteString(", killed by supervisor")
	}
	return b.String()
}

// mechanism freezes, thaws and kills one process tree. Its methods are called
// with Sandbox.mu held, or after the root process has exited (then only by
// the waiter), never concurrently.
type mechanism interface {
	// freeze stops every process of the tree and returns once the kernel
	// confirms it, or with ErrKilled as soon as abort is closed.
	freeze(abort <-chan struct{}) error
	// thaw resumes the tree and returns once the kernel confirms it.
	thaw() error
	// killTree sends SIGKILL to every process of the tree and leaves none of
	// them frozen or stopped, so the kills take effect.
	killTree() error
	// waitEmpty waits until no live process is left in the tree.
	waitEmpty(timeout time.Duration) error
	// memoryEvents reports OOM kills, whether the cap was reached and the
	// peak memory use; zero values when unknown.
	memoryEvents() (oomKilled, limitHit bool, peak int64)
	// peakMemory is the highest memory use of the tree so far.
	peakMemory() (int64, error)
	// setCPUShare sets the tree's CPU quota to share of one core, 0 for
	// none; it wraps ErrUnavailable without a cpu cgroup.
	setCPUShare(share float64) error
	// remove closes what the mechanism holds open and removes its cgroups.
	remove() error
	// describe names the cgroup directories for logs.
	describe() string
	// removed reports whether every cgroup of the tree is gone, so nothing
	// of it can be left (a cgroup holding processes cannot be removed).
	removed() bool
}

// Sandbox is one running process tree. Its methods are safe for concurrent
// use.
type Sandbox struct {
	name   string
	modes  Modes
	pid    int
	logger *slog.Logger
	mech   mechanism
	cmd    *exec.Cmd

	outputs []*os.File      // read ends of the output pipes
	copiers []*outputCopier // copy each output pipe to its writer; set before Start returns
	copied  chan struct{}   // closed when every output copy has finished

	killc    chan struct{} // closed by the first Kill, aborts a pending Freeze
	killOnce sync.Once
	done     chan struct{} // closed when the tree is dead and cleaned up

	mu     sync.Mutex // guards frozen, exited, killed and every use of mech until exited is set
	frozen bool
	exited bool
	killed bool

	// Written by the waiter before done is closed, read only after it.
	exit       ExitState
	cleanupErr error
}

// Start starts cfg.Path as the root of a new process tree in its own session
// and process group, confined to fresh cgroups. ctx bounds only the start:
// cancelling it later does not affect the sandbox, whose tree lives until it
// exits or Kill is called. On error nothing is left behind.
func Start(ctx context.Context, cfg Config) (*Sandbox, error) {
	return start(ctx, cfg, currentOwner())
}

// start is Start with the owner recorded in cgroup names made explicit, so
// tests can make sandboxes that look left over by a dead supervisor.
func start(ctx context.Context, cfg Config, own owner) (*Sandbox, error) {
	if err := checkConfig(ctx, cfg); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	name := cleanName(cfg.Name)
	cmd, err := newCommand(cfg, name)
	if err != nil {
		return nil, err
	}
	s := &Sandbox{
		name:   name,
		logger: logger,
		cmd:    cmd,
		copied: make(chan struct{}),
		killc:  make(chan struct{}),
		done:   make(chan struct{}),
	}
	cgroups, err := setupCgroups(&cfg, name+own.suffix(), logger)
	if err != nil {
		return nil, err
	}
	childEnds, err := s.setupOutput(&cfg)
	if err != nil {
		if cgroups != nil {
			err = errors.Join(err, cgroups.remove())
		}
		return nil, err
	}
	if err := s.spawnRoot(cgroups, childEnds); err != nil {
		return nil, err
	}
	s.supervise(&cfg)
	return s, nil
}

// checkConfig refuses a Config that cannot start, and a ctx already done.
func checkConfig(ctx context.Context, cfg Config) error {
	if cfg.Path == "" {
		return errors.New("sandbox: Config.Path is empty")
	}
	if cfg.MemoryMB < 0 {
		return fmt.Errorf("sandbox: Config.MemoryMB is %d, want >= 0", cfg.MemoryMB)
	}
	if cfg.CPUShareOfOneCore < 0 {
		return fmt.Errorf("sandbox: Config.CPUShareOfOneCore is %v, want >= 0", cfg.CPUShareOfOneCore)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sandbox: start: %w", err)
	}
	return nil
}

// newCommand prepares the root process of sandbox name: its own session,
// hence its own process group, and SIGKILL when the supervisor dies.
func newCommand(cfg Config, name string) (*exec.Cmd, error) {
	cmd := exec.Command(cfg.Path, cfg.Args...)
	if cmd.Err != nil {
		return nil, fmt.Errorf("sandbox: start %s: %w", name, cmd.Err)
	}
	cmd.Dir = cfg.Dir
	cmd.Env = cfg.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Own session, hence own process group led by the root process.
		Setsid: true,
		// Sent when the spawner thread dies, that is when the supervisor dies.
		Pdeathsig: syscall.SIGKILL,
	}
	return cmd, nil
}

// spawnRoot starts s.cmd inside cgroups (nil: none, the sandbox uses
// signals) and records the modes, the freezing mechanism and the pid. It
// closes the child's ends of the output pipes, childEnds, either way; on
// error it also closes the sandbox's ends and removes the cgroups.
func (s *Sandbox) spawnRoot(cgroups *cgroupSetup, childEnds []*os.File) error {
	var joins []joinDir
	var dirFD *os.File
	s.modes = Modes{Freeze: ModeSignal, Memory: ModeSignal, CPU: ModeSignal}
	if cgroups != nil {
		s.modes = cgroups.modes
		s.mech = cgroups.mech
		joins = cgroups.joins
		dirFD = cgroups.dirFD
	}
	err := s.spawnIntoCgroup(joins, dirFD, cgroups)
	if dirFD != nil {
		_ = dirFD.Close()
	}
	for _, f := range childEnds {
		_ = f.Close()
	}
	if err != nil {
		for _, f := range s.outputs {
			_ = f.Close()
		}
		if cgroups != nil {
			err = errors.Join(err, cgroups.remove())
		}
		return fmt.Errorf("sandbox: start %s: %w", s.name, err)
	}
	s.pid = s.cmd.Process.Pid
	if s.mech == nil {
		s.mech = &processGroup{pgid: s.pid}
	}
	return nil
}

// spawnIntoCgroup starts s.cmd from the spawner thread, inside the v1
// cgroups joins and, with dirFD, cloned straight into that v2 cgroup. A
// kernel that cannot clone into a cgroup (before 5.7) gets a second start
// that moves the process into cgroups' v2 cgroup right after the fork.
func (s *Sandbox) spawnIntoCgroup(joins []joinDir, dirFD *os.File, cgroups *cgroupSetup) error {
	cmd := s.cmd
	if dirFD != nil {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(dirFD.Fd())
	}
	err := spawn(cmd, joins)
	if err != nil && dirFD != nil && clone3Unsupported(err) {
		// Kernel before 5.7: no CLONE_INTO_CGROUP. Place the process right
		// after the fork instead.
		cmd = s.retryCommand(cmd)
		err = spawn(cmd, joins)
		if err == nil {
			s.logger.Warn("sandbox: kernel cannot clone into a cgroup; moved the process in after it started, it ran briefly outside its cgroup",
				"sandbox", s.name, "pid", cmd.Process.Pid)
			if perr := cgroups.v2.addProcess(cmd.Process.Pid); perr != nil {
				err = perr
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			}
		}
	}
	return err
}

// supervise starts copying the tree's output and waiting for its exit, and
// logs the start.
func (s *Sandbox) supervise(cfg *Config) {
	s.startCopies(cfg)
	go s.waitExit()

	s.logger.Info("sandbox started",
		"sandbox", s.name, "pid", s.pid, "mode", s.modes.Freeze.String(), "modes", s.modes.String(),
		"cgroups", s.mech.describe(), "memory_mb", cfg.MemoryMB, "cpu_share", cfg.CPUShareOfOneCore,
		"cpu_uncapped_until_set", cfg.StartCPUUncapped && cfg.CPUShareOfOneCore > 0)
}

// retryCommand copies cmd for a second start attempt without CLONE_INTO_CGROUP.
func (s *Sandbox) retryCommand(old *exec.Cmd) *exec.Cmd {
	cmd := exec.Command(old.Path, old.Args[1:]...)
	cmd.Dir, cmd.Env = old.Dir, old.Env
	cmd.Stdout, cmd.Stderr = old.Stdout, old.Stderr
	attr := *old.SysProcAttr
	attr.UseCgroupFD, attr.CgroupFD = false, 0
	cmd.SysProcAttr = &attr
	s.cmd = cmd
	return cmd
}

// clone3Unsupported reports whether a start failed because the kernel has no
// clone3 or no CLONE_INTO_CGROUP.
func clone3Unsupported(err error) bool {
	return errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EINVAL)
}

// setupOutput creates the pipes for cfg's writers, sets them on s.cmd and
// returns the child's ends, which the caller closes after the start.
func (s *Sandbox) setupOutput(cfg *Config) ([]*os.File, error) {
	var childEnds []*os.File
	attach := func(w io.Writer) (*os.File, error) {
		if w == nil {
			return nil, nil
		}
		if f, ok := w.(*os.File); ok {
			return f, nil
		}
		r, cw, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("sandbox: output pipe: %w", err)
		}
		s.outputs = append(s.outputs, r)
		childEnds = append(childEnds, cw)
		return cw, nil
	}
	out, err := attach(cfg.Stdout)
	if err != nil {
		return nil, err
	}
	s.cmd.Stdout = out
	if sameWriter(cfg.Stdout, cfg.Stderr) {
		s.cmd.Stderr = out
		return childEnds, nil
	}
	errFile, err := attach(cfg.Stderr)
	if err != nil {
		for _, f := range append(childEnds, s.outputs...) {
			_ = f.Close()
		}
		s.outputs = nil
		return nil, err
	}
	s.cmd.Stderr = errFile
	return childEnds, nil
}

// sameWriter reports whether a and b are the same non-nil writer, without
// panicking on writers whose dynamic type is not comparable.
func sameWriter(a, b io.Writer) (same bool) {
	if a == nil || b == nil {
		return false
	}
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

// startCopies copies each output pipe to its writer.
func (s *Sandbox) startCopies(cfg *Config) {
	writers := []io.Writer{}
	if _, ok := cfg.Stdout.(*os.File); !ok && cfg.Stdout != nil {
		writers = append(writers, cfg.Stdout)
	}
	if _, ok := cfg.Stderr.(*os.File); !ok && cfg.Stderr != nil && !sameWriter(cfg.Stdout, cfg.Stderr) {
		writers = append(writers, cfg.Stderr)
	}
	var wg sync.WaitGroup
	s.copiers = make([]*outputCopier, len(s.outputs))
	for i, r := range s.outputs {
		c := &outputCopier{r: r, w: writers[i]}
		s.copiers[i] = c
		wg.Go(c.run)
	}
	go func() {
		wg.Wait()
		close(s.copied)
	}()
}

// waitExit runs for the life of the sandbox: it waits for the root process
// to exit, kills what is left of the tree, removes the cgroups, reaps the
// root and records the exit state.
func (s *Sandbox) waitExit() {
	// Wait without reaping: while the root is a zombie its pid, which is also
	// the process group id, cannot be reused, so signalling the group below
	// can only reach this tree.
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, s.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}

	s.mu.Lock()
	s.exited = true
	s.frozen = false
	killed := s.killed
	s.mu.Unlock()

	// From here on only this goroutine uses s.mech.
	oomKilled, limitHit, peak := s.mech.memoryEvents()
	var errs []error
	if err := s.mech.killTree(); err != nil {
		errs = append(errs, err)
	}
	if err := s.mech.waitEmpty(emptyTimeout); err != nil {
		errs = append(errs, err)
	}
	if err := s.mech.remove(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 && s.mech.removed() {
		// Someone else (CleanupStale of another supervisor, an operator)
		// removed the cgroups under us: the errors are about files that are
		// gone, and nothing is left behind.
		errs = nil
	}
	_ = s.cmd.Wait() // reaps; the status is read from ProcessState below
	s.drainOutput()

	st := ExitState{
		Code:            -1,
		OOMKilled:       oomKilled,
		MemoryLimitHit:  limitHit,
		Killed:          killed,
		PeakMemoryBytes: peak,
	}
	if ps := s.cmd.ProcessState; ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			st.Signal = ws.Signal()
		} else {
			st.Code = ps.ExitCode()
		}
	}
	s.exit = st
	s.cleanupErr = errors.Join(errs...)
	if s.cleanupErr != nil {
		s.logger.Warn("sandbox: cleanup incomplete", "sandbox", s.name, "pid", s.pid, "err", s.cleanupErr)
	}
	s.logger.Debug("sandbox exited", "sandbox", s.name, "pid", s.pid, "state", st.String())
	close(s.done)
}

// drainOutput waits for the output copies to finish, at most outputGrace,
// then closes the pipes so that no copy outlives the sandbox.
func (s *Sandbox) drainOutput() {
	t := time.NewTimer(outputGrace)
	defer t.Stop()
	select {
	case <-s.copied:
	case <-t.C:
		s.logger.Warn("sandbox: output still open after the tree died; a process escaped it", "sandbox", s.name)
	}
	for _, f := range s.outputs {
		_ = f.Close()
	}
	<-s.copied
}

// Pid returns the process id of the root process, which is also the id of
// its process group and session.
func (s *Sandbox) Pid() int { return s.pid }

// Name returns the sandbox's cleaned name.
func (s *Sandbox) Name() string { return s.name }

// Mode returns the freeze mechanism in use: ModeCgroupV1, ModeCgroupV2 or
// ModeSignal, never ModeAuto.
func (s *Sandbox) Mode() Mode { return s.modes.Freeze }

// Modes returns the mechanisms in use for freezing, the memory cgroup and
// the CPU quota. On a hybrid machine ModeAuto gives freeze=cgroup-v2 with
// memory and CPU in cgroup v1.
func (s *Sandbox) Modes() Modes { return s.modes }

// Freeze stops every process of the tree and returns how long the kernel took
// to confirm it: until the cgroup reports FROZEN (v1) or frozen 1 (v2), or
// until every thread of every process of the group is stopped (signals).
// Freezing a frozen sandbox returns 0 and no error. If the freeze cannot be
// confirmed within a few seconds, the tree is thawed again and the error
// wraps ErrTimeout: a failed Freeze never leaves the tree half frozen. After
// Kill or exit it returns ErrKilled or ErrExited.
func (s *Sandbox) Freeze() (time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usableLocked(); err != nil {
		return 0, err
	}
	if s.frozen {
		return 0, nil
	}
	begin := time.Now()
	if err := s.mech.freeze(s.killc); err != nil {
		if terr := s.mech.thaw(); terr != nil {
			err = errors.Join(err, terr)
		}
		return 0, fmt.Errorf("sandbox: freeze %s: %w", s.name, err)
	}
	s.frozen = true
	return time.Since(begin), nil
}

// Thaw resumes a frozen tree and returns how long the kernel took to confirm
// it. Thawing a running sandbox returns 0 and no error.
func (s *Sandbox) Thaw() (time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usableLocked(); err != nil {
		return 0, err
	}
	if !s.frozen {
		return 0, nil
	}
	begin := time.Now()
	if err := s.mech.thaw(); err != nil {
		return 0, fmt.Errorf("sandbox: thaw %s: %w", s.name, err)
	}
	s.frozen = false
	return time.Since(begin), nil
}

// Frozen reports whether the tree is frozen.
func (s *Sandbox) Frozen() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.frozen
}

// usableLocked returns why the tree cannot be frozen or thawed, if it cannot.
// The caller holds s.mu.
func (s *Sandbox) usableLocked() error {
	switch {
	case s.killed:
		return ErrKilled
	case s.exited:
		return ErrExited
	}
	return nil
}

// PeakMemory returns the highest memory use of the tree so far in bytes, as
// the memory cgroup records it (for Lambda's "Max Memory Used"). It wraps
// ErrUnavailable in ModeSignal or without a memory controller.
func (s *Sandbox) PeakMemory() (int64, error) {
	s.mu.Lock()
	if !s.exited {
		defer s.mu.Unlock()
		return s.mech.peakMemory()
	}
	s.mu.Unlock()
	<-s.done
	if s.exit.PeakMemoryBytes == 0 {
		return 0, fmt.Errorf("sandbox: peak memory of %s: %w", s.name, ErrUnavailable)
	}
	return s.exit.PeakMemoryBytes, nil
}

// SetCPUShare changes the CPU quota of the running tree to share of one core,
// rounded as Config.CPUShareOfOneCore is; 0 removes the quota. It applies
// the quota of a sandbox started with Config.StartCPUUncapped, and works
// whether the tree is frozen or not. It wraps ErrUnavailable when the
// sandbox has no cpu cgroup (ModeSignal, Config.CPUShareOfOneCore 0, or no
// cpu controller: see [Sandbox.Modes]), and returns ErrKilled or ErrExited
// after Kill or exit.
func (s *Sandbox) SetCPUShare(share float64) error {
	if share < 0 {
		return fmt.Errorf("sandbox: CPU share of %s is %v, want >= 0", s.name, share)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usableLocked(); err != nil {
		return err
	}
	if err := s.mech.setCPUShare(share); err != nil {
		return fmt.Errorf("sandbox: set CPU share of %s: %w", s.name, err)
	}
	s.logger.Debug("sandbox: CPU share set", "sandbox", s.name, "cpu_share", share, "uncapped", share == 0)
	return nil
}

// Kill kills every process of the tree, thawing it first if frozen, waits
// until all are dead, removes the sandbox's cgroups and returns once output
// copying has finished. It is idempotent and safe to call concurrently with
// Freeze, Thaw and itself; every call returns the same outcome. Call it also
// after the process exited by itself: it then only waits for the cleanup.
func (s *Sandbox) Kill() error {
	s.killOnce.Do(func() { close(s.killc) })
	s.mu.Lock()
	if !s.exited && !s.killed {
		s.killed = true
		s.frozen = false
		if err := s.mech.killTree(); err != nil {
			// Not fatal yet: once the root dies the waiter kills the whole
			// tree again and reports what it could not clean up.
			s.logger.Warn("sandbox: kill incomplete", "sandbox", s.name, "pid", s.pid, "err", err)
		}
	}
	s.mu.Unlock()

	t := time.NewTimer(killTimeout)
	defer t.Stop()
	select {
	case <-s.done:
		return s.cleanupErr
	case <-t.C:
		return fmt.Errorf("sandbox: kill %s: root process %d alive after %v: %w", s.name, s.pid, killTimeout, ErrTimeout)
	}
}

// Done returns a channel closed when the root process has exited and the
// sandbox has killed the rest of its tree and removed its cgroups.
func (s *Sandbox) Done() <-chan struct{} { return s.done }

// Wait waits for Done and returns nil if the root process exited with status
// 0. Otherwise the error wraps ErrOutOfMemory when the OOM killer ended a
// process of the tree, or ErrKilled when Kill ended it.
func (s *Sandbox) Wait() error {
	<-s.done
	st := s.exit
	switch {
	case st.OOMKilled:
		return fmt.Errorf("sandbox: %s: %s: %w", s.name, st, ErrOutOfMemory)
	case st.Killed:
		return fmt.Errorf("sandbox: %s: %s: %w", s.name, st, ErrKilled)
	case st.Signal != 0 || st.Code != 0:
		return fmt.Errorf("sandbox: %s: %s", s.name, st)
	}
	return nil
}

// ExitState returns how the tree ended, and false while it is still running.
func (s *Sandbox) ExitState() (ExitState, bool) {
	select {
	case <-s.done:
		return s.exit, true
	default:
		return ExitState{}, false
	}
}

// cleanName keeps the characters that are safe in a cgroup directory name and
// invents a name when none is left.
func cleanName(name string) string {
	const maxLen = 100
	var b strings.Builder
	for _, r := range name {
		if b.Len() >= maxLen {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := b.String()
	if strings.Trim(out, ".") == "" {
		var buf [6]byte
		_, _ = rand.Read(buf[:])
		out = "sandbox-" + hex.EncodeToString(buf[:])
	}
	return out
}
