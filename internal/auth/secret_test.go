package auth

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadSecret(t *testing.T) {
	secret := strings.Repeat("s", MinSecretLen)
	tests := []struct {
		name    string
		content string
		want    string
		wantErr string
	}{
		{name: "exact", content: secret, want: secret},
		{name: "trailing newline", content: secret + "\n", want: secret},
		{name: "surrounding whitespace", content: " \t" + secret + "\r\n\n", want: secret},
		{name: "short", content: "short\n", wantErr: "at least 32"},
		{name: "short after trim", content: "   " + secret[1:] + "   ", wantErr: "31 bytes"},
		{name: "empty", content: "", wantErr: "0 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "secret")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := LoadSecret(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LoadSecret() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadSecret() error = %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("LoadSecret() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoadSecretMissingFile(t *testing.T) {
	_, err := LoadSecret(filepath.Join(t.TempDir(), "absent"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadSecret(absent) = %v, want a not-exist error", err)
	}
}

func TestNewSecret(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 64 {
		t.Errorf("len(NewSecret()) = %d, want 64", len(a))
	}
	if _, err := hex.DecodeString(string(a)); err != nil {
		t.Errorf("NewSecret() = %q, not hex: %v", a, err)
	}
	if bytes.Equal(a, b) {
		t.Errorf("two NewSecret() calls both returned %q", a)
	}
	if _, err := NewSigner(a); err != nil {
		t.Errorf("NewSigner(NewSecret()) error = %v", err)
	}
}

func TestNewSignerRejectsShortSecret(t *testing.T) {
	if _, err := NewSigner([]byte("too short")); err == nil {
		t.Error("NewSigner(9 bytes) error = nil, want an error")
	}
}
