package bench

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range: 1 µs to an hour, three significant digits. Open-loop
// latencies, measured from the intended send time, may far exceed the
// request timeout when the server stalls; longer ones are recorded as an hour.
const (
	histLowestUS  = 1
	histHighestUS = int64(time.Hour / time.Microsecond)
	histDigits    = 3
)

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histLowestUS, histHighestUS, histDigits)
}

// recorder collects the results of a run's requests. Workers record into
// shards (worker i into shard i mod len(shards)), so that they seldom wait
// for each other; readers merge the shards.
type recorder struct {
	ops    []string  // op names, by op index
	start  time.Time // measuring starts: earlier requests count only for progress
	shards []*shard
}

// shard is one part of a recorder.
type shard struct {
	mu sync.Mutex // guards the fields below
	// hist holds the latencies of successful measured requests, by op index.
	hist                []*hdrhistogram.Histogram
	hits, misses, errs  []int64 // by op index
	oks                 []int64 // by op index: writes and deletes
	errCodes            map[string]int64
	perSecOps, perSecEr []int64 // by second since start, by completion time
	// allOps and allErrs count every request, warmup included, for progress.
	allOps, allErrs int64
}

func newRecorder(ops []string, shards int) *recorder {
	r := &recorder{ops: ops}
	for range shards {
		s := &shard{errCodes: map[string]int64{}}
		s.hist = make([]*hdrhistogram.Histogram, len(ops))
		for i := range s.hist {
			s.hist[i] = newHistogram()
		}
		s.hits, s.misses, s.errs, s.oks = make([]int64, len(ops)), make([]int64, len(ops)), make([]int64, len(ops)), make([]int64, len(ops))
		r.shards = append(r.shards, s)
	}
	return r
}

// record notes one request of op index opIdx, sent (or due, open-loop) at
// sent, that completed at done with result o or error err. Requests sent
// before r.start count only for progress.
func (r *recorder) record(worker, opIdx int, sent, done time.Time, o outcome, err error) {
	s := r.shards[worker%len(r.shards)]
	var code string
	if err != nil {
		code = codeOf(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.allErrs++
	} else {
		s.allOps++
	}
	if sent.Before(r.start) {
		return
	}
	sec := int(done.Sub(r.start) / time.Second)
	for len(s.perSecOps) <= sec {
		s.perSecOps, s.perSecEr = append(s.perSecOps, 0), append(s.perSecEr, 0)
	}
	if err != nil {
		s.errs[opIdx]++
		s.errCodes[code]++
		s.perSecEr[sec]++
		return
	}
	s.perSecOps[sec]++
	switch o {
	case outcomeHit:
		s.hits[opIdx]++
	case outcomeMiss:
		s.misses[opIdx]++
	default:
		s.oks[opIdx]++
	}
	us := max(int64(done.Sub(sent)/time.Microsecond), histLowestUS)
	s.hist[opIdx].RecordValue(min(us, histHighestUS))
}

// progress returns the requests completed so far, warmup included, and the
// measured latency of all ops so far.
func (r *recorder) progress() (ops, errs int64, hist *hdrhistogram.Histogram) {
	hist = newHistogram()
	for _, s := range r.shards {
		s.mu.Lock()
		ops += s.allOps
		errs += s.allErrs
		for _, h := range s.hist {
			hist.Merge(h)
		}
		s.mu.Unlock()
	}
	return ops, errs, hist
}

// tally is the merged content of a recorder.
type tally struct {
	hist                    []*hdrhistogram.Histogram // by op index
	total                   *hdrhistogram.Histogram
	hits, misses, errs, oks []int64 // by op index
	errCodes                map[string]int64
	perSecOps, perSecErrs   []int64
}

// tally merges the shards, keeping the per-second counts of the first
// seconds whole seconds only (the rest of a partial last second is dropped).
func (r *recorder) tally(seconds int) tally {
	n := len(r.ops)
	t := tally{
		total: newHistogram(), errCodes: map[string]int64{},
		hits: make([]int64, n), misses: make([]int64, n), errs: make([]int64, n), oks: make([]int64, n),
		perSecOps: make([]int64, seconds), perSecErrs: make([]int64, seconds),
	}
	for range r.ops {
		t.hist = append(t.hist, newHistogram())
	}
	for _, s := range r.shards {
		s.mu.Lock()
		for i := range r.ops {
			t.hist[i].Merge(s.hist[i])
			t.hits[i] += s.hits[i]
			t.misses[i] += s.misses[i]
			t.errs[i] += s.errs[i]
			t.oks[i] += s.oks[i]
		}
		for code, c := range s.errCodes {
			t.errCodes[code] += c
		}
		for sec := range min(seconds, len(s.perSecOps)) {
			t.perSecOps[sec] += s.perSecOps[sec]
			t.perSecErrs[sec] += s.perSecEr[sec]
		}
		s.mu.Unlock()
	}
	for _, h := range t.hist {
		t.total.Merge(h)
	}
	return t
}
