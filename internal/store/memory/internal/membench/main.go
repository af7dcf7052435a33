// Command membench measures the memory that thaw's embedded store
// (internal/store/memory) takes per element of each item type, strings as
// the baseline and the collections after them, next to a Redis server
// holding the same data, so that the per-element overheads that the store
// accounts towards --max-memory can be checked against what the heap
// really holds and against Redis.
//
// For each kind, shape (one big collection, many small ones) and value size
// it loads the same elements into a fresh memory.Store and, with the
// matching command (SET, HSET, SADD, RPUSH, ZADD) and a PEXPIRE on every
// key, into Redis, and prints per element: the growth of the store's
// Stats().Bytes (what it accounts), of the live Go heap (HeapAlloc after a
// GC), of the process's RSS after that GC, and of Redis's used_memory. Keys
// are 16 bytes unless -key-len says otherwise (issue 15 measures 12). It flags rows where accounted and heap
// differ by more than -tolerance.
//
// scripts/bench-memory.sh installs and starts a private redis-server and
// runs it. By hand, against a Redis server that it may empty (it sends
// FLUSHALL before every row):
//
//	go run ./internal/store/memory/internal/membench -redis 127.0.0.1:6379
//
// Without -redis it measures thaw alone.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// config is what the command line asks for.
type config struct {
	redisAddr string
	elements  int
	small     int
	sizes     []int
	kinds     []kind
	batch     int
	keyLen    int
	tolerance float64
}

// parseFlags reads args into a config.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := config{}
	fs := flag.NewFlagSet("membench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.redisAddr, "redis", "", "host:port of a Redis server to compare with, which every row empties with FLUSHALL; empty: thaw alone")
	fs.IntVar(&cfg.elements, "elements", 100_000, "elements per row: the string keys, the big collection's elements, the small collections' elements in all")
	fs.IntVar(&cfg.small, "small", 10, "elements per small collection")
	sizes := fs.String("sizes", "16,100", "comma-separated value sizes in bytes, each at least 8")
	kindList := fs.String("kinds", "string,hash,set,list,zset", "comma-separated kinds to measure")
	fs.IntVar(&cfg.batch, "batch", 100, "most elements per write (one command in Redis)")
	fs.IntVar(&cfg.keyLen, "key-len", defaultKeyLen, fmt.Sprintf("bytes per key, %d to 64", minKeyLen))
	fs.Float64Var(&cfg.tolerance, "tolerance", 0.25, "flag rows whose accounted bytes differ from the heap growth by more than this fraction of it")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	for s := range strings.SplitSeq(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 8 {
			return cfg, fmt.Errorf("-sizes: %q is not a size of at least 8 bytes", s)
		}
		cfg.sizes = append(cfg.sizes, n)
	}
	for s := range strings.SplitSeq(*kindList, ",") {
		k, err := parseKind(strings.TrimSpace(s))
		if err != nil {
			return cfg, fmt.Errorf("-kinds: %w", err)
		}
		cfg.kinds = append(cfg.kinds, k)
	}
	switch {
	case cfg.elements < 1 || cfg.elements > 10_000_000:
		return cfg, fmt.Errorf("-elements %d: want 1 to 10,000,000", cfg.elements)
	case cfg.small < 1 || cfg.small > cfg.elements:
		return cfg, fmt.Errorf("-small %d: want 1 to -elements", cfg.small)
	case cfg.keyLen < minKeyLen || cfg.keyLen > 64:
		return cfg, fmt.Errorf("-key-len %d: want %d to 64", cfg.keyLen, minKeyLen)
	case cfg.batch < 1:
		return cfg, fmt.Errorf("-batch %d: want at least 1", cfg.batch)
	}
	return cfg, nil
}

// workloads are the rows cfg asks for, in the order of the table.
func (cfg config) workloads() []workload {
	var out []workload
	for _, k := range cfg.kinds {
		shapes := [][2]int{{1, cfg.elements}, {cfg.elements / cfg.small, cfg.small}}
		if k == kindString {
			shapes = [][2]int{{cfg.elements, 1}}
		}
		for _, sh := range shapes {
			for _, size := range cfg.sizes {
				out = append(out, workload{kind: k, keys: sh[0], perKey: sh[1], size: size, batch: cfg.batch, keyLen: cfg.keyLen})
			}
		}
	}
	return out
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintln(stderr, "membench:", err)
		}
		return 2
	}
	ctx := context.Background()

	var rc *redisConn
	env := environment{goVersion: runtime.Version(), keyLen: cfg.keyLen}
	if cfg.redisAddr != "" {
		if rc, err = dialRedis(cfg.redisAddr); err != nil {
			fmt.Fprintln(stderr, "membench:", err)
			return 1
		}
		defer rc.Close()
		if env.redis, err = redisVersion(rc); err != nil {
			fmt.Fprintln(stderr, "membench:", err)
			return 1
		}
	}

	var rows []row
	for _, w := range cfg.workloads() {
		fmt.Fprintf(stderr, "membench: %s %s, %d-byte values\n", w.kind, w.shape(), w.size)
		r := row{workload: w}
		if r.thaw, err = measureThaw(ctx, w); err != nil {
			fmt.Fprintln(stderr, "membench:", err)
			return 1
		}
		if rc != nil {
			res, err := measureRedis(rc, w)
			if err != nil {
				fmt.Fprintln(stderr, "membench:", err)
				return 1
			}
			r.redis = &res
		}
		rows = append(rows, r)
	}
	if rc != nil {
		if _, err := rc.do("FLUSHALL", "SYNC"); err != nil {
			fmt.Fprintln(stderr, "membench:", err)
			return 1
		}
	}
	report(stdout, env, rows, cfg.tolerance)
	return 0
}

// redisVersion describes the server: its version and memory allocator.
func redisVersion(rc *redisConn) (string, error) {
	server, err := rc.info("server")
	if err != nil {
		return "", err
	}
	memory, err := rc.info("memory")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("Redis %s (%s)", server["redis_version"], memory["mem_allocator"]), nil
}
