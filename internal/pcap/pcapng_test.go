package pcap

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

// blocks splits a pcapng stream into blocks, checking the general block
// structure (§3.1): lengths that match, are multiples of 4 and fit.
func blocks(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 12 {
			t.Fatalf("%d bytes left, too few for a block", len(b))
		}
		n := int(binary.LittleEndian.Uint32(b[4:8]))
		if n%4 != 0 || n < 12 || n > len(b) {
			t.Fatalf("block total length %d, with %d bytes left", n, len(b))
		}
		if tail := int(binary.LittleEndian.Uint32(b[n-4 : n])); tail != n {
			t.Fatalf("trailing block total length %d, leading %d", tail, n)
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// options parses an option list (§3.5), checking its padding and its end.
func options(t *testing.T, b []byte) map[uint16][]byte {
	t.Helper()
	opts := map[uint16][]byte{}
	for {
		if len(b) < 4 {
			t.Fatalf("option list ends without opt_endofopt")
		}
		code, n := binary.LittleEndian.Uint16(b[0:2]), int(binary.LittleEndian.Uint16(b[2:4]))
		if code == optEndOfOpt {
			if n != 0 || len(b) != 4 {
				t.Fatalf("opt_endofopt with length %d and %d bytes after it", n, len(b)-4)
			}
			return opts
		}
		padded := (n + 3) &^ 3
		if 4+padded > len(b) {
			t.Fatalf("option %d of length %d overruns the block", code, n)
		}
		if pad := b[4+n : 4+padded]; !bytes.Equal(pad, make([]byte, len(pad))) {
			t.Fatalf("option %d padding %x, want zeros", code, pad)
		}
		opts[code] = b[4 : 4+n]
		b = b[4+padded:]
	}
}

func TestEnhancedPacketBlockLayout(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	tests := []struct {
		name    string
		frame   []byte
		comment string
		flags   uint32
	}{
		{"no comment", []byte{1, 2, 3, 4}, "", 0},
		{"padded frame and comment", []byte{1, 2, 3, 4, 5}, "frozen", epbInbound},
		{"comment of four", []byte{9}, "thaw", epbOutbound},
		{"utf-8 comment", nil, "invocation ☃", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			nw, err := newNgWriter(&buf, "test", "eth")
			if err != nil {
				t.Fatal(err)
			}
			header := buf.Len()
			if err := nw.packet(at, tt.frame, tt.comment, tt.flags); err != nil {
				t.Fatalf("packet: %v", err)
			}
			bs := blocks(t, buf.Bytes()[header:])
			if len(bs) != 1 {
				t.Fatalf("%d blocks, want 1", len(bs))
			}
			b := bs[0]
			le := binary.LittleEndian
			if typ := le.Uint32(b[0:4]); typ != blockEnhancedPacket {
				t.Errorf("block type %d, want %d", typ, blockEnhancedPacket)
			}
			ts := uint64(le.Uint32(b[12:16]))<<32 | uint64(le.Uint32(b[16:20]))
			if ts != uint64(at.UnixNano()) {
				t.Errorf("timestamp %d, want %d ns", ts, at.UnixNano())
			}
			capLen, origLen := int(le.Uint32(b[20:24])), int(le.Uint32(b[24:28]))
			if capLen != len(tt.frame) || origLen != len(tt.frame) {
				t.Errorf("captured, original length %d, %d, want %d", capLen, origLen, len(tt.frame))
			}
			if got := b[28 : 28+capLen]; !bytes.Equal(got, tt.frame) {
				t.Errorf("packet data %x, want %x", got, tt.frame)
			}
			opts := options(t, b[28+(capLen+3)&^3:len(b)-4])
			if got, ok := opts[optComment]; string(got) != tt.comment || ok != (tt.comment != "") {
				t.Errorf("opt_comment %q (present %v), want %q", got, ok, tt.comment)
			}
			if got, ok := opts[optEPBFlags]; ok != (tt.flags != 0) || (ok && le.Uint32(got) != tt.flags) {
				t.Errorf("epb_flags %x (present %v), want %d", got, ok, tt.flags)
			}
		})
	}
}

func TestHeaderBlocks(t *testing.T) {
	var buf bytes.Buffer
	if _, err := newNgWriter(&buf, "thaw", "proxy"); err != nil {
		t.Fatal(err)
	}
	bs := blocks(t, buf.Bytes())
	if len(bs) != 3 {
		t.Fatalf("%d header blocks, want SHB and two IDBs", len(bs))
	}
	le := binary.LittleEndian
	shb := bs[0]
	if le.Uint32(shb[0:4]) != blockSectionHeader || le.Uint32(shb[8:12]) != byteOrderMagic ||
		le.Uint16(shb[12:14]) != 1 || le.Uint16(shb[14:16]) != 0 || le.Uint64(shb[16:24]) != ^uint64(0) {
		t.Errorf("section header block %x, want type, magic, version 1.0, length -1", shb[:24])
	}
	for i, want := range []struct {
		linkType uint16
		name     string
	}{{linkTypeEthernet, "proxy"}, {linkTypeUpperPDU, "notes"}} {
		idb := bs[1+i]
		if le.Uint32(idb[0:4]) != blockInterfaceDescription || le.Uint16(idb[8:10]) != want.linkType {
			t.Errorf("interface %d: block %x, want an IDB of link type %d", i, idb[:12], want.linkType)
		}
		opts := options(t, idb[16:len(idb)-4])
		if string(opts[optIfName]) != want.name || !bytes.Equal(opts[optTSResol], []byte{9}) {
			t.Errorf("interface %d options %v, want if_name %q, if_tsresol 9", i, opts, want.name)
		}
	}
}

func TestCommentTooLongOrNotUTF8(t *testing.T) {
	nw, err := newNgWriter(&bytes.Buffer{}, "thaw", "proxy")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{strings.Repeat("x", maxOptionLen+1), "\xff"} {
		if err := nw.packet(time.Now(), nil, c, 0); err == nil {
			t.Errorf("packet with a comment of %d bytes (%.8q) = nil error, want one", len(c), c)
		}
	}
}
