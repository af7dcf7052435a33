package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/thaw-dev/thaw/lab"
	"github.com/thaw-dev/thaw/lambda"
)

// maxLabInvocations bounds --invocations of thaw lab keepalive: lab.Run
// draws the whole schedule up front, so a huge count crashes it, and at about
// five seconds per invocation this is already more than half a day.
const maxLabInvocations = 10000

// refuseIf returns an error saying why when refuse is set.
func refuseIf(refuse bool, why string) error {
	if refuse {
		return errors.New(why)
	}
	return nil
}

// labVerbs are the experiments of thaw lab.
func labVerbs() []subcommand {
	return []subcommand{
		{"keepalive", "reproduce the seed's keepalive failure and compare presets", runLabKeepalive},
		{"context", "the seed's setInterval counter against the wall clock", runLabContext},
		{"topics", "a topic subscriber frozen between invocations: items lost, duplicates, resubscribes", runLabTopics},
	}
}

// runLab runs the experiment args[0] names. Without one, or with an unknown
// one, it lists the experiments and exits 2; with --help it also prints each
// experiment's usage and flags, and exits 0.
func runLab(args []string, stdout, stderr io.Writer) int {
	help := false
	if len(args) > 0 {
		for _, v := range labVerbs() {
			if v.name == args[0] {
				return v.run(args[1:], stdout, stderr)
			}
		}
		switch args[0] {
		case "-h", "-help", "--help", "help":
			help = true
		default:
			fmt.Fprintf(stderr, "thaw lab: unknown verb %q\n\n", args[0])
		}
	}
	fmt.Fprintln(stderr, "Usage: thaw lab <verb> [flags]\n\nVerbs:")
	for _, v := range labVerbs() {
		fmt.Fprintf(stderr, "  %-10s %s\n", v.name, v.summary)
	}
	if !help {
		fmt.Fprintln(stderr, "\nRun 'thaw lab --help' for the flags of every verb.")
		return 2
	}
	for _, v := range labVerbs() {
		fmt.Fprintln(stderr)
		v.run([]string{"--help"}, io.Discard, stderr)
	}
	return 0
}

func runLabKeepalive(args []string, stdout, stderr io.Writer) int {
	fs := newCommandFlags("thaw lab keepalive", stderr,
		"Usage: thaw lab keepalive [flags]",
		"",
		"Runs the official Momento Node.js SDK and thaw's Go client in thaw lambda functions, frozen",
		"between invocations, against an embedded thaw serve behind a delaying proxy, and reports",
		"keepalive timeouts, reconnects, failures and latency per client, preset and scenario.",
		"",
		"With --pcap DIR, each run's connections, as the proxy carried them, are also written to",
		"DIR/<client>-<preset>-<scenario>.pcapng, each packet commented with the invocation's request",
		"id (or \"frozen\"), with \"freeze\" and \"thaw <request id>\" records; the server is",
		"10.0.1.1:50051 there, so decode it with tshark -d tcp.port==50051,http2.")
	var (
		opts      lab.Options
		quick     bool
		jsonPath  string
		htmlPath  string
		inregion  bool
		seed      uint64
		clients   string
		scenarios string
		versions  string
		orders    string
		rtt       time.Duration
		schedule  string
	)
	fs.BoolVar(&quick, "quick", false, fmt.Sprintf("%d invocations per run instead of %d: about a minute and a half (what CI runs)", lab.QuickInvocations, lab.DefaultInvocations))
	fs.StringVar(&jsonPath, "json", "", "write the runs' metrics as JSON to this `file`")
	fs.StringVar(&htmlPath, "html", "", "write a self-contained page with a timeline per run to this `file`")
	fs.IntVar(&opts.Invocations, "invocations", 0, fmt.Sprintf("invocations per run, at most %d; overrides --quick (0 = %d, or %d with --quick)", maxLabInvocations, lab.DefaultInvocations, lab.QuickInvocations))
	fs.Uint64Var(&seed, "seed", 1, "seed of the schedule and the proxy's jitter, at least 1")
	fs.BoolVar(&opts.TLS, "tls", false, "serve the cache over TLS (a throwaway CA), as the seed's clients connected")
	fs.IntVar(&opts.MemoryMB, "memory", lab.DefaultMemoryMB, "functions' memory in `MB`, above 0; it sets their CPU share (1769 MB = one core)")
	fs.DurationVar(&opts.Latency, "latency", lab.DefaultLatency, "proxy's one-way delay, above 0 (1ns for next to none)")
	fs.DurationVar(&opts.Jitter, "jitter", lab.DefaultJitter, "proxy's jitter around --latency (0 = none)")
	fs.StringVar(&opts.LogDir, "logs", "", "keep the functions' logs (NAME.log) in this `dir`")
	fs.StringVar(&opts.PcapDir, "pcap", "", "write each run's connections as a packet capture, NAME.pcapng, to this `dir`")
	fs.BoolVar(&inregion, "inregion", false, "also run the in-region preset")
	fs.StringVar(&clients, "clients", "node-sdk,go-sdk", "clients to run, a comma-separated `list`: node-sdk, go-sdk")
	fs.StringVar(&scenarios, "scenarios", "healthy,blackhole", "scenarios to run, a comma-separated `list`: healthy, blackhole (long freezes silence the open connections), retransmit (what the server sends during a freeze arrives only at its TCP retransmission after the thaw)")
	fs.StringVar(&schedule, "schedule", lab.ScheduleSeeded, "what the runs replay: seeded (traffic-like gaps and calls drawn from --seed), trigger (gaps just past the Node SDK's keepalive interval, instant returns: the seed's mechanism every time), or teardown (a ping just before a freeze, then 0.8 s later a get, which the retransmit scenario puts on the connection the ping's timeout tears down)")
	fs.DurationVar(&rtt, "rtt", 0, "round trip through the proxy: sets --latency to half of it (give one or the other; 0 = use --latency)")
	fs.StringVar(&versions, "sdk-versions", "", "run node-sdk with each of these exact @gomomento/sdk `versions`, comma-separated (e.g. 1.56.0,1.65.0,1.118.1), each installed once by npm into ~/.cache/thaw/lab; releases before 1.87.0 need --tls (default: the version lab/functions/node pins)")
	fs.StringVar(&orders, "resume-order", string(lambda.ResumeEventFirst), "thaw lambda's resume order for every run, a comma-separated `list`: event-first (the event waits in the runtime's socket at the thaw, as on Lambda), thaw-first (it is written after the thaw), or both (every run in each order; JSON runs say theirs in resume_order)")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	resumeOrders, err := parseResumeOrders(orders)
	if err != nil {
		code, _ := fs.check(err)
		return code
	}
	var sdkVersions []string
	if versions != "" {
		for _, v := range strings.Split(versions, ",") {
			v = strings.TrimSpace(v)
			if err := lab.CheckSDKVersion(v); err != nil {
				code, _ := fs.check(fmt.Errorf("--sdk-versions %s: %w", versions, err))
				return code
			}
			if !slices.Contains(sdkVersions, v) {
				sdkVersions = append(sdkVersions, v)
			}
		}
	}
	// lab.Options replaces a zero or negative count, seed, memory or latency
	// with its default, so refuse those here rather than run with other
	// settings than asked for; a negative jitter would fail only after the
	// functions are built.
	if code, ok := fs.check(
		atLeast("invocations", opts.Invocations, 0, fmt.Sprintf("0 (%d, or %d with --quick) or a positive count", lab.DefaultInvocations, lab.QuickInvocations)),
		atMost("invocations", opts.Invocations, maxLabInvocations, fmt.Sprintf("at most %d", maxLabInvocations)),
		atLeast("seed", seed, 1, "a seed of at least 1"),
		atLeast("memory", opts.MemoryMB, 1, fmt.Sprintf("a positive number of MB, such as %d", lab.DefaultMemoryMB)),
		atLeast("latency", opts.Latency, 1, "a positive duration, such as 3ms (1ns for next to no delay)"),
		atLeast("jitter", opts.Jitter, 0, "0 (none) or a positive duration, such as 2ms"),
	); !ok {
		return code
	}
	if rtt != 0 {
		if code, ok := fs.check(
			atLeast("rtt", rtt, 2, "a positive round trip, such as 40ms"),
			refuseIf(flagSet(fs.FlagSet, "latency"), "--rtt sets --latency to half of it: give one or the other"),
		); !ok {
			return code
		}
		opts.Latency = rtt / 2
	}
	opts.Seed = seed
	if opts.Invocations == 0 && quick {
		opts.Invocations = lab.QuickInvocations
	}
	if schedule != lab.ScheduleSeeded {
		n := opts.Invocations
		if n == 0 {
			n = lab.DefaultInvocations
		}
		steps, err := lab.NamedSchedule(schedule, seed, n)
		if code, ok := fs.check(err); !ok {
			return code
		}
		opts.Schedule = steps
	}
	presets := []string{lab.PresetLaptop, lab.PresetLambda}
	if inregion {
		presets = append(presets, lab.PresetInRegion)
	}
	for _, c := range strings.Split(clients, ",") {
		c = strings.TrimSpace(c)
		clientVersions := []string{""}
		if c == lab.ClientNode && len(sdkVersions) > 0 {
			clientVersions = sdkVersions
		}
		for _, v := range clientVersions {
			for _, p := range presets {
				for _, s := range strings.Split(scenarios, ",") {
					for _, o := range resumeOrders {
						opts.Runs = append(opts.Runs, lab.RunSpec{Client: c, SDKVersion: v, Preset: p, Scenario: strings.TrimSpace(s), ResumeOrder: o})
					}
				}
			}
		}
	}
	opts.Progress = lab.NewProgress(stderr, isTerminal(stderr))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	report, err := lab.Run(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "thaw lab keepalive: %v\n", err)
		return 1
	}
	report.Command = "go run ./cmd/thaw lab keepalive " + strings.Join(args, " ")
	fmt.Fprintf(stdout, "\n%s\n\n", report.Settings())
	if err := report.WriteTable(stdout); err != nil {
		fmt.Fprintf(stderr, "thaw lab keepalive: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "\nReproduce with: %s\n", strings.TrimSpace(report.Command))
	if jsonPath != "" {
		if err := report.WriteJSONFile(jsonPath); err != nil {
			fmt.Fprintf(stderr, "thaw lab keepalive: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "JSON: %s\n", jsonPath)
	}
	if htmlPath != "" {
		if err := report.WriteHTMLFile(htmlPath); err != nil {
			fmt.Fprintf(stderr, "thaw lab keepalive: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "HTML: %s\n", htmlPath)
	}
	for _, run := range report.Runs {
		if run.Pcap != "" {
			fmt.Fprintf(stdout, "Packet capture of %s: %s\n", run.Label(), run.Pcap)
		}
	}
	return 0
}

// parseResumeOrders parses --resume-order of thaw lab keepalive: a
// comma-separated list of orders, "both" standing for every one.
func parseResumeOrders(list string) ([]lambda.ResumeOrder, error) {
	var orders []lambda.ResumeOrder
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "both" {
			return lambda.ResumeOrders(), nil
		}
		o, err := lambda.ParseResumeOrder(name)
		if err != nil || name == "" {
			return nil, fmt.Errorf("--resume-order %q: want event-first, thaw-first or both", list)
		}
		if !slices.Contains(orders, o) {
			orders = append(orders, o)
		}
	}
	return orders, nil
}

func runLabTopics(args []string, stdout, stderr io.Writer) int {
	fs := newCommandFlags("thaw lab topics", stderr,
		"Usage: thaw lab topics [flags]",
		"",
		"Runs a topic subscriber (the official Node.js SDK's TopicClient and thaw's Go client) in",
		"thaw lambda functions, frozen between invocations on the keepalive lab's schedule, while a",
		"publisher outside publishes steadily into an embedded thaw serve behind a delaying proxy;",
		"reports items lost, duplicates, spurious resubscribes and first-item-after-thaw latency.")
	var (
		opts      lab.TopicsOptions
		quick     bool
		jsonPath  string
		htmlPath  string
		seed      uint64
		clients   string
		scenarios string
	)
	fs.BoolVar(&quick, "quick", false, fmt.Sprintf("%d invocations per run instead of %d (what CI runs)", lab.QuickInvocations, lab.DefaultInvocations))
	fs.StringVar(&jsonPath, "json", "", "write the runs' metrics as JSON to this `file`")
	fs.StringVar(&htmlPath, "html", "", "write a self-contained page with a timeline per run to this `file`")
	fs.IntVar(&opts.Invocations, "invocations", 0, fmt.Sprintf("invocations per run before the drain, at most %d; overrides --quick (0 = %d, or %d with --quick)", maxLabInvocations, lab.DefaultInvocations, lab.QuickInvocations))
	fs.Uint64Var(&seed, "seed", 1, "seed of the schedule and the proxy's jitter, at least 1")
	fs.DurationVar(&opts.PublishInterval, "publish-every", lab.DefaultPublishInterval, "publisher's period, above 0")
	fs.StringVar(&opts.LogDir, "logs", "", "keep the functions' logs (NAME.log) in this `dir`")
	fs.StringVar(&opts.PcapDir, "pcap", "", "write each run's connections as a packet capture, NAME.pcapng, to this `dir` (see thaw lab keepalive --help)")
	fs.StringVar(&clients, "clients", "node-sdk,go-sdk", "clients to run, a comma-separated `list`: node-sdk, go-sdk")
	fs.StringVar(&scenarios, "scenarios", "healthy,blackhole", "scenarios to run, a comma-separated `list`: healthy, blackhole")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if code, ok := fs.check(
		atLeast("invocations", opts.Invocations, 0, fmt.Sprintf("0 (%d, or %d with --quick) or a positive count", lab.DefaultInvocations, lab.QuickInvocations)),
		atMost("invocations", opts.Invocations, maxLabInvocations, fmt.Sprintf("at most %d", maxLabInvocations)),
		atLeast("seed", seed, 1, "a seed of at least 1"),
		atLeast("publish-every", opts.PublishInterval, 1, "a positive duration, such as 200ms"),
	); !ok {
		return code
	}
	opts.Seed = seed
	if opts.Invocations == 0 && quick {
		opts.Invocations = lab.QuickInvocations
	}
	for _, c := range strings.Split(clients, ",") {
		opts.Clients = append(opts.Clients, strings.TrimSpace(c))
	}
	for _, s := range strings.Split(scenarios, ",") {
		opts.Scenarios = append(opts.Scenarios, strings.TrimSpace(s))
	}
	opts.Progress = lab.NewProgress(stderr, isTerminal(stderr))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	report, err := lab.RunTopics(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "thaw lab topics: %v\n", err)
		return 1
	}
	report.Command = "go run ./cmd/thaw lab topics " + strings.Join(args, " ")
	fmt.Fprintf(stdout, "\n%s\n\n", report.Settings())
	if err := report.WriteTable(stdout); err != nil {
		fmt.Fprintf(stderr, "thaw lab topics: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "\nReproduce with: %s\n", strings.TrimSpace(report.Command))
	if jsonPath != "" {
		if err := report.WriteJSONFile(jsonPath); err != nil {
			fmt.Fprintf(stderr, "thaw lab topics: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "JSON: %s\n", jsonPath)
	}
	if htmlPath != "" {
		if err := report.WriteHTMLFile(htmlPath); err != nil {
			fmt.Fprintf(stderr, "thaw lab topics: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "HTML: %s\n", htmlPath)
	}
	for _, run := range report.Runs {
		if run.Pcap != "" {
			fmt.Fprintf(stdout, "Packet capture of %s/%s: %s\n", run.Client, run.Scenario, run.Pcap)
		}
	}
	return 0
}

func runLabContext(args []string, stdout, stderr io.Writer) int {
	fs := newCommandFlags("thaw lab context", stderr,
		"Usage: thaw lab context [flags]",
		"",
		"The seed's first experiment: a Node.js function counts seconds with setInterval and",
		"by the wall clock; between invocations thaw lambda freezes it, so the counter lags.")
	var opts lab.ContextOptions
	fs.IntVar(&opts.Invocations, "invocations", 10, "how many times to invoke the function, at least 1")
	fs.Uint64Var(&opts.Seed, "seed", 1, "seed of the gaps between invocations (1–6 s), at least 1")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	// lab.ContextOptions replaces a zero or negative count and a zero seed
	// with its default, so refuse those here.
	if code, ok := fs.check(
		atLeast("invocations", opts.Invocations, 1, "at least 1"),
		atLeast("seed", opts.Seed, 1, "a seed of at least 1"),
	); !ok {
		return code
	}
	opts.Progress = stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := lab.Context(ctx, opts)
	if err != nil {
		fmt.Fprintf(stderr, "thaw lab context: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout)
	if err := res.WriteTable(stdout); err != nil {
		fmt.Fprintf(stderr, "thaw lab context: %v\n", err)
		return 1
	}
	return 0
}

// isTerminal reports whether w is a terminal, for the one-line progress.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
