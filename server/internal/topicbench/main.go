// Command topicbench measures thaw's topics against a real server on
// loopback: one publisher fanning out to many subscribers of one topic
// (delivery latency, p50 and p99, with and without slow subscribers), and
// many idle subscriptions (the server's memory and CPU per subscription,
// heartbeats included).
//
// The server is a `thaw serve` process of its own (-thaw), so that its CPU
// time and memory, read from its /metrics, are the server's alone; the
// subscribers and the publisher run in this process. Without -thaw the
// server runs in this process, and its figures include the clients.
//
// scripts/bench-topics.sh builds thaw and runs it; by hand:
//
//	go build -o .bin/thaw ./cmd/thaw && go run ./server/internal/topicbench -thaw .bin/thaw
//
// The figures are for reading, not for passing or failing: on a shared
// 2-core machine the clients compete with the server for the CPUs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// config is what the command line asks for.
type config struct {
	thawBin   string
	fanout    fanoutConfig
	idle      idleConfig
	retention int
	heartbeat time.Duration
	skipFan   bool
	skipIdle  bool
	perConn   int
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("topicbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.thawBin, "thaw", "", "`path` of the thaw binary to run as the server; empty: a server in this process (its figures then include the clients)")
	fs.IntVar(&cfg.fanout.subscribers, "subscribers", 1000, "subscribers of the fan-out topic that keep up")
	fs.IntVar(&cfg.fanout.slow, "slow", 10, "slow subscribers added in the second of three fan-out runs (0: one run only)")
	fs.DurationVar(&cfg.fanout.slowDelay, "slow-delay", time.Second, "how long a slow subscriber takes over each message")
	fs.IntVar(&cfg.fanout.messages, "messages", 3000, "messages the publisher sends per fan-out run: enough for the slow subscribers to fall out of the retention and the transport's buffers")
	fs.IntVar(&cfg.fanout.rate, "rate", 100, "messages per second the publisher sends (the service's publish limit is 100/s)")
	fs.IntVar(&cfg.fanout.payload, "payload", 100, "bytes per message, at least 8 (a timestamp)")
	fs.IntVar(&cfg.idle.subscriptions, "idle", 10000, "idle subscriptions of the idle run")
	fs.IntVar(&cfg.idle.topics, "idle-topics", 100, "topics the idle subscriptions are spread over")
	fs.DurationVar(&cfg.idle.window, "idle-window", 20*time.Second, "how long the idle run measures the server's CPU")
	fs.DurationVar(&cfg.idle.settle, "settle", 3*time.Second, "how long the idle run lets the server settle before each sample")
	fs.IntVar(&cfg.retention, "retention", 1024, "the server's --topic-retention")
	fs.DurationVar(&cfg.heartbeat, "heartbeat", time.Second, "the server's --topic-heartbeat-interval (the service's is 1s)")
	fs.IntVar(&cfg.perConn, "streams-per-conn", 100, "subscriptions per client connection (the SDKs open 100 per channel)")
	fs.BoolVar(&cfg.skipFan, "skip-fanout", false, "run only the idle measurement")
	fs.BoolVar(&cfg.skipIdle, "skip-idle", false, "run only the fan-out measurement")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if cfg.fanout.payload < 8 || cfg.fanout.subscribers < 1 || cfg.fanout.messages < 1 || cfg.fanout.rate < 1 || cfg.idle.subscriptions < 1 || cfg.idle.topics < 1 || cfg.perConn < 1 {
		return cfg, errors.New("topicbench: -payload must be at least 8 and the counts at least 1")
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, err)
		return 2
	}
	if err := bench(ctx, cfg, stdout); err != nil {
		fmt.Fprintln(stderr, "topicbench:", err)
		return 1
	}
	return 0
}

// bench starts the server and runs the measurements cfg asks for.
func bench(ctx context.Context, cfg config, out io.Writer) error {
	// Limits far above what the runs use: they measure the server, not its
	// guard rails.
	srv, err := startTarget(ctx, cfg.thawBin, []string{
		"--topic-heartbeat-interval", cfg.heartbeat.String(),
		"--topic-retention", fmt.Sprint(cfg.retention),
		"--topic-max-subscriptions", "1000000",
		"--topic-publish-rate", "1000000",
		"--create-cache", benchCache,
		"--log-level", "warn",
	})
	if err != nil {
		return err
	}
	defer srv.stop()
	srv.perConn = cfg.perConn
	printEnvironment(out, cfg, srv)

	if !cfg.skipFan {
		runs := []int{0}
		if cfg.fanout.slow > 0 {
			runs = append(runs, cfg.fanout.slow, 0)
		}
		var results []fanoutResult
		for i, slow := range runs {
			fc := cfg.fanout
			fc.slow = slow
			fc.topic = fmt.Sprintf("fanout-%d", i)
			res, err := runFanout(ctx, srv, fc)
			if err != nil {
				return fmt.Errorf("fan-out with %d slow subscribers: %w", slow, err)
			}
			results = append(results, res)
			runtime.GC() // the next run starts without this one's garbage in the clients
		}
		printFanout(out, cfg, results)
	}
	if !cfg.skipIdle {
		res, err := runIdle(ctx, srv, cfg.idle)
		if err != nil {
			return fmt.Errorf("idle subscriptions: %w", err)
		}
		printIdle(out, cfg, res)
	}
	fmt.Fprintf(out, "load:    %s at the end\n", loadAverage())
	return nil
}
