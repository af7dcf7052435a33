// Package lab is thaw's keepalive lab: it reproduces, on one machine and with
// real mechanisms only, the failure the Momento team found in AWS Lambda
// (gRPC keepalive pings sent in one invocation that "time out" in the next),
// and shows which client configurations avoid it.
//
// A lab run starts an embedded cache server (package server), one netem proxy
// per run between the functions and the server (package internal/netem), and
// one Lambda function per (client, preset, scenario) in thaw's emulator
// (package lambda), which freezes each function between invocations with the
// cgroup freezer. Every run replays the same seeded schedule of invocations;
// nothing injects errors or timeouts. The lab then reads what happened from
// the functions' own logs (grpc-js keepalive traces for the Node.js SDK,
// thaw's wire tracer for the Go client, each line tagged with the request id
// current when thaw read it), from the proxy's connection events and from the
// invocations' replies, and reports metrics (JSON, a terminal table) and a
// timeline per run (HTML with inline SVG).
//
// RunTopics is the same setting for a topic subscription (thaw lab topics):
// a subscriber function per client and scenario, a publisher outside the
// functions publishing steadily, and the items each invocation returned
// compared with what the server acknowledged and retained.
//
// Context runs the seed's first experiment, a setInterval counter against the
// wall clock across invocations.
package lab
