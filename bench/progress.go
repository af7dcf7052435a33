package bench

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Progress cadence: a terminal line is redrawn twice a second; elsewhere
// (a log, a pipe) a line is printed every few seconds.
const (
	terminalRedraw = 500 * time.Millisecond
	plainInterval  = 5 * time.Second
)

// progressLine shows what a run is doing on stderr: one line redrawn with \r
// on a terminal, plain lines otherwise. A nil writer shows nothing.
type progressLine struct {
	w   io.Writer
	tty bool

	mu       sync.Mutex // guards the fields below
	drawn    bool       // a line without a newline is on screen
	lastOps  int64      // requests completed at the last load line
	lastTime time.Time  // time of the last load line
}

func newProgressLine(w io.Writer, tty bool) *progressLine {
	return &progressLine{w: w, tty: tty}
}

// status shows what the run is doing now.
func (p *progressLine) status(format string, args ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.showLocked(fmt.Sprintf(format, args...))
}

func (p *progressLine) showLocked(line string) {
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[Kbench: %s", line)
		p.drawn = true
		return
	}
	fmt.Fprintf(p.w, "bench: %s\n", line)
}

// note prints a line that stays.
func (p *progressLine) note(msg string) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
	fmt.Fprintf(p.w, "bench: %s\n", msg)
}

func (p *progressLine) clearLocked() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

// end clears the progress line, before the results are printed.
func (p *progressLine) end() {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clearLocked()
}

// every calls fn at the progress cadence until the returned function is
// called, which waits for a call in progress.
func (p *progressLine) every(fn func()) (stop func()) {
	if p.w == nil {
		return func() {}
	}
	interval := plainInterval
	if p.tty {
		interval = terminalRedraw
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fn()
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// load shows a load run's progress: phase, time, current throughput,
// measured percentiles so far and errors.
func (p *progressLine) load(rec *recorder, runStart, end time.Time) {
	ops, errs, hist := rec.progress()
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lastTime.IsZero() {
		p.lastTime = runStart
	}
	rate := float64(ops-p.lastOps) / now.Sub(p.lastTime).Seconds()
	p.lastOps, p.lastTime = ops, now
	phase := fmt.Sprintf("%4.0fs/%.0fs", now.Sub(rec.start).Seconds(), end.Sub(rec.start).Seconds())
	if now.Before(rec.start) {
		phase = fmt.Sprintf("warmup %.0fs", rec.start.Sub(now).Seconds())
	}
	line := fmt.Sprintf("%s  %9.0f ops/s", phase, rate)
	if hist.TotalCount() > 0 {
		line += fmt.Sprintf("  p50 %s  p99 %s  max %s", formatUS(float64(hist.ValueAtPercentile(50))),
			formatUS(float64(hist.ValueAtPercentile(99))), formatUS(float64(hist.Max())))
	}
	line += fmt.Sprintf("  errors %d", errs)
	p.showLocked(line)
}

// formatUS writes a latency in microseconds with a unit that suits it.
func formatUS(us float64) string {
	switch {
	case us >= 1e6:
		return fmt.Sprintf("%.2fs", us/1e6)
	case us >= 10e3:
		return fmt.Sprintf("%.1fms", us/1e3)
	case us >= 1e3:
		return fmt.Sprintf("%.2fms", us/1e3)
	}
	return fmt.Sprintf("%.0fµs", us)
}
