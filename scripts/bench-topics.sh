#!/usr/bin/env bash
# Topics under load against a real `thaw serve` on loopback (issue 10): one
# publisher to 1,000 subscribers of one topic, with and without slow
# subscribers (delivery latency p50/p99, what the slow ones get), and 10,000
# idle subscriptions (the server's memory and CPU per subscription).
#
# Usage: scripts/bench-topics.sh [topicbench flags...]
#
#   -subscribers N   fan-out subscribers that keep up (default 1000)
#   -slow N          slow subscribers of the second of three fan-out runs (default 10)
#   -messages N      messages per fan-out run (default 3000)
#   -rate N          publishes per second (default 100, the service's limit)
#   -idle N          idle subscriptions (default 10000)
#   -idle-window D   how long the idle CPU is measured (default 20s)
#   -skip-fanout, -skip-idle
#
# It builds thaw into .bin/thaw and runs server/internal/topicbench, which
# starts that binary as the server (a process of its own, so that the
# server's CPU and memory are read from its /metrics alone) and stops it on
# exit. It takes about three and a half minutes with the defaults.
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
mkdir -p .bin
go build -o .bin/thaw ./cmd/thaw
exec go run ./server/internal/topicbench -thaw .bin/thaw "$@"
