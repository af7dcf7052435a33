package memory

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"testing"
)

// checkHeap fails t unless h is a min-heap on heapKey with correct indexes.
func checkHeap(t *testing.T, h expiryHeap) {
	t.Helper()
	for i, e := range h {
		if e.heapIndex != i {
			t.Fatalf("heap[%d].heapIndex = %d, want %d", i, e.heapIndex, i)
		}
		if i > 0 && h[(i-1)/2].heapKey > e.heapKey {
			t.Fatalf("heap[%d].heapKey = %d is below its parent's %d", i, e.heapKey, h[(i-1)/2].heapKey)
		}
	}
}

func TestExpiryHeapRandomOperations(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h expiryHeap
	live := map[*entry]bool{}
	for step := range 5000 {
		switch op := rng.IntN(4); {
		case op == 0 || len(live) == 0:
			e := &entry{heapKey: rng.Int64N(1000)}
			h.push(e)
			live[e] = true
		case op == 1:
			for e := range live {
				h.remove(e)
				delete(live, e)
				break
			}
		case op == 2: // lower a key, as an earlier expiry does
			for e := range live {
				e.heapKey -= rng.Int64N(100)
				h.up(e.heapIndex)
				break
			}
		case op == 3 && rng.IntN(2) == 0: // raise the root's key, as the janitor does
			h[0].heapKey += rng.Int64N(1000)
			h.down(0)
		default:
			least := h[0]
			for e := range live {
				if e.heapKey < least.heapKey {
					t.Fatalf("step %d: heap root has key %d, but an entry has %d", step, least.heapKey, e.heapKey)
				}
			}
		}
		if len(h) != len(live) {
			t.Fatalf("step %d: heap holds %d entries, want %d", step, len(h), len(live))
		}
		checkHeap(t, h)
	}
}

func TestShardShrinksAfterMassExpiry(t *testing.T) {
	var (
		stats counterStripe
		occ   occupancy
		sh    shard
	)
	seed := maphash.MakeSeed()
	hash := func(key []byte) uint64 { return maphash.Bytes(seed, key) }
	sh.init(hash, &stats, &occ, false)
	const n = 4 * shrinkMinPeak
	for i := range n {
		expires := int64(10) // most expire at 10
		if i%8 == 0 {
			expires = 1000
		}
		key := fmt.Appendf(nil, "key-%d", i)
		sh.putScalarLocked(hash(key), key, []byte("v"), expires, 0)
	}
	segBytes := sh.scalars.SegmentBytes()
	for done := false; !done; {
		_, done = sh.expireLocked(10, expireBatch)
	}
	sh.shrinkLocked()
	if got, want := sh.scalars.Len(), n/8; got != want {
		t.Errorf("after expiry: %d scalars, want %d", got, want)
	}
	if got := sh.scalars.SegmentBytes(); got > segBytes/2 {
		t.Errorf("after expiry: %d segment bytes, want at most half of the %d before", got, segBytes)
	}
	for i := 0; i < n; i += 8 {
		key := fmt.Appendf(nil, "key-%d", i)
		if _, ok := sh.scalarLocked(hash(key), key, 10); !ok {
			t.Fatalf("key-%d missing after shrinking", i)
		}
	}
	if got, want := stats.items.Load(), int64(n/8); got != want {
		t.Errorf("items counter = %d, want %d", got, want)
	}
	if got, want := stats.bytes.Load(), int64(n/8)*itemSize(len("key-0000"), 1); got > want || got < want-int64(n/8) {
		t.Errorf("bytes counter = %d, want about %d", got, want)
	}
}
