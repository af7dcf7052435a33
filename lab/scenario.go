package lab

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/thaw-dev/thaw/lambda"
)

// Clients the lab drives.
const (
	// ClientNode is the official Momento Node.js SDK: the @gomomento/sdk
	// version lab/functions/node/package.json pins (1.118.1), or the one a
	// RunSpec's SDKVersion names.
	ClientNode = "node-sdk"
	// ClientGo is thaw's Go client (package client).
	ClientGo = "go-sdk"
)

// Presets are the client configurations compared.
const (
	// PresetLaptop keeps keepalive on: Configurations.Laptop.v1() in Node
	// (ping every 5 s, 1 s timeout), client.Laptop() in Go (10 s, 1 s).
	PresetLaptop = "laptop"
	// PresetLambda turns keepalive off: Configurations.Lambda.latest() in
	// Node, client.Lambda() in Go (with freeze-aware recovery).
	PresetLambda = "lambda"
	// PresetInRegion is the SDKs' in-region configuration, keepalive on with
	// a 1.1 s deadline. Optional.
	PresetInRegion = "inregion"
)

// Scenarios are what the network does.
const (
	// ScenarioHealthy leaves the network alone apart from its latency.
	ScenarioHealthy = "healthy"
	// ScenarioBlackhole silently discards, during some long freezes, every
	// byte of the function's existing connections in both directions (no FIN,
	// no RST) while new connections still work: a NAT or load balancer that
	// forgot the flow.
	ScenarioBlackhole = "blackhole"
	// ScenarioRetransmit holds, during every freeze, what the server sends
	// to the function, as Lambda's paused microVM neither takes nor
	// acknowledges it, and delivers it after the thaw when the server's TCP
	// would retransmit it: at its next timeout retransmission (the timeout
	// starts at netem.MinRTO plus the round trip and doubles), or one round
	// trip after the server sends something new (a fast retransmission
	// once the function acknowledges that selectively); see
	// netem.Proxy.Release. What the server sends later queues behind it. On
	// this machine the function's own kernel would acknowledge it at once.
	ScenarioRetransmit = "retransmit"
)

// Scenarios lists the scenarios of thaw lab keepalive.
func Scenarios() []string { return []string{ScenarioHealthy, ScenarioBlackhole, ScenarioRetransmit} }

// RunSpec names one run: a function with one client and preset, under one
// scenario.
type RunSpec struct {
	Client   string
	Preset   string
	Scenario string
	// SDKVersion is, for ClientNode, the exact @gomomento/sdk version to run
	// (see EnsureNodeSDK); empty means the version the lab pins. Go runs
	// leave it empty.
	SDKVersion string
	// ResumeOrder is the emulator's resume order for the run's function
	// (lambda.ResumeOrder); empty means lambda.ResumeEventFirst.
	ResumeOrder lambda.ResumeOrder
}

// Name is the run's name, also its function's name in the emulator:
// client-preset-scenario, with the SDK version after the client when the
// run names one (node-sdk-1_56_0-laptop-healthy) and "-thaw_first" at the
// end when the run resumes thaw-first.
func (s RunSpec) Name() string {
	name := fmt.Sprintf("%s-%s-%s", s.Client, s.Preset, s.Scenario)
	if s.SDKVersion != "" {
		name = fmt.Sprintf("%s-%s-%s-%s", s.Client, strings.ReplaceAll(s.SDKVersion, ".", "_"), s.Preset, s.Scenario)
	}
	if s.ResumeOrder == lambda.ResumeThawFirst {
		name += "-thaw_first"
	}
	return name
}

// Label is the run's name for people: client/preset/scenario, or
// client@version/preset/scenario, followed by " (thaw-first)" when the run
// resumes thaw-first.
func (s RunSpec) Label() string {
	client := s.Client
	if s.SDKVersion != "" {
		client += "@" + s.SDKVersion
	}
	label := client + "/" + s.Preset + "/" + s.Scenario
	if s.ResumeOrder == lambda.ResumeThawFirst {
		label += " (thaw-first)"
	}
	return label
}

// Step is one invocation of a schedule and the idle gap before it.
type Step struct {
	// Gap is how long the function sits frozen before this invocation; zero
	// for the first.
	Gap time.Duration
	// Op is what the handler does: "none" (return at once, without giving
	// the event loop a turn), "get" or "set" (one cache call).
	Op string
	// Work is extra handler time: a CPU spin for "none", a wait after the
	// cache call otherwise.
	Work time.Duration
	// Key picks the cache key of a get or set.
	Key int
	// Blackhole marks a gap during which the blackhole scenario silences the
	// function's connections.
	Blackhole bool
}

// BlackholeMinGap is the shortest gap during which the blackhole scenario
// drops flows: a middlebox's idle timeout, scaled down to the lab's gaps.
const BlackholeMinGap = 8 * time.Second

// Schedule draws n invocations from seed. Its shape follows real traffic
// to a small function: a quarter of the gaps under a second, a third of them
// 1–5 s, the rest 5–12 s (well past the Node SDK's 5 s keepalive interval
// and past the Go client's 10 s); a third of the invocations make a cache
// call, the others return at once. The first invocation is a cold start that
// writes a key. Every run of a lab uses the same schedule, so the runs differ
// only in client, preset and scenario.
func Schedule(seed uint64, n int) []Step {
	rng := rand.New(rand.NewPCG(seed, 0x7468617720_6c6162))
	between := func(lo, hi time.Duration) time.Duration {
		return lo + time.Duration(rng.Int64N(int64(hi-lo)))
	}
	steps := make([]Step, 0, n)
	for i := range n {
		s := Step{Key: rng.IntN(8)}
		if i == 0 {
			s.Op = "set"
		} else {
			switch r := rng.Float64(); {
			case r < 0.25:
				s.Gap = between(200*time.Millisecond, time.Second)
			case r < 0.6:
				s.Gap = between(time.Second, 5*time.Second)
			default:
				s.Gap = between(5*time.Second, 12*time.Second)
			}
			switch r := rng.Float64(); {
			case r < 1.0/6:
				s.Op = "get"
			case r < 1.0/3:
				s.Op = "set"
			default:
				s.Op = "none"
			}
		}
		if s.Op == "none" {
			s.Work = between(0, 20*time.Millisecond)
		} else {
			s.Work = between(0, 50*time.Millisecond)
		}
		s.Blackhole = s.Gap >= BlackholeMinGap
		steps = append(steps, s)
	}
	return steps
}

// scheduleDuration is the sum of a schedule's gaps.
func scheduleDuration(steps []Step) time.Duration {
	var d time.Duration
	for _, s := range steps {
		d += s.Gap
	}
	return d
}

// TriggerGap and TriggerBlackholeGap are TriggerSchedule's gaps: longer than
// the Node SDK's 5 s keepalive interval, and the second also longer than
// BlackholeMinGap.
const (
	TriggerGap          = 6 * time.Second
	TriggerBlackholeGap = BlackholeMinGap + 500*time.Millisecond
)

// TriggerSchedule is n invocations built to trigger the seed's mechanism
// rather than to resemble traffic, for a short regression check. After the
// cold start every gap is longer than the Node SDK's keepalive interval, so
// grpc-js sends its overdue PING as the function thaws; most invocations
// return at once, so the environment is frozen again before the ACK is read
// and the PING's timeout passes during the next freeze. Every third gap is
// TriggerBlackholeGap and ends in a get: the call the blackhole scenario
// makes on a silenced connection.
func TriggerSchedule(n int) []Step {
	steps := make([]Step, 0, n)
	for i := range n {
		switch {
		case i == 0:
			steps = append(steps, Step{Op: "set"})
		case i%3 == 0:
			steps = append(steps, Step{Gap: TriggerBlackholeGap, Op: "get", Blackhole: true})
		default:
			steps = append(steps, Step{Gap: TriggerGap, Op: "none"})
		}
	}
	return steps
}

// TeardownGap is the short gap of TeardownSchedule: shorter than the Node
// SDK's 1 s keepalive timeout, longer than the second retransmission
// (three timeouts) of a server at the default round trip, so that under
// ScenarioRetransmit the ACK of a PING sent just before the freeze arrives
// only after that timeout, while the next invocation runs.
const TeardownGap = 800 * time.Millisecond

// TeardownSchedule is n invocations built to put a cache call on the
// connection a keepalive timeout is about to tear down. After the cold
// start, pairs repeat: a gap longer than the Node SDK's keepalive interval
// followed by an invocation that returns at once (the overdue PING goes out
// as it thaws, and it freezes before the ACK), then TeardownGap and a get,
// issued before the PING's timeout has passed. On a healthy network the ACK
// is read at once and nothing happens; under ScenarioRetransmit it waits for
// the server's retransmission, the timeout fires while the get is in flight,
// and the get's answer is queued behind that ACK.
func TeardownSchedule(n int) []Step {
	steps := make([]Step, 0, n)
	for i := range n {
		switch {
		case i == 0:
			steps = append(steps, Step{Op: "set"})
		case i%2 == 1:
			steps = append(steps, Step{Gap: TriggerGap, Op: "none"})
		default:
			steps = append(steps, Step{Gap: TeardownGap, Op: "get", Key: i % 8})
		}
	}
	return steps
}

// Schedules a lab run can replay, by name (Options.Schedule).
const (
	// ScheduleSeeded is Schedule: traffic-like, drawn from the seed.
	ScheduleSeeded = "seeded"
	// ScheduleTrigger is TriggerSchedule.
	ScheduleTrigger = "trigger"
	// ScheduleTeardown is TeardownSchedule.
	ScheduleTeardown = "teardown"
)

// NamedSchedule returns the schedule called name with n invocations, drawn
// from seed where it is ScheduleSeeded.
func NamedSchedule(name string, seed uint64, n int) ([]Step, error) {
	switch name {
	case ScheduleSeeded, "":
		return Schedule(seed, n), nil
	case ScheduleTrigger:
		return TriggerSchedule(n), nil
	case ScheduleTeardown:
		return TeardownSchedule(n), nil
	}
	return nil, fmt.Errorf("lab: unknown schedule %q (want %s, %s or %s)", name, ScheduleSeeded, ScheduleTrigger, ScheduleTeardown)
}
