#!/usr/bin/env bash
# Memory per element of thaw's embedded store next to Redis 7, side by side
# in one run: strings as the baseline, then hashes (dictionaries), sets,
# lists and sorted sets, each as one big collection and as many small ones,
# with small and larger values (issue: collections count toward
# --max-memory with their real overhead measured).
#
# Usage: scripts/bench-memory.sh [membench flags...]
#
#   -elements N   elements per row (default 100000): the string keys, the big
#                 collection, the small collections in all
#   -small N      elements per small collection (default 10)
#   -sizes A,B    value sizes in bytes (default 16,100)
#   -kinds LIST   some of string,hash,set,list,zset (default all)
#   -key-len N    bytes per key (default 16; issue 15 measures 12)
#   -tolerance F  flag rows whose accounted bytes differ from the heap growth
#                 by more than this fraction (default 0.25)
#
# It installs redis-server from Debian's packages when missing (quietly;
# Debian 12's is Redis 7.0), starts a private one on a free loopback port in
# a temporary directory with persistence off, runs the Go side
# (internal/store/memory/internal/membench), which loads the same data into
# a fresh memory store and into Redis and prints the table, and on exit,
# failure or Ctrl-C stops that redis-server and removes its directory.
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

# Installs: quiet, and a no-op when already done.
if ! command -v redis-server >/dev/null; then
	had_redis=$(pgrep -x redis-server || true)
	if ! out=$( (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) 2>&1); then
		echo "$out" >&2
		exit 1
	fi
	# Where nothing stops package scripts from starting services (no
	# policy-rc.d), the package starts the system's redis-server; this
	# script installed it only to run its own, so it stops that one again.
	if [[ -z $had_redis ]] && pgrep -x redis-server >/dev/null; then
		echo "bench-memory: stopping the redis-server service that installing the package started" >&2
		service redis-server stop >/dev/null 2>&1 || systemctl stop redis-server >/dev/null 2>&1 || true
	fi
fi
command -v setsid >/dev/null || { echo "bench-memory: setsid (util-linux) is required" >&2; exit 1; }

run_dir=$(mktemp -d "${TMPDIR:-/tmp}/thaw-bench-memory.XXXXXX")
redis_pid=""

# stop ends redis-server, started with setsid (its own process group):
# SIGTERM, up to 10 s to exit, then SIGKILL to the group.
stop() {
	local pid=$1
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	echo "bench-memory: redis-server $pid did not exit on SIGTERM; killing its process group" >&2
	kill -KILL -- "-$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop "$redis_pid"
	if ((rc != 0 && rc != 130 && rc != 143)) && [[ -f $run_dir/redis.log ]]; then
		echo "--- last lines of redis.log" >&2
		tail -n 15 "$run_dir/redis.log" >&2
	fi
	rm -rf "$run_dir"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Built before Redis starts, so that a compile error leaves nothing to stop.
go build -o "$run_dir/membench" ./internal/store/memory/internal/membench

# start_redis starts redis-server on a loopback port nobody listens on and
# waits until it answers; a port taken meanwhile makes it try another.
start_redis() {
	local port
	for _ in $(seq 20); do
		port=$((20000 + RANDOM % 40000))
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
		setsid redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
			--dir "$run_dir" --logfile "$run_dir/redis.log" --daemonize no </dev/null &
		redis_pid=$!
		for _ in $(seq 100); do
			kill -0 "$redis_pid" 2>/dev/null || break
			if [[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]]; then
				redis_port=$port
				return 0
			fi
			sleep 0.05
		done
		stop "$redis_pid"
		redis_pid=""
	done
	echo "bench-memory: could not start redis-server on a free port" >&2
	return 1
}
start_redis

echo "thaw:    $(git describe --always --dirty 2>/dev/null || echo unknown)"
echo "started: redis-server --bind 127.0.0.1 --port $redis_port --save '' --appendonly no"
"$run_dir/membench" -redis "127.0.0.1:$redis_port" "$@"
