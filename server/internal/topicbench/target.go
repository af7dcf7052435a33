package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/thaw-dev/thaw/internal/store"
	"github.com/thaw-dev/thaw/server"
)

// benchCache is the cache every run uses.
const benchCache = "bench"

// target is the server under measurement.
type target struct {
	addr        string
	metricsAddr string
	separate    bool // a process of its own: its figures are the server's alone
	stop        func()
	// perConn is how many subscriptions share a client connection.
	perConn int
}

// startTarget starts `thaw serve` from bin with args, or a server in this
// process with the same settings when bin is empty.
func startTarget(ctx context.Context, bin string, args []string) (*target, error) {
	if bin == "" {
		return startInProcess(ctx, args)
	}
	dir, err := os.MkdirTemp("", "topicbench-")
	if err != nil {
		return nil, err
	}
	ready := filepath.Join(dir, "ready.json")
	full := append([]string{"serve", "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--ready-file", ready}, args...)
	cmd := exec.Command(bin, full...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-exited
			}
			os.RemoveAll(dir)
		})
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var info struct {
			Addr        string `json:"addr"`
			MetricsAddr string `json:"metrics_addr"`
		}
		data, err := os.ReadFile(ready)
		if err == nil && json.Unmarshal(data, &info) == nil {
			return &target{addr: info.Addr, metricsAddr: info.MetricsAddr, separate: true, stop: stop}, nil
		}
		select {
		case <-exited:
			stop()
			return nil, fmt.Errorf("%s serve exited before it was ready", bin)
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("%s serve was not ready within 20 s", bin)
		}
	}
}

// startInProcess starts a server in this process with the topic settings of
// the thaw serve flags in args.
func startInProcess(ctx context.Context, args []string) (*target, error) {
	cfg := server.Config{Addr: "127.0.0.1:0", MetricsAddr: "127.0.0.1:0", CreateCaches: []string{benchCache},
		Limits: store.Limits{MaxTopicSubscriptions: 1 << 30, MaxTopicPublishRate: 1 << 30}}
	for i := 0; i+1 < len(args); i += 2 {
		switch v := args[i+1]; args[i] {
		case "--topic-heartbeat-interval":
			d, err := time.ParseDuration(v)
			if err != nil {
				return nil, err
			}
			cfg.TopicHeartbeatInterval = d
		case "--topic-retention":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, err
			}
			cfg.TopicRetention = n
		}
	}
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &target{addr: srv.Addr(), metricsAddr: srv.MetricsAddr(), stop: func() { srv.Close() }}, nil
}

// dial opens one client connection to the server.
func (t *target) dial() (*grpc.ClientConn, error) {
	return grpc.NewClient(t.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

// sample is the server's process figures at one moment, from its /metrics.
type sample struct {
	at         time.Time
	cpuSeconds float64 // user and system CPU time since start
	rss        float64 // resident memory, bytes
	heapInuse  float64 // Go heap spans in use, bytes, garbage not yet collected included
	stackInuse float64 // goroutine stacks, bytes
	goroutines float64
}

// metricNames maps the Prometheus metrics read to the sample's fields.
var metricNames = map[string]func(*sample) *float64{
	"process_cpu_seconds_total":     func(s *sample) *float64 { return &s.cpuSeconds },
	"process_resident_memory_bytes": func(s *sample) *float64 { return &s.rss },
	"go_memstats_heap_inuse_bytes":  func(s *sample) *float64 { return &s.heapInuse },
	"go_memstats_stack_inuse_bytes": func(s *sample) *float64 { return &s.stackInuse },
	"go_goroutines":                 func(s *sample) *float64 { return &s.goroutines },
}

// sample reads the server's /metrics.
func (t *target) sample(ctx context.Context) (sample, error) {
	s := sample{at: time.Now()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+t.metricsAddr+"/metrics", nil)
	if err != nil {
		return s, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s, fmt.Errorf("read the server's metrics: %w", err)
	}
	defer resp.Body.Close()
	found := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		field, known := metricNames[name]
		if !ok || !known {
			continue
		}
		f, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return s, fmt.Errorf("metric %s: %w", name, err)
		}
		*field(&s) = f
		found++
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return s, err
	}
	if found != len(metricNames) {
		return s, fmt.Errorf("the server's /metrics lacks some of %d metrics it should have", len(metricNames))
	}
	return s, nil
}
