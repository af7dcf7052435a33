package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// joinDir is a v1 cgroup the spawner thread joins so that the next child is
// born in it.
type joinDir struct {
	dir        string // the sandbox's cgroup directory
	controller string // a controller of its hierarchy, to find the way back
	mount      mount  // the hierarchy, to find the way back
}

// spawnRequest asks the spawner thread to start cmd inside joins.
type spawnRequest struct {
	cmd   *exec.Cmd
	joins []joinDir
	reply chan error
}

var (
	spawnerOnce sync.Once
	spawnQueue  chan spawnRequest // served by the spawner thread; set once by spawnerOnce
)

// spawn starts cmd from the spawner thread, inside the given v1 cgroups.
func spawn(cmd *exec.Cmd, joins []joinDir) error {
	spawnerOnce.Do(func() {
		spawnQueue = make(chan spawnRequest)
		go runSpawner(spawnQueue)
	})
	reply := make(chan error, 1)
	spawnQueue <- spawnRequest{cmd: cmd, joins: joins, reply: reply}
	return <-reply
}

// runSpawner serves spawn requests on one OS thread for the life of the
// process. The thread is never released, so it never exits: the children's
// Pdeathsig, tied by the kernel to the thread that forked them, fires only
// when the whole supervisor dies.
func runSpawner(queue <-chan spawnRequest) {
	runtime.LockOSThread() // never unlocked, on purpose
	var stuck error        // set if the thread could not leave a sandbox cgroup
	for req := range queue {
		if stuck != nil {
			req.reply <- stuck
			continue
		}
		var err error
		err, stuck = startInCgroups(req.cmd, req.joins)
		req.reply <- err
	}
}

// startInCgroups starts cmd after moving the calling thread into joins, so the
// child inherits them at fork, then moves the thread back where it was. The
// second result is set if the thread could not get out again; the spawner
// then refuses all further work rather than fork from inside a sandbox.
func startInCgroups(cmd *exec.Cmd, joins []joinDir) (startErr, stuck error) {
	if len(joins) == 0 {
		return cmd.Start(), nil
	}
	tid := strconv.Itoa(unix.Gettid())
	home, err := threadCgroups()
	if err != nil {
		return err, nil
	}
	var joined []joinDir
	for _, j := range joins {
		if err := writeFile(filepath.Join(j.dir, "tasks"), tid); err != nil {
			startErr = err
			break
		}
		joined = append(joined, j)
	}
	if startErr == nil {
		startErr = cmd.Start()
	}
	if err := moveBack(tid, joined, home); err != nil {
		if startErr == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		stuck = fmt.Errorf("sandbox: spawner thread stuck in a sandbox cgroup: %w", err)
		return errors.Join(startErr, stuck), stuck
	}
	return startErr, nil
}

// moveBack returns the thread to its original cgroups, or to the hierarchy
// root if the original one is gone.
func moveBack(tid string, joined []joinDir, home map[string]string) error {
	var errs []error
	for _, j := range joined {
		dir := j.mount.dir
		if p, ok := home[j.controller]; ok {
			rel := p
			if j.mount.root != "/" {
				rel = strings.TrimPrefix(p, j.mount.root)
			}
			dir = filepath.Join(j.mount.dir, rel)
		}
		if err := writeFile(filepath.Join(dir, "tasks"), tid); err != nil {
			if rootErr := writeFile(filepath.Join(j.mount.dir, "tasks"), tid); rootErr != nil {
				errs = append(errs, err, rootErr)
			}
		}
	}
	return errors.Join(errs...)
}

// threadCgroups maps each v1 controller to the calling thread's cgroup path
// in its hierarchy.
func threadCgroups() (map[string]string, error) {
	data, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	paths := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 || parts[1] == "" {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			paths[c] = parts[2]
		}
	}
	return paths, nil
}
