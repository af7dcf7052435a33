package apikey

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// b64 is the standard, padded base64 of s: the form the SDK requires.
func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestV1KeyRoundTrip(t *testing.T) {
	tests := []struct {
		name, endpoint, apiKey string
	}{
		{"host and port", "127.0.0.1:8080", "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoicmVhZG9ubHkifQ.sig"},
		{"hostname", "thaw.local", "k"},
		{"json specials", `a"b\c<&>`, "key with spaces\n"},
		{"unicode", "ünïcode.example", "🔑"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := EncodeV1(tt.endpoint, tt.apiKey)
			endpoint, apiKey, err := DecodeV1(key)
			if err != nil {
				t.Fatalf("DecodeV1(%q) error = %v", key, err)
			}
			if endpoint != tt.endpoint || apiKey != tt.apiKey {
				t.Errorf("DecodeV1(%q) = %q, %q, want %q, %q", key, endpoint, apiKey, tt.endpoint, tt.apiKey)
			}
		})
	}
}

func TestEncodeV1Format(t *testing.T) {
	got := EncodeV1("127.0.0.1:8080", "tok")
	want := b64(`{"endpoint":"127.0.0.1:8080","api_key":"tok"}`)
	if got != want {
		t.Errorf("EncodeV1() = %q, want %q", got, want)
	}
}

// TestDecodeV1 follows the Node SDK's rules: the string must re-encode
// to itself as standard padded base64, and JSON.parse of it must give
// truthy endpoint and api_key members; order and spacing do not matter.
func TestDecodeV1(t *testing.T) {
	plain := `{"endpoint":"e:1","api_key":"k"}`
	// slashy encodes with a '/' in standard base64, so the URL alphabet
	// spells it differently.
	slashy := `{"endpoint":"e","api_key":"k??"}`
	tests := []struct {
		name    string
		key     string
		wantErr bool
	}{
		{name: "compact", key: b64(plain)},
		{name: "spaces and reversed order", key: b64(`{ "api_key": "k", "endpoint": "e:1" }`)},
		{name: "extra members", key: b64(`{"endpoint":"e:1","api_key":"k","v":2}`)},
		{name: "surrounding json whitespace", key: b64("\n" + plain + "\n")},
		{name: "duplicate member, last wins", key: b64(`{"endpoint":"","endpoint":"e:1","api_key":"k"}`)},
		{name: "escaped member value", key: b64(`{"endpoint":"e:1","api_key":"\u006b"}`)},
		{name: "standard alphabet with slash", key: b64(slashy)},

		{name: "empty", key: "", wantErr: true},
		{name: "url alphabet", key: base64.URLEncoding.EncodeToString([]byte(slashy)), wantErr: true},
		{name: "unpadded", key: strings.TrimRight(b64(plain), "="), wantErr: true},
		{name: "trailing newline", key: b64(plain) + "\n", wantErr: true},
		{name: "embedded newline", key: b64(plain)[:8] + "\n" + b64(plain)[8:], wantErr: true},
		{name: "leading space", key: " " + b64(plain), wantErr: true},
		// b64(plain) ends "In0="; "In1=" decodes to the same bytes leniently.
		{name: "non-canonical trailing bits", key: strings.TrimSuffix(b64(plain), "0=") + "1=", wantErr: true},
		{name: "not base64", key: "not a key!", wantErr: true},
		{name: "raw jwt", key: "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoicmVhZG9ubHkifQ.c2ln", wantErr: true},
		{name: "invalid utf-8", key: b64("{\"endpoint\":\"e\xff\",\"api_key\":\"k\"}"), wantErr: true},
		{name: "not json", key: b64("endpoint=e;api_key=k"), wantErr: true},
		{name: "json array", key: b64(`["e","k"]`), wantErr: true},
		{name: "json null", key: b64(`null`), wantErr: true},
		{name: "no endpoint", key: b64(`{"api_key":"k"}`), wantErr: true},
		{name: "no api_key", key: b64(`{"endpoint":"e"}`), wantErr: true},
		{name: "empty endpoint", key: b64(`{"endpoint":"","api_key":"k"}`), wantErr: true},
		{name: "empty api_key", key: b64(`{"endpoint":"e","api_key":""}`), wantErr: true},
		{name: "null api_key", key: b64(`{"endpoint":"e","api_key":null}`), wantErr: true},
		{name: "upper-case member", key: b64(`{"endpoint":"e","API_KEY":"k"}`), wantErr: true},
		{name: "camel-case member", key: b64(`{"endpoint":"e","apiKey":"k"}`), wantErr: true},
		{name: "numeric api_key", key: b64(`{"endpoint":"e","api_key":7}`), wantErr: true},
		{name: "trailing garbage", key: b64(plain + "x"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			endpoint, apiKey, err := DecodeV1(tt.key)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("DecodeV1(%q) = %q, %q, %v, want ErrInvalid", tt.key, endpoint, apiKey, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeV1(%q) error = %v", tt.key, err)
			}
			if endpoint == "" || apiKey == "" {
				t.Errorf("DecodeV1(%q) = %q, %q, want non-empty values", tt.key, endpoint, apiKey)
			}
		})
	}
}

func FuzzDecodeV1(f *testing.F) {
	f.Add(EncodeV1("127.0.0.1:8080", "eyJhbGciOiJIUzI1NiJ9.e30.sig"))
	f.Add(b64(`{ "api_key": "k", "endpoint": "e" }`))
	f.Add(b64(`{"endpoint":"e","api_key":null}`))
	f.Add(b64(`{"endpoint":"\ud800","api_key":"k"}`))
	f.Add(strings.TrimRight(b64(`{"endpoint":"e","api_key":"k"}`), "="))
	f.Add("")
	f.Add("====")
	f.Fuzz(func(t *testing.T, key string) {
		endpoint, apiKey, err := DecodeV1(key)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("DecodeV1(%q) error = %v, want ErrInvalid", key, err)
			}
			return
		}
		// Accepted keys pass the SDK's own check.
		raw, derr := base64.StdEncoding.DecodeString(key)
		if derr != nil || base64.StdEncoding.EncodeToString(raw) != key || !utf8.Valid(raw) {
			t.Fatalf("DecodeV1(%q) accepted a key the SDK rejects", key)
		}
		if endpoint == "" || apiKey == "" {
			t.Fatalf("DecodeV1(%q) = %q, %q, want non-empty values", key, endpoint, apiKey)
		}
		// Re-encoding what was decoded gives a key with the same contents.
		e2, k2, err := DecodeV1(EncodeV1(endpoint, apiKey))
		if err != nil || e2 != endpoint || k2 != apiKey {
			t.Fatalf("DecodeV1(EncodeV1(%q, %q)) = %q, %q, %v", endpoint, apiKey, e2, k2, err)
		}
	})
}
