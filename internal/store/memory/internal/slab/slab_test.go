package slab

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"testing"
)

// TestSetGet checks the prototype's basic contract: the last write wins, a
// missing or expired key is a miss.
func TestSetGet(t *testing.T) {
	s := New(4)
	for _, v := range []string{"one", "two, longer"} {
		if !s.Set([]byte("k"), []byte(v), 10) {
			t.Fatalf("Set(k, %q) reported a collision", v)
		}
		if got, ok := s.Get(nil, []byte("k"), 5); !ok || string(got) != v {
			t.Errorf("Get(k) = %q, %v, want %q, true", got, ok, v)
		}
	}
	if _, ok := s.Get(nil, []byte("k"), 10); ok {
		t.Error("Get(k) at its expiry = found, want a miss")
	}
	if _, ok := s.Get(nil, []byte("missing"), 0); ok {
		t.Error("Get(missing) = found, want a miss")
	}
}

// BenchmarkSlabMemory loads 1,000,000 items of 12-byte keys and 100-byte
// values, each with an expiry, as the workload does, into 64 shards
// and reports the live heap per item (heap-bytes/item), the growth of the
// heap the runtime holds (heap-sys-bytes/item: live, plus the headroom the
// GC leaves, an estimate of RSS) and the bytes of the records themselves.
//
//	go test -run '^$' -bench SlabMemory -benchtime 1x ./internal/store/memory/internal/slab
func BenchmarkSlabMemory(b *testing.B) {
	const n = 1_000_000
	key := make([]byte, 12)
	value := make([]byte, 100)
	var heap, sys float64
	for b.Loop() {
		debug.FreeOSMemory()
		before := memStats()
		s := New(64)
		for i := range n {
			key = fmt.Appendf(key[:0], "k%011d", i)
			if !s.Set(key, value, 1<<62) {
				b.Fatalf("Set(%q): hash collision", key)
			}
		}
		after := memStats()
		runtime.KeepAlive(s)
		heap = (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / n
		sys = (float64(after.HeapSys-after.HeapReleased) - float64(before.HeapSys-before.HeapReleased)) / n
	}
	b.ReportMetric(heap, "heap-bytes/item")
	b.ReportMetric(sys, "heap-sys-bytes/item")
	b.ReportMetric(headerSize+12+100, "record-bytes/item")
}

// memStats returns the runtime's memory statistics after a collection.
func memStats() runtime.MemStats {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms
}
