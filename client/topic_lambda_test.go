package client_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/thaw-dev/thaw/client"
	"github.com/thaw-dev/thaw/lambda"
	"github.com/thaw-dev/thaw/lambda/lambdatest"
	"github.com/thaw-dev/thaw/server"
)

// topicsReply is the reply of examples/topics-go.
type topicsReply struct {
	RequestID string `json:"request_id"`
	Items     []struct {
		Sequence uint64 `json:"seq"`
		Value    string `json:"value"`
	} `json:"items"`
	Discontinuities []client.TopicDiscontinuity `json:"discontinuities"`
	FirstItemMs     float64                     `json:"first_item_ms"`
	Stats           client.SubscriptionStats    `json:"stats"`
	Error           string                      `json:"error"`
}

// TestTopicSubscriberUnderThawLambda runs examples/topics-go, a function
// that subscribes during init and reads in each invocation, under thaw
// lambda, which freezes its environment between invocations, with a netem
// proxy between it and a real server. Items are published while the
// function is frozen, for freezes shorter and longer than the heartbeat
// timeout; in one round the proxy also blackholes the connection during the
// freeze. Every item must arrive, once and in order; the subscription must
// resubscribe exactly once, in the blackhole round, and never after a
// healthy freeze.
func TestTopicSubscriberUnderThawLambda(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds a function and freezes it for about 20 s")
	}
	bootstrap := filepath.Join(t.TempDir(), "bootstrap")
	if out, err := exec.Command("go", "build", "-o", bootstrap, "github.com/thaw-dev/thaw/examples/topics-go").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	srv := startServer(t, server.Config{})
	proxy := startProxy(t, srv.Addr())
	pub := newClient(t, client.Laptop(), client.LocalCredentials(srv.Addr()))
	logDir := t.TempDir()
	emu, err := lambda.Start(t.Context(), lambda.Config{
		Addr:   "127.0.0.1:0",
		LogDir: logDir,
		Functions: []lambda.Function{{
			Name: "topics-go", Runtime: lambda.RuntimeProvided, Code: bootstrap, Handler: "bootstrap",
			Timeout: 10 * time.Second,
			Env:     map[string]string{"THAW_CACHE_ENDPOINT": proxy.Addr(), "THAW_CACHE_NAME": "c", "THAW_TOPIC": "t"},
		}},
	})
	if err != nil {
		t.Fatalf("lambda.Start: %v", err)
	}
	t.Cleanup(func() { emu.Close() })
	defer func() {
		if t.Failed() {
			data, _ := os.ReadFile(filepath.Join(logDir, "topics-go.log"))
			t.Logf("function log:\n%s", data)
		}
	}()

	httpc := &http.Client{}
	invoke := func(until uint64) topicsReply {
		t.Helper()
		var r topicsReply
		lambdatest.InvokeOK(t, httpc, emu.Addr(), "topics-go", fmt.Sprintf(`{"until":%d}`, until), &r)
		return r
	}
	waitFrozen := func() {
		t.Helper()
		lambdatest.WaitFor(t, "the environment to freeze", func() bool {
			live := lambdatest.Live(lambdatest.Environments(t, httpc, emu.Addr()), "topics-go")
			return len(live) == 1 && live[0].State == lambda.StateFrozen
		})
	}

	// Init subscribes; the first invocation returns at once.
	prev := invoke(0).Stats
	rounds := []struct {
		name      string
		gap       time.Duration
		items     int
		blackhole bool
	}{
		{"freeze longer than the idle threshold", client.DefaultRecoveryIdleThreshold + 500*time.Millisecond, 3, false},
		{"freeze longer than the heartbeat timeout", client.DefaultTopicHeartbeatTimeout + 2*time.Second, 3, false},
		{"connection blackholed during the freeze", client.DefaultTopicHeartbeatTimeout + time.Second, 3, true},
		{"healthy again, on the new connection", client.DefaultRecoveryIdleThreshold + time.Second, 2, false},
	}
	var frozen time.Duration
	seq := 0
	for _, round := range rounds {
		waitFrozen()
		if round.blackhole {
			proxy.Blackhole()
		}
		publish(t, pub, "t", texts(seq+1, seq+round.items)...)
		time.Sleep(round.gap)
		frozen += round.gap
		r := invoke(uint64(seq + round.items))

		var got []string
		for i, it := range r.Items {
			if it.Sequence != uint64(seq+1+i) {
				t.Errorf("%s: item %d has sequence %d; want %d", round.name, i, it.Sequence, seq+1+i)
			}
			got = append(got, it.Value)
		}
		if want := texts(seq+1, seq+round.items); fmt.Sprint(got) != fmt.Sprint(want) || len(r.Discontinuities) != 0 {
			t.Fatalf("%s: the function read %v, discontinuities %v (%s); want %v and no discontinuity", round.name, got, r.Discontinuities, r.Error, want)
		}
		resubscribes := r.Stats.Resubscribes - prev.Resubscribes
		if want := map[bool]uint64{false: 0, true: 1}[round.blackhole]; resubscribes != want {
			// A connection check still waiting for its Ping when the
			// environment freezes must not "time out" across the freeze
			// (a spurious resubscribe on a healthy network), nor take the
			// place of the next thaw's check.
			t.Errorf("%s: %d resubscribes; want %d (stats before %+v, after %+v)", round.name, resubscribes, want, prev, r.Stats)
		}
		if round.blackhole && r.Stats.FailedChecks == prev.FailedChecks {
			// The dead connection must be found by the check at the thaw,
			// not by the heartbeat watchdog seconds into the invocation.
			t.Errorf("%s: no failed connection check; the dead connection was found some other way (stats %+v)", round.name, r.Stats)
		}
		if r.Stats.Duplicates != 0 {
			t.Errorf("%s: %d duplicates dropped; want none from thaw serve", round.name, r.Stats.Duplicates)
		}
		t.Logf("%s (%v frozen): %d items, the first %.1f ms into the invocation; %d connection checks so far, %d failed",
			round.name, round.gap, len(r.Items), r.FirstItemMs, r.Stats.GapChecks, r.Stats.FailedChecks)
		prev = r.Stats
		seq += round.items
	}

	envs := lambdatest.Live(lambdatest.Environments(t, httpc, emu.Addr()), "topics-go")
	if len(envs) != 1 || envs[0].Invocations != len(rounds)+1 || envs[0].FrozenTotalMs < float64(frozen.Milliseconds())/2 {
		t.Errorf("environments = %+v; want one, used by every invocation and frozen for most of the %v between them", envs, frozen)
	} else {
		t.Logf("one environment (freeze mode %s), frozen %.0f ms in total", envs[0].FreezeMode, envs[0].FrozenTotalMs)
	}
}
