#!/usr/bin/env bash
# Runs every fuzz target of the module (found with `go test -list '^Fuzz' ./...`)
# for a bounded time each and prints one summary line per target.
#
# Usage: scripts/fuzz.sh [FUZZTIME]     e.g. scripts/fuzz.sh 5m
#        FUZZTIME=2m scripts/fuzz.sh
# FUZZTIME is a `go test -fuzztime` value (a duration, or a count such as
# 10000x); the first argument wins over the environment; default 30s.
#
# It exits non-zero when a target fails or a package does not build. For a
# failing input, go writes it under the package's testdata/fuzz/<Target>/;
# the script prints that path. Commit the file as a seed entry together with
# the fix: plain `go test` (and so ./test.sh) then replays it for good.
# Full logs of failed runs are kept and their paths printed.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

fuzztime="${1:-${FUZZTIME:-30s}}"
logs="$(mktemp -d "${TMPDIR:-/tmp}/thaw-fuzz.XXXXXX")"
root="$PWD"
failed=0

# `go test -list` prints a package's matching names, then its "ok" line.
list="$logs/list.txt"
go test -list '^Fuzz' ./... >"$list" 2>"$logs/list.stderr" || true
targets=() # "package target" pairs
pending=()
while IFS=$'\t' read -r first second _; do
	case "$first" in
	Fuzz*) pending+=("$first") ;;
	ok*)
		for t in "${pending[@]}"; do targets+=("$second $t"); done
		pending=()
		;;
	FAIL*)
		if [[ "$second" == *"[build failed]"* || "$second" == *"[setup failed]"* ]]; then
			printf 'FAIL  %s does not build; its fuzz targets are unknown\n' "${second%% *}"
			failed=1
		fi
		pending=()
		;;
	esac
done < <(sed -E 's/^(ok|FAIL) +/\1\t/' "$list")
if ((failed)); then
	sed 's/^/  /' "$logs/list.stderr" >&2
fi
if ((${#targets[@]} == 0)); then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi

# summarize turns the last progress line of a log, such as
# "fuzz: elapsed: 1m0s, execs: 123456 (1987/sec), new interesting: 5 (total: 9)",
# into "1m0s, 123456 execs (2058/s overall), 5 new interesting".
summarize() {
	grep -E '^fuzz: elapsed:' "$1" | tail -n 1 | awk '
		{
			elapsed = $3; sub(/,$/, "", elapsed); execs = $5
			interesting = $9
			secs = 0; rest = elapsed
			if (match(rest, /[0-9]+h/)) { secs += 3600 * substr(rest, RSTART, RLENGTH - 1) }
			if (match(rest, /[0-9]+m/)) { secs += 60 * substr(rest, RSTART, RLENGTH - 1) }
			if (match(rest, /[0-9]+s/)) { secs += substr(rest, RSTART, RLENGTH - 1) }
			rate = secs > 0 ? sprintf("%d/s overall", execs / secs) : "rate unknown"
			printf "%s, %s execs (%s), %s new interesting\n", elapsed, execs, rate, interesting
			found = 1
		}
		END { if (!found) print "no progress reported" }'
}

crashers=() # paths of the failing inputs go wrote, from the module root
repro=()    # the commands that replay them
for entry in "${targets[@]}"; do
	pkg="${entry% *}"
	target="${entry#* }"
	log="$logs/$(basename "$pkg")-$target.log"
	if go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" >"$log" 2>&1; then
		printf 'ok    %-28s %s  %s\n' "$target" "$pkg" "$(summarize "$log")"
		rm -f "$log"
		continue
	fi
	failed=1
	written="$(sed -nE 's/.*Failing input written to (testdata\/fuzz\/[^ ]+).*/\1/p' "$log" | tail -n 1)"
	if [[ -n "$written" ]]; then
		dir="$(go list -f '{{.Dir}}' "$pkg")"
		path="${dir#"$root"/}/$written"
		crashers+=("$path")
		repro+=("go test -run '^$target/${written##*/}\$' $pkg")
		printf 'FAIL  %-28s %s  crasher written to %s (log %s)\n' "$target" "$pkg" "$path" "$log"
	else
		printf 'FAIL  %-28s %s  no crasher written, see %s\n' "$target" "$pkg" "$log"
	fi
	{ grep -E -- '--- FAIL|_test\.go:[0-9]+:|panic:' "$log" || true; } | head -n 8 | sed 's/^/      /'
done

if ((${#crashers[@]})); then
	echo
	echo "Replay each failing input with:"
	printf '  %s\n' "${repro[@]}"
	echo "then fix the bug and commit each input as a seed entry:"
	printf '  git add %s\n' "${crashers[@]}"
fi
if ((failed == 0)); then
	rm -rf "$logs"
fi
exit "$failed"
