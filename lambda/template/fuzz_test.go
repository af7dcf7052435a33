package template_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/thaw-dev/thaw/lambda/template"
)

// FuzzParse feeds Parse arbitrary templates: it must return functions or an
// error wrapping ErrInvalid or ErrUnsupported, never panic.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"sam-globals.yaml", "intrinsics.yaml", "bad-properties.yaml", "cfn-plain.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, filepath.Ext(name) == ".json")
	}
	f.Add([]byte("Resources: {F: {Type: AWS::Serverless::Function, Properties: {Runtime: !Select [1]}}}"), false)
	dir, err := filepath.Abs("testdata")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, isJSON bool) {
		tmpl, err := template.Parse(data, dir, isJSON)
		if err != nil {
			if !errors.Is(err, template.ErrInvalid) && !errors.Is(err, template.ErrUnsupported) {
				t.Errorf("Parse error %v wraps neither ErrInvalid nor ErrUnsupported", err)
			}
			return
		}
		if len(tmpl.Functions) == 0 {
			t.Errorf("Parse succeeded with no functions")
		}
	})
}
