// Package bootstrapfile writes a runtime's bootstrap script into the
// directory thaw lambda runs runtimes from, shared by the Node.js and Python
// runtimes.
package bootstrapfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Install writes script into dir as name, readable by everyone (0644),
// creating dir if needed, and returns the file's path. The file is written
// to a temporary name and renamed into place, so concurrent Installs into
// one directory, or a runtime starting while another Install runs, never
// see a partial script.
func Install(dir, name string, script []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(script); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	path := filepath.Join(dir, name)
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	return path, nil
}
