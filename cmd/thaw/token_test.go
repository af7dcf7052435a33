package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/internal/apikey"
	"github.com/thaw-dev/thaw/internal/auth"
)

// runTokenCmd runs 'thaw token args...' and returns its exit code and output.
func runTokenCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = runToken(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// writeTokenSecret writes a fresh secret file and returns its path and a
// Signer for it.
func writeTokenSecret(t *testing.T) (string, *auth.Signer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if code, _, stderr := runTokenCmd(t, "secret", "--out", path); code != 0 {
		t.Fatalf("thaw token secret --out: exit %d, stderr %q", code, stderr)
	}
	secret, err := auth.LoadSecret(path)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := auth.NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	return path, signer
}

func TestTokenUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // substring; "" means stdout must be empty
		wantStderr string // substring; "" means stderr must be empty
	}{
		{"no verb", nil, 2, "", "missing verb"},
		{"help", []string{"--help"}, 0, "Verbs:", ""},
		{"unknown verb", []string{"mint"}, 2, "", `unknown verb "mint"`},
		{"secret help", []string{"secret", "--help"}, 0, "-out FILE", ""},
		{"secret extra argument", []string{"secret", "x"}, 2, "", `unexpected argument "x"`},
		{"secret unknown flag", []string{"secret", "--bogus"}, 2, "", "flag provided but not defined: -bogus"},
		{"create help", []string{"create", "-h"}, 0, "-secret-file FILE", ""},
		{"create no flags", []string{"create"}, 2, "", "--secret-file is required; --endpoint is required; --role is required"},
		{"create bad role", []string{"create", "--secret-file", "f", "--endpoint", "e:1", "--role", "admin"}, 2, "", `--role must be superuser, readwrite or readonly, not "admin"`},
		{"create negative expiry", []string{"create", "--expires", "-1h"}, 2, "", "want a positive duration"},
		{"create zero expiry", []string{"create", "--expires", "0"}, 2, "", "want a positive duration"},
		{"create zero days", []string{"create", "--expires", "0d"}, 2, "", "want a positive number of days"},
		{"create overflowing days", []string{"create", "--expires", "9999999999d"}, 2, "", "want a positive number of days"},
		{"create bad duration", []string{"create", "--expires", "soon"}, 2, "", `invalid value "soon"`},
		{"create help shows the default lifetime", []string{"create", "--help"}, 0, "(default 30d)", ""},
		{"create blank cache", []string{"create", "--secret-file", "f", "--endpoint", "e:1", "--role", "readonly", "--cache", " "}, 2, "", "--cache must not be blank"},
		{"create missing secret file", []string{"create", "--secret-file", filepath.Join(t.TempDir(), "absent"), "--endpoint", "e:1", "--role", "readonly"}, 1, "", "no such file"},
		{"inspect help", []string{"inspect", "--help"}, 0, "KEY", ""},
		{"inspect no key", []string{"inspect", "--secret-file", "f"}, 2, "", "want exactly one KEY, got 0"},
		{"inspect two keys", []string{"inspect", "--secret-file", "f", "a", "b"}, 2, "", "want exactly one KEY, got 2"},
		{"inspect no secret", []string{"inspect", "k"}, 2, "", "--secret-file is required"},
		{"revoke help", []string{"revoke", "--help"}, 0, "-revoked-keys FILE", ""},
		{"revoke no file", []string{"revoke", "k"}, 2, "", "--revoked-keys is required"},
		{"revoke nothing", []string{"revoke", "--revoked-keys", "f"}, 2, "", "want exactly one KEY or --id, got 0 keys"},
		{"revoke key and id", []string{"revoke", "--revoked-keys", "f", "--id", "x", "k"}, 2, "", "not both"},
		{"revoke garbage", []string{"revoke", "--revoked-keys", filepath.Join(t.TempDir(), "f"), "garbage"}, 1, "", "not three dot-separated segments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runTokenCmd(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("runToken(%q) = %d, want %d; stderr %q", tt.args, code, tt.wantCode, stderr)
			}
			check := func(stream, got, want string) {
				if want == "" && got != "" {
					t.Errorf("runToken(%q) %s = %q, want empty", tt.args, stream, got)
				}
				if !strings.Contains(got, want) {
					t.Errorf("runToken(%q) %s = %q, want it to contain %q", tt.args, stream, got, want)
				}
			}
			check("stdout", stdout, tt.wantStdout)
			check("stderr", stderr, tt.wantStderr)
		})
	}
}

func TestTokenSecret(t *testing.T) {
	code, stdout, stderr := runTokenCmd(t, "secret")
	if code != 0 {
		t.Fatalf("thaw token secret: exit %d, stderr %q", code, stderr)
	}
	if s := strings.TrimSuffix(stdout, "\n"); len(s) != 64 || !isHex(s) {
		t.Errorf("thaw token secret printed %q, want 64 hex characters and a newline", stdout)
	}

	path := filepath.Join(t.TempDir(), "secret")
	if code, _, stderr := runTokenCmd(t, "secret", "--out", path); code != 0 {
		t.Fatalf("thaw token secret --out: exit %d, stderr %q", code, stderr)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("secret file mode = %v, want 0600", mode)
	}
	before, _ := os.ReadFile(path)
	code, _, stderr = runTokenCmd(t, "secret", "--out", path)
	if code != 1 || !strings.Contains(stderr, "not overwriting") {
		t.Errorf("second thaw token secret --out: exit %d, stderr %q, want 1 and a refusal", code, stderr)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Errorf("second thaw token secret --out changed the file from %q to %q", before, after)
	}
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

func TestTokenCreate(t *testing.T) {
	secretFile, signer := writeTokenSecret(t)
	start := time.Now().Truncate(time.Second)
	code, stdout, stderr := runTokenCmd(t, "create", "--secret-file", secretFile, "--role", "readwrite",
		"--cache", "orders", "--cache", "sessions", "--expires", "1h", "--endpoint", "127.0.0.1:8080")
	if code != 0 {
		t.Fatalf("thaw token create: exit %d, stderr %q", code, stderr)
	}
	if !strings.HasSuffix(stdout, "\n") || strings.Count(stdout, "\n") != 1 {
		t.Errorf("thaw token create printed %q, want one line", stdout)
	}
	endpoint, token, err := apikey.DecodeV1(strings.TrimSuffix(stdout, "\n"))
	if err != nil {
		t.Fatalf("DecodeV1Key(%q) error = %v", stdout, err)
	}
	if endpoint != "127.0.0.1:8080" {
		t.Errorf("key endpoint = %q, want %q", endpoint, "127.0.0.1:8080")
	}
	claims, err := signer.Verify(token, time.Now())
	if err != nil {
		t.Fatalf("Verify(created key) error = %v", err)
	}
	if claims.Role != auth.RoleReadWrite || strings.Join(claims.Caches, ",") != "orders,sessions" {
		t.Errorf("claims = %+v, want readwrite on orders,sessions", claims)
	}
	if lo, hi := start.Add(time.Hour), time.Now().Add(time.Hour); claims.ExpiresAt.Before(lo) || claims.ExpiresAt.After(hi) {
		t.Errorf("ExpiresAt = %v, want between %v and %v", claims.ExpiresAt, lo, hi)
	}
	if claims.IssuedAt.IsZero() {
		t.Error("IssuedAt is zero, want the creation time")
	}
}

func TestTokenCreateExpiresIn30DaysByDefault(t *testing.T) {
	secretFile, signer := writeTokenSecret(t)
	start := time.Now().Truncate(time.Second)
	code, stdout, stderr := runTokenCmd(t, "create", "--secret-file", secretFile, "--role", "superuser", "--endpoint", "h:1")
	if code != 0 || stderr != "" {
		t.Fatalf("thaw token create: exit %d, stderr %q, want 0 and no warning", code, stderr)
	}
	_, token, err := apikey.DecodeV1(strings.TrimSpace(stdout))
	if err != nil {
		t.Fatal(err)
	}
	claims, err := signer.Verify(token, time.Now())
	if err != nil {
		t.Fatalf("Verify(created key) error = %v", err)
	}
	if lo, hi := start.AddDate(0, 0, 30), time.Now().AddDate(0, 0, 30); claims.ExpiresAt.Before(lo) || claims.ExpiresAt.After(hi) {
		t.Errorf("ExpiresAt = %v, want 30 days from now", claims.ExpiresAt)
	}
	if len(claims.ID) != 32 || !isHex(claims.ID) {
		t.Errorf("ID = %q, want 32 hex characters", claims.ID)
	}
}

func TestTokenCreateNeverExpires(t *testing.T) {
	secretFile, signer := writeTokenSecret(t)
	code, stdout, stderr := runTokenCmd(t, "create", "--secret-file", secretFile, "--role", "superuser", "--endpoint", "h:1", "--expires", "never")
	if code != 0 {
		t.Fatalf("thaw token create: exit %d, stderr %q", code, stderr)
	}
	if !strings.Contains(stderr, "never expires") {
		t.Errorf("thaw token create --expires never: stderr %q, want a warning that the key never expires", stderr)
	}
	_, token, err := apikey.DecodeV1(strings.TrimSpace(stdout))
	if err != nil {
		t.Fatal(err)
	}
	claims, err := signer.Verify(token, time.Now().AddDate(100, 0, 0))
	if err != nil {
		t.Fatalf("Verify(key, in 100 years) error = %v", err)
	}
	if !claims.ExpiresAt.IsZero() || len(claims.Caches) != 0 {
		t.Errorf("claims = %+v, want no expiry and all caches", claims)
	}
}

// inspectOutput mirrors the JSON that 'thaw token inspect' prints.
type inspectOutput struct {
	Endpoint  string     `json:"endpoint"`
	Role      string     `json:"role"`
	Caches    []string   `json:"caches"`
	ExpiresAt *time.Time `json:"expires_at"`
	Expired   bool       `json:"expired"`
}

func TestTokenInspect(t *testing.T) {
	secretFile, signer := writeTokenSecret(t)
	otherFile, _ := writeTokenSecret(t)
	sign := func(c auth.Claims) string {
		tok, err := signer.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	readonly := sign(auth.Claims{Role: auth.RoleReadOnly, Caches: []string{"a"}})
	expired := sign(auth.Claims{Role: auth.RoleSuperuser, ExpiresAt: time.Now().Add(-time.Hour)})

	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     inspectOutput // checked when stdout is not empty
	}{
		{"v1 key", []string{"--secret-file", secretFile, apikey.EncodeV1("h:1", readonly)}, 0,
			inspectOutput{Endpoint: "h:1", Role: "readonly", Caches: []string{"a"}}},
		{"bare token", []string{"--secret-file", secretFile, readonly}, 0,
			inspectOutput{Role: "readonly", Caches: []string{"a"}}},
		{"flags after key", []string{apikey.EncodeV1("h:1", readonly), "--secret-file", secretFile}, 0,
			inspectOutput{Endpoint: "h:1", Role: "readonly", Caches: []string{"a"}}},
		{"after double dash", []string{"--secret-file", secretFile, "--", readonly}, 0,
			inspectOutput{Role: "readonly", Caches: []string{"a"}}},
		{"expired", []string{"--secret-file", secretFile, apikey.EncodeV1("h:1", expired)}, 1,
			inspectOutput{Endpoint: "h:1", Role: "superuser", Caches: []string{}, Expired: true}},
		{"other secret", []string{"--secret-file", otherFile, apikey.EncodeV1("h:1", readonly)}, 1, inspectOutput{}},
		{"garbage", []string{"--secret-file", secretFile, "not-a-key"}, 1, inspectOutput{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runTokenCmd(t, append([]string{"inspect"}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("thaw token inspect: exit %d, want %d; stderr %q", code, tt.wantCode, stderr)
			}
			if tt.want.Role == "" {
				if stdout != "" || stderr == "" {
					t.Errorf("thaw token inspect: stdout %q, stderr %q, want only an error", stdout, stderr)
				}
				return
			}
			var got inspectOutput
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("thaw token inspect printed %q: %v", stdout, err)
			}
			if got.Endpoint != tt.want.Endpoint || got.Role != tt.want.Role ||
				strings.Join(got.Caches, ",") != strings.Join(tt.want.Caches, ",") || got.Caches == nil ||
				got.Expired != tt.want.Expired || (got.ExpiresAt != nil) != tt.want.Expired {
				t.Errorf("thaw token inspect printed %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTokenRevoke(t *testing.T) {
	secretFile, signer := writeTokenSecret(t)
	list := filepath.Join(t.TempDir(), "revoked")
	create := func() (key, id string) {
		t.Helper()
		code, stdout, stderr := runTokenCmd(t, "create", "--secret-file", secretFile, "--role", "readonly", "--endpoint", "h:1")
		if code != 0 {
			t.Fatalf("thaw token create: exit %d, stderr %q", code, stderr)
		}
		key = strings.TrimSpace(stdout)
		_, token, err := apikey.DecodeV1(key)
		if err != nil {
			t.Fatal(err)
		}
		claims, err := signer.Verify(token, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return key, claims.ID
	}
	keyA, idA := create()
	_, idB := create()

	for _, args := range [][]string{
		{"revoke", "--revoked-keys", list, keyA},
		{"revoke", "--revoked-keys", list, "--id", idB},
	} {
		if code, stdout, stderr := runTokenCmd(t, args...); code != 0 || !strings.Contains(stdout, "revoked key") {
			t.Fatalf("runToken(%q) = %d, stdout %q, stderr %q; want 0 and a confirmation", args, code, stdout, stderr)
		}
	}
	code, stdout, _ := runTokenCmd(t, "revoke", "--revoked-keys", list, keyA)
	if code != 0 || !strings.Contains(stdout, "already revoked") {
		t.Errorf("revoking twice: exit %d, stdout %q; want 0 and 'already revoked'", code, stdout)
	}

	rl, err := auth.OpenRevocationList(list)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{idA, idB} {
		if !rl.Contains(id) {
			t.Errorf("revocation list %s lacks %s", list, id)
		}
	}
	if rl.Len() != 2 {
		data, _ := os.ReadFile(list)
		t.Errorf("revocation list holds %d ids, want 2:\n%s", rl.Len(), data)
	}
	if info, err := os.Stat(list); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("revocation list mode = %v (err %v), want 0600", info.Mode().Perm(), err)
	}
}
