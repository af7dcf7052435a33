// Package client is thaw's Go SDK for caches that speak the Momento gRPC
// protocol (thaw serve, momento-local, Momento itself): a Client with
// context-first methods for the scalar data operations (Get, GetBatch, Set,
// SetBatch, SetIf, SetIfNotExists, Delete, KeysExist, Increment, UpdateTTL,
// ItemTTL, ItemType), the hash-conditional scalars (GetWithHash, SetWithHash,
// SetIfHash), the collections (below), topics (Publish, PublishText,
// Subscribe; below), the control operations (CreateCache, DeleteCache,
// FlushCache, ListCaches) and Ping.
//
// Its presets survive the freezes of serverless environments and still
// notice dead connections: Lambda() sends no keepalive PINGs, which a frozen
// process cannot answer in time, and instead checks the connection when a
// call needs it after a gap (freeze-aware recovery, below).
//
//	c, err := client.New(ctx, client.Auto(), client.LocalCredentials("127.0.0.1:8080"))
//	if err != nil { ... }
//	defer c.Close()
//	if err := c.Set(ctx, "orders", []byte("k"), []byte("v"), time.Minute); err != nil { ... }
//	v, found, err := c.Get(ctx, "orders", []byte("k"))
//
// # Collections
//
// Dictionaries, sets, lists and sorted sets live under keys of the same
// cache as the scalars; a collection's name is its key, so Delete, KeysExist,
// ItemTTL, ItemType and UpdateTTL work on them too.
//
//	Dictionary  DictionaryGetField, DictionaryGetFields, DictionaryFetch,
//	            DictionarySetFields, DictionaryIncrement,
//	            DictionaryRemoveFields, DictionaryDelete, DictionaryLength
//	Set         SetFetch, SetAddElements, SetRemoveElements, SetDelete,
//	            SetContainsElements, SetLength, SetSample, SetPop
//	List        ListPushFront, ListPushBack, ListConcatenateFront,
//	            ListConcatenateBack, ListPopFront, ListPopBack, ListFetch,
//	            ListLength, ListRemoveValue, ListRetain, ListErase, ListDelete
//	SortedSet   SortedSetPutElements, SortedSetFetchByRank,
//	            SortedSetFetchByScore, SortedSetGetScore, SortedSetGetScores,
//	            SortedSetGetRank, SortedSetRemoveElements, SortedSetDelete,
//	            SortedSetIncrementScore, SortedSetLength,
//	            SortedSetLengthByScore, SortedSetUnionStore
//
// Reads of a missing collection report found == false rather than an error,
// like Get. A collection exists only while it has elements: removing, popping
// or retaining away the last one deletes it. A call on a key that holds
// another kind of item (a scalar, or another collection type) fails with
// ErrFailedPrecondition, and a write that would make a collection larger than
// the server's item size limit with ErrLimitExceeded. Writes that add
// elements take a CollectionTTL, the Momento SDKs' CollectionTtl: the zero
// value gives a new collection Config.DefaultTTL and resets an existing
// one's expiry on every write; CollectionTTLOf(d) uses d instead, and
// WithNoRefreshTTLOnUpdates keeps the expiry of an existing collection.
//
//	n, err := c.ListPushBack(ctx, "orders", []byte("recent"), order,
//		client.ListPushOptions{TTL: client.CollectionTTLOf(time.Hour), TruncateToSize: 100})
//	top, found, err := c.SortedSetFetchByRank(ctx, "orders", []byte("scores"),
//		client.IndexSlice(0, 10), client.Descending)
//
// # Topics
//
// Publish and PublishText append a value to a topic of a cache; every
// subscriber gets it with the topic's next sequence number (within a
// sequence page, which changes when the topic is reset by a flush).
// Subscribe returns a Subscription whose Next reads items, and
// discontinuities where the server no longer had items the subscriber
// should have had:
//
//	sub, err := c.Subscribe(ctx, "orders", "new", client.SubscribeOptions{})
//	defer sub.Close()
//	for {
//		ev, err := sub.Next(ctx)
//		if err != nil { ... } // ctx ended, or the subscription did (cache deleted, Close)
//		switch ev.Kind {
//		case client.TopicEventItem:          // ev.Item.Value, .Text, .Position, .PublisherID
//		case client.TopicEventDiscontinuity: // items up to ev.Discontinuity.NewSequence were lost
//		}
//	}
//
// Next, rather than an iterator or a channel, because every read takes its
// own context: a Lambda function reads within its invocation's deadline,
// and the subscription outlives the invocation. An ended context leaves the
// subscription untouched and loses no event.
//
// A subscription resubscribes by itself whenever its stream ends (the
// server stops, the connection drops, the cache is flushed), asking for the
// item after the last one it received, in that item's sequence page: the
// caller sees every item the server still retains exactly once and in
// order, and a discontinuity for the rest. Items that come again are
// dropped. Until the first item arrives there is no position to resume at,
// and a resubscription starts at the topic's latest item. Resubscribing is
// immediate after a stream that worked, then backs off
// (SubscribeOptions.ResubscribeBackoff, doubling to MaxResubscribeBackoff)
// while new streams fail before their first message. Errors that another
// attempt cannot cure (NOT_FOUND: the cache was deleted, PERMISSION_DENIED,
// UNAUTHENTICATED, INVALID_ARGUMENT, ...) end the subscription, and Next
// returns them.
//
// A stream can also die without ending: a NAT or a proxy forgets the flow
// and nothing more arrives, not even the server's heartbeats, which it
// sends whenever a subscription has been idle for a second. A subscription
// watches for that, freeze-aware:
//
//   - Heartbeat timeout, for a running process. While the subscription
//     waits for a message, a watchdog ticks every HeartbeatTimeout/4 (default
//     3 s / 4) and counts the silence. After HeartbeatTimeout of it the
//     stream is given up: a Ping with Config.ProbeTimeout decides whether
//     its connection is dead too (no answer: the connection is replaced) or
//     only the stream, and the subscription resubscribes on the client's
//     current connection.
//   - Gaps, which a freeze causes. The silence counts only time the process
//     ran: a tick that comes more than half a period late was held up by a
//     freeze (Go's monotonic clock, which the ticks and the package's Clock
//     read, keeps running while the cgroup freezer or SIGSTOP holds the
//     process), and it adds one period, not the freeze. So a healthy stream
//     is never given up for a freeze, however long; without this, every
//     thaw would "detect" a dead stream, the keepalive bug one layer up.
//   - Yet a stream may really die during a freeze. So a gap is the signal
//     for the same check that calls make after a gap (see Freeze-aware
//     recovery): when a tick comes late, or when the subscription reads a
//     message, or starts a read, more than Config.RecoveryIdleThreshold
//     (default 2 s) after the previous message, the connection gets a Ping
//     with Config.ProbeTimeout (default 250 ms). Messages read after a gap
//     may have waited in a socket buffer since before it, so only the Ping
//     tells: answered, the stream is kept (and calls that follow need no
//     probe); unanswered, the connection is replaced at once, and the
//     subscription resubscribes after its last item. A dead stream is thus
//     replaced on the first read after the thaw, within about ProbeTimeout,
//     and nothing the server still retains is lost. One check covers a gap,
//     whichever of its signs comes first.
//
// The idle threshold must exceed the server's heartbeat interval (2 s
// against 1 s by default), so that a gap is never just the time between
// two heartbeats, and HeartbeatTimeout should be three heartbeat intervals
// or more, since up to 3/8 of it may be a freeze's share. These settings
// apply whether or not Config.Recovery is on. Subscription.Stats counts
// heartbeats, resubscribes, silent streams and connection checks; the
// tracer reports each (below).
//
// # Configuration
//
// A Config holds every setting; each field's documentation gives its
// default, its minimum and how it interacts with the others. Presets return
// a fresh Config to edit:
//
//	preset      Timeout  keepalive (time/timeout/idle)  Recovery
//	Laptop()    5 s      10 s / 1 s / yes               off
//	InRegion()  1.1 s    10 s / 1 s / yes               off
//	Lambda()    1.1 s    none (no dial option at all)   on
//	Auto()      Lambda() when AWS_LAMBDA_FUNCTION_NAME or AWS_LAMBDA_RUNTIME_API is set, else Laptop()
//
// The Momento SDKs ping every 5 s; grpc-go silently raises any interval
// below 10 s (zero included) to 10 s, so the presets use 10 s and
// Config.Validate refuses less rather than let grpc-go change it. Options
// inject a Clock (WithClock) and a tracer (WithTracer).
//
// # Credentials
//
// LocalCredentials is plaintext with an empty authorization header, like
// the SDKs' momento-local provider. APIKeyCredentials takes a v1 API key
// (thaw token create) and sends its api_key as the authorization header.
// EndpointCredentials names an address, a token and an optional tls.Config,
// whose RootCAs may hold a private CA.
//
// # Errors
//
// Every failure is an *Error whose Code follows the Node.js SDK's mapping of
// gRPC status codes (NOT_FOUND is ErrCacheNotFound unless the server's "err"
// trailer says item_not_found or store_not_found; RESOURCE_EXHAUSTED is
// ErrLimitExceeded; INTERNAL, DATA_LOSS and ABORTED are ErrInternal;
// OUT_OF_RANGE and UNIMPLEMENTED are ErrBadRequest; ...). Match with
// errors.Is(err, client.ErrTimeout) or take it apart with errors.As; the
// gRPC status error is its cause.
//
// # Retries
//
// An idempotent call (Get, GetBatch, Set, SetBatch, Delete, KeysExist,
// ItemTTL, ItemType, GetWithHash, SetWithHash, FlushCache, ListCaches, Ping,
// every collection read, and the collection writes that leave the same
// collection however often they are applied: DictionarySetFields,
// DictionaryRemoveFields, DictionaryDelete, SetAddElements,
// SetRemoveElements, SetDelete, ListRemoveValue, ListDelete,
// SortedSetPutElements, SortedSetRemoveElements, SortedSetDelete) that fails
// with CANCELLED, INTERNAL or UNAVAILABLE is sent again at once, up to
// Config.MaxAttempts attempts, all within Config.Timeout. SetIf,
// SetIfNotExists, SetIfHash, Increment, UpdateTTL, CreateCache, DeleteCache
// and the collection writes that are not idempotent (DictionaryIncrement,
// SetPop, ListPushFront, ListPushBack, ListConcatenateFront,
// ListConcatenateBack, ListPopFront, ListPopBack, ListRetain, ListErase,
// SortedSetIncrementScore, SortedSetUnionStore) are sent once: after an
// error their effect is unknown, and the caller decides. After a gap they
// are preceded by a Ping rather than probed (see below).
//
// # Freeze-aware recovery
//
// A Lambda environment is frozen between invocations: no goroutine runs, no
// timer fires, no byte is read. A connection can die during a freeze (the
// server restarts, a NAT or load balancer forgets the flow) and nothing
// notices until the next call hangs on it for its whole deadline; a client
// without keepalive then fails every call on that connection until TCP
// itself gives up, which takes many minutes, or never when a proxy keeps the
// TCP connection alive.
// Keepalive cannot help in a frozen process: a PING sent just before a freeze
// is answered during it, and after the thaw grpc-go's keepalive timer may
// fire before its reader has read the ACK, closing a healthy connection. So
// with Config.Recovery (on in Lambda()) the client checks the connection at
// the only moment it matters: when a call wants it after a gap.
//
// The gap is the time since the last reply from the server, read from the
// Clock when a call starts. By default that is Go's monotonic clock, which
// keeps running while a process is frozen by the cgroup freezer or stopped by
// SIGSTOP, so the freeze is part of the gap (it does not advance while the
// whole machine is suspended). A call that got no reply at all (deadline
// passed, UNAVAILABLE) also makes the next call check, gap or not.
//
//   - gap <= RecoveryIdleThreshold (default 2 s), nothing suspect: the call
//     is sent as usual. The hot path costs a clock read and a few atomic
//     operations: no PING, no extra round trip.
//   - gap > MaxIdle (default 4 min): the connection is replaced before the
//     call, as the Momento SDKs do; middleboxes drop flows idle that long.
//   - otherwise, idempotent call: its first attempt gets a ProbeTimeout
//     deadline (default 250 ms) and races a spare connection. A healthy
//     connection answers with the real reply, which costs nothing extra. If
//     no answer has come within the hedge delay (Config.HedgeDelay: by
//     default 1.25 times the smoothed duration of recent calls plus 1 ms,
//     at least 5 ms),
//     a spare connection is dialled beside it, and once the spare is ready
//     the call is sent on it too: the first answer wins, the other attempt
//     is cancelled, and the connection that answered stays (an unused spare
//     is closed, so a healthy network keeps one connection). A connection
//     that died while the process was frozen thus costs about one
//     connection set-up, not ProbeTimeout. If neither answers within
//     ProbeTimeout, or the attempt fails with UNAVAILABLE, the client dials
//     a fresh connection, closes the old one and sends the call again,
//     within what is left of Timeout. The caller sees no error.
//   - otherwise, non-idempotent call: a cache_client.Ping goes first (one
//     extra round trip, only after a gap), raced against a spare connection
//     as above; the call then goes, exactly once, on the connection whose
//     Ping answered, or on a fresh one if none did. A write is thus applied
//     at most once; if the connection dies between the Ping and the call,
//     the caller gets the call's error (ErrTimeout or ErrUnavailable).
//
// Calls still in flight on a replaced connection end with CANCELLED at once
// rather than at their deadlines, and the idempotent ones are retried on the
// new connection. When several calls race to replace one connection, one
// replaces it and the others use its replacement.
//
// Why 2 s and 250 ms: a busy invocation's calls follow each other within
// milliseconds, so steady traffic never probes, while any freeze between
// invocations is longer than 2 s in practice. 250 ms is two to three orders
// of magnitude above a loopback or in-region round trip (0.05 to 2 ms) and a
// cache operation's service time, leaving room for a thawing, CPU-starved
// function; and it leaves 850 ms of the 1.1 s Timeout for the handshake and
// the retried call. A false alarm (a slow but healthy server) costs one new
// connection, never a caller-visible error for an idempotent call.
//
// # Tracing
//
// WithTracer(logger) records what happens on the wire, by observing the
// bytes through the dialer (grpc.WithContextDialer) and, for TLS, inside
// the TLS connection. The HTTP/2 frames are followed with fixed-size state
// (9-byte headers, payloads skipped except PING and the first 256 bytes of
// GOAWAY), so tracing adds no allocation per call. Events, as the record's
// message, with their attributes:
//
//	dial               conn, channel, addr
//	connected          conn, channel, local, remote, took
//	dial failed        conn, channel, addr, took, err                  (Warn)
//	ping sent          conn, purpose (keepalive, bdp, shutdown, other), payload
//	ping ack received  conn, purpose, rtt (matched to the PING by payload)
//	ping received      conn, purpose                                   (Debug; also "ping ack sent")
//	keepalive timeout  conn, unacked_for, keepalive_timeout, note      (Warn)
//	goaway sent        conn, code, last_stream_id, debug               (Warn unless NO_ERROR)
//	goaway received    conn, code, last_stream_id, debug
//	closed             conn, reason (local close, eof, error), lifetime, bytes_in, bytes_out, err
//	idle gap           op, gap, after_no_reply, action                 (a call after a gap)
//	probe              channel, took, code                             (Debug; Warn when the Ping fails)
//	spare dial         channel, spare                                  (a spare connection raced against a suspect one)
//	reconnect          channel, new_channel, reason, gap               (Warn)
//	call               op, took, attempts, channel                     (Debug)
//	call failed        op, took, attempts, channel, code, err          (Warn)
//	subscribe          cache, topic, resume_at, page, channel, reason  (every stream a subscription opens)
//	stream ended       topic, channel, reason, err, messages           (Warn)
//	stream gap         topic, channel, why, gap                        (a connection check after a gap)
//	stream silent      topic, channel, silence, connection_alive       (Warn; heartbeat timeout)
//	subscription ended cache, topic, err                               (Warn; an error resubscribing cannot cure)
//
// grpc-go's flow-control (bdp) PINGs follow ordinary replies; their events
// are at Debug. A keepalive timeout is inferred: grpc-go closes the
// connection for it without saying so on the wire, so the tracer reports it
// when the client closes a connection whose keepalive PING has gone
// unacknowledged for longer than Config.KeepaliveTimeout; the close that
// follows is a "goaway sent" (client transport shutdown) and a "closed" with
// reason "local close".
//
// Every event carries request_id, the AwsRequestID of the Lambda invocation
// whose context (lambdacontext) was passed to the latest call, so that events
// happening on the wire between calls, or during the next invocation, are
// tied to the invocation that was current: the correlation the Momento team
// did by hand with GRPC_TRACE. A PING sent as one invocation ends and
// acknowledged after the next thaw shows up as "ping ack received" with an
// rtt as long as the freeze and the request_id of the invocation that sent
// it. With a tracer, grpc-go does not use HTTP
// CONNECT proxies named in the environment.
package client
