package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/thaw-dev/thaw/api/pubsubpb"
)

// fanoutConfig is one fan-out run: a publisher sending messages at rate to
// subscribers that keep up and slow ones that take slowDelay per message.
type fanoutConfig struct {
	topic       string
	subscribers int
	slow        int
	slowDelay   time.Duration
	messages    int
	rate        int
	payload     int
}

// fanoutResult is what one run measured.
type fanoutResult struct {
	cfg fanoutConfig
	// deliveries counts the items that reached subscribers that keep up;
	// p50 to max are their delivery latencies, publish call start to the
	// item's arrival.
	deliveries             int
	p50, p99, p999, latMax time.Duration
	// missed counts the items the subscribers that keep up did not get, and
	// gaps their discontinuities: both should be 0.
	missed, gaps int64
	elapsed      time.Duration // first publish to the last delivery
	serverCPU    float64       // server CPU seconds over elapsed
	rssBefore    float64
	rssPeak      float64
	rssAfter     float64 // once the slow subscribers caught up
	// What the slow subscribers got: items, discontinuities and the items
	// those skipped, over all of them.
	slowItems, slowGaps, slowSkipped int64
}

// subscriber is one subscription's receive loop and what it saw.
type subscriber struct {
	stream grpc.ServerStreamingClient[pubsubpb.XSubscriptionItem]
	slow   bool
	delay  time.Duration // a slow subscriber's time per message
	// catchUp, once set, makes a slow subscriber read at full speed.
	catchUp *atomic.Bool
	last    int // the number of messages the run publishes

	latencies []time.Duration
	items     int64
	gaps      int64
	skipped   int64
	done      chan struct{} // closed when the last message arrived, or the stream ended
	err       error
}

// openSubscriptions subscribes n times to topic from the latest item, over
// connections of t.perConn subscriptions each, and returns once each
// has its first heartbeat. cancel ends them all.
func openSubscriptions(ctx context.Context, t *target, topic func(i int) string, n int) ([]grpc.ServerStreamingClient[pubsubpb.XSubscriptionItem], func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	var conns []*grpc.ClientConn
	closeAll := func() {
		cancel()
		for _, c := range conns {
			c.Close()
		}
	}
	streams := make([]grpc.ServerStreamingClient[pubsubpb.XSubscriptionItem], n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		if i%t.perConn == 0 {
			conn, err := t.dial()
			if err != nil {
				closeAll()
				return nil, nil, err
			}
			conns = append(conns, conn)
		}
		client := pubsubpb.NewPubsubClient(conns[len(conns)-1])
		wg.Go(func() {
			req := &pubsubpb.XSubscriptionRequest{CacheName: proto.String(benchCache), Topic: proto.String(topic(i))}
			s, err := client.Subscribe(ctx, req)
			if err == nil {
				var first *pubsubpb.XSubscriptionItem
				if first, err = s.Recv(); err == nil && first.GetHeartbeat() == nil {
					err = fmt.Errorf("first message %v, want a heartbeat", first)
				}
			}
			if err != nil {
				errs <- fmt.Errorf("subscription %d: %w", i, err)
				return
			}
			streams[i] = s
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		closeAll()
		return nil, nil, err
	}
	return streams, closeAll, nil
}

// receive reads the subscription until it has the run's last message or
// ends, timing each item by the timestamp at its start.
func (s *subscriber) receive() {
	defer close(s.done)
	next := 1
	for {
		m, err := s.stream.Recv()
		if err != nil {
			s.err = err
			return
		}
		now := time.Now()
		if d := m.GetDiscontinuity(); d != nil {
			s.gaps++
			s.skipped += int64(d.GetNewTopicSequence()) + 1 - int64(next)
			next = int(d.GetNewTopicSequence()) + 1
			continue
		}
		item := m.GetItem()
		if item == nil {
			continue // a heartbeat
		}
		s.items++
		seq := int(item.GetTopicSequenceNumber())
		if !s.slow {
			sent := int64(binary.BigEndian.Uint64(item.GetValue().GetBinary()))
			s.latencies = append(s.latencies, now.Sub(time.Unix(0, sent)))
		}
		next = seq + 1
		if seq >= s.last {
			return
		}
		if s.slow && !s.catchUp.Load() {
			time.Sleep(s.delay)
		}
	}
}

// runFanout runs one fan-out measurement.
func runFanout(ctx context.Context, t *target, cfg fanoutConfig) (fanoutResult, error) {
	res := fanoutResult{cfg: cfg}
	topic := func(int) string { return cfg.topic }
	fast, closeFast, err := openSubscriptions(ctx, t, topic, cfg.subscribers)
	if err != nil {
		return res, err
	}
	defer closeFast()
	var slowStreams []grpc.ServerStreamingClient[pubsubpb.XSubscriptionItem]
	if cfg.slow > 0 {
		var closeSlow func()
		// Slow subscribers have connections of their own, like the
		// separate clients they would be.
		slowStreams, closeSlow, err = openSubscriptions(ctx, t, topic, cfg.slow)
		if err != nil {
			return res, err
		}
		defer closeSlow()
	}
	var catchUp atomic.Bool
	var subs []*subscriber
	for _, st := range fast {
		subs = append(subs, &subscriber{stream: st, last: cfg.messages, catchUp: &catchUp, done: make(chan struct{}),
			latencies: make([]time.Duration, 0, cfg.messages)})
	}
	for _, st := range slowStreams {
		subs = append(subs, &subscriber{stream: st, slow: true, delay: cfg.slowDelay, last: cfg.messages, catchUp: &catchUp, done: make(chan struct{})})
	}
	for _, s := range subs {
		go s.receive()
	}

	before, err := t.sample(ctx)
	if err != nil {
		return res, err
	}
	res.rssBefore, res.rssPeak = before.rss, before.rss
	stopWatch := watchPeak(ctx, t, &res.rssPeak)

	start := time.Now()
	if err := publish(ctx, t, cfg); err != nil {
		stopWatch()
		return res, err
	}
	timeout := time.After(time.Minute)
	for _, s := range subs[:cfg.subscribers] {
		select {
		case <-s.done:
		case <-timeout:
			stopWatch()
			return res, errors.New("subscribers that keep up did not get every message within a minute of the last publish")
		case <-ctx.Done():
			stopWatch()
			return res, ctx.Err()
		}
	}
	res.elapsed = time.Since(start)
	during, err := t.sample(ctx)
	if err != nil {
		stopWatch()
		return res, err
	}
	res.serverCPU = during.cpuSeconds - before.cpuSeconds

	// The slow ones now read at full speed to the end: they find a
	// discontinuity where the topic no longer kept what they missed.
	catchUp.Store(true)
	for _, s := range subs[cfg.subscribers:] {
		select {
		case <-s.done:
		case <-time.After(time.Minute):
			stopWatch()
			return res, errors.New("slow subscribers did not catch up within a minute")
		}
	}
	stopWatch()
	after, err := t.sample(ctx)
	if err != nil {
		return res, err
	}
	res.rssAfter = after.rss

	latencies := make([]time.Duration, 0, cfg.subscribers*cfg.messages)
	for _, s := range subs {
		if s.err != nil {
			return res, fmt.Errorf("a subscription ended: %w", s.err)
		}
		if s.slow {
			res.slowItems += s.items
			res.slowGaps += s.gaps
			res.slowSkipped += s.skipped
			continue
		}
		latencies = append(latencies, s.latencies...)
		res.missed += int64(cfg.messages) - s.items
		res.gaps += s.gaps
	}
	slices.Sort(latencies)
	res.deliveries = len(latencies)
	res.p50, res.p99, res.p999, res.latMax = percentile(latencies, 50), percentile(latencies, 99), percentile(latencies, 99.9), percentile(latencies, 100)
	return res, nil
}

// publish sends cfg.messages binary messages at cfg.rate, each starting
// with the time its Publish call started.
func publish(ctx context.Context, t *target, cfg fanoutConfig) error {
	conn, err := t.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	client := pubsubpb.NewPubsubClient(conn)
	tick := time.NewTicker(time.Second / time.Duration(cfg.rate))
	defer tick.Stop()
	for range cfg.messages {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
		payload := make([]byte, cfg.payload)
		binary.BigEndian.PutUint64(payload, uint64(time.Now().UnixNano()))
		req := &pubsubpb.XPublishRequest{CacheName: proto.String(benchCache), Topic: proto.String(cfg.topic),
			Value: &pubsubpb.XTopicValue{Kind: &pubsubpb.XTopicValue_Binary{Binary: payload}}}
		if _, err := client.Publish(ctx, req); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
	}
	return nil
}

// watchPeak samples the server's memory every 200 ms into peak until the
// returned function is called.
func watchPeak(ctx context.Context, t *target, peak *float64) func() {
	ctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if s, err := t.sample(ctx); err == nil {
					mu.Lock()
					*peak = max(*peak, s.rss)
					mu.Unlock()
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// percentile returns the p-th percentile (0 to 100) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p / 100 * float64(len(sorted)-1))
	return sorted[i]
}
