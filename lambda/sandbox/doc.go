// Package sandbox is the process and resource layer of one Lambda execution
// environment: it starts a function's runtime process as the root of a
// process tree confined to its own cgroups, freezes and thaws the whole tree,
// caps its memory, limits its CPU, reports out-of-memory kills and removes
// everything it made when the tree is killed.
//
// # Mechanisms
//
// Start picks one of three mechanisms and logs which (see [Mode]):
//
//   - [ModeCgroupV1]: the v1 freezer, memory and cpu hierarchies
//     (/sys/fs/cgroup/freezer, /memory, /cpu). Freeze writes FROZEN to
//     freezer.state and waits until the kernel reports FROZEN.
//   - [ModeCgroupV2]: the unified hierarchy: cgroup.freeze, memory.max,
//     cpu.max; Freeze waits for "frozen 1" in cgroup.events. On a hybrid
//     machine (v1 controllers plus a cgroup2 mount such as
//     /sys/fs/cgroup/unified) the memory and cpu controllers are bound to v1
//     and cannot be enabled in v2, so the tree is also placed in v1 memory
//     and cpu cgroups: the v2 freezer freezes it while the v1 controllers cap
//     it. [ModeAuto] prefers this mode wherever a unified hierarchy is
//     writable: a v2 freeze or thaw is confirmed in microseconds, a v1 one in
//     milliseconds. [Sandbox.Modes] tells which hierarchy does what.
//   - [ModeSignal]: SIGSTOP and SIGCONT to the process group when no cgroup
//     hierarchy is writable. Freeze waits until every thread of every process
//     of the group is stopped. Memory cap and CPU quota are then unavailable
//     (logged as a warning, not an error), and a process that leaves the
//     process group (setsid, setpgid) escapes freezing.
//
// Every sandbox gets one directory per hierarchy under a shared parent named
// "thaw" at the hierarchy's root, for example
// /sys/fs/cgroup/freezer/thaw/NAME@PID-START. The suffix names the owning
// thaw process (pid and start time), so [CleanupStale] can remove what a
// crashed earlier run left behind without touching sandboxes of a thaw
// process that is still running. Creating cgroups at the hierarchy root needs
// root (or write access there).
//
// # Placement before the first instruction
//
// The runtime process is inside its cgroups before it executes a single
// instruction of its own:
//
//   - cgroup v2: the child is created directly in its cgroup by clone3 with
//     CLONE_INTO_CGROUP (syscall.SysProcAttr.CgroupFD). On kernels without it
//     (before 5.7) the pid is written to cgroup.procs right after the fork; the
//     runtime may then run briefly outside its cgroup, and a warning is logged.
//   - cgroup v1 has no such clone flag. Instead every child is forked from one
//     dedicated OS thread of the supervisor (the spawner, a goroutine locked to
//     its thread for the life of the process). Before forking, the spawner
//     writes its own thread id into the tasks file of the sandbox's freezer,
//     memory and cpu cgroups (on a hybrid machine, of its v1 memory and cpu
//     cgroups, while clone3 places the child in the v2 one), so the child
//     inherits them at fork; right after
//     the fork it moves itself back. Only that one thread of the supervisor
//     ever visits a sandbox cgroup, and only while no one can freeze it. A v1
//     memory cgroup charges a process's pages to the cgroup of its mm owner
//     (the main thread), so the supervisor's memory is never charged to the
//     sandbox.
//
// The dedicated spawner thread also makes syscall.SysProcAttr.Pdeathsig
// reliable: the kernel sends it when the forking thread exits, and the
// spawner thread lives as long as the supervisor. Every root process gets
// SIGKILL when the supervisor dies.
//
// # Process group and session
//
// The root process starts in its own session (Setsid), which also makes it
// the leader of its own process group: signals go to the whole group. The new
// session matters for SIGSTOP: a stopped process group that becomes orphaned
// is sent SIGHUP by the kernel, and with its own session the group is never
// connected to the supervisor's session, so that rule cannot fire. (Setpgid is
// not set as well: a session leader cannot change its process group.)
//
// # Never leaving a process frozen
//
// [Sandbox.Kill] is idempotent and safe to call concurrently with
// [Sandbox.Freeze] and [Sandbox.Thaw]: it kills every process of the tree,
// thaws it so the kills take effect (a frozen process cannot die of SIGKILL
// under the v1 freezer), waits until the cgroups are empty and removes them.
// When the root process exits by itself, the rest of its tree is killed and
// the cgroups are removed the same way. A supervisor that calls Kill on every
// sandbox before it exits (on SIGINT and SIGTERM too), and [CleanupStale]
// when it starts, never leaves a frozen process behind.
//
// If the supervisor itself is killed (SIGKILL, a crash), each root process
// gets its Pdeathsig (SIGKILL) at once, and what remains depends on the
// mechanism:
//
//   - cgroup v2: the root dies even if frozen; its descendants stay, frozen or
//     running, in their cgroup until the next CleanupStale.
//   - cgroup v1: a frozen root cannot act on the SIGKILL until thawed; the
//     tree stays frozen until the next CleanupStale, which thaws and kills it.
//   - signals: the root dies; descendants stay stopped and this package
//     cannot find them later. A supervisor that records the process group
//     (the root's pid) and the root's start time can: package lambda does,
//     in its runtime directory. Use cgroups where that matters.
package sandbox
