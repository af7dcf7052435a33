package memory

import (
	"fmt"
	"runtime"
	"strconv"
	"testing"
)

// setMembers returns n distinct members of 1 to 32 bytes.
func setMembers(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		m := fmt.Appendf(nil, "%d-", i)
		for len(m) < 1+i%32 {
			m = append(m, 'x')
		}
		out[i] = m
	}
	return out
}

// liveHeap returns the bytes of live heap objects after a collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestSetMemberOverhead measures what a set costs per member beyond the
// member's bytes, and checks that setMemberOverhead, which footprint
// accounts, is within 25% of it. It is the measurement that the constant's
// comment cites.
func TestSetMemberOverhead(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100,000 members")
	}
	if strconv.IntSize != 64 {
		t.Skip("the overhead was measured for 64-bit platforms")
	}
	const n = 100_000
	members := setMembers(n)
	var payload int64
	for _, m := range members {
		payload += int64(len(m))
	}
	before := liveHeap()
	st := newSet().(*set)
	for _, m := range members {
		st.add(string(m))
	}
	after := liveHeap()
	runtime.KeepAlive(st)
	runtime.KeepAlive(members)
	perMember := (float64(after) - float64(before) - float64(payload)) / n
	t.Logf("set of %d members, %d payload bytes: %.1f bytes of overhead per member (footprint accounts %d)", n, payload, perMember, setMemberOverhead)
	if lo, hi := 0.75*perMember, 1.25*perMember; float64(setMemberOverhead) < lo || float64(setMemberOverhead) > hi {
		t.Errorf("setMemberOverhead = %d, want within 25%% of the measured %.1f", setMemberOverhead, perMember)
	}
	if got, want := st.footprint(), payload+n*setMemberOverhead; got != want {
		t.Errorf("footprint() = %d, want %d", got, want)
	}
}

// TestSetShrink checks that a set that lost most of its members releases
// their slots and keeps the others reachable.
func TestSetShrink(t *testing.T) {
	st := newSet().(*set)
	members := setMembers(1000)
	for _, m := range members {
		st.add(string(m))
	}
	for _, m := range members[10:] {
		st.remove(m)
	}
	st.shrink()
	if got := cap(st.members); got > 20 {
		t.Errorf("cap(members) after shrinking to 10 = %d, want at most 20", got)
	}
	for _, m := range members[:10] {
		if !st.has(m) {
			t.Errorf("has(%q) after shrink = false, want true", m)
		}
	}
	for i, m := range st.members {
		if st.index[m] != i {
			t.Errorf("index[%q] = %d, want %d", m, st.index[m], i)
		}
	}
}

// TestSetSampleDistinct checks both sampling strategies return distinct
// members of the set, as many as asked.
func TestSetSampleDistinct(t *testing.T) {
	st := newSet().(*set)
	for _, m := range setMembers(100) {
		st.add(string(m))
	}
	for _, k := range []int{0, 1, 10, 50, 51, 99, 100} {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			got := st.sample(k)
			if len(got) != k {
				t.Fatalf("sample(%d) returned %d members, want %d", k, len(got), k)
			}
			seen := map[string]bool{}
			for _, m := range got {
				if seen[string(m)] {
					t.Errorf("sample(%d) returned %q twice", k, m)
				}
				seen[string(m)] = true
				if !st.has(m) {
					t.Errorf("sample(%d) returned %q, not a member", k, m)
				}
			}
		})
	}
}

// TestSetSampleCoversAll checks that small samples are not stuck on a few
// members: 2,000 samples of 2 from 20 members reach every member. The chance
// that a uniform sampler misses one is about 20·0.9^2000, nil in practice.
func TestSetSampleCoversAll(t *testing.T) {
	st := newSet().(*set)
	for _, m := range setMembers(20) {
		st.add(string(m))
	}
	seen := map[string]bool{}
	for range 2000 {
		for _, m := range st.sample(2) {
			seen[string(m)] = true
		}
	}
	if len(seen) != 20 {
		t.Errorf("2000 samples of 2 from 20 members reached %d members, want 20", len(seen))
	}
}
