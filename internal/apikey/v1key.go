// Package apikey reads and writes the v1 API key format of the official
// Momento SDKs: base64 of {"endpoint":"...","api_key":"..."}. It is the one
// piece of the key format that both the server (which mints keys) and the Go
// SDK in client/ (which only unwraps them) need, so the SDK does not pull in
// the server's signing code.
package apikey

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrInvalid means a string is not a v1 API key the official SDKs accept.
var ErrInvalid = errors.New("apikey: invalid v1 key")

// v1Key is the JSON inside a v1 API key. The official SDKs parse it with
// JSON.parse, so field order and spacing do not matter to them.
type v1Key struct {
	Endpoint string `json:"endpoint"`
	APIKey   string `json:"api_key"`
}

// EncodeV1 wraps apiKey (a token from auth.Signer.Sign) and the server's
// endpoint in the v1 API key format: standard, padded base64 of the JSON
// {"endpoint":"...","api_key":"..."}. The official SDKs accept it with
// CredentialProvider.fromString and send apiKey as the authorization header.
// Both values must be non-empty for the SDKs to accept the key.
func EncodeV1(endpoint, apiKey string) string {
	// Marshalling a struct of two strings cannot fail.
	b, _ := json.Marshal(v1Key{Endpoint: endpoint, APIKey: apiKey})
	return base64.StdEncoding.EncodeToString(b)
}

// DecodeV1 unwraps a v1 API key, applying the rules of the official
// Node SDK: the key must be standard base64 that re-encodes to exactly
// itself (so padded, no URL alphabet, no whitespace) of valid UTF-8 JSON
// whose "endpoint" and "api_key" members are non-empty. It is stricter than
// the SDK in one way: both members must be strings. Errors wrap
// ErrInvalid.
func DecodeV1(key string) (endpoint, apiKey string, err error) {
	if key == "" {
		return "", "", fmt.Errorf("apikey: v1 key: empty: %w", ErrInvalid)
	}
	b, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		return "", "", fmt.Errorf("apikey: v1 key: %w: %w", err, ErrInvalid)
	}
	if base64.StdEncoding.EncodeToString(b) != key {
		return "", "", fmt.Errorf("apikey: v1 key: not canonical padded standard base64: %w", ErrInvalid)
	}
	if !utf8.Valid(b) {
		return "", "", fmt.Errorf("apikey: v1 key: decoded bytes are not UTF-8: %w", ErrInvalid)
	}
	// A map keeps the member names case-sensitive, as in JavaScript;
	// decoding into v1Key directly would also match "API_KEY".
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		return "", "", fmt.Errorf("apikey: v1 key: %w: %w", err, ErrInvalid)
	}
	if endpoint, err = v1Member(members, "endpoint"); err != nil {
		return "", "", err
	}
	if apiKey, err = v1Member(members, "api_key"); err != nil {
		return "", "", err
	}
	return endpoint, apiKey, nil
}

// v1Member returns the non-empty string member name of a v1 key's JSON.
func v1Member(members map[string]json.RawMessage, name string) (string, error) {
	raw, ok := members[name]
	if !ok {
		return "", fmt.Errorf("apikey: v1 key: no %q member: %w", name, ErrInvalid)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("apikey: v1 key: member %q: %w: %w", name, err, ErrInvalid)
	}
	if s == "" {
		return "", fmt.Errorf("apikey: v1 key: member %q is empty: %w", name, ErrInvalid)
	}
	return s, nil
}
