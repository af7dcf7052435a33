package lab

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/thaw-dev/thaw/lambda"
)

// TestResumeOrderInJSON checks that every run of the JSON report says its
// resume order, the default included, and that a thaw-first run's function
// and label tell it from the event-first run of the same spec.
func TestResumeOrderInJSON(t *testing.T) {
	specs := []RunSpec{
		{Client: ClientNode, Preset: PresetLaptop, Scenario: ScenarioHealthy},
		{Client: ClientNode, Preset: PresetLaptop, Scenario: ScenarioHealthy, ResumeOrder: lambda.ResumeEventFirst},
		{Client: ClientNode, Preset: PresetLaptop, Scenario: ScenarioHealthy, ResumeOrder: lambda.ResumeThawFirst},
	}
	want := []string{"event-first", "event-first", "thaw-first"}
	report := &Report{}
	for _, spec := range specs {
		report.Runs = append(report.Runs, summarize(spec, &Timeline{}))
	}
	var out bytes.Buffer
	if err := report.WriteJSON(&out); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	var decoded struct {
		Runs []struct {
			ResumeOrder *string `json:"resume_order"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(out.Bytes(), &decoded); err != nil {
		t.Fatalf("report JSON %s: %v", out.Bytes(), err)
	}
	for i, run := range decoded.Runs {
		if run.ResumeOrder == nil || *run.ResumeOrder != want[i] {
			t.Errorf("run %d (%s) resume_order = %v, want %q: %s", i, specs[i].Label(), run.ResumeOrder, want[i], out.Bytes())
		}
	}
	if specs[0].Name() == specs[2].Name() || specs[0].Label() == specs[2].Label() {
		t.Errorf("Name and Label of %+v and %+v are the same: %q, %q", specs[0], specs[2], specs[2].Name(), specs[2].Label())
	}
	if got := report.Runs[2].Label(); got != specs[2].Label() {
		t.Errorf("RunResult.Label() = %q, want %q", got, specs[2].Label())
	}
}
