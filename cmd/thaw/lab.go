package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/thaw-dev/thaw/lab"
)

func runLab(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "keepalive":
			return runLabKeepalive(args[1:], stdout, stderr)
		case "context":
			return runLabContext(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintln(stderr, "Usage: thaw lab keepalive [flags]   reproduce the seed's keepalive failure and compare presets")
	fmt.Fprintln(stderr, "       thaw lab context [flags]     the seed's setInterval counter against the wall clock")
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		return 0
	}
	return 2
}

func runLabKeepalive(args []string, stdout, stderr io.Writer) int {
	fs := newCommandFlags("thaw lab keepalive", stderr,
		"Usage: thaw lab keepalive [flags]",
		"",
		"Runs the official Momento Node.js SDK and thaw's Go client in thaw lambda functions, frozen",
		"between invocations, against an embedded thaw serve behind a delaying proxy, and reports",
		"keepalive timeouts, reconnects, failures and latency per client, preset and scenario.")
	var (
		opts      lab.Options
		quick     bool
		jsonPath  string
		htmlPath  string
		inregion  bool
		seed      uint64
		clients   string
		scenarios string
	)
	fs.BoolVar(&quick, "quick", false, fmt.Sprintf("%d invocations per run instead of %d: about a minute and a half (what CI runs)", lab.QuickInvocations, lab.DefaultInvocations))
	fs.StringVar(&jsonPath, "json", "", "write the runs' metrics as JSON to this `file`")
	fs.StringVar(&htmlPath, "html", "", "write a self-contained page with a timeline per run to this `file`")
	fs.IntVar(&opts.Invocations, "invocations", 0, "invocations per run (overrides --quick)")
	fs.Uint64Var(&seed, "seed", 1, "seed of the schedule and the proxy's jitter")
	fs.BoolVar(&opts.TLS, "tls", false, "serve the cache over TLS (a throwaway CA), as the seed's clients connected")
	fs.IntVar(&opts.MemoryMB, "memory", lab.DefaultMemoryMB, "functions' memory in MB; it sets their CPU share (1769 MB = one core)")
	fs.DurationVar(&opts.Latency, "latency", lab.DefaultLatency, "proxy's one-way delay")
	fs.DurationVar(&opts.Jitter, "jitter", lab.DefaultJitter, "proxy's jitter around --latency")
	fs.StringVar(&opts.LogDir, "logs", "", "keep the functions' logs (NAME.log) in this `dir`")
	fs.BoolVar(&inregion, "inregion", false, "also run the in-region preset")
	fs.StringVar(&clients, "clients", "node-sdk,go-sdk", "clients to run, comma-separated")
	fs.StringVar(&scenarios, "scenarios", "healthy,blackhole", "scenarios to run, comma-separated")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	opts.Seed = seed
	if opts.Invocations == 0 && quick {
		opts.Invocations = lab.QuickInvocations
	}
	presets := []string{lab.PresetLaptop, lab.PresetLambda}
	if inregion {
		presets = append(presets, lab.PresetInRegion)
	}
	for _, c := range strings.Split(clients, ",") {
		for _, p := range presets {
			for _, s := range strings.Split(scenarios, ",") {
				opts.Runs = append(opts.Runs, lab.RunSpec{Client: strings.TrimSpace(c), Preset: p, Scenario: strings.TrimSpace(s)})
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
	return 0
}

func runLabContext(args []string, stdout, stderr io.Writer) int {
	fs := newCommandFlags("thaw lab context", stderr,
		"Usage: thaw lab context [flags]",
		"",
		"The seed's first experiment: a Node.js function counts seconds with setInterval and",
		"by the wall clock; between invocations thaw lambda freezes it, so the counter lags.")
	var opts lab.ContextOptions
	fs.IntVar(&opts.Invocations, "invocations", 10, "how many times to invoke the function")
	fs.Uint64Var(&opts.Seed, "seed", 1, "seed of the gaps between invocations (1–6 s)")
	if code, ok := fs.parse(args); !ok {
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
