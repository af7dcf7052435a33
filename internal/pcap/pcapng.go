package pcap

import (
	"encoding/binary"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
)

// The pcapng format facts used here, from "PCAP Now Generic (pcapng) Capture
// File Format", draft-ietf-opsawg-pcapng (https://github.com/IETF-OPSAWG-WG/draft-ietf-opsawg-pcap):
//
//   - §3.1: every block is Block Type (u32), Block Total Length (u32, a
//     multiple of 4, counting the whole block), body padded to 32 bits, and
//     Block Total Length again.
//   - §3.5: options are Option Type (u16), Option Length (u16, unpadded),
//     value padded to 32 bits with zeros; a list ends with opt_endofopt (0,
//     length 0). opt_comment is code 1, a UTF-8 string without a terminating
//     zero, allowed in any block and repeatable.
//   - §3.6.1: numbers are in the writer's byte order, which the Section
//     Header Block's magic declares; this writer uses little-endian.
//   - §4.1: Section Header Block, type 0x0A0D0D0A: Byte-Order Magic
//     0x1A2B3C4D, Major Version 1, Minor Version 0, Section Length -1
//     (unknown), options; shb_userappl is code 4.
//   - §4.2: Interface Description Block, type 1: LinkType (u16), Reserved
//     (u16, zero), SnapLen (u32, 0 meaning no limit), options; if_name is
//     code 2 and if_tsresol code 9 (one octet: 9 means 10^-9 s units).
//   - §4.3: Enhanced Packet Block, type 6: Interface ID (u32), Timestamp
//     (upper u32, lower u32, in if_tsresol units since 1970), Captured
//     Packet Length (u32), Original Packet Length (u32), Packet Data padded
//     to 32 bits, options; epb_flags is code 2 (u32), whose bits 0-1 are the
//     direction (§4.3.1: 1 inbound, 2 outbound).
//   - LINKTYPE_ETHERNET is 1 (draft-ietf-opsawg-pcaplinktype).
//
// A record that is only a comment needs a packet to hang on: an empty
// Enhanced Packet Block on the Ethernet interface would do for the format,
// but tshark 4.0 reports it as a malformed Ethernet frame. So notes go on a
// second interface of LINKTYPE_WIRESHARK_UPPER_PDU (252,
// https://www.tcpdump.org/linktypes/LINKTYPE_WIRESHARK_UPPER_PDU.html),
// Wireshark's "exported PDU": a list of tags, each Tag (u16), Length (u16)
// and value padded to 32 bits, all big-endian, ended by tag 0, then the PDU.
// A note is the tag EXP_PDU_TAG_DISSECTOR_NAME (12) naming the "data"
// dissector, the end tag and no PDU: tshark lists it, with its comment, and
// finds nothing wrong with it.
//
// gopacket v1.1.19's pcapgo.NgWriter writes the same blocks but cannot put
// options on an Enhanced Packet Block, and per-packet comments are the point
// of these captures, so this file writes the blocks itself. The tests read
// its output back with pcapgo.NgReader and tshark.
const (
	blockSectionHeader        = 0x0A0D0D0A
	blockInterfaceDescription = 1
	blockEnhancedPacket       = 6

	byteOrderMagic = 0x1A2B3C4D

	optEndOfOpt    = 0
	optComment     = 1
	optSHBUserAppl = 4 // §4.1: the application that wrote the section
	optIfName      = 2
	optTSResol     = 9
	optEPBFlags    = 2

	linkTypeEthernet = 1
	linkTypeUpperPDU = 252

	// Interface IDs: the synthetic network, and the notes.
	ifaceEthernet = 0
	ifaceNotes    = 1

	expPDUTagDissectorName = 12
	expPDUTagEnd           = 0

	// maxOptionLen is the most an option's u16 length can say.
	maxOptionLen = 0xFFFF

	// epbInbound and epbOutbound are the direction bits of epb_flags.
	epbInbound  = 1
	epbOutbound = 2
)

// ngWriter writes one pcapng section with two interfaces, the Ethernet one
// for packets and an exported-PDU one for notes, whose timestamps are in
// nanoseconds.
type ngWriter struct {
	w   io.Writer
	buf []byte // the block being built
	err error  // the first write error; later writes do nothing
}

// newNgWriter writes the Section Header Block and the Interface Description
// Blocks: ifaceEthernet named ifName, and ifaceNotes.
func newNgWriter(w io.Writer, app, ifName string) (*ngWriter, error) {
	nw := &ngWriter{w: w}
	nw.begin(blockSectionHeader)
	nw.u32(byteOrderMagic)
	nw.u16(1) // major version
	nw.u16(0) // minor version
	nw.u32(0xFFFFFFFF)
	nw.u32(0xFFFFFFFF) // section length: unknown
	nw.option(optSHBUserAppl, []byte(app))
	nw.end()

	nw.begin(blockInterfaceDescription)
	nw.u16(linkTypeEthernet)
	nw.u16(0) // reserved
	nw.u32(0) // snaplen: no limit
	nw.option(optIfName, []byte(ifName))
	nw.option(optTSResol, []byte{9})
	nw.end()

	nw.begin(blockInterfaceDescription)
	nw.u16(linkTypeUpperPDU)
	nw.u16(0)
	nw.u32(0)
	nw.option(optIfName, []byte("notes"))
	nw.option(optTSResol, []byte{9})
	nw.end()
	return nw, nw.err
}

// notePDU is the packet data of a note: an exported PDU for the "data"
// dissector, with no bytes.
var notePDU = []byte{
	0, expPDUTagDissectorName, 0, 4, 'd', 'a', 't', 'a',
	0, expPDUTagEnd, 0, 0,
}

// note writes a comment-only record: an Enhanced Packet Block on
// ifaceNotes holding an empty exported PDU.
func (nw *ngWriter) note(t time.Time, comment string) error {
	return nw.block(ifaceNotes, t, notePDU, comment, 0)
}

// packet writes an Enhanced Packet Block on ifaceEthernet holding frame,
// with a comment if comment is not empty, and epb_flags if flags is not 0.
func (nw *ngWriter) packet(t time.Time, frame []byte, comment string, flags uint32) error {
	return nw.block(ifaceEthernet, t, frame, comment, flags)
}

// block writes an Enhanced Packet Block.
func (nw *ngWriter) block(iface uint32, t time.Time, frame []byte, comment string, flags uint32) error {
	if !utf8.ValidString(comment) || len(comment) > maxOptionLen {
		return fmt.Errorf("pcap: comment %.40q... is not valid UTF-8 or longer than %d bytes", comment, maxOptionLen)
	}
	ts := uint64(t.UnixNano())
	nw.begin(blockEnhancedPacket)
	nw.u32(iface)
	nw.u32(uint32(ts >> 32))
	nw.u32(uint32(ts))
	nw.u32(uint32(len(frame))) // captured length
	nw.u32(uint32(len(frame))) // original length
	nw.buf = append(nw.buf, frame...)
	nw.pad()
	if comment != "" {
		nw.option(optComment, []byte(comment))
	}
	if flags != 0 {
		nw.option(optEPBFlags, binary.LittleEndian.AppendUint32(nil, flags))
	}
	nw.end()
	return nw.err
}

// begin starts a block of type typ; its length is filled in by end.
func (nw *ngWriter) begin(typ uint32) {
	nw.buf = nw.buf[:0]
	nw.u32(typ)
	nw.u32(0)
}

// end ends the option list (every block written here has options), fills
// in both lengths and writes the block.
func (nw *ngWriter) end() {
	nw.u16(optEndOfOpt)
	nw.u16(0)
	total := uint32(len(nw.buf) + 4)
	binary.LittleEndian.PutUint32(nw.buf[4:8], total)
	nw.u32(total)
	if nw.err == nil {
		_, nw.err = nw.w.Write(nw.buf)
	}
}

// option appends one option, padded to 32 bits.
func (nw *ngWriter) option(code uint16, value []byte) {
	nw.u16(code)
	nw.u16(uint16(len(value)))
	nw.buf = append(nw.buf, value...)
	nw.pad()
}

// pad appends zeros up to a multiple of 4 octets.
func (nw *ngWriter) pad() {
	for len(nw.buf)%4 != 0 {
		nw.buf = append(nw.buf, 0)
	}
}

func (nw *ngWriter) u16(v uint16) { nw.buf = binary.LittleEndian.AppendUint16(nw.buf, v) }
func (nw *ngWriter) u32(v uint32) { nw.buf = binary.LittleEndian.AppendUint32(nw.buf, v) }
