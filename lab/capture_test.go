package lab

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/internal/pcap"
	"github.com/thaw-dev/thaw/internal/pcap/pcaptest"
)

func TestActivityAt(t *testing.T) {
	tl := sampleReport().Runs[0].Timeline
	at := func(s float64) time.Time { return tl.Start.Add(time.Duration(s * float64(time.Second))) }
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{"first invocation", at(0.2), "invocation req-a"},
		{"its last instant", at(0.4), "invocation req-a"},
		{"between invocations", at(3), "frozen"},
		{"a later invocation", at(12.1), "invocation req-c"},
		{"after the last", at(29.9), "frozen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := activityAt(tl, tt.t); got != tt.want {
				t.Errorf("activityAt(%v) = %q, want %q", tt.t.Sub(tl.Start), got, tt.want)
			}
		})
	}
	if got := invocationName(Invocation{Index: 3}); got != "#3" {
		t.Errorf("invocationName without request id = %q, want %q", got, "#3")
	}
}

func TestHTMLLinksCapture(t *testing.T) {
	dir := t.TempDir()
	report := sampleReport()
	report.Runs[0].Pcap = filepath.Join(dir, "caps", "node-sdk-laptop-blackhole.pcapng")
	page := filepath.Join(dir, "report.html")
	if err := report.WriteHTMLFile(page); err != nil {
		t.Fatalf("WriteHTMLFile: %v", err)
	}
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if want := `<a href="caps/node-sdk-laptop-blackhole.pcapng">`; !strings.Contains(string(data), want) {
		t.Errorf("page lacks %s", want)
	}
}

// TestLabCapture runs a short lab, one Node.js function with keepalive on,
// with captures on, and reads its capture back with tshark: the keepalive
// PING and its ACK are there, every packet's comment names an invocation
// of the report or says "frozen", the freezes and thaws are marked, and
// tshark finds nothing malformed.
func TestLabCapture(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a lab for about half a minute")
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not in PATH", tool)
		}
	}
	pcaptest.Require(t)
	root, err := FindRoot()
	if err != nil {
		t.Fatalf("FindRoot: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	// Seed 1 starts with a 10.5 s freeze, past the Laptop preset's 5 s
	// keepalive interval, so the PING goes out as the function thaws.
	spec := RunSpec{Client: ClientNode, Preset: PresetLaptop, Scenario: ScenarioHealthy}
	report, err := Run(ctx, Options{Root: root, Runs: []RunSpec{spec}, Invocations: 3, PcapDir: dir})
	t.Cleanup(func() { checkNothingLeft(t) })
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	run := report.Runs[0]
	if want := filepath.Join(dir, spec.Name()+".pcapng"); run.Pcap != want {
		t.Fatalf("RunResult.Pcap = %q, want %q", run.Pcap, want)
	}
	if dst := os.Getenv("THAW_LAB_PCAP_KEEP"); dst != "" {
		data, _ := os.ReadFile(run.Pcap)
		os.WriteFile(dst, data, 0o644)
	}

	valid := map[string]bool{"frozen": true}
	notes := map[string]bool{}
	for i, inv := range run.Timeline.Invocations {
		valid["invocation "+invocationName(inv)] = true
		if i > 0 {
			notes["thaw "+invocationName(inv)] = false
		}
	}
	notes["freeze"] = false
	var pings, acks int
	for _, r := range pcaptest.Decode(t, run.Pcap, pcap.ServerPort) {
		if r.Problem != "" {
			t.Errorf("record %d: %s", r.Number, r.Problem)
		}
		if r.Note {
			if _, ok := notes[r.Comment]; !ok {
				t.Errorf("note %d %q, want freeze or thaw <request id of the report>", r.Number, r.Comment)
			}
			notes[r.Comment] = true
			continue
		}
		if !valid[r.Comment] {
			t.Errorf("packet %d comment %q, want invocation <request id of the report> or frozen", r.Number, r.Comment)
		}
		for _, f := range r.HTTP2 {
			switch {
			case f.Type != pcaptest.FramePing:
			case r.Src == "10.0.0.1" && f.Flags == 0:
				pings++
				t.Logf("packet %d: PING from the function, %q", r.Number, r.Comment)
			case r.Src == "10.0.1.1" && f.Flags == pcaptest.FlagAck && pings > acks:
				acks++
				t.Logf("packet %d: PING ACK from the server, %q", r.Number, r.Comment)
			}
		}
	}
	if pings == 0 || acks == 0 {
		t.Errorf("the function sent %d PINGs and the server acknowledged %d, want at least one each (the report counts %d pings sent)",
			pings, acks, run.PingsSent)
	}
	for note, seen := range notes {
		if !seen {
			t.Errorf("no note %q", note)
		}
	}
}
