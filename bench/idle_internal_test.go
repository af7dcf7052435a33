package bench

import (
	"errors"
	"strings"
	"testing"
)

// TestBenchFileLimit: a connection count no open-files limit allows is
// refused with ErrFileLimit and advice; a small one is fine.
func TestBenchFileLimit(t *testing.T) {
	if err := raiseFileLimit(10); err != nil {
		t.Errorf("raiseFileLimit(10) = %v, want nil", err)
	}
	err := raiseFileLimit(1 << 40)
	if !errors.Is(err, ErrFileLimit) || !strings.Contains(err.Error(), "open files") {
		t.Errorf("raiseFileLimit(1<<40) = %v, want ErrFileLimit", err)
	}
}
