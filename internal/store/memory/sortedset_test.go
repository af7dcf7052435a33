package memory

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/thaw-dev/thaw/internal/store"
)

// checkSkipList fails t unless l holds exactly want (in ascending order)
// with consistent links and spans: every level is sorted, every span equals
// the level-0 distance it skips, prev links mirror level 0, and rank and at
// agree with positions.
func checkSkipList(t *testing.T, l *skipList, want []store.SortedSetElement) {
	t.Helper()
	if l.length != len(want) {
		t.Fatalf("length = %d, want %d", l.length, len(want))
	}
	pos := map[*znode]int{l.head: -1}
	var prev *znode
	i := 0
	for x := l.first(); x != nil; x = x.next() {
		if i >= len(want) || x.value != string(want[i].Value) || x.score != want[i].Score {
			t.Fatalf("element %d = %q:%v, want %s", i, x.value, x.score, fmtElement(want, i))
		}
		if x.prev != prev {
			t.Fatalf("element %d (%q) has a wrong prev link", i, x.value)
		}
		if len(x.levels) > l.level {
			t.Fatalf("element %d has %d levels, above the list's %d", i, len(x.levels), l.level)
		}
		pos[x] = i
		prev = x
		i++
	}
	if l.tail != prev {
		t.Fatalf("tail is not the last element")
	}
	for lvl := range l.level {
		x := l.head
		for {
			next, span := x.levels[lvl].next, x.levels[lvl].span
			// A link to nowhere spans to the last element (as in Redis;
			// nothing reads it).
			wantSpan := l.length - 1 - pos[x]
			if next != nil {
				wantSpan = pos[next] - pos[x]
			}
			if span != wantSpan {
				t.Fatalf("level %d: span after position %d = %d, want %d", lvl, pos[x], span, wantSpan)
			}
			if next == nil {
				break
			}
			x = next
		}
	}
	if l.level > 1 && l.head.levels[l.level-1].next == nil {
		t.Fatalf("top level %d is empty", l.level)
	}
	for x, p := range pos {
		if x == l.head {
			continue
		}
		if got := l.rank(x); got != p {
			t.Fatalf("rank(%q) = %d, want %d", x.value, got, p)
		}
		if got := l.at(p); got != x {
			t.Fatalf("at(%d) is not %q", p, x.value)
		}
	}
}

func fmtElement(elements []store.SortedSetElement, i int) string {
	if i >= len(elements) {
		return "none"
	}
	return fmt.Sprintf("%q:%v", elements[i].Value, elements[i].Score)
}

// modelSorted returns the model's elements in ascending order.
func modelSorted(model map[string]float64) []store.SortedSetElement {
	out := make([]store.SortedSetElement, 0, len(model))
	for v, score := range model {
		out = append(out, store.SortedSetElement{Value: []byte(v), Score: score})
	}
	slices.SortFunc(out, func(a, b store.SortedSetElement) int {
		if c := cmp.Compare(a.Score, b.Score); c != 0 {
			return c
		}
		return strings.Compare(string(a.Value), string(b.Value))
	})
	return out
}

// TestSkipListInvariants drives one sorted set through random puts, score
// changes and deletes with many tied scores, checking the skip list's
// structure against a model after each batch.
func TestSkipListInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	z := newSortedSet().(*sortedSet)
	model := map[string]float64{}
	for round := range 40 {
		for range 200 {
			value := fmt.Sprintf("v%03d", rng.IntN(400))
			switch rng.IntN(3) {
			case 0, 1:
				score := float64(rng.IntN(20))
				z.put(value, score)
				model[value] = score
			case 2:
				z.delete([]byte(value))
				delete(model, value)
			}
		}
		want := modelSorted(model)
		checkSkipList(t, &z.list, want)
		var payload int64
		for _, e := range want {
			payload += zsetElementPayload(len(e.Value))
		}
		if z.payload() != payload || len(z.byValue) != len(want) {
			t.Fatalf("round %d: payload %d with %d map entries, want %d with %d", round, z.payload(), len(z.byValue), payload, len(want))
		}
	}
	z.clear()
	checkSkipList(t, &z.list, nil)
}

// TestSortedSetRanges checks the position arithmetic of rank ranges.
func TestSortedSetRanges(t *testing.T) {
	tests := []struct {
		r          store.RankRange
		n          int
		start, end int
	}{
		{store.RankRange{ToEnd: true}, 5, 0, 5},
		{store.RankRange{Start: -2, ToEnd: true}, 5, 3, 5},
		{store.RankRange{Start: -9, End: 2}, 5, 0, 2},
		{store.RankRange{Start: 1, End: -1}, 5, 1, 4},
		{store.RankRange{Start: 4, End: 2}, 5, 0, 0},
		{store.RankRange{Start: 5, ToEnd: true}, 5, 0, 0},
		{store.RankRange{End: 0}, 5, 0, 0},
		{store.RankRange{ToEnd: true}, 0, 0, 0},
	}
	for _, tc := range tests {
		start, end := zsetRanks(tc.r, tc.n)
		if start != tc.start || end != tc.end {
			t.Errorf("zsetRanks(%+v, %d) = %d, %d; want %d, %d", tc.r, tc.n, start, end, tc.start, tc.end)
		}
	}
}

// TestSortedSetAccounting checks that Stats().Bytes follows a sorted set's
// footprint through writes and back to zero when it is emptied.
func TestSortedSetAccounting(t *testing.T) {
	s := New(Config{})
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	if err := s.CreateCache(ctx, "c"); err != nil {
		t.Fatalf("CreateCache(c) = %v, want nil", err)
	}
	w := store.CollectionWrite{TTL: 60e9, RefreshTTL: true}
	elements := []store.SortedSetElement{{Value: []byte("abc"), Score: 1}, {Value: []byte("de"), Score: 2}}
	if err := s.SortedSetPut(ctx, "c", []byte("key"), elements, w); err != nil {
		t.Fatalf("SortedSetPut = %v, want nil", err)
	}
	want := int64(len("key")) + CollectionOverhead + (3 + 8) + (2 + 8) + 2*sortedSetElementOverhead
	if got := ItemStats(s).Bytes; got != want {
		t.Errorf("Stats().Bytes after putting 2 elements = %d, want %d", got, want)
	}
	if _, err := s.SortedSetIncrement(ctx, "c", []byte("key"), []byte("f"), 1, w); err != nil {
		t.Fatalf("SortedSetIncrement = %v, want nil", err)
	}
	want += (1 + 8) + sortedSetElementOverhead
	if got := ItemStats(s).Bytes; got != want {
		t.Errorf("Stats().Bytes after a new element = %d, want %d", got, want)
	}
	if _, err := s.SortedSetUnionStore(ctx, "c", []byte("copy"), []store.SortedSetSource{{Key: []byte("key"), Weight: 2}}, store.AggregateSum, w); err != nil {
		t.Fatalf("SortedSetUnionStore = %v, want nil", err)
	}
	want *= 2
	want += int64(len("copy") - len("key"))
	if got := ItemStats(s).Bytes; got != want {
		t.Errorf("Stats().Bytes after a union copy = %d, want %d", got, want)
	}
	if err := s.SortedSetRemove(ctx, "c", []byte("key"), [][]byte{[]byte("abc"), []byte("de"), []byte("f")}); err != nil {
		t.Fatalf("SortedSetRemove = %v, want nil", err)
	}
	if err := s.SortedSetDelete(ctx, "c", []byte("copy")); err != nil {
		t.Fatalf("SortedSetDelete = %v, want nil", err)
	}
	if got := ItemStats(s); got.Bytes != 0 || got.Items != 0 {
		t.Errorf("Stats() after emptying both sets = %+v, want no items and 0 bytes", got)
	}
}

// BenchmarkSortedSetFootprint measures the heap a sorted set takes per
// element, beyond its payload, and reports it next to the accounted
// sortedSetElementOverhead. Run it with -benchtime=1x: one iteration fills
// one set of 100,000 elements.
func BenchmarkSortedSetFootprint(b *testing.B) {
	const n, valueLen = 100_000, 16
	values := make([]string, n)
	for i := range values {
		values[i] = fmt.Sprintf("%0*d", valueLen, i)
	}
	var perElement float64
	for b.Loop() {
		b.StopTimer()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()
		z := newSortedSet().(*sortedSet)
		for i, v := range values {
			// A fresh copy of the value, as SortedSetPut makes from the
			// request's bytes.
			z.put(string([]byte(v)), float64(i%1000))
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		perElement = float64(heap-z.payload()) / n
		runtime.KeepAlive(z)
		b.StartTimer()
	}
	b.ReportMetric(perElement, "heap-B/elem")
	b.ReportMetric(sortedSetElementOverhead, "accounted-B/elem")
}

// BenchmarkSortedSetPut measures adding elements with random scores to a
// set of growing size.
func BenchmarkSortedSetPut(b *testing.B) {
	z := newSortedSet().(*sortedSet)
	rng := rand.New(rand.NewPCG(1, 2))
	i := 0
	for b.Loop() {
		z.put(fmt.Sprintf("v%d", i), rng.Float64())
		i++
	}
}

// BenchmarkSortedSetRank measures rank lookups in a set of 100,000.
func BenchmarkSortedSetRank(b *testing.B) {
	z := newSortedSet().(*sortedSet)
	for i := range 100_000 {
		z.put(fmt.Sprintf("v%d", i), float64(i%977))
	}
	i := 0
	for b.Loop() {
		_ = z.list.rank(z.byValue[fmt.Sprintf("v%d", i%100_000)])
		i++
	}
}
