package client_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSDKDoesNotImportServerCode: the SDK reads the v1 key format from
// internal/apikey and must not drag in the server's signing and
// authorization code, nor any other server package.
func TestSDKDoesNotImportServerCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"/internal/auth", "/internal/grpcsvc", "/internal/store", "/internal/testadmin", "/server"} {
			if strings.HasPrefix(pkg, "github.com/thaw-dev/thaw") && strings.HasSuffix(pkg, banned) {
				t.Errorf("client depends on %s", pkg)
			}
		}
	}
}
