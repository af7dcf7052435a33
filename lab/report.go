package lab

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of a lab run.
type Report struct {
	// Runs are the runs' metrics, in the order they were asked for.
	Runs []RunResult `json:"runs"`

	// Seed, Invocations, TLS, MemoryMB, Latency and Jitter are the settings
	// the runs used; the HTML page and the table's header show them.
	Seed        uint64        `json:"-"`
	Invocations int           `json:"-"`
	TLS         bool          `json:"-"`
	MemoryMB    int           `json:"-"`
	Latency     time.Duration `json:"-"`
	Jitter      time.Duration `json:"-"`
	// RTO is the server's retransmission timeout in retransmit runs; zero
	// without any.
	RTO time.Duration `json:"-"`
	// Command is the command line that reproduces the run, if known.
	Command string `json:"-"`
}

// WriteJSON writes the report as {"runs": [...]}, indented.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("lab: encode report: %w", err)
	}
	return nil
}

// WriteJSONFile writes the report's JSON to path.
func (r *Report) WriteJSONFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("lab: create %s: %w", path, err)
	}
	if err := r.WriteJSON(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("lab: write %s: %w", path, err)
	}
	return nil
}

// Settings describes the run's settings in one line.
func (r *Report) Settings() string {
	transport := "plaintext"
	if r.TLS {
		transport = "TLS"
	}
	s := fmt.Sprintf("seed %d, %d invocations per run, %s, proxy delay %v±%v one way, %d MB functions (%.0f%% of a core)",
		r.Seed, r.Invocations, transport, r.Latency, r.Jitter, r.MemoryMB, 100*float64(r.MemoryMB)/1769)
	if r.RTO > 0 {
		s += fmt.Sprintf(", server's retransmission timeout %v (retransmit)", r.RTO)
	}
	return s
}

// WriteTable writes the runs as an aligned table.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "client\tsdk\tpreset\tscenario\tresume\tinvocations\tfailed\tpings (acked)\tkeepalive timeouts (invocations)\tcross-invocation\treconnects\tp50 ms\tp99 ms\tfirst after thaw p99 ms\theld while frozen (delivered late, max ms after thaw)\tfailures by code\t")
	for _, run := range r.Runs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d (%d)\t%d (%d)\t%d\t%d\t%.1f\t%.1f\t%.1f\t%s\t%s\t\n",
			run.Client, run.SDKVersion, run.Preset, run.Scenario, run.ResumeOrder, run.Invocations, run.Failed, run.PingsSent, run.PingsAcked,
			run.KeepaliveTimeouts, run.TimeoutInvocations, run.CrossInvocationTimeouts, run.Reconnects, run.P50Ms, run.P99Ms, run.FirstAfterThawP99Ms,
			formatDelayed(run), formatCodes(run.FailedByCode))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("lab: write table: %w", err)
	}
	return nil
}

// formatDelayed formats what a run's freezes held as "held (delivered late,
// max ms after the thaw)", or "-" for a run without any.
func formatDelayed(run RunResult) string {
	if run.HeldWhileFrozen == 0 {
		return "-"
	}
	return fmt.Sprintf("%d (%d, %.0f)", run.HeldWhileFrozen, run.DelayedDeliveries, run.MaxDeliveryDelayMs)
}

// formatCodes formats failure counts as CODE×N, sorted, or "-".
func formatCodes(codes map[string]int) string {
	if len(codes) == 0 {
		return "-"
	}
	var parts []string
	for code, n := range codes {
		parts = append(parts, fmt.Sprintf("%s×%d", code, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}
