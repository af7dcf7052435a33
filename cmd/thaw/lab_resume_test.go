package main

import (
	"slices"
	"testing"

	"github.com/thaw-dev/thaw/lambda"
)

func TestParseResumeOrders(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    []lambda.ResumeOrder
		wantErr bool
	}{
		{"default", "event-first", []lambda.ResumeOrder{lambda.ResumeEventFirst}, false},
		{"thaw-first", "thaw-first", []lambda.ResumeOrder{lambda.ResumeThawFirst}, false},
		{"both", "both", []lambda.ResumeOrder{lambda.ResumeEventFirst, lambda.ResumeThawFirst}, false},
		{"list, repeats dropped", "thaw-first, event-first,thaw-first", []lambda.ResumeOrder{lambda.ResumeThawFirst, lambda.ResumeEventFirst}, false},
		{"empty", "", nil, true},
		{"unknown", "later", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseResumeOrders(tc.in)
			if !slices.Equal(got, tc.want) || (err != nil) != tc.wantErr {
				t.Errorf("parseResumeOrders(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}
