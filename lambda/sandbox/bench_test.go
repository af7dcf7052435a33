package sandbox

import (
	"log/slog"
	"os/exec"
	"testing"
	"time"
)

// BenchmarkFreezeThaw measures a freeze and thaw round trip of one sandbox
// per mechanism, side by side, for an idle child (a runtime waiting for its
// next event), a busy one, and a multi-threaded Node.js process. It reports
// the mean freeze and thaw latency as measured by Freeze and Thaw.
//
//	go test -run '^$' -bench FreezeThaw ./lambda/sandbox/
func BenchmarkFreezeThaw(b *testing.B) {
	children := []struct {
		name string
		path string
		args []string
	}{
		{name: "idle", path: "/bin/sleep", args: []string{"3600"}},
		{name: "busy", path: "/bin/sh", args: []string{"-c", busyLoop}},
		{name: "node", path: "node", args: []string{"-e", "setInterval(() => {}, 1000)"}},
	}
	for _, child := range children {
		if _, err := exec.LookPath(child.path); err != nil {
			continue
		}
		for _, mode := range allModes {
			b.Run(child.name+"/"+mode.String(), func(b *testing.B) {
				s := startSandbox(b, Config{Path: child.path, Args: child.args, Mode: mode, Logger: slog.New(slog.DiscardHandler)})
				time.Sleep(100 * time.Millisecond) // let node start its threads
				var frozen, thawed time.Duration
				for b.Loop() {
					f, err := s.Freeze()
					if err != nil {
						b.Fatalf("Freeze() = %v", err)
					}
					t, err := s.Thaw()
					if err != nil {
						b.Fatalf("Thaw() = %v", err)
					}
					frozen += f
					thawed += t
				}
				b.ReportMetric(float64(frozen.Microseconds())/float64(b.N), "freeze-µs/op")
				b.ReportMetric(float64(thawed.Microseconds())/float64(b.N), "thaw-µs/op")
			})
		}
	}
}
