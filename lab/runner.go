package lab

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/thaw-dev/thaw/internal/certs"
	"github.com/thaw-dev/thaw/internal/netem"
	"github.com/thaw-dev/thaw/internal/pcap"
	"github.com/thaw-dev/thaw/lambda"
	"github.com/thaw-dev/thaw/server"
)

// Defaults of Options.
const (
	// DefaultInvocations is the full run's invocations per run.
	DefaultInvocations = 40
	// QuickInvocations is --quick's invocations per run, about a minute.
	QuickInvocations = 14
	// DefaultLatency and DefaultJitter are the proxy's one-way delay:
	// 1–5 ms, as across a region.
	DefaultLatency = 3 * time.Millisecond
	DefaultJitter  = 2 * time.Millisecond
	// DefaultMemoryMB is the functions' memory setting, which gives each
	// 512/1769 of a core, as on Lambda.
	DefaultMemoryMB = 512
	// cacheName is the cache every function uses.
	cacheName = "lab"
	// functionTimeout bounds one invocation, beyond every client deadline.
	functionTimeout = 15 * time.Second
)

// Options say what a lab run does. The zero value, with Root found by
// FindRoot, is the full run.
type Options struct {
	// Root is the thaw checkout holding the lab's functions. Empty: FindRoot.
	Root string
	// Runs are the runs, all concurrent. Empty: DefaultRuns.
	Runs []RunSpec
	// Invocations per run. Default DefaultInvocations.
	Invocations int
	// Seed draws the schedule and the proxy's jitter. Default 1.
	Seed uint64
	// Schedule, when set, is the schedule every run replays instead of the
	// one Seed and Invocations draw (see TriggerSchedule).
	Schedule []Step
	// CacheDir keeps the SDK versions RunSpec.SDKVersion asks for, one
	// node_modules per version, across lab runs. Default DefaultCacheDir.
	CacheDir string
	// TLS serves the cache over TLS with a throwaway CA.
	TLS bool
	// Latency and Jitter are the proxy's one-way delay; zero Latency means
	// DefaultLatency with DefaultJitter.
	Latency, Jitter time.Duration
	// MemoryMB is each function's memory setting, which sets its CPU share.
	// Default DefaultMemoryMB.
	MemoryMB int
	// LogDir, when set, keeps the functions' logs there (NAME.log) instead
	// of in a temporary directory removed at the end.
	LogDir string
	// PcapDir, when set, receives one packet capture per run,
	// NAME.pcapng: every connection of the run's function as its proxy
	// carried it, each packet commented with the invocation running when it
	// passed, or "frozen" (see writeCapture). The captures are kept in
	// memory until the end.
	PcapDir string
	// Progress receives progress; nil is silent.
	Progress *Progress
	// Logger receives the server's and emulator's own logs. Nil discards them.
	Logger *slog.Logger

	// pinnedSDK is the SDK version of runs without a SDKVersion.
	pinnedSDK string
}

// ErrUnknownRun means a RunSpec names a client, preset or scenario the lab
// does not have.
var ErrUnknownRun = errors.New("lab: unknown client, preset or scenario")

// ErrTLSOnly means a run asks for an SDK version that cannot connect without
// TLS in a lab without TLS.
var ErrTLSOnly = errors.New("lab: SDK version needs TLS")

// firstPlaintextSDK is the first @gomomento/sdk release that can connect
// without TLS (secureConnection, momentohq/client-sdk-javascript#1293).
const firstPlaintextSDK = "1.87.0"

// versionBefore reports whether exact version a is older than b, comparing
// major, minor and patch numerically (a prerelease counts as its release).
func versionBefore(a, b string) bool {
	parse := func(v string) (n [3]int) {
		v, _, _ = strings.Cut(v, "-")
		for i, part := range strings.SplitN(v, ".", 3) {
			n[i], _ = strconv.Atoi(part)
		}
		return n
	}
	na, nb := parse(a), parse(b)
	return slices.Compare(na[:], nb[:]) < 0
}

// DefaultRuns are the eight runs: both clients, laptop and lambda presets,
// healthy and blackhole scenarios.
func DefaultRuns() []RunSpec {
	var runs []RunSpec
	for _, c := range []string{ClientNode, ClientGo} {
		for _, p := range []string{PresetLaptop, PresetLambda} {
			for _, s := range []string{ScenarioHealthy, ScenarioBlackhole} {
				runs = append(runs, RunSpec{Client: c, Preset: p, Scenario: s})
			}
		}
	}
	return runs
}

func (o *Options) setDefaults() error {
	if o.Root == "" {
		root, err := FindRoot()
		if err != nil {
			return err
		}
		o.Root = root
	}
	if len(o.Runs) == 0 {
		o.Runs = DefaultRuns()
	}
	pinned, err := PinnedSDKVersion(o.Root)
	if err != nil {
		return err
	}
	o.pinnedSDK = pinned
	o.Runs = slices.Clone(o.Runs)
	for i, s := range o.Runs {
		okClient := s.Client == ClientNode || s.Client == ClientGo
		okPreset := s.Preset == PresetLaptop || s.Preset == PresetLambda || s.Preset == PresetInRegion
		okScenario := slices.Contains(Scenarios(), s.Scenario)
		if !okClient || !okPreset || !okScenario || (s.Client != ClientNode && s.SDKVersion != "") {
			return fmt.Errorf("%w: %s", ErrUnknownRun, s.Label())
		}
		order, err := lambda.ParseResumeOrder(string(s.ResumeOrder))
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrUnknownRun, s.Label(), err)
		}
		o.Runs[i].ResumeOrder = order
		if s.SDKVersion == "" {
			continue
		}
		if err := CheckSDKVersion(s.SDKVersion); err != nil {
			return err
		}
		if !o.TLS && versionBefore(s.SDKVersion, firstPlaintextSDK) {
			return fmt.Errorf("%w: %s %s always connects with TLS (plaintext came in %s): add --tls (Options.TLS)",
				ErrTLSOnly, sdkPackage, s.SDKVersion, firstPlaintextSDK)
		}
		if s.SDKVersion == pinned {
			o.Runs[i].SDKVersion = "" // the checkout's own install
		}
	}
	if o.CacheDir == "" && slices.ContainsFunc(o.Runs, func(s RunSpec) bool { return s.SDKVersion != "" }) {
		if o.CacheDir, err = DefaultCacheDir(); err != nil {
			return err
		}
	}
	if o.Invocations <= 0 {
		o.Invocations = DefaultInvocations
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Latency == 0 {
		o.Latency, o.Jitter = DefaultLatency, DefaultJitter
	}
	if o.MemoryMB <= 0 {
		o.MemoryMB = DefaultMemoryMB
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// run is one run in progress.
type run struct {
	// coldStarts, shared by a lab's runs, lets as many first invocations
	// run at once as the machine has cores: a dozen Node.js functions
	// initializing together on 2 cores, each capped at its memory's CPU
	// share, all miss the 10 s init deadline (Runtime.InitTimeout). The runs
	// still replay the same schedule, each from its own first invocation.
	coldStarts chan struct{}
	spec       RunSpec
	proxy      *netem.Proxy
	// rto is the retransmission timeout of the server's side under
	// ScenarioRetransmit: netem.MinRTO plus the proxy's round trip.
	rto time.Duration

	mu    sync.Mutex // guards marks
	marks []Mark     // guarded by mu: the proxy's marks

	timeline Timeline
	capture  *pcap.Capture // nil unless Options.PcapDir is set
}

// Run runs the lab: it prepares the functions, starts the server, one proxy
// per run and the emulator, replays the schedule in every run at once and
// returns the report. It stops everything it started before returning, also
// on error or when ctx ends.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "thaw-lab-")
	if err != nil {
		return nil, fmt.Errorf("lab: temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	if opts.PcapDir != "" {
		if err := os.MkdirAll(opts.PcapDir, 0o755); err != nil {
			return nil, fmt.Errorf("lab: pcap dir: %w", err)
		}
	}

	codeDirs, goDir, err := prepareFunctions(ctx, opts, tmp)
	if err != nil {
		return nil, err
	}

	srvCfg := server.Config{Addr: "127.0.0.1:0", CreateCaches: []string{cacheName}, Logger: opts.Logger}
	var tlsFiles certs.Files
	if opts.TLS {
		if tlsFiles, err = certs.WriteLocalCA(tmp); err != nil {
			return nil, err
		}
		srvCfg.TLSCertFile, srvCfg.TLSKeyFile = tlsFiles.Cert, tlsFiles.Key
	}
	srv, err := server.Start(ctx, srvCfg)
	if err != nil {
		return nil, fmt.Errorf("lab: start cache server: %w", err)
	}
	defer srv.Close()

	runs := make([]*run, len(opts.Runs))
	coldStarts := make(chan struct{}, runtime.NumCPU())
	// One emulator per resume order, since the order is the emulator's.
	functions := map[lambda.ResumeOrder][]lambda.Function{}
	for i, spec := range opts.Runs {
		r := &run{spec: spec, coldStarts: coldStarts, rto: netem.MinRTO + 2*opts.Latency}
		if err := r.startProxy(srv.Addr(), opts.Latency, opts.Jitter, opts.Seed+uint64(i), opts.PcapDir != ""); err != nil {
			return nil, err
		}
		defer r.proxy.Close()
		runs[i] = r
		fn, err := functionFor(spec, opts, r.proxy.Addr(), codeDirs[spec.SDKVersion], goDir, tlsFiles)
		if err != nil {
			return nil, err
		}
		functions[spec.ResumeOrder] = append(functions[spec.ResumeOrder], fn)
	}

	logDir, err := makeLogDir(opts.LogDir, tmp)
	if err != nil {
		return nil, err
	}
	// The runs under ScenarioRetransmit by function name, for the emulator's
	// freeze and thaw hooks, which run with an environment's lock held.
	retransmitting := map[string]*run{}
	for _, r := range runs {
		if r.spec.Scenario == ScenarioRetransmit {
			retransmitting[r.spec.Name()] = r
		}
	}
	emulators := map[lambda.ResumeOrder]*lambda.Emulator{}
	for _, order := range lambda.ResumeOrders() {
		if len(functions[order]) == 0 {
			continue
		}
		emu, err := lambda.Start(ctx, lambda.Config{Addr: "127.0.0.1:0", Functions: functions[order], LogDir: logDir, Logger: opts.Logger, ResumeOrder: order,
			OnFreeze: func(fn string) { holdWhileFrozen(retransmitting, fn, true) }, OnThaw: func(fn string) { holdWhileFrozen(retransmitting, fn, false) }})
		if err != nil {
			return nil, fmt.Errorf("lab: start lambda emulator (%s): %w", order, err)
		}
		defer emu.Close()
		emulators[order] = emu
	}

	steps := opts.Schedule
	if len(steps) == 0 {
		steps = Schedule(opts.Seed, opts.Invocations)
	}
	opts.Progress.Begin(opts.Runs, len(steps), scheduleDuration(steps))
	httpClient := &http.Client{Timeout: functionTimeout + 15*time.Second}
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Go(func() { r.replay(ctx, emulators[r.spec.ResumeOrder], httpClient, steps, opts.Progress) })
	}
	wg.Wait()
	opts.Progress.Done()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lab: interrupted: %w", err)
	}

	report := &Report{Seed: opts.Seed, Invocations: len(steps), TLS: opts.TLS, MemoryMB: opts.MemoryMB,
		Latency: opts.Latency, Jitter: opts.Jitter}
	for _, r := range runs {
		if r.spec.Scenario == ScenarioRetransmit {
			report.RTO = r.rto
		}
		recs, err := readLog(filepath.Join(logDir, r.spec.Name()+".log"))
		if err != nil {
			return nil, err
		}
		var marks []Mark
		if r.spec.Client == ClientNode {
			marks = nodeMarks(recs)
		} else {
			marks = goMarks(recs)
		}
		r.mu.Lock()
		marks = append(marks, r.marks...)
		r.mu.Unlock()
		markCrossInvocation(marks)
		r.timeline.Marks = marks
		res := summarize(r.spec, &r.timeline)
		res.SDKVersion = cmp.Or(r.spec.SDKVersion, opts.pinnedSDK)
		if r.spec.Client == ClientGo {
			res.SDKVersion = GoSDKVersion
		}
		if res.Pcap, err = r.writeCaptureIn(opts.PcapDir); err != nil {
			return nil, err
		}
		report.Runs = append(report.Runs, res)
	}
	return report, nil
}

// GoSDKVersion is the sdk_version of go-sdk runs: thaw's client, built from
// the checkout the lab runs in.
const GoSDKVersion = "checkout"

// prepareFunctions installs and builds what the runs need, showing each step
// on opts.Progress: the checkout's Node function's packages (npm ci), each
// other SDK version (npm install into opts.CacheDir, once) and the Go
// function (go build, into tmp). It returns the Node code directory of each
// RunSpec.SDKVersion ("" for the pinned one) and the Go function's directory.
func prepareFunctions(ctx context.Context, opts Options, tmp string) (map[string]string, string, error) {
	start := time.Now()
	codeDirs := map[string]string{}
	needGo := false
	for _, s := range opts.Runs {
		needGo = needGo || s.Client == ClientGo
		if s.Client != ClientNode {
			continue
		}
		if _, ok := codeDirs[s.SDKVersion]; ok {
			continue
		}
		if s.SDKVersion == "" {
			dir := nodeFunctionDir(opts.Root)
			opts.Progress.Status(fmt.Sprintf("Node function: %s %s (npm ci in %s, if not installed yet)", sdkPackage, opts.pinnedSDK, dir))
			if err := EnsureNodeModules(ctx, dir); err != nil {
				return nil, "", err
			}
			codeDirs[""] = dir
			continue
		}
		opts.Progress.Status(fmt.Sprintf("Node function: %s %s (npm install into %s, if not there yet)", sdkPackage, s.SDKVersion, opts.CacheDir))
		sdkDir, err := EnsureNodeSDK(ctx, opts.CacheDir, s.SDKVersion)
		if err != nil {
			return nil, "", err
		}
		dir := filepath.Join(tmp, "node-sdk-"+s.SDKVersion)
		if err := nodeCodeDir(opts.Root, sdkDir, dir); err != nil {
			return nil, "", err
		}
		codeDirs[s.SDKVersion] = dir
	}
	goDir := filepath.Join(tmp, "go-function")
	if needGo {
		opts.Progress.Status("Go function: go build ./lab/functions/go (a minute on a fresh machine)")
		if err := BuildGoFunction(ctx, opts.Root, goDir); err != nil {
			return nil, "", err
		}
	}
	opts.Progress.Status(fmt.Sprintf("functions ready in %v", time.Since(start).Round(100*time.Millisecond)))
	return codeDirs, goDir, nil
}

// functionFor is the emulator's function for one run; nodeDir is its Node
// code, if it is a Node run.
func functionFor(spec RunSpec, opts Options, endpoint, nodeDir, goDir string, tlsFiles certs.Files) (lambda.Function, error) {
	env := map[string]string{
		"LAB_PRESET":      spec.Preset,
		"LAB_ENDPOINT":    endpoint,
		"LAB_CACHE":       cacheName,
		"LAB_SDK_VERSION": cmp.Or(spec.SDKVersion, opts.pinnedSDK),
	}
	if opts.TLS {
		env["LAB_TLS"] = "1"
		env["LAB_CA_FILE"] = tlsFiles.CA
		env["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] = tlsFiles.CA
	}
	fn := lambda.Function{
		Name:        spec.Name(),
		MemoryMB:    opts.MemoryMB,
		Timeout:     functionTimeout,
		Concurrency: 1,
		Env:         env,
	}
	switch spec.Client {
	case ClientNode:
		fn.Runtime, fn.Code, fn.Handler = lambda.RuntimeNodeJS, nodeDir, "index.handler"
		env["GRPC_TRACE"] = "keepalive"
		env["GRPC_VERBOSITY"] = "DEBUG"
	case ClientGo:
		fn.Runtime, fn.Code, fn.Handler = lambda.RuntimeProvided, goDir, "bootstrap"
	default:
		return fn, fmt.Errorf("lab: unknown client %q", spec.Client)
	}
	return fn, nil
}

// startProxy starts the run's proxy to target with the given delay and seed,
// capturing what it carries when capture is set. The caller closes r.proxy.
func (r *run) startProxy(target string, latency, jitter time.Duration, seed uint64, capture bool) error {
	cfg := netem.Config{Target: target, Latency: latency, Jitter: jitter, Seed: seed, OnEvent: r.onProxyEvent}
	if capture {
		r.capture = pcap.New()
		cfg.OnDeliver = r.capture.OnDeliver
	}
	proxy, err := netem.Listen(cfg)
	if err != nil {
		return fmt.Errorf("lab: start proxy for %s: %w", r.spec.Label(), err)
	}
	r.proxy = proxy
	return nil
}

// makeLogDir creates the directory that keeps the functions' logs: logDir,
// or else logs under tmp.
func makeLogDir(logDir, tmp string) (string, error) {
	if logDir == "" {
		logDir = filepath.Join(tmp, "logs")
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return "", fmt.Errorf("lab: log dir: %w", err)
	}
	return logDir, nil
}

// onProxyEvent records the connections the function opens, and passes
// every event to the capture, if any.
func (r *run) onProxyEvent(ev netem.Event) {
	if r.capture != nil {
		r.capture.OnEvent(ev)
	}
	switch ev.Kind {
	case netem.EventAccepted:
		r.mu.Lock()
		defer r.mu.Unlock()
		r.marks = append(r.marks, Mark{Time: ev.Time, Kind: MarkConnOpened, Conn: connLabel(uint64(ev.Conn)), Detail: "accepted from " + ev.Client})
	case netem.EventHeld:
		r.markHeld(ev)
	case netem.EventReleased:
		r.markReleased(ev)
	}
}

// holdWhileFrozen holds back what the server sends to function while the
// emulator has it frozen, if it is one of the runs under ScenarioRetransmit
// (retransmitting, by function name), and has the held bytes delivered as
// the server would retransmit them once it thaws. The emulator calls it as
// the function freezes and thaws.
func holdWhileFrozen(retransmitting map[string]*run, function string, frozen bool) {
	r := retransmitting[function]
	switch {
	case r == nil:
	case frozen:
		r.proxy.Hold(netem.ToClient)
	default:
		r.proxy.Release(netem.ToClient, r.rto)
	}
}

// markHeld marks bytes the server sent to the frozen function, held by
// ScenarioRetransmit: when they reached it, unacknowledged.
func (r *run) markHeld(ev netem.Event) {
	conn := connLabel(uint64(ev.Conn))
	held := fmt.Sprintf("%d bytes from the server reached the frozen function and were not acknowledged; the server's retransmission #%d is due %v after the thaw",
		ev.Bytes, ev.Attempt, ev.Deliver.Sub(ev.Time).Round(time.Millisecond))
	if r.capture != nil {
		r.capture.Note(ev.Arrived, fmt.Sprintf("%s: %s", conn, held))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.marks = append(r.marks, Mark{Time: ev.Arrived, Kind: MarkHeld, Conn: conn, Detail: held})
}

// markReleased marks the delivery of held bytes by the server's
// retransmission, ev.Time being the last thaw; nothing if the connection
// closed first.
func (r *run) markReleased(ev netem.Event) {
	if ev.Deliver.IsZero() {
		return
	}
	conn := connLabel(uint64(ev.Conn))
	how := fmt.Sprintf("the server's retransmission #%d (timeout from %v, doubling)", ev.Attempt, r.rto)
	if ev.Fast {
		how = "the server's fast retransmission (the function acknowledged later data selectively)"
	}
	delivered := fmt.Sprintf("%s delivered %d bytes held since %s, %v after the thaw",
		how, ev.Bytes, ev.Arrived.Format("15:04:05.000"), ev.Deliver.Sub(ev.Time).Round(time.Millisecond))
	if r.capture != nil {
		r.capture.Note(ev.Deliver, fmt.Sprintf("%s: %s", conn, delivered))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.marks = append(r.marks, Mark{Time: ev.Deliver, Kind: MarkRetransmission, Conn: conn, Detail: delivered, Late: ev.Deliver.Sub(ev.Time)})
}

// blackhole silences the function's open connections and marks the moment,
// saying how many connections it caught.
func (r *run) blackhole() {
	now := time.Now()
	r.proxy.Blackhole()
	silenced := 0
	for _, c := range r.proxy.Conns() {
		if c.State == netem.StateBlackholed {
			silenced++
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.marks = append(r.marks, Mark{Time: now, Kind: MarkBlackhole, Conn: "all",
		Detail: fmt.Sprintf("%d connection(s) silenced so far, none closed", silenced)})
}

// replay invokes the run's function once per step, after the step's gap.
func (r *run) replay(ctx context.Context, emu *lambda.Emulator, hc *http.Client, steps []Step, progress *Progress) {
	r.timeline.Start = time.Now()
	defer func() { r.timeline.End = time.Now() }()
	var lastEnd time.Time
	for i, step := range steps {
		if i > 0 && !r.waitGap(ctx, hc, emu.Addr(), lastEnd, step, nil) {
			return
		}
		if i == 0 {
			// Cold starts take turns (see coldStarts).
			select {
			case r.coldStarts <- struct{}{}:
			case <-ctx.Done():
				return
			}
		}
		inv := invoke(ctx, hc, emu.Addr(), r.spec.Name(), i, step)
		if i == 0 {
			<-r.coldStarts
		}
		inv.Gap = step.Gap
		r.timeline.Invocations = append(r.timeline.Invocations, inv)
		lastEnd = inv.End
		progress.Invoked(r.spec, inv)
		if ctx.Err() != nil {
			return
		}
	}
	// Leave time for a ping sent during the last invocation to be logged.
	sleepUntil(ctx, time.Now().Add(200*time.Millisecond))
}

// waitGap waits out step's gap after the invocation that ended at lastEnd,
// blackholing the run's connections once the environment is frozen if the
// step and the scenario ask for it (beforeBlackhole, if set, runs just
// before), and records the frozen span. It reports false if ctx ended first.
func (r *run) waitGap(ctx context.Context, hc *http.Client, addr string, lastEnd time.Time, step Step, beforeBlackhole func()) bool {
	deadline := lastEnd.Add(step.Gap)
	if step.Blackhole && r.spec.Scenario == ScenarioBlackhole {
		// Cut the flow only once the environment is frozen, as a
		// middlebox would forget an idle one.
		r.waitFrozen(ctx, hc, addr, deadline)
		if beforeBlackhole != nil {
			beforeBlackhole()
		}
		r.blackhole()
	}
	if !sleepUntil(ctx, deadline) {
		return false
	}
	r.timeline.Frozen = append(r.timeline.Frozen, Span{Start: lastEnd, End: time.Now()})
	return true
}

// waitFrozen waits until the run's environment is frozen, or until deadline.
// It asks the emulator's introspection endpoint, over HTTP so that the wait
// can always be abandoned.
func (r *run) waitFrozen(ctx context.Context, hc *http.Client, addr string, deadline time.Time) {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for ctx.Err() == nil {
		if frozen, err := environmentFrozen(ctx, hc, addr, r.spec.Name()); err == nil && frozen {
			return
		}
		sleepUntil(ctx, time.Now().Add(20*time.Millisecond))
	}
}

// environmentFrozen reports whether function has a frozen environment, from
// GET /_thaw/environments.
func environmentFrozen(ctx context.Context, hc *http.Client, addr, function string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/_thaw/environments", nil)
	if err != nil {
		return false, fmt.Errorf("lab: environments request: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, fmt.Errorf("lab: GET /_thaw/environments: %w", err)
	}
	defer resp.Body.Close()
	var envs []lambda.EnvironmentInfo
	if err := json.NewDecoder(resp.Body).Decode(&envs); err != nil {
		return false, fmt.Errorf("lab: decode /_thaw/environments: %w", err)
	}
	for _, env := range envs {
		if env.Function == function && env.State == lambda.StateFrozen {
			return true, nil
		}
	}
	return false, nil
}

// sleepUntil waits until t or until ctx ends, and reports whether t came.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// reply is what both lab functions return.
type reply struct {
	RequestID string  `json:"request_id"`
	Op        string  `json:"op"`
	Ms        float64 `json:"ms"`
	ErrorCode string  `json:"error_code"`
	Error     string  `json:"error"`
}

// invoke makes one synchronous invocation and records what the caller saw.
// A failure of the invocation itself (function error, timeout, emulator
// refusal) counts as a failure too, under its own code.
func invoke(ctx context.Context, hc *http.Client, addr, function string, index int, step Step) Invocation {
	inv := Invocation{Index: index, Op: step.Op, Start: time.Now()}
	body, _ := json.Marshal(map[string]any{"op": step.Op, "work_ms": float64(step.Work.Microseconds()) / 1000, "key": step.Key})
	var rep reply
	if postInvocation(ctx, hc, addr, function, body, &inv, &rep) {
		if rep.RequestID != "" {
			inv.RequestID = rep.RequestID
		}
		inv.CallMs, inv.ErrorCode, inv.Error = rep.Ms, rep.ErrorCode, rep.Error
	}
	return inv
}

// postInvocation invokes function with body through the emulator's invoke
// API and decodes its reply into rep. It sets inv's End and RequestID, and
// records a failure of the invocation itself (INVOKE_ERROR, INVOKE_HTTP_<code>,
// FUNCTION_ERROR, BAD_REPLY) in inv. It reports whether rep holds the reply.
func postInvocation(ctx context.Context, hc *http.Client, addr, function string, body []byte, inv *Invocation, rep any) bool {
	defer func() {
		if inv.End.IsZero() {
			inv.End = time.Now()
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/2015-03-31/functions/"+function+"/invocations", bytes.NewReader(body))
	if err != nil {
		inv.ErrorCode, inv.Error = "INVOKE_ERROR", err.Error()
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		inv.ErrorCode, inv.Error = "INVOKE_ERROR", err.Error()
		return false
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	inv.End = time.Now()
	inv.RequestID = resp.Header.Get("X-Amzn-Requestid")
	switch {
	case err != nil:
		inv.ErrorCode, inv.Error = "INVOKE_ERROR", err.Error()
	case resp.StatusCode != http.StatusOK:
		inv.ErrorCode, inv.Error = fmt.Sprintf("INVOKE_HTTP_%d", resp.StatusCode), string(data)
	case resp.Header.Get("X-Amz-Function-Error") != "":
		inv.ErrorCode, inv.Error = "FUNCTION_ERROR", string(data)
	default:
		if err := json.Unmarshal(data, rep); err != nil {
			inv.ErrorCode, inv.Error = "BAD_REPLY", fmt.Sprintf("%v: %q", err, data)
			return false
		}
		return true
	}
	return false
}
