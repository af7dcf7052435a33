package main

import "testing"

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
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var b byteSize
			if err := b.Set(tt.in); err != nil || int64(b) != tt.want || b.String() != tt.text {
				t.Errorf("Set(%q) = %d (%q), %v; want %d (%q)", tt.in, int64(b), b.String(), err, tt.want, tt.text)
			}
		})
	}
	for _, bad := range []string{"", "-1", "5XB", "MB", "1.5GiB"} {
		var b byteSize
		if err := b.Set(bad); err == nil {
			t.Errorf("Set(%q) = %d, want an error", bad, int64(b))
		}
	}
}
