#!/usr/bin/env bash
# Builds bench/fanout_viewer offline against Debian's Go sources (golang-go,
# golang-github-pion-webrtc.v3-dev, golang-github-gorilla-websocket-dev):
#
#   bench/fanout_viewer/build.sh OUTPUT_BINARY
#
# GOPATH mode (GO111MODULE=off) with /usr/share/gocode as the second GOPATH root: nothing is
# downloaded. The package sits in a private GOPATH as a symlink and is built by import path,
# because Go resolves the /v2, /v3 import paths of Pion onto Debian's unversioned directories
# only for code that is inside a GOPATH and has a go.mod (minimal module compatibility).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(realpath -m "$1")
work="$(dirname "$out")/fanout_viewer.gopath"
mkdir -p "$work/src" "$(dirname "$out")"
ln -sfn "$here" "$work/src/fanout_viewer"
export GOPATH="$work:/usr/share/gocode" GO111MODULE=off GOFLAGS= GOPROXY=off GOTOOLCHAIN=local
export GOCACHE="${GOCACHE:-$work/cache}"
go build -trimpath -o "$out" fanout_viewer
