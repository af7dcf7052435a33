package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/thaw-dev/thaw/lambda"
)

// ContextOptions say how Context runs the seed's first experiment.
type ContextOptions struct {
	// Root is the thaw checkout holding examples/execution-context. Empty:
	// FindRoot.
	Root string
	// Invocations is how many times the function is invoked. Default 10,
	// as in the seed.
	Invocations int
	// Seed draws the gaps between invocations. Default 1.
	Seed uint64
	// Progress, when set, receives one line per invocation.
	Progress io.Writer
}

// ContextRow is one invocation of the experiment.
type ContextRow struct {
	// Wall is the time since the first invocation, as the lab measured it.
	Wall time.Duration
	// Calculated is the function's wall-clock seconds since its module was
	// loaded; Background is how often its 1 s setInterval has fired.
	Calculated int `json:"calculated"`
	Background int `json:"background"`
}

// ContextResult is the experiment's outcome.
type ContextResult struct {
	Rows []ContextRow
	// FrozenMs is how long the environment spent frozen in all.
	FrozenMs float64
	// Environments is how many environments served the invocations (1 when
	// the environment was reused throughout).
	Environments int
}

// Context runs the seed's first experiment: the Node.js function of
// examples/execution-context/node, which keeps a setInterval counter and the
// wall clock at module level, invoked at irregular intervals (1–6 s) in one
// environment that thaw lambda freezes between invocations.
func Context(ctx context.Context, opts ContextOptions) (*ContextResult, error) {
	if opts.Root == "" {
		root, err := FindRoot()
		if err != nil {
			return nil, err
		}
		opts.Root = root
	}
	if opts.Invocations <= 0 {
		opts.Invocations = 10
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	logDir, err := os.MkdirTemp("", "thaw-lab-context-")
	if err != nil {
		return nil, fmt.Errorf("lab: temp dir: %w", err)
	}
	defer os.RemoveAll(logDir)
	fn := lambda.Function{
		Name:        "execution-context",
		Runtime:     lambda.RuntimeNodeJS,
		Code:        filepath.Join(opts.Root, "examples", "execution-context", "node"),
		Handler:     "index.handler",
		Concurrency: 1,
	}
	emu, err := lambda.Start(ctx, lambda.Config{Addr: "127.0.0.1:0", Functions: []lambda.Function{fn}, LogDir: logDir})
	if err != nil {
		return nil, fmt.Errorf("lab: start lambda emulator: %w", err)
	}
	defer emu.Close()

	rng := rand.New(rand.NewPCG(opts.Seed, 0x636f6e74657874))
	hc := &http.Client{Timeout: 30 * time.Second}
	res := &ContextResult{}
	var first time.Time
	for i := range opts.Invocations {
		if i > 0 {
			gap := time.Second + time.Duration(rng.Int64N(int64(5*time.Second)))
			if !sleepUntil(ctx, time.Now().Add(gap)) {
				return nil, fmt.Errorf("lab: interrupted: %w", ctx.Err())
			}
		}
		now := time.Now()
		if i == 0 {
			first = now
		}
		row, err := invokeContext(ctx, hc, emu.Addr(), fn.Name)
		if err != nil {
			return nil, err
		}
		row.Wall = now.Sub(first)
		res.Rows = append(res.Rows, row)
		fmt.Fprintf(opts.Progress, "lab: invocation %d/%d: wall %d s, background %d s\n", i+1, opts.Invocations, row.Calculated, row.Background)
	}
	for _, env := range emu.Environments() {
		res.Environments++
		res.FrozenMs += env.FrozenTotalMs
	}
	return res, nil
}

// invokeContext invokes the experiment's function once.
func invokeContext(ctx context.Context, hc *http.Client, addr, name string) (ContextRow, error) {
	var row ContextRow
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/2015-03-31/functions/"+name+"/invocations", strings.NewReader("{}"))
	if err != nil {
		return row, fmt.Errorf("lab: invoke %s: %w", name, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return row, fmt.Errorf("lab: invoke %s: %w", name, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return row, fmt.Errorf("lab: read %s's reply: %w", name, err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Amz-Function-Error") != "" {
		return row, fmt.Errorf("lab: invoke %s: status %d, function error %q: %s", name, resp.StatusCode, resp.Header.Get("X-Amz-Function-Error"), data)
	}
	if err := json.Unmarshal(data, &row); err != nil {
		return row, fmt.Errorf("lab: %s's reply %q: %w", name, data, err)
	}
	return row, nil
}

// WriteTable writes the experiment's table and a one-line conclusion.
func (r *ContextResult) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "invocation\tinvoked at (s)\tcalculated (wall s)\tbackground task (s)\t")
	for i, row := range r.Rows {
		fmt.Fprintf(tw, "%d\t%.1f\t%d\t%d\t\n", i+1, row.Wall.Seconds(), row.Calculated, row.Background)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("lab: write table: %w", err)
	}
	if len(r.Rows) > 0 {
		last := r.Rows[len(r.Rows)-1]
		fmt.Fprintf(w, "\n%d invocation(s) in %d environment(s), frozen %.1f s in all: the wall clock advanced %d s, the setInterval counter %d.\n",
			len(r.Rows), r.Environments, r.FrozenMs/1000, last.Calculated, last.Background)
	}
	return nil
}
