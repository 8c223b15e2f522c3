module fanout_viewer

// Built in GOPATH mode against Debian's Go sources (see build.sh): this file is what lets the
// imports of github.com/pion/webrtc/v3 and friends resolve to /usr/share/gocode/src.

go 1.19
