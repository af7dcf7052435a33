#!/usr/bin/env bash
# Runs every test of thaw on a fresh machine: formatting and vet, the Go tests
# (with the race detector, fuzz seed corpora included; the allocation tests
# again without it), and the compatibility suite that drives the official
# Momento Node.js SDK against `thaw serve`, once on the memory store, once on
# a Redis Cluster and once with the epoll transport (thaw serve --transport
# epoll), whose server tests also run again. The cluster (3 masters, 3
# replicas on loopback ports, scripts/redis-cluster.sh) runs for the Go tests
# (THAW_REDIS_CLUSTER) and the second Node run, and is stopped on exit, also
# after a failure or Ctrl-C; the fault tests start and stop clusters of their
# own (THAW_REDIS_FAULTS=1).
# It installs what it needs, quietly and idempotently, prints one line per
# step and every failure in full (go test without -v; the Node suite through
# compat/node/test/summary-reporter.mjs), and ends with one line saying what
# passed. Usage: ./test.sh
set -euo pipefail
cd "$(dirname "$0")"
export PATH="/usr/local/go/bin:$PATH"

start=$SECONDS
passed=() # what passed, for the last line
step() { printf '==> %s\n' "$*"; }

need_apt=()
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
command -v openssl >/dev/null || need_apt+=(openssl)
command -v curl >/dev/null || need_apt+=(curl) # drives the HTTP API in internal/httpapi/curl_test.go
command -v chromium >/dev/null || need_apt+=(chromium) # renders the lab's HTML report in lab/html_test.go
command -v aws >/dev/null || need_apt+=(awscli) # drives the Lambda control API in lambda/controlapi_test.go
command -v tshark >/dev/null || { echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections; need_apt+=(tshark); } # decodes the lab's packet captures in internal/pcap and lab/capture_test.go
if ((${#need_apt[@]})); then
	step "installing ${need_apt[*]}"
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

step "gofmt and go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './compat/*'))
if [[ -n "$unformatted" ]]; then
	echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi
go vet ./...
passed+=(gofmt vet)

step "starting a local Redis Cluster (scripts/redis-cluster.sh)"
if scripts/redis-cluster.sh status >/dev/null 2>&1; then
	echo "using the cluster of this checkout that is already running (and leaving it running)"
else
	trap 'scripts/redis-cluster.sh stop' EXIT
fi
trap 'exit 130' INT
trap 'exit 143' TERM
THAW_REDIS_CLUSTER=$(scripts/redis-cluster.sh start)
export THAW_REDIS_CLUSTER
echo "seeds: $THAW_REDIS_CLUSTER"

# go_tests NAME [VAR=value...] -- ARGS... runs go test -count=1 ARGS with
# the variables set, printing failures only; on success NAME and the number
# of packages that passed go into the summary.
go_tests() {
	local name=$1 vars=() log
	shift
	while [[ $1 != -- ]]; do
		vars+=("$1")
		shift
	done
	shift
	log=$(mktemp -t thaw-go-test.XXXXXX)
	if ! env "${vars[@]}" go test -count=1 "$@" >"$log" 2>&1; then
		grep -v -E '^(ok|\?) ' "$log" || true
		echo "FAIL: $name (its whole output: $log)"
		exit 1
	fi
	passed+=("$name ($(grep -c '^ok ' "$log") packages)")
	rm -f "$log"
}

step "go test -race ./... (prints failures only), then the allocation tests without -race"
# The fault tests (server/store_health_test.go) start three more clusters of
# their own, one at a time, kill, pause and restart their nodes: about a minute.
go_tests "go test" THAW_REDIS_FAULTS=1 -- -race -timeout 15m ./...
# Allocation counts hold only without the race detector.
go_tests "allocation tests" -- -run Allocates ./internal/grpcloop/

step "the server's tests again, with the epoll transport (THAW_TEST_TRANSPORT=epoll)"
go_tests "server tests on the epoll transport" THAW_TEST_TRANSPORT=epoll -- -race -timeout 10m ./server/

step "lambda sandbox modes (which freeze, memory and CPU mechanisms the lambda tests ran on this host)"
modes=$(go test -count=1 -run '^TestModesExercised$' -v ./lambda/sandbox 2>&1) || { printf '%s\n' "$modes"; echo "FAIL: lambda sandbox modes"; exit 1; }
grep -o 'lambda sandbox modes exercised:.*' <<<"$modes"

step "building thaw for the Node SDK suite"
mkdir -p .bin
go build -o .bin/thaw ./cmd/thaw

# node_suite NAME [VAR=value...] runs the Node suite with the variables set.
# Its reporter prints failures and a last line "node suite: P/T passed ...";
# on success only P/T is kept, for the summary.
node_suite() {
	local name=$1 bin="$PWD/.bin/thaw" out
	shift
	if ! out=$(cd compat/node && env THAW_BIN="$bin" "$@" npm test --silent 2>&1); then
		printf '%s\n' "$out"
		echo "FAIL: node suite $name"
		exit 1
	fi
	passed+=("node suite $name ($(sed -n 's|^node suite: \([0-9]*/[0-9]*\) passed.*|\1|p' <<<"$out" | tail -1))")
}

step "Node SDK compatibility suite (@gomomento/sdk, compat/node)"
(cd compat/node && npm ci --silent --no-audit --no-fund >/dev/null)
node_suite memory

step "Node SDK compatibility suite again, on the Redis Cluster (thaw serve --store redis://...)"
# {server}: each server its own namespace, as each memory store is its own.
node_suite redis THAW_SERVE_ARGS="--store redis://$THAW_REDIS_CLUSTER --store-namespace compat-{server}"

step "Node SDK compatibility suite again, on the epoll transport (thaw serve --transport epoll; its TLS servers keep grpc-go)"
node_suite epoll THAW_SERVE_ARGS="--transport epoll"

elapsed=$((SECONDS - start))
summary=$(printf '%s, ' "${passed[@]}")
printf 'PASS: %s in %dm%02ds\n' "${summary%, }" $((elapsed / 60)) $((elapsed % 60))
