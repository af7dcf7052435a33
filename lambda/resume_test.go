package lambda_test

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/lambda"
	"github.com/thaw-dev/thaw/lambda/lambdatest"
)

// probeReply is what lambda/internal/resumeprobe saw while it waited in /next.
type probeReply struct {
	RequestID         string `json:"request_id"`
	LastEmptyUnixNano int64  `json:"last_empty_unix_nano"`
	EmptyPolls        int64  `json:"empty_polls"`
}

// TestResumeOrder freezes the resume probe inside /next and invokes it once
// the environment is frozen. The probe polls its socket in a tight loop, so
// it resumes polling the moment it is thawed. Event-first (the default), the
// event is in the socket before the thaw: no poll after the invoke was sent
// can find the socket empty, whatever the machine's load, so the assertion is
// on an ordering, not on a timing. Thaw-first, the probe usually polls an
// empty socket between the thaw and the event; that depends on scheduling, so
// it is only logged.
func TestResumeOrder(t *testing.T) {
	probe := filepath.Join(t.TempDir(), "bootstrap")
	if err := goBuild("./internal/resumeprobe", probe); err != nil {
		t.Fatal(err)
	}
	const invocations = 3
	for _, mode := range freezeModes(t) {
		for _, tc := range []struct {
			name       string
			order      lambda.ResumeOrder
			eventFirst bool
		}{
			{"default is event-first", "", true},
			{"thaw-first", lambda.ResumeThawFirst, false},
		} {
			t.Run(mode.String()+"/"+tc.name, func(t *testing.T) {
				cpuScaling := false
				fn := lambda.Function{Name: "probe", Runtime: lambda.RuntimeProvided, Code: probe, Handler: "bootstrap", Timeout: 5 * time.Second, CPUScaling: &cpuScaling}
				h := startEmulatorConfig(t, lambda.Config{FreezeMode: mode, ResumeOrder: tc.order, Functions: []lambda.Function{fn}})
				var r probeReply
				lambdatest.InvokeOK(t, http.DefaultClient, h.emu.Addr(), "probe", `{}`, &r) // cold start: no freeze before it
				emptyAfterSend := 0
				for i := range invocations {
					waitFor(t, "the probe's environment to freeze", func() bool {
						live := h.live()
						return len(live) == 1 && live[0].State == lambda.StateFrozen
					})
					sent := time.Now()
					lambdatest.InvokeOK(t, http.DefaultClient, h.emu.Addr(), "probe", `{}`, &r)
					if r.LastEmptyUnixNano > sent.UnixNano() {
						emptyAfterSend++
						if tc.eventFirst {
							t.Errorf("invocation %d: the probe found its socket empty %v after the invoke was sent (%d empty polls in all): the event was not waiting when it resumed",
								i+2, time.Duration(r.LastEmptyUnixNano-sent.UnixNano()), r.EmptyPolls)
						}
					}
				}
				if !tc.eventFirst {
					t.Logf("thaw-first: the probe polled an empty socket after the invoke in %d of %d warm invocations", emptyAfterSend, invocations)
				}
				if live := h.live(); len(live) != 1 || live[0].Invocations != invocations+1 {
					t.Errorf("environments = %+v, want one that ran %d invocations", live, invocations+1)
				}
			})
		}
	}
}

// TestParseResumeOrder checks the names the CLI and the lab accept.
func TestParseResumeOrder(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    lambda.ResumeOrder
		wantErr bool
	}{
		{"", lambda.ResumeEventFirst, false},
		{"event-first", lambda.ResumeEventFirst, false},
		{"thaw-first", lambda.ResumeThawFirst, false},
		{"both", "", true},
	} {
		got, err := lambda.ParseResumeOrder(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("ParseResumeOrder(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}
