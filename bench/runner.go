package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// RunLoad runs the load cfg describes against cfg.Endpoint: it connects,
// creates the cache if missing, preloads the key space when cfg.Preload is
// set, runs the warmup and the measured part, and returns the measurements.
// Progress goes to progress (nil for none). When ctx ends early, the load
// stops and RunLoad returns what was measured so far, with Interrupted set;
// an end during set-up is an error.
func RunLoad(ctx context.Context, cfg Config, progress io.Writer) (*LoadResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := newProgressLine(progress, cfg.Terminal)
	p.status("connecting to %s (%d connections)", cfg.Endpoint, cfg.Connections)
	c, err := dialConns(ctx, cfg)
	if err != nil {
		p.end()
		return nil, err
	}
	defer c.close()
	note, err := c.createCache(ctx, cfg)
	if err != nil {
		p.end()
		return nil, err
	}
	if note != "" {
		p.note(note)
	}
	m := newMix(cfg.Ops)
	value := make([]byte, cfg.ValueSize)
	rand.Read(value)
	w := &writeArgs{value: value, ttlMs: uint64(cfg.TTL / time.Millisecond), field: [][]byte{[]byte(dictionaryField)}}
	if cfg.Preload {
		if err := preload(ctx, cfg, c, m, w, p); err != nil {
			p.end()
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		p.end()
		return nil, fmt.Errorf("bench: interrupted before the run: %w", err)
	}
	res := runWorkers(ctx, cfg, c, m, w, p)
	p.end()
	return res, nil
}

// preload writes every item of the key space the mix touches (scalar
// items, dictionaries or both), with cfg.Concurrency requests in flight, so
// that reads hit and the server holds the whole key space, as scripts that
// measure its memory expect. The first failure ends it.
func preload(ctx context.Context, cfg Config, c *conns, m *mix, w *writeArgs, p *progressLine) error {
	var kinds []op
	if m.hasScalar() {
		kinds = append(kinds, opByName[OpSet])
	}
	if m.hasDictionary() {
		kinds = append(kinds, opByName[OpDictionarySet])
	}
	total := int64(cfg.Keys * len(kinds))
	p.status("preloading %d items of %d bytes", total, cfg.ValueSize)
	var next, done atomic.Int64
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var once sync.Once
	var firstErr error
	var wg sync.WaitGroup
	stopTicker := p.every(func() { p.status("preloading: %d of %d items", done.Load(), total) })
	defer stopTicker()
	for worker := range cfg.Concurrency {
		wg.Go(func() {
			scs := c.scs[worker%len(c.scs)]
			dctx := c.dataContext(ctx)
			var key []byte
			for {
				n := next.Add(1) - 1
				if n >= total || ctx.Err() != nil {
					return
				}
				o := kinds[n/int64(cfg.Keys)]
				key = appendKey(key[:0], o, int(n%int64(cfg.Keys)))
				rctx, rcancel := context.WithTimeout(dctx, cfg.Timeout)
				_, err := o.send(rctx, scs, key, w)
				rcancel()
				if err != nil {
					once.Do(func() {
						firstErr = fmt.Errorf("bench: preload: %s %q: %w", o.name, key, describeRPCError(err))
						cancel()
					})
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if done.Load() < total {
		return fmt.Errorf("bench: interrupted while preloading (%d of %d items): %w", done.Load(), total, context.Cause(ctx))
	}
	p.note(fmt.Sprintf("preloaded %d items", total))
	return nil
}

// runWorkers runs the warmup and the measured part and tallies the result.
func runWorkers(ctx context.Context, cfg Config, c *conns, m *mix, w *writeArgs, p *progressLine) *LoadResult {
	names := make([]string, len(m.ops))
	for i, o := range m.ops {
		names[i] = o.name
	}
	rec := newRecorder(names, min(cfg.Concurrency, 64))
	keys := newKeyChooser(cfg.Distribution, cfg.Keys)
	runStart := time.Now()
	rec.start = runStart.Add(cfg.Warmup)
	end := rec.start.Add(cfg.Duration)

	// stopped is set when ctx ends, so that workers need not take ctx's
	// lock on every request.
	var stopped atomic.Bool
	var interruptedAt atomic.Int64 // unix nanoseconds; 0 while not interrupted
	finished := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			interruptedAt.Store(time.Now().UnixNano())
			stopped.Store(true)
		case <-finished:
		}
	}()

	var interval time.Duration
	if cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) / cfg.Rate)
	}
	var slot atomic.Int64 // open loop: the next request's number in the schedule
	seed := uint64(runStart.UnixNano())

	stopProgress := p.every(func() { p.load(rec, runStart, end) })
	var wg sync.WaitGroup
	for worker := range cfg.Concurrency {
		wg.Go(func() {
			r := mrand.New(mrand.NewPCG(seed, uint64(worker)))
			scs := c.scs[worker%len(c.scs)]
			// Calls do not end with ctx: a request in flight at Ctrl-C
			// completes and counts, rather than failing as cancelled.
			dctx := c.dataContext(context.Background())
			var timer *time.Timer
			var key []byte
			for !stopped.Load() {
				var sent time.Time
				if interval > 0 {
					sent = runStart.Add(time.Duration(slot.Add(1)-1) * interval)
					if !sent.Before(end) {
						return
					}
					if d := time.Until(sent); d > 0 {
						if timer == nil {
							timer = time.NewTimer(d)
						} else {
							timer.Reset(d)
						}
						select {
						case <-timer.C:
						case <-ctx.Done():
							return
						}
					}
				} else {
					sent = time.Now()
					if !sent.Before(end) {
						return
					}
				}
				i := m.pick(r)
				o := m.ops[i]
				key = appendKey(key[:0], o, keys.next(r))
				rctx, cancel := context.WithTimeout(dctx, cfg.Timeout)
				out, err := o.send(rctx, scs, key, w)
				cancel()
				rec.record(worker, i, sent, time.Now(), out, err)
			}
		})
	}
	wg.Wait()
	stopProgress()
	close(finished)
	measuredEnd := end
	if now := time.Now(); now.Before(end) {
		measuredEnd = now
	}
	interrupted := false
	if at := interruptedAt.Load(); at != 0 {
		interrupted = true
		if t := time.Unix(0, at); t.Before(measuredEnd) {
			measuredEnd = t
		}
	}
	window := max(measuredEnd.Sub(rec.start), 0)
	return buildResult(cfg, rec, window, interrupted)
}

// buildResult turns a recorder's content into a LoadResult.
func buildResult(cfg Config, rec *recorder, window time.Duration, interrupted bool) *LoadResult {
	seconds := int(math.Ceil(window.Seconds()))
	t := rec.tally(seconds)
	res := &LoadResult{
		Mode:            "closed",
		DurationS:       window.Seconds(),
		ErrorsByCode:    t.errCodes,
		PerOp:           map[string]*OpResult{},
		OpsPerSecond:    t.perSecOps,
		ErrorsPerSecond: t.perSecErrs,
		Interrupted:     interrupted,
		Config:          echoConfig(cfg),
		total:           t.total,
		hists:           map[string]*hdrhistogram.Histogram{},
	}
	if cfg.Rate > 0 {
		res.Mode = "open"
		res.TargetRate = cfg.Rate
	}
	for i, name := range rec.ops {
		o := &OpResult{
			Ops:     t.hits[i] + t.misses[i] + t.oks[i],
			Hits:    t.hits[i],
			Misses:  t.misses[i],
			Errors:  t.errs[i],
			Latency: latencyOf(t.hist[i]),
		}
		o.OpsPerS = perSecond(o.Ops, window)
		res.PerOp[name] = o
		res.hists[name] = t.hist[i]
		res.Ops += o.Ops
		res.Hits += o.Hits
		res.Misses += o.Misses
		res.Errors += o.Errors
	}
	res.OpsPerS = perSecond(res.Ops, window)
	res.Latency = latencyOf(t.total)
	return res
}

func perSecond(n int64, window time.Duration) float64 {
	if window <= 0 {
		return 0
	}
	return float64(n) / window.Seconds()
}

// latencyOf reads the percentiles of h, in microseconds.
func latencyOf(h *hdrhistogram.Histogram) Latency {
	if h.TotalCount() == 0 {
		return Latency{}
	}
	q := func(p float64) float64 { return float64(h.ValueAtPercentile(p)) }
	return Latency{
		MinUS:  float64(h.Min()),
		MeanUS: math.Round(h.Mean()*10) / 10,
		P50US:  q(50),
		P90US:  q(90),
		P99US:  q(99),
		P999US: q(99.9),
		MaxUS:  float64(h.Max()),
	}
}
