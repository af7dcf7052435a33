package testadmin

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHandler(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen: %v", err)
	}
	lis := NewBlockableListener(raw)
	t.Cleanup(func() { lis.Close() })

	srv := httptest.NewServer(Handler(lis, nil))
	t.Cleanup(srv.Close)
	client := &http.Client{
		// A redirect would hide a path the handler does not serve itself.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t.Cleanup(client.CloseIdleConnections)

	tests := []struct {
		name        string
		method      string
		path        string
		wantStatus  int
		wantBody    string
		wantBlocked bool
	}{
		{"get block", http.MethodGet, "/block", http.StatusOK, "blocked\n", true},
		{"get unblock", http.MethodGet, "/unblock", http.StatusOK, "unblocked\n", false},
		{"post block", http.MethodPost, "/block", http.StatusOK, "blocked\n", true},
		{"post unblock", http.MethodPost, "/unblock", http.StatusOK, "unblocked\n", false},
		{"double slash as the Go SDK sends", http.MethodGet, "//block", http.StatusOK, "blocked\n", true},
		{"trailing slash", http.MethodGet, "/unblock/", http.StatusOK, "unblocked\n", false},
		{"block twice", http.MethodGet, "/block", http.StatusOK, "blocked\n", true},
		{"unknown path keeps state", http.MethodGet, "/status", http.StatusNotFound, "", true},
		{"root", http.MethodGet, "/", http.StatusNotFound, "", true},
		{"wrong method keeps state", http.MethodPut, "/unblock", http.StatusMethodNotAllowed, "", true},
		{"delete", http.MethodDelete, "/unblock", http.StatusMethodNotAllowed, "", true},
		{"unblock at last", http.MethodGet, "/unblock", http.StatusOK, "unblocked\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatalf("NewRequest: %v", err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", tt.method, tt.path, err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("reading body: %v", err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("%s %s status = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.wantStatus)
			}
			if tt.wantBody != "" && string(body) != tt.wantBody {
				t.Errorf("%s %s body = %q, want %q", tt.method, tt.path, body, tt.wantBody)
			}
			if got := lis.Blocked(); got != tt.wantBlocked {
				t.Errorf("Blocked() after %s %s = %v, want %v", tt.method, tt.path, got, tt.wantBlocked)
			}
		})
	}
}
