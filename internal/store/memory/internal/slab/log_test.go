package slab

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"runtime"
	"testing"
)

// model is what a Log should hold: value and expiry by key.
type model map[string]struct {
	value   string
	expires int64
}

// check fails t unless l holds exactly the live items of m, and its
// bookkeeping adds up.
func check(t *testing.T, l *Log, m model, step int) {
	t.Helper()
	if l.Len() != len(m) {
		t.Fatalf("step %d: Len() = %d, want %d", step, l.Len(), len(m))
	}
	for key, want := range m {
		r, ok := l.Lookup(l.hash([]byte(key)), []byte(key))
		if !ok {
			t.Fatalf("step %d: Lookup(%q) missed", step, key)
		}
		if got := string(l.Value(r)); got != want.value || l.Expires(r) != want.expires {
			t.Fatalf("step %d: Lookup(%q) = %q expiring at %d, want %q at %d", step, key, got, l.Expires(r), want.value, want.expires)
		}
	}
	var segBytes, live int64
	for _, slot := range l.order {
		seg := l.segs[slot]
		segBytes += int64(cap(seg.buf))
		live += int64(seg.live)
		if seg.live > len(seg.buf) || seg.live < 0 {
			t.Fatalf("step %d: segment %d has %d live bytes of %d", step, slot, seg.live, len(seg.buf))
		}
	}
	var records int64
	for key, want := range m {
		records += int64(headerSize + len(key) + len(want.value))
	}
	if segBytes != l.segBytes || live != records {
		t.Fatalf("step %d: segBytes %d (counted %d), live %d, want %d", step, l.segBytes, segBytes, live, records)
	}
	if l.garbage*compactFraction > l.segBytes+maxSegment*compactFraction {
		t.Fatalf("step %d: %d dead bytes in %d", step, l.garbage, l.segBytes)
	}
}

// TestLogMatchesModel runs random operations on a Log whose hash has only 16
// values, so that most keys collide, and compares it with a map after each.
func TestLogMatchesModel(t *testing.T) {
	for _, hashes := range []uint64{16, 1 << 62} {
		t.Run(fmt.Sprint("hashes=", hashes), func(t *testing.T) {
			seed := maphash.MakeSeed()
			l := New(func(key []byte) uint64 { return maphash.Bytes(seed, key) % hashes })
			m := model{}
			rng := rand.New(rand.NewPCG(1, 2))
			now := int64(0)
			// held are values handed out earlier, which must never change.
			var held []struct {
				value []byte
				want  string
			}
			for step := range 20000 {
				now++
				key := fmt.Sprintf("key-%d", rng.IntN(300))
				h := l.hash([]byte(key))
				switch op := rng.IntN(10); {
				case op < 5:
					value := fmt.Sprintf("%0*d", rng.IntN(3)*20, step)
					expires := now + rng.Int64N(500)
					_, replaced := l.Put(h, []byte(key), []byte(value), expires, now)
					if _, had := m[key]; had != replaced {
						t.Fatalf("step %d: Put(%q) replaced = %v, want %v", step, key, replaced, had)
					}
					m[key] = struct {
						value   string
						expires int64
					}{value, expires}
				case op < 7:
					r, ok := l.Lookup(h, []byte(key))
					if _, had := m[key]; had != ok {
						t.Fatalf("step %d: Lookup(%q) = %v, want %v", step, key, ok, had)
					}
					if ok && len(held) < 1000 {
						held = append(held, struct {
							value []byte
							want  string
						}{l.Share(r), string(l.Value(r))})
					}
					if ok {
						l.Remove(r, now)
						delete(m, key)
					}
				case op < 8:
					if r, ok := l.Lookup(h, []byte(key)); ok {
						it := m[key]
						it.expires = now + rng.Int64N(500)
						l.SetExpires(r, it.expires)
						m[key] = it
						l.Touch(r)
					}
				case op < 9:
					_, _, _ = l.Expire(now, 1000)
					for k, it := range m {
						if it.expires <= now {
							delete(m, k)
						}
					}
				default:
					before := l.Len()
					if _, _, ok := l.EvictOne(now); ok != (before > 0) {
						t.Fatalf("step %d: EvictOne() = %v with %d items", step, ok, before)
					}
					// Find the evicted key: the one the model has and l lacks.
					for k := range m {
						if _, ok := l.Lookup(l.hash([]byte(k)), []byte(k)); !ok {
							delete(m, k)
						}
					}
				}
				check(t, l, m, step)
				for _, v := range held {
					if string(v.value) != v.want {
						t.Fatalf("step %d: a value handed out as %q changed to %q", step, v.want, v.value)
					}
				}
				if next := l.NextExpiry(); len(m) > 0 {
					for k, it := range m {
						if it.expires < next {
							t.Fatalf("step %d: NextExpiry() = %d, but %q expires at %d", step, next, k, it.expires)
						}
					}
				}
			}
		})
	}
}

// TestChurnStaysBounded overwrites and deletes keys with values of changing
// sizes: the segments stay within a bounded multiple of the live records.
func TestChurnStaysBounded(t *testing.T) {
	seed := maphash.MakeSeed()
	l := New(func(key []byte) uint64 { return maphash.Bytes(seed, key) })
	rng := rand.New(rand.NewPCG(3, 4))
	live := map[string]int{}
	var records int64
	for step := range 200_000 {
		key := []byte(fmt.Sprintf("key-%d", rng.IntN(2000)))
		h := l.hash(key)
		if rng.IntN(4) == 0 {
			if r, ok := l.Lookup(h, key); ok {
				l.Remove(r, int64(step))
				records -= int64(headerSize + len(key) + live[string(key)])
				delete(live, string(key))
			}
			continue
		}
		n := 50 + rng.IntN(100)
		if old, ok := live[string(key)]; ok {
			records -= int64(headerSize + len(key) + old)
		}
		l.Put(h, key, make([]byte, n), int64(1<<62), int64(step))
		live[string(key)] = n
		records += int64(headerSize + len(key) + n)
		if bound := records + records/4 + 2*maxSegment; l.SegmentBytes() > bound {
			t.Fatalf("step %d: %d segment bytes for %d bytes of live records, want at most %d", step, l.SegmentBytes(), records, bound)
		}
	}
	if len(l.expiry) > 2*l.Len()+rebuildSlack {
		t.Errorf("expiry heap holds %d entries for %d items", len(l.expiry), l.Len())
	}
}

// BenchmarkSlabMemory reports the live heap per item of 1,000,000 items of
// 12-byte keys and 100-byte values in 64 Logs, as the store's default cache
// would hold them.
//
//	go test -run '^$' -bench SlabMemory -benchtime 1x ./internal/store/memory/internal/slab
func BenchmarkSlabMemory(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		seed := maphash.MakeSeed()
		hash := func(key []byte) uint64 { return maphash.Bytes(seed, key) }
		logs := make([]*Log, 64)
		for i := range logs {
			logs[i] = New(hash)
		}
		before := liveHeap()
		key, value := make([]byte, 12), make([]byte, 100)
		for i := range n {
			key = fmt.Appendf(key[:0], "k%011d", i)
			h := hash(key)
			logs[h&63].Put(h, key, value, 1<<62, 0)
		}
		after := liveHeap()
		runtime.KeepAlive(logs)
		b.ReportMetric(float64(after-before)/n, "heap-bytes/item")
	}
}

// TestOverwriteInPlaceUnlessShared overwrites a key with values of the same
// length: in place while no value was shared, appended once one was, so
// that the shared value stays as it was.
func TestOverwriteInPlaceUnlessShared(t *testing.T) {
	seed := maphash.MakeSeed()
	l := New(func(key []byte) uint64 { return maphash.Bytes(seed, key) })
	key := []byte("k")
	h := l.hash(key)
	l.Put(h, key, []byte("first"), 1<<62, 0)
	l.Put(h, key, []byte("again"), 1<<62, 0)
	if got, want := l.Garbage(), int64(0); got != want {
		t.Errorf("after a same-length overwrite: Garbage() = %d, want %d (written in place)", got, want)
	}
	r, _ := l.Lookup(h, key)
	shared := l.Share(r)
	l.Put(h, key, []byte("third"), 1<<62, 0)
	if string(shared) != "again" {
		t.Errorf("shared value = %q after an overwrite, want %q", shared, "again")
	}
	if got, want := l.Garbage(), int64(headerSize+len("k")+len("again")); got != want {
		t.Errorf("after overwriting a shared value: Garbage() = %d, want %d (appended)", got, want)
	}
	r, _ = l.Lookup(h, key)
	if got := string(l.Value(r)); got != "third" {
		t.Errorf("Value(k) = %q, want %q", got, "third")
	}
}

// liveHeap returns the bytes of live heap objects after a full collection.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestShrinkAfterMassRemoval: once most items are gone, Shrink brings the
// peak down to the items left and rebuilds the expiry heap from the index,
// and the Log still holds exactly what it should.
func TestShrinkAfterMassRemoval(t *testing.T) {
	seed := maphash.MakeSeed()
	l := New(func(key []byte) uint64 { return maphash.Bytes(seed, key) })
	m := model{}
	const n = 4 * shrinkMinPeak
	for i := range n {
		key, value := fmt.Sprint("key-", i), fmt.Sprint("value-", i)
		expires := int64(1_000_000 + i)
		l.Put(l.hash([]byte(key)), []byte(key), []byte(value), expires, 0)
		m[key] = struct {
			value   string
			expires int64
		}{value, expires}
	}
	for i := range n {
		if i%8 == 0 {
			continue
		}
		key := fmt.Sprint("key-", i)
		r, ok := l.Lookup(l.hash([]byte(key)), []byte(key))
		if !ok {
			t.Fatalf("Lookup(%q) missed", key)
		}
		l.Remove(r, 0)
		delete(m, key)
	}
	l.Shrink()
	if l.peak != l.items || l.items != len(m) {
		t.Errorf("after Shrink: peak %d, items %d; want both %d", l.peak, l.items, len(m))
	}
	if len(l.expiry) != l.items {
		t.Errorf("after Shrink: %d expiry entries for %d items, want one each", len(l.expiry), l.items)
	}
	check(t, l, m, 0)
}
