package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQuickTopicsLab runs the quick topics lab for real: both subscribers
// under thaw lambda with real freezes, a real publisher and the real proxy.
// Besides the report's shape it checks the measurement itself: every
// published item is accounted for as received, lost or no longer retained;
// the blackhole runs really silenced the function's connections; and the Go
// subscriber, on a healthy network, returns every item the server retained,
// once. The other outcomes (what the Node SDK loses, resubscribes) are the
// lab's findings, logged rather than asserted.
func TestQuickTopicsLab(t *testing.T) {
	if testing.Short() {
		t.Skip("the quick topics lab takes about a minute and a half")
	}
	for _, tool := range []string{"node", "npm", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not in PATH", tool)
		}
	}
	root, err := FindRoot()
	if err != nil {
		t.Fatalf("FindRoot: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 6*time.Minute)
	defer cancel()
	report, err := RunTopics(ctx, TopicsOptions{Root: root, Invocations: QuickInvocations})
	t.Cleanup(func() { checkNothingLeft(t) })
	if err != nil {
		t.Fatalf("RunTopics: %v", err)
	}
	var table bytes.Buffer
	if err := report.WriteTable(&table); err != nil {
		t.Fatalf("WriteTable: %v", err)
	}
	t.Logf("quick topics lab:\n%s", table.String())

	jsonPath := filepath.Join(t.TempDir(), "topics.json")
	if err := report.WriteJSONFile(jsonPath); err != nil {
		t.Fatalf("WriteJSONFile: %v", err)
	}
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var decoded struct {
		Runs []map[string]json.RawMessage `json:"runs"`
	}
	if err := json.Unmarshal(data, &decoded); err != nil {
		t.Fatalf("report JSON %s: %v", data, err)
	}
	if len(decoded.Runs) != 4 {
		t.Fatalf("report has %d runs, want 4 (2 clients × 2 scenarios)", len(decoded.Runs))
	}
	for i, run := range decoded.Runs {
		for _, f := range []string{"client", "scenario", "items_published", "items_received", "items_lost",
			"duplicates", "spurious_resubscribes", "first_item_after_thaw_p99_ms"} {
			if _, ok := run[f]; !ok {
				t.Errorf("run %d has no %q: %s", i, f, data)
			}
		}
	}

	for _, run := range report.Runs {
		label := run.Client + "/" + run.Scenario
		t.Logf("%s: lost %v, resubscribes %d (%s), read errors %q", label, run.LostRanges, run.Resubscribes, run.ResubscribeSource, run.ReadErrors)
		if run.Invocations != QuickInvocations+1 || run.FailedInvocations != 0 {
			t.Errorf("%s: %d invocations, %d failed; want %d (the schedule and the drain), none failed", label, run.Invocations, run.FailedInvocations, QuickInvocations+1)
		}
		if run.ItemsPublished == 0 {
			t.Errorf("%s: nothing published", label)
		}
		if got := run.ItemsReceived + run.ItemsLost + run.ItemsUnretained; got != run.ItemsPublished {
			t.Errorf("%s: received %d + lost %d + unretained %d = %d; want the %d published", label,
				run.ItemsReceived, run.ItemsLost, run.ItemsUnretained, got, run.ItemsPublished)
		}
		if run.Scenario == ScenarioBlackhole && run.StreamsKilled == 0 {
			t.Errorf("%s: no blackhole caught an open connection; the schedule has gaps of at least %v", label, BlackholeMinGap)
		}
		if run.Scenario == ScenarioHealthy && run.StreamsKilled != 0 {
			t.Errorf("%s: %d streams killed on a healthy network", label, run.StreamsKilled)
		}
		if run.Client == ClientGo && run.Scenario == ScenarioHealthy && (run.ItemsLost != 0 || run.Duplicates != 0 || run.SpuriousResubscribes != 0) {
			t.Errorf("%s: %d items lost %v, %d duplicates, %d spurious resubscribes; want every retained item once, on one stream",
				label, run.ItemsLost, run.LostRanges, run.Duplicates, run.SpuriousResubscribes)
		}
	}

	htmlPath := filepath.Join(t.TempDir(), "topics.html")
	if err := report.WriteHTMLFile(htmlPath); err != nil {
		t.Fatalf("WriteHTMLFile: %v", err)
	}
	page, err := os.ReadFile(htmlPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<title>thaw lab topics</title>", "<th>spurious resubscribes</th>", "<th>lost</th>", "<svg"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the HTML report has no %q", want)
		}
	}
	if strings.Contains(string(page), "keepalive timeouts") {
		t.Errorf("the topics HTML report shows the keepalive lab's columns")
	}
}
