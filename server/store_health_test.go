package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/thaw-dev/thaw/api/cachepb"
	"github.com/thaw-dev/thaw/api/controlpb"
	"github.com/thaw-dev/thaw/api/leaderboardpb"
	"github.com/thaw-dev/thaw/api/pubsubpb"
	"github.com/thaw-dev/thaw/internal/store/redis"
	"github.com/thaw-dev/thaw/server"
)

// faultsEnv gates the tests that break a Redis Cluster of their own: each
// starts one (scripts/redis-cluster.sh) and takes tens of seconds.
const faultsEnv = "THAW_REDIS_FAULTS"

// faultCluster is a Redis Cluster that one test started for itself and may
// break: its own directory, ports and processes, stopped when the test ends.
type faultCluster struct {
	dir   string   // the script's directory for the cluster: pids, nodes, node-PORT/
	seeds []string // the masters when it started
	ports []int    // every node's port
}

// startFaultCluster starts a cluster of 3 masters and 3 replicas for t
// alone, or skips t unless THAW_REDIS_FAULTS=1. It is stopped in t.Cleanup,
// also when t fails.
func startFaultCluster(t *testing.T) *faultCluster {
	t.Helper()
	if os.Getenv(faultsEnv) != "1" {
		t.Skipf("%s is not 1: the fault tests start Redis Clusters of their own and break them", faultsEnv)
	}
	script, err := filepath.Abs("../scripts/redis-cluster.sh")
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "state")
	run := func(arg string) (string, error) {
		cmd := exec.Command(script, arg)
		cmd.Env = append(os.Environ(), "THAW_REDIS_CLUSTER_STATE="+state)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("%s %s: %w\n%s", script, arg, err, stderr.String())
		}
		return strings.TrimSpace(string(out)), nil
	}
	t.Cleanup(func() {
		if _, err := run("stop"); err != nil {
			t.Errorf("stopping the test's cluster: %v", err)
		}
	})
	seeds, err := run("start")
	if err != nil {
		t.Fatal(err)
	}
	dirb, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	c := &faultCluster{dir: strings.TrimSpace(string(dirb)), seeds: strings.Split(seeds, ",")}
	nodes, err := os.ReadFile(filepath.Join(c.dir, "nodes"))
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range strings.Split(strings.TrimSpace(string(nodes)), ",") {
		_, p, _ := strings.Cut(addr, ":")
		port, err := strconv.Atoi(p)
		if err != nil {
			t.Fatalf("node address %q in %s/nodes: %v", addr, c.dir, err)
		}
		c.ports = append(c.ports, port)
	}
	return c
}

// cli runs redis-cli against the node on port and returns its output.
func (c *faultCluster) cli(port int, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "redis-cli", append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port)}, args...)...).Output()
	return strings.ReplaceAll(string(out), "\r", "")
}

// pid returns the process id of the node on port, from the script's pids.
func (c *faultCluster) pid(t *testing.T, port int) int {
	t.Helper()
	pids, err := os.ReadFile(filepath.Join(c.dir, "pids"))
	if err != nil {
		t.Fatal(err)
	}
	// redis-server sets its title to "redis-server HOST:PORT [cluster]".
	want := "127.0.0.1:" + strconv.Itoa(port) + " "
	for _, f := range strings.Fields(string(pids)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && bytes.Contains(cmdline, []byte(want)) {
			return pid
		}
	}
	t.Fatalf("no running redis-server of port %d in %s/pids", port, c.dir)
	return 0
}

// isMaster reports whether the node on port answers ROLE as a master.
func (c *faultCluster) isMaster(port int) bool {
	return strings.HasPrefix(c.cli(port, "role"), "master")
}

// waitHealthy waits until every node on ports reports cluster_state:ok.
func (c *faultCluster) waitHealthy(t *testing.T, ports []int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok := true
		for _, p := range ports {
			if !strings.Contains(c.cli(p, "cluster", "info"), "cluster_state:ok") {
				ok = false
				break
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster on ports %v not ok after %v", ports, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitReplicated waits until every master's replica has acknowledged the
// master's whole replication stream as it is now: what WAIT 1 on the
// connections that wrote would have waited for.
func (c *faultCluster) waitReplicated(t *testing.T) {
	t.Helper()
	field := func(info, name string) int64 {
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(line, name+":"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		return -1
	}
	for _, p := range c.ports {
		info := c.cli(p, "info", "replication")
		if !strings.Contains(info, "role:master") {
			continue
		}
		target := field(info, "master_repl_offset")
		deadline := time.Now().Add(10 * time.Second)
		for {
			info := c.cli(p, "info", "replication")
			var acked int64 = -1
			for _, line := range strings.Split(info, "\n") {
				if strings.HasPrefix(line, "slave0:") {
					for _, kv := range strings.Split(strings.TrimPrefix(line, "slave0:"), ",") {
						if v, ok := strings.CutPrefix(kv, "offset="); ok {
							acked, _ = strconv.ParseInt(v, 10, 64)
						}
					}
				}
			}
			if acked >= target {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica of master %d acknowledged offset %d, want %d within 10 s", p, acked, target)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// faultServer is thaw serving on a store on c, with one cache "c".
type faultServer struct {
	srv    *server.Server
	ns     string // the store's namespace
	cache  cachepb.ScsClient
	ctl    controlpb.ScsControlClient
	pubsub pubsubpb.PubsubClient
	boards leaderboardpb.LeaderboardClient
	health healthpb.HealthClient
	// codes counts the codes of the calls that set and get made, for the
	// test's log.
	codes map[codes.Code]int
}

// startFaultServer starts thaw on a store on c; each of opts adjusts the
// store's configuration.
func startFaultServer(t *testing.T, c *faultCluster, opts ...func(*redis.Config)) *faultServer {
	t.Helper()
	b := make([]byte, 8)
	rand.Read(b)
	cfg := redis.Config{Addrs: c.seeds, Namespace: "thawfault-" + hex.EncodeToString(b)}
	for _, o := range opts {
		o(&cfg)
	}
	st, err := redis.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("redis.New(%v) = %v, want a store", c.seeds, err)
	}
	t.Cleanup(func() { st.Close() })
	srv := startServer(t, server.Config{Store: st, CreateCaches: []string{"c"}})
	cl := dial(t, srv.Addr())
	return &faultServer{srv: srv, ns: cfg.Namespace, cache: cl.cache, ctl: cl.control, pubsub: pubsubpb.NewPubsubClient(cl.conn),
		boards: leaderboardpb.NewLeaderboardClient(cl.conn),
		health: healthpb.NewHealthClient(cl.conn), codes: map[codes.Code]int{}}
}

// callDeadline bounds every call the fault tests make; slack is what a
// call may take past it (scheduling on a busy machine) before it counts as
// a hang.
const (
	callDeadline = 2 * time.Second
	slack        = 2 * time.Second
)

// set and get are one call each, with callDeadline, that fail t when the
// call hangs past its deadline or ends with a code other than OK,
// UNAVAILABLE or DEADLINE_EXCEEDED.
func (f *faultServer) set(t *testing.T, key, value string) codes.Code {
	t.Helper()
	ctx, cancel := context.WithTimeout(inCache(t, "c"), callDeadline)
	defer cancel()
	start := time.Now()
	_, err := f.cache.Set(ctx, &cachepb.XSetRequest{CacheKey: []byte(key), CacheBody: []byte(value), TtlMilliseconds: 600_000})
	checkFaultCall(t, "Set("+key+")", start, err)
	f.codes[status.Code(err)]++
	return status.Code(err)
}

func (f *faultServer) get(t *testing.T, key string) (*cachepb.XGetResponse, codes.Code) {
	t.Helper()
	ctx, cancel := context.WithTimeout(inCache(t, "c"), callDeadline)
	defer cancel()
	start := time.Now()
	resp, err := f.cache.Get(ctx, &cachepb.XGetRequest{CacheKey: []byte(key)})
	checkFaultCall(t, "Get("+key+")", start, err)
	f.codes[status.Code(err)]++
	return resp, status.Code(err)
}

func checkFaultCall(t *testing.T, call string, start time.Time, err error) {
	t.Helper()
	if d := time.Since(start); d > callDeadline+slack {
		t.Errorf("%s took %v, want at most its deadline %v (+%v)", call, d, callDeadline, slack)
	}
	if c := status.Code(err); !slices.Contains([]codes.Code{codes.OK, codes.Unavailable, codes.DeadlineExceeded}, c) {
		t.Errorf("%s = %v, want OK, UNAVAILABLE or DEADLINE_EXCEEDED", call, err)
	}
}

// checkedRoundTrip writes key and reads it back, failing t on a wrong
// answer: a read that hits must return what was written, and a read may
// miss only when the write failed. It reports whether both calls succeeded.
func (f *faultServer) checkedRoundTrip(t *testing.T, key, value string) bool {
	t.Helper()
	setCode := f.set(t, key, value)
	resp, getCode := f.get(t, key)
	if getCode != codes.OK {
		return false
	}
	switch resp.GetResult() {
	case cachepb.ECacheResult_Hit:
		if string(resp.GetCacheBody()) != value {
			t.Errorf("Get(%q) = %q, want %q", key, resp.GetCacheBody(), value)
		}
	case cachepb.ECacheResult_Miss:
		if setCode == codes.OK {
			t.Errorf("Get(%q) = Miss after Set succeeded, want %q", key, value)
		}
	}
	return setCode == codes.OK
}

// waitCallsSucceed waits until round trips succeed again, checking every
// answer on the way.
func (f *faultServer) waitCallsSucceed(t *testing.T, prefix string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for i := 0; ; i++ {
		if f.checkedRoundTrip(t, fmt.Sprintf("%s-%d", prefix, i), strconv.Itoa(i)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("calls still failing %v after the fault ended", within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// healthStatus returns the server's overall health status.
func (f *faultServer) healthStatus(t *testing.T) healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callDeadline)
	defer cancel()
	resp, err := f.health.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("health Check() = %v, want a status", err)
	}
	return resp.GetStatus()
}

// waitHealth waits until the health check reports want.
func (f *faultServer) waitHealth(t *testing.T, want healthpb.HealthCheckResponse_ServingStatus, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := f.healthStatus(t)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("health Check() = %v after %v, want %v", got, within, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// writeReplicated writes n keys through f, each acknowledged, and waits
// until every replica has them.
func (f *faultServer) writeReplicated(t *testing.T, c *faultCluster, n int) {
	t.Helper()
	for i := range n {
		if code := f.set(t, fmt.Sprintf("before-%d", i), strconv.Itoa(i)); code != codes.OK {
			t.Fatalf("Set(before-%d) on a healthy cluster = %v, want OK", i, code)
		}
	}
	c.waitReplicated(t)
}

// checkReplicated checks that the n keys of writeReplicated are all there.
func (f *faultServer) checkReplicated(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		key := fmt.Sprintf("before-%d", i)
		resp, code := f.get(t, key)
		if code != codes.OK || resp.GetResult() != cachepb.ECacheResult_Hit || string(resp.GetCacheBody()) != strconv.Itoa(i) {
			t.Errorf("Get(%q) = %v %v %q, want Hit %q: an acknowledged, replicated write was lost", key, code, resp.GetResult(), resp.GetCacheBody(), strconv.Itoa(i))
		}
	}
}

// hammer makes round trips for d, checking every answer and bound.
func (f *faultServer) hammer(t *testing.T, prefix string, d time.Duration) (ok, failed int) {
	t.Helper()
	end := time.Now().Add(d)
	for i := 0; time.Now().Before(end); i++ {
		if f.checkedRoundTrip(t, fmt.Sprintf("%s-%d", prefix, i), strconv.Itoa(i)) {
			ok++
		} else {
			failed++
		}
		time.Sleep(50 * time.Millisecond)
	}
	return ok, failed
}

// TestFaultMasterKilled: a master is SIGKILLed and its replica takes over.
// Calls during the failover succeed or fail with UNAVAILABLE or at their
// deadline, never with a wrong answer nor past the deadline; they succeed
// again after it; writes acknowledged and replicated before the kill are
// all there.
func TestFaultMasterKilled(t *testing.T) {
	c := startFaultCluster(t)
	f := startFaultServer(t, c)
	const n = 200
	f.writeReplicated(t, c, n)

	var victim int
	var rest []int
	for _, p := range c.ports {
		if victim == 0 && c.isMaster(p) {
			victim = p
		} else {
			rest = append(rest, p)
		}
	}
	if err := syscall.Kill(c.pid(t, victim), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ok, failed := f.hammer(t, "during", 8*time.Second)
	t.Logf("during the failover: %d round trips succeeded, %d failed; calls by code: %v", ok, failed, f.codes)
	c.waitHealthy(t, rest, 30*time.Second)
	f.waitCallsSucceed(t, "after", 30*time.Second)
	f.checkReplicated(t, n)
	f.waitHealth(t, healthpb.HealthCheckResponse_SERVING, 10*time.Second)
}

// TestFaultWholeClusterDown: every node is killed while thaw serves; the
// health check turns NOT_SERVING and calls fail as UNAVAILABLE within their
// deadline. The nodes start again on the same ports and directories (their
// cluster configuration survives; their data does not, as they run without
// persistence), and the same thaw server, not restarted, reports SERVING
// again and serves a new cache.
func TestFaultWholeClusterDown(t *testing.T) {
	c := startFaultCluster(t)
	f := startFaultServer(t, c)
	if !f.checkedRoundTrip(t, "up", "1") {
		t.Fatal("round trip on a healthy cluster failed")
	}

	// The node timeout the script gives the nodes, kept on restart.
	timeout := strings.Split(strings.TrimSpace(c.cli(c.ports[0], "config", "get", "cluster-node-timeout")), "\n")
	if len(timeout) != 2 {
		t.Fatalf("CONFIG GET cluster-node-timeout = %q, want name and value", timeout)
	}
	for _, p := range c.ports {
		if err := syscall.Kill(c.pid(t, p), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}

	f.waitHealth(t, healthpb.HealthCheckResponse_NOT_SERVING, 10*time.Second)
	for i := range 3 {
		if code := f.set(t, fmt.Sprintf("down-%d", i), "x"); code == codes.OK {
			t.Errorf("Set(down-%d) with every node down = OK, want UNAVAILABLE or DEADLINE_EXCEEDED", i)
		}
	}
	if _, code := f.get(t, "up"); code != codes.Unavailable && code != codes.DeadlineExceeded {
		t.Errorf("Get(up) with every node down = %v, want UNAVAILABLE or DEADLINE_EXCEEDED", code)
	}

	t.Logf("with every node down: calls by code: %v", f.codes)

	// Start the nodes again, recording their pids where the script's
	// stop finds them.
	var pids []string
	for _, p := range c.ports {
		dir := filepath.Join(c.dir, fmt.Sprintf("node-%d", p))
		// The script's command line for a node (scripts/redis-cluster.sh).
		cmd := exec.Command("redis-server", "--port", strconv.Itoa(p), "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", timeout[1], "--save", "", "--appendonly", "no",
			"--dir", dir, "--logfile", filepath.Join(dir, "redis.log"), "--daemonize", "no")
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("restart the node on port %d: %v", p, err)
		}
		go cmd.Wait()
		pids = append(pids, strconv.Itoa(cmd.Process.Pid))
	}
	if err := os.WriteFile(filepath.Join(c.dir, "pids"), []byte(strings.Join(pids, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.waitHealthy(t, c.ports, 60*time.Second)
	f.waitHealth(t, healthpb.HealthCheckResponse_SERVING, 30*time.Second)

	// The data went with the processes; the registry too. A new cache
	// works on the same server.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), callDeadline)
		_, err := f.ctl.CreateCache(ctx, &controlpb.XCreateCacheRequest{CacheName: proto.String("again")})
		cancel()
		if err == nil || status.Code(err) == codes.AlreadyExists {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CreateCache(again) after the cluster came back = %v, want nil", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(inCache(t, "again"), callDeadline)
	defer cancel()
	if _, err := f.cache.Set(ctx, &cachepb.XSetRequest{CacheKey: []byte("k"), CacheBody: []byte("v"), TtlMilliseconds: 60_000}); err != nil {
		t.Fatalf("Set(k) after the cluster came back = %v, want nil", err)
	}
	resp, err := f.cache.Get(ctx, &cachepb.XGetRequest{CacheKey: []byte("k")})
	if err != nil || resp.GetResult() != cachepb.ECacheResult_Hit || string(resp.GetCacheBody()) != "v" {
		t.Errorf("Get(k) after the cluster came back = %v %q (%v), want Hit %q", resp.GetResult(), resp.GetCacheBody(), err, "v")
	}
}
