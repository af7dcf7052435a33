package main

import (
	"math"
	"strings"
	"testing"
)

func TestByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		text string
	}{
		{"0", 0, "0"},
		{"1048576", 1 << 20, "1MiB"},
		{"512KiB", 512 << 10, "512KiB"},
		{"1GiB", 1 << 30, "1GiB"},
		{"5MB", 5_000_000, "5MB"},
		{"5mb", 5_000_000, "5MB"},
		{"1500", 1500, "1500"},
		{"2000", 2000, "2KB"},
		{"100B", 100, "100"},
		{"2TiB", 2 << 40, "2TiB"},
		{"3tb", 3_000_000_000_000, "3TB"},
		// The largest sizes that fit in an int64.
		{"9223372036854775807", math.MaxInt64, "9223372036854775807"},
		{"9223372036854775807B", math.MaxInt64, "9223372036854775807"},
		{"8589934591GiB", 8589934591 << 30, "8589934591GiB"},
		{"8388607TiB", 8388607 << 40, "8388607TiB"},
		{"9223372036854775KB", 9223372036854775 * 1000, "9223372036854775KB"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var b byteSize
			if err := b.Set(tt.in); err != nil || int64(b) != tt.want || b.String() != tt.text {
				t.Errorf("Set(%q) = %d (%q), %v; want %d (%q)", tt.in, int64(b), b.String(), err, tt.want, tt.text)
			}
		})
	}
	for _, bad := range []string{"", "-1", "5XB", "MB", "1.5GiB", "-99999999999999999999"} {
		var b byteSize
		if err := b.Set(bad); err == nil {
			t.Errorf("Set(%q) = %d, want an error", bad, int64(b))
		}
	}
}

// TestByteSizeTooLarge checks that sizes whose number times unit overflows
// an int64 are refused, naming the value and the largest size, instead of
// wrapping round (to "no limit" or to 1KiB).
func TestByteSizeTooLarge(t *testing.T) {
	for _, in := range []string{
		"9999999999GiB",         // wrapped to a negative size: no limit
		"18014398509481985KiB",  // 2^64 + 1KiB: wrapped to 1KiB
		"8589934592GiB",         // 8EiB, one GiB past the largest exact GiB
		"8388608TiB",            // 8EiB
		"9223372036854775808",   // math.MaxInt64 + 1 byte
		"99999999999999999999B", // too large for ParseInt itself
		"9223372036854776KB",
	} {
		t.Run(in, func(t *testing.T) {
			var b byteSize
			err := b.Set(in)
			if err == nil {
				t.Fatalf("Set(%q) = %d, want an error", in, int64(b))
			}
			for _, want := range []string{`"` + in + `"`, "9223372036854775807 bytes"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Set(%q) = %v, want an error that mentions %s", in, err, want)
				}
			}
		})
	}
}
