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
	"regexp"
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
	return buildBootstrap(ctx, root, "./lab/functions/go", dir)
}

// buildBootstrap builds the Go package pkg of the checkout at root into
// dir/bootstrap.
func buildBootstrap(ctx context.Context, root, pkg, dir string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, "bootstrap"), pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("lab: go build %s: %w\n%s", pkg, err, out)
	}
	return nil
}

// sdkPackage is the official Momento Node.js SDK's npm name.
const sdkPackage = "@gomomento/sdk"

// ErrSDKVersion means an SDK version is not an exact version such as 1.118.1:
// the lab refuses ranges and tags, whose meaning changes with every release.
var ErrSDKVersion = errors.New("lab: an @gomomento/sdk version must be exact, such as 1.118.1 (no ranges or tags)")

// exactVersion is an exact semver version, prerelease allowed.
var exactVersion = regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`)

// CheckSDKVersion returns ErrSDKVersion, wrapped with v, unless v is an exact
// version.
func CheckSDKVersion(v string) error {
	if !exactVersion.MatchString(v) {
		return fmt.Errorf("%w: %q", ErrSDKVersion, v)
	}
	return nil
}

// PinnedSDKVersion is the @gomomento/sdk version the lab's Node function
// pins in its package.json, in the checkout at root.
func PinnedSDKVersion(root string) (string, error) {
	path := filepath.Join(nodeFunctionDir(root), "package.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("lab: read the Node function's package.json: %w", err)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(data, &pkg); err != nil {
		return "", fmt.Errorf("lab: parse %s: %w", path, err)
	}
	v := pkg.Dependencies[sdkPackage]
	if err := CheckSDKVersion(v); err != nil {
		return "", fmt.Errorf("%s pins %s %q: %w", path, sdkPackage, v, err)
	}
	return v, nil
}

// DefaultCacheDir is where the lab keeps what it installs for other SDK
// versions: thaw/lab under the user's cache directory ($XDG_CACHE_HOME or
// ~/.cache on Linux).
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("lab: cache dir: %w", err)
	}
	return filepath.Join(dir, "thaw", "lab"), nil
}

// EnsureNodeSDK returns a directory, cacheDir/node-sdk/VERSION, whose
// node_modules holds @gomomento/sdk at exactly version, installing it with npm
// the first time; later runs reuse it. Install scripts are skipped: old
// releases depend on grpc-tools, whose script downloads a code generator the
// SDK does not use at run time. The install happens in a temporary directory
// renamed into place, so that an interrupted or concurrent install never
// leaves a half-filled one behind.
func EnsureNodeSDK(ctx context.Context, cacheDir, version string) (string, error) {
	if err := CheckSDKVersion(version); err != nil {
		return "", err
	}
	dir := filepath.Join(cacheDir, "node-sdk", version)
	if installedSDKVersion(dir) == version {
		return dir, nil
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("lab: SDK cache: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+version+"-")
	if err != nil {
		return "", fmt.Errorf("lab: SDK cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	pkg := `{"name": "thaw-lab-node-sdk", "private": true, "description": "` + sdkPackage + ` ` + version + ` for thaw lab keepalive --sdk-versions"}` + "\n"
	if err := os.WriteFile(filepath.Join(tmp, "package.json"), []byte(pkg), 0o644); err != nil {
		return "", fmt.Errorf("lab: SDK cache: %w", err)
	}
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--silent", "--no-progress",
		"--ignore-scripts", "--save-exact", sdkPackage+"@"+version)
	cmd.Dir = tmp
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("lab: npm install %s@%s: %w\n%s", sdkPackage, version, err, out.Bytes())
	}
	if got := installedSDKVersion(tmp); got != version {
		return "", fmt.Errorf("lab: npm install %s@%s installed %q", sdkPackage, version, got)
	}
	os.RemoveAll(dir) // a damaged or partial install
	if err := os.Rename(tmp, dir); err != nil {
		if installedSDKVersion(dir) == version {
			return dir, nil // another lab installed it meanwhile
		}
		return "", fmt.Errorf("lab: SDK cache: %w", err)
	}
	return dir, nil
}

// installedSDKVersion is the version of @gomomento/sdk in dir/node_modules,
// or "" if there is none.
func installedSDKVersion(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, "node_modules", "@gomomento", "sdk", "package.json"))
	if err != nil {
		return ""
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if json.Unmarshal(data, &pkg) != nil {
		return ""
	}
	return pkg.Version
}

// nodeCodeDir makes dir the code of a Node function that runs the checkout's
// function with the SDK installed in sdkDir: a copy of its index.mjs and
// package.json beside a node_modules link, as Node resolves a module's imports
// from the directory of the file itself.
func nodeCodeDir(root, sdkDir, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lab: Node function dir: %w", err)
	}
	for _, name := range []string{"index.mjs", "package.json"} {
		data, err := os.ReadFile(filepath.Join(nodeFunctionDir(root), name))
		if err != nil {
			return fmt.Errorf("lab: Node function: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("lab: Node function: %w", err)
		}
	}
	if err := os.Symlink(filepath.Join(sdkDir, "node_modules"), filepath.Join(dir, "node_modules")); err != nil {
		return fmt.Errorf("lab: Node function: %w", err)
	}
	return nil
}
