//go:build race

package grpcloop

// raceEnabled: the race detector makes buffers handed to system calls
// escape, so allocation counts differ from a normal build's.
const raceEnabled = true
