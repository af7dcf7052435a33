package lab

import (
	"cmp"
	"math"
	"sort"
	"time"

	"github.com/thaw-dev/thaw/lambda"
)

// FirstAfterThawMinGap is the shortest freeze after which an invocation's
// cache call counts as a "first call after a thaw" for FirstAfterThawP99Ms:
// longer than any pause between the calls of a busy invocation, as the Go
// client's recovery threshold.
const FirstAfterThawMinGap = 2 * time.Second

// RunResult is one run's metrics. Its JSON names are read by other tools and
// must not change.
type RunResult struct {
	Client   string `json:"client"`
	Preset   string `json:"preset"`
	Scenario string `json:"scenario"`
	// SDKVersion is the client's version: the @gomomento/sdk version of a
	// node-sdk run, GoSDKVersion ("checkout") for a go-sdk run.
	SDKVersion string `json:"sdk_version"`
	// ResumeOrder is the emulator's resume order for the run:
	// "event-first" (the event waits in the runtime's socket at the thaw, as
	// on Lambda) or "thaw-first" (it is written after the thaw).
	ResumeOrder string `json:"resume_order"`
	// Invocations is how many invocations the run made.
	Invocations int `json:"invocations"`
	// Failed counts invocations whose caller saw an error: a cache call
	// that failed, or the invocation itself.
	Failed int `json:"failed"`
	// FailedByCode splits Failed by error code (the Node SDK's codes, e.g.
	// TIMEOUT_ERROR; INVOKE_* and FUNCTION_ERROR for the invocation).
	FailedByCode map[string]int `json:"failed_by_code"`
	// KeepaliveTimeouts counts keepalive PINGs the client gave up on.
	KeepaliveTimeouts int `json:"keepalive_timeouts"`
	// CrossInvocationTimeouts counts those logged under a different request
	// id than the PING they answer.
	CrossInvocationTimeouts int `json:"cross_invocation_timeouts"`
	// Reconnects counts connections the function opened after its first
	// invocation, as the proxy saw them.
	Reconnects int `json:"reconnects"`
	// P50Ms and P99Ms are cache-call latencies measured in the handler,
	// failed calls included.
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	// FirstAfterThawP99Ms is the p99 of cache calls made by invocations that
	// followed a freeze of at least FirstAfterThawMinGap.
	FirstAfterThawP99Ms float64 `json:"first_after_thaw_p99_ms"`
	// HeldWhileFrozen counts, under ScenarioRetransmit, the times bytes
	// from the server reached the frozen function on one connection;
	// DelayedDeliveries those the server's retransmission delivered before
	// the run ended (the others waited across further freezes until their
	// connection closed, or past the end), and
	// MaxDeliveryDelayMs the longest of those waits after the thaw. All
	// zero in other scenarios.
	HeldWhileFrozen    int     `json:"held_while_frozen"`
	DelayedDeliveries  int     `json:"delayed_deliveries"`
	MaxDeliveryDelayMs float64 `json:"max_delivery_delay_ms"`
	// Pcap is the path of the run's packet capture, when Options.PcapDir
	// asked for one; absent otherwise.
	Pcap string `json:"pcap,omitempty"`

	// PingsSent and PingsAcked count keepalive PINGs and their ACKs.
	PingsSent  int `json:"-"`
	PingsAcked int `json:"-"`
	// TimeoutInvocations counts the invocations during which at least one
	// keepalive timeout was logged.
	TimeoutInvocations int `json:"-"`
	// CacheCalls counts invocations that made a cache call.
	CacheCalls int `json:"-"`
	// Timeline is what the metrics were computed from.
	Timeline *Timeline `json:"-"`
}

// Label is the run's name for people: client@version/preset/scenario for a
// node-sdk run, client/preset/scenario for a go-sdk run.
func (r RunResult) Label() string {
	spec := RunSpec{Client: r.Client, Preset: r.Preset, Scenario: r.Scenario, ResumeOrder: lambda.ResumeOrder(r.ResumeOrder)}
	if r.Client == ClientNode {
		spec.SDKVersion = r.SDKVersion
	}
	return spec.Label()
}

// summarize computes a run's metrics from its timeline.
func summarize(spec RunSpec, tl *Timeline) RunResult {
	res := RunResult{
		Client: spec.Client, Preset: spec.Preset, Scenario: spec.Scenario,
		ResumeOrder:  string(cmp.Or(spec.ResumeOrder, lambda.ResumeEventFirst)),
		Invocations:  len(tl.Invocations),
		FailedByCode: map[string]int{},
		Timeline:     tl,
	}
	var all, afterThaw []float64
	for _, inv := range tl.Invocations {
		if inv.Failed() {
			res.Failed++
			res.FailedByCode[inv.ErrorCode]++
		}
		if inv.Op == "get" || inv.Op == "set" {
			res.CacheCalls++
			all = append(all, inv.CallMs)
			if inv.Gap >= FirstAfterThawMinGap {
				afterThaw = append(afterThaw, inv.CallMs)
			}
		}
	}
	var firstEnd time.Time
	if len(tl.Invocations) > 0 {
		firstEnd = tl.Invocations[0].End
	}
	timeoutIn := map[string]bool{}
	for i, m := range tl.Marks {
		switch m.Kind {
		case MarkPingSent:
			res.PingsSent++
		case MarkPingAck:
			res.PingsAcked++
		case MarkKeepaliveTimeout:
			res.KeepaliveTimeouts++
			timeoutIn[m.RequestID] = true
			if m.Cross {
				res.CrossInvocationTimeouts++
			}
		case MarkHeld:
			res.HeldWhileFrozen++
		case MarkRetransmission:
			res.DelayedDeliveries++
			res.MaxDeliveryDelayMs = max(res.MaxDeliveryDelayMs, float64(m.Late.Milliseconds()))
		case MarkConnOpened:
			if !firstEnd.IsZero() && m.Time.After(firstEnd) {
				res.Reconnects++
				tl.Marks[i].Reconnect = true
			}
		}
	}
	res.TimeoutInvocations = len(timeoutIn)
	res.P50Ms = percentile(all, 50)
	res.P99Ms = percentile(all, 99)
	res.FirstAfterThawP99Ms = percentile(afterThaw, 99)
	return res
}

// percentile is the nearest-rank percentile p of xs, rounded to 0.01 ms;
// zero for no samples.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	rank = min(max(rank, 1), len(s))
	return math.Round(s[rank-1]*100) / 100
}
