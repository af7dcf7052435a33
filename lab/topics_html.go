package lab

import (
	"fmt"
	"html"
	"io"
	"path/filepath"
	"strings"
)

// WriteHTML writes the report as one self-contained page: the settings, a
// table of the topics metrics and, per run, an SVG timeline drawn from the
// recorded events (invocations, freezes, connections opened, blackholes).
func (r *TopicsReport) WriteHTML(w io.Writer) error { return r.writeHTML(w, "") }

// writeHTML writes the page; links to packet captures are relative to dir
// when it is not empty, the directory the page is written to.
func (r *TopicsReport) writeHTML(w io.Writer, dir string) error {
	page := htmlPage{
		title:    "thaw lab topics",
		settings: r.Settings(),
		command:  r.Command,
		intro:    `A subscriber function runs in <code>thaw lambda</code>, frozen with the cgroup freezer between invocations, and reads a topic of an embedded <code>thaw serve</code> through a delaying proxy, while a publisher outside publishes on the lab's seeded schedule. In the <em>blackhole</em> scenario the proxy drops the subscriber's connection silently during long freezes. An item is <em>lost</em> when the server still retained it and the subscriber never received it; <em>unretained</em> items had left the server's retention before anyone could ask for them.`,
		summary:  r.writeSummaryTable,
	}
	for _, run := range r.Runs {
		page.sections = append(page.sections, htmlSection{
			heading: run.Client + " · " + run.Scenario,
			meta: fmt.Sprintf("%d invocations (%d failed), %d items published, %d received, %d lost, %d duplicates, %d resubscribes (%d spurious), first item after a thaw p99 %.1f ms",
				run.Invocations, run.FailedInvocations, run.ItemsPublished, run.ItemsReceived, run.ItemsLost, run.Duplicates,
				run.Resubscribes, run.SpuriousResubscribes, run.FirstItemAfterThawP99Ms),
			timeline: run.Timeline,
			pcap:     linkPath(run.Pcap, dir),
		})
	}
	return page.write(w)
}

// WriteHTMLFile writes the report's page to path.
func (r *TopicsReport) WriteHTMLFile(path string) error {
	return writeHTMLFile(path, func(w io.Writer) error { return r.writeHTML(w, filepath.Dir(path)) })
}

// writeSummaryTable writes the runs' topics metrics as an HTML table.
func (r *TopicsReport) writeSummaryTable(b *strings.Builder) {
	b.WriteString(`<table><tr><th class="l">client</th><th class="l">scenario</th><th>invocations (failed)</th><th>published</th><th>received</th><th>lost</th><th>unretained</th><th>duplicates</th><th>resubscribes</th><th>streams killed</th><th>spurious resubscribes</th><th>discontinuities</th><th>first item after thaw p99 ms</th></tr>
`)
	for _, run := range r.Runs {
		fmt.Fprintf(b, "<tr><td class=\"l\">%s</td><td class=\"l\">%s</td><td%s>%d (%d)</td><td>%d</td><td>%d</td><td%s>%d</td><td>%d</td><td%s>%d</td><td>%d</td><td>%d</td><td%s>%d</td><td>%d</td><td>%.1f</td></tr>\n",
			html.EscapeString(run.Client), html.EscapeString(run.Scenario), badClass(run.FailedInvocations), run.Invocations, run.FailedInvocations,
			run.ItemsPublished, run.ItemsReceived, badClass(run.ItemsLost), run.ItemsLost, run.ItemsUnretained,
			badClass(run.Duplicates), run.Duplicates, run.Resubscribes, run.StreamsKilled,
			badClass(run.SpuriousResubscribes), run.SpuriousResubscribes, run.Discontinuities, run.FirstItemAfterThawP99Ms)
	}
	b.WriteString("</table>\n")
}
