package lab

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sampleReport is a small report with every kind of timeline mark, for
// rendering tests that should not wait for a real lab run.
func sampleReport() *Report {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	tl := &Timeline{Start: t0, End: at(30)}
	ends := []float64{0.4, 6.05, 12.3, 21.02, 29.5}
	starts := []float64{0, 6, 12, 21, 29}
	ops := []string{"set", "none", "get", "none", "get"}
	for i := range starts {
		inv := Invocation{Index: i, RequestID: "req-" + string(rune('a'+i)), Start: at(starts[i]), End: at(ends[i]), Op: ops[i], CallMs: 4}
		if i == 4 {
			inv.ErrorCode, inv.Error = "TIMEOUT_ERROR", "deadline exceeded <&>"
		}
		tl.Invocations = append(tl.Invocations, inv)
		if i > 0 {
			tl.Frozen = append(tl.Frozen, Span{Start: at(ends[i-1]), End: at(starts[i])})
		}
	}
	tl.Marks = []Mark{
		{Time: at(6.01), Kind: MarkPingSent, RequestID: "req-b", Conn: "1"},
		{Time: at(12.02), Kind: MarkKeepaliveTimeout, RequestID: "req-c", Conn: "1", Cross: true},
		{Time: at(12.03), Kind: MarkPingAck, RequestID: "req-c", Conn: "1"},
		{Time: at(12.1), Kind: MarkConnOpened, Conn: "proxy#2", Reconnect: true},
		{Time: at(15), Kind: MarkBlackhole, Conn: "proxy#2"},
		{Time: at(21.5), Kind: MarkHeld, Conn: "proxy#2", Detail: "bytes held"},
		{Time: at(29.3), Kind: MarkRetransmission, Conn: "proxy#2", Detail: "retransmission #3", Late: 300 * time.Millisecond},
	}
	run := summarize(RunSpec{Client: ClientNode, Preset: PresetLaptop, Scenario: ScenarioBlackhole}, tl)
	return &Report{Runs: []RunResult{run}, Seed: 1, Invocations: 5, MemoryMB: 512, Latency: DefaultLatency, Jitter: DefaultJitter}
}

func TestSummarizeCountsMarks(t *testing.T) {
	run := sampleReport().Runs[0]
	got := []int{run.Invocations, run.Failed, run.FailedByCode["TIMEOUT_ERROR"], run.KeepaliveTimeouts, run.CrossInvocationTimeouts, run.Reconnects, run.PingsSent, run.PingsAcked,
		run.HeldWhileFrozen, run.DelayedDeliveries, int(run.MaxDeliveryDelayMs)}
	want := []int{5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 300}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("summarize = invocations, failed, TIMEOUT_ERROR, timeouts, cross, reconnects, pings, acks, held, delivered late, max ms %v, want %v", got, want)
		}
	}
}

func TestHTMLIsSelfContained(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteHTML(&b); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	page := b.String()
	for _, banned := range []string{"<script", "http://", "https://", "<link", "@import", "<img"} {
		if strings.Contains(page, banned) {
			t.Errorf("page contains %q; it must load nothing from elsewhere", banned)
		}
	}
	if n := strings.Count(page, "<svg"); n != 2 {
		t.Errorf("page has %d <svg> elements, want 2 (legend and one run)", n)
	}
	if strings.Contains(page, "<&>") {
		t.Error("page contains an unescaped error message")
	}
	for _, drawn := range []string{"bytes held", "retransmission #3", "delivered by retransmission", "<td>1 (1, 300)</td>"} {
		if !strings.Contains(page, drawn) {
			t.Errorf("page lacks %q: the held bytes, their late delivery, the legend or the table cell", drawn)
		}
	}
}

// TestHTMLRendersInChromium opens a report in headless Chromium and checks
// that the screenshot is a non-empty PNG and that nothing was logged to the
// console.
func TestHTMLRendersInChromium(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteHTML(&b); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	renderInChromium(t, b.Bytes())
}

// renderInChromium screenshots page in headless Chromium and checks the result.
func renderInChromium(t *testing.T, page []byte) {
	t.Helper()
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (test.sh installs it)")
	}
	dir := t.TempDir()
	htmlPath := filepath.Join(dir, "report.html")
	shot := filepath.Join(dir, "report.png")
	if err := os.WriteFile(htmlPath, page, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--screenshot="+shot, "--window-size=1200,2000",
		"--enable-logging=stderr", "--v=0", "file://"+htmlPath)
	// Chromium starts helper processes: run it in its own process group and
	// kill the whole group afterwards, so that none outlives the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	err = cmd.Run()
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, logs.Bytes())
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "Uncaught") || strings.Contains(line, ":CONSOLE") {
			t.Errorf("chromium console: %s", line)
		}
	}
	data, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("screenshot: %v\n%s", err, logs.Bytes())
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if !hasSeveralColours(img) {
		t.Errorf("screenshot %dx%d is blank", img.Bounds().Dx(), img.Bounds().Dy())
	}
	if keep := os.Getenv("THAW_LAB_SCREENSHOT"); keep != "" {
		os.WriteFile(keep, data, 0o644)
	}
}

// hasSeveralColours reports whether img is more than one flat colour.
func hasSeveralColours(img image.Image) bool {
	seen := map[[4]uint32]bool{}
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y += 7 {
		for x := r.Min.X; x < r.Max.X; x += 7 {
			cr, cg, cb, ca := img.At(x, y).RGBA()
			seen[[4]uint32{cr, cg, cb, ca}] = true
			if len(seen) > 8 {
				return true
			}
		}
	}
	return false
}
