package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestLabUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no experiment", []string{"lab"}, 2, "thaw lab keepalive"},
		{"unknown experiment", []string{"lab", "nope"}, 2, "thaw lab context"},
		{"help", []string{"lab", "--help"}, 0, "thaw lab keepalive"},
		{"keepalive help", []string{"lab", "keepalive", "--help"}, 0, "--quick"},
		{"keepalive bad flag", []string{"lab", "keepalive", "--nope"}, 2, "-nope"},
		{"keepalive stray argument", []string{"lab", "keepalive", "extra"}, 2, `unexpected argument "extra"`},
		{"context help", []string{"lab", "context", "--help"}, 0, "setInterval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code != tt.wantCode {
				t.Errorf("run(%q) = %d, want %d\nstderr: %s", tt.args, code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("run(%q) stderr = %q, want it to mention %q", tt.args, stderr.String(), tt.wantErr)
			}
		})
	}
}
