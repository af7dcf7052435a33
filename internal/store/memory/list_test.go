package memory

import (
	"fmt"
	"runtime"
	"slices"
	"testing"

	"github.com/thaw-dev/thaw/internal/store"
)

// listContents returns the elements of l in order, as strings.
func listContents(l *list) []string {
	out := make([]string, l.n)
	for i := range l.n {
		out[i] = string(l.at(i))
	}
	return out
}

// TestListRingWraps drives the ring through growth, wrap-around at both ends
// and shrinking, checking the order against a plain slice after every step.
func TestListRingWraps(t *testing.T) {
	l := &list{}
	var want []string
	step := func(what string) {
		t.Helper()
		if got := listContents(l); !slices.Equal(got, want) {
			t.Fatalf("after %s: list = %q, want %q", what, got, want)
		}
		var bytes int64
		for _, v := range want {
			bytes += int64(len(v))
		}
		if l.bytes != bytes {
			t.Fatalf("after %s: payload = %d, want %d", what, l.bytes, bytes)
		}
		if len(l.ring) != 0 && len(l.ring)&(len(l.ring)-1) != 0 {
			t.Fatalf("after %s: ring of %d slots, want a power of two", what, len(l.ring))
		}
		for i := l.n; i < len(l.ring); i++ {
			if l.ring[l.slot(i)] != nil {
				t.Fatalf("after %s: unused slot %d holds %q, want nil", what, l.slot(i), l.ring[l.slot(i)])
			}
		}
	}
	for i := range 100 {
		v := fmt.Sprint(i)
		l.reserve(1)
		if i%3 == 0 {
			l.pushFront([]byte(v))
			want = slices.Insert(want, 0, v)
		} else {
			l.pushBack([]byte(v))
			want = append(want, v)
		}
		step("push " + v)
		if i%4 == 3 {
			got := l.popFront()
			if string(got) != want[0] {
				t.Fatalf("popFront() = %q, want %q", got, want[0])
			}
			want = want[1:]
			l.shrink()
			step("popFront")
		}
	}
	peak := len(l.ring)
	for len(want) > 0 {
		got := l.popBack()
		if w := want[len(want)-1]; string(got) != w {
			t.Fatalf("popBack() = %q, want %q", got, w)
		}
		want = want[:len(want)-1]
		l.shrink()
		step("popBack")
	}
	if l.ring != nil || peak < 64 {
		t.Errorf("ring of %d slots after emptying (peak %d), want none", len(l.ring), peak)
	}
}

// TestListFootprintFollowsStore checks that the bytes the store accounts for
// a list come back to zero when the list is emptied by each kind of removal.
func TestListFootprintFollowsStore(t *testing.T) {
	ctx := t.Context()
	s := New(Config{})
	t.Cleanup(func() { s.Close() })
	if err := s.CreateCache(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	w := store.CollectionWrite{TTL: 60e9, RefreshTTL: true}
	values := make([][]byte, 1000)
	for i := range values {
		values[i] = fmt.Appendf(nil, "value-%d", i)
	}
	empties := []struct {
		name  string
		empty func(key []byte) error
	}{
		{"Pop", func(key []byte) error {
			for {
				_, _, found, err := s.ListPop(ctx, "c", key, store.ListBack)
				if err != nil || !found {
					return err
				}
			}
		}},
		{"Retain", func(key []byte) error {
			_, _, err := s.ListRetain(ctx, "c", key, store.ListRange{Start: 5, End: 5, EndBounded: true}, w)
			return err
		}},
		{"Erase", func(key []byte) error {
			_, _, err := s.ListErase(ctx, "c", key, []store.ListSpan{{Begin: 0, Count: len(values)}})
			return err
		}},
	}
	for _, tc := range empties {
		t.Run(tc.name, func(t *testing.T) {
			key := []byte("list-" + tc.name)
			before := ItemStats(s).Bytes
			if _, err := s.ListPush(ctx, "c", key, store.ListBack, values, 0, w); err != nil {
				t.Fatalf("ListPush = %v", err)
			}
			if grew := ItemStats(s).Bytes - before; grew <= 0 {
				t.Fatalf("Stats().Bytes grew by %d after a push, want more", grew)
			}
			if err := tc.empty(key); err != nil {
				t.Fatalf("emptying = %v", err)
			}
			if after := ItemStats(s).Bytes; after != before {
				t.Errorf("Stats().Bytes = %d after emptying the list, want %d as before it", after, before)
			}
		})
	}
}

// BenchmarkListFootprint measures the heap a list of 100k values takes and
// reports it per element next to what footprint() accounts. It is the
// measurement behind listSlotSize; run it with
// go test ./internal/store/memory -run '^$' -bench ListFootprint -benchtime 3x
func BenchmarkListFootprint(b *testing.B) {
	const n = 100_000
	for _, size := range []int{8, 100} {
		b.Run(fmt.Sprintf("value=%dB", size), func(b *testing.B) {
			value := make([]byte, size)
			var measured, accounted float64
			for range b.N {
				var ms0, ms1 runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&ms0)
				l := &list{}
				for range n {
					l.reserve(1)
					l.pushBack(clone(value))
				}
				runtime.GC()
				runtime.ReadMemStats(&ms1)
				measured = float64(ms1.HeapAlloc-ms0.HeapAlloc)/n - float64(size)
				accounted = float64(l.footprint()-l.payload()) / n
				runtime.KeepAlive(l)
			}
			b.ReportMetric(measured, "heap-overhead-B/elem")
			b.ReportMetric(accounted, "accounted-overhead-B/elem")
		})
	}
}
