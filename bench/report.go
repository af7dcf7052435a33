package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// writeJSON writes v as one line of JSON, the last line of the output.
func writeJSON(w io.Writer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("bench: encode result: %w", err)
	}
	if _, err := fmt.Fprintf(w, "%s\n", data); err != nil {
		return fmt.Errorf("bench: write result: %w", err)
	}
	return nil
}

// describeLoad is the heading of a load result: what ran against what.
func describeLoad(r *LoadResult) string {
	c := r.Config
	var b strings.Builder
	fmt.Fprintf(&b, "%s cache %q (%s", c.Endpoint, c.Cache, transportName(c.TLS))
	if c.Auth {
		b.WriteString(", API key")
	}
	b.WriteString("): ")
	if r.Mode == "open" {
		fmt.Fprintf(&b, "open loop at %g ops/s, at most %d in flight", c.Rate, c.Concurrency)
	} else {
		fmt.Fprintf(&b, "closed loop, %d in flight", c.Concurrency)
	}
	fmt.Fprintf(&b, " on %d connections; ops %s, %d-byte values, %d keys %s; %.1fs measured after %.1fs warmup",
		c.Connections, c.Ops, c.ValueSize, c.Keys, c.Distribution, r.DurationS, c.WarmupS)
	return b.String()
}

// transportName says how a result's connections were made: "TLS" or
// "plaintext".
func transportName(tls bool) string {
	if tls {
		return "TLS"
	}
	return "plaintext"
}

// writeInterruption says how much an interrupted result covers: nothing,
// when it was interrupted before measuring (durationS 0), or else the part
// that ran. It writes nothing for a result that was not interrupted.
func writeInterruption(w io.Writer, interrupted bool, durationS float64, nothing string) {
	switch {
	case interrupted && durationS == 0:
		fmt.Fprintln(w, nothing)
	case interrupted:
		fmt.Fprintln(w, "interrupted: the numbers cover the part that ran")
	}
}

// writeLoadTable writes a load result as a table for people.
func writeLoadTable(w io.Writer, r *LoadResult) {
	fmt.Fprintf(w, "%s\n", describeLoad(r))
	writeInterruption(w, r.Interrupted, r.DurationS, "interrupted before measuring started: nothing was measured")
	fmt.Fprintln(w)
	width := len("all")
	for name := range r.PerOp {
		width = max(width, len(name))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tops\tops/s\thits\tmisses\terrors\tp50\tp90\tp99\tp99.9\tmax\t\n", width, "op")
	row := func(name string, o OpResult) {
		lat := func(us float64) string {
			if o.Ops == 0 {
				return "-"
			}
			return formatUS(us)
		}
		fmt.Fprintf(tw, "%-*s\t%d\t%.0f\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t\n", width, name, o.Ops, o.OpsPerS, o.Hits, o.Misses, o.Errors,
			lat(o.P50US), lat(o.P90US), lat(o.P99US), lat(o.P999US), lat(o.MaxUS))
	}
	for _, name := range slices.Sorted(maps.Keys(r.PerOp)) {
		row(name, *r.PerOp[name])
	}
	if len(r.PerOp) > 1 {
		row("all", OpResult{Ops: r.Ops, OpsPerS: r.OpsPerS, Hits: r.Hits, Misses: r.Misses, Errors: r.Errors, Latency: r.Latency})
	}
	tw.Flush()
	if achieved := r.OpsPerS + perSecondErrors(r); r.Mode == "open" && r.TargetRate > 0 && r.DurationS > 0 && achieved/r.TargetRate < 0.9 {
		fmt.Fprintf(w, "\nthe load fell behind the schedule: %.0f of %g ops/s; raise --concurrency, or the server is saturated\n",
			achieved, r.TargetRate)
	}
	if len(r.ErrorsByCode) > 0 {
		fmt.Fprintf(w, "\nerrors by code:")
		for _, code := range slices.Sorted(maps.Keys(r.ErrorsByCode)) {
			fmt.Fprintf(w, " %s %d", code, r.ErrorsByCode[code])
		}
		fmt.Fprintln(w)
	}
}

func perSecondErrors(r *LoadResult) float64 {
	if r.DurationS <= 0 {
		return 0
	}
	return float64(r.Errors) / r.DurationS
}

// writeIdleTable writes an idle result for people.
func writeIdleTable(w io.Writer, r *IdleResult) {
	fmt.Fprintf(w, "%s (%s): %d idle connections, keepalive every %gs, for %.1fs\n",
		r.Endpoint, transportName(r.TLS), r.Connections, r.KeepaliveS, r.DurationS)
	writeInterruption(w, r.Interrupted, r.DurationS, "interrupted while connecting: the server's usage was not measured")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "connected\t%d of %d in %.2fs\n", r.Connected, r.Connections, r.ConnectS)
	if r.FailedToConnect > 0 {
		fmt.Fprintf(tw, "failed to connect\t%d\n", r.FailedToConnect)
	}
	lost := fmt.Sprint(r.Lost)
	for _, reason := range slices.Sorted(maps.Keys(r.LostReasons)) {
		lost += fmt.Sprintf(" (%s %d)", reason, r.LostReasons[reason])
	}
	fmt.Fprintf(tw, "lost during the window\t%s\n", lost)
	fmt.Fprintf(tw, "keepalive pings\t%d sent, %d unanswered", r.Pings, r.PingFailures)
	if r.Pings > r.PingFailures {
		fmt.Fprintf(tw, ", round trip p50 %s p99 %s max %s", formatUS(r.PingRTT.P50US), formatUS(r.PingRTT.P99US), formatUS(r.PingRTT.MaxUS))
	}
	fmt.Fprintln(tw)
	s := r.Server
	if s.Local && r.DurationS > 0 {
		fmt.Fprintf(tw, "server process\tpid %d\n", s.PID)
		fmt.Fprintf(tw, "server CPU\t%.2f%% of one core over the window\n", s.CPUPercent)
		fmt.Fprintf(tw, "server RSS\t%s before connecting, %s connected, %s at the end\n",
			formatBytes(s.RSSBeforeBytes), formatBytes(s.RSSStartBytes), formatBytes(s.RSSEndBytes))
		fmt.Fprintf(tw, "server RSS per connection\t%s\n", formatBytes(s.RSSPerConnBytes))
	} else {
		fmt.Fprintf(tw, "server process\tnot watched\n")
	}
	tw.Flush()
	if s.Note != "" {
		fmt.Fprintf(w, "\nnote: %s\n", s.Note)
	}
}

// formatBytes writes n in KiB or MiB.
func formatBytes(n int64) string {
	switch {
	case n >= 10<<20 || n <= -10<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 10<<10 || n <= -10<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
