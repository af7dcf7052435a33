package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/thaw-dev/thaw/internal/apikey"
)

var (
	testSecret  = []byte("0123456789abcdef0123456789abcdef")
	otherSecret = []byte("fedcba9876543210fedcba9876543210")
	testNow     = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

func newTestSigner(t testing.TB, secret []byte) *Signer {
	t.Helper()
	s, err := NewSigner(secret)
	if err != nil {
		t.Fatalf("NewSigner() error = %v", err)
	}
	return s
}

func mustSign(t testing.TB, s *Signer, c Claims) string {
	t.Helper()
	tok, err := s.Sign(c)
	if err != nil {
		t.Fatalf("Sign(%+v) error = %v", c, err)
	}
	return tok
}

func TestSignVerifyRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		claims Claims
	}{
		{"superuser forever", Claims{Role: RoleSuperuser}},
		{"with a key id", Claims{ID: "0123abcd", Role: RoleReadOnly}},
		{"readwrite with caches", Claims{Role: RoleReadWrite, Caches: []string{"orders", "sessions"}}},
		{"readonly expiring", Claims{Role: RoleReadOnly, ExpiresAt: testNow.Add(time.Hour), IssuedAt: testNow}},
		{"unicode cache", Claims{Role: RoleReadOnly, Caches: []string{"caché \"quoted\" <&>"}}},
		{"expires one second from now", Claims{Role: RoleSuperuser, ExpiresAt: testNow.Add(time.Second)}},
	}
	s := newTestSigner(t, testSecret)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := mustSign(t, s, tt.claims)
			got, err := s.Verify(tok, testNow)
			if err != nil {
				t.Fatalf("Verify(%q) error = %v", tok, err)
			}
			if diff := cmp.Diff(tt.claims, got); diff != "" {
				t.Errorf("Verify(Sign(c)) mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSignTruncatesTimesToSeconds(t *testing.T) {
	s := newTestSigner(t, testSecret)
	exp := testNow.Add(90*time.Minute + 700*time.Millisecond)
	got, err := s.Verify(mustSign(t, s, Claims{Role: RoleReadOnly, ExpiresAt: exp}), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if want := exp.Truncate(time.Second); !got.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v", got.ExpiresAt, want)
	}
}

func TestSignRejectsBadClaims(t *testing.T) {
	tests := []struct {
		name   string
		claims Claims
	}{
		{"no role", Claims{}},
		{"unknown role", Claims{Role: "root"}},
		{"empty cache name", Claims{Role: RoleReadOnly, Caches: []string{"a", ""}}},
		{"expiry before epoch", Claims{Role: RoleReadOnly, ExpiresAt: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)}},
	}
	s := newTestSigner(t, testSecret)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tok, err := s.Sign(tt.claims); err == nil {
				t.Errorf("Sign(%+v) = %q, want an error", tt.claims, tok)
			}
		})
	}
}

// segment base64url-encodes v as JSON, or a string as-is.
func segment(t *testing.T, v any) string {
	t.Helper()
	b, ok := v.(string)
	if !ok {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		b = string(j)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(b))
}

// signed assembles and signs a token from raw header and payload segments.
func signed(s *Signer, header, payload string) string {
	in := header + "." + payload
	return in + "." + base64.RawURLEncoding.EncodeToString(s.mac(in))
}

func TestVerifyRejects(t *testing.T) {
	s := newTestSigner(t, testSecret)
	other := newTestSigner(t, otherSecret)
	good := mustSign(t, s, Claims{Role: RoleReadOnly, Caches: []string{"a"}})
	parts := strings.Split(good, ".")
	hs256 := segment(t, map[string]string{"alg": "HS256", "typ": "JWT"})
	superPayload := segment(t, map[string]any{"role": "superuser"})

	flip := func(seg string) string { // change the first character
		c := byte('A')
		if seg[0] == 'A' {
			c = 'B'
		}
		return string(c) + seg[1:]
	}

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"empty", "", ErrMissingKey},
		{"one segment", "abc", ErrInvalidKey},
		{"two segments", parts[0] + "." + parts[1], ErrInvalidKey},
		{"four segments", good + ".x", ErrInvalidKey},
		{"forged signature", parts[0] + "." + parts[1] + "." + flip(parts[2]), ErrInvalidKey},
		{"empty signature", parts[0] + "." + parts[1] + ".", ErrInvalidKey},
		{"truncated signature", good[:len(good)-2], ErrInvalidKey},
		{"tampered payload", parts[0] + "." + superPayload + "." + parts[2], ErrInvalidKey},
		{"tampered header", segment(t, map[string]string{"alg": "HS256"}) + "." + parts[1] + "." + parts[2], ErrInvalidKey},
		{"wrong secret", mustSign(t, other, Claims{Role: RoleReadOnly}), ErrInvalidKey},
		{"alg none", segment(t, map[string]string{"alg": "none"}) + "." + superPayload + ".", ErrInvalidKey},
		{"alg none signed", signed(s, segment(t, map[string]string{"alg": "none"}), superPayload), ErrInvalidKey},
		{"alg HS512", signed(s, segment(t, map[string]string{"alg": "HS512"}), superPayload), ErrInvalidKey},
		{"header not json", signed(s, segment(t, "{"), superPayload), ErrInvalidKey},
		{"header not base64", signed(s, "*", superPayload), ErrInvalidKey},
		{"padded segment", signed(s, hs256+"==", superPayload), ErrInvalidKey},
		{"line break in signature", parts[0] + "." + parts[1] + "." + parts[2][:4] + "\n" + parts[2][4:], ErrInvalidKey},
		{"standard alphabet signature", parts[0] + "." + parts[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[2]) + "+", ErrInvalidKey},
		{"payload not json", signed(s, hs256, segment(t, "role=superuser")), ErrInvalidKey},
		{"payload array", signed(s, hs256, segment(t, "[]")), ErrInvalidKey},
		{"payload no role", signed(s, hs256, segment(t, map[string]any{"caches": []string{"a"}})), ErrInvalidKey},
		{"payload unknown role", signed(s, hs256, segment(t, map[string]any{"role": "root"})), ErrInvalidKey},
		{"payload role not string", signed(s, hs256, segment(t, map[string]any{"role": 1})), ErrInvalidKey},
		{"payload exp string", signed(s, hs256, segment(t, map[string]any{"role": "readonly", "exp": "soon"})), ErrInvalidKey},
		{"payload exp negative", signed(s, hs256, segment(t, map[string]any{"role": "readonly", "exp": -5})), ErrInvalidKey},
		{"too long", good + strings.Repeat("A", maxTokenLen), ErrInvalidKey},
		{"expired", mustSign(t, s, Claims{Role: RoleReadOnly, ExpiresAt: testNow.Add(-time.Second)}), ErrExpiredKey},
		{"expires exactly now", mustSign(t, s, Claims{Role: RoleReadOnly, ExpiresAt: testNow}), ErrExpiredKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Verify(tt.token, testNow)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify(%q) error = %v, want %v", tt.token, err, tt.want)
			}
			if tt.want != ErrExpiredKey && !cmp.Equal(got, Claims{}) {
				t.Errorf("Verify(%q) claims = %+v on error, want zero", tt.token, got)
			}
		})
	}
}

func TestVerifyExpiredReturnsClaims(t *testing.T) {
	s := newTestSigner(t, testSecret)
	want := Claims{Role: RoleReadWrite, Caches: []string{"a"}, ExpiresAt: testNow.Add(-time.Hour)}
	got, err := s.Verify(mustSign(t, s, want), testNow)
	if !errors.Is(err, ErrExpiredKey) {
		t.Fatalf("Verify(expired) error = %v, want ErrExpiredKey", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Verify(expired) claims mismatch (-want +got):\n%s", diff)
	}
}

func TestVerifyIgnoresUnknownClaims(t *testing.T) {
	s := newTestSigner(t, testSecret)
	hs256 := segment(t, map[string]string{"alg": "HS256", "typ": "JWT"})
	tok := signed(s, hs256, segment(t, map[string]any{"role": "readonly", "jti": "x"}))
	if _, err := s.Verify(tok, testNow); err != nil {
		t.Errorf("Verify(%q) error = %v, want nil", tok, err)
	}
}

func TestSignerKeepsOwnSecretCopy(t *testing.T) {
	secret := append([]byte(nil), testSecret...)
	s := newTestSigner(t, secret)
	tok := mustSign(t, s, Claims{Role: RoleReadOnly})
	secret[0] ^= 0xff
	if _, err := s.Verify(tok, testNow); err != nil {
		t.Errorf("Verify() after caller changed its secret slice: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	s := newTestSigner(f, testSecret)
	for _, c := range []Claims{
		{Role: RoleSuperuser},
		{Role: RoleReadWrite, Caches: []string{"a", "b"}, ExpiresAt: testNow.Add(time.Hour), IssuedAt: testNow},
		{Role: RoleReadOnly, ExpiresAt: testNow.Add(-time.Hour)},
	} {
		f.Add(mustSign(f, s, c))
	}
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.eyJyb2xlIjoic3VwZXJ1c2VyIn0.")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := s.Verify(token, testNow)
		switch {
		case err == nil:
			if _, perr := ParseRole(string(c.Role)); perr != nil {
				t.Fatalf("Verify(%q) accepted role %q", token, c.Role)
			}
			if !c.ExpiresAt.IsZero() && !testNow.Before(c.ExpiresAt) {
				t.Fatalf("Verify(%q) accepted expiry %v", token, c.ExpiresAt)
			}
			// The only tokens that verify are ones the signer made: the
			// signature segment must be this token's MAC.
			i := strings.LastIndexByte(token, '.')
			if want := base64.RawURLEncoding.EncodeToString(s.mac(token[:i])); token[i+1:] != want {
				t.Fatalf("Verify(%q) accepted signature %q, want %q", token, token[i+1:], want)
			}
		case errors.Is(err, ErrExpiredKey), errors.Is(err, ErrInvalidKey), errors.Is(err, ErrMissingKey):
		default:
			t.Fatalf("Verify(%q) error = %v, want a sentinel", token, err)
		}
	})
}

func TestTokenFromHeader(t *testing.T) {
	tests := []struct {
		header, want string
	}{
		{"", ""},
		{"abc.def.ghi", "abc.def.ghi"},
		{"Bearer abc.def.ghi", "abc.def.ghi"},
		{"  Bearer  abc.def.ghi \n", "abc.def.ghi"},
		{apikey.EncodeV1("h:1", "abc.def.ghi"), "abc.def.ghi"},
		{"Bearer " + apikey.EncodeV1("h:1", "abc.def.ghi"), "abc.def.ghi"},
		{"not-a-key", "not-a-key"},
	}
	for _, tt := range tests {
		if got := TokenFromHeader(tt.header); got != tt.want {
			t.Errorf("TokenFromHeader(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}
