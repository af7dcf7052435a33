package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/thaw-dev/thaw/internal/store"
	"github.com/thaw-dev/thaw/internal/store/memory"
)

// ttl is the time to live of every key on both sides: thaw items always
// have one, so Redis keys get one too.
const ttl = time.Hour

// cacheName is the cache the workloads load.
const cacheName = "membench"

// thawResult is the growth of one workload in a fresh memory store.
type thawResult struct {
	// accounted is the growth of Stats().Bytes: what --max-memory counts.
	accounted int64
	// heap is the growth of the live Go heap (HeapAlloc after a GC).
	heap int64
	// rss is the growth of the process's resident memory, read after the
	// same GC: the live heap plus what the GC has freed but the runtime
	// has not yet returned to the OS, and the heap's headroom (GOGC).
	rss int64
}

// measureThaw loads w into a fresh memory store with the default Config
// and measures its growth. The store and its empty cache exist before the
// first reading, so only what the workload adds is counted.
func measureThaw(ctx context.Context, w workload) (thawResult, error) {
	s := memory.New(memory.Config{})
	defer s.Close()
	if err := s.CreateCache(ctx, cacheName); err != nil {
		return thawResult{}, err
	}
	cw := store.CollectionWrite{TTL: ttl}
	var (
		fields   []store.DictionaryField
		elements []store.SortedSetElement
	)
	heapBefore := liveHeap()
	debug.FreeOSMemory() // what earlier rows freed is not this row's
	rssBefore := residentBytes()
	bytesBefore := s.Stats().Bytes
	err := w.each(func(wr *write) error {
		switch w.kind {
		case kindString:
			return s.Set(ctx, cacheName, wr.key, wr.values[0], ttl)
		case kindHash:
			fields = fields[:0]
			for i, v := range wr.values {
				fields = append(fields, store.DictionaryField{Field: wr.fields[i], Value: v})
			}
			return s.DictionarySet(ctx, cacheName, wr.key, fields, cw)
		case kindSet:
			return s.SetUnion(ctx, cacheName, wr.key, wr.values, cw)
		case kindList:
			_, err := s.ListPush(ctx, cacheName, wr.key, store.ListBack, wr.values, 0, cw)
			return err
		case kindZSet:
			elements = elements[:0]
			for i, v := range wr.values {
				elements = append(elements, store.SortedSetElement{Value: v, Score: wr.scores[i]})
			}
			return s.SortedSetPut(ctx, cacheName, wr.key, elements, cw)
		}
		return fmt.Errorf("unknown kind %v", w.kind)
	})
	if err != nil {
		return thawResult{}, fmt.Errorf("thaw: %v: %w", w.kind, err)
	}
	heapAfter := liveHeap()
	rssAfter := residentBytes()
	bytesAfter := s.Stats().Bytes
	if items := s.Stats().Items; items != int64(w.keys) {
		return thawResult{}, fmt.Errorf("thaw: %v: the store holds %d items, want %d", w.kind, items, w.keys)
	}
	runtime.KeepAlive(s)
	return thawResult{
		accounted: bytesAfter - bytesBefore,
		heap:      int64(heapAfter) - int64(heapBefore),
		rss:       rssAfter - rssBefore,
	}, nil
}

// liveHeap returns the bytes of live heap objects: HeapAlloc right after a
// full collection, which runtime.GC finishes sweeping before it returns.
// The second collection frees what finalizers of the first let go.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// residentBytes returns the process's resident set size, from
// /proc/self/statm (0 where there is none).
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fields := bytes.Fields(b)
	if len(fields) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(string(fields[1]), 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}
