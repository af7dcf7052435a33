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
		wantErr  []string // each in stderr
	}{
		{"no experiment", []string{"lab"}, 2, []string{"Verbs:\n  keepalive", "\n  context", "thaw lab --help"}},
		{"unknown experiment", []string{"lab", "nope"}, 2, []string{`unknown verb "nope"`, "\n  keepalive", "\n  context"}},
		// --help prints every verb's usage and flags.
		{"help", []string{"lab", "--help"}, 0, []string{"Usage: thaw lab keepalive", "-quick", "-latency duration", "Usage: thaw lab context", "setInterval"}},
		{"help verb", []string{"lab", "help"}, 0, []string{"Usage: thaw lab keepalive", "Usage: thaw lab context"}},
		{"keepalive help", []string{"lab", "keepalive", "--help"}, 0, []string{"-quick"}},
		{"keepalive pcap help", []string{"lab", "keepalive", "--help"}, 0, []string{"-pcap dir", "pcapng", "tcp.port==50051,http2"}},
		{"keepalive bad flag", []string{"lab", "keepalive", "--nope"}, 2, []string{"-nope"}},
		{"keepalive sdk versions help", []string{"lab", "keepalive", "--help"}, 0, []string{"-sdk-versions versions", "1.87.0 need --tls"}},
		{"keepalive sdk version range", []string{"lab", "keepalive", "--sdk-versions", "1.56.0,^1.65.0"}, 2, []string{"--sdk-versions", "must be exact", `"^1.65.0"`}},
		{"keepalive sdk version tag", []string{"lab", "keepalive", "--sdk-versions", "latest"}, 2, []string{"must be exact", `"latest"`}},
		{"keepalive stray argument", []string{"lab", "keepalive", "extra"}, 2, []string{`unexpected argument "extra"`}},
		{"context help", []string{"lab", "context", "--help"}, 0, []string{"setInterval"}},
		{"topics listed", []string{"lab"}, 2, []string{"\n  topics"}},
		{"topics help", []string{"lab", "topics", "--help"}, 0, []string{"Usage: thaw lab topics", "-quick", "-json", "-html", "-seed", "-logs", "-pcap dir"}},
		{"topics bad seed", []string{"lab", "topics", "--seed", "0"}, 2, []string{"seed"}},
		{"topics stray argument", []string{"lab", "topics", "extra"}, 2, []string{`unexpected argument "extra"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code != tt.wantCode {
				t.Errorf("run(%q) = %d, want %d\nstderr: %s", tt.args, code, tt.wantCode, stderr.String())
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("run(%q) stderr = %q, want it to mention %q", tt.args, stderr.String(), want)
				}
			}
		})
	}
}
