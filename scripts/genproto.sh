#!/usr/bin/env bash
# Regenerates the Go code beside the .proto files under api/.
# Pinned: protoc 3.21.12 (Debian 12's protobuf-compiler), protoc-gen-go v1.36.12,
# protoc-gen-go-grpc v1.6.2. Run from anywhere: scripts/genproto.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v protoc >/dev/null; then
	apt-get install -y -qq protobuf-compiler >/dev/null
fi
bin="$(pwd)/.bin"
mkdir -p "$bin"
GOBIN="$bin" go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
GOBIN="$bin" go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2

PATH="$bin:$PATH" protoc -I . \
	--go_out=. --go_opt=paths=source_relative \
	--go-grpc_out=. --go-grpc_opt=paths=source_relative \
	api/commonpb/common.proto api/cachepb/cache.proto api/controlpb/control.proto \
	api/pubsubpb/pubsub.proto api/leaderboardpb/leaderboard.proto
