#!/usr/bin/env bash
# Runs every test of thaw on a fresh machine: formatting and vet, the Go tests
# (with the race detector, fuzz seed corpora included), and the compatibility
# suite that drives the official Momento Node.js SDK against `thaw serve`.
# It installs what it needs, quietly and idempotently. Usage: ./test.sh
set -euo pipefail
cd "$(dirname "$0")"
export PATH="/usr/local/go/bin:$PATH"

step() { printf '\n==> %s\n' "$*"; }

need_apt=()
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
command -v openssl >/dev/null || need_apt+=(openssl)
command -v chromium >/dev/null || need_apt+=(chromium) # renders the lab's HTML report in lab/html_test.go
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

step "go test -race ./..."
go test -race -count=1 -timeout 15m ./...

step "building thaw for the Node SDK suite"
mkdir -p .bin
go build -o .bin/thaw ./cmd/thaw

step "Node SDK compatibility suite (@gomomento/sdk, compat/node)"
(
	cd compat/node
	npm ci --silent --no-audit --no-fund >/dev/null
	THAW_BIN="$PWD/../../.bin/thaw" npm test --silent
)
