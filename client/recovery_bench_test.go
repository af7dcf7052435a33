package client

import "testing"

// BenchmarkRecoveryBookkeeping measures what freeze-aware recovery adds to
// a call on a healthy connection with no gap: a clock read, the gap check
// and the record of the reply. There is no network in it, so the figure is
// not lost in a round trip's noise as in BenchmarkGet.
func BenchmarkRecoveryBookkeeping(b *testing.B) {
	for _, recovery := range []bool{false, true} {
		name := "recovery=off"
		if recovery {
			name = "recovery=on"
		}
		b.Run(name, func(b *testing.B) {
			cfg := Lambda()
			cfg.Recovery = recovery
			c := &Client{cfg: cfg, act: newActivity(systemClock{})}
			b.ReportAllocs()
			for b.Loop() {
				start := c.act.now()
				if c.planFor(c.act.gap(start)) != planNone {
					b.Fatal("a gap on the hot path")
				}
				c.act.replied(start)
			}
		})
	}
}
