package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/thaw-dev/thaw/internal/store"
)

// checkWrap checks that wrap(ctx, err) wraps store.ErrUnavailable exactly
// when unavailable is true, wraps sentinel when it is not nil, and never
// passes for the caller's own deadline while ctx is live.
func checkWrap(t *testing.T, ctx context.Context, err error, unavailable bool, sentinel error) {
	t.Helper()
	var s Store
	got := s.wrap(ctx, "get", err)
	if got == nil {
		t.Fatalf("wrap(%v) = nil, want an error", err)
	}
	if is := errors.Is(got, store.ErrUnavailable); is != unavailable {
		t.Errorf("errors.Is(wrap(%v), ErrUnavailable) = %v, want %v (wrapped: %v)", err, is, unavailable, got)
	}
	if sentinel != nil && !errors.Is(got, sentinel) {
		t.Errorf("wrap(%v) = %v, want it to wrap %v", err, got, sentinel)
	}
	if ctx.Err() == nil && errors.Is(got, context.DeadlineExceeded) {
		t.Errorf("wrap(%v) = %v wraps context.DeadlineExceeded, but the caller's ctx is live", err, got)
	}
}

// TestWrapMarksUnavailable: the errors of a connection that fails become
// store.ErrUnavailable; a context's error does when the caller's ctx is
// still live (a timeout of the client's own) and keeps its status when it
// ended; other errors are neither.
func TestWrapMarksUnavailable(t *testing.T) {
	live := context.Background()
	ended, cancel := context.WithTimeout(context.Background(), -time.Second)
	defer cancel()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"connection refused", live, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"connection reset", live, fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"closed connection", live, io.EOF, true},
		{"closed socket", live, net.ErrClosed, true},
		{"client closing", live, rueidis.ErrClosing, true},
		{"no node for the slot", live, rueidis.ErrNoSlot, true},
		{"client's own deadline", live, context.DeadlineExceeded, true},
		{"deadline of the call", ended, context.DeadlineExceeded, false},
		{"cancelled call", ended, context.Canceled, false},
		{"other error", live, errors.New("something else"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkWrap(t, tt.ctx, tt.err, tt.want, nil)
			if tt.ctx.Err() != nil && !errors.Is(new(Store).wrap(tt.ctx, "get", tt.err), tt.err) {
				t.Errorf("wrap(%v) with an ended ctx lost the ctx's error", tt.err)
			}
		})
	}
}

// TestWrapClassifiesRealReplies runs the classifier on error values as the
// client returns them from real servers: replies of a cluster node (some
// made by Redis, the rest by a script that answers with exactly the error
// reply a node sends in that state), of a replica that lost its master and
// of a cluster node that serves no slot, and the client's own errors for a
// port that refuses connections and one that never answers.
func TestWrapClassifiesRealReplies(t *testing.T) {
	s := openStore(t, Config{})
	ctx := t.Context()
	masters, err := s.masters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	owners, err := s.slotOwners(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A node, and a key of a slot that another master owns.
	var node rueidis.Client
	var other string
	for addr, n := range masters {
		node = n
		for _, o := range owners {
			if o.addr != addr {
				other = "x{" + slotTag(o.first) + "}"
			}
		}
		break
	}
	if other == "" {
		t.Fatal("the cluster has one master; want several")
	}
	do := func(args ...string) error {
		return node.Do(ctx, node.B().Arbitrary(args...).Build()).Error()
	}
	reply := func(msg string) error {
		return do("EVAL", "return redis.error_reply(ARGV[1])", "0", msg)
	}

	t.Run("answers", func(t *testing.T) {
		key := s.cfg.Namespace + ":h{" + slotTag(owners[0].first) + "}"
		if err := s.client.Do(ctx, s.client.B().Hset().Key(key).FieldValue().FieldValue("f", "v").Build()).Error(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.client.Do(context.Background(), s.client.B().Del().Key(key).Build()) })
		tests := []struct {
			name     string
			err      error
			sentinel error
		}{
			{"WRONGTYPE from Redis", s.client.Do(ctx, s.client.B().Get().Key(key).Build()).Error(), store.ErrWrongType},
			{"THAW_NOTINT from a script", reply("THAW_NOTINT not an integer"), store.ErrNotInteger},
			{"THAW_TOOLARGE from a script", reply("THAW_TOOLARGE too large"), store.ErrItemTooLarge},
			{"script error", do("EVAL", "return redis.call('NOSUCHCOMMAND')", "0"), nil},
			{"syntax error", do("SET"), nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if _, ok := rueidis.IsRedisErr(tt.err); !ok {
					t.Fatalf("the reply is %v, want a Redis error reply", tt.err)
				}
				checkWrap(t, ctx, tt.err, false, tt.sentinel)
			})
		}
	})

	t.Run("cluster states", func(t *testing.T) {
		tests := []struct {
			name string
			err  error
		}{
			{"MOVED from Redis", do("GET", other)},
			{"CLUSTERDOWN", reply("CLUSTERDOWN The cluster is down")},
			{"TRYAGAIN", reply("TRYAGAIN Multiple keys request during rehashing of slot")},
			{"ASK", reply("ASK 3999 127.0.0.1:6381")},
			{"LOADING", reply("LOADING Redis is loading the dataset in memory")},
			{"MASTERDOWN", reply("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")},
			{"READONLY", reply("READONLY You can't write against a read only replica.")},
			{"UNBLOCKED", reply("UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)")},
			{"BUSY", reply("BUSY Redis is busy running a script. You can only call SCRIPT KILL or FUNCTION KILL.")},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if _, ok := rueidis.IsRedisErr(tt.err); !ok {
					t.Fatalf("the reply is %v, want a Redis error reply", tt.err)
				}
				checkWrap(t, ctx, tt.err, true, nil)
			})
		}
	})

	t.Run("lost master and lone node", func(t *testing.T) {
		bin, err := exec.LookPath("redis-server")
		if err != nil {
			t.Skip("redis-server is not installed")
		}
		// A replica of a master that is not there, which refuses writes
		// and, told not to serve stale data, reads too.
		replica := startRedisServer(t, bin, "--replicaof", "127.0.0.1", "1", "--replica-serve-stale-data", "no")
		// A cluster node that is in no cluster: it serves no slot.
		lone := startRedisServer(t, bin, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
		tests := []struct {
			name, addr, code string
			args             []string
		}{
			{"READONLY from Redis", replica, "READONLY", []string{"SET", "k", "v"}},
			{"MASTERDOWN from Redis", replica, "MASTERDOWN", []string{"GET", "k"}},
			{"CLUSTERDOWN from Redis", lone, "CLUSTERDOWN", []string{"GET", "k"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{tt.addr}, ForceSingleClient: true, DisableCache: true, DisableRetry: true})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				err = c.Do(ctx, c.B().Arbitrary(tt.args...).Build()).Error()
				if re, ok := rueidis.IsRedisErr(err); !ok || !strings.HasPrefix(re.Error(), tt.code+" ") {
					t.Fatalf("%q on %s = %v, want a %s reply", tt.args, tt.addr, err, tt.code)
				}
				checkWrap(t, ctx, err, true, nil)
			})
		}
	})

	t.Run("client errors", func(t *testing.T) {
		// Nothing listens: the dial is refused.
		_, refused := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{freePort(t)}, DisableCache: true})
		checkWrap(t, ctx, refused, true, nil)

		// A port that accepts connections and never answers, as a node
		// stopped with SIGSTOP does: the client's own handshake timeout.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { c.Close() })
			}
		}()
		_, silent := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{l.Addr().String()}, DisableCache: true, Dialer: net.Dialer{Timeout: 200 * time.Millisecond}})
		if silent == nil {
			t.Fatal("NewClient to a port that never answers = nil error")
		}
		checkWrap(t, ctx, silent, true, nil)

	})
}

// startRedisServer starts a redis-server with args on a free loopback port,
// stopped when t ends, and returns its address once it answers.
func startRedisServer(t *testing.T, bin string, args ...string) string {
	t.Helper()
	addr := freePort(t)
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	cmd := exec.Command(bin, append([]string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir}, args...)...)
	cmd.Dir = dir
	cmd.SysProcAttr = childProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start listening within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
