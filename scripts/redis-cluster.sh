#!/usr/bin/env bash
# A local Redis Cluster for thaw's Redis backend: 3 masters and 3 replicas of
# Debian's redis-server on free loopback ports, in a temporary directory.
#
# Usage: scripts/redis-cluster.sh start|stop|status
#
#   start   starts the cluster (installing redis-server and redis-tools with
#           apt-get, quietly, when missing), waits until every slot is served
#           and every replica is in sync, and prints the masters' addresses on
#           stdout as one line, host:port,host:port,host:port: the seed list
#           for THAW_REDIS_CLUSTER and `thaw serve --store redis://...`. When a
#           cluster of this checkout is already running it prints its seeds
#           again and starts nothing.
#   stop    stops exactly the redis-server processes that start began (by
#           the pids it recorded) and removes their directory. A no-op when
#           nothing runs.
#   status  prints the seed list and exits 0 when the cluster runs, exits 1
#           otherwise.
#
# The state of a running cluster lives in the directory that
# $THAW_REDIS_CLUSTER_STATE names (default .bin/redis-cluster in this
# checkout, a file holding the path of the cluster's temporary directory), so
# that start and stop find each other and two checkouts do not. A start that
# fails stops whatever it had started and removes its directory.
#
# The nodes run without persistence (no RDB, no AOF) and with a 2 s
# cluster-node-timeout, so that a failover in a test takes seconds.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$PWD
state=${THAW_REDIS_CLUSTER_STATE:-$repo/.bin/redis-cluster}
nodes=6
node_timeout_ms=2000

log() { printf 'redis-cluster: %s\n' "$*" >&2; }

# install makes sure redis-server and redis-cli exist: quiet, and a no-op
# when they do. A redis-server service that installing the package started
# is stopped again: the cluster runs its own processes only.
install() {
	local need=()
	command -v redis-server >/dev/null || need+=(redis-server)
	command -v redis-cli >/dev/null || need+=(redis-tools)
	((${#need[@]})) || return 0
	log "installing ${need[*]}"
	local had_redis out
	had_redis=$(pgrep -x redis-server || true)
	if ! out=$( (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") 2>&1); then
		echo "$out" >&2
		exit 1
	fi
	if [[ -z $had_redis ]] && pgrep -x redis-server >/dev/null; then
		log "stopping the redis-server service that installing the package started"
		service redis-server stop >/dev/null 2>&1 || systemctl stop redis-server >/dev/null 2>&1 || true
	fi
}

# running_dir prints the directory of this checkout's running cluster and
# succeeds, or fails when there is none (a stale state file is removed).
running_dir() {
	[[ -f $state ]] || return 1
	local dir
	dir=$(<"$state")
	if [[ -d $dir && -f $dir/pids && -f $dir/seeds ]]; then
		local pid
		while read -r pid; do
			kill -0 "$pid" 2>/dev/null || return 1
		done <"$dir/pids"
		printf '%s\n' "$dir"
		return 0
	fi
	return 1
}

# port_free reports whether nothing listens on 127.0.0.1:$1 or on its
# cluster bus port, $1+10000.
port_free() {
	local p
	for p in "$1" $(($1 + 10000)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			return 1
		fi
	done
	return 0
}

# pick_port prints a free port for a node, none of $taken: one whose cluster
# bus port (+10000) is free too, and both below the kernel's ephemeral range
# when it leaves room (a client connection's local port there can take a
# port between the check and the bind; start_node retries then).
pick_port() {
	local low=32768 lo hi p tries=0
	[[ -r /proc/sys/net/ipv4/ip_local_port_range ]] && read -r low _ </proc/sys/net/ipv4/ip_local_port_range
	lo=10000 hi=$((low - 10000))
	((hi - lo >= 1000)) || { lo=20000 hi=55000; }
	while ((tries++ < 1000)); do
		p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo)))
		[[ " $taken " == *" $p "* ]] && continue
		port_free "$p" || continue
		taken+=" $p"
		echo "$p"
		return 0
	done
	log "no free port found"
	return 1
}

# start_node starts a redis-server for the cluster on a free port and
# prints the port once it answers PING, trying other ports when the one
# picked is taken meanwhile.
start_node() {
	local dir=$1 attempt p pid
	for attempt in 1 2 3 4 5; do
		p=$(pick_port) || return 1
		mkdir -p "$dir/node-$p"
		# setsid: its own session, so that a Ctrl-C in the terminal that
		# ran start does not reach it; stop ends it by pid.
		(
			cd "$dir/node-$p"
			exec setsid redis-server --port "$p" --bind 127.0.0.1 \
				--cluster-enabled yes --cluster-config-file nodes.conf \
				--cluster-node-timeout "$node_timeout_ms" \
				--save '' --appendonly no --dir "$dir/node-$p" \
				--logfile "$dir/node-$p/redis.log" --daemonize no \
				</dev/null >/dev/null 2>&1
		) &
		pid=$!
		echo "$pid" >>"$dir/pids"
		for _ in $(seq 100); do
			if redis-cli -h 127.0.0.1 -p "$p" ping 2>/dev/null | grep -q PONG; then
				echo "$p"
				return 0
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "redis-server on port $p did not answer within 10 s"
			return 1
		fi
		log "redis-server on port $p exited ($(tail -n 1 "$dir/node-$p/redis.log" 2>/dev/null)); trying another port"
		rm -rf "$dir/node-$p"
	done
	return 1
}

# stop_dir ends the processes recorded in $1/pids (SIGTERM, then SIGKILL
# after 10 s) and removes $1. Only pids whose command line is a
# redis-server of this directory's ports are signalled, so that a pid
# reused by another process is left alone.
stop_dir() {
	local dir=$1 pid
	if [[ -f $dir/pids ]]; then
		local -a mine=()
		while read -r pid; do
			[[ -n $pid ]] || continue
			if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "redis-server"; then
				mine+=("$pid")
			fi
		done <"$dir/pids"
		if ((${#mine[@]})); then
			kill -TERM "${mine[@]}" 2>/dev/null || true
			for _ in $(seq 100); do
				local alive=()
				for pid in "${mine[@]}"; do
					kill -0 "$pid" 2>/dev/null && alive+=("$pid")
				done
				((${#alive[@]})) || break
				sleep 0.1
			done
			for pid in "${mine[@]}"; do
				if kill -0 "$pid" 2>/dev/null; then
					log "redis-server $pid did not exit on SIGTERM; killing it"
					kill -KILL "$pid" 2>/dev/null || true
				fi
			done
		fi
	fi
	rm -rf "$dir"
}

cmd_stop() {
	[[ -f $state ]] || return 0
	local dir
	dir=$(<"$state")
	# Only a directory this script made: a temp dir with its marker.
	if [[ -n $dir && -f $dir/thaw-redis-cluster ]]; then
		stop_dir "$dir"
	fi
	rm -f "$state"
}

cmd_status() {
	local dir
	if dir=$(running_dir); then
		cat "$dir/seeds"
		return 0
	fi
	return 1
}

cmd_start() {
	local dir
	if dir=$(running_dir); then
		cat "$dir/seeds"
		return 0
	fi
	cmd_stop # a stale state from a cluster that died
	install
	command -v setsid >/dev/null || { log "setsid (util-linux) is required"; exit 1; }

	dir=$(mktemp -d "${TMPDIR:-/tmp}/thaw-redis-cluster.XXXXXX")
	: >"$dir/thaw-redis-cluster"
	mkdir -p "$(dirname "$state")"
	printf '%s\n' "$dir" >"$state"
	# From here on a failure stops what started and removes the directory.
	trap 'rc=$?; if ((rc != 0)); then log "start failed; stopping what it started"; for f in "'"$dir"'"/node-*/redis.log; do [[ -f $f ]] && { echo "--- $f" >&2; tail -n 5 "$f" >&2; }; done; cmd_stop; fi; exit $rc' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	local -a ports=()
	local taken="" p i
	for ((i = 0; i < nodes; i++)); do
		p=$(start_node "$dir") || exit 1
		ports+=("$p")
		taken+=" $p"
	done

	local -a addrs=()
	for p in "${ports[@]}"; do addrs+=("127.0.0.1:$p"); done
	if ! out=$(redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes 2>&1); then
		echo "$out" >&2
		exit 1
	fi

	# Ready: every node sees a healthy cluster of 3 masters, each with a
	# replica that has finished its first sync.
	local deadline=$((SECONDS + 60)) ready=""
	while ((SECONDS < deadline)); do
		ready=1
		for p in "${ports[@]}"; do
			if ! redis-cli -h 127.0.0.1 -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; then ready=""; break; fi
			local info
			info=$(redis-cli -h 127.0.0.1 -p "$p" info replication 2>/dev/null | tr -d '\r')
			if grep -q '^role:master' <<<"$info"; then
				grep -q '^connected_slaves:1' <<<"$info" && grep -q 'state=online' <<<"$info" || { ready=""; break; }
			else
				grep -q '^master_link_status:up' <<<"$info" || { ready=""; break; }
			fi
		done
		[[ -n $ready ]] && break
		sleep 0.2
	done
	[[ -n $ready ]] || { log "the cluster did not become ready within 60 s"; exit 1; }

	local -a masters=()
	for p in "${ports[@]}"; do
		if redis-cli -h 127.0.0.1 -p "$p" role 2>/dev/null | head -n 1 | grep -q '^master'; then
			masters+=("127.0.0.1:$p")
		fi
	done
	local IFS=,
	printf '%s\n' "${masters[*]}" >"$dir/seeds"
	printf '%s\n' "${addrs[*]}" >"$dir/nodes"
	trap - EXIT INT TERM
	cat "$dir/seeds"
}

case ${1:-} in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*)
	echo "usage: $0 start|stop|status" >&2
	exit 2
	;;
esac
