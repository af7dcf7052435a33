package auth

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestParseRevocationList(t *testing.T) {
	data := []byte("# revoked keys\n\nabc  # revoked 2026-12-01 role=readonly\n  def\t trailing words\nghi#no space\n\r\n")
	ids, err := ParseRevocationList(data)
	if err != nil {
		t.Fatalf("ParseRevocationList() error = %v", err)
	}
	for _, want := range []string{"abc", "def", "ghi"} {
		if _, ok := ids[want]; !ok {
			t.Errorf("ParseRevocationList() lacks %q: %v", want, ids)
		}
	}
	if len(ids) != 3 {
		t.Errorf("ParseRevocationList() = %v, want 3 ids", ids)
	}
}

func TestRevocationListReloadsOnChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revoked")
	rl, err := OpenRevocationList(path)
	if err != nil {
		t.Fatalf("OpenRevocationList(missing file) error = %v, want an empty list", err)
	}
	if rl.Len() != 0 || rl.Contains("a") || rl.Contains("") {
		t.Fatalf("empty list: Len() = %d, Contains(a) = %v", rl.Len(), rl.Contains("a"))
	}

	if added, err := AppendRevocation(path, "a", "first"); !added || err != nil {
		t.Fatalf("AppendRevocation(a) = %v, %v; want true, nil", added, err)
	}
	if reloaded, err := rl.Reload(false); !reloaded || err != nil {
		t.Fatalf("Reload(false) after a change = %v, %v; want true, nil", reloaded, err)
	}
	if !rl.Contains("a") {
		t.Error("Contains(a) = false after reload, want true")
	}
	if reloaded, err := rl.Reload(false); reloaded || err != nil {
		t.Errorf("Reload(false) without a change = %v, %v; want false, nil", reloaded, err)
	}
	if reloaded, err := rl.Reload(true); !reloaded || err != nil {
		t.Errorf("Reload(true) = %v, %v; want true, nil", reloaded, err)
	}

	// A file replaced by a rename, as editors save, is seen as changed.
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte("b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if reloaded, err := rl.Reload(false); !reloaded || err != nil {
		t.Fatalf("Reload(false) after a rename = %v, %v; want true, nil", reloaded, err)
	}
	if rl.Contains("a") || !rl.Contains("b") {
		t.Errorf("after the rename Contains(a), Contains(b) = %v, %v; want false, true", rl.Contains("a"), rl.Contains("b"))
	}

	// Removing the file or making it unreadable keeps the list in force.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := rl.Reload(true); err != nil {
		t.Errorf("Reload(true) of a removed file error = %v, want nil", err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := rl.Reload(true); err == nil {
		t.Error("Reload(true) of a directory: no error")
	}
	if !rl.Contains("b") {
		t.Error("Contains(b) = false after failed reloads, want the previous list kept")
	}
}

func TestAppendRevocation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "revoked")
	if err := os.WriteFile(path, []byte("x # no final newline"), 0o600); err != nil {
		t.Fatal(err)
	}
	if added, err := AppendRevocation(path, "y", "multi\nline note"); !added || err != nil {
		t.Fatalf("AppendRevocation(y) = %v, %v; want true, nil", added, err)
	}
	if added, err := AppendRevocation(path, "x", ""); added || err != nil {
		t.Errorf("AppendRevocation(x, already listed) = %v, %v; want false, nil", added, err)
	}
	for _, bad := range []string{"", "has space", "a#b", "new\nline"} {
		if _, err := AppendRevocation(path, bad, ""); err == nil {
			t.Errorf("AppendRevocation(%q): no error", bad)
		}
	}
	data, _ := os.ReadFile(path)
	if want := "x # no final newline\ny  # multi line note\n"; string(data) != want {
		t.Errorf("file = %q, want %q", data, want)
	}
}

func TestVerifierRefusesRevokedKeys(t *testing.T) {
	s := newTestSigner(t, testSecret)
	path := filepath.Join(t.TempDir(), "revoked")
	rl, err := OpenRevocationList(path)
	if err != nil {
		t.Fatal(err)
	}
	v := NewVerifier(s, rl)
	kept := mustSign(t, s, Claims{ID: "kept", Role: RoleReadOnly})
	gone := mustSign(t, s, Claims{ID: "gone", Role: RoleReadOnly})
	legacy := mustSign(t, s, Claims{Role: RoleReadOnly})
	forged := mustSign(t, newTestSigner(t, otherSecret), Claims{ID: "gone", Role: RoleReadOnly})

	if _, err := AppendRevocation(path, "gone", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := rl.Reload(false); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"kept", kept, nil},
		{"revoked", gone, ErrRevokedKey},
		{"legacy key without id", legacy, nil},
		{"forged key with a revoked id", forged, ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(tt.token, time.Now())
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("Verify(%s) error = %v, want %v", tt.name, err, tt.want)
			}
		})
	}
}

func TestKeyID(t *testing.T) {
	s := newTestSigner(t, testSecret)
	id, err := NewKeyID()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := KeyID(mustSign(t, s, Claims{ID: id, Role: RoleReadOnly})); got != id || err != nil {
		t.Errorf("KeyID(token with id %q) = %q, %v", id, got, err)
	}
	for _, bad := range []string{"", "x", "a.b.c", mustSign(t, s, Claims{Role: RoleReadOnly})} {
		if got, err := KeyID(bad); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("KeyID(%q) = %q, %v; want ErrInvalidKey", bad, got, err)
		}
	}
	if _, err := s.Sign(Claims{ID: "has space", Role: RoleReadOnly}); err == nil {
		t.Error("Sign(id with a space): no error")
	}
}
