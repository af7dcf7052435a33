package server_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/api/controlpb"
	"github.com/thaw-dev/thaw/api/leaderboardpb"
	"github.com/thaw-dev/thaw/internal/store"
	"github.com/thaw-dev/thaw/internal/store/redis"
)

// pause stops the node on port with SIGSTOP and returns the function that
// resumes it (once); t.Cleanup resumes it too, so that no test leaves a
// stopped process behind, nor one that the script's SIGTERM cannot end.
func (c *faultCluster) pause(t *testing.T, port int) (resume func()) {
	t.Helper()
	pid := c.pid(t, port)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	resume = func() {
		once.Do(func() {
			if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
				t.Errorf("resuming the node on port %d: %v", port, err)
			}
		})
	}
	t.Cleanup(resume)
	return resume
}

// masterPorts returns the ports of the nodes that answer ROLE as masters.
func (c *faultCluster) masterPorts() []int {
	var out []int
	for _, p := range c.ports {
		if c.isMaster(p) {
			out = append(out, p)
		}
	}
	return out
}

// keys returns the keys matching pattern on the node on port (SCAN).
func (c *faultCluster) keys(port int, pattern string) []string {
	var out []string
	for _, k := range strings.Split(c.cli(port, "--scan", "--pattern", pattern), "\n") {
		if k != "" {
			out = append(out, k)
		}
	}
	return out
}

// errorLog is a slog.Handler that keeps the error of every record.
type errorLog struct {
	mu   sync.Mutex // guards errs
	errs map[string][]error
}

func (l *errorLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *errorLog) WithGroup(string) slog.Handler            { return l }
func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok {
			l.mu.Lock()
			if l.errs == nil {
				l.errs = map[string][]error{}
			}
			l.errs[r.Message] = append(l.errs[r.Message], err)
			l.mu.Unlock()
		}
		return true
	})
	return nil
}

// logged returns the errors of the records whose message contains msg.
func (l *errorLog) logged(msg string) []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []error
	for m, errs := range l.errs {
		if strings.Contains(m, msg) {
			out = append(out, errs...)
		}
	}
	return out
}

// union is one SortedSetUnionStore of sources into "u", with callDeadline,
// that fails t when it hangs past its deadline or ends with a code other
// than OK, UNAVAILABLE or DEADLINE_EXCEEDED (INTERNAL above all).
func (f *faultServer) union(t *testing.T, sources []string) codes.Code {
	t.Helper()
	ctx, cancel := context.WithTimeout(inCache(t, "c"), callDeadline)
	defer cancel()
	req := &cachepb.XSortedSetUnionStoreRequest{SetName: []byte("u"), TtlMilliseconds: 600_000}
	for _, src := range sources {
		req.Sources = append(req.Sources, &cachepb.XSortedSetUnionStoreRequest_XSource{SetName: []byte(src), Weight: 1})
	}
	start := time.Now()
	_, err := f.cache.SortedSetUnionStore(ctx, req)
	checkFaultCall(t, "SortedSetUnionStore", start, err)
	return status.Code(err)
}

// TestFaultNodePaused pauses nodes with SIGSTOP, a replica and then a
// master, each for longer than the cluster's node timeout.
//
// A paused replica leaves the server SERVING and its calls succeeding: the
// store can serve without it. A paused master turns the server NOT_SERVING,
// and SERVING again once its replica took over, while it is still paused.
// Meanwhile calls end within their deadline, OK, UNAVAILABLE or
// DEADLINE_EXCEEDED, with no wrong answer and never INTERNAL: round trips,
// a sorted-set union over keys on every master, and a subscription to a
// topic on the paused master, which ends with UNAVAILABLE rather than
// waiting silently. A flush and a delete go through (the registry is
// elsewhere); their sweeps fail on the paused master, are retried and remove
// every key of the flushed cache's old key space and every leaderboard of
// the deleted cache. After the master resumes, everything works
// again and the writes replicated before the pause are all there.
func TestFaultNodePaused(t *testing.T) {
	c := startFaultCluster(t)
	logs := &errorLog{}
	f := startFaultServer(t, c, func(cfg *redis.Config) {
		cfg.DialTimeout = 2 * time.Second // how long a node may keep a subscription or a sweep waiting
		cfg.SweepRetry = time.Second
		cfg.SweepBatch = 10
		cfg.Logger = slog.New(logs)
	})
	ctx := t.Context()
	const n = 50
	f.writeReplicated(t, c, n)

	// Sorted sets on every master, a cache "f" to flush, and topics.
	var sources []string
	for i := range 30 {
		name := fmt.Sprintf("z%d", i)
		sources = append(sources, name)
		pctx, cancel := context.WithTimeout(inCache(t, "c"), callDeadline)
		_, err := f.cache.SortedSetPut(pctx, &cachepb.XSortedSetPutRequest{SetName: []byte(name), TtlMilliseconds: 600_000,
			Elements: []*cachepb.XSortedSetElement{{Value: []byte("v"), Score: float64(i)}}})
		cancel()
		if err != nil {
			t.Fatalf("SortedSetPut(%s) = %v", name, err)
		}
	}
	if code := f.union(t, sources); code != codes.OK {
		t.Fatalf("SortedSetUnionStore on a healthy cluster = %v, want OK", code)
	}
	if _, err := f.ctl.CreateCache(ctx, &controlpb.XCreateCacheRequest{CacheName: proto.String("f")}); err != nil {
		t.Fatalf("CreateCache(f) = %v", err)
	}
	const fKeys = 40
	for i := range fKeys {
		sctx, cancel := context.WithTimeout(inCache(t, "f"), callDeadline)
		_, err := f.cache.Set(sctx, &cachepb.XSetRequest{CacheKey: []byte(strconv.Itoa(i)), CacheBody: []byte("x"), TtlMilliseconds: 600_000})
		cancel()
		if err != nil {
			t.Fatalf("Set(f, %d) = %v", i, err)
		}
	}
	masters := c.masterPorts()
	keysOf := func(pattern string) []string {
		var out []string
		for _, p := range masters {
			out = append(out, c.keys(p, pattern)...)
		}
		return out
	}
	holder := func(pattern, suffix string) int {
		for _, p := range masters {
			for _, k := range c.keys(p, pattern) {
				if strings.HasSuffix(k, suffix) {
					return p
				}
			}
		}
		return 0
	}
	// The victim: a master that holds a topic of "c" and not the registry,
	// so that the flush itself goes through.
	registry := holder("{"+f.ns+"}:*", ":caches")
	if registry == 0 {
		t.Fatal("no master holds the registry")
	}
	var victim int
	var topic string
	for i := 0; victim == 0 && i < 16; i++ {
		topic = fmt.Sprintf("t%d", i)
		sctx, cancel := context.WithCancel(inCache(t, "c"))
		sub, err := f.pubsub.Subscribe(sctx, subscribeTo("c", topic, 0, 0))
		if err == nil {
			_, err = sub.Recv() // the first heartbeat: the topic's keys exist
		}
		cancel()
		if err != nil {
			t.Fatalf("Subscribe(%s) = %v", topic, err)
		}
		if p := holder(f.ns+":*", ":t"+topic+"}m"); p != registry {
			victim = p
		}
	}
	if victim == 0 {
		t.Fatal("no topic landed on a master other than the registry's")
	}
	if old := len(keysOf(f.ns + ":{1:f:*")); old != fKeys {
		t.Fatalf("%d keys of cache f found, want %d", old, fKeys)
	}
	// A cache with a leaderboard whose keys are on the victim, to delete
	// while it is paused: leaderboards have no TTL, so a drop lost in the
	// failover would leave them for ever.
	var boardCache string
	for i := 0; boardCache == "" && i < 32; i++ {
		name := fmt.Sprintf("g%d", i)
		if _, err := f.ctl.CreateCache(ctx, &controlpb.XCreateCacheRequest{CacheName: proto.String(name)}); err != nil {
			t.Fatalf("CreateCache(%s) = %v", name, err)
		}
		uctx, cancel := context.WithTimeout(inCache(t, name), callDeadline)
		_, err := f.boards.UpsertElements(uctx, &leaderboardpb.XUpsertElementsRequest{Leaderboard: proto.String("lb"),
			Elements: []*leaderboardpb.XElement{{Id: proto.Uint32(1), Score: proto.Float64(1)}}})
		cancel()
		if err != nil {
			t.Fatalf("UpsertElements(%s) = %v", name, err)
		}
		if holder(f.ns+":lb:{*:"+name+":*", "}i") == victim {
			boardCache = name
		}
	}
	if boardCache == "" {
		t.Fatal("no cache's leaderboards landed on the victim")
	}
	boardKeys := f.ns + ":lb:{*:" + boardCache + ":*}b*"

	// A paused replica: still SERVING, and calls succeed.
	var replica int
	for _, p := range c.ports {
		if !slices.Contains(masters, p) {
			replica = p
			break
		}
	}
	resumeReplica := c.pause(t, replica)
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		if got := f.healthStatus(t); got != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health Check() with the replica on %d paused = %v, want SERVING", replica, got)
		}
		if !f.checkedRoundTrip(t, "replica-paused", "1") {
			t.Errorf("a round trip with only the replica on %d paused failed", replica)
		}
		time.Sleep(200 * time.Millisecond)
	}
	resumeReplica()

	// A paused master, under a subscription to its topic (with no
	// deadline, as the SDKs subscribe).
	sctx, cancelSub := context.WithCancel(metadata.AppendToOutgoingContext(ctx, "cache", "c"))
	defer cancelSub()
	sub, err := f.pubsub.Subscribe(sctx, subscribeTo("c", topic, 0, 0))
	if err == nil {
		_, err = sub.Recv()
	}
	if err != nil {
		t.Fatalf("Subscribe(%s) = %v", topic, err)
	}
	subEnded := make(chan error, 1)
	go func() {
		for {
			if _, err := sub.Recv(); err != nil {
				subEnded <- err
				return
			}
		}
	}()

	resumeVictim := c.pause(t, victim)
	paused := time.Now()
	fctx, cancel := context.WithTimeout(context.Background(), callDeadline)
	_, err = f.ctl.FlushCache(fctx, &controlpb.XFlushCacheRequest{CacheName: proto.String("f")})
	cancel()
	if err != nil {
		t.Errorf("FlushCache(f) with the registry's master up = %v, want nil", err)
	}
	dctx, cancel := context.WithTimeout(context.Background(), callDeadline)
	_, err = f.ctl.DeleteCache(dctx, &controlpb.XDeleteCacheRequest{CacheName: proto.String(boardCache)})
	cancel()
	if err != nil {
		t.Errorf("DeleteCache(%s) with the registry's master up = %v, want nil", boardCache, err)
	}
	f.waitHealth(t, healthpb.HealthCheckResponse_NOT_SERVING, 10*time.Second)
	t.Logf("NOT_SERVING %v after the pause", time.Since(paused).Round(time.Millisecond))

	// Calls until the subscription ended and the replica took over: the
	// server is SERVING again, though the master is still paused.
	var subErr error
	unions := map[codes.Code]int{}
	ok, failed := 0, 0
	for deadline := time.Now().Add(30 * time.Second); ; {
		select {
		case subErr = <-subEnded:
			subEnded = nil
			t.Logf("the subscription ended %v after the pause: %v", time.Since(paused).Round(time.Millisecond), subErr)
		default:
		}
		if subErr != nil && f.healthStatus(t) == healthpb.HealthCheckResponse_SERVING {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after the pause: subscription ended %v, health %v; want it ended and SERVING", subErr, f.healthStatus(t))
		}
		unions[f.union(t, sources)]++
		if f.checkedRoundTrip(t, fmt.Sprintf("paused-%d", ok+failed), "1") {
			ok++
		} else {
			failed++
		}
	}
	t.Logf("SERVING again %v after the pause, the master still paused; meanwhile unions %v, %d round trips succeeded, %d failed; calls by code %v",
		time.Since(paused).Round(time.Millisecond), unions, ok, failed, f.codes)
	if status.Code(subErr) != codes.Unavailable {
		t.Errorf("the subscription to %s on the paused master ended with %v, want UNAVAILABLE", topic, subErr)
	}

	resumeVictim()
	c.waitHealthy(t, c.ports, 30*time.Second)
	f.waitCallsSucceed(t, "resumed", 30*time.Second)
	f.checkReplicated(t, n)
	deadline := time.Now().Add(20 * time.Second)
	for f.union(t, sources) != codes.OK {
		if time.Now().After(deadline) {
			t.Fatal("SortedSetUnionStore still failing 20 s after the master resumed")
		}
		time.Sleep(200 * time.Millisecond)
	}
	sub, err = f.pubsub.Subscribe(sctx, subscribeTo("c", topic, 0, 0))
	if err == nil {
		_, err = sub.Recv()
	}
	if err != nil {
		t.Errorf("Subscribe(%s) after the master resumed = %v, want a heartbeat", topic, err)
	}
	f.waitHealth(t, healthpb.HealthCheckResponse_SERVING, 10*time.Second)

	// The sweeps failed on the paused master, were retried, and finished:
	// the flushed cache's old keys and the deleted cache's leaderboards
	// are gone.
	for deadline := time.Now().Add(20 * time.Second); ; {
		masters = c.masterPorts() // the resumed master answers ROLE as one until it learns otherwise
		left := append(keysOf(f.ns+":{1:f:*"), keysOf(boardKeys)...)
		pending := strings.TrimSpace(c.cli(masters[0], "-c", "smembers", "{"+f.ns+"}:sweep"))
		if len(left) == 0 && pending == "" {
			break
		}
		if time.Now().After(deadline) {
			for _, p := range c.ports {
				role, _, _ := strings.Cut(strings.TrimSpace(c.cli(p, "role")), "\n")
				t.Logf("node %d: role %q, keys of f's old epoch %v, leaderboards of %s %v", p, role,
					c.keys(p, f.ns+":{1:f:*"), boardCache, c.keys(p, boardKeys))
			}
			t.Fatalf("%d keys of the flushed cache f or the deleted cache %s left (%v), sweep set %q, 20 s after the master resumed",
				len(left), boardCache, left, pending)
		}
		time.Sleep(200 * time.Millisecond)
	}
	failures := logs.logged("sweeping")
	if len(failures) == 0 {
		t.Error("no sweep failed while a master was paused, want one that failed and was retried")
	}
	for _, err := range failures {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("a sweep failed with %v, want store.ErrUnavailable", err)
		}
	}
	t.Logf("sweep failures, each retried: %v", failures)
}
