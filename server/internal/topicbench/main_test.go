package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestSmoke runs both measurements at a tiny scale against a server in this
// process, so that the command keeps working; its figures mean nothing.
func TestSmoke(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := []string{
		"-subscribers", "5", "-slow", "1", "-slow-delay", "20ms", "-messages", "40", "-rate", "400",
		"-retention", "8", "-heartbeat", "50ms",
		"-idle", "20", "-idle-topics", "3", "-idle-window", "300ms", "-settle", "100ms", "-streams-per-conn", "4",
	}
	if code := run(t.Context(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("topicbench %q = exit %d\nstderr: %s\nstdout: %s", args, code, stderr.String(), stdout.String())
	}
	for _, want := range []string{"Fan-out: 1 publisher -> 5 subscribers", "Idle: 20 subscriptions over 3 topics", "heartbeats sent"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("topicbench output lacks %q:\n%s", want, stdout.String())
		}
	}
}
