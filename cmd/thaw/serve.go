package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/thaw-dev/thaw/internal/auth"
	"github.com/thaw-dev/thaw/internal/grpcsvc"
	"github.com/thaw-dev/thaw/internal/store"
	"github.com/thaw-dev/thaw/internal/store/memory"
	"github.com/thaw-dev/thaw/internal/store/redis"
	"github.com/thaw-dev/thaw/server"
)

// readyInfo is what --ready-file receives once every listener is bound.
type readyInfo struct {
	Addr        string `json:"addr"`
	AdminAddr   string `json:"admin_addr"`
	MetricsAddr string `json:"metrics_addr"`
	HTTPAddr    string `json:"http_addr"`
	// Transport is what serves Addr: grpc-go or epoll.
	Transport string `json:"transport"`
}

func runServe(args []string, _, stderr io.Writer) int {
	fs := newCommandFlags("thaw serve", stderr,
		"Usage: thaw serve [flags]",
		"",
		"Runs a cache server that speaks the Momento gRPC protocol, so the official Momento SDKs",
		"work against it unchanged (plaintext by default, like momento-local). Stop it with Ctrl-C.")
	var (
		cfg             server.Config
		maxMemory       = byteSize(server.DefaultServeMaxMemory)
		maxItemSize     = byteSize(store.DefaultMaxItemSize)
		topicMsgSize    = byteSize(store.DefaultMaxTopicMessageSize)
		createCaches    stringList
		authSecretFile  string
		readyFile       string
		logLevel        string
		logFormat       string
		shutdownTimeout time.Duration
	)
	var storeURL, storePasswordFile, storeNamespace string
	fs.StringVar(&cfg.Addr, "addr", envAddr("MOMENTO_PORT", server.DefaultAddr), "service `host:port`; port 0 picks a free one (default from $MOMENTO_PORT as 127.0.0.1:$MOMENTO_PORT when set)")
	fs.StringVar(&cfg.TLSCertFile, "tls-cert", "", "serve TLS with this PEM certificate `file` (needs --tls-key)")
	fs.StringVar(&cfg.TLSKeyFile, "tls-key", "", "PEM private key `file` for --tls-cert")
	fs.StringVar(&cfg.Transport, "transport", server.TransportGRPCGo, "what serves --addr's HTTP/2: grpc-go (TLS or plaintext, about 22KiB per connection however idle) or epoll (plaintext only, Linux: one event loop for every connection, about 2.5KiB per idle one; for many mostly idle clients such as frozen Lambda functions)")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://`host:port`/metrics (off when empty)")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", "", "serve Momento's HTTP API at `host:port` (off when empty): GET, PUT and DELETE /cache/CACHE?key=KEY[&ttl_seconds=N] and POST /topics/CACHE/TOPIC, the key in an Authorization header or a token parameter; HTTPS with --tls-cert, with the same auth, limits and metrics as --addr")
	fs.Var(&maxMemory, "max-memory", "memory for items, a `size` such as 512MiB or 2GB; beyond it the least recently used items are evicted (0 = no limit); with the memory store it also sets Go's memory limit to max-memory×5/4 + 64MiB unless $GOMEMLIMIT is set")
	fs.IntVar(&cfg.MaxCaches, "max-caches", server.DefaultServeMaxCaches, "hold at most `n` caches; one more CreateCache fails with RESOURCE_EXHAUSTED, as on the service (10 reproduces Momento's default account limit; 0 = no limit; with --store redis:// the limit is the namespace's, across every node)")
	fs.StringVar(&storeURL, "store", "memory", "where items live: memory (in this process, the default) or the `url` of a Redis Cluster (or Valkey cluster) that several thaw serve processes can share, redis://HOST:PORT[,HOST:PORT...] with any nodes as seeds (rediss:// for TLS); with Redis, its maxmemory applies instead of --max-memory")
	fs.StringVar(&storePasswordFile, "store-password-file", "", "read the Redis password from this `file` (for --store redis://; a user name goes in the URL as redis://USER@HOST:PORT)")
	fs.StringVar(&storeNamespace, "store-namespace", redis.DefaultNamespace, "first part of every Redis key (ASCII letters, digits, '.', '_', '-'), so that several thaw deployments can share one cluster: the thaw serve processes of one `namespace` serve the same caches (for --store redis://)")
	fs.Var(&maxItemSize, "max-item-size", "largest key plus value accepted, a `size` above 0; larger writes fail with RESOURCE_EXHAUSTED")
	fs.DurationVar(&cfg.Limits.MaxTTL, "max-ttl", store.DefaultMaxTTL, "longest item TTL accepted, at least 1ms; longer ones fail with INVALID_ARGUMENT")
	fs.DurationVar(&cfg.TopicHeartbeatInterval, "topic-heartbeat-interval", grpcsvc.DefaultHeartbeatInterval, "send a heartbeat on a topic subscription idle this long, at least 1ms (every subscription also gets one at once); the service's cadence is 1s, tests shorten it")
	fs.IntVar(&cfg.TopicRetention, "topic-retention", memory.DefaultTopicRetention, fmt.Sprintf("latest items each topic keeps for subscribers that resume or fall behind, 1 to %d (also at most 1MiB of them); older ones are reported as a discontinuity", memory.MaxTopicRetention))
	fs.IntVar(&cfg.Limits.MaxTopicSubscriptions, "topic-max-subscriptions", store.DefaultMaxTopicSubscriptions, "subscriptions the topics of one cache may have at once, at least 1; more fail with RESOURCE_EXHAUSTED")
	fs.IntVar(&cfg.Limits.MaxTopicPublishRate, "topic-publish-rate", store.DefaultMaxTopicPublishRate, "publishes per second to the topics of one cache (bursts of as many), at least 1; more fail with RESOURCE_EXHAUSTED")
	fs.Var(&topicMsgSize, "topic-max-message-size", "largest published topic value, a `size` above 0; larger ones fail with RESOURCE_EXHAUSTED")
	fs.StringVar(&authSecretFile, "auth-secret-file", "", "require API keys signed with the secret in this `file` (make one with 'thaw token secret'); off when empty")
	fs.StringVar(&cfg.RevokedKeysFile, "revoked-keys", "", "refuse the API keys whose ids this `file` lists, one per line ('thaw token revoke' appends to it); re-read when it changes and on SIGHUP; needs --auth-secret-file")
	fs.BoolVar(&cfg.InsecureBind, "insecure-bind", false, "allow --addr, --http-addr or --admin-addr on an address other hosts can reach without TLS or without auth (refused otherwise); logs a warning saying what is exposed")
	fs.BoolVar(&cfg.EnableTestAdmin, "enable-test-admin", false, "momento-local test hooks: /block and /unblock on --admin-addr, and error/delay injection from request metadata")
	fs.StringVar(&cfg.AdminAddr, "admin-addr", envAddr("MOMENTO_ADMIN_PORT", server.DefaultAdminAddr), "test-admin HTTP `host:port` (default from $MOMENTO_ADMIN_PORT when set)")
	fs.Var(&createCaches, "create-cache", "create the cache `name` at start-up (repeatable)")
	fs.StringVar(&readyFile, "ready-file", "", "once listening, write {\"addr\",\"admin_addr\",\"metrics_addr\",\"http_addr\",\"transport\"} as JSON to this `file`")
	fs.StringVar(&logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	fs.StringVar(&logFormat, "log-format", "text", "log `format`: text or json")
	fs.DurationVar(&shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGINT/SIGTERM, how long in-flight calls may take before they are cancelled (0 = cancel them at once)")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	// store.Limits replaces a zero or negative limit with its default, so
	// refuse those here rather than run with 24h or 5MB unannounced.
	if code, ok := fs.check(
		oneOf("transport", cfg.Transport, server.TransportGRPCGo, server.TransportEpoll),
		atLeast("max-ttl", cfg.Limits.MaxTTL, time.Millisecond, "a duration of at least 1ms, such as 1h (TTLs are whole milliseconds)"),
		atLeast("max-item-size", maxItemSize, 1, "a size above 0, such as 5MB"),
		atLeast("max-caches", cfg.MaxCaches, 0, "0 (no limit) or a number of caches, such as 100"),
		atLeast("shutdown-timeout", shutdownTimeout, 0, "0 (cancel in-flight calls at once) or a positive duration, such as 30s"),
		atLeast("topic-heartbeat-interval", cfg.TopicHeartbeatInterval, grpcsvc.MinHeartbeatInterval, "a duration of at least 1ms, such as 1s"),
		atLeast("topic-retention", cfg.TopicRetention, 1, "at least 1 item"),
		atMost("topic-retention", cfg.TopicRetention, memory.MaxTopicRetention, fmt.Sprintf("at most %d items", memory.MaxTopicRetention)),
		atLeast("topic-max-subscriptions", cfg.Limits.MaxTopicSubscriptions, 1, "at least 1"),
		atLeast("topic-publish-rate", cfg.Limits.MaxTopicPublishRate, 1, "at least 1 per second"),
		atLeast("topic-max-message-size", topicMsgSize, 1, "a size above 0, such as 100KiB"),
		atMost("topic-max-message-size", topicMsgSize, math.MaxInt32, "a size below 2GiB"),
	); !ok {
		return code
	}
	logger, err := newLogger(stderr, logLevel, logFormat)
	if err != nil {
		fmt.Fprintf(stderr, "thaw serve: %v\n", err)
		return 2
	}
	cfg.Logger = logger
	cfg.MaxMemory = int64(maxMemory)
	cfg.Limits.MaxItemSize = int(maxItemSize)
	cfg.Limits.MaxTopicMessageSize = int(topicMsgSize)
	cfg.CreateCaches = createCaches
	var redisCfg *redis.Config
	if storeURL != "memory" {
		rc, err := redis.ParseURL(storeURL)
		if err != nil {
			fmt.Fprintf(stderr, "thaw serve: --store: %v\n", err)
			return 2
		}
		if err := redis.CheckNamespace(storeNamespace); err != nil {
			fmt.Fprintf(stderr, "thaw serve: --store-namespace: %v\n", err)
			return 2
		}
		rc.Namespace = storeNamespace
		redisCfg = &rc
	} else if storePasswordFile != "" {
		fmt.Fprintln(stderr, "thaw serve: --store-password-file needs --store redis://...")
		return 2
	}
	if authSecretFile != "" {
		if cfg.AuthSecret, err = auth.LoadSecret(authSecretFile); err != nil {
			fmt.Fprintf(stderr, "thaw serve: %v\n", err)
			return 2
		}
	}

	if cfg.RevokedKeysFile != "" && cfg.AuthSecret == nil {
		fmt.Fprintln(stderr, "thaw serve: --revoked-keys needs --auth-secret-file")
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if redisCfg != nil {
		redisCfg.MaxCaches = cfg.MaxCaches // counted in the registry, across every node of the namespace
		st, err := openRedisStore(ctx, *redisCfg, storePasswordFile, cfg.TopicRetention, logger)
		if err != nil {
			fmt.Fprintf(stderr, "thaw serve: %v\n", err)
			return 1
		}
		defer st.Close() // after the server's shutdown: the server leaves a given store open
		cfg.Store = st
		logger.Info("store: Redis Cluster", "seeds", strings.Join(redisCfg.Addrs, ","), "namespace", redisCfg.Namespace, "tls", redisCfg.TLS != nil)
	}
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "thaw serve: %v\n", err)
		return 1
	}
	if redisCfg == nil {
		setMemoryLimit(cfg.MaxMemory, logger)
	}
	hangups := make(chan os.Signal, 1)
	signal.Notify(hangups, syscall.SIGHUP)
	defer func() {
		signal.Stop(hangups) // no more sends after this, so closing is safe
		close(hangups)
	}()
	go func() {
		for range hangups {
			logger.Info("SIGHUP: reloading the revocation list")
			srv.ReloadRevokedKeys() // logs its own errors
		}
	}()
	if readyFile != "" {
		if err := writeReadyFile(readyFile, readyInfo{srv.Addr(), srv.AdminAddr(), srv.MetricsAddr(), srv.HTTPAddr(), srv.Transport()}); err != nil {
			fmt.Fprintf(stderr, "thaw serve: %v\n", err)
			srv.Close()
			return 1
		}
	}
	<-ctx.Done()
	stop()
	logger.Info("shutting down", "timeout", shutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		fmt.Fprintf(stderr, "thaw serve: %v\n", err)
		return 1
	}
	return 0
}

// memoryLimitHeadroom is the part of Go's memory limit that `thaw serve`
// leaves beyond the items for the rest of its heap: connections and their
// buffers, gRPC's and the runtime's own structures.
const memoryLimitHeadroom = 64 << 20

// goMemoryLimit is the Go memory limit (debug.SetMemoryLimit) for a memory
// store bounded by --max-memory: maxMemory×5/4 + memoryLimitHeadroom. The
// store's accounted bytes are within 10% of the heap its items take (see
// memory.ItemOverhead), so the quarter on top covers that error and leaves
// the collector room to work in; without it the collector would run almost
// continuously once the store is full. The 64 MiB are for the heap that is
// not items. 64MiB gives 144MiB; the default 1GiB, 1.31GiB. A maxMemory so
// large that the sum overflows gives math.MaxInt64, Go's "no limit".
func goMemoryLimit(maxMemory int64) int64 {
	if maxMemory > (math.MaxInt64-memoryLimitHeadroom)/5*4 {
		return math.MaxInt64
	}
	return maxMemory + maxMemory/4 + memoryLimitHeadroom
}

// setMemoryLimit bounds the process's memory from --max-memory, so that the
// garbage collector runs before the heap doubles (GOGC=100) rather than let
// the process take about twice what the flag says: it sets Go's memory
// limit to goMemoryLimit(maxMemory) and logs it, unless $GOMEMLIMIT is set
// (the runtime has applied it, and it wins: the log says so) or maxMemory is
// 0 (no limit: nothing to set).
func setMemoryLimit(maxMemory int64, logger *slog.Logger) {
	if env := os.Getenv("GOMEMLIMIT"); env != "" {
		logger.Info("Go memory limit from $GOMEMLIMIT, not --max-memory", "GOMEMLIMIT", env, "limit_bytes", debug.SetMemoryLimit(-1))
		return
	}
	if maxMemory <= 0 {
		return
	}
	limit := goMemoryLimit(maxMemory)
	debug.SetMemoryLimit(limit)
	logger.Info("Go memory limit set from --max-memory", "limit_bytes", limit, "max_memory", maxMemory, "formula", "max-memory*5/4 + 64MiB")
}

// openRedisStore connects to the Redis Cluster of --store, within a start-up
// deadline, so that an unreachable or non-cluster address fails at once.
func openRedisStore(ctx context.Context, cfg redis.Config, passwordFile string, topicRetention int, logger *slog.Logger) (*redis.Store, error) {
	if passwordFile != "" {
		password, err := os.ReadFile(passwordFile)
		if err != nil {
			return nil, fmt.Errorf("--store-password-file: %w", err)
		}
		cfg.Password = strings.TrimRight(string(password), "\r\n")
	}
	cfg.TopicRetention = topicRetention
	cfg.StatsMaxAge = 10 * time.Second // one SCAN of the cluster serves a metrics scrape's gauges
	cfg.Logger = logger
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return redis.New(ctx, cfg)
}

// envAddr returns 127.0.0.1:$name when the variable is set, else def.
func envAddr(name, def string) string {
	if port := strings.TrimSpace(os.Getenv(name)); port != "" {
		return "127.0.0.1:" + port
	}
	return def
}

// writeReadyFile writes info atomically, so a reader never sees half a file.
func writeReadyFile(path string, info readyInfo) error {
	data, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("encode ready file: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write ready file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write ready file: %w", err)
	}
	return nil
}

// newLogger builds the slog logger that --log-level and --log-format ask for.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: want text or json, got %q", format)
}
