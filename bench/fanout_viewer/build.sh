#!/usr/bin/env bash
# Builds bench/fanout_viewer offline against Debian's Go sources (golang-go,
# golang-github-pion-webrtc.v3-dev, golang-github-gorilla-websocket-dev); CMake's
# fanout_viewer target calls it.
#
#   bench/fanout_viewer/build.sh OUTPUT_BINARY          the binary
#   bench/fanout_viewer/build.sh --test OUTPUT_BINARY   go test (rtpstats_test.go), same cache
#
# GOPATH mode (GO111MODULE=off) with /usr/share/gocode as the second GOPATH root: nothing is
# downloaded. The package sits in a private GOPATH (next to OUTPUT_BINARY) as a symlink and is
# built by import path, because Go maps Pion's /v2, /v3 import paths onto Debian's unversioned
# directories only for code inside a GOPATH that has a go.mod (minimal module compatibility).
set -euo pipefail
test=
if [ "${1:-}" = "--test" ]; then test=1; shift; fi
[ $# -eq 1 ] || { echo "usage: $0 [--test] OUTPUT_BINARY" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
out=$(realpath -m "$1")
work="$(dirname "$out")/fanout_viewer.gopath"
mkdir -p "$work/src" "$(dirname "$out")"
ln -sfn "$here" "$work/src/fanout_viewer"
export GOPATH="$work:/usr/share/gocode" GO111MODULE=off GOFLAGS= GOPROXY=off
export GOCACHE="${GOCACHE:-$work/cache}"
go=${GO:-go}
if [ -n "$test" ]; then
  exec "$go" test -count=1 fanout_viewer
fi
exec "$go" build -o "$out" fanout_viewer
