package memory

import (
	"fmt"
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
	sh.init(&stats, &occ, false)
	const n = 4 * shrinkMinPeak
	for i := range n {
		expires := int64(10) // most expire at 10
		if i%8 == 0 {
			expires = 1000
		}
		sh.putLocked(fmt.Appendf(nil, "key-%d", i), []byte("v"), expires, 0)
	}
	if sh.peak != n {
		t.Fatalf("peak = %d, want %d", sh.peak, n)
	}
	for done := false; !done; {
		_, done = sh.expireLocked(10, expireBatch)
	}
	sh.shrinkLocked()
	if want := n / 8; len(sh.items) != want || sh.peak != want || len(sh.expiry) != want {
		t.Errorf("after shrinking: %d items, peak %d, %d in heap; want %d of each", len(sh.items), sh.peak, len(sh.expiry), want)
	}
	if cap(sh.expiry) > 2*len(sh.expiry) {
		t.Errorf("after shrinking: heap capacity %d for %d entries, want it released", cap(sh.expiry), len(sh.expiry))
	}
	checkHeap(t, sh.expiry)
	for i := 0; i < n; i += 8 {
		if sh.liveLocked(fmt.Appendf(nil, "key-%d", i), 10) == nil {
			t.Fatalf("key-%d missing after shrinking", i)
		}
	}
	if got, want := stats.items.Load(), int64(n/8); got != want {
		t.Errorf("items counter = %d, want %d", got, want)
	}
}
