// Package authtest helps tests make API keys.
package authtest

import (
	"testing"

	"github.com/thaw-dev/thaw/internal/auth"
)

// Signer returns a function that signs claims with secret into an API key,
// failing t if secret or the claims cannot make one.
func Signer(t testing.TB, secret []byte) func(auth.Claims) string {
	t.Helper()
	signer, err := auth.NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	return func(c auth.Claims) string {
		t.Helper()
		tok, err := signer.Sign(c)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		return tok
	}
}
