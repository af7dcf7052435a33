#!/usr/bin/env bash
# Prints, every INTERVAL seconds (default 0.5), one line per thaw lambda
# environment on this host: the time, its cgroup, the function it runs, its
# freeze state and its CPU use so far, read from the cgroup v2 files
# (cgroup.events "frozen", cpu.stat "usage_usec") under
# /sys/fs/cgroup/unified/thaw (a hybrid hierarchy) or /sys/fs/cgroup/thaw.
# A frozen environment's CPU use stays put; one that is thawed and busy
# climbs by its CPU share each second. Stop it with Ctrl-C.
#
# Usage: scripts/watch-cgroups.sh [INTERVAL] > cgroups.txt
#
# The README's lab section used it to tell a function that hung in a busy
# loop from one that was frozen.
set -euo pipefail

interval=${1:-0.5}
root=/sys/fs/cgroup/thaw # thaw creates it with its first environment
[ -d /sys/fs/cgroup/unified ] && root=/sys/fs/cgroup/unified/thaw

while true; do
	now=$(date +%H:%M:%S.%3N)
	for dir in "$root"/*/; do
		[ -f "$dir/cgroup.events" ] || continue
		frozen=$(awk '$1 == "frozen" {print $2}' "$dir/cgroup.events" 2>/dev/null || true)
		usage=$(awk '$1 == "usage_usec" {print $2}' "$dir/cpu.stat" 2>/dev/null || true)
		pid=$(head -n 1 "$dir/cgroup.procs" 2>/dev/null || true)
		function=""
		if [ -n "$pid" ]; then
			function=$(tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | sed -n 's/^AWS_LAMBDA_FUNCTION_NAME=//p' || true)
		fi
		echo "$now $(basename "$dir") function=${function:--} frozen=${frozen:--} cpu_usec=${usage:--}"
	done
	sleep "$interval"
done
