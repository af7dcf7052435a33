package auth

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
)

// MinSecretLen is the fewest bytes a signing secret may have: HMAC-SHA256
// gets its full strength from a key of at least 32 bytes.
const MinSecretLen = 32

// LoadSecret reads the signing secret from path, trimming surrounding
// whitespace (a trailing newline, say), and rejects one shorter than
// MinSecretLen bytes.
func LoadSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: read secret: %w", err)
	}
	secret := bytes.TrimSpace(b)
	if err := checkSecret(secret); err != nil {
		return nil, fmt.Errorf("auth: secret file %s: %w", path, err)
	}
	return secret, nil
}

// NewSecret returns a fresh random secret: 32 bytes from crypto/rand,
// hex-encoded (64 characters), ready to be written to a secret file.
func NewSecret() ([]byte, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, fmt.Errorf("auth: new secret: %w", err)
	}
	out := make([]byte, hex.EncodedLen(len(raw)))
	hex.Encode(out, raw)
	return out, nil
}

// checkSecret rejects a secret too short to sign with.
func checkSecret(secret []byte) error {
	if len(secret) < MinSecretLen {
		return fmt.Errorf("secret is %d bytes, want at least %d (make one with 'thaw token secret')", len(secret), MinSecretLen)
	}
	return nil
}
