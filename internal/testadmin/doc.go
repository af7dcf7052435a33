// Package testadmin is what `thaw serve --enable-test-admin` adds on top of the
// cache service: a way to cut and restore the service port, and fault
// injection driven by request metadata. Together they stand in for the test
// admin of momento-local, the closed test server the official Momento SDKs
// run their retry and reconnect tests against, so those tests pass unchanged.
//
// # Cutting the port
//
// [BlockableListener] wraps the service listener. [BlockableListener.Block]
// closes every open connection and then closes each new one as soon as it is
// accepted, so clients see UNAVAILABLE and their reconnects fail;
// [BlockableListener.Unblock] lets connections through again. [Handler]
// serves the admin HTTP routes /block and /unblock. The SDK test helpers call
// them with plain GET requests (fetch in Node.js, http.Get in Go, HttpClient
// in .NET); the Go helper joins a trailing-slash base URL with "/block" and
// so asks for "//block", which this handler also accepts. POST is accepted
// too. momento-local itself is started with NET_ADMIN and most likely drops
// packets with a firewall rule; closing connections gives the SDKs the same
// observable events (connection lost while blocked, stream re-established
// after unblock) without needing privileges.
//
// # Fault injection
//
// [Injector] provides gRPC server interceptors that read these metadata keys,
// which the SDKs' momento-local test middlewares set on every request:
//
//   - request-id: the test's session id. The SDK helpers generate one per
//     test (or per client) and send it on every call, so every count below is
//     kept per request-id, not per call. Calls without it share one anonymous
//     session.
//   - return-error, error-rpcs, error-count: calls whose RPC is listed in
//     error-rpcs fail with the status named by return-error (invalid-argument,
//     unknown, already-exists, not-found, internal, permission-denied,
//     unauthenticated, cancelled, unavailable, resource-exhausted,
//     deadline-exceeded, failed-precondition). Without error-count every
//     listed call fails; with error-count N the first N listed calls of the
//     request-id fail and later ones pass (the Go SDK's tests expect exactly N
//     retries before success). Calls of RPCs not in the list neither fail nor
//     use up the count: the SDK tests create their cache through the same
//     client and still count the failures of Get exactly.
//   - delay-rpcs, delay-ms, delay-count: listed calls sleep delay-ms before
//     being handled, every time or only the first delay-count times per
//     request-id. A delayed call whose deadline passes still uses up one
//     delay (the Go SDK expects delay-count 2 with a deadline shorter than the
//     delay to give two timed-out attempts, then success). The sleep ends
//     early when the call's context ends, so the client's deadline fires.
//   - Delay comes first, then the error: with both set, each attempt takes
//     delay-ms and then fails (the Node.js SDK's fixed-timeout tests measure
//     delay-ms plus the retry interval between attempts). The error count is
//     used up only by calls that reach the error, not by calls that ended
//     during their delay.
//   - stream-error-rpcs, stream-error, stream-error-message-limit: a listed
//     server stream delivers stream-error-message-limit messages and then
//     fails with stream-error in place of the next one. This happens on every
//     listed stream, including the one a client opens to resubscribe (the
//     Java SDK's tests trigger the error again after reconnecting), and is not
//     counted per request-id. The .NET tests describe a limit of 3 as "an
//     error after every 2 heartbeats": the SDK swallows the first heartbeat
//     of a subscription, so the limit counts every message the server sends.
//     Without a limit the stream fails at its first message.
//
// RPC names are the gRPC method names in kebab case: /cache_client.Scs/SetIf
// is set-if, /cache_client.Scs/ItemGetTtl is item-get-ttl, and methods of the
// pubsub service get a topic- prefix (topic-publish, topic-subscribe). Two
// aliases follow the SDKs' own tables: SetIfNotExists also answers to set-if
// and ListErase to list-remove. Lists are separated by spaces (commas are
// tolerated). Error names are matched ignoring case, with underscores read as
// hyphens; thaw also accepts the SDKs' MomentoErrorCode names (such as
// SERVER_UNAVAILABLE), which one Node.js middleware sends unconverted. A
// malformed value in a header that applies to the call makes the call fail
// with INVALID_ARGUMENT, so a typo in a test is not mistaken for a pass.
//
// Counts live in memory per request-id; the [Injector] keeps the most recently
// used few thousand and forgets ids unused for some minutes.
//
// Sources read (public momentohq repositories): client-sdk-javascript
// packages/client-sdk-nodejs/test/momento-local-middleware.ts,
// src/config/retry/momento-rpc-method.ts,
// src/config/retry/momento-error-code-metadata-converter.ts,
// test/integration/integration-setup.ts (TestAdminClient) and
// test/integration/retry/*.test.ts; client-sdk-go
// config/middleware/impl/momento_local_metadata_middleware.go,
// momento/test_helpers/momento_local_middleware.go and momento/retry_test.go;
// client-sdk-dotnet tests/Integration/Momento.Sdk.Tests/Retry/
// (TopicClientRetryTest.cs, utils/MomentoLocalMiddleware.cs) and
// src/Momento.Sdk/Internal/ScsTopicClient.cs; client-sdk-java
// TopicClientLocalTest.java; client-sdk-python tests/momento/local/.
package testadmin
