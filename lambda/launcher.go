package lambda

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/thaw-dev/thaw/lambda/sandbox"
)

// extensionExecutables lists the executable regular files in dir, sorted by
// name, as Lambda starts those in /opt/extensions.
func extensionExecutables(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("lambda: extensions: %w", err)
	}
	var paths []string
	for _, entry := range entries {
		path := filepath.Join(dir, entry.Name())
		info, err := os.Stat(path)
		if err != nil || !info.Mode().IsRegular() || info.Mode()&0o111 == 0 {
			continue
		}
		paths = append(paths, path)
	}
	sort.Strings(paths)
	return paths, nil
}

// extensionLauncher is the shell script that is the sandbox's root process
// when a function has external extensions. It starts each extension in the
// background and records its pid, then runs the runtime as its child and
// stays the root, so that the runtime's exit does not end the tree: it
// forwards SIGTERM to the runtime, and when the runtime exits it writes the
// runtime's wait status (as sh reports it: 128+N for signal N) as one line to
// the status FIFO and then sleeps until it is killed, leaving the emulator to
// shut the extensions down. Every process shares the sandbox's cgroups and
// process group. Arguments: PIDFILE STATUSFIFO N EXT1..EXTN RUNTIME ARGS...
const extensionLauncher = `pidfile=$1; status=$2; n=$3; shift 3
while [ "$n" -gt 0 ]; do "$1" & echo $! >>"$pidfile"; shift; n=$((n-1)); done
"$@" &
rpid=$!
trap 'kill -TERM "$rpid" 2>/dev/null' TERM
wait "$rpid"; code=$?
while kill -0 "$rpid" 2>/dev/null; do wait "$rpid"; code=$?; done
echo "$code" >"$status"
trap - TERM
exec sleep 2147483647`

// launcherCommand wraps the runtime command path/args in extensionLauncher.
func launcherCommand(extensions []string, pidFile, statusFIFO, path string, args []string) (string, []string) {
	all := []string{"-c", extensionLauncher, "thaw-extensions", pidFile, statusFIFO, strconv.Itoa(len(extensions))}
	all = append(all, extensions...)
	all = append(all, path)
	return "/bin/sh", append(all, args...)
}

// openStatusFIFO creates the FIFO at path through which the launcher reports
// the runtime's exit, and opens it. It is opened for reading and writing so
// that neither the open nor the launcher's write ever blocks.
func openStatusFIFO(path string) (*os.File, error) {
	os.Remove(path)
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		return nil, fmt.Errorf("lambda: runtime status FIFO: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("lambda: runtime status FIFO: %w", err)
	}
	return f, nil
}

// parseWaitStatus turns the status sh's wait reports (128+N for a process
// ended by signal N) into an ExitState.
func parseWaitStatus(line string) (sandbox.ExitState, error) {
	code, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return sandbox.ExitState{}, fmt.Errorf("lambda: runtime status %q: %w", line, err)
	}
	if code > 128 {
		return sandbox.ExitState{Code: -1, Signal: syscall.Signal(code - 128)}, nil
	}
	return sandbox.ExitState{Code: code}, nil
}

// allExited reports whether every pid has ended: it is gone or a zombie
// (the launcher reaps its children only while it waits for the runtime).
func allExited(pids []int) bool {
	for _, pid := range pids {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		// The state follows the parenthesised command name.
		if i := bytes.LastIndexByte(data, ')'); i >= 0 && i+2 < len(data) && data[i+2] == 'Z' {
			continue
		}
		return false
	}
	return true
}

// launcherPids returns the pids the launcher recorded in pidFile for the
// external extensions; none when pidFile is "" or unreadable.
func launcherPids(pidFile string) []int {
	if pidFile == "" {
		return nil
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return nil
	}
	var pids []int
	for _, field := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(field); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}
