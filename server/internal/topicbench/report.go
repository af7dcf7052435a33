package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// printEnvironment says what the figures were measured on.
func printEnvironment(out io.Writer, cfg config, t *target) {
	fmt.Fprintf(out, "machine: %s, %d CPUs, %s/%s; %s\n", cpuModel(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	where := "thaw serve, a process of its own (" + cfg.thawBin + "): server figures are the server's alone"
	if !t.separate {
		where = "a server in this process: its CPU and memory figures include the clients"
	}
	fmt.Fprintf(out, "server:  %s; --topic-heartbeat-interval %v, --topic-retention %d\n", where, cfg.heartbeat, cfg.retention)
	fmt.Fprintf(out, "clients: this process, on loopback, %d subscriptions per connection\n", t.perConn)
	fmt.Fprintf(out, "load:    %s at the start (other work on the machine skews every figure)\n\n", loadAverage())
}

// loadAverage returns the 1-, 5- and 15-minute load averages of the machine.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func printFanout(out io.Writer, cfg config, results []fanoutResult) {
	f := cfg.fanout
	fmt.Fprintf(out, "Fan-out: 1 publisher -> %d subscribers of one topic, %d messages of %d B at %d/s\n", f.subscribers, f.messages, f.payload, f.rate)
	fmt.Fprintln(out, "latency: publish call start to arrival at a subscriber that keeps up, over every delivery")
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "slow subscribers\tdeliveries\tmissed\tp50\tp99\tp99.9\tmax\tserver CPU\tserver RSS before/peak/after\tslow: items, discontinuities, skipped\t")
	for _, r := range results {
		slow := "-"
		if r.cfg.slow > 0 {
			slow = fmt.Sprintf("%d, %d, %d", r.slowItems, r.slowGaps, r.slowSkipped)
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%s\t%s\t%.0f%% of a core\t%s / %s / %s\t%s\t\n",
			r.cfg.slow, r.deliveries, r.missed+r.gaps, ms(r.p50), ms(r.p99), ms(r.p999), ms(r.latMax),
			100*r.serverCPU/r.elapsed.Seconds(), mib(r.rssBefore), mib(r.rssPeak), mib(r.rssAfter), slow)
	}
	tw.Flush()
	if len(results) > 1 {
		fmt.Fprintf(out, "A slow subscriber reads one message per %v until the publisher is done, then catches up:\n", f.slowDelay)
		fmt.Fprintln(out, "it gets a discontinuity over what the topic no longer kept, while the others get every message.")
		fmt.Fprintln(out, "The last run repeats the first, to tell the slow subscribers' effect from drift between runs.")
	}
	fmt.Fprintln(out)
}

func printIdle(out io.Writer, cfg config, r idleResult) {
	n := float64(r.cfg.subscriptions)
	fmt.Fprintf(out, "Idle: %d subscriptions over %d topics, nothing published, heartbeat every %v; CPU over %v\n",
		r.cfg.subscriptions, r.cfg.topics, cfg.heartbeat, r.cfg.window)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "server\tno subscriptions\tsubscriptions held\tper subscription\t")
	row := func(what string, base, held float64) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f KiB\t\n", what, mib(base), mib(held), (held-base)/n/1024)
	}
	row("RSS", r.base.rss, r.held.rss)
	row("Go heap in use (with uncollected garbage)", r.base.heapInuse, r.held.heapInuse)
	row("goroutine stacks", r.base.stackInuse, r.held.stackInuse)
	fmt.Fprintf(tw, "goroutines\t%.0f\t%.0f\t%.2f\t\n", r.base.goroutines, r.held.goroutines, (r.held.goroutines-r.base.goroutines)/n)
	fmt.Fprintf(tw, "CPU\t%.2f%% of a core\t%.2f%% of a core\t%.1f µs/s\t\n", 100*r.baseCPU, 100*r.heldCPU, (r.heldCPU-r.baseCPU)/n*1e6)
	fmt.Fprintf(tw, "heartbeats sent\t\t%.0f/s\t%.2f/s\t\n", r.heartbeats, r.heartbeats/n)
	tw.Flush()
	fmt.Fprintf(out, "After the subscriptions closed the server had %.0f goroutines again (memory returns at its next GC).\n\n", r.closed.goroutines)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

// cpuModel returns the CPU's model name from /proc/cpuinfo, or "unknown CPU".
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return "unknown CPU"
}
