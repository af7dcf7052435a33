package client

import (
	"sync"
	"time"
)

// watchdog measures how long a subscription stream has been silent while
// the process was running. The pump calls wait before each Recv and heard
// after it; while it waits, and only then, the watchdog ticks every period
// and adds the time since the previous tick to the silence. A tick that comes more than
// period+slack after the previous one was held up: the process was frozen
// (or starved of CPU) in between. Such a tick adds only period, and reports
// the gap through onGap so that the subscription checks the connection at
// once. A freeze thus adds at most about period+slack to the silence, and a
// healthy stream, whose server heartbeats once a second, always speaks
// before the silence reaches its limit. When it does reach it, onSilent is
// called once and the ticks stop until the next wait.
type watchdog struct {
	timers   timerSource
	period   time.Duration // between ticks
	slack    time.Duration // lateness beyond which a tick had a freeze in it
	limit    time.Duration // silence that makes the stream dead
	onGap    func(elapsed time.Duration)
	onSilent func(silence time.Duration)

	mu       sync.Mutex // guards the fields below
	waiting  bool       // the pump is in Recv
	ticking  bool       // a tick is scheduled
	stopped  bool
	lastTick time.Time
	silence  time.Duration // awake time without a message in this wait
	stopTick func() bool
}

// newWatchdog returns a watchdog that declares silence after limit of
// running time; a negative limit returns nil, which does nothing.
func newWatchdog(timers timerSource, limit time.Duration, onGap func(time.Duration), onSilent func(time.Duration)) *watchdog {
	if limit < 0 {
		return nil
	}
	period := limit / 4
	return &watchdog{timers: timers, period: period, slack: period / 2, limit: limit, onGap: onGap, onSilent: onSilent}
}

// wait says the pump starts waiting for a message.
func (w *watchdog) wait() {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	w.waiting = true
	w.silence = 0
	w.lastTick = w.timers.Now()
	if !w.ticking {
		w.ticking = true
		w.stopTick = w.timers.AfterFunc(w.period, w.tick)
	}
}

// heard says the pump's wait ended: a message or an error arrived. The tick
// is stopped; the next wait schedules a new one.
func (w *watchdog) heard() {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waiting = false
	if w.ticking && w.stopTick != nil {
		w.stopTick()
	}
	w.ticking = false
}

// stop ends the watchdog for good.
func (w *watchdog) stop() {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.ticking && w.stopTick != nil {
		w.stopTick()
	}
	w.ticking = false
}

// tick counts the time since the previous tick as silence.
func (w *watchdog) tick() {
	w.mu.Lock()
	if w.stopped || !w.waiting {
		w.ticking = false
		w.mu.Unlock()
		return
	}
	now := w.timers.Now()
	elapsed := now.Sub(w.lastTick)
	w.lastTick = now
	late := elapsed > w.period+w.slack
	if late {
		w.silence += w.period
	} else {
		w.silence += max(elapsed, 0)
	}
	silent := w.silence >= w.limit
	if silent {
		w.ticking = false
	} else {
		w.stopTick = w.timers.AfterFunc(w.period, w.tick)
	}
	silence := w.silence
	w.mu.Unlock()
	if late {
		w.onGap(elapsed)
	}
	if silent {
		w.onSilent(silence)
	}
}

// timerSource is the clock of the watchdog's ticks.
type timerSource interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d, unless stop is called
	// first.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// realTimers are Go's timers.
type realTimers struct{}

func (realTimers) Now() time.Time { return time.Now() }

func (realTimers) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// timersFor returns the timers of c when it has an AfterFunc method (a
// test's fake clock given to WithClock), and Go's timers otherwise: a clock
// that only tells the time cannot run a watchdog.
func timersFor(c Clock) timerSource {
	if t, ok := c.(timerSource); ok {
		return t
	}
	return realTimers{}
}
