// Command go is the keepalive lab's Go Lambda function: thaw's client, made
// once during init and reused by every invocation, with its wire tracer
// writing JSON lines to stdout, where thaw lambda tags each with the request
// id current when it was read. `thaw lab keepalive` builds it with go build.
//
// Environment (set by the lab):
//
//	LAB_PRESET    laptop (client.Laptop: keepalive every 10 s, 1 s timeout),
//	              lambda (client.Lambda: no keepalive, freeze-aware recovery)
//	              or inregion (client.InRegion)
//	LAB_ENDPOINT  host:port of the cache server (the lab's netem proxy)
//	LAB_TLS       "1" to connect with TLS, trusting the CA in LAB_CA_FILE
//	LAB_CACHE     the cache to use (the lab's server creates it)
//
// The events and replies are those of the Node.js function
// (lab/functions/node/index.mjs): {"op": "none"} spins for work_ms and
// returns, {"op": "get"|"set"} makes one cache call and then waits work_ms.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/thaw-dev/thaw/client"
)

// event is one invocation's instruction.
type event struct {
	Op     string  `json:"op"`
	WorkMs float64 `json:"work_ms"`
	Key    int     `json:"key"`
}

// reply is what the caller sees; ErrorCode is empty on success.
type reply struct {
	RequestID string  `json:"request_id"`
	Op        string  `json:"op"`
	Ms        float64 `json:"ms"`
	ErrorCode string  `json:"error_code"`
	Error     string  `json:"error"`
}

// function holds what init builds.
type function struct {
	cache *client.Client
	name  string
}

// handle does what ev asks and reports it.
func (f *function) handle(ctx context.Context, ev event) (reply, error) {
	r := reply{Op: ev.Op}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		r.RequestID = lc.AwsRequestID
	}
	work := time.Duration(ev.WorkMs * float64(time.Millisecond))
	if ev.Op == "" || ev.Op == "none" {
		r.Op = "none"
		for until := time.Now().Add(work); time.Now().Before(until); {
		}
		return r, nil
	}
	key := []byte(fmt.Sprintf("key-%d", ev.Key))
	start := time.Now()
	var err error
	if ev.Op == "set" {
		err = f.cache.Set(ctx, f.name, key, []byte("value set by "+r.RequestID), 10*time.Minute)
	} else {
		_, _, err = f.cache.Get(ctx, f.name, key)
	}
	r.Ms = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		r.ErrorCode = errorCode(err)
		r.Error = err.Error()
	}
	time.Sleep(work)
	return r, nil
}

// errorCode names a client error the way the Node.js SDK does, e.g.
// TIMEOUT_ERROR, so that both clients' failures count under the same codes.
func errorCode(err error) string {
	var cerr *client.Error
	if !errors.As(err, &cerr) {
		return "UNKNOWN_ERROR"
	}
	switch cerr.Code {
	case client.CodeTimeout:
		return "TIMEOUT_ERROR"
	case client.CodeUnavailable:
		return "SERVER_UNAVAILABLE"
	case client.CodeCancelled:
		return "CANCELLED_ERROR"
	case client.CodeInternal:
		return "INTERNAL_SERVER_ERROR"
	case client.CodeUnknown:
		return "UNKNOWN_ERROR"
	}
	return strings.ToUpper(strings.ReplaceAll(cerr.Code.String(), " ", "_")) + "_ERROR"
}

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))
	f, err := setUp(logger)
	if err != nil {
		logger.Error("init failed", "err", err)
		os.Exit(1)
	}
	lambda.Start(f.handle)
}

// setUp makes the client during init, so that the connection is made before
// the first invocation.
func setUp(logger *slog.Logger) (*function, error) {
	endpoint := envOr("LAB_ENDPOINT", "127.0.0.1:8080")
	var cfg client.Config
	switch preset := envOr("LAB_PRESET", "laptop"); preset {
	case "laptop":
		cfg = client.Laptop()
	case "lambda":
		cfg = client.Lambda()
	case "inregion":
		cfg = client.InRegion()
	default:
		return nil, fmt.Errorf("LAB_PRESET=%s: want laptop, lambda or inregion", preset)
	}
	var tlsConfig *tls.Config
	if os.Getenv("LAB_TLS") == "1" {
		pem, err := os.ReadFile(os.Getenv("LAB_CA_FILE"))
		if err != nil {
			return nil, fmt.Errorf("LAB_CA_FILE: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("LAB_CA_FILE: no certificate in %s", os.Getenv("LAB_CA_FILE"))
		}
		host, _, _ := strings.Cut(endpoint, ":")
		tlsConfig = &tls.Config{RootCAs: pool, ServerName: host}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.New(ctx, cfg, client.EndpointCredentials(endpoint, "", tlsConfig), client.WithTracer(logger))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", endpoint, err)
	}
	return &function{cache: c, name: envOr("LAB_CACHE", "lab")}, nil
}

// envOr returns the environment variable key, or def when it is empty.
func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
