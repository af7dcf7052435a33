package lab

import (
	"fmt"
	"html"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Geometry of a run's timeline, in SVG user units.
const (
	svgWidth    = 1120
	svgLeft     = 104 // room for the lane labels
	svgRight    = 16
	svgHeight   = 150
	laneCalls   = 34  // centre of the invocation bars
	lanePings   = 70  // pings sent and acknowledged
	laneTrouble = 104 // keepalive timeouts, reconnects
	axisY       = 128
)

// Colours shared by the timelines and the legend.
const (
	colourFrozen    = "#dfe7f1"
	colourCall      = "#3c8d5a"
	colourAtOnce    = "#8fb8de"
	colourFailed    = "#d62728"
	colourPing      = "#1f5fbf"
	colourAck       = "#2ca02c"
	colourTimeout   = "#d62728"
	colourReconnect = "#8e44ad"
	colourConn      = "#999999"
	colourBlackhole = "#111111"
	colourHeld      = "#e67e22"
)

// WriteHTML writes the report as one self-contained page: the settings, the
// table and, per run, an SVG timeline drawn from the recorded events. It
// loads nothing from elsewhere and runs no script.
func (r *Report) WriteHTML(w io.Writer) error { return r.writeHTML(w, "") }

// writeHTML writes the page; links to packet captures are relative to dir
// when it is not empty, the directory the page is written to.
func (r *Report) writeHTML(w io.Writer, dir string) error {
	page := htmlPage{
		title:    "thaw lab keepalive",
		settings: r.Settings(),
		command:  r.Command,
		intro:    `Each function runs in <code>thaw lambda</code>, frozen with the cgroup freezer between invocations, and reaches an embedded <code>thaw serve</code> through a delaying proxy. Every run replays the same seeded schedule; nothing injects errors or timeouts. A keepalive timeout is <em>cross-invocation</em> when it is logged under another request id than the ping it answers, the evidence the Momento team found in production.`,
		summary:  r.writeSummaryTable,
	}
	for _, run := range r.Runs {
		page.sections = append(page.sections, htmlSection{
			heading: run.Label(),
			meta: fmt.Sprintf("%d invocations (%d with a cache call), %d failed, %d keepalive pings sent, %d acknowledged, %d keepalive timeouts (%d cross-invocation), %d reconnects",
				run.Invocations, run.CacheCalls, run.Failed, run.PingsSent, run.PingsAcked,
				run.KeepaliveTimeouts, run.CrossInvocationTimeouts, run.Reconnects),
			timeline: run.Timeline,
			pcap:     linkPath(run.Pcap, dir),
		})
	}
	return page.write(w)
}

// linkPath is the address of the file at path from a page in dir: path
// relative to dir when both resolve, else path itself, as a URL path.
func linkPath(path, dir string) string {
	if path == "" || dir == "" {
		return filepath.ToSlash(path)
	}
	absPath, err1 := filepath.Abs(path)
	absDir, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return filepath.ToSlash(path)
	}
	rel, err := filepath.Rel(absDir, absPath)
	if err != nil {
		return filepath.ToSlash(path)
	}
	return filepath.ToSlash(rel)
}

// htmlPage is one lab's self-contained report page: its settings, a
// summary table, the legend and one timeline per run.
type htmlPage struct {
	title, settings, command string
	intro                    string // HTML, written as it is
	summary                  func(*strings.Builder)
	sections                 []htmlSection
}

// htmlSection is one run's heading, one line of its figures, its timeline
// (nil for none) and the address of its packet capture (empty for none).
type htmlSection struct {
	heading, meta string
	timeline      *Timeline
	pcap          string
}

// write writes the page to w.
func (p *htmlPage) write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>%s</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#222;max-width:1160px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:16px;margin:28px 0 2px}
p.meta{color:#555;margin:2px 0 10px}
table{border-collapse:collapse;font-size:12.5px;margin:10px 0}
th,td{border-bottom:1px solid #ddd;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#f4f4f4;white-space:normal;vertical-align:bottom} td.l,th.l{text-align:left}
td.bad{color:#b00;font-weight:600}
svg{display:block;width:100%%;height:auto;background:#fff;border:1px solid #e3e3e3}
svg text{font:11px system-ui,sans-serif;fill:#444}
code{background:#f4f4f4;padding:1px 4px}
</style></head><body>
`, html.EscapeString(p.title))
	fmt.Fprintf(&b, "<h1>%s</h1>\n<p class=\"meta\">%s</p>\n", html.EscapeString(p.title), html.EscapeString(p.settings))
	if p.command != "" {
		fmt.Fprintf(&b, "<p class=\"meta\">Reproduce with <code>%s</code></p>\n", html.EscapeString(strings.TrimSpace(p.command)))
	}
	fmt.Fprintf(&b, "<p>%s</p>\n", p.intro)
	p.summary(&b)
	b.WriteString("<h2>Legend</h2>\n")
	writeLegend(&b)
	// One time scale for every run, so that their timelines line up.
	var longest time.Duration
	for _, s := range p.sections {
		if s.timeline != nil {
			longest = max(longest, s.timeline.End.Sub(s.timeline.Start))
		}
	}
	for _, s := range p.sections {
		fmt.Fprintf(&b, "<h2>%s</h2>\n<p class=\"meta\">%s</p>\n", html.EscapeString(s.heading), html.EscapeString(s.meta))
		if s.pcap != "" {
			href := (&url.URL{Path: s.pcap}).String()
			fmt.Fprintf(&b, "<p class=\"meta\">Packet capture: <a href=\"%s\">%s</a> (each packet's comment names its invocation)</p>\n",
				html.EscapeString(href), html.EscapeString(s.pcap))
		}
		if s.timeline != nil {
			writeTimeline(&b, s.timeline, longest)
		}
	}
	b.WriteString("</body></html>\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("lab: write HTML: %w", err)
	}
	return nil
}

// WriteHTMLFile writes the report's page to path.
func (r *Report) WriteHTMLFile(path string) error {
	return writeHTMLFile(path, func(w io.Writer) error { return r.writeHTML(w, filepath.Dir(path)) })
}

// writeHTMLFile creates path and writes a page into it with write.
func writeHTMLFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("lab: create %s: %w", path, err)
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("lab: write %s: %w", path, err)
	}
	return nil
}

// writeSummaryTable writes the runs' metrics as an HTML table.
func (r *Report) writeSummaryTable(b *strings.Builder) {
	b.WriteString(`<table><tr><th class="l">client</th><th class="l">sdk</th><th class="l">preset</th><th class="l">scenario</th><th>invocations</th><th>failed</th><th>pings (acked)</th><th>keepalive timeouts</th><th>cross-invocation</th><th>reconnects</th><th>p50 ms</th><th>p99 ms</th><th>first after thaw p99 ms</th><th>held while frozen (delivered late, max ms after thaw)</th><th class="l">failures by code</th></tr>
`)
	for _, run := range r.Runs {
		bad := badClass
		fmt.Fprintf(b, "<tr><td class=\"l\">%s</td><td class=\"l\">%s</td><td class=\"l\">%s</td><td class=\"l\">%s</td><td>%d</td><td%s>%d</td><td>%d (%d)</td><td%s>%d</td><td%s>%d</td><td>%d</td><td>%.1f</td><td>%.1f</td><td>%.1f</td><td>%s</td><td class=\"l\">%s</td></tr>\n",
			html.EscapeString(run.Client), html.EscapeString(run.SDKVersion), html.EscapeString(run.Preset), html.EscapeString(run.Scenario), run.Invocations,
			bad(run.Failed), run.Failed, run.PingsSent, run.PingsAcked, bad(run.KeepaliveTimeouts), run.KeepaliveTimeouts,
			bad(run.CrossInvocationTimeouts), run.CrossInvocationTimeouts, run.Reconnects, run.P50Ms, run.P99Ms, run.FirstAfterThawP99Ms,
			formatDelayed(run), html.EscapeString(formatCodes(run.FailedByCode)))
	}
	b.WriteString("</table>\n")
}

// badClass marks a table cell red when n, a count of failures, is not 0.
func badClass(n int) string {
	if n > 0 {
		return ` class="bad"`
	}
	return ""
}

// writeLegend draws one sample of every symbol the timelines use.
func writeLegend(b *strings.Builder) {
	items := []struct {
		symbol func(x, y float64) string
		label  string
	}{
		{func(x, y float64) string { return rect(x-8, y-7, 16, 14, colourFrozen, "") }, "frozen"},
		{func(x, y float64) string { return rect(x-8, y-7, 16, 14, colourCall, "") }, "invocation with a cache call"},
		{func(x, y float64) string { return rect(x-8, y-7, 16, 14, colourAtOnce, "") }, "invocation returning at once"},
		{func(x, y float64) string { return rect(x-8, y-7, 16, 14, colourFailed, "") }, "failed call"},
		{func(x, y float64) string { return pingSymbol(x, y, "") }, "ping sent"},
		{func(x, y float64) string { return ackSymbol(x, y, "") }, "ping acknowledged"},
		{func(x, y float64) string { return timeoutSymbol(x, y, false, "") }, "keepalive timeout"},
		{func(x, y float64) string { return timeoutSymbol(x, y, true, "") }, "cross-invocation timeout"},
		{func(x, y float64) string { return connSymbol(x, y, true, "") }, "reconnect"},
		{func(x, y float64) string { return blackholeSymbol(x, y-9, y+9, "") }, "blackhole"},
		{func(x, y float64) string { return heldSymbol(x, y, "") }, "server's bytes held while frozen"},
		{func(x, y float64) string { return retransmissionSymbol(x, y, "") }, "delivered by retransmission"},
	}
	const perRow = 5
	rows := (len(items) + perRow - 1) / perRow
	fmt.Fprintf(b, `<svg width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="legend">`+"\n", svgWidth, rows*26+8, svgWidth, rows*26+8)
	for i, it := range items {
		x := 20 + float64(i%perRow)*220
		y := 17 + float64(i/perRow)*26
		b.WriteString(it.symbol(x, y))
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", x+16, y+4, html.EscapeString(it.label))
	}
	b.WriteString("</svg>\n")
}

// writeTimeline draws one run on a time axis length long (at least the run).
func writeTimeline(b *strings.Builder, tl *Timeline, length time.Duration) {
	start, end := tl.Start, tl.Start.Add(max(length, tl.End.Sub(tl.Start), time.Second))
	span := end.Sub(start).Seconds()
	x := func(t time.Time) float64 {
		return svgLeft + t.Sub(start).Seconds()/span*(svgWidth-svgLeft-svgRight)
	}
	fmt.Fprintf(b, `<svg width="%d" height="%d" viewBox="0 0 %d %d" role="img">`+"\n", svgWidth, svgHeight, svgWidth, svgHeight)
	for _, f := range tl.Frozen {
		b.WriteString(rect(x(f.Start), 14, max(x(f.End)-x(f.Start), 0.5), axisY-20, colourFrozen,
			fmt.Sprintf("frozen %.1f s", f.End.Sub(f.Start).Seconds())))
	}
	for _, lane := range []struct {
		y     float64
		label string
	}{{laneCalls, "invocations"}, {lanePings, "keepalive"}, {laneTrouble, "timeouts, conns"}} {
		fmt.Fprintf(b, `<text x="6" y="%.1f">%s</text>`+"\n", lane.y+4, lane.label)
	}
	for _, inv := range tl.Invocations {
		colour := colourAtOnce
		if inv.Op != "none" {
			colour = colourCall
		}
		if inv.Failed() {
			colour = colourFailed
		}
		title := fmt.Sprintf("#%d %s %s: %.0f ms", inv.Index+1, inv.RequestID, inv.Op, inv.End.Sub(inv.Start).Seconds()*1000)
		if inv.Op != "none" {
			title += fmt.Sprintf(", cache call %.1f ms", inv.CallMs)
		}
		if inv.Failed() {
			title += ", " + inv.ErrorCode + ": " + inv.Error
		}
		b.WriteString(rect(x(inv.Start), laneCalls-10, max(x(inv.End)-x(inv.Start), 2), 20, colour, title))
	}
	for _, m := range tl.Marks {
		title := m.Kind + " " + m.Time.Sub(start).Round(time.Millisecond).String()
		if m.RequestID != "" {
			title += " under " + m.RequestID
		}
		if m.RuntimeRequestID != "" && m.RuntimeRequestID != m.RequestID {
			title += " (the runtime's own tag: " + m.RuntimeRequestID + ")"
		}
		title += " · conn " + m.Conn + " · " + m.Detail
		switch m.Kind {
		case MarkPingSent:
			b.WriteString(pingSymbol(x(m.Time), lanePings-5, title))
		case MarkPingAck:
			b.WriteString(ackSymbol(x(m.Time), lanePings+7, title))
		case MarkKeepaliveTimeout:
			b.WriteString(timeoutSymbol(x(m.Time), laneTrouble, m.Cross, title))
		case MarkConnOpened:
			b.WriteString(connSymbol(x(m.Time), laneTrouble, m.Reconnect, title))
		case MarkBlackhole:
			b.WriteString(blackholeSymbol(x(m.Time), 12, axisY-4, title))
		case MarkHeld:
			b.WriteString(heldSymbol(x(m.Time), laneTrouble, title))
		case MarkRetransmission:
			b.WriteString(retransmissionSymbol(x(m.Time), laneTrouble, title))
		}
	}
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>`+"\n", svgLeft, axisY, svgWidth-svgRight, axisY)
	step := 5.0
	if span > 120 {
		step = 20
	} else if span > 50 {
		step = 10
	}
	for s := 0.0; s <= span; s += step {
		xs := x(start.Add(time.Duration(s * float64(time.Second))))
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#888"/><text x="%.1f" y="%d" text-anchor="middle">%.0f s</text>`+"\n",
			xs, axisY, xs, axisY+4, xs, axisY+16, s)
	}
	b.WriteString("</svg>\n")
}

// title returns an SVG <title> child, or nothing for an empty text.
func title(text string) string {
	if text == "" {
		return ""
	}
	return "<title>" + html.EscapeString(text) + "</title>"
}

func rect(x, y, w, h float64, fill, tip string) string {
	return fmt.Sprintf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s">%s</rect>`+"\n", x, y, w, h, fill, title(tip))
}

func pingSymbol(x, y float64, tip string) string {
	return fmt.Sprintf(`<path d="M%.1f %.1fl-4 7h8z" fill="%s">%s</path>`+"\n", x, y-4, colourPing, title(tip))
}

func ackSymbol(x, y float64, tip string) string {
	return fmt.Sprintf(`<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s">%s</circle>`+"\n", x, y, colourAck, title(tip))
}

func timeoutSymbol(x, y float64, cross bool, tip string) string {
	ring := ""
	if cross {
		ring = fmt.Sprintf(`<circle cx="%.1f" cy="%.1f" r="8" fill="none" stroke="%s" stroke-width="1.5"/>`, x, y, colourTimeout)
	}
	return fmt.Sprintf(`<g>%s<path d="M%.1f %.1fl10 10m0 -10l-10 10" stroke="%s" stroke-width="2.5"/>%s</g>`+"\n",
		title(tip), x-5, y-5, colourTimeout, ring)
}

func connSymbol(x, y float64, reconnect bool, tip string) string {
	colour := colourConn
	if reconnect {
		colour = colourReconnect
	}
	return fmt.Sprintf(`<path d="M%.1f %.1fl5 5l-5 5l-5 -5z" fill="%s">%s</path>`+"\n", x, y-5, colour, title(tip))
}

func heldSymbol(x, y float64, tip string) string {
	return fmt.Sprintf(`<circle cx="%.1f" cy="%.1f" r="5" fill="none" stroke="%s" stroke-width="2">%s</circle>`+"\n", x, y, colourHeld, title(tip))
}

func retransmissionSymbol(x, y float64, tip string) string {
	return fmt.Sprintf(`<path d="M%.1f %.1fl6 10h-12z" fill="%s">%s</path>`+"\n", x, y-5, colourHeld, title(tip))
}

func blackholeSymbol(x, y1, y2 float64, tip string) string {
	return fmt.Sprintf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2" stroke-dasharray="4 3">%s</line>`+"\n",
		x, y1, x, y2, colourBlackhole, title(tip))
}
