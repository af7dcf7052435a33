// Command benchinvoke measures the warm invoke round trip of one Lambda
// function served by several emulators side by side, typically AWS's runtime
// interface emulator (RIE), which never freezes the function, and thaw
// lambda, which freezes it between invocations. It sends sequential
// invocations to each, rotating between them in blocks so that noise on a
// shared machine hits all alike, and prints p50, p90, p99 and mean of each
// and their ratio to the first.
//
// scripts/bench-lambda.sh builds the function, starts the emulators and runs
// this program. By hand, against emulators already running:
//
//	benchinvoke -target RIE=127.0.0.1:8080 -target thaw=127.0.0.1:9001 [-n 2000]
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// config is what the command line asks for.
type config struct {
	targets  labelled // LABEL=host:port, the first is the baseline
	logs     labelled // LABEL=file, thaw's debug log of that target
	function string
	n        int
	warmup   int
	block    int
	gap      time.Duration
	payload  string
}

// labelled is a repeatable LABEL=VALUE flag, in command line order.
type labelled [][2]string

func (l *labelled) String() string { return fmt.Sprint(*l) }

func (l *labelled) Set(s string) error {
	label, value, ok := strings.Cut(s, "=")
	if !ok || label == "" || value == "" {
		return fmt.Errorf("%q: want LABEL=VALUE", s)
	}
	*l = append(*l, [2]string{label, value})
	return nil
}

func (l labelled) lookup(label string) string {
	for _, kv := range l {
		if kv[0] == label {
			return kv[1]
		}
	}
	return ""
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchinvoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	fs.Var(&cfg.targets, "target", "`LABEL=host:port` of an emulator's Invoke API (repeatable; the first is the baseline of the ratios)")
	fs.Var(&cfg.logs, "log", "`LABEL=file`: thaw's stderr for that target, written with --log-level debug; adds its freeze and thaw latencies")
	fs.StringVar(&cfg.function, "function", "function", "function `name` to invoke (aws-lambda-rie serves \"function\" only)")
	fs.IntVar(&cfg.n, "n", 2000, "measured invocations per emulator")
	fs.IntVar(&cfg.warmup, "warmup", 100, "unmeasured invocations per emulator first: the cold start and the warm-up")
	fs.IntVar(&cfg.block, "block", 100, "invocations in a row to one emulator before moving to the next")
	fs.DurationVar(&cfg.gap, "gap", 0, "pause after each measured invocation, not measured (0: back to back)")
	fs.StringVar(&cfg.payload, "payload", "{}", "event JSON sent with every invocation")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: benchinvoke -target LABEL=host:port -target LABEL=host:port [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(cfg.targets) == 0 || cfg.n < 1 || cfg.warmup < 1 || cfg.block < 1 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "benchinvoke: at least one -target is required; -n, -warmup and -block must be positive")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := bench(ctx, cfg, stdout); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "benchinvoke: interrupted")
			return 130
		}
		fmt.Fprintf(stderr, "benchinvoke: %v\n", err)
		return 1
	}
	return 0
}

// target is one emulator under measurement.
type target struct {
	label   string
	addr    string
	url     string
	client  *http.Client
	dials   atomic.Int64 // TCP connections opened: 1 means every request reused one
	samples []time.Duration

	// Filled in after the run for thaw; empty for other emulators.
	envs           []environment
	logPath        string
	logStart       int64 // size of the log when measuring began
	freezes, thaws []time.Duration
}

func newTarget(label, addr, function string) *target {
	t := &target{label: label, addr: addr, url: "http://" + addr + "/2015-03-31/functions/" + function + "/invocations"}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	t.client = &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				t.dials.Add(1)
				return dialer.DialContext(ctx, network, addr)
			},
			// One sequential caller: one kept-alive connection, no gzip.
			MaxIdleConnsPerHost: 1,
			DisableCompression:  true,
		},
	}
	return t
}

// invoke sends one synchronous invocation and returns its round trip: from
// sending the request to having read the whole response.
func (t *target) invoke(ctx context.Context, payload []byte) (time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(payload))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	begin := time.Now()
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", t.label, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(begin)
	if err != nil {
		return 0, fmt.Errorf("%s: read response: %w", t.label, err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Amz-Function-Error") != "" {
		return 0, fmt.Errorf("%s: invoke = %d %q (function error %q), want 200 success",
			t.label, resp.StatusCode, body, resp.Header.Get("X-Amz-Function-Error"))
	}
	return took, nil
}

func bench(ctx context.Context, cfg config, out io.Writer) error {
	var targets []*target
	for _, kv := range cfg.targets {
		t := newTarget(kv[0], kv[1], cfg.function)
		t.logPath = cfg.logs.lookup(kv[0])
		targets = append(targets, t)
	}
	payload := []byte(cfg.payload)

	// Warm-up, one by one in turn: the cold start of each, then enough round
	// trips that servers, runtimes and connections are warm.
	for range cfg.warmup {
		for _, t := range targets {
			if _, err := t.invoke(ctx, payload); err != nil {
				return fmt.Errorf("warm-up: %w", err)
			}
		}
	}
	var own []string // this run's environments, to tell other frozen cgroups from them
	for _, t := range targets {
		t.logStart = fileSize(t.logPath)
		envs, err := thawEnvironments(ctx, t.addr)
		if err != nil {
			return fmt.Errorf("%s: %w", t.label, err)
		}
		for _, e := range envs {
			own = append(own, "-"+e.ID+"@")
		}
	}
	blocks, othersFrozen := 0, 0

	// Measured: blocks in turn, the order rotating every round so that each
	// emulator goes first, second, ... equally often.
	for round := 0; round*cfg.block < cfg.n; round++ {
		for i := range targets {
			t := targets[(round+i)%len(targets)]
			blocks++
			if otherFrozenCgroups(own) {
				othersFrozen++
			}
			for j := 0; j < cfg.block && len(t.samples) < cfg.n; j++ {
				took, err := t.invoke(ctx, payload)
				if err != nil {
					return err
				}
				t.samples = append(t.samples, took)
				if cfg.gap > 0 {
					time.Sleep(cfg.gap)
				}
			}
		}
	}

	for _, t := range targets {
		envs, err := thawEnvironments(ctx, t.addr)
		if err != nil {
			return fmt.Errorf("%s: %w", t.label, err)
		}
		t.envs = envs
		if t.logPath != "" {
			if t.freezes, t.thaws, err = freezeLatencies(t.logPath, t.logStart); err != nil {
				return fmt.Errorf("%s: %w", t.label, err)
			}
		}
	}
	report(out, cfg, targets)
	if othersFrozen > 0 {
		fmt.Fprintf(out, "\nNote: before %d of %d blocks another cgroup v1 freezer group on this machine was frozen (not this run's):\n"+
			"while one is, the kernel's freezer static key stays on and a v1 freeze or thaw here skips flipping it.\n", othersFrozen, blocks)
	}
	return nil
}

// freezerRoot is where the cgroup v1 freezer hierarchy is mounted on most systems.
const freezerRoot = "/sys/fs/cgroup/freezer"

// otherFrozenCgroups reports whether a cgroup v1 freezer group other than
// this run's own (whose directory names contain one of own) is frozen or
// freezing. Under the v1 freezer the first frozen group on the machine turns
// a kernel static key on and the last thawed one turns it off, which costs
// tens of microseconds each time; thaw's latency depends on whether another
// group keeps it on.
func otherFrozenCgroups(own []string) bool {
	found := false
	filepath.WalkDir(freezerRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil || found || !d.IsDir() || path == freezerRoot {
			return nil
		}
		for _, o := range own {
			if strings.Contains(d.Name(), o) {
				return filepath.SkipDir
			}
		}
		state, err := os.ReadFile(filepath.Join(path, "freezer.state"))
		if err == nil && strings.TrimSpace(string(state)) != "THAWED" {
			found = true
		}
		return nil
	})
	return found
}

// environment is the part of thaw's /_thaw/environments the report uses.
type environment struct {
	ID          string `json:"id"`
	State       string `json:"state"`
	Invocations int    `json:"invocations"`
	FreezeMode  string `json:"freeze_mode"`
}

// thawEnvironments returns thaw's environments, or nil when addr is not thaw
// (aws-lambda-rie answers 404).
func thawEnvironments(ctx context.Context, addr string) ([]environment, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/_thaw/environments", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET /_thaw/environments: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil
	}
	var envs []environment
	if err := json.NewDecoder(resp.Body).Decode(&envs); err != nil {
		return nil, fmt.Errorf("decode /_thaw/environments: %w", err)
	}
	return envs, nil
}

// fileSize returns the size of path, 0 if it is unset or missing.
func fileSize(path string) int64 {
	if path == "" {
		return 0
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// freezeLatencies reads the latencies of thaw's debug log lines "frozen" and
// "thawed" written after offset, that is during the measured invocations.
// The lines are slog text: ... msg=frozen ... latency=41.2µs ...
func freezeLatencies(path string, offset int64) (freezes, thaws []time.Duration, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("thaw log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, nil, fmt.Errorf("thaw log: %w", err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var into *[]time.Duration
		switch {
		case strings.Contains(line, " msg=frozen "):
			into = &freezes
		case strings.Contains(line, " msg=thawed "):
			into = &thaws
		default:
			continue
		}
		for field := range strings.FieldsSeq(line) {
			if v, ok := strings.CutPrefix(field, "latency="); ok {
				if d, err := time.ParseDuration(v); err == nil {
					*into = append(*into, d)
				}
			}
		}
	}
	return freezes, thaws, sc.Err()
}

// summary is the statistics of one set of samples.
type summary struct {
	p50, p90, p99, mean time.Duration
}

func summarize(samples []time.Duration) summary {
	if len(samples) == 0 {
		return summary{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	var total time.Duration
	for _, d := range s {
		total += d
	}
	return summary{
		p50:  percentile(s, 0.50),
		p90:  percentile(s, 0.90),
		p99:  percentile(s, 0.99),
		mean: total / time.Duration(len(s)),
	}
}

// percentile returns the nearest-rank percentile p (0..1] of sorted samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

func micros(d time.Duration) string {
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

func ratio(a, b time.Duration) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", float64(a)/float64(b))
}

// live returns thaw's environments that have not ended.
func (t *target) live() []environment {
	var live []environment
	for _, e := range t.envs {
		if e.State != "dead" {
			live = append(live, e)
		}
	}
	return live
}

func report(out io.Writer, cfg config, targets []*target) {
	pacing := "back to back"
	if cfg.gap > 0 {
		pacing = cfg.gap.String() + " apart"
	}
	fmt.Fprintf(out, "Warm invoke round trip, one no-op function: %d sequential invocations per emulator (%s),\n"+
		"in blocks of %d taking turns, after %d warm-up invocations each. Client-side, keep-alive.\n\n",
		cfg.n, pacing, cfg.block, cfg.warmup)

	base := targets[0]
	baseStats := summarize(base.samples)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "\tp50\tp90\tp99\tmean\tconnections\t")
	for _, t := range targets {
		s := summarize(t.samples)
		label := t.label
		if live := t.live(); len(live) > 0 {
			label += " (" + live[0].FreezeMode + ")"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t\n", label, micros(s.p50), micros(s.p90), micros(s.p99), micros(s.mean), t.dials.Load())
	}
	for _, t := range targets[1:] {
		s := summarize(t.samples)
		fmt.Fprintf(w, "%s/%s\t%s\t%s\t%s\t%s\t\t\n", t.label, base.label,
			ratio(s.p50, baseStats.p50), ratio(s.p90, baseStats.p90), ratio(s.p99, baseStats.p99), ratio(s.mean, baseStats.mean))
	}
	w.Flush()

	w = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := false
	for _, t := range targets {
		if t.logPath == "" {
			continue
		}
		if !header {
			fmt.Fprintln(w, "\nthaw's own log (debug), measured invocations\tp50\tp90\tp99\tmean\tcount\t")
			header = true
		}
		rows := []struct {
			what    string
			samples []time.Duration
		}{
			{"freeze, from the runtime's /next", t.freezes},
			{"thaw, inside the round trip", t.thaws},
		}
		for _, row := range rows {
			s := summarize(row.samples)
			fmt.Fprintf(w, "%s: %s\t%s\t%s\t%s\t%s\t%d\t\n", t.label, row.what, micros(s.p50), micros(s.p90), micros(s.p99), micros(s.mean), len(row.samples))
		}
	}
	w.Flush()

	fmt.Fprintln(out)
	for _, t := range targets {
		if t.envs == nil {
			continue
		}
		live := t.live()
		invocations := 0
		for _, e := range live {
			invocations += e.Invocations
		}
		want := cfg.warmup + cfg.n
		warm := "every one after the first warm"
		if len(live) != 1 || invocations != want {
			warm = fmt.Sprintf("NOT all warm, want 1 environment with %d", want)
		}
		fmt.Fprintf(out, "%s: %d environment(s), %d invocations: %s", t.label, len(live), invocations, warm)
		if t.logPath != "" {
			fmt.Fprintf(out, "; frozen before %d of the %d measured", min(len(t.thaws), cfg.n), cfg.n)
		}
		fmt.Fprintln(out)
	}
	for _, t := range targets[1:] {
		s := summarize(t.samples)
		verdict := "met"
		if s.p50 > baseStats.p50 {
			verdict = "NOT met"
		}
		fmt.Fprintf(out, "goal, %s p50 <= %s p50: %s (%s vs %s)\n", t.label, base.label, verdict, micros(s.p50), micros(baseStats.p50))
	}
}
