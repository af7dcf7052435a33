package lab

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Progress shows a lab run's progress: one line rewritten in place on a
// terminal, plain lines otherwise. A nil *Progress shows nothing.
type Progress struct {
	w   io.Writer
	tty bool

	mu        sync.Mutex     // guards the fields below
	start     time.Time      // guarded by mu
	expected  time.Duration  // guarded by mu: the schedule's length
	total     int            // guarded by mu: invocations in all
	done      map[string]int // guarded by mu: invocations made, by run
	failed    int            // guarded by mu
	runs      []RunSpec      // guarded by mu
	perRun    int            // guarded by mu
	lastPrint time.Time      // guarded by mu
	stop      chan struct{}  // guarded by mu
}

// NewProgress writes progress to w, in place when tty is true.
func NewProgress(w io.Writer, tty bool) *Progress {
	return &Progress{w: w, tty: tty, done: map[string]int{}}
}

// Status shows what the lab is doing before the runs start.
func (p *Progress) Status(msg string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[Klab: %s…", msg)
	} else {
		fmt.Fprintf(p.w, "lab: %s\n", msg)
	}
}

// Begin starts showing the runs' progress.
func (p *Progress) Begin(runs []RunSpec, perRun int, expected time.Duration) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.start, p.expected, p.runs, p.perRun = time.Now(), expected, runs, perRun
	p.total = perRun * len(runs)
	p.stop = make(chan struct{})
	if !p.tty {
		fmt.Fprintf(p.w, "lab: %d runs at once, %d invocations each, about %v\n", len(runs), perRun, expected.Round(time.Second))
	}
	go p.tick(p.stop)
}

// tick redraws the line every half second on a terminal, and prints a line
// every 15 s otherwise.
func (p *Progress) tick(stop chan struct{}) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p.mu.Lock()
			if p.tty || time.Since(p.lastPrint) >= 15*time.Second {
				p.printLocked()
			}
			p.mu.Unlock()
		}
	}
}

// Invoked records one finished invocation.
func (p *Progress) Invoked(spec RunSpec, inv Invocation) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done[spec.Label()]++
	if inv.Failed() {
		p.failed++
		if !p.tty {
			fmt.Fprintf(p.w, "lab: %s invocation %d failed: %s\n", spec.Label(), inv.Index+1, inv.ErrorCode)
		}
	}
	if !p.tty && p.done[spec.Label()] == p.perRun {
		fmt.Fprintf(p.w, "lab: %s done\n", spec.Label())
	}
}

// leftLocked estimates the time left from the run furthest behind: the
// share of the schedule's gaps it has still to wait out. Slow invocations
// (an Init that times out, a call that waits for its deadline) make the runs
// fall behind the schedule, which an estimate from the elapsed time would
// not show. The caller holds p.mu.
func (p *Progress) leftLocked() time.Duration {
	if p.perRun == 0 || len(p.runs) == 0 {
		return 0
	}
	behind := p.perRun
	for _, r := range p.runs {
		behind = min(behind, p.done[r.Label()])
	}
	return p.expected * time.Duration(p.perRun-behind) / time.Duration(p.perRun)
}

// printLocked shows the current state. The caller holds p.mu.
func (p *Progress) printLocked() {
	n := 0
	for _, d := range p.done {
		n += d
	}
	elapsed := time.Since(p.start)
	left := p.leftLocked()
	line := fmt.Sprintf("lab: %d/%d invocations, %d failed, %s elapsed, ~%s left", n, p.total, p.failed,
		elapsed.Round(time.Second), left.Round(time.Second))
	if p.tty {
		var runs []string
		for _, r := range p.runs {
			runs = append(runs, fmt.Sprintf("%d", p.done[r.Label()]))
		}
		fmt.Fprintf(p.w, "\r\033[K%s  [%s]", line, strings.Join(runs, " "))
	} else {
		fmt.Fprintln(p.w, line)
	}
	p.lastPrint = time.Now()
}

// Done ends the display.
func (p *Progress) Done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop != nil {
		close(p.stop)
		p.stop = nil
	}
	p.printLocked()
	if p.tty {
		fmt.Fprintln(p.w)
	}
}
