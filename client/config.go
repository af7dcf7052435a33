package client

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// Limits and defaults shared by the presets.
const (
	// MinKeepaliveTime is the shortest keepalive interval grpc-go honours: it
	// raises anything shorter, zero included, to this value with only a log
	// warning. Config.Validate refuses shorter non-zero intervals instead.
	MinKeepaliveTime = 10 * time.Second
	// DefaultMaxMessageSize bounds one gRPC message in either direction: the
	// 5 MB item limit plus room for the key and framing, as the Momento Go SDK
	// sets it.
	DefaultMaxMessageSize = 5_243_000
	// DefaultRecoveryIdleThreshold is the gap after which the first call is
	// treated as a call after a freeze. See Config.RecoveryIdleThreshold.
	DefaultRecoveryIdleThreshold = 2 * time.Second
	// DefaultProbeTimeout is the deadline of the first attempt after a gap.
	// See Config.ProbeTimeout.
	DefaultProbeTimeout = 250 * time.Millisecond
	// DefaultMaxIdle is the gap after which the connection is replaced before
	// the next call, as the Momento SDKs' maxIdleMillis (240000) does.
	DefaultMaxIdle = 4 * time.Minute
)

// Config says how a Client talks to the server: deadlines, keepalive, retries
// and freeze-aware recovery. Start from a preset (Laptop, InRegion, Lambda or
// Auto) and edit fields; the zero Config is not valid. New calls Validate.
type Config struct {
	// Timeout bounds every data call (Get, Set, ...), all its attempts and
	// its recovery included: a call returns within Timeout, or sooner when
	// the caller's context ends first. Must be positive. Default 5 s in
	// Laptop, 1.1 s in InRegion and Lambda. Must exceed ProbeTimeout when
	// Recovery is on.
	Timeout time.Duration

	// ControlTimeout bounds every control call (CreateCache, DeleteCache,
	// FlushCache, ListCaches), which the server may take longer to answer.
	// Must be positive. Default 60 s in every preset, as in the Momento SDKs.
	ControlTimeout time.Duration

	// KeepaliveTime is the idle interval after which the client sends an
	// HTTP/2 PING to check the connection. Zero turns keepalive off: New then
	// passes no keepalive option to grpc-go at all (grpc-go would raise a
	// zero interval to 10 s, not disable it). A non-zero value below
	// MinKeepaliveTime (10 s) is refused by Validate rather than silently
	// raised. Default 10 s in Laptop and InRegion, 0 (off) in Lambda: a
	// frozen process cannot answer or time its pings, so a PING sent before a
	// freeze "times out" after the thaw and kills a healthy connection.
	KeepaliveTime time.Duration

	// KeepaliveTimeout is how long the client waits for the PING's ACK before
	// closing the connection. Must be positive when KeepaliveTime is set
	// (grpc-go would otherwise use 20 s); ignored when keepalive is off.
	// Default 1 s. A dead connection is noticed about KeepaliveTime +
	// KeepaliveTimeout after the last byte read from it.
	KeepaliveTimeout time.Duration

	// KeepalivePermitWithoutCalls lets the client ping while no call is in
	// flight, which is what detects a connection that died while idle.
	// Ignored when keepalive is off. Default true in Laptop and InRegion. The
	// server must allow it (thaw serve accepts pings every second or more,
	// idle or not).
	KeepalivePermitWithoutCalls bool

	// Recovery turns on freeze-aware recovery: the first call after a gap
	// longer than RecoveryIdleThreshold is sent with a ProbeTimeout deadline
	// (idempotent calls) or preceded by a Ping with that deadline
	// (non-idempotent calls), and a connection that fails that probe is
	// replaced at once. It costs nothing when calls follow each other closely.
	// Default on in Lambda, off in Laptop and InRegion, whose keepalive finds
	// dead connections instead (though only between calls and only after
	// KeepaliveTime + KeepaliveTimeout); turning it on there too is safe. See
	// the package documentation.
	Recovery bool

	// RecoveryIdleThreshold is the gap since the last reply from the server
	// beyond which the next call is treated as the first after a freeze.
	// Must be positive when Recovery is on. Default 2 s: longer than the
	// pauses between the calls of one busy invocation, so steady traffic never
	// probes, and short enough that any freeze between invocations counts.
	// The gap is measured with the monotonic clock when the call starts, so it
	// includes time spent frozen.
	RecoveryIdleThreshold time.Duration

	// ProbeTimeout is the deadline of the first attempt of an idempotent call
	// after a gap, and of the Ping that precedes a non-idempotent one. Must be
	// positive and below Timeout when Recovery is on. Default 250 ms: two to
	// three orders of magnitude above a loopback or in-region round trip
	// (0.05–2 ms) and a cache operation's service time, so a healthy
	// connection answers well within it even on a thawing, CPU-starved
	// function; and small enough that the 1.1 s Timeout keeps 850 ms for a
	// new connection and the retried call.
	ProbeTimeout time.Duration

	// HedgeDelay is how long the first attempt after a gap waits for an
	// answer on the suspect connection before a spare connection is dialled
	// beside it and raced against it (see the package documentation). Zero,
	// the default in every preset, derives it from the calls made so far:
	// 1.25 times their smoothed duration plus 1 ms, at least 5 ms; negative
	// dials no spare, so a connection that gives no answer is replaced after
	// ProbeTimeout. It never exceeds ProbeTimeout/2. Used only when
	// Recovery is on.
	HedgeDelay time.Duration

	// MaxIdle replaces the connection before the next call when no reply has
	// arrived for this long, without probing: middleboxes drop idle TCP
	// connections silently (an AWS NAT gateway after 350 s). Zero turns it
	// off. When Recovery is on it must exceed RecoveryIdleThreshold. Default
	// 4 min in every preset, as the Momento SDKs' maxIdleMillis. It works with
	// Recovery off too.
	MaxIdle time.Duration

	// MaxAttempts is how many times an idempotent call is sent when it fails
	// with CANCELLED, INTERNAL or UNAVAILABLE; attempts follow each other at
	// once. Non-idempotent calls (conditional writes, increments, pushes,
	// pops, UpdateTTL, ListRetain, ListErase, SortedSetUnionStore; see
	// methods.go) are sent once whatever its value. The short first attempt of a call
	// after a gap is not counted. Must be at least 1 (1 disables retries).
	// Default 3.
	MaxAttempts int

	// DefaultTTL is the time to live of items written with a zero TTL. Must
	// be positive; the server caps it (24 h by default). Default 1 min.
	DefaultTTL time.Duration

	// MaxMessageSize bounds one gRPC message sent or received. Must be
	// positive. Default DefaultMaxMessageSize.
	MaxMessageSize int
}

// defaultConfig holds the values every preset shares.
func defaultConfig() Config {
	return Config{
		ControlTimeout:        60 * time.Second,
		RecoveryIdleThreshold: DefaultRecoveryIdleThreshold,
		ProbeTimeout:          DefaultProbeTimeout,
		MaxIdle:               DefaultMaxIdle,
		MaxAttempts:           3,
		DefaultTTL:            time.Minute,
		MaxMessageSize:        DefaultMaxMessageSize,
	}
}

// Laptop returns the configuration for development machines and long-running
// processes with relaxed latency: a 5 s deadline and keepalive every 10 s
// (grpc-go's minimum) with a 1 s timeout, pinging idle connections too.
// Recovery is off.
func Laptop() Config {
	c := defaultConfig()
	c.Timeout = 5 * time.Second
	c.KeepaliveTime = MinKeepaliveTime
	c.KeepaliveTimeout = time.Second
	c.KeepalivePermitWithoutCalls = true
	return c
}

// InRegion returns the configuration for long-running servers in the same
// region as the cache: a 1.1 s deadline and the same keepalive as Laptop.
// Recovery is off.
func InRegion() Config {
	c := Laptop()
	c.Timeout = 1100 * time.Millisecond
	return c
}

// Lambda returns the configuration for AWS Lambda and other environments that
// freeze the process between invocations: a 1.1 s deadline, no keepalive (no
// keepalive dial option at all, so no PING can be left unanswered across a
// freeze) and freeze-aware recovery on, which replaces keepalive's job of
// finding dead connections at the moment a call needs the connection.
func Lambda() Config {
	c := defaultConfig()
	c.Timeout = 1100 * time.Millisecond
	c.Recovery = true
	return c
}

// Lambda environment variables that Auto looks for; the Lambda runtime sets
// both in every function's environment.
const (
	envLambdaFunctionName = "AWS_LAMBDA_FUNCTION_NAME"
	envLambdaRuntimeAPI   = "AWS_LAMBDA_RUNTIME_API"
)

// Auto returns Lambda() when the process runs in a Lambda execution
// environment, recognised by AWS_LAMBDA_FUNCTION_NAME or
// AWS_LAMBDA_RUNTIME_API being set (thaw lambda sets both as well), and
// Laptop() otherwise. It reads the environment when called.
func Auto() Config {
	if os.Getenv(envLambdaFunctionName) != "" || os.Getenv(envLambdaRuntimeAPI) != "" {
		return Lambda()
	}
	return Laptop()
}

// Validate reports every problem with c as one error matching
// ErrInvalidArgument, or nil. It refuses what grpc-go would otherwise change
// silently (a keepalive interval below 10 s, a zero keepalive timeout) and
// settings that cannot work together.
func (c Config) Validate() error {
	var problems []error
	bad := func(format string, args ...any) {
		problems = append(problems, invalidArgument("", "config: "+format, args...))
	}
	if c.Timeout <= 0 {
		bad("Timeout %v must be positive", c.Timeout)
	}
	if c.ControlTimeout <= 0 {
		bad("ControlTimeout %v must be positive", c.ControlTimeout)
	}
	switch {
	case c.KeepaliveTime < 0:
		bad("KeepaliveTime %v must not be negative", c.KeepaliveTime)
	case c.KeepaliveTime > 0 && c.KeepaliveTime < MinKeepaliveTime:
		bad("KeepaliveTime %v is below grpc-go's minimum of %v (grpc-go would raise it silently); use 0 to turn keepalive off", c.KeepaliveTime, MinKeepaliveTime)
	case c.KeepaliveTime > 0 && c.KeepaliveTimeout <= 0:
		bad("KeepaliveTimeout %v must be positive when keepalive is on (grpc-go would use 20s)", c.KeepaliveTimeout)
	}
	if c.Recovery {
		if c.RecoveryIdleThreshold <= 0 {
			bad("RecoveryIdleThreshold %v must be positive when Recovery is on", c.RecoveryIdleThreshold)
		}
		if c.ProbeTimeout <= 0 {
			bad("ProbeTimeout %v must be positive when Recovery is on", c.ProbeTimeout)
		} else if c.ProbeTimeout >= c.Timeout {
			bad("ProbeTimeout %v must be below Timeout %v, or a failed probe leaves no time to recover", c.ProbeTimeout, c.Timeout)
		}
		if c.MaxIdle > 0 && c.MaxIdle <= c.RecoveryIdleThreshold {
			bad("MaxIdle %v must exceed RecoveryIdleThreshold %v", c.MaxIdle, c.RecoveryIdleThreshold)
		}
	}
	if c.MaxIdle < 0 {
		bad("MaxIdle %v must not be negative", c.MaxIdle)
	}
	if c.MaxAttempts < 1 {
		bad("MaxAttempts %d must be at least 1", c.MaxAttempts)
	}
	if c.DefaultTTL <= 0 {
		bad("DefaultTTL %v must be positive", c.DefaultTTL)
	}
	if c.MaxMessageSize <= 0 {
		bad("MaxMessageSize %d must be positive", c.MaxMessageSize)
	}
	if len(problems) == 0 {
		return nil
	}
	if len(problems) == 1 {
		return problems[0]
	}
	return fmt.Errorf("client: %d config problems: %w", len(problems), errors.Join(problems...))
}
