// Package pcap records the connections a netem proxy carries and writes them
// as a pcapng file that Wireshark and tshark open: each delivery becomes
// TCP segments of a synthetic Ethernet/IPv4 conversation between the
// function's host (10.0.0.1) and the server (10.0.1.1:50051), stamped with
// the time the proxy delivered it, and every packet may carry a comment
// saying what was going on then. Comment-only records mark other moments,
// such as a freeze.
//
// Frames are built with gopacket's layers; the pcapng blocks are written here
// (see pcapng.go for why and for the format's facts).
package pcap

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/thaw-dev/thaw/internal/netem"
)

// Capture keeps, in memory, what a netem.Proxy delivers on each connection,
// and writes it out with Write once the comments are known. Hook it up with
// netem.Config{OnEvent: c.OnEvent, OnDeliver: c.OnDeliver}. It holds a copy
// of every byte delivered, so it suits captures of tests and labs, not of
// bulk transfers. Its methods are safe for concurrent use.
type Capture struct {
	mu      sync.Mutex // guards records
	records []record
}

// recordKind is what a record says happened.
type recordKind uint8

const (
	recOpen  recordKind = iota + 1 // the proxy accepted a connection
	recData                        // bytes were delivered one way
	recFIN                         // a side's FIN was delivered
	recClose                       // the proxy closed both sides with FIN
	recReset                       // the proxy reset both sides
	recNote                        // a comment-only record
)

// record is one thing Capture saw, in the order and at the time it saw it.
type record struct {
	time time.Time
	kind recordKind
	conn netem.ConnID
	dir  netem.Direction
	port uint16 // recOpen: the client's port
	data []byte // recData
	text string // recNote
}

// New returns an empty capture.
func New() *Capture { return &Capture{} }

func (c *Capture) add(r record) {
	c.mu.Lock()
	c.records = append(c.records, r)
	c.mu.Unlock()
}

// OnEvent records connections opening and closing; pass it as (or call it
// from) netem.Config.OnEvent.
func (c *Capture) OnEvent(ev netem.Event) {
	switch ev.Kind {
	case netem.EventAccepted:
		c.add(record{time: ev.Time, kind: recOpen, conn: ev.Conn, port: clientPort(ev.Client, ev.Conn)})
	case netem.EventClosed:
		switch {
		case ev.Err == nil:
			// Both FINs were delivered and recorded already.
		case errors.Is(ev.Err, netem.ErrClosed):
			c.add(record{time: ev.Time, kind: recClose, conn: ev.Conn})
		default:
			c.add(record{time: ev.Time, kind: recReset, conn: ev.Conn})
		}
	}
}

// OnDeliver records delivered bytes and FINs; pass it as
// netem.Config.OnDeliver. It copies d.Data.
func (c *Capture) OnDeliver(d netem.Delivery) {
	r := record{time: d.Time, kind: recData, conn: d.Conn, dir: d.Dir, data: bytes.Clone(d.Data)}
	if d.FIN {
		r.kind = recFIN
	} else if len(d.Data) == 0 {
		return
	}
	c.add(r)
}

// Note adds a comment-only record at t whose comment is text. Wireshark
// lists it among the packets, as an empty record of a second interface,
// "notes".
func (c *Capture) Note(t time.Time, text string) {
	c.add(record{time: t, kind: recNote, text: text})
}

// clientPort is the port of a host:port address, or a stand-in derived from
// the connection id if it has none.
func clientPort(addr string, id netem.ConnID) uint16 {
	if _, p, err := net.SplitHostPort(addr); err == nil {
		if n, err := strconv.ParseUint(p, 10, 16); err == nil && n != 0 {
			return uint16(n)
		}
	}
	return uint16(32768 + id%28000)
}

// Write writes everything recorded so far to w as one pcapng section, in
// time order. comment, if not nil, gives each packet's comment from the
// time it passed ("" for none); notes carry their own text.
func (c *Capture) Write(w io.Writer, comment func(time.Time) string) error {
	c.mu.Lock()
	records := slices.Clone(c.records)
	c.mu.Unlock()
	// Deliveries of different directions reach the capture from different
	// goroutines, so it sorts; a stable sort keeps each direction's order.
	slices.SortStableFunc(records, func(a, b record) int { return a.time.Compare(b.time) })

	nw, err := newNgWriter(w, "thaw", "netem proxy (synthetic TCP/IP)")
	if err != nil {
		return fmt.Errorf("pcap: write header: %w", err)
	}
	flows := map[netem.ConnID]*flow{}
	for _, r := range records {
		if r.kind == recNote {
			if err := nw.note(r.time, r.text); err != nil {
				return fmt.Errorf("pcap: write note: %w", err)
			}
			continue
		}
		f := flows[r.conn]
		var frames [][]byte
		if f == nil {
			// A delivery before its accept event is impossible with netem;
			// open the flow anyway rather than lose bytes.
			port := r.port
			if r.kind != recOpen {
				port = clientPort("", r.conn)
			}
			f = newFlow(uint64(r.conn), port)
			flows[r.conn] = f
			if frames, err = f.handshake(); err != nil {
				return err
			}
		}
		var more [][]byte
		switch r.kind {
		case recData:
			more, err = f.data(sideOf(r.dir), r.data)
		case recFIN:
			more, err = f.finish(sideOf(r.dir))
		case recClose:
			more, err = f.finish(server)
			if err == nil {
				var fromClient [][]byte
				fromClient, err = f.finish(client)
				more = append(more, fromClient...)
			}
		case recReset:
			more, err = f.reset()
		}
		if err != nil {
			return err
		}
		frames = append(frames, more...)
		text := ""
		if comment != nil && len(frames) > 0 {
			text = comment(r.time)
		}
		for _, fr := range frames {
			if err := nw.packet(r.time, fr, text, flagsOf(fr)); err != nil {
				return fmt.Errorf("pcap: write packet: %w", err)
			}
		}
	}
	return nil
}

// WriteFile writes the capture to path, as Write does.
func (c *Capture) WriteFile(path string, comment func(time.Time) string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("pcap: %w", err)
	}
	bw := bufio.NewWriter(f)
	if err := c.Write(bw, comment); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("pcap: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("pcap: write %s: %w", path, err)
	}
	return nil
}

// sideOf is the side that sent bytes going dir.
func sideOf(dir netem.Direction) side {
	if dir == netem.ToClient {
		return server
	}
	return client
}

// flagsOf is the epb_flags direction of a frame, seen from the function's
// host: outbound if it comes from clientMAC.
func flagsOf(frame []byte) uint32 {
	if len(frame) >= 12 && bytes.Equal(frame[6:12], clientMAC) {
		return epbOutbound
	}
	return epbInbound
}
