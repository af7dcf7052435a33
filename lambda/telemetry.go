package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Telemetry API 2022-07-01, served beside the Runtime API on each
// environment's own port. Only extensions may subscribe.
const (
	telemetrySubscribePath = "PUT /2022-07-01/telemetry"

	// Buffering bounds and defaults of a subscription, as on Lambda.
	defaultTelemetryMaxItems  = 10000
	minTelemetryMaxItems      = 1000
	maxTelemetryMaxItems      = 10000
	defaultTelemetryMaxBytes  = 256 << 10
	minTelemetryMaxBytes      = 256 << 10
	maxTelemetryMaxBytes      = 1 << 20
	defaultTelemetryTimeoutMs = 1000
	minTelemetryTimeoutMs     = 25
	maxTelemetryTimeoutMs     = 30000
	// telemetryFlushTimeout bounds the deliveries made right after a thaw
	// and at shutdown. Other deliveries end only with the environment: one
	// caught by a freeze completes after the thaw.
	telemetryFlushTimeout = time.Second
)

// telemetryDeliveryTimeout bounds one POST to a subscriber, counting only
// time the environment is not frozen (a delivery caught by a freeze goes on
// after the thaw). A subscriber that does not answer in time loses the
// batch, and its buffer takes new events again. It holds nanoseconds, in a
// variable so that tests can shorten it (export_test.go).
var telemetryDeliveryTimeout atomic.Int64

func init() { telemetryDeliveryTimeout.Store(int64(5 * time.Second)) }

// Telemetry stream types an extension can subscribe to.
const (
	telemetryPlatform  = "platform"
	telemetryFunction  = "function"
	telemetryExtension = "extension"
)

// telemetryEvent is one event of the Telemetry API: the time it happened,
// its type (function, platform.start, ...) and its record.
type telemetryEvent struct {
	Time   string `json:"time"`
	Type   string `json:"type"`
	Record any    `json:"record"`
}

// telemetrySubscriber buffers the events of one subscription and delivers
// them, as JSON arrays POSTed to its destination, while the environment is
// not frozen.
type telemetrySubscriber struct {
	host        telemetryHost
	logger      *slog.Logger
	extensionID string
	destination string
	types       map[string]bool
	maxItems    int
	maxBytes    int
	timeout     time.Duration
	client      *http.Client
	// ctx ends when the environment ends or the subscription is replaced.
	ctx    context.Context
	cancel context.CancelFunc
	kick   chan struct{} // signalled (non-blocking) when an event is buffered
	stop   chan struct{} // closed when the subscription is replaced
	// sending holds a token while a delivery is under way: deliveries to
	// one subscriber go one at a time, so that it gets the events in the
	// order they happened. The deliver loop and a flush of the hub (after
	// a thaw, at shutdown) would otherwise POST two batches at once, which
	// the subscriber may handle in either order.
	sending chan struct{}

	mu     sync.Mutex        // guards the fields below
	buf    []json.RawMessage // guarded by mu: at most maxItems events and maxBytes
	bytes  int               // guarded by mu
	oldest time.Time         // guarded by mu: when the oldest buffered event arrived
	// droppedRecords and droppedBytes count the events that found the
	// buffer full since the last delivery; the next one reports them in a
	// platform.logsDropped event, as Lambda does.
	droppedRecords int // guarded by mu
	droppedBytes   int // guarded by mu
}

// telemetryHost is what the Telemetry API needs from the environment's
// lifecycle: deliveries wait while it is frozen and end with it.
type telemetryHost interface {
	// frozen reports whether the environment is frozen now.
	frozen() bool
	// waitThawed returns once the environment is not frozen: true, or false
	// if stop closed or the environment ended first.
	waitThawed(stop <-chan struct{}) bool
	// ended is closed when the environment's process tree has ended.
	ended() <-chan struct{}
}

// extensionIdentifier tells which registered extension a request comes
// from: only those may subscribe.
type extensionIdentifier interface {
	identify(r *http.Request) (id, name string, err error)
}

// telemetryHub serves the Telemetry API of one environment: it keeps the
// subscriptions of its extensions, publishes events to them, and keeps the
// events of the Init phase for extensions that subscribe later in it.
// Publishing never calls back into the environment, so the environment may
// publish while holding its own mu (mu is then taken after it).
type telemetryHub struct {
	host       telemetryHost
	extensions extensionIdentifier
	logger     *slog.Logger

	mu          sync.Mutex             // guards subscribers, initEvents and initEventsDone
	subscribers []*telemetrySubscriber // guarded by mu
	// initEvents are the events published during Init, for extensions
	// that subscribe after they happened; initEventsDone ends the keeping.
	initEvents     []bufferedTelemetry // guarded by mu
	initEventsDone bool                // guarded by mu
}

// newTelemetryHub returns the Telemetry API of an environment whose
// lifecycle is host and whose extensions are identified by extensions.
func newTelemetryHub(host telemetryHost, extensions extensionIdentifier, logger *slog.Logger) *telemetryHub {
	return &telemetryHub{host: host, extensions: extensions, logger: logger}
}

// routes adds the Telemetry API route to mux.
func (t *telemetryHub) routes(mux *http.ServeMux) {
	mux.HandleFunc(telemetrySubscribePath, t.handleSubscribe)
}

// telemetrySubscription is the body of PUT /2022-07-01/telemetry.
type telemetrySubscription struct {
	SchemaVersion string `json:"schemaVersion"`
	Destination   struct {
		Protocol string `json:"protocol"`
		URI      string `json:"URI"`
	} `json:"destination"`
	Types     []string `json:"types"`
	Buffering struct {
		MaxItems  *int `json:"maxItems"`
		MaxBytes  *int `json:"maxBytes"`
		TimeoutMs *int `json:"timeoutMs"`
	} `json:"buffering"`
}

// bounded returns *v, or def when v is nil, and whether it lies in [lo, hi].
func bounded(v *int, def, lo, hi int) (int, bool) {
	if v == nil {
		return def, true
	}
	return *v, *v >= lo && *v <= hi
}

// destinationURL maps the subscriber's URI to one thaw can reach: the host
// sandbox.localdomain, which names the execution environment on Lambda, is
// the loopback address here.
func destinationURL(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", fmt.Errorf("lambda: telemetry destination: %w", err)
	}
	if u.Scheme != "http" || u.Port() == "" {
		return "", fmt.Errorf("lambda: telemetry destination %q must be http://sandbox.localdomain:PORT/PATH", uri)
	}
	switch u.Hostname() {
	case "sandbox.localdomain", "localhost", "127.0.0.1":
		u.Host = net.JoinHostPort("127.0.0.1", u.Port())
	default:
		return "", fmt.Errorf("lambda: telemetry destination host %q must be sandbox.localdomain", u.Hostname())
	}
	return u.String(), nil
}

// handleSubscribe subscribes the extension that sends r to the streams and
// destination its body names, replacing its earlier subscription.
func (t *telemetryHub) handleSubscribe(w http.ResponseWriter, r *http.Request) {
	extID, extName, err := t.extensions.identify(r)
	if err != nil {
		writeRuntimeError(w, http.StatusForbidden, "AccessDeniedException", "only registered extensions may subscribe to the Telemetry API: "+err.Error())
		return
	}
	var sub telemetrySubscription
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&sub); err != nil {
		writeRuntimeError(w, http.StatusBadRequest, "ValidationError", "subscription body: "+err.Error())
		return
	}
	invalid := func(msg string) { writeRuntimeError(w, http.StatusBadRequest, "ValidationError", msg) }
	if sub.Destination.Protocol != "HTTP" {
		invalid(fmt.Sprintf("destination protocol %q is not supported by thaw; use HTTP", sub.Destination.Protocol))
		return
	}
	dest, err := destinationURL(sub.Destination.URI)
	if err != nil {
		invalid(err.Error())
		return
	}
	types := map[string]bool{}
	for _, t := range sub.Types {
		if t != telemetryPlatform && t != telemetryFunction && t != telemetryExtension {
			invalid(fmt.Sprintf("type %q is not platform, function or extension", t))
			return
		}
		types[t] = true
	}
	maxItems, ok1 := bounded(sub.Buffering.MaxItems, defaultTelemetryMaxItems, minTelemetryMaxItems, maxTelemetryMaxItems)
	maxBytes, ok2 := bounded(sub.Buffering.MaxBytes, defaultTelemetryMaxBytes, minTelemetryMaxBytes, maxTelemetryMaxBytes)
	timeoutMs, ok3 := bounded(sub.Buffering.TimeoutMs, defaultTelemetryTimeoutMs, minTelemetryTimeoutMs, maxTelemetryTimeoutMs)
	if !ok1 || !ok2 || !ok3 {
		invalid(fmt.Sprintf("buffering must have maxItems %d-%d, maxBytes %d-%d, timeoutMs %d-%d",
			minTelemetryMaxItems, maxTelemetryMaxItems, minTelemetryMaxBytes, maxTelemetryMaxBytes, minTelemetryTimeoutMs, maxTelemetryTimeoutMs))
		return
	}
	s := &telemetrySubscriber{
		host: t.host, logger: t.logger, extensionID: extID, destination: dest, types: types,
		maxItems: maxItems, maxBytes: maxBytes, timeout: time.Duration(timeoutMs) * time.Millisecond,
		client:  &http.Client{},
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		sending: make(chan struct{}, 1),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go func() {
		select {
		case <-t.host.ended():
		case <-s.stop:
		}
		s.cancel()
	}()
	t.mu.Lock()
	kept := t.subscribers[:0]
	for _, old := range t.subscribers {
		if old.extensionID == extID {
			close(old.stop) // a new subscription replaces the extension's old one
			continue
		}
		kept = append(kept, old)
	}
	// Under mu, so that each event published meanwhile reaches s exactly
	// once: from this backlog or from publish.
	for _, event := range t.initEvents {
		if s.types[event.stream] {
			s.add(event.data)
		}
	}
	t.subscribers = append(kept, s)
	t.mu.Unlock()
	go s.deliver()
	t.logger.Info("telemetry subscription", "extension", extName, "types", sub.Types, "destination", dest)
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "OK")
}

// publish buffers an event of the given stream (platform, function or
// extension) for every subscriber to that stream.
// Until the Init phase ends it also keeps the event, so that an extension
// subscribing during Init receives what happened before its subscription, as
// on Lambda.
func (t *telemetryHub) publish(stream, eventType string, record any) {
	t.mu.Lock()
	subs := append([]*telemetrySubscriber(nil), t.subscribers...)
	var data []byte
	if !t.initEventsDone && len(t.initEvents) < maxTelemetryMaxItems {
		data = marshalTelemetry(eventType, record)
		t.initEvents = append(t.initEvents, bufferedTelemetry{stream: stream, data: data})
	}
	t.mu.Unlock()
	for _, s := range subs {
		if !s.types[stream] {
			continue
		}
		if data == nil {
			data = marshalTelemetry(eventType, record)
		}
		s.add(data)
	}
}

// marshalTelemetry encodes one Telemetry API event that happens now.
func marshalTelemetry(eventType string, record any) json.RawMessage {
	data, _ := json.Marshal(telemetryEvent{Time: time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), Type: eventType, Record: record})
	return data
}

// bufferedTelemetry is an event published during Init, kept for extensions
// that subscribe later in the Init phase.
type bufferedTelemetry struct {
	stream string
	data   json.RawMessage
}

// endInit stops keeping events for later subscribers: the Init phase,
// during which extensions subscribe, is over.
func (t *telemetryHub) endInit() {
	t.mu.Lock()
	t.initEventsDone = true
	t.initEvents = nil
	t.mu.Unlock()
}

// add buffers event. A full buffer (maxItems events or maxBytes, which
// happens only while a delivery is stuck or the environment is frozen) drops
// it and counts it, as Lambda drops what a subscriber cannot keep up with.
func (s *telemetrySubscriber) add(event json.RawMessage) {
	s.mu.Lock()
	if len(s.buf) >= s.maxItems || (len(s.buf) > 0 && s.bytes+len(event) > s.maxBytes) {
		s.droppedRecords++
		s.droppedBytes += len(event)
		s.mu.Unlock()
		return
	}
	if len(s.buf) == 0 {
		s.oldest = time.Now()
	}
	s.buf = append(s.buf, event)
	s.bytes += len(event)
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// deliver sends the buffer when it holds maxItems events or maxBytes, or
// when its oldest event has waited timeout, but never while the environment
// is frozen: then it waits for the thaw. It ends with the environment or the
// subscription.
func (s *telemetrySubscriber) deliver() {
	done := s.host.ended()
	for {
		s.mu.Lock()
		n, full, due := len(s.buf), len(s.buf) >= s.maxItems || s.bytes >= s.maxBytes, time.Until(s.oldest.Add(s.timeout))
		s.mu.Unlock()
		if n == 0 {
			select {
			case <-s.kick:
				continue
			case <-s.stop:
				return
			case <-done:
				return
			}
		}
		if !full && due > 0 {
			timer := time.NewTimer(due)
			select {
			case <-timer.C:
			case <-s.kick:
				timer.Stop()
				continue
			case <-s.stop:
				timer.Stop()
				return
			case <-done:
				timer.Stop()
				return
			}
		}
		if !s.host.waitThawed(s.stop) {
			return
		}
		s.flush(s.ctx)
	}
}

// flush POSTs the buffered events as one JSON array once the delivery under
// way, if any, has ended, giving up when ctx ends or after
// telemetryDeliveryTimeout of unfrozen time. Giving up before its turn
// leaves the events buffered for the next delivery.
func (s *telemetrySubscriber) flush(ctx context.Context) {
	select {
	case s.sending <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-s.sending }()
	s.mu.Lock()
	batch := s.buf
	s.buf, s.bytes = nil, 0
	dropped, droppedBytes := s.droppedRecords, s.droppedBytes
	s.droppedRecords, s.droppedBytes = 0, 0
	s.mu.Unlock()
	if dropped > 0 {
		batch = append(batch, marshalTelemetry("platform.logsDropped", map[string]any{
			"reason":         "Some logs were dropped because the downstream consumer is slower than the logs production rate",
			"droppedRecords": dropped,
			"droppedBytes":   droppedBytes,
		}))
	}
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go cancelAfterRunning(ctx, s.host, cancel, time.Duration(telemetryDeliveryTimeout.Load()))
	body, _ := json.Marshal(batch)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.destination, bytes.NewReader(body))
	if err != nil {
		s.logger.Warn("telemetry delivery", "err", err)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		s.logger.Warn("telemetry delivery failed; events dropped", "destination", s.destination, "events", len(batch), "err", err)
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// flush delivers what every subscriber has buffered, now, each within
// timeout, after the delivery to it under way, if any (one a freeze caught
// goes on after the thaw). The environment must not be frozen. Right after
// a thaw it hands subscribers what the freeze held back (the last
// invocation's platform.report, typically) before the runtime gets the next
// event.
func (t *telemetryHub) flush(timeout time.Duration) {
	t.mu.Lock()
	subs := append([]*telemetrySubscriber(nil), t.subscribers...)
	t.mu.Unlock()
	for _, s := range subs {
		ctx, cancel := context.WithTimeout(s.ctx, timeout)
		s.flush(ctx)
		cancel()
	}
}

// cancelAfterRunning calls cancel once the environment host has spent
// timeout not frozen, the clock restarting after each freeze, unless ctx
// ends first.
func cancelAfterRunning(ctx context.Context, host telemetryHost, cancel context.CancelFunc, timeout time.Duration) {
	for {
		timer := time.NewTimer(timeout)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return
		}
		if !host.frozen() {
			cancel()
			return
		}
		if !host.waitThawed(ctx.Done()) {
			return
		}
	}
}

// platformStart publishes platform.start for inv.
func (t *telemetryHub) platformStart(inv *invocation) {
	t.publish(telemetryPlatform, "platform.start", map[string]any{
		"requestId": inv.id,
		"version":   "$LATEST",
		"tracing":   map[string]string{"type": "X-Amzn-Trace-Id", "value": inv.traceID},
	})
}

// platformDone publishes platform.runtimeDone and platform.report for inv
// with its status (success, error or timeout) and metrics.
func (t *telemetryHub) platformDone(inv *invocation, status string, r invocationReport) {
	tracing := map[string]string{"type": "X-Amzn-Trace-Id", "value": inv.traceID}
	done := map[string]any{
		"requestId": inv.id,
		"status":    status,
		"metrics":   map[string]any{"durationMs": r.durationMs},
		"tracing":   tracing,
	}
	if status != "success" {
		done["errorType"] = r.errorType
	}
	t.publish(telemetryPlatform, "platform.runtimeDone", done)
	metrics := map[string]any{
		"durationMs":       r.durationMs,
		"billedDurationMs": r.billedMs,
		"memorySizeMB":     r.memoryMB,
		"maxMemoryUsedMB":  r.maxMemoryMB,
	}
	if r.initMs > 0 {
		metrics["initDurationMs"] = r.initMs
	}
	report := map[string]any{"requestId": inv.id, "status": status, "metrics": metrics, "tracing": tracing}
	if status != "success" {
		report["errorType"] = r.errorType
	}
	t.publish(telemetryPlatform, "platform.report", report)
}

// initTelemetryRecord is the part every platform.init* record shares.
func initTelemetryRecord() map[string]any {
	return map[string]any{"initializationType": "on-demand", "phase": "init"}
}

// platformInitStart publishes platform.initStart: the Init phase of
// environment envID of fn has begun.
func (t *telemetryHub) platformInitStart(fn Function, envID string) {
	record := initTelemetryRecord()
	record["functionName"] = fn.Name
	record["functionVersion"] = "$LATEST"
	record["instanceId"] = envID
	record["instanceMaxMemory"] = fn.MemoryMB
	t.publish(telemetryPlatform, "platform.initStart", record)
}

// platformInitRuntimeDone publishes platform.initRuntimeDone: the runtime has
// finished its own initialization (status success), or reported it failed
// (status error, with errorType).
func (t *telemetryHub) platformInitRuntimeDone(status, errorType string) {
	record := initTelemetryRecord()
	record["status"] = status
	if errorType != "" {
		record["errorType"] = errorType
	}
	t.publish(telemetryPlatform, "platform.initRuntimeDone", record)
}

// platformInitReport publishes platform.initReport: the Init phase, runtime
// and extensions together, ended successfully after took.
func (t *telemetryHub) platformInitReport(took time.Duration) {
	record := initTelemetryRecord()
	record["status"] = "success"
	record["metrics"] = map[string]any{"durationMs": float64(took.Microseconds()) / 1000}
	t.publish(telemetryPlatform, "platform.initReport", record)
}
