package lambdatest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// CheckInstall checks a runtime package's Install: it writes script to
// dir/fileName with mode 0644, a second Install replaces the first, and
// nothing else is left in dir.
func CheckInstall(t testing.TB, install func(dir string) (string, error), fileName string, script []byte) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "runtime")
	for range 2 { // a second Install replaces the first
		path, err := install(dir)
		if err != nil {
			t.Fatalf("Install(%q): %v", dir, err)
		}
		if want := filepath.Join(dir, fileName); path != want {
			t.Errorf("Install(%q) = %q, want %q", dir, path, want)
		}
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o644 {
			t.Errorf("mode of %s = %v, want 0644", path, info.Mode().Perm())
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, script) {
			t.Errorf("%s differs from Script()", path)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("Install left %d files in %s, want 1", len(entries), dir)
	}
}
