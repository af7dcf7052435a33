package bench

import (
	"fmt"
	"html"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Plot geometry, in SVG user units.
const (
	plotWidth   = 760
	plotHeight  = 320
	plotLeft    = 70
	plotRight   = 45
	plotTop     = 20
	plotBottom  = 45
	maxNines    = 6    // the percentile axis ends at 99.9999%
	nineStep    = 0.02 // points per decade of the percentile axis: 50
	seriesWidth = 2
)

// seriesColors are the colors of the plots' series, in order.
var seriesColors = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}

// WriteHTMLFile writes r as a self-contained HTML page to path: the table,
// a latency by percentile plot with a logarithmic percentile axis (as
// HdrHistogram's plotter draws it) and throughput per second.
func WriteHTMLFile(path string, r *LoadResult) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: --html: %w", err)
	}
	err = writeHTML(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("bench: --html %s: %w", path, err)
	}
	return nil
}

func writeHTML(w io.Writer, r *LoadResult) error {
	var b strings.Builder
	title := fmt.Sprintf("thaw bench %s, %s", r.Config.Endpoint, time.Now().Format("2006-01-02 15:04:05"))
	fmt.Fprintf(&b, `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>%s</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:%dpx}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:.2em .7em;text-align:right;border-bottom:1px solid #ddd}
th:first-child,td:first-child{text-align:left}
svg{display:block;margin:1em 0}
svg text{font-size:12px;fill:#333}
.grid{stroke:#e4e4e4}
.axis{stroke:#888}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto}
</style></head><body>
`, html.EscapeString(title), plotWidth+40)
	fmt.Fprintf(&b, "<h1>thaw bench</h1>\n<p>%s</p>\n", html.EscapeString(describeLoad(r)))
	if r.Interrupted {
		b.WriteString("<p><strong>Interrupted:</strong> the numbers cover the part that ran.</p>\n")
	}
	b.WriteString("<table><tr><th>op</th><th>ops</th><th>ops/s</th><th>hits</th><th>misses</th><th>errors</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>\n")
	row := func(name string, o OpResult) {
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%d</td><td>%.0f</td><td>%d</td><td>%d</td><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
			html.EscapeString(name), o.Ops, o.OpsPerS, o.Hits, o.Misses, o.Errors,
			formatUS(o.P50US), formatUS(o.P90US), formatUS(o.P99US), formatUS(o.P999US), formatUS(o.MaxUS))
	}
	names := slices.Sorted(maps.Keys(r.PerOp))
	for _, name := range names {
		row(name, *r.PerOp[name])
	}
	if len(names) > 1 {
		row("all", OpResult{Ops: r.Ops, OpsPerS: r.OpsPerS, Hits: r.Hits, Misses: r.Misses, Errors: r.Errors, Latency: r.Latency})
	}
	b.WriteString("</table>\n")
	if len(r.ErrorsByCode) > 0 {
		b.WriteString("<p>Errors by code:")
		for _, code := range slices.Sorted(maps.Keys(r.ErrorsByCode)) {
			fmt.Fprintf(&b, " %s %d", html.EscapeString(code), r.ErrorsByCode[code])
		}
		b.WriteString("</p>\n")
	}

	b.WriteString("<h2>Latency by percentile</h2>\n")
	what := "from send to reply"
	if r.Mode == "open" {
		what = "from each request's intended send time to its reply (open loop: stalls are not hidden)"
	}
	fmt.Fprintf(&b, "<p>Successful requests, %s.</p>\n", what)
	var series []percentileSeries
	if len(names) > 1 && r.total != nil {
		series = append(series, percentileSeries{"all", r.total})
	}
	for _, name := range names {
		if h := r.hists[name]; h != nil {
			series = append(series, percentileSeries{name, h})
		}
	}
	writePercentilePlot(&b, series)

	b.WriteString("<h2>Throughput per second</h2>\n")
	writeThroughputPlot(&b, r.OpsPerSecond, r.ErrorsPerSecond)

	b.WriteString("<h2>Configuration</h2>\n<pre>")
	c := r.Config
	fmt.Fprintf(&b, "endpoint %s\ncache %s\ntls %v, API key %v\nmode %s, concurrency %d, connections %d, rate %g\nops %s, value size %d, keys %d (%s)\nduration %gs, warmup %gs, timeout %gs, preload %v\n",
		html.EscapeString(c.Endpoint), html.EscapeString(c.Cache), c.TLS, c.Auth, r.Mode, c.Concurrency, c.Connections, c.Rate,
		html.EscapeString(c.Ops), c.ValueSize, c.Keys, html.EscapeString(c.Distribution), c.DurationS, c.WarmupS, c.TimeoutS, c.Preload)
	b.WriteString("</pre>\n</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// percentileSeries is one line of the percentile plot.
type percentileSeries struct {
	name string
	hist *hdrhistogram.Histogram
}

// percentileX places percentile p (0 to 100) on the logarithmic axis: the
// number of nines, 0 at 0%, 1 at 90%, 2 at 99%.
func percentileX(p float64) float64 {
	return -math.Log10(1 - p/100)
}

// writePercentilePlot draws latency (linear, vertical) by percentile
// (logarithmic in 1/(1-p), horizontal).
func writePercentilePlot(b *strings.Builder, series []percentileSeries) {
	var nines, maxUS float64
	for _, s := range series {
		if n := s.hist.TotalCount(); n > 0 {
			nines = max(nines, math.Min(math.Log10(float64(n)), maxNines))
			maxUS = max(maxUS, float64(s.hist.Max()))
		}
	}
	if nines == 0 {
		b.WriteString("<p>No successful requests.</p>\n")
		return
	}
	nines = math.Ceil(nines)
	yMax, yStep := niceScale(maxUS)
	innerW := float64(plotWidth - plotLeft - plotRight)
	innerH := float64(plotHeight - plotTop - plotBottom)
	x := func(n float64) float64 { return plotLeft + innerW*n/nines }
	y := func(us float64) float64 { return plotTop + innerH*(1-us/yMax) }
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="latency by percentile">`+"\n",
		plotWidth, plotHeight, plotWidth, plotHeight)
	for v := 0.0; v <= yMax+yStep/2; v += yStep {
		fmt.Fprintf(b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/><text x="%d" y="%.1f" text-anchor="end" dy="4">%s</text>`+"\n",
			plotLeft, plotWidth-plotRight, y(v), y(v), plotLeft-6, y(v), formatUS(v))
	}
	for n := 0.0; n <= nines; n++ {
		label := "0%"
		if n > 0 {
			label = fmt.Sprintf("%.*f%%", max(int(n)-2, 0), 100*(1-math.Pow(10, -n)))
		}
		fmt.Fprintf(b, `<line class="grid" x1="%.1f" x2="%.1f" y1="%d" y2="%d"/><text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n",
			x(n), x(n), plotTop, plotHeight-plotBottom, x(n), plotHeight-plotBottom+16, label)
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">percentile</text>`+"\n", plotLeft+innerW/2, plotHeight-6)
	for i, s := range series {
		if s.hist.TotalCount() == 0 {
			continue
		}
		color := seriesColors[i%len(seriesColors)]
		var pts []string
		last := math.Min(math.Log10(float64(s.hist.TotalCount())), nines)
		for n := 0.0; n <= last+1e-9; n += nineStep {
			p := 100 * (1 - math.Pow(10, -n))
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(n), y(float64(s.hist.ValueAtPercentile(p)))))
		}
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(last), y(float64(s.hist.Max()))))
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="%d" points="%s"/>`+"\n", color, seriesWidth, strings.Join(pts, " "))
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="12" height="4" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			plotLeft+10, plotTop+8+16*i, color, plotLeft+28, plotTop+14+16*i, html.EscapeString(s.name))
	}
	fmt.Fprintf(b, `<line class="axis" x1="%d" x2="%d" y1="%d" y2="%d"/>`+"\n", plotLeft, plotWidth-plotRight, plotHeight-plotBottom, plotHeight-plotBottom)
	b.WriteString("</svg>\n")
}

// writeThroughputPlot draws successful requests per second as bars, and
// failed ones in red.
func writeThroughputPlot(b *strings.Builder, ops, errs []int64) {
	if len(ops) == 0 {
		b.WriteString("<p>No complete second was measured.</p>\n")
		return
	}
	var top int64
	for i := range ops {
		top = max(top, ops[i]+errs[i])
	}
	yMax, yStep := niceScale(float64(top))
	innerW := float64(plotWidth - plotLeft - plotRight)
	innerH := float64(plotHeight - plotTop - plotBottom)
	barW := innerW / float64(len(ops))
	y := func(v float64) float64 { return plotTop + innerH*(1-v/yMax) }
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="throughput per second">`+"\n",
		plotWidth, plotHeight, plotWidth, plotHeight)
	for v := 0.0; v <= yMax+yStep/2; v += yStep {
		fmt.Fprintf(b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/><text x="%d" y="%.1f" text-anchor="end" dy="4">%.0f</text>`+"\n",
			plotLeft, plotWidth-plotRight, y(v), y(v), plotLeft-6, y(v), v)
	}
	labelEvery := max(1, len(ops)/15)
	for i := range ops {
		x0 := plotLeft + barW*float64(i)
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>second %d: %d ops, %d errors</title></rect>`+"\n",
			x0+barW*0.1, y(float64(ops[i])), barW*0.8, y(0)-y(float64(ops[i])), seriesColors[0], i+1, ops[i], errs[i])
		if errs[i] > 0 {
			fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#d62728"/>`+"\n",
				x0+barW*0.1, y(float64(ops[i]+errs[i])), barW*0.8, y(float64(ops[i]))-y(float64(ops[i]+errs[i])))
		}
		if (i+1)%labelEvery == 0 || i == 0 {
			fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n", x0+barW/2, plotHeight-plotBottom+16, i+1)
		}
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">second of the measured window (ops/s; failed requests in red)</text>`+"\n", plotLeft+innerW/2, plotHeight-6)
	fmt.Fprintf(b, `<line class="axis" x1="%d" x2="%d" y1="%d" y2="%d"/>`+"\n", plotLeft, plotWidth-plotRight, plotHeight-plotBottom, plotHeight-plotBottom)
	b.WriteString("</svg>\n")
}

// niceScale returns an axis top at or above v and a step of 1, 2 or 5
// times a power of ten, giving about five grid lines.
func niceScale(v float64) (top, step float64) {
	if v <= 0 {
		return 1, 0.2
	}
	raw := v / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step = mag * 10
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	return math.Ceil(v/step) * step, step
}
