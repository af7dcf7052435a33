package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
)

// row is one workload's results.
type row struct {
	workload
	thaw  thawResult
	redis *redisResult // nil without -redis
}

// perElement divides total by the row's element count.
func (r row) perElement(total int64) float64 {
	return float64(total) / float64(r.elements())
}

// overhead is the bytes per element beyond the payload in total, the
// figure that a kind's per-element overhead constant is meant to match.
func (r row) overhead(total int64) float64 {
	return r.perElement(total) - float64(r.payload())
}

// offBy returns got/want-1 and whether its size exceeds tolerance; a want
// that is not positive is always off.
func offBy(got, want, tolerance float64) (float64, bool) {
	if want <= 0 {
		return math.Inf(1), true
	}
	d := got/want - 1
	return d, math.Abs(d) > tolerance
}

// flags describes how the row's accounting is off: in total, and in the
// overhead beyond the payload.
func (r row) flags(tolerance float64) []string {
	var out []string
	if d, off := offBy(float64(r.thaw.accounted), float64(r.thaw.heap), tolerance); off {
		out = append(out, fmt.Sprintf("total %+.0f%%", d*100))
	}
	if d, off := offBy(r.overhead(r.thaw.accounted), r.overhead(r.thaw.heap), tolerance); off {
		out = append(out, fmt.Sprintf("overhead %+.0f%%", d*100))
	}
	return out
}

// environment describes what the numbers were measured on.
type environment struct {
	goVersion string
	redis     string // empty without -redis
	keyLen    int
}

// report prints the header, the table and the rows whose accounting is off.
func report(out io.Writer, env environment, rows []row, tolerance float64) {
	fmt.Fprintf(out, "machine: %s, %d CPUs, %s/%s, Linux %s\n", cpuModel(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, kernel())
	fmt.Fprintf(out, "go:      %s\n", env.goVersion)
	if env.redis != "" {
		fmt.Fprintf(out, "redis:   %s\n", env.redis)
	}
	fmt.Fprintln(out, "Bytes per element. thaw acct: growth of Stats().Bytes (what --max-memory counts); thaw heap: growth of")
	fmt.Fprintln(out, "HeapAlloc after GC; thaw rss: growth of the process's RSS after that GC (GOGC="+gogc()+"), which adds the heap's")
	fmt.Fprintln(out, "headroom and freed memory not yet returned to the OS; redis: growth of used_memory. Both heaps count allocated")
	fmt.Fprintln(out, "blocks, not fragmentation.")
	fmt.Fprintln(out, "Every key has a TTL: thaw items always do; Redis keys get PEXPIRE (one expires-dict entry per key).")
	fmt.Fprintln(out, "payload: the element's own bytes (string: key + value; hash: 16-byte field + value; zset: member +")
	fmt.Fprintf(out, "8-byte score, scores are integers below 2^31). Keys are %d bytes; a collection's are shared by its elements.\n", env.keyLen)
	fmt.Fprintln(out)

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kind\tshape\tvalue\tpayload\tthaw acct\tthaw heap\tthaw rss\tacct/heap\tovh acct/heap\tredis\theap/redis\tredis encoding\tacct vs heap >"+pct(tolerance)+"\t")
	for _, r := range rows {
		acct, heap := r.perElement(r.thaw.accounted), r.perElement(r.thaw.heap)
		redis, ratio, enc := "-", "-", "-"
		if r.redis != nil {
			used := r.perElement(r.redis.usedMemory)
			redis, ratio, enc = fmt.Sprintf("%.1f", used), fmt.Sprintf("%.2f", heap/used), r.redis.encoding
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.2f\t%.2f\t%s\t%s\t%s\t%s\t\n",
			r.kind, r.shape(), r.size, r.payload(), acct, heap, r.perElement(r.thaw.rss), acct/heap,
			r.overhead(r.thaw.accounted)/r.overhead(r.thaw.heap),
			redis, ratio, enc, strings.Join(r.flags(tolerance), ", "))
	}
	tw.Flush()

	fmt.Fprintln(out)
	fmt.Fprintln(out, "ovh: bytes per element beyond the payload, which a kind's overhead constant is meant to match; in")
	fmt.Fprintln(out, "small collections it also holds a share of the item's costs (key, ItemOverhead, collection headers).")
	var off []row
	for _, r := range rows {
		if len(r.flags(tolerance)) > 0 {
			off = append(off, r)
		}
	}
	if len(off) == 0 {
		fmt.Fprintf(out, "Accounting within %s of the heap growth in every row, in total and in overhead.\n", pct(tolerance))
		return
	}
	fmt.Fprintf(out, "Accounting off from the heap growth by more than %s, per element:\n", pct(tolerance))
	for _, r := range off {
		fmt.Fprintf(out, "  %s %s, %d-byte values: total accounted %.1f B, heap %.1f B; overhead accounted %.1f B, heap %.1f B\n",
			r.kind, r.shape(), r.size, r.perElement(r.thaw.accounted), r.perElement(r.thaw.heap),
			r.overhead(r.thaw.accounted), r.overhead(r.thaw.heap))
	}
}

// pct formats a fraction as a whole percentage.
func pct(f float64) string { return fmt.Sprintf("%.0f%%", f*100) }

// cpuModel is the processor's model name, from /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// kernel is the running kernel's release.
func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// gogc is the GOGC the process runs with, as the environment says.
func gogc() string {
	if v := os.Getenv("GOGC"); v != "" {
		return v
	}
	return "100"
}
