#!/usr/bin/env bash
# thaw serve's speed and memory beside its floor and beside Redis, in one run
# (issue 15 item 2, issue 13 item 6). Targets, all on loopback:
#
#   thaw         thaw serve on its memory store
#   thaw-epoll   the same with --transport epoll (internal/grpcloop: one
#                event loop for every connection instead of grpc-go's server)
#   floor        bench/floor: a bare grpc-go server answering Get/Set from a
#                sync.Map, no interceptors (the floor of thaw's stack)
#   redis        a standalone redis-server, driven by redis-benchmark
#   thaw-redis   thaw serve --store redis://... on a local Redis Cluster
#                (3 masters, 3 replicas, scripts/redis-cluster.sh)
#   cluster      redis-benchmark --cluster against that same cluster
#
# The gRPC targets are driven by `thaw bench --json`, the Redis ones by
# redis-benchmark; both with 100-byte values on a fixed key space. Each
# round measures, in this order, SET and GET at concurrency 64 (throughput)
# and SET and GET at concurrency 1 (latency), each workload on every target
# in turn (thaw, floor, redis, thaw-redis, cluster, then the next workload),
# so that drift on a shared machine hits all targets alike; the table shows
# each figure's median over the rounds, and the servers' CPU time per
# request (user+system from /proc; all six nodes for the cluster, the thaw
# process alone for thaw-redis), steadier than wall-clock figures on a busy
# machine. Each gRPC target's key space is written once before the rounds.
# Then the memory row: 1M items with a TTL loaded into a fresh thaw serve
# (and, with BENCH_MEM_TARGETS, a fresh floor) with `thaw bench`'s preload
# (keys bench:0 to bench:999999, 11.9 bytes on average), and into a fresh
# redis-server with `redis-cli --pipe` (SET k00000000000 v EX 3600, 12-byte
# keys): each process's RSS and heap growth per item. Last the idle row:
# BENCH_IDLE_CONNS connections, each sending only an HTTP/2 PING every 5 s
# after one Ping call (`thaw bench --idle-connections`), held for
# BENCH_IDLE_DURATION seconds against a fresh process of each idle target:
#
#   thaw         thaw serve
#   thaw-epoll   thaw serve --transport epoll
#   floor        the grpc-go floor above
#   c-floor      bench/floor/cfloor/idle-floor.c: an HTTP/2 responder in C
#                on one epoll loop, one thread, no runtime, that answers
#                only the pings and the Ping call: what the kernel and the
#                machine cost
#
# with each server's CPU (% of one core over the window) and RSS growth per
# connection, and their ratios to issue 15's goal (2.5 %, 10 KB).
#
# Usage: scripts/bench-server.sh
#
# Environment (defaults sized for under 10 minutes on an otherwise idle
# 2-core machine; a busy one stretches the loads of the memory row most):
#   BENCH_ROUNDS=3          rounds of the alternation
#   BENCH_DURATION=3        seconds measured per workload and target
#   BENCH_WARMUP=1          seconds of unmeasured load before each thaw bench run
#   BENCH_KEYS=10000        key space of the speed runs
#   BENCH_CONCURRENCY=64    the throughput runs' concurrency
#   BENCH_CONNECTIONS=4     gRPC connections of thaw bench at that concurrency
#                           (1 at concurrency 1)
#   BENCH_MEM_ITEMS=1000000 items of the memory row (0 skips it)
#   BENCH_MEM_GOGC=10       GOGC of the Go servers of the memory row: low, so
#                           that their heap in use is close to their live
#                           bytes (neither can be told to collect), as
#                           Redis's used_memory is; 100 shows the default
#   BENCH_MEM_TARGETS=thaw,redis
#                           the memory row's targets, some of thaw,floor,redis
#                           (the floor's 1M unary loads take as long as
#                           thaw's or longer, so it is left out by default)
#   BENCH_TARGETS=thaw,thaw-epoll,floor,redis,thaw-redis,cluster
#   BENCH_IDLE_CONNS=10000  connections of the idle row (0 skips it)
#   BENCH_IDLE_DURATION=15  seconds each idle target is measured
#   BENCH_IDLE_TARGETS=thaw,thaw-epoll,floor,c-floor
#   BENCH_OUT=FILE          also write the tables (markdown) to FILE
#   BENCH_RESULTS=FILE      also write every raw measurement (TSV) to FILE
#   BENCH_THAW_BIN=PATH     run this thaw binary (serve and bench) instead of
#                           building .bin/thaw from the checkout
#
# It installs redis-server, redis-tools, jq, curl and (for c-floor) gcc from
# Debian's packages when missing (quietly), builds .bin/thaw,
# .bin/thaw-bench-floor and .bin/idle-floor, and on
# exit, failure or Ctrl-C stops every process it started (and the cluster)
# and removes its temporary directory. Progress goes to stderr, the tables
# to stdout.
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

rounds=${BENCH_ROUNDS:-3}
duration=${BENCH_DURATION:-3}
warmup=${BENCH_WARMUP:-1}
keys=${BENCH_KEYS:-10000}
conc=${BENCH_CONCURRENCY:-64}
conns=${BENCH_CONNECTIONS:-4}
mem_items=${BENCH_MEM_ITEMS:-1000000}
mem_gogc=${BENCH_MEM_GOGC:-10}
mem_targets=${BENCH_MEM_TARGETS:-thaw,redis}
targets=${BENCH_TARGETS:-thaw,thaw-epoll,floor,redis,thaw-redis,cluster}
out_file=${BENCH_OUT:-}
results_file=${BENCH_RESULTS:-}
thaw_bin=${BENCH_THAW_BIN:-}
idle_conns=${BENCH_IDLE_CONNS:-10000}
idle_duration=${BENCH_IDLE_DURATION:-15}
idle_targets=${BENCH_IDLE_TARGETS:-thaw,thaw-epoll,floor,c-floor}
value_size=100

log() { printf 'bench-server: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

for v in rounds duration warmup keys conc conns mem_items mem_gogc idle_conns idle_duration; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v=${!v}: want a whole number"
done
((rounds >= 1 && duration >= 1 && keys >= 1 && conc >= 1 && conns >= 1)) || die "rounds, duration, keys, concurrency and connections must be at least 1"
((conns <= conc)) || die "BENCH_CONNECTIONS ($conns) must be at most BENCH_CONCURRENCY ($conc)"
has_target() { [[ ",$targets," == *",$1,"* ]]; }
has_mem_target() { [[ ",$mem_targets," == *",$1,"* ]]; }
has_idle_target() { ((idle_conns > 0)) && [[ ",$idle_targets," == *",$1,"* ]]; }
for t in ${targets//,/ }; do
	case $t in thaw | thaw-epoll | floor | redis | thaw-redis | cluster) ;; *) die "BENCH_TARGETS: unknown target $t" ;; esac
done
for t in ${mem_targets//,/ }; do
	case $t in thaw | floor | redis) ;; *) die "BENCH_MEM_TARGETS: unknown target $t" ;; esac
done
for t in ${idle_targets//,/ }; do
	case $t in thaw | thaw-epoll | floor | c-floor) ;; *) die "BENCH_IDLE_TARGETS: unknown target $t" ;; esac
done
((idle_conns == 0 || idle_duration >= 1)) || die "BENCH_IDLE_DURATION must be at least 1"

# Installs: quiet, and a no-op when already done.
need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || command -v redis-benchmark >/dev/null || need+=(redis-tools)
command -v jq >/dev/null || need+=(jq)
command -v curl >/dev/null || need+=(curl)
command -v setsid >/dev/null || need+=(util-linux)
if has_idle_target c-floor; then command -v gcc >/dev/null || need+=(gcc libc6-dev); fi
if ((${#need[@]})); then
	log "installing ${need[*]}"
	had_redis=$(pgrep -x redis-server || true)
	if ! out=$( (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") 2>&1); then
		echo "$out" >&2
		exit 1
	fi
	# The package may start the system's redis-server; this script runs its
	# own, so it stops that one again.
	if [[ -z $had_redis ]] && pgrep -x redis-server >/dev/null; then
		log "stopping the redis-server service that installing the package started"
		service redis-server stop >/dev/null 2>&1 || systemctl stop redis-server >/dev/null 2>&1 || true
	fi
fi

run_dir=$(mktemp -d "${TMPDIR:-/tmp}/thaw-bench-server.XXXXXX")
export THAW_REDIS_CLUSTER_STATE=$run_dir/redis-cluster.state
pids=()       # background servers, each started with setsid (its own group)
fg_pid=""     # the load generator running now
cluster_up="" # set once scripts/redis-cluster.sh start has run

# stop ends one process that this script started: SIGTERM, up to 10 s to
# exit, then SIGKILL to its process group.
stop() {
	local pid=$1
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "process $pid did not exit on SIGTERM; killing its process group"
		kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[[ -n $fg_pid ]] && stop "$fg_pid"
	local pid
	for pid in "${pids[@]}"; do
		stop "$pid"
	done
	if [[ -n $cluster_up ]]; then scripts/redis-cluster.sh stop || true; fi
	if ((rc != 0 && rc != 130 && rc != 143)); then
		local f
		for f in "$run_dir"/*.log; do
			[[ -s $f ]] || continue
			echo "--- last lines of $(basename "$f")" >&2
			tail -n 10 "$f" >&2
		done
	fi
	rm -rf "$run_dir"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run_fg runs a load generator in the background and waits for it, so that
# a signal reaches the trap at once and cleanup can stop the generator.
run_fg() {
	"$@" &
	fg_pid=$!
	local rc=0
	wait "$fg_pid" || rc=$?
	fg_pid=""
	return "$rc"
}

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
t0=$SECONDS
mkdir -p .bin
if [[ -n $thaw_bin ]]; then
	[[ -x $thaw_bin ]] || die "BENCH_THAW_BIN=$thaw_bin: not an executable"
	log "using $thaw_bin; building .bin/thaw-bench-floor"
else
	log "building .bin/thaw and .bin/thaw-bench-floor"
	go build -o .bin/thaw ./cmd/thaw
	thaw_bin=.bin/thaw
fi
go build -o .bin/thaw-bench-floor ./bench/floor/cmd/thaw-bench-floor
if has_idle_target c-floor; then
	gcc -O2 -o .bin/idle-floor bench/floor/cfloor/idle-floor.c || die "gcc: could not build bench/floor/cfloor/idle-floor.c"
fi
if has_target thaw || has_target thaw-epoll || has_target floor || has_target thaw-redis; then
	"$thaw_bin" bench --help >/dev/null 2>&1 || die "$thaw_bin has no working 'thaw bench' subcommand"
fi

# wait_file waits up to 20 s for file $1 to be non-empty while process $2
# lives.
wait_file() {
	local file=$1 pid=$2
	for _ in $(seq 200); do
		[[ -s $file ]] && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# What the last start_* started: its pid, service address (host:port, or
# the port for Redis) and metrics address.
new_pid="" new_addr="" new_metrics=""

# start_thaw NAME [serve flags...] starts thaw serve on free loopback ports
# (service and metrics), logging to $run_dir/NAME.log.
start_thaw() {
	local name=$1
	shift
	local ready=$run_dir/$name.ready
	setsid "$thaw_bin" serve --addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 --ready-file "$ready" \
		--log-level warn "$@" </dev/null >"$run_dir/$name.log" 2>&1 &
	new_pid=$!
	pids+=("$new_pid")
	wait_file "$ready" "$new_pid" || die "thaw serve ($name) did not start"
	new_addr=$(jq -r .addr "$ready")
	new_metrics=$(jq -r .metrics_addr "$ready")
}

# start_floor NAME starts the floor server like start_thaw.
start_floor() {
	local name=$1
	local addrs=$run_dir/$name.addrs
	setsid .bin/thaw-bench-floor --addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 \
		</dev/null >"$addrs" 2>"$run_dir/$name.log" &
	new_pid=$!
	pids+=("$new_pid")
	for _ in $(seq 200); do
		(($(wc -l <"$addrs") >= 2)) && break
		kill -0 "$new_pid" 2>/dev/null || break
		sleep 0.1
	done
	(($(wc -l <"$addrs") >= 2)) || die "thaw-bench-floor ($name) did not start"
	new_addr=$(sed -n 1p "$addrs")
	new_metrics=$(sed -n 2p "$addrs")
}

# start_redis NAME starts a standalone redis-server without persistence on a
# free loopback port; new_addr is the port.
start_redis() {
	local name=$1 port pid
	mkdir -p "$run_dir/$name"
	for _ in $(seq 20); do
		port=$((20000 + RANDOM % 40000))
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
		setsid redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
			--dir "$run_dir/$name" --logfile "$run_dir/$name.log" --daemonize no </dev/null >/dev/null 2>&1 &
		pid=$!
		pids+=("$pid")
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			if [[ $(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]]; then
				new_pid=$pid new_addr=$port new_metrics=""
				return 0
			fi
			sleep 0.05
		done
		stop "$pid"
	done
	die "could not start redis-server on a free port"
}

# --- speed ------------------------------------------------------------------

# Every measurement is a line of $results: round target op concurrency
# ops_per_s p50_us p99_us errors cpu_us_per_op.
results=$run_dir/results.tsv
: >"$results"

# The server's CPU time per request is the steadiest figure on a busy
# machine: other processes stretch wall time, much less CPU time.
clk_tck=$(getconf CLK_TCK)
# cpu_ticks PID... prints the user plus system CPU ticks the processes have
# used (fields 14 and 15 of /proc/PID/stat, counted after the comm field).
cpu_ticks() {
	local pid total=0 fields
	for pid in "$@"; do
		fields=$(<"/proc/$pid/stat")
		fields=${fields##*) }
		total=$((total + $(awk '{ print $12 + $13 }' <<<"$fields")))
	done
	echo "$total"
}
declare -A server_pids=() # target → the pids whose CPU time is its cost

# grpc_run TARGET ENDPOINT OP CONCURRENCY ROUND measures one workload with
# thaw bench. The key space was preloaded by prime, so every GET hits; the
# CPU per request counts the warmup's requests at the measured rate.
grpc_run() {
	local target=$1 endpoint=$2 op=$3 c=$4 round=$5
	local n=$((c < conns ? c : conns))
	local out=$run_dir/bench.out
	local cpu0
	# shellcheck disable=SC2086 # a list of pids
	cpu0=$(cpu_ticks ${server_pids[$target]})
	if ! run_fg "$thaw_bin" bench --endpoint "$endpoint" --concurrency "$c" --connections "$n" \
		--ops "$op:1" --value-size "$value_size" --keys "$keys" --preload=false \
		--duration "${duration}s" --warmup "${warmup}s" --json >"$out" 2>"$run_dir/bench.log"; then
		die "thaw bench against $target ($op, c=$c) failed: $(tail -n 3 "$run_dir/bench.log")"
	fi
	local cpu
	# shellcheck disable=SC2086
	cpu=$(($(cpu_ticks ${server_pids[$target]}) - cpu0))
	tail -n 1 "$out" | jq -r --arg r "$round" --arg t "$target" --arg o "$op" --arg c "$c" \
		--argjson cpu "$cpu" --argjson tck "$clk_tck" --argjson d "$duration" --argjson w "$warmup" \
		'[$r, $t, $o, $c, .ops_per_s, .p50_us, .p99_us, .errors,
		  (if .ops > 0 then $cpu / $tck * 1e6 / (.ops * ($d + $w) / $d) else 0 end)] | @tsv' >>"$results"
}

# prime TARGET ENDPOINT creates the cache of thaw bench on a gRPC target and
# writes its key space (TTL 1h) before the rounds: not measured.
prime() {
	run_fg "$thaw_bin" bench --endpoint "$2" --concurrency "$conc" --connections "$conns" \
		--ops set:1 --value-size "$value_size" --keys "$keys" --duration 1s --warmup 0s --json \
		>"$run_dir/bench.out" 2>"$run_dir/bench.log" || die "thaw bench (preloading $1) failed: $(tail -n 3 "$run_dir/bench.log")"
}

# redis_n remembers, per target, op and concurrency, the request count that
# lasts about $duration seconds (redis-benchmark counts requests, not time):
# the first run uses a guess, later ones scale by the rate measured.
declare -A redis_n=()

# redis_run TARGET PORT OP CONCURRENCY ROUND [--cluster] measures one
# workload with redis-benchmark.
redis_run() {
	local target=$1 port=$2 op=$3 c=$4 round=$5
	shift 5
	local id=$target/$op/$c
	local n=${redis_n[$id]:-$((c > 1 ? 15000 * duration : 5000 * duration))}
	local out=$run_dir/redis-benchmark.out
	local cpu0
	# shellcheck disable=SC2086
	cpu0=$(cpu_ticks ${server_pids[$target]})
	if ! run_fg redis-benchmark -h 127.0.0.1 -p "$port" "$@" -t "$op" -c "$c" -d "$value_size" \
		-r "$keys" -n "$n" --csv --precision 3 >"$out" 2>"$run_dir/redis-benchmark.log"; then
		die "redis-benchmark against $target ($op, c=$c) failed: $(tail -n 3 "$run_dir/redis-benchmark.log")"
	fi
	# "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
	local line
	line=$(grep -i "^\"$op\"" "$out" | tr -d '"') || die "redis-benchmark against $target printed no $op line: $(cat "$out")"
	local rps p50 p99 cpu
	IFS=, read -r _ rps _ _ p50 _ p99 _ <<<"$line"
	# shellcheck disable=SC2086
	cpu=$(($(cpu_ticks ${server_pids[$target]}) - cpu0))
	awk -v r="$round" -v t="$target" -v o="$op" -v c="$c" -v rps="$rps" -v p50="$p50" -v p99="$p99" \
		-v cpu="$cpu" -v tck="$clk_tck" -v n="$n" \
		'BEGIN { printf "%s\t%s\t%s\t%s\t%s\t%.0f\t%.0f\t0\t%.1f\n", r, t, o, c, rps, p50 * 1000, p99 * 1000, cpu / tck * 1e6 / n }' >>"$results"
	redis_n[$id]=$(awk -v rps="$rps" -v d="$duration" 'BEGIN { n = int(rps * d); print (n < 2000 ? 2000 : n) }')
}

thaw_addr="" thawepoll_addr="" floor_addr="" redis_port="" thawredis_addr="" cluster_port=""
if has_target thaw; then
	start_thaw thaw
	thaw_addr=$new_addr
	server_pids[thaw]=$new_pid
	prime thaw "$thaw_addr"
	log "thaw serve (memory) on $thaw_addr"
fi
if has_target thaw-epoll; then
	start_thaw thaw-epoll --transport epoll
	thawepoll_addr=$new_addr
	server_pids[thaw-epoll]=$new_pid
	prime thaw-epoll "$thawepoll_addr"
	log "thaw serve --transport epoll on $thawepoll_addr"
fi
if has_target floor; then
	start_floor floor
	floor_addr=$new_addr
	server_pids[floor]=$new_pid
	prime floor "$floor_addr"
	log "floor on $floor_addr"
fi
if has_target redis; then
	start_redis redis
	redis_port=$new_addr
	server_pids[redis]=$new_pid
	log "redis-server on 127.0.0.1:$redis_port"
fi
if has_target thaw-redis || has_target cluster; then
	log "starting a Redis Cluster (scripts/redis-cluster.sh)"
	cluster_up=1
	seeds=$(scripts/redis-cluster.sh start)
	log "cluster seeds $seeds"
	cluster_port=${seeds%%,*}
	cluster_port=${cluster_port##*:}
	# Every node's CPU, replicas included: the cost of a write on the cluster.
	server_pids[cluster]=$(tr '\n' ' ' <"$(<"$THAW_REDIS_CLUSTER_STATE")/pids")
	if has_target thaw-redis; then
		start_thaw thaw-redis --store "redis://$seeds" --store-namespace "bench-$$"
		thawredis_addr=$new_addr
		server_pids[thaw-redis]=$new_pid
		prime thaw-redis "$thawredis_addr"
		log "thaw serve (redis) on $thawredis_addr"
	fi
fi

workloads=("set $conc" "get $conc" "set 1" "get 1")
for ((round = 1; round <= rounds; round++)); do
	for w in "${workloads[@]}"; do
		read -r op c <<<"$w"
		log "round $round/$rounds: $op at concurrency $c ($((SECONDS - t0)) s)"
		if has_target thaw; then grpc_run thaw "$thaw_addr" "$op" "$c" "$round"; fi
		if has_target thaw-epoll; then grpc_run thaw-epoll "$thawepoll_addr" "$op" "$c" "$round"; fi
		if has_target floor; then grpc_run floor "$floor_addr" "$op" "$c" "$round"; fi
		if has_target redis; then redis_run redis "$redis_port" "$op" "$c" "$round"; fi
		if has_target thaw-redis; then grpc_run thaw-redis "$thawredis_addr" "$op" "$c" "$round"; fi
		if has_target cluster; then redis_run cluster "$cluster_port" "$op" "$c" "$round" --cluster; fi
	done
done

# The speed servers are done: stop them so the memory row has the machine.
for pid in "${pids[@]}"; do
	stop "$pid"
done
pids=()
if [[ -n $cluster_up ]]; then
	scripts/redis-cluster.sh stop
	cluster_up=""
fi

# --- memory -----------------------------------------------------------------

# Every memory measurement is a line of $memory: target items rss_before
# rss_after heap_before heap_after accounted (bytes; heap is Go's heap in
# use, or Redis's used_memory; accounted is thaw's thaw_store_bytes, what
# --max-memory counts, or 0).
memory=$run_dir/memory.tsv
: >"$memory"

rss_of() { awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"; }
# metric_of ADDR NAME prints the value of the Prometheus metric NAME served
# at http://ADDR/metrics, or 0 when it has none.
metric_of() { curl -fsS "http://$1/metrics" | awk -v name="$2" '$1 == name { v = $2 } END { printf "%.0f\n", v }'; }

# grpc_memory TARGET PID ENDPOINT METRICS loads $mem_items items with thaw
# bench's preload (100-byte values, TTL 1h) and records the growth.
grpc_memory() {
	local target=$1 pid=$2 endpoint=$3 metrics=$4
	local rss0 heap0
	rss0=$(rss_of "$pid")
	heap0=$(metric_of "$metrics" go_memstats_heap_inuse_bytes)
	log "memory: loading $mem_items items into $target ($((SECONDS - t0)) s)"
	run_fg "$thaw_bin" bench --endpoint "$endpoint" --concurrency "$conc" --connections "$conns" \
		--ops set:1 --value-size "$value_size" --keys "$mem_items" --duration 1s --warmup 0s --json \
		>"$run_dir/bench.out" 2>"$run_dir/bench.log" || die "thaw bench (memory, $target) failed: $(tail -n 3 "$run_dir/bench.log")"
	sleep 1
	if [[ $target == thaw ]]; then
		local items
		items=$(metric_of "$metrics" thaw_store_items)
		((items == mem_items)) || die "thaw serve holds $items items after loading $mem_items"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$mem_items" "$rss0" "$(rss_of "$pid")" \
		"$heap0" "$(metric_of "$metrics" go_memstats_heap_inuse_bytes)" "$(metric_of "$metrics" thaw_store_bytes)" >>"$memory"
}

if ((mem_items > 0)); then
	if has_mem_target thaw; then
		GOGC=$mem_gogc start_thaw memory-thaw
		grpc_memory thaw "$new_pid" "$new_addr" "$new_metrics"
		stop "$new_pid"
	fi
	if has_mem_target floor; then
		GOGC=$mem_gogc start_floor memory-floor
		grpc_memory floor "$new_pid" "$new_addr" "$new_metrics"
		stop "$new_pid"
	fi
	if has_mem_target redis; then
		start_redis memory-redis
		memredis_pid=$new_pid memredis_port=$new_addr
		used() { redis-cli -h 127.0.0.1 -p "$memredis_port" info memory | tr -d '\r' | awk -F: '/^used_memory:/ { print $2 }'; }
		rss0=$(rss_of "$memredis_pid")
		heap0=$(used)
		log "memory: loading $mem_items items into redis ($((SECONDS - t0)) s)"
		# 12-byte keys (k + 11 digits), 100-byte values, each with a TTL.
		awk -v n="$mem_items" -v size="$value_size" 'BEGIN {
			v = sprintf("%0" size "d", 0); gsub(/0/, "v", v)
			for (i = 0; i < n; i++) printf "SET k%011d %s EX 3600\r\n", i, v
		}' | redis-cli -h 127.0.0.1 -p "$memredis_port" --pipe >"$run_dir/pipe.out" 2>&1 ||
			die "redis-cli --pipe failed: $(tail -n 3 "$run_dir/pipe.out")"
		loaded=$(redis-cli -h 127.0.0.1 -p "$memredis_port" dbsize)
		((loaded == mem_items)) || die "redis holds $loaded keys after loading $mem_items"
		printf '%s\t%s\t%s\t%s\t%s\t%s\t0\n' redis "$mem_items" "$rss0" "$(rss_of "$memredis_pid")" "$heap0" "$(used)" >>"$memory"
		stop "$memredis_pid"
	fi
fi

# --- idle connections ---------------------------------------------------------

# Every idle measurement is a line of $idle: target connections connected
# lost ping_failures cpu_percent rss_per_conn_bytes ping_p99_us.
idle=$run_dir/idle.tsv
: >"$idle"

# start_cfloor NAME starts bench/floor/cfloor's idle-floor on a free port.
start_cfloor() {
	local name=$1
	local addrs=$run_dir/$name.addrs
	setsid .bin/idle-floor 0 </dev/null >"$addrs" 2>"$run_dir/$name.log" &
	new_pid=$!
	pids+=("$new_pid")
	wait_file "$addrs" "$new_pid" || die "idle-floor ($name) did not start"
	new_addr=$(sed -n 1p "$addrs") new_metrics=""
}

# idle_run TARGET ENDPOINT holds $idle_conns pinging connections to the
# server at ENDPOINT (a fresh process) and records what they cost it.
idle_run() {
	local target=$1 endpoint=$2
	log "idle: $idle_conns connections to $target for ${idle_duration}s ($((SECONDS - t0)) s)"
	run_fg "$thaw_bin" bench --endpoint "$endpoint" --idle-connections "$idle_conns" --keepalive 5s \
		--duration "${idle_duration}s" --json >"$run_dir/bench.out" 2>"$run_dir/bench.log" ||
		die "thaw bench (idle, $target) failed: $(tail -n 3 "$run_dir/bench.log")"
	tail -n 1 "$run_dir/bench.out" | jq -r --arg t "$target" '
		if .server.local then . else error("the server was not measured: \(.server.note)") end |
		[$t, .connections, .connected, .lost, .ping_failures, .server.cpu_percent, .server.rss_per_conn_bytes, .ping_rtt.p99_us] | @tsv' \
		>>"$idle" || die "thaw bench (idle, $target): no server figures in $(tail -n 1 "$run_dir/bench.out")"
}

if ((idle_conns > 0)); then
	for t in ${idle_targets//,/ }; do
		case $t in
		thaw) start_thaw idle-thaw ;;
		thaw-epoll) start_thaw idle-thaw-epoll --transport epoll ;;
		floor) start_floor idle-floor ;;
		c-floor) start_cfloor idle-cfloor ;;
		esac
		idle_run "$t" "$new_addr"
		stop "$new_pid"
	done
fi

# --- report -----------------------------------------------------------------

if [[ -n $results_file ]]; then cp "$results" "$results_file"; fi
report() {
	echo "## thaw serve speed and memory: scripts/bench-server.sh"
	echo
	echo "$started, $(nproc)-core $(uname -m), $(git describe --always --dirty 2>/dev/null || echo unknown); $rounds rounds of ${duration}s per workload and target, $keys keys, ${value_size}-byte values; thaw bench --connections $conns at c=$conc; $(redis-server --version | awk '{ print $3 }' | tr -d 'v=')"
	echo
	awk -F'\t' -v conc="$conc" '
	function median(list,   a, n, i, j, t) {
		n = split(list, a, " ")
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
		return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
	}
	function spread(list,   a, n, i, lo, hi) {
		n = split(list, a, " "); lo = hi = a[1]
		for (i = 2; i <= n; i++) { if (a[i] + 0 < lo + 0) lo = a[i]; if (a[i] + 0 > hi + 0) hi = a[i] }
		return sprintf("%.0f–%.0f", lo, hi)
	}
	{
		id = $2 SUBSEP $3 SUBSEP $4
		if (!(id in ops)) order[++k] = id
		ops[id] = ops[id] " " $5; p50[id] = p50[id] " " $6; p99[id] = p99[id] " " $7; errs[id] += $8; cpu[id] = cpu[id] " " $9
	}
	END {
		names["thaw"] = "thaw serve (memory)"; names["thaw-epoll"] = "thaw serve --transport epoll"; names["floor"] = "floor (bare grpc-go)"; names["redis"] = "redis-server (redis-benchmark)"
		names["thaw-redis"] = "thaw serve on Redis Cluster"; names["cluster"] = "Redis Cluster (redis-benchmark --cluster)"
		print "| target | op | c | ops/s (median) | ops/s (range) | p50 µs | p99 µs | errors | server CPU µs/op |"
		print "|---|---|---|---:|---:|---:|---:|---:|---:|"
		for (i = 1; i <= k; i++) {
			split(order[i], f, SUBSEP)
			printf "| %s | %s | %s | %.0f | %s | %.0f | %.0f | %d | %.1f |\n", names[f[1]], toupper(f[2]), f[3], median(ops[order[i]]), spread(ops[order[i]]), median(p50[order[i]]), median(p99[order[i]]), errs[order[i]], median(cpu[order[i]])
			m_ops[order[i]] = median(ops[order[i]]); m_p50[order[i]] = median(p50[order[i]]); m_cpu[order[i]] = median(cpu[order[i]])
		}
		ratio("thaw/floor throughput, c=" conc, "thaw", "floor", conc, m_ops, "≥ 1.0")
		ratio("thaw/floor p50 latency, c=1", "thaw", "floor", 1, m_p50, "≤ 1.05")
		ratio("thaw/floor server CPU per op, c=" conc, "thaw", "floor", conc, m_cpu, "informational (steadier on a busy machine)")
		ratio("thaw --transport epoll/thaw throughput, c=" conc, "thaw-epoll", "thaw", conc, m_ops, "informational (what the event loop costs under load)")
		ratio("thaw --transport epoll/thaw p50 latency, c=1", "thaw-epoll", "thaw", 1, m_p50, "informational")
		ratio("thaw --transport epoll/thaw server CPU per op, c=" conc, "thaw-epoll", "thaw", conc, m_cpu, "informational")
		ratio("thaw/redis-server throughput, c=" conc, "thaw", "redis", conc, m_ops, "informational (other protocol)")
		ratio("thaw/redis-server p50 latency, c=1", "thaw", "redis", 1, m_p50, "informational")
		ratio("thaw-on-Redis/redis-benchmark --cluster throughput, c=" conc, "thaw-redis", "cluster", conc, m_ops, "informational")
		ratio("thaw-on-Redis/redis-benchmark --cluster p50 latency, c=1", "thaw-redis", "cluster", 1, m_p50, "informational")
		if (rows != "") printf "\n| ratio | GET | SET | target |\n|---|---:|---:|---|\n%s", rows
	}
	function ratio(label, a, b, c, m, want,   g, s) {
		g = cell(a, b, "get", c, m); s = cell(a, b, "set", c, m)
		if (g == "" && s == "") return
		rows = rows sprintf("| %s | %s | %s | %s |\n", label, g, s, want)
	}
	function cell(a, b, op, c, m,   ia, ib) {
		ia = a SUBSEP op SUBSEP c; ib = b SUBSEP op SUBSEP c
		if (!(ia in m) || !(ib in m) || m[ib] == 0) return ""
		return sprintf("%.2f", m[ia] / m[ib])
	}' "$results"
	if [[ -s $memory ]]; then
		echo
		echo "| memory, 12-byte keys, ${value_size}-byte values, TTL each (Go servers at GOGC=$mem_gogc) | items | RSS growth | bytes/item (RSS) | heap growth | bytes/item (heap) | bytes/item (thaw's own accounting) |"
		echo "|---|---:|---:|---:|---:|---:|---:|"
		awk -F'\t' '
		BEGIN { names["thaw"] = "thaw serve (memory), Go heap in use"; names["floor"] = "floor (sync.Map), Go heap in use"; names["redis"] = "redis-server, used_memory" }
		{ printf "| %s | %d | %.1f MiB | %.0f | %.1f MiB | %.0f | %s |\n", names[$1], $2, ($4 - $3) / 1048576, ($4 - $3) / $2, ($6 - $5) / 1048576, ($6 - $5) / $2, ($7 > 0 ? sprintf("%.0f", $7 / $2) : "") }' "$memory"
	fi
	if [[ -s $idle ]]; then
		echo
		echo "| $idle_conns idle connections, a PING every 5 s, ${idle_duration}s | held | lost | ping p99 µs | server CPU, % of a core | RSS/conn | CPU / goal (2.5 %) | RSS / goal (10 KB) |"
		echo "|---|---:|---:|---:|---:|---:|---:|---:|"
		awk -F'\t' '
		BEGIN {
			names["thaw"] = "thaw serve"; names["thaw-epoll"] = "thaw serve --transport epoll"; names["floor"] = "floor (bare grpc-go)"
			names["c-floor"] = "C epoll loop, one thread, no runtime"
		}
		{ printf "| %s | %d of %d | %d | %d | %.1f | %.0f B | %.1f× | %.2f× |\n", names[$1], $3, $2, $4 + $5, $8, $6, $7, $6 / 2.5, $7 / 10000 }' "$idle"
	fi
	echo
	echo "wall time: $((SECONDS - t0)) s"
}
report | tee "${out_file:-/dev/null}"
