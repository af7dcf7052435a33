package httpapi

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"net/url"
	"testing"
)

func TestHTTPItemKey(t *testing.T) {
	binary := []byte{0, 0xfb, 0xff, '+', '/'}
	tests := []struct {
		query   string
		want    []byte
		wantErr bool
	}{
		{"key=plain", []byte("plain"), false},
		{"key=%00%FF%2B+x", []byte{0, 0xff, '+', ' ', 'x'}, false},
		{"key_base64=" + base64.RawURLEncoding.EncodeToString(binary), binary, false},
		{"key_base64=" + base64.URLEncoding.EncodeToString(binary), binary, false},
		{"key_base64=" + url.QueryEscape(base64.StdEncoding.EncodeToString(binary)), binary, false},
		{"key_base64=" + url.QueryEscape(base64.RawStdEncoding.EncodeToString(binary)), binary, false},
		{"key_base64=ZXhhbXBsZV9rZXk", []byte("example_key"), false}, // the docs' example
		{"", nil, true},
		{"key=a&key=b", nil, true},
		{"key_base64=a&key_base64=b", nil, true},
		{"key=a&key_base64=YQ", nil, true},
		{"key_base64=*", nil, true},
		{"key_base64=-+", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := itemKey(q)
			if tt.wantErr {
				if !errors.Is(err, errBadRequest) {
					t.Errorf("itemKey(%q) = %q, %v; want a bad-request error", tt.query, got, err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Errorf("itemKey(%q) = %q, %v; want %q", tt.query, got, err, tt.want)
			}
		})
	}
}

func TestHTTPTTLMillis(t *testing.T) {
	tests := []struct {
		query   string
		want    uint64
		wantErr bool
	}{
		{"ttl_seconds=300", 300_000, false},
		{"ttl_seconds=0", 0, false}, // refused by the service's own TTL check
		{"ttl_seconds=18446744073709551", 18446744073709551000, false},
		{"ttl_seconds=18446744073709552", 0, true},
		{"", 0, true},
		{"ttl_seconds=", 0, true},
		{"ttl_seconds=1.5", 0, true},
		{"ttl_seconds=-1", 0, true},
		{"ttl_seconds=%2B1", 0, true},
		{"ttl_seconds=1e3", 0, true},
		{"ttl_seconds=1&ttl_seconds=1", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ttlMillis(q)
			if tt.wantErr {
				if !errors.Is(err, errBadRequest) {
					t.Errorf("ttlMillis(%q) = %d, %v; want a bad-request error", tt.query, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ttlMillis(%q) = %d, %v; want %d", tt.query, got, err, tt.want)
			}
		})
	}
}

func TestHTTPParseRequestCredentials(t *testing.T) {
	tests := []struct {
		name, query string
		headers     []string
		want        string
		wantErr     bool
	}{
		{"none", "", nil, "", false},
		{"header", "", []string{"tok"}, "tok", false},
		{"query", "token=tok", nil, "tok", false},
		{"query, unescaped plus", "token=a+b", nil, "a+b", false},
		{"query, escaped plus", "token=a%2Bb", nil, "a+b", false},
		{"both", "token=tok", []string{"tok"}, "", true},
		{"two headers", "", []string{"a", "b"}, "", true},
		{"two tokens", "token=a&token=b", nil, "", true},
		{"malformed query", "token=%zz", nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/cache/c?"+tt.query, nil)
			for _, h := range tt.headers {
				r.Header.Add("Authorization", h)
			}
			_, creds, err := parseRequest(r)
			if tt.wantErr {
				if !errors.Is(err, errBadRequest) {
					t.Errorf("parseRequest(%q, %q) = %q, %v; want a bad-request error", tt.query, tt.headers, creds.token, err)
				}
				return
			}
			if err != nil || creds.token != tt.want {
				t.Errorf("parseRequest(%q, %q) = %q, %v; want %q", tt.query, tt.headers, creds.token, err, tt.want)
			}
		})
	}
}

// FuzzHTTPParams: no query string makes the parameter readers panic, and a key
// they accept is what the parameter said.
func FuzzHTTPParams(f *testing.F) {
	for _, seed := range []string{"key=a", "key_base64=YQ", "key=%00&ttl_seconds=5", "ttl_seconds=99999999999999999999", "key_base64=a=b", "token=x+y"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest("GET", "/cache/c", nil)
		r.URL.RawQuery = raw
		q, _, err := parseRequest(r)
		if err != nil {
			return
		}
		if key, err := itemKey(q); err == nil {
			if v, ok := q["key"]; ok && string(key) != v[0] {
				t.Errorf("itemKey(%q) = %q, want the key parameter %q", raw, key, v[0])
			}
		}
		if ms, err := ttlMillis(q); err == nil && ms%1000 != 0 {
			t.Errorf("ttlMillis(%q) = %d, want whole seconds", raw, ms)
		}
	})
}
