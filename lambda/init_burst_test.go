package lambda_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/thaw-dev/thaw/lambda"
	"github.com/thaw-dev/thaw/lambda/sandbox"
)

// TestInitRunsWithBurstCPU: as on Lambda, the Init phase runs without the
// memory-proportional CPU cap, and the cap applies from the first
// invocation on. A 128 MB function (7 % of a core) keeps a core busy for
// 300 ms of wall time during Init and again in its handler, and reports the
// CPU time each spin got. Only the ratio, and the handler's CPU time against
// its quota, are asserted: the machine may be loaded.
func TestInitRunsWithBurstCPU(t *testing.T) {
	const memoryMB, spinMs = 128, 300
	h := startEmulator(t, sandbox.ModeAuto, goFunction(t, "fn", func(f *lambda.Function) {
		f.CPUScaling = nil // on: memoryMB/1769 of a core, unlike goFunction's default
		f.MemoryMB = memoryMB
		f.Env = map[string]string{"THAW_TEST_INIT_SPIN_MS": strconv.Itoa(spinMs)}
	}))
	reply := h.invokeOK("fn", fmt.Sprintf(`{"action":"spin","ms":%d}`, spinMs))
	if live := h.live(); len(live) != 1 || live[0].CPUMode == "none" {
		t.Skipf("no cpu cgroup caps the environment here (%+v)", live)
	}
	initCPU, _ := reply["init_spin_cpu_ms"].(float64)
	handlerCPU, _ := reply["spin_cpu_ms"].(float64)
	share := float64(memoryMB) / lambda.MemoryPerVCPU
	t.Logf("%d ms spins at %d MB (a %.3f share): Init got %.1f ms of CPU (%.3f of a core), the handler %.1f ms (%.3f)",
		spinMs, memoryMB, share, initCPU, initCPU/spinMs, handlerCPU, handlerCPU/spinMs)
	if initCPU <= 2*handlerCPU {
		t.Errorf("CPU time of a %d ms spin: Init %.1f ms, handler %.1f ms; want Init's more than twice the handler's", spinMs, initCPU, handlerCPU)
	}
	// The quota allows share of each 100 ms period; the spin spans at most
	// five periods (it may be throttled when its time is up).
	if limit := 3 * share * spinMs; handlerCPU > limit {
		t.Errorf("CPU time of the handler's %d ms spin = %.1f ms, want at most %.1f at a %.3f share: not capped", spinMs, handlerCPU, limit, share)
	}
}
