// Package pcaptest reads packet captures back with Debian's tshark, for the
// tests of the captures package pcap writes.
package pcaptest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Record is one record of a capture as tshark decoded it.
type Record struct {
	// Number is tshark's frame number, from 1.
	Number int
	// Note is set on a comment-only record (pcap's "notes" interface).
	Note bool
	// Src is the IPv4 source address; empty for notes.
	Src string
	// HTTP2 are the HTTP/2 frames the packet carries, in order.
	HTTP2 []Frame
	// Comment is the record's comment.
	Comment string
	// Problem says what tshark found wrong with the record: a malformed
	// packet, an expert finding of warning severity or worse (such as "TCP
	// previous segment not captured"), or a bad IPv4 or TCP checksum. Empty
	// when all is well.
	Problem string
}

// Frame is one HTTP/2 frame's type and flags.
type Frame struct {
	Type, Flags int
}

// HTTP/2 frame types and flags the tests look for (RFC 9113 §6.7).
const (
	FramePing = 6
	FlagAck   = 1
)

// fields are what Decode asks tshark for, in order.
var fields = []string{
	"frame.number", "frame.interface_id", "ip.src", "http2.type", "http2.flags", "frame.comment",
	"_ws.malformed", "_ws.expert.severity", "ip.checksum.status", "tcp.checksum.status",
}

// severityWarning is tshark's PI_WARN (epan/proto.h); checksumGood its
// PROTO_CHECKSUM_E_GOOD.
const (
	severityWarning = 0x00600000
	checksumGood    = "1"
)

// Require returns tshark's path, or skips the test if it is not installed.
func Require(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark is not installed (Debian: apt-get install tshark; ./test.sh installs it)")
	}
	return path
}

// Decode runs tshark over the capture at path, decoding TCP port port as
// HTTP/2 and checking IPv4 and TCP checksums, and returns its records. It
// skips the test if tshark is missing.
func Decode(t testing.TB, path string, port int) []Record {
	t.Helper()
	args := []string{"-r", path, "-n", "-d", fmt.Sprintf("tcp.port==%d,http2", port),
		"-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", // off by default
		"-T", "fields", "-E", "separator=|"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command(Require(t), args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no user preferences
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var recs []Record
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != len(fields) {
			t.Fatalf("tshark printed %q, want %d fields", line, len(fields))
		}
		r := Record{Note: f[1] == "1", Src: f[2], Comment: f[5]}
		r.Number, _ = strconv.Atoi(f[0])
		var problems []string
		if f[6] != "" {
			problems = append(problems, "malformed")
		}
		for _, sev := range strings.Split(f[7], ",") {
			if n, _ := strconv.Atoi(sev); n >= severityWarning {
				problems = append(problems, fmt.Sprintf("expert finding of severity %#x", n))
			}
		}
		if !r.Note && (f[8] != checksumGood || f[9] != checksumGood) {
			problems = append(problems, fmt.Sprintf("IPv4, TCP checksum status %q, %q", f[8], f[9]))
		}
		if f[3] != "" {
			types, flags := strings.Split(f[3], ","), strings.Split(f[4], ",")
			if len(types) != len(flags) {
				t.Fatalf("tshark printed %q: %d HTTP/2 frame types but %d flags", line, len(types), len(flags))
			}
			for i := range types {
				typ, err1 := strconv.ParseInt(types[i], 0, 32)
				fl, err2 := strconv.ParseInt(flags[i], 0, 32)
				if err1 != nil || err2 != nil {
					t.Fatalf("tshark printed %q: HTTP/2 frame type %q, flags %q", line, types[i], flags[i])
				}
				r.HTTP2 = append(r.HTTP2, Frame{Type: int(typ), Flags: int(fl)})
			}
		}
		if len(problems) > 0 {
			r.Problem = strings.Join(problems, "; ") + ": " + line
		}
		recs = append(recs, r)
	}
	return recs
}
