package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/thaw-dev/thaw/internal/apikey"
)

// maxTokenLen bounds the work Verify does on hostile input. Real tokens are
// a few hundred bytes; a long cache list stays well below this.
const maxTokenLen = 16 << 10

// segmentEncoding is the JWT base64url alphabet without padding; Strict
// rejects non-zero trailing bits so each segment has one spelling.
var segmentEncoding = base64.RawURLEncoding.Strict()

// tokenHeader is the JOSE header of every token this package signs.
type tokenHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
}

// tokenPayload is the JSON claim set inside a token; exp and iat are
// NumericDate (seconds since the Unix epoch), omitted when zero.
type tokenPayload struct {
	ID     string   `json:"jti,omitempty"`
	Role   string   `json:"role"`
	Caches []string `json:"caches,omitempty"`
	Exp    int64    `json:"exp,omitempty"`
	Iat    int64    `json:"iat,omitempty"`
}

// Signer signs and verifies API keys with one HMAC-SHA256 secret. It holds
// no mutable state and is safe for concurrent use.
type Signer struct {
	secret []byte
	header string // the encoded header, computed once
}

// NewSigner returns a Signer for secret, which must be at least
// MinSecretLen bytes (use LoadSecret or NewSecret). It keeps its own copy.
func NewSigner(secret []byte) (*Signer, error) {
	if err := checkSecret(secret); err != nil {
		return nil, fmt.Errorf("auth: new signer: %w", err)
	}
	h, err := json.Marshal(tokenHeader{Alg: "HS256", Typ: "JWT"})
	if err != nil {
		return nil, fmt.Errorf("auth: new signer: %w", err)
	}
	return &Signer{secret: bytes.Clone(secret), header: segmentEncoding.EncodeToString(h)}, nil
}

// Sign returns the token for claims: a compact JWT (HS256) with the claims
// jti (the key id), role, caches, exp and iat. The role must be valid and cache names
// non-empty. This string is the api_key of a v1 key (see apikey.EncodeV1) and
// the value the SDK sends as the authorization header.
func (s *Signer) Sign(c Claims) (string, error) {
	if _, err := ParseRole(string(c.Role)); err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	for _, name := range c.Caches {
		if name == "" {
			return "", fmt.Errorf("auth: sign: empty cache name in %q", c.Caches)
		}
	}
	if strings.ContainsFunc(c.ID, unicode.IsSpace) {
		return "", fmt.Errorf("auth: sign: key id %q contains white space", c.ID)
	}
	p := tokenPayload{ID: c.ID, Role: string(c.Role), Caches: c.Caches}
	if !c.ExpiresAt.IsZero() {
		p.Exp = c.ExpiresAt.Unix()
		if p.Exp <= 0 {
			return "", fmt.Errorf("auth: sign: expiry %v is before 1970", c.ExpiresAt)
		}
	}
	if !c.IssuedAt.IsZero() {
		p.Iat = c.IssuedAt.Unix()
	}
	body, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	signingInput := s.header + "." + segmentEncoding.EncodeToString(body)
	return signingInput + "." + segmentEncoding.EncodeToString(s.mac(signingInput)), nil
}

// Verify checks token's signature in constant time and returns its claims.
// An empty token gives ErrMissingKey; a malformed, forged or foreign token
// gives ErrInvalidKey. A genuine token whose expiry is not after now gives
// ErrExpiredKey together with its decoded claims, so that tools can show
// them; callers must treat any error as a refusal.
func (s *Signer) Verify(token string, now time.Time) (Claims, error) {
	if token == "" {
		return Claims{}, ErrMissingKey
	}
	if len(token) > maxTokenLen {
		return Claims{}, fmt.Errorf("auth: token is %d bytes, longer than %d: %w", len(token), maxTokenLen, ErrInvalidKey)
	}
	headerSeg, rest, ok1 := strings.Cut(token, ".")
	payloadSeg, sigSeg, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(sigSeg, ".") {
		return Claims{}, fmt.Errorf("auth: token is not three dot-separated segments: %w", ErrInvalidKey)
	}
	var h tokenHeader
	if err := decodeSegment(headerSeg, &h); err != nil {
		return Claims{}, fmt.Errorf("auth: token header: %w", err)
	}
	if h.Alg != "HS256" {
		return Claims{}, fmt.Errorf("auth: token algorithm %q, want HS256: %w", h.Alg, ErrInvalidKey)
	}
	sig, err := decodeBase64URL(sigSeg)
	if err != nil {
		return Claims{}, fmt.Errorf("auth: token signature: %w", err)
	}
	if !hmac.Equal(sig, s.mac(token[:len(headerSeg)+1+len(payloadSeg)])) {
		return Claims{}, fmt.Errorf("auth: token signature does not match: %w", ErrInvalidKey)
	}

	var p tokenPayload
	if err := decodeSegment(payloadSeg, &p); err != nil {
		return Claims{}, fmt.Errorf("auth: token claims: %w", err)
	}
	role, err := ParseRole(p.Role)
	if err != nil {
		return Claims{}, fmt.Errorf("auth: token claims: %w: %w", err, ErrInvalidKey)
	}
	if strings.ContainsFunc(p.ID, unicode.IsSpace) {
		return Claims{}, fmt.Errorf("auth: token claims: key id contains white space: %w", ErrInvalidKey)
	}
	c := Claims{ID: p.ID, Role: role, Caches: p.Caches}
	if p.Exp < 0 || p.Iat < 0 {
		return Claims{}, fmt.Errorf("auth: token claims: negative time: %w", ErrInvalidKey)
	}
	if p.Exp > 0 {
		c.ExpiresAt = time.Unix(p.Exp, 0).UTC()
	}
	if p.Iat > 0 {
		c.IssuedAt = time.Unix(p.Iat, 0).UTC()
	}
	if !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt) {
		return c, fmt.Errorf("auth: token expired at %s: %w", c.ExpiresAt.Format(time.RFC3339), ErrExpiredKey)
	}
	return c, nil
}

// mac returns the HMAC-SHA256 of signingInput under the secret.
func (s *Signer) mac(signingInput string) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(signingInput))
	return m.Sum(nil)
}

// decodeSegment decodes one base64url JSON segment into v.
func decodeSegment(seg string, v any) error {
	b, err := decodeBase64URL(seg)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %w", err, ErrInvalidKey)
	}
	return nil
}

// decodeBase64URL decodes unpadded base64url, refusing the line breaks that
// encoding/base64 would otherwise skip, so a token has a single spelling.
func decodeBase64URL(seg string) ([]byte, error) {
	if strings.ContainsAny(seg, "\r\n") {
		return nil, fmt.Errorf("line break in base64url: %w", ErrInvalidKey)
	}
	b, err := segmentEncoding.DecodeString(seg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, ErrInvalidKey)
	}
	return b, nil
}

// NewKeyID returns a fresh random key id: 16 bytes from crypto/rand,
// hex-encoded, for Claims.ID.
func NewKeyID() (string, error) {
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("auth: new key id: %w", err)
	}
	return hex.EncodeToString(raw), nil
}

// KeyID returns the id inside token without checking its signature, for
// revoking a key (listing a forged key's id refuses nothing real). It fails
// when the token is malformed or has no id.
func KeyID(token string) (string, error) {
	_, rest, _ := strings.Cut(token, ".")
	payloadSeg, _, ok := strings.Cut(rest, ".")
	if !ok || len(token) > maxTokenLen {
		return "", fmt.Errorf("auth: key id: token is not three dot-separated segments: %w", ErrInvalidKey)
	}
	var p tokenPayload
	if err := decodeSegment(payloadSeg, &p); err != nil {
		return "", fmt.Errorf("auth: key id: %w", err)
	}
	if p.ID == "" {
		return "", fmt.Errorf("auth: key id: the key has no id (it was made before keys had ids); rotate the secret to refuse it: %w", ErrInvalidKey)
	}
	return p.ID, nil
}

// TokenFromHeader returns the token an authorization header carries: the
// value without a "Bearer " prefix and surrounding space, unwrapped when it
// is a whole v1 API key (what `thaw token create` prints) rather than the
// token inside one (what the SDKs send).
func TokenFromHeader(value string) string {
	token := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(value), "Bearer "))
	if _, inner, err := apikey.DecodeV1(token); err == nil {
		return inner
	}
	return token
}
