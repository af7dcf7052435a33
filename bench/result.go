package bench

import (
	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latency holds latency percentiles in microseconds, read from an HDR
// histogram with three significant digits. All are zero without requests.
type Latency struct {
	MinUS  float64 `json:"min_us"`
	MeanUS float64 `json:"mean_us"`
	P50US  float64 `json:"p50_us"`
	P90US  float64 `json:"p90_us"`
	P99US  float64 `json:"p99_us"`
	P999US float64 `json:"p999_us"`
	MaxUS  float64 `json:"max_us"`
}

// OpResult is the measurement of one op of the mix.
type OpResult struct {
	// Ops counts the op's successful requests: hits, misses and writes.
	Ops int64 `json:"ops"`
	// OpsPerS is Ops over the measured duration.
	OpsPerS float64 `json:"ops_per_s"`
	// Hits and Misses count reads that found, or did not find, their item.
	Hits   int64 `json:"hits"`
	Misses int64 `json:"misses"`
	// Errors counts failed requests; they are not in Ops or the latencies.
	Errors int64 `json:"errors"`
	Latency
}

// LoadResult is what a load run measured. Its JSON form is the contract of
// `thaw bench --json`: field names only ever get added.
type LoadResult struct {
	// Mode is "closed" (closed loop, --concurrency) or "open" (fixed rate).
	Mode string `json:"mode"`
	// Ops counts successful requests in the measured window (warmup
	// excluded): reads that hit or missed, writes and deletes.
	Ops int64 `json:"ops"`
	// OpsPerS is Ops over DurationS.
	OpsPerS float64 `json:"ops_per_s"`
	// DurationS is the measured window in seconds: --duration, or less
	// after Ctrl-C.
	DurationS float64 `json:"duration_s"`
	// TargetRate is the open loop's --rate; zero in closed loop.
	TargetRate float64 `json:"target_rate,omitempty"`
	// Hits and Misses count reads; Errors counts failed requests of all ops.
	Hits   int64 `json:"hits"`
	Misses int64 `json:"misses"`
	Errors int64 `json:"errors"`
	// ErrorsByCode counts failed requests by gRPC status code name
	// ("Unavailable"), or "Unexpected" for replies the bench cannot read.
	ErrorsByCode map[string]int64 `json:"errors_by_code"`
	// Latency is over the successful requests of every op: from send to
	// reply in closed loop, from the intended send time in open loop.
	Latency
	// PerOp breaks the result down by op name.
	PerOp map[string]*OpResult `json:"per_op"`
	// OpsPerSecond and ErrorsPerSecond count completions in each second of
	// the measured window.
	OpsPerSecond    []int64 `json:"ops_per_second"`
	ErrorsPerSecond []int64 `json:"errors_per_second"`
	// Interrupted says the run was stopped early (Ctrl-C).
	Interrupted bool `json:"interrupted"`
	// Config echoes the settings of the run.
	Config ConfigEcho `json:"config"`

	total *hdrhistogram.Histogram
	hists map[string]*hdrhistogram.Histogram // by op name
}

// ConfigEcho is the part of a Config a result repeats, so that a JSON line
// says what it measured.
type ConfigEcho struct {
	Endpoint     string  `json:"endpoint"`
	Cache        string  `json:"cache"`
	TLS          bool    `json:"tls"`
	Auth         bool    `json:"auth"`
	Concurrency  int     `json:"concurrency"`
	Connections  int     `json:"connections"`
	Rate         float64 `json:"rate"`
	Ops          string  `json:"ops"`
	ValueSize    int     `json:"value_size"`
	Keys         int     `json:"keys"`
	Distribution string  `json:"distribution"`
	DurationS    float64 `json:"duration_s"`
	WarmupS      float64 `json:"warmup_s"`
	TimeoutS     float64 `json:"timeout_s"`
	Preload      bool    `json:"preload"`
}

func echoConfig(cfg Config) ConfigEcho {
	return ConfigEcho{
		Endpoint:     cfg.Endpoint,
		Cache:        cfg.Cache,
		TLS:          cfg.UsesTLS(),
		Auth:         cfg.Token != "",
		Concurrency:  cfg.Concurrency,
		Connections:  cfg.Connections,
		Rate:         cfg.Rate,
		Ops:          FormatOps(cfg.Ops),
		ValueSize:    cfg.ValueSize,
		Keys:         cfg.Keys,
		Distribution: string(cfg.Distribution),
		DurationS:    cfg.Duration.Seconds(),
		WarmupS:      cfg.Warmup.Seconds(),
		TimeoutS:     cfg.Timeout.Seconds(),
		Preload:      cfg.Preload,
	}
}

// IdleResult is what an idle run measured. Its JSON form is the contract of
// `thaw bench --idle-connections N --json`.
type IdleResult struct {
	// Mode is "idle".
	Mode string `json:"mode"`
	// Connections is --idle-connections; Connected of them were
	// established (a Ping answered), FailedToConnect were not.
	Connections     int `json:"connections"`
	Connected       int `json:"connected"`
	FailedToConnect int `json:"failed_to_connect"`
	// Lost counts connections that ended during the window: a ping not
	// acknowledged within the keepalive timeout, a GOAWAY (such as
	// too_many_pings), or a closed socket.
	Lost int `json:"lost"`
	// LostReasons counts lost connections by reason.
	LostReasons map[string]int `json:"lost_reasons,omitempty"`
	// Pings counts keepalive pings sent; PingFailures those not acknowledged.
	Pings        int64 `json:"pings"`
	PingFailures int64 `json:"ping_failures"`
	// PingRTT is the round trip of acknowledged pings.
	PingRTT Latency `json:"ping_rtt"`
	// KeepaliveS is the ping interval, DurationS the idle window and
	// ConnectS how long establishing the connections took.
	KeepaliveS float64 `json:"keepalive_s"`
	DurationS  float64 `json:"duration_s"`
	ConnectS   float64 `json:"connect_s"`
	// Server is the server process's cost, when it could be watched.
	Server ServerUsage `json:"server"`
	// Interrupted says the run was stopped early (Ctrl-C).
	Interrupted bool `json:"interrupted"`
	// Endpoint and TLS echo the configuration.
	Endpoint string `json:"endpoint"`
	TLS      bool   `json:"tls"`
}

// ServerUsage is what the server process used, read from /proc.
type ServerUsage struct {
	// Local says the server's process could be watched; Note says why not,
	// or what to keep in mind (a server in the bench's own process).
	Local bool   `json:"local"`
	Note  string `json:"note,omitempty"`
	// PID is the process watched.
	PID int `json:"pid,omitempty"`
	// CPUPercent is the process's CPU time (user and system) over the idle
	// window, as a percentage of one core.
	CPUPercent float64 `json:"cpu_percent"`
	// RSSBeforeBytes is the resident set before connecting, RSSStartBytes
	// once all connections are up, RSSEndBytes at the end of the window.
	RSSBeforeBytes int64 `json:"rss_before_bytes"`
	RSSStartBytes  int64 `json:"rss_start_bytes"`
	RSSEndBytes    int64 `json:"rss_end_bytes"`
	// RSSPerConnBytes is (RSSEndBytes - RSSBeforeBytes) / Connected.
	RSSPerConnBytes int64 `json:"rss_per_conn_bytes"`
	// OpenFilesLimit is the process's soft RLIMIT_NOFILE, when readable.
	OpenFilesLimit int64 `json:"open_files_limit,omitempty"`
}
