package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// modulePath is the Go module whose checkout holds the lab's functions.
const modulePath = "github.com/thaw-dev/thaw"

// ErrNoCheckout means the lab could not find a checkout of thaw, which it
// needs to build and install its functions.
var ErrNoCheckout = errors.New("lab: no thaw checkout found (run from inside the repository or set Options.Root)")

// FindRoot returns the root of the thaw checkout that holds the current
// directory, or else the one this binary was built from.
func FindRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			if isThawRoot(dir) {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", ErrNoCheckout
}

// isThawRoot reports whether dir holds thaw's go.mod.
func isThawRoot(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "module")) == modulePath
		}
	}
	return false
}

// nodeFunctionDir is where the Node.js function lives in a checkout.
func nodeFunctionDir(root string) string {
	return filepath.Join(root, "lab", "functions", "node")
}

// EnsureNodeModules runs `npm ci` in dir unless its node_modules already
// holds exactly the versions its package-lock.json pins. It is quiet unless
// npm fails.
func EnsureNodeModules(ctx context.Context, dir string) error {
	ok, err := nodeModulesMatchLock(dir)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	cmd := exec.CommandContext(ctx, "npm", "ci", "--silent", "--no-audit", "--no-fund", "--no-progress")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("lab: npm ci in %s: %w\n%s", dir, err, out.Bytes())
	}
	return nil
}

// lockFile is the part of an npm lockfile the lab compares.
type lockFile struct {
	Packages map[string]struct {
		Version  string `json:"version"`
		Optional bool   `json:"optional"`
	} `json:"packages"`
}

// nodeModulesMatchLock compares package-lock.json with the hidden lockfile
// npm writes into node_modules when it installs.
func nodeModulesMatchLock(dir string) (bool, error) {
	var want, have lockFile
	data, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return false, fmt.Errorf("lab: read the Node function's lockfile: %w", err)
	}
	if err := json.Unmarshal(data, &want); err != nil {
		return false, fmt.Errorf("lab: parse %s/package-lock.json: %w", dir, err)
	}
	data, err = os.ReadFile(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("lab: read installed packages: %w", err)
	}
	if err := json.Unmarshal(data, &have); err != nil {
		return false, nil // a damaged install: reinstall
	}
	for path, p := range want.Packages {
		if path == "" || p.Optional {
			continue
		}
		if have.Packages[path].Version != p.Version {
			return false, nil
		}
		if _, err := os.Stat(filepath.Join(dir, path, "package.json")); err != nil {
			return false, nil
		}
	}
	return true, nil
}

// BuildGoFunction builds the lab's Go function from the checkout at root
// into dir/bootstrap, the executable a provided runtime runs.
func BuildGoFunction(ctx context.Context, root, dir string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, "bootstrap"), "./lab/functions/go")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("lab: go build ./lab/functions/go: %w\n%s", err, out)
	}
	return nil
}
