package netem

import (
	"encoding/binary"
	"io"
	"testing"
	"time"
)

// BenchmarkThroughput streams 64 KiB writes to a sink server, directly and
// through a proxy with no delay. Compare the MB/s of the two sub-benchmarks.
func BenchmarkThroughput(b *testing.B) {
	sink := startSink(b)
	p := startProxy(b, Config{Target: sink})
	for _, bc := range []struct{ name, addr string }{
		{"direct", sink},
		{"proxy", p.Addr()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			nc := dial(b, bc.addr)
			block := make([]byte, 64<<10)
			b.SetBytes(int64(len(block)))
			b.ResetTimer()
			for range b.N {
				if _, err := nc.Write(block); err != nil {
					b.Fatal(err)
				}
			}
			// Count the bytes still in flight: stop when the sink has them all.
			nc.CloseWrite()
			nc.SetReadDeadline(time.Now().Add(time.Minute))
			var reply [8]byte
			if _, err := io.ReadFull(nc, reply[:]); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if got, want := binary.BigEndian.Uint64(reply[:]), uint64(b.N*len(block)); got != want {
				b.Fatalf("sink counted %d bytes, want %d", got, want)
			}
		})
	}
}
