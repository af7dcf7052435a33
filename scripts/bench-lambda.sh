#!/usr/bin/env bash
# Warm-invoke benchmark of thaw lambda against AWS's runtime interface
# emulator (RIE), side by side in one run (issue 3, item 11).
#
# Usage: scripts/bench-lambda.sh [-n 2000] [-g 2ms] [-m 3008] [-b 100] [-w 100] [-- thaw lambda flags...]
#
#   -n N     measured invocations per emulator (default 2000)
#   -g GAP   pause after each invocation, not measured (default 2ms: enough for
#            thaw to finish freezing, so every measured invocation includes a
#            thaw; -g 0 sends back to back, and then an invocation that arrives
#            before the runtime asks for its next event skips the freeze)
#   -m MB    memory of the function under both (default 3008, RIE's default).
#            RIE only reports it to the function; thaw also caps the
#            function's CPU at MB/1769 of a core, so -m 128 measures Lambda's
#            smallest size, CPU throttling included
#   -b N     invocations in a row to one emulator before the other's turn (default 100)
#   -w N     warm-up invocations per emulator, not measured (default 100)
#   -- ...   extra flags for thaw lambda, e.g. -- --freeze-mode cgroup-v1 (the
#            default, auto, uses cgroup v2's freezer wherever it is writable)
#
# It builds one no-op Go function (lambda/internal/benchinvoke/noop,
# aws-lambda-go), installs aws-lambda-rie from the Go module proxy into .bin/
# (pinned below; nothing vendored), builds .bin/thaw, starts both emulators
# on free loopback ports with the same function, and runs the load generator
# (lambda/internal/benchinvoke): a warm-up, then sequential invocations taking
# turns in blocks, measured client-side. It prints p50, p90, p99 and mean of
# each, the ratio thaw/RIE, thaw's freeze mode, and thaw's own freeze and thaw
# latencies from its debug log. On exit or Ctrl-C it stops both emulators and
# removes what this run left: processes, cgroups, temporary files.
#
# Needs: go, bash, setsid (util-linux), root for thaw's cgroup freezer
# (otherwise thaw falls back to SIGSTOP/SIGCONT and the table says "signal").
# The leftover-cgroup sweep on exit covers every hierarchy thaw uses: a hybrid
# host's unified one (/sys/fs/cgroup/unified) and its v1 memory and cpu ones.
set -euo pipefail

# aws-lambda-rie has no tagged release in the Go module proxy; this is the
# newest pseudo-version it serves (go list -m -versions shows none; @latest).
rie_module=github.com/aws/aws-lambda-runtime-interface-emulator
rie_version=v0.0.0-20261030222936-bef5c4ba774d

n=2000 gap=2ms memory=3008 block=100 warmup=100
usage() { sed -n '5,19p' "$0" | sed 's/^# \{0,1\}//'; }
while getopts "n:g:m:b:w:h" opt; do
	case $opt in
	n) n=$OPTARG ;;
	g) gap=$OPTARG ;;
	m) memory=$OPTARG ;;
	b) block=$OPTARG ;;
	w) warmup=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
thaw_flags=("$@")

cd "$(dirname "$0")/.."
repo=$(pwd)
bin=$repo/.bin
mkdir -p "$bin"
command -v setsid >/dev/null || { echo "bench-lambda: setsid (util-linux) is required" >&2; exit 1; }

run_dir=$(mktemp -d "${TMPDIR:-/tmp}/thaw-bench-lambda.XXXXXX")
rie_pid="" thaw_pid=""

# stop ends a process started with setsid (its own process group): SIGTERM,
# up to 10 s to exit, then SIGKILL to the whole group.
stop() {
	local pid=$1
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	echo "bench-lambda: $pid did not exit on SIGTERM; killing its process group" >&2
	kill -KILL -- "-$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	# thaw first: on SIGTERM it thaws and kills its environments and removes their cgroups.
	stop "$thaw_pid"
	stop "$rie_pid"
	# Both end their runtimes when they stop; make sure of it, by pid: every
	# process running this run's function binary.
	local exe pid
	for exe in /proc/[0-9]*/exe; do
		if [[ $(readlink "$exe" 2>/dev/null) == "$run_dir/function/bootstrap" ]]; then
			pid=${exe#/proc/}
			pid=${pid%/exe}
			echo "bench-lambda: killing leftover function process $pid" >&2
			kill -CONT "$pid" 2>/dev/null || true
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	# Cgroups of this thaw process (named ...@PID-STARTTIME), if it could not remove them.
	if [[ -n $thaw_pid ]]; then
		local dir
		shopt -s nullglob
		for dir in /sys/fs/cgroup/thaw/*@"$thaw_pid"-* /sys/fs/cgroup/*/thaw/*@"$thaw_pid"-*; do
			echo "bench-lambda: removing leftover cgroup $dir" >&2
			[[ -f $dir/freezer.state ]] && echo THAWED >"$dir/freezer.state" 2>/dev/null
			[[ -f $dir/cgroup.freeze ]] && echo 0 >"$dir/cgroup.freeze" 2>/dev/null
			xargs -r kill -KILL <"$dir/cgroup.procs" 2>/dev/null || true
			for _ in $(seq 50); do rmdir "$dir" 2>/dev/null && break; sleep 0.1; done
		done
	fi
	if ((rc != 0 && rc != 130 && rc != 143)) && [[ -d $run_dir ]]; then
		for log in "$run_dir"/*.log; do
			echo "--- last lines of $(basename "$log")" >&2
			tail -n 15 "$log" >&2
		done
	fi
	rm -rf "$run_dir"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_port prints a loopback TCP port nobody listens on, not in $taken.
taken=""
free_port() {
	local port
	for _ in $(seq 100); do
		port=$((20000 + RANDOM % 40000))
		[[ " $taken " == *" $port "* ]] && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			taken+=" $port"
			echo "$port"
			return 0
		fi
	done
	echo "bench-lambda: no free port found" >&2
	return 1
}

# wait_listening waits until pid listens on port, or fails if pid exits first.
wait_listening() {
	local name=$1 pid=$2 port=$3
	for _ in $(seq 300); do
		kill -0 "$pid" 2>/dev/null || { echo "bench-lambda: $name exited before listening on $port" >&2; return 1; }
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "bench-lambda: $name is not listening on $port after 15 s" >&2
	return 1
}

# Installs and builds: quiet, and a no-op when already done.
installed=$(go version -m "$bin/aws-lambda-rie" 2>/dev/null || true)
if [[ ! $installed =~ mod[[:space:]]+${rie_module}[[:space:]]+${rie_version} ]]; then
	if ! out=$(GOBIN=$bin go install "$rie_module/cmd/aws-lambda-rie@$rie_version" 2>&1); then
		echo "$out" >&2
		exit 1
	fi
fi
go build -o "$bin/thaw" ./cmd/thaw
go build -o "$run_dir/benchinvoke" ./lambda/internal/benchinvoke
mkdir -p "$run_dir/function"
go build -o "$run_dir/function/bootstrap" ./lambda/internal/benchinvoke/noop

rie_port=$(free_port)
rie_runtime_port=$(free_port)
thaw_port=$(free_port)

# Both get this script's environment and declare the same memory size to the function.
rie_cmd=("$bin/aws-lambda-rie"
	--runtime-interface-emulator-address "127.0.0.1:$rie_port"
	--runtime-api-address "127.0.0.1:$rie_runtime_port"
	"$run_dir/function/bootstrap")
thaw_cmd=("$bin/thaw" lambda --runtime provided --code "$run_dir/function/bootstrap"
	--function function --addr "127.0.0.1:$thaw_port" --memory "$memory"
	--log-dir "$run_dir/function-logs" --log-level debug "${thaw_flags[@]}")

(cd "$run_dir/function" && AWS_LAMBDA_FUNCTION_MEMORY_SIZE=$memory exec setsid "${rie_cmd[@]}" >"$run_dir/rie.log" 2>&1 </dev/null) &
rie_pid=$!
setsid "${thaw_cmd[@]}" >"$run_dir/thaw-function-output.log" 2>"$run_dir/thaw.log" </dev/null &
thaw_pid=$!
wait_listening aws-lambda-rie "$rie_pid" "$rie_port"
wait_listening "thaw lambda" "$thaw_pid" "$thaw_port"

echo "machine: $(nproc) CPUs, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "thaw:    $(git describe --always --dirty 2>/dev/null || echo unknown)  ${thaw_cmd[*]#"$repo/"}"
echo "RIE:     $rie_version  ${rie_cmd[*]#"$repo/"}"
echo
"$run_dir/benchinvoke" -n "$n" -gap "$gap" -block "$block" -warmup "$warmup" \
	-target "RIE=127.0.0.1:$rie_port" -target "thaw=127.0.0.1:$thaw_port" -log "thaw=$run_dir/thaw.log"
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
