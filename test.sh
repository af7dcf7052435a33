#!/usr/bin/env bash
# Runs every test of thaw on a fresh machine: formatting and vet, the Go tests
# (with the race detector, fuzz seed corpora included), and the compatibility
# suite that drives the official Momento Node.js SDK against `thaw serve`, once
# on the memory store and once on a Redis Cluster. The cluster (3 masters, 3
# replicas on loopback ports, scripts/redis-cluster.sh) runs for the Go tests
# (THAW_REDIS_CLUSTER) and the second Node run, and is stopped on exit, also
# after a failure or Ctrl-C; the fault tests start and stop clusters of their
# own (THAW_REDIS_FAULTS=1).
# It installs what it needs, quietly and idempotently. Usage: ./test.sh
set -euo pipefail
cd "$(dirname "$0")"
export PATH="/usr/local/go/bin:$PATH"

step() { printf '\n==> %s\n' "$*"; }

need_apt=()
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
command -v openssl >/dev/null || need_apt+=(openssl)
command -v curl >/dev/null || need_apt+=(curl) # drives the HTTP API in internal/httpapi/curl_test.go
command -v chromium >/dev/null || need_apt+=(chromium) # renders the lab's HTML report in lab/html_test.go
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

step "go test -race ./..."
# The fault tests (server/store_health_test.go) start three more clusters of
# their own, one at a time, kill, pause and restart their nodes: about a minute.
THAW_REDIS_FAULTS=1 go test -race -count=1 -timeout 15m ./...

step "building thaw for the Node SDK suite"
mkdir -p .bin
go build -o .bin/thaw ./cmd/thaw

step "Node SDK compatibility suite (@gomomento/sdk, compat/node)"
(
	cd compat/node
	npm ci --silent --no-audit --no-fund >/dev/null
	THAW_BIN="$PWD/../../.bin/thaw" npm test --silent
)

step "Node SDK compatibility suite again, on the Redis Cluster (thaw serve --store redis://...)"
(
	cd compat/node
	# {server}: each server its own namespace, as each memory store is its own.
	THAW_BIN="$PWD/../../.bin/thaw" THAW_SERVE_ARGS="--store redis://$THAW_REDIS_CLUSTER --store-namespace compat-{server}" npm test --silent
)
