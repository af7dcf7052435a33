package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/thaw-dev/thaw/client"
	"github.com/thaw-dev/thaw/internal/netem"
	"github.com/thaw-dev/thaw/lambda"
	"github.com/thaw-dev/thaw/server"
)

// Defaults of TopicsOptions.
const (
	// DefaultPublishInterval is how often the topics lab's publisher
	// publishes one item into each run's topic.
	DefaultPublishInterval = 200 * time.Millisecond
	// DefaultReadWindow is how long an invocation of the subscriber waits
	// for the items published up to its start.
	DefaultReadWindow = time.Second
	// DefaultTopicRetention is the server's per-topic retention in the
	// topics lab: the items a subscriber can still resume to.
	DefaultTopicRetention = 1024
	// presetTopics names the topics lab's runs in place of a preset: each
	// SDK's default topic configuration.
	presetTopics = "topics"
	// drainWindow bounds the last invocation, made after the publisher
	// stopped, which reads everything still due.
	drainWindow = 5 * time.Second
)

// TopicsOptions say what a topics lab run does.
type TopicsOptions struct {
	// Root is the thaw checkout. Empty: FindRoot.
	Root string
	// Clients and Scenarios are crossed into the runs. Empty: both clients,
	// both scenarios.
	Clients, Scenarios []string
	// Invocations per run (the keepalive lab's seeded schedule), plus one
	// final drain. Default DefaultInvocations.
	Invocations int
	// Seed draws the schedule and the proxy's jitter. Default 1.
	Seed uint64
	// Latency and Jitter are the proxy's one-way delay; zero Latency means
	// DefaultLatency with DefaultJitter.
	Latency, Jitter time.Duration
	// MemoryMB is each function's memory. Default DefaultMemoryMB.
	MemoryMB int
	// PublishInterval is the publisher's period. Default
	// DefaultPublishInterval.
	PublishInterval time.Duration
	// ReadWindow bounds each invocation's read. Default DefaultReadWindow.
	ReadWindow time.Duration
	// LogDir, when set, keeps the functions' logs there.
	LogDir string
	// PcapDir, when set, receives one packet capture per run, as
	// Options.PcapDir does for the keepalive lab.
	PcapDir string
	// Progress receives progress; nil is silent.
	Progress *Progress
	// Logger receives the server's and emulator's logs. Nil discards them.
	Logger *slog.Logger
}

func (o *TopicsOptions) setDefaults() error {
	if o.Root == "" {
		root, err := FindRoot()
		if err != nil {
			return err
		}
		o.Root = root
	}
	if len(o.Clients) == 0 {
		o.Clients = []string{ClientNode, ClientGo}
	}
	if len(o.Scenarios) == 0 {
		o.Scenarios = []string{ScenarioHealthy, ScenarioBlackhole}
	}
	for _, c := range o.Clients {
		if c != ClientNode && c != ClientGo {
			return fmt.Errorf("%w: client %q", ErrUnknownRun, c)
		}
	}
	for _, s := range o.Scenarios {
		if s != ScenarioHealthy && s != ScenarioBlackhole {
			return fmt.Errorf("%w: scenario %q", ErrUnknownRun, s)
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
	if o.PublishInterval <= 0 {
		o.PublishInterval = DefaultPublishInterval
	}
	if o.ReadWindow <= 0 {
		o.ReadWindow = DefaultReadWindow
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// TopicsRunResult is one run's measurements. Every count comes from the
// publisher's acknowledged publishes and the sequence numbers the function
// returned; none is derived from the schedule.
type TopicsRunResult struct {
	Client   string `json:"client"`
	Scenario string `json:"scenario"`
	// ItemsPublished is the number of publishes the server acknowledged;
	// the topic's sequence numbers are 1..ItemsPublished.
	ItemsPublished int `json:"items_published"`
	// ItemsReceived is the number of distinct sequence numbers the function
	// returned.
	ItemsReceived int `json:"items_received"`
	// ItemsLost is the number of sequence numbers published, still retained
	// by the server at the end (the latest DefaultTopicRetention), that the
	// function never returned, even after the final drain invocation.
	ItemsLost int `json:"items_lost"`
	// ItemsUnretained is the number never returned that the server no
	// longer retained, which a subscriber can only learn of as a
	// discontinuity.
	ItemsUnretained int `json:"items_unretained"`
	// LostRanges lists the lost sequence numbers as ranges "a-b".
	LostRanges []string `json:"lost_ranges,omitempty"`
	// ReadErrors are the reasons invocations gave for stopping early.
	ReadErrors []string `json:"read_errors,omitempty"`
	// Duplicates is the number of items the function returned more than
	// once (by sequence number, across all invocations).
	Duplicates int `json:"duplicates"`
	// Resubscribes is the SDK's own count at the end: for go-sdk
	// Subscription.Stats().Resubscribes, for node-sdk the calls of the
	// subscription's onConnectionLost callback, which the SDK makes once
	// per episode of failed streams before resubscribing (a lower bound).
	Resubscribes int `json:"resubscribes"`
	// StreamsKilled is the number of blackholes that caught at least one
	// open (not yet silenced) connection of the function: the dead streams
	// a resubscribe is owed to.
	StreamsKilled int `json:"streams_killed"`
	// SpuriousResubscribes is Resubscribes beyond StreamsKilled.
	SpuriousResubscribes int `json:"spurious_resubscribes"`
	// ResubscribeSource says where Resubscribes comes from.
	ResubscribeSource string `json:"resubscribe_source"`
	// Discontinuities is the number of discontinuities the function saw.
	Discontinuities int `json:"discontinuities"`
	// FirstItemAfterThawP99Ms is the p99, over invocations after a freeze
	// that returned items, of the time from the handler's start to its
	// first item (0 when the item was already buffered at the start).
	FirstItemAfterThawP99Ms float64 `json:"first_item_after_thaw_p99_ms"`
	// Invocations and FailedInvocations count the invocations, the drain
	// included.
	Invocations       int `json:"invocations"`
	FailedInvocations int `json:"failed_invocations"`
	// Pcap is the path of the run's packet capture, when
	// TopicsOptions.PcapDir asked for one; absent otherwise.
	Pcap string `json:"pcap,omitempty"`

	Timeline *Timeline `json:"-"`
}

// TopicsReport is the outcome of a topics lab run.
type TopicsReport struct {
	Runs []TopicsRunResult `json:"runs"`

	Seed            uint64        `json:"-"`
	Invocations     int           `json:"-"`
	PublishInterval time.Duration `json:"-"`
	Latency, Jitter time.Duration `json:"-"`
	Command         string        `json:"-"`
}

// topicsReply is what both topics functions return (the Go one is
// examples/topics-go, the Node one lab/functions/node/topics.mjs).
type topicsReply struct {
	Items []struct {
		Sequence uint64 `json:"seq"`
	} `json:"items"`
	FirstItemMs     float64           `json:"first_item_ms"`
	Discontinuities []json.RawMessage `json:"discontinuities"`
	// Resubscribes is node's onConnectionLost count.
	Resubscribes uint64                   `json:"resubscribes"`
	Stats        client.SubscriptionStats `json:"stats"`
	Error        string                   `json:"error"`
	Errors       []string                 `json:"errors"`
}

// topicsRun is one run in progress.
type topicsRun struct {
	run
	published atomic.Uint64 // acknowledged publishes
	replies   []topicsReply // one per invocation, zero on failure
	// streamsKilled counts the blackholes that silenced at least one open
	// connection; written by replayTopics only.
	streamsKilled int
}

// RunTopics runs the topics lab: a subscriber function per client and
// scenario under thaw lambda, a publisher outside it, an embedded server
// behind one netem proxy per run. It stops what it started before
// returning.
func RunTopics(ctx context.Context, opts TopicsOptions) (*TopicsReport, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "thaw-lab-topics-")
	if err != nil {
		return nil, fmt.Errorf("lab: temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	if opts.PcapDir != "" {
		if err := os.MkdirAll(opts.PcapDir, 0o755); err != nil {
			return nil, fmt.Errorf("lab: pcap dir: %w", err)
		}
	}

	var specs []RunSpec
	for _, c := range opts.Clients {
		for _, s := range opts.Scenarios {
			specs = append(specs, RunSpec{Client: c, Preset: presetTopics, Scenario: s})
		}
	}
	opts.Progress.Status("preparing functions")
	goDir := filepath.Join(tmp, "go-topics")
	for _, c := range opts.Clients {
		switch c {
		case ClientNode:
			opts.Progress.Status(fmt.Sprintf("Node function: npm ci in %s, if not installed yet", nodeFunctionDir(opts.Root)))
			if err := EnsureNodeModules(ctx, nodeFunctionDir(opts.Root)); err != nil {
				return nil, err
			}
		case ClientGo:
			opts.Progress.Status("Go function: go build ./examples/topics-go (a minute on a fresh machine)")
			if err := buildBootstrap(ctx, opts.Root, "./examples/topics-go", goDir); err != nil {
				return nil, err
			}
		}
	}

	srv, err := server.Start(ctx, server.Config{Addr: "127.0.0.1:0", CreateCaches: []string{cacheName},
		TopicRetention: DefaultTopicRetention, Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("lab: start cache server: %w", err)
	}
	defer srv.Close()
	pubCtx, pubCancel := context.WithTimeout(ctx, 10*time.Second)
	pub, err := client.New(pubCtx, client.Laptop(), client.LocalCredentials(srv.Addr()))
	pubCancel()
	if err != nil {
		return nil, fmt.Errorf("lab: publisher: %w", err)
	}
	defer pub.Close()

	runs := make([]*topicsRun, len(specs))
	var functions []lambda.Function
	for i, spec := range specs {
		r := &topicsRun{run: run{spec: spec}}
		if err := r.startProxy(srv.Addr(), opts.Latency, opts.Jitter, opts.Seed+uint64(i), opts.PcapDir != ""); err != nil {
			return nil, err
		}
		defer r.proxy.Close()
		runs[i] = r
		fn := lambda.Function{Name: spec.Name(), MemoryMB: opts.MemoryMB, Timeout: functionTimeout, Concurrency: 1}
		switch spec.Client {
		case ClientNode:
			fn.Runtime, fn.Code, fn.Handler = lambda.RuntimeNodeJS, nodeFunctionDir(opts.Root), "topics.handler"
			fn.Env = map[string]string{"LAB_ENDPOINT": r.proxy.Addr(), "LAB_CACHE": cacheName, "LAB_TOPIC": spec.Name()}
		case ClientGo:
			fn.Runtime, fn.Code, fn.Handler = lambda.RuntimeProvided, goDir, "bootstrap"
			fn.Env = map[string]string{"THAW_CACHE_ENDPOINT": r.proxy.Addr(), "THAW_CACHE_NAME": cacheName, "THAW_TOPIC": spec.Name()}
		}
		functions = append(functions, fn)
	}

	logDir, err := makeLogDir(opts.LogDir, tmp)
	if err != nil {
		return nil, err
	}
	emu, err := lambda.Start(ctx, lambda.Config{Addr: "127.0.0.1:0", Functions: functions, LogDir: logDir, Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("lab: start lambda emulator: %w", err)
	}
	defer emu.Close()

	steps := Schedule(opts.Seed, opts.Invocations)
	opts.Progress.Begin(specs, len(steps)+1, scheduleDuration(steps))
	hc := &http.Client{Timeout: functionTimeout + 15*time.Second}
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Go(func() { r.replayTopics(ctx, emu, hc, pub, steps, opts) })
	}
	wg.Wait()
	opts.Progress.Done()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("lab: interrupted: %w", err)
	}
	report := &TopicsReport{Seed: opts.Seed, Invocations: len(steps) + 1, PublishInterval: opts.PublishInterval,
		Latency: opts.Latency, Jitter: opts.Jitter}
	for _, r := range runs {
		r.mu.Lock()
		markCrossInvocation(r.marks)
		r.timeline.Marks = r.marks
		r.mu.Unlock()
		res := r.summarize()
		if res.Pcap, err = r.writeCaptureIn(opts.PcapDir); err != nil {
			return nil, err
		}
		report.Runs = append(report.Runs, res)
	}
	return report, nil
}

// replayTopics invokes the function on the schedule while publishing into
// its topic, then stops the publisher and invokes it once more to drain.
// The publisher starts once the first invocation (the cold start, which
// subscribes during init) has returned, so every item is published to a
// subscriber that exists.
func (r *topicsRun) replayTopics(ctx context.Context, emu *lambda.Emulator, hc *http.Client, pub *client.Client, steps []Step, opts TopicsOptions) {
	r.timeline.Start = time.Now()
	defer func() { r.timeline.End = time.Now() }()
	pubCtx, stopPub := context.WithCancel(ctx)
	var pubDone sync.WaitGroup
	defer func() { stopPub(); pubDone.Wait() }()
	var lastEnd time.Time
	for i, step := range steps {
		if i > 0 && !r.waitGap(ctx, hc, emu.Addr(), lastEnd, step, r.countStreamKilled) {
			return
		}
		inv := r.invokeTopics(ctx, hc, emu.Addr(), i, opts.ReadWindow)
		inv.Gap = step.Gap
		r.timeline.Invocations = append(r.timeline.Invocations, inv)
		lastEnd = inv.End
		opts.Progress.Invoked(r.spec, inv)
		if ctx.Err() != nil {
			return
		}
		if i == 0 {
			pubDone.Go(func() { r.publish(pubCtx, pub, opts.PublishInterval) })
		}
	}
	stopPub()
	pubDone.Wait()
	inv := r.invokeTopics(ctx, hc, emu.Addr(), len(steps), drainWindow)
	r.timeline.Invocations = append(r.timeline.Invocations, inv)
	opts.Progress.Invoked(r.spec, inv)
}

// countStreamKilled counts a blackhole about to fall if it catches at least
// one open connection.
func (r *topicsRun) countStreamKilled() {
	for _, c := range r.proxy.Conns() {
		if c.State == netem.StateOpen {
			r.streamsKilled++
			return
		}
	}
}

// publish publishes the text of the next sequence number every interval
// until ctx ends, counting the publishes the server acknowledged.
func (r *topicsRun) publish(ctx context.Context, pub *client.Client, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		next := r.published.Load() + 1
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err := pub.PublishText(callCtx, cacheName, r.spec.Name(), strconv.FormatUint(next, 10))
		cancel()
		if err == nil {
			r.published.Add(1)
		}
	}
}

// invokeTopics asks the function for every item up to the latest published
// one, waiting at most window, and keeps its reply.
func (r *topicsRun) invokeTopics(ctx context.Context, hc *http.Client, addr string, index int, window time.Duration) Invocation {
	inv := Invocation{Index: index, Op: "read", Start: time.Now()}
	body, _ := json.Marshal(map[string]any{"until": r.published.Load(), "wait_ms": window.Milliseconds()})
	var rep topicsReply
	if postInvocation(ctx, hc, addr, r.spec.Name(), body, &inv, &rep) {
		inv.CallMs = rep.FirstItemMs
	}
	r.replies = append(r.replies, rep)
	return inv
}

// summarize computes the run's measurements from its replies.
func (r *topicsRun) summarize() TopicsRunResult {
	res := TopicsRunResult{Client: r.spec.Client, Scenario: r.spec.Scenario, ItemsPublished: int(r.published.Load()),
		Timeline: &r.timeline, Invocations: len(r.timeline.Invocations)}
	for _, inv := range r.timeline.Invocations {
		if inv.Failed() {
			res.FailedInvocations++
		}
	}
	seen := map[uint64]bool{}
	var firsts []float64
	var resubscribes uint64
	for i, rep := range r.replies {
		for _, it := range rep.Items {
			if seen[it.Sequence] {
				res.Duplicates++
			}
			seen[it.Sequence] = true
		}
		res.Discontinuities += len(rep.Discontinuities)
		if rep.Error != "" {
			res.ReadErrors = append(res.ReadErrors, rep.Error)
		}
		res.ReadErrors = append(res.ReadErrors, rep.Errors...)
		if len(rep.Items) > 0 && i > 0 { // every invocation but the cold start follows a freeze
			firsts = append(firsts, rep.FirstItemMs)
		}
		if r.spec.Client == ClientGo {
			resubscribes = max(resubscribes, rep.Stats.Resubscribes)
		} else {
			resubscribes = max(resubscribes, rep.Resubscribes)
		}
	}
	res.ItemsReceived = len(seen)
	retainedFrom := max(1, res.ItemsPublished-DefaultTopicRetention+1)
	for s := 1; s <= res.ItemsPublished; s++ {
		if seen[uint64(s)] {
			continue
		}
		if s >= retainedFrom {
			res.ItemsLost++
			if n := len(res.LostRanges); n > 0 && strings.HasSuffix(res.LostRanges[n-1], "-"+strconv.Itoa(s-1)) {
				res.LostRanges[n-1] = strings.TrimSuffix(res.LostRanges[n-1], strconv.Itoa(s-1)) + strconv.Itoa(s)
			} else {
				res.LostRanges = append(res.LostRanges, fmt.Sprintf("%d-%d", s, s))
			}
		} else {
			res.ItemsUnretained++
		}
	}
	res.StreamsKilled = r.streamsKilled
	res.Resubscribes = int(resubscribes)
	res.SpuriousResubscribes = max(0, res.Resubscribes-res.StreamsKilled)
	if r.spec.Client == ClientGo {
		res.ResubscribeSource = "Subscription.Stats().Resubscribes"
	} else {
		res.ResubscribeSource = "onConnectionLost callbacks (one per episode of failed streams)"
	}
	res.FirstItemAfterThawP99Ms = percentile(firsts, 99)
	return res
}

// Settings describes the run's settings in one line.
func (r *TopicsReport) Settings() string {
	return fmt.Sprintf("seed %d, %d invocations per run (the last drains), one item every %v, proxy delay %v±%v one way, server retains %d items per topic",
		r.Seed, r.Invocations, r.PublishInterval, r.Latency, r.Jitter, DefaultTopicRetention)
}

// WriteTable writes the runs as an aligned table.
func (r *TopicsReport) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "client\tscenario\tinvocations (failed)\tpublished\treceived\tlost\tunretained\tduplicates\tresubscribes\tstreams killed\tspurious resubscribes\tdiscontinuities\tfirst item after thaw p99 ms\t")
	for _, run := range r.Runs {
		fmt.Fprintf(tw, "%s\t%s\t%d (%d)\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.1f\t\n",
			run.Client, run.Scenario, run.Invocations, run.FailedInvocations, run.ItemsPublished, run.ItemsReceived,
			run.ItemsLost, run.ItemsUnretained, run.Duplicates, run.Resubscribes, run.StreamsKilled, run.SpuriousResubscribes,
			run.Discontinuities, run.FirstItemAfterThawP99Ms)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("lab: write table: %w", err)
	}
	return nil
}

// WriteJSONFile writes {"runs": [...]} to path.
func (r *TopicsReport) WriteJSONFile(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("lab: encode report: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("lab: write %s: %w", path, err)
	}
	return nil
}
