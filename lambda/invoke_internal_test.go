package lambda

import "testing"

func TestFunctionNameOf(t *testing.T) {
	tests := []struct {
		ref, qualifier string
		name           string
		latest         bool
	}{
		{"fn", "", "fn", true},
		{"fn:$LATEST", "", "fn", true},
		{"fn", "$LATEST", "fn", true},
		{"fn:prod", "", "fn", false},
		{"fn", "prod", "fn", false},
		{"fn:$LATEST", "prod", "fn", false},
		{"000000000000:function:fn", "", "fn", true},
		{"000000000000:function:fn:$LATEST", "", "fn", true},
		{"arn:aws:lambda:us-east-1:000000000000:function:fn", "", "fn", true},
		{"arn:aws:lambda:us-east-1:000000000000:function:fn:7", "", "fn", false},
		{"a:b:c:d", "", "a:b:c:d", false},
	}
	for _, tt := range tests {
		t.Run(tt.ref+"?"+tt.qualifier, func(t *testing.T) {
			name, latest := functionNameOf(tt.ref, tt.qualifier)
			if name != tt.name || latest != tt.latest {
				t.Errorf("functionNameOf(%q, %q) = %q, %v; want %q, %v", tt.ref, tt.qualifier, name, latest, tt.name, tt.latest)
			}
		})
	}
}
