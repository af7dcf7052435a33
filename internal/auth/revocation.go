package auth

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// RevocationList is the set of key ids a server refuses, read from a file
// with one id per line. Blank lines and text after '#' are ignored, and so
// is anything after the first word of a line, so that `thaw token revoke`
// can note when and why next to each id. Contains is lock-free; Reload
// swaps in a new set only when the file parsed cleanly, so a half-written
// or broken file never un-revokes a key. It is safe for concurrent use.
type RevocationList struct {
	path string
	ids  atomic.Pointer[map[string]struct{}]

	mu    sync.Mutex // guards stamp; serialises Reload
	stamp fileStamp  // the file as last read; zero when it did not exist
}

// fileStamp identifies a version of a file cheaply, from its metadata.
type fileStamp struct {
	exists  bool
	size    int64
	modTime time.Time
	inode   uint64
}

// OpenRevocationList reads the revocation list at path. A file that does not
// exist yet is an empty list (`thaw token revoke` creates it); any other
// read or parse error is returned.
func OpenRevocationList(path string) (*RevocationList, error) {
	r := &RevocationList{path: path}
	r.ids.Store(&map[string]struct{}{})
	if _, err := r.reload(true); err != nil {
		return nil, err
	}
	return r, nil
}

// Path returns the file the list is read from.
func (r *RevocationList) Path() string { return r.path }

// Contains reports whether id is revoked. The empty id (a key made before
// keys had ids) is never on the list.
func (r *RevocationList) Contains(id string) bool {
	if id == "" {
		return false
	}
	_, ok := (*r.ids.Load())[id]
	return ok
}

// Len returns how many ids are revoked.
func (r *RevocationList) Len() int { return len(*r.ids.Load()) }

// Reload re-reads the file if its size, modification time or inode changed
// since the last read (force re-reads it regardless, as on SIGHUP). It
// reports whether the list was re-read. On error the previous list stays in
// force. A file that has been removed keeps the previous list too: deleting
// the file is not a way to un-revoke keys by accident.
func (r *RevocationList) Reload(force bool) (reloaded bool, err error) {
	return r.reload(force)
}

func (r *RevocationList) reload(force bool) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := statFile(r.path)
	if err != nil {
		return false, fmt.Errorf("auth: revocation list %s: %w", r.path, err)
	}
	if !st.exists || (!force && st == r.stamp) {
		return false, nil
	}
	data, err := os.ReadFile(r.path)
	if err != nil {
		return false, fmt.Errorf("auth: revocation list: %w", err)
	}
	ids, err := ParseRevocationList(data)
	if err != nil {
		return false, fmt.Errorf("auth: revocation list %s: %w", r.path, err)
	}
	r.ids.Store(&ids)
	r.stamp = st
	return true, nil
}

// statFile returns the stamp of path; a missing file gives a zero stamp.
func statFile(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileStamp{}, nil
	}
	if err != nil {
		return fileStamp{}, err
	}
	if !fi.Mode().IsRegular() {
		return fileStamp{}, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	return fileStamp{exists: true, size: fi.Size(), modTime: fi.ModTime(), inode: inodeOf(fi)}, nil
}

// ParseRevocationList reads the ids of a revocation list file's contents:
// the first word of each line, with blank lines and '#' comments skipped.
func ParseRevocationList(data []byte) (map[string]struct{}, error) {
	ids := make(map[string]struct{})
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxTokenLen)
	for line := 1; sc.Scan(); line++ {
		text, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		ids[fields[0]] = struct{}{}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read ids: %w", err)
	}
	return ids, nil
}

// AppendRevocation adds id to the revocation list file at path, creating it
// with mode 0600, with note (a comment such as the key's role and caches)
// after it. It reports false, and writes nothing, when id is already listed.
func AppendRevocation(path, id, note string) (added bool, err error) {
	if id == "" || strings.ContainsAny(id, " \t\r\n#") {
		return false, fmt.Errorf("auth: revoke: bad key id %q", id)
	}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("auth: revoke: %w", err)
	}
	ids, err := ParseRevocationList(data)
	if err != nil {
		return false, fmt.Errorf("auth: revoke: %s: %w", path, err)
	}
	if _, ok := ids[id]; ok {
		return false, nil
	}
	line := id
	if note = strings.Join(strings.Fields(note), " "); note != "" {
		line += "  # " + note
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		line = "\n" + line
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return false, fmt.Errorf("auth: revoke: %w", err)
	}
	_, err = f.WriteString(line + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("auth: revoke: %w", err)
	}
	return true, nil
}

// inodeOf returns the file's inode number, so that a file replaced by a
// rename (as editors save) counts as changed even with the same size and
// time; 0 where the platform does not say.
func inodeOf(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// KeyVerifier checks an API key and returns its claims; the gRPC
// interceptors and the test-admin routes take one. *Verifier and *Signer are
// two.
type KeyVerifier interface {
	Verify(token string, now time.Time) (Claims, error)
}

// Verifier checks API keys as a server must: the signature and expiry with a
// Signer, then the revocation list. It is safe for concurrent use.
type Verifier struct {
	signer  *Signer
	revoked *RevocationList // nil: no key is revoked
}

// NewVerifier returns a Verifier for keys signed by signer; revoked may be nil.
func NewVerifier(signer *Signer, revoked *RevocationList) *Verifier {
	return &Verifier{signer: signer, revoked: revoked}
}

// Verify returns the claims of a genuine, unexpired, unrevoked token. A
// revoked token gives an error wrapping ErrRevokedKey, checked after the
// signature so that a forged id tells nothing about the list.
func (v *Verifier) Verify(token string, now time.Time) (Claims, error) {
	c, err := v.signer.Verify(token, now)
	if err != nil {
		return c, err
	}
	if v.revoked != nil && v.revoked.Contains(c.ID) {
		return Claims{}, fmt.Errorf("auth: key %s: %w", c.ID, ErrRevokedKey)
	}
	return c, nil
}
