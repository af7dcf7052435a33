package lambda_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/lambda"
	"github.com/thaw-dev/thaw/lambda/sandbox"
)

// blockedBound is how long a call may take while a cold start is held before
// the test concludes it waits for that start. Held starts never end by
// themselves, so a blocked call would wait forever; the bound is generous
// for a noisy machine.
const blockedBound = 10 * time.Second

// within runs f and reports whether it returned within blockedBound.
func within(f func()) bool {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
		return true
	case <-time.After(blockedBound):
		return false
	}
}

// holdColdStarts holds every later cold start of function until the returned
// release is called (also at cleanup, before the emulator closes); entered
// receives one value as each held start begins.
func holdColdStarts(t *testing.T, h *harness, function string) (entered <-chan struct{}, release func()) {
	in := make(chan struct{}, 16)
	hold := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(hold) }) }
	t.Cleanup(release) // runs before startEmulator's cleanup closes the emulator
	lambda.HoldColdStarts(h.emu, function, in, hold)
	return in, release
}

func TestColdStartDoesNotBlockReuseOrIntrospection(t *testing.T) {
	h := startEmulator(t, sandbox.ModeAuto, goFunction(t, "fn", func(f *lambda.Function) { f.Concurrency = 2 }))
	warm := h.invokeOK("fn", `{}`)["pid"]
	entered, release := holdColdStarts(t, h, "fn")

	// The idle environment takes a slow invocation; the next one needs a cold start.
	slow := make(chan response, 1)
	go func() { slow <- h.invoke("fn", `{"action":"sleep","ms":300}`) }()
	waitFor(t, "the warm environment to be busy", func() bool {
		live := h.live()
		return len(live) == 1 && live[0].State == lambda.StateRunning && live[0].Invocations == 2
	})
	cold := make(chan response, 1)
	go func() { cold <- h.invoke("fn", `{}`) }()
	select {
	case <-entered:
	case <-time.After(blockedBound):
		t.Fatal("the second concurrent invocation did not begin a cold start")
	}

	// While the start is held: introspection answers, and the warm
	// environment, once free, is reused.
	if !within(func() { h.environments() }) {
		t.Fatalf("/_thaw/environments did not answer within %v while a cold start was in progress", blockedBound)
	}
	if r := <-slow; r.Status != http.StatusOK || replyOf(t, r)["pid"] != warm {
		t.Fatalf("slow invoke = %d %q, want 200 from pid %v", r.Status, r.Body, warm)
	}
	var reused response
	if !within(func() { reused = h.invoke("fn", `{}`) }) {
		t.Fatalf("invoking the idle environment did not finish within %v while a cold start was in progress", blockedBound)
	}
	if reused.Status != http.StatusOK || replyOf(t, reused)["pid"] != warm {
		t.Errorf("invoke during a cold start = %d %q, want 200 from the idle environment's pid %v", reused.Status, reused.Body, warm)
	}

	release()
	r := <-cold
	if r.Status != http.StatusOK {
		t.Fatalf("cold invoke = %d %q, want 200", r.Status, r.Body)
	}
	if pid := replyOf(t, r)["pid"]; pid == warm {
		t.Errorf("cold invoke ran in the warm environment's pid %v, want a new environment", pid)
	} else {
		h.pids[int(pid.(float64))] = true
	}
}

func TestColdStartsOverlap(t *testing.T) {
	const n = 4
	h := startEmulator(t, sandbox.ModeAuto, goFunction(t, "fn", func(f *lambda.Function) { f.Concurrency = n }))
	entered, release := holdColdStarts(t, h, "fn")
	replies := make(chan response, n)
	for range n {
		go func() { replies <- h.invoke("fn", `{}`) }()
	}
	// Every start is in flight at once: none waits for another to finish.
	for i := range n {
		select {
		case <-entered:
		case <-time.After(blockedBound):
			t.Fatalf("%d of %d concurrent cold starts began within %v; starts do not overlap", i, n, blockedBound)
		}
	}
	if r := h.invoke("fn", `{}`); r.Status != http.StatusTooManyRequests {
		t.Errorf("invoke while %d starts fill the concurrency limit = %d %q, want 429", n, r.Status, r.Body)
	}
	release()
	distinct := map[any]bool{}
	for range n {
		r := <-replies
		if r.Status != http.StatusOK {
			t.Errorf("invoke = %d %q, want 200", r.Status, r.Body)
			continue
		}
		pid := replyOf(t, r)["pid"]
		distinct[pid] = true
		h.pids[int(pid.(float64))] = true
	}
	if len(distinct) != n {
		t.Errorf("%d overlapping cold starts ran in %d environments, want %d", n, len(distinct), n)
	}
}
