// Package bench is thaw's load generator for the Momento gRPC protocol: it
// measures any compatible endpoint (thaw serve, momento-local, the service)
// under a closed-loop or fixed-rate workload and reports throughput and HDR
// latency percentiles as a table, JSON and an HTML page; its idle mode holds
// many keepalive-pinging connections and reports what they cost the server
// process. `thaw bench` is its command line.
package bench

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Defaults of Config.
const (
	// DefaultCache is the cache the load runs against, created when missing.
	DefaultCache = "thaw-bench"
	// DefaultConcurrency is how many requests are in flight at most.
	DefaultConcurrency = 16
	// DefaultConnections is how many gRPC connections carry the load.
	DefaultConnections = 4
	// DefaultOps is the workload mix.
	DefaultOps = "get:80,set:20"
	// DefaultValueSize is the size in bytes of every value written.
	DefaultValueSize = 100
	// DefaultKeys is the size of the key space.
	DefaultKeys = 10000
	// DefaultDuration is how long the measured part of a run lasts.
	DefaultDuration = 10 * time.Second
	// DefaultWarmup is how long the load runs, unmeasured, before it.
	DefaultWarmup = time.Second
	// DefaultTimeout bounds every request, as the SDKs' Laptop config does.
	DefaultTimeout = 5 * time.Second
	// DefaultTTL is the TTL of every item written; it must outlast the run.
	DefaultTTL = time.Hour
	// DefaultKeepalive is the idle mode's ping interval, the SDKs' Laptop
	// config's 5 s.
	DefaultKeepalive = 5 * time.Second
	// DefaultKeepaliveTimeout is how long an idle connection waits for a
	// ping's acknowledgement before it counts as lost.
	DefaultKeepaliveTimeout = time.Second
	// MaxKeys bounds Config.Keys: the zipfian generator sums over the key
	// space once, and preloading more is not a benchmark any more.
	MaxKeys = 100_000_000
	// MaxValueSize bounds Config.ValueSize, above any server's item limit.
	MaxValueSize = 64 << 20
)

// Distribution says how keys are drawn from the key space.
type Distribution string

// Distributions.
const (
	// Uniform draws every key equally often.
	Uniform Distribution = "uniform"
	// Zipfian draws key i with probability proportional to 1/(i+1)^0.99, as
	// YCSB does: a few hot keys take most requests.
	Zipfian Distribution = "zipfian"
)

// ErrUsage marks a Config that cannot run; the command line exits 2 on it.
var ErrUsage = errors.New("bench: bad configuration")

// Config says what to measure and how. Start from DefaultConfig; Validate
// says what is wrong with one.
type Config struct {
	// Endpoint is the server's host:port (required).
	Endpoint string
	// Cache is the cache the load uses, created if missing. Default
	// DefaultCache.
	Cache string
	// Token is the authorization header's value: the api_key of a v1 API
	// key, or a whole JWT. Empty sends an empty header, as momento-local
	// expects. See TokenFromAPIKey.
	Token string
	// TLS connects with TLS instead of plaintext.
	TLS bool
	// CAFile is a PEM file of extra roots to trust with TLS (a private CA);
	// empty trusts the system's roots. Implies TLS.
	CAFile string
	// InsecureSkipVerify accepts any server certificate. Implies TLS.
	InsecureSkipVerify bool

	// Concurrency is how many requests are in flight at most: the number of
	// workers, each with one request at a time. Default DefaultConcurrency;
	// at least 1.
	Concurrency int
	// Rate, when positive, runs open-loop: requests are sent at this many per
	// second in all, on a fixed schedule, whatever the server's latency, and
	// each latency is measured from the request's intended send time, so a
	// stall shows up in the percentiles (no coordinated omission). At most
	// Concurrency requests are in flight; a late worker sends at once. Zero
	// runs closed-loop: each worker sends its next request when the last one
	// returns.
	Rate float64
	// Connections is how many gRPC connections (HTTP/2) carry the load;
	// worker i uses connection i mod Connections. Default
	// DefaultConnections; at least 1 and at most Concurrency.
	Connections int
	// Ops is the workload mix: op names and weights, such as
	// {{OpGet, 80}, {OpSet, 20}}. Default ParseOps(DefaultOps).
	Ops []OpWeight
	// ValueSize is the size in bytes of every value written. Default
	// DefaultValueSize; 0 to MaxValueSize.
	ValueSize int
	// Keys is the size of the key space. Default DefaultKeys; 1 to MaxKeys.
	Keys int
	// Distribution is how keys are drawn. Default Uniform.
	Distribution Distribution
	// Duration is how long the measured part lasts, in both modes. Default
	// DefaultDuration.
	Duration time.Duration
	// Warmup is how long the load runs before measuring starts; requests
	// sent during it are not counted. Default DefaultWarmup (0 is allowed).
	Warmup time.Duration
	// Timeout bounds each request. Default DefaultTimeout.
	Timeout time.Duration
	// TTL is the TTL of every item written. Default DefaultTTL.
	TTL time.Duration
	// Preload writes every key of the key space before the run (scalar
	// items when the mix has scalar ops, dictionaries when it has dictionary
	// ops), so that reads hit and the server holds the whole key space.
	Preload bool

	// IdleConnections, when positive, selects the idle mode: hold this many
	// connections that only send keepalive pings for Duration, and report the
	// server process's CPU and memory. The load fields are then unused.
	IdleConnections int
	// Keepalive is the idle mode's ping interval: a connection sends an
	// HTTP/2 PING when it has been idle this long, as gRPC's keepalive does
	// (Time, with PermitWithoutStream). Default DefaultKeepalive; 0 sends no
	// pings. Unlike grpc-go, which raises anything below 10 s to 10 s, the
	// interval is honoured.
	Keepalive time.Duration
	// KeepaliveTimeout is how long a ping may wait for its acknowledgement
	// before the connection counts as lost. Default DefaultKeepaliveTimeout.
	KeepaliveTimeout time.Duration
	// ServerPID is the server process to watch in idle mode; 0 finds the
	// process listening on Endpoint's port when Endpoint is local.
	ServerPID int

	// JSON writes the result as one JSON object, the last line of stdout;
	// the table then goes to stderr.
	JSON bool
	// HTMLFile, when set, receives a self-contained HTML page with the
	// latency percentile plot and throughput over time.
	HTMLFile string
	// Terminal redraws the progress line in place on stderr; otherwise a
	// line is printed every few seconds.
	Terminal bool
}

// DefaultConfig returns the defaults for endpoint.
func DefaultConfig(endpoint string) Config {
	ops, _ := ParseOps(DefaultOps)
	return Config{
		Endpoint:         endpoint,
		Cache:            DefaultCache,
		Concurrency:      DefaultConcurrency,
		Connections:      DefaultConnections,
		Ops:              ops,
		ValueSize:        DefaultValueSize,
		Keys:             DefaultKeys,
		Distribution:     Uniform,
		Duration:         DefaultDuration,
		Warmup:           DefaultWarmup,
		Timeout:          DefaultTimeout,
		TTL:              DefaultTTL,
		Preload:          true,
		Keepalive:        DefaultKeepalive,
		KeepaliveTimeout: DefaultKeepaliveTimeout,
	}
}

// Idle reports whether cfg selects the idle mode.
func (c Config) Idle() bool { return c.IdleConnections > 0 }

// UsesTLS reports whether cfg connects with TLS.
func (c Config) UsesTLS() bool { return c.TLS || c.CAFile != "" || c.InsecureSkipVerify }

// Validate returns every problem with c, wrapped in ErrUsage, or nil.
func (c Config) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if c.Endpoint == "" {
		add("--endpoint is required: the server's HOST:PORT")
	} else if _, port, err := net.SplitHostPort(c.Endpoint); err != nil || port == "" {
		add("--endpoint %q: want HOST:PORT", c.Endpoint)
	}
	if c.Duration <= 0 {
		add("--duration %v: want a positive duration such as 10s", c.Duration)
	}
	if c.IdleConnections < 0 {
		add("--idle-connections %d: want 0 (load mode) or more", c.IdleConnections)
	}
	if c.Idle() {
		if c.Keepalive < 0 {
			add("--keepalive %v: want 0 (no pings) or a positive duration such as 5s", c.Keepalive)
		}
		if c.Keepalive > 0 && c.KeepaliveTimeout <= 0 {
			add("--keepalive-timeout %v: want a positive duration such as 1s", c.KeepaliveTimeout)
		}
		if c.ServerPID < 0 {
			add("--server-pid %d: want a process id", c.ServerPID)
		}
		if c.Rate != 0 {
			add("--rate applies to the load mode, not to --idle-connections")
		}
		if c.HTMLFile != "" {
			add("--html applies to the load mode, not to --idle-connections")
		}
		return joinProblems(problems)
	}
	if strings.TrimSpace(c.Cache) == "" {
		add("--cache must not be blank")
	}
	if c.Concurrency < 1 {
		add("--concurrency %d: want at least 1", c.Concurrency)
	}
	if c.Connections < 1 {
		add("--connections %d: want at least 1", c.Connections)
	} else if c.Concurrency >= 1 && c.Connections > c.Concurrency {
		add("--connections %d: want at most --concurrency (%d), or some connections would carry nothing", c.Connections, c.Concurrency)
	}
	if c.Rate < 0 || c.Rate != c.Rate || c.Rate > 1e9 {
		add("--rate %v: want 0 (closed loop) or a number of requests per second such as 5000", c.Rate)
	}
	if len(c.Ops) == 0 {
		add("--ops: want at least one op, such as get:80,set:20")
	}
	for _, o := range c.Ops {
		if _, ok := opByName[o.Op]; !ok || o.Weight < 1 {
			add("--ops: bad entry %s:%d", o.Op, o.Weight)
		}
	}
	if c.ValueSize < 0 || c.ValueSize > MaxValueSize {
		add("--value-size %d: want 0 to %d bytes", c.ValueSize, MaxValueSize)
	}
	if c.Keys < 1 || c.Keys > MaxKeys {
		add("--keys %d: want 1 to %d", c.Keys, MaxKeys)
	}
	if c.Distribution != Uniform && c.Distribution != Zipfian {
		add("--distribution %q: want uniform or zipfian", c.Distribution)
	}
	if c.Warmup < 0 {
		add("--warmup %v: want 0 or a positive duration", c.Warmup)
	}
	if c.Timeout <= 0 {
		add("--timeout %v: want a positive duration such as 5s", c.Timeout)
	}
	if c.TTL < time.Millisecond {
		add("--ttl %v: want at least 1ms", c.TTL)
	} else if c.Preload && c.TTL < c.Warmup+c.Duration {
		add("--ttl %v: want at least --warmup plus --duration (%v), or preloaded keys expire during the run", c.TTL, c.Warmup+c.Duration)
	}
	return joinProblems(problems)
}

func joinProblems(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrUsage, strings.Join(problems, "; "))
}

// OpWeight is one entry of the workload mix: an op and its share.
type OpWeight struct {
	// Op is the op's name, one of OpNames.
	Op string
	// Weight is the op's share relative to the others' weights; at least 1.
	Weight int
}

// ParseOps parses a workload mix such as "get:80,set:20": comma-separated
// op names from OpNames, each with an optional positive weight (default 1).
// Unknown or repeated ops and bad weights are errors wrapped in ErrUsage.
func ParseOps(s string) ([]OpWeight, error) {
	var ops []OpWeight
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, weight, hasWeight := strings.Cut(part, ":")
		name = strings.ToLower(strings.TrimSpace(name))
		if _, ok := opByName[name]; !ok {
			return nil, fmt.Errorf("%w: --ops: unknown op %q; want some of %s", ErrUsage, name, strings.Join(OpNames(), ", "))
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: --ops: %s appears twice", ErrUsage, name)
		}
		seen[name] = true
		w := 1
		if hasWeight {
			n, err := strconv.Atoi(strings.TrimSpace(weight))
			if err != nil || n < 1 {
				return nil, fmt.Errorf("%w: --ops: weight of %s is %q; want a positive whole number, as in get:80", ErrUsage, name, weight)
			}
			w = n
		}
		ops = append(ops, OpWeight{Op: name, Weight: w})
	}
	if len(ops) == 0 {
		return nil, fmt.Errorf("%w: --ops %q: want at least one op, such as get:80,set:20", ErrUsage, s)
	}
	return ops, nil
}

// FormatOps writes a mix back as ParseOps reads it.
func FormatOps(ops []OpWeight) string {
	parts := make([]string, len(ops))
	for i, o := range ops {
		parts[i] = fmt.Sprintf("%s:%d", o.Op, o.Weight)
	}
	return strings.Join(parts, ",")
}
