package client

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// TestLateKeepaliveAckThenCloseIsATimeout covers the freeze case the lab
// found: the ACK of a keepalive PING is read after the keepalive timeout, in
// the same instant grpc-go's expired timer closes the connection. The close
// must still be reported as a keepalive timeout.
func TestLateKeepaliveAckThenCloseIsATimeout(t *testing.T) {
	tests := []struct {
		name      string
		ackAfter  time.Duration
		wantEvent bool
	}{
		{"ack in time, then close", 0, false},
		{"ack late, then close", 60 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			tr := newTracer(slog.New(slog.NewTextHandler(&logs, nil)), Config{KeepaliveTime: 10 * time.Second, KeepaliveTimeout: 40 * time.Millisecond})
			w := &wire{t: tr, id: 1, opened: time.Now()}
			w.out = newFrameParser(true, w.outboundFrame)
			w.in = newFrameParser(false, w.inboundFrame)

			var out, in bytes.Buffer
			out.WriteString(http2.ClientPreface)
			if err := http2.NewFramer(&out, nil).WritePing(false, pingKeepalive); err != nil {
				t.Fatal(err)
			}
			if err := http2.NewFramer(&in, nil).WritePing(true, pingKeepalive); err != nil {
				t.Fatal(err)
			}
			w.feedOut(out.Bytes())
			time.Sleep(tt.ackAfter)
			w.feedIn(in.Bytes())
			w.localClose()

			if got := strings.Contains(logs.String(), EventKeepaliveTimeout); got != tt.wantEvent {
				t.Errorf("keepalive timeout reported = %v, want %v; trace:\n%s", got, tt.wantEvent, logs.String())
			}
		})
	}
}
