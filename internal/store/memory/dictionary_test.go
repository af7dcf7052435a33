package memory

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/internal/store"
)

// measureDictionary fills a dictionary with n fields whose names and values
// are size bytes long and returns the heap it holds beyond its payload, per
// field, as runtime.MemStats sees it after a GC.
func measureDictionary(n, size int) (perField float64, d *dictionary) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	d = newDictionary().(*dictionary)
	value := make([]byte, size)
	for i := range n {
		field := fmt.Appendf(nil, "%0*d", size, i)
		d.put(string(field), clone(value))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	return float64(heap-d.payload()) / float64(n), d
}

// TestDictionaryFootprint checks dictionaryFieldOverhead against the heap a
// dictionary of 100k fields really holds. The band is wide: the map's load
// factor alone moves the figure by a third between two growths.
func TestDictionaryFootprint(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100k fields")
	}
	const n = 100_000
	for _, size := range []int{1, 16, 100} {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			perField, d := measureDictionary(n, size)
			t.Logf("%d fields of %d+%d bytes: %.1f bytes of overhead per field (accounted: %d)", n, size, size, perField, dictionaryFieldOverhead)
			if lo, hi := 0.6*perField, 1.5*perField; float64(dictionaryFieldOverhead) < lo || float64(dictionaryFieldOverhead) > hi {
				t.Errorf("dictionaryFieldOverhead = %d, measured %.1f per field; want within [%.0f, %.0f]", dictionaryFieldOverhead, perField, lo, hi)
			}
			if got, want := d.footprint(), d.payload()+n*dictionaryFieldOverhead; got != want {
				t.Errorf("footprint() = %d, want %d", got, want)
			}
			runtime.KeepAlive(d)
		})
	}
}

// TestDictionaryShrinks checks that removing most fields rebuilds the map
// and keeps the payload exact.
func TestDictionaryShrinks(t *testing.T) {
	d := newDictionary().(*dictionary)
	const n = 1000
	for i := range n {
		d.put(fmt.Sprintf("f%04d", i), []byte("v"))
	}
	for i := range n - 10 {
		d.remove(fmt.Appendf(nil, "f%04d", i))
	}
	if d.len() != 10 || d.payload() != 10*int64(len("f0000v")) {
		t.Fatalf("after removing %d of %d fields: len() = %d, payload() = %d; want 10, %d", n-10, n, d.len(), d.payload(), 10*len("f0000v"))
	}
	if d.peak > max(4*d.len(), dictionaryShrinkMinPeak) {
		t.Errorf("peak = %d after shrinking to %d fields, want the map rebuilt", d.peak, d.len())
	}
}

// TestDictionaryAccounting checks that Stats().Bytes follows a dictionary
// as it grows, shrinks and disappears.
func TestDictionaryAccounting(t *testing.T) {
	s := New(Config{})
	defer s.Close()
	ctx := t.Context()
	if err := s.CreateCache(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	key := []byte("dict")
	w := store.CollectionWrite{TTL: time.Minute}
	want := func(fields ...string) int64 {
		if len(fields) == 0 {
			return 0
		}
		n := int64(len(key)) + CollectionOverhead
		for i := 0; i < len(fields); i += 2 {
			n += int64(len(fields[i])+len(fields[i+1])) + dictionaryFieldOverhead
		}
		return n
	}
	check := func(step string, fields ...string) {
		t.Helper()
		if got, want := ItemStats(s).Bytes, want(fields...); got != want {
			t.Errorf("after %s: Stats().Bytes = %d, want %d", step, got, want)
		}
	}
	set := func(field, value string) {
		t.Helper()
		if err := s.DictionarySet(ctx, "c", key, []store.DictionaryField{{Field: []byte(field), Value: []byte(value)}}, w); err != nil {
			t.Fatalf("DictionarySet(%q, %q) = %v, want nil", field, value, err)
		}
	}
	set("a", "1")
	check("set a", "a", "1")
	set("bb", "22")
	check("set bb", "a", "1", "bb", "22")
	set("a", "111")
	check("replace a", "a", "111", "bb", "22")
	if _, err := s.DictionaryIncrement(ctx, "c", key, []byte("a"), 9000, w); err != nil {
		t.Fatalf("DictionaryIncrement(a, 9000) = %v, want nil", err)
	}
	check("increment a", "a", "9111", "bb", "22")
	if err := s.DictionaryRemove(ctx, "c", key, [][]byte{[]byte("a")}); err != nil {
		t.Fatalf("DictionaryRemove(a) = %v, want nil", err)
	}
	check("remove a", "bb", "22")
	if err := s.DictionaryRemove(ctx, "c", key, [][]byte{[]byte("bb")}); err != nil {
		t.Fatalf("DictionaryRemove(bb) = %v, want nil", err)
	}
	check("remove bb")
	if got := s.Stats().Items; got != 0 {
		t.Errorf("Stats().Items = %d after removing every field, want 0", got)
	}
}
