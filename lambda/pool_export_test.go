package lambda

// HoldColdStarts makes each later cold start of function's environments
// signal entered, then wait until release is closed, before it starts the
// runtime. Tests use it to keep starts in flight.
func HoldColdStarts(e *Emulator, function string, entered chan<- struct{}, release <-chan struct{}) {
	p := e.pools[function]
	p.mu.Lock()
	defer p.mu.Unlock()
	p.beforeColdStart = func() {
		entered <- struct{}{}
		<-release
	}
}
