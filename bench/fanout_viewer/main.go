// fanout_viewer: N receiving WebRTC viewers (Pion: ICE, DTLS-SRTP, interceptors; nothing
// decoded) of janus.plugin.media or of a VideoRoom feed, in one process, one Janus session
// and one WebSocket. The viewer worker of scripts/lib/viewer_load.py: it is driven by that
// file's FanoutLoad with JSON lines on stdin/stdout.
//
//	fanout_viewer viewers --server ws://127.0.0.1:8188/ --device D
//	fanout_viewer viewers --server ws://... --videoroom --room R --feed F
//
// stdout: {"ready":true,"pid":P} (or {"ready":false,"error":...}), then one line per
// command: {"cmd":"add","count":K} -> {"added":K,"errors":[first few]};
// {"cmd":"stats"} -> {"viewers":[{"i","batch","error","packets","bytes","lost","offer_s",
// "started_s","up_s","keyframe_s","first_packet_s"}],"rcvbuf_bytes":B} (times in s from
// watch/join; B: the receive buffer the kernel granted an ICE socket);
// {"cmd":"arrivals"} -> {"arrivals":[[[hash, unix ns], ...] per viewer]} (strings; the
// last 4096 video packets of each viewer);
// {"cmd":"quit"} or the end of stdin: the session destroyed, exit.
package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"

	"github.com/pion/ice/v2"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v3"
)

const (
	mediaPlugin     = "janus.plugin.media"
	videoroomPlugin = "janus.plugin.videoroom"
)

type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

type Worker struct {
	janus       *Janus
	api         *webrtc.API
	config      webrtc.Configuration
	videoroom   bool
	device      string
	room, feed  uint64
	concurrency int
	viewers     []*Viewer
	batches     int
}

var stdout = bufio.NewWriter(os.Stdout)

func emit(v any) {
	b, _ := json.Marshal(v)
	stdout.Write(append(b, '\n'))
	stdout.Flush()
}

// newAPI: Pion's default codecs and interceptors (NACK generator and responder, RTCP
// sender/receiver reports, TWCC feedback), host candidates over UDP/IPv4 only, on the
// given addresses when there are any (loopback included then), no mDNS, sockets with an
// rcvbuf-byte receive buffer, DTLS server role.
func newAPI(addresses []string, network *bigBufferNet) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	registry := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, registry); err != nil {
		return nil, err
	}
	s := webrtc.SettingEngine{}
	s.SetNet(network)
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// DTLS server (setup:passive): as the client, about one viewer in three had its first
	// ClientHello reach Janus before Janus's side of ICE was up; dropped, it waited Pion's
	// 1 s retransmission, a second in the first-keyframe time, which is a Janus figure.
	// As the server it answers Janus, which starts when its ICE is ready.
	s.SetAnsweringDTLSRole(webrtc.DTLSRoleServer)
	if len(addresses) > 0 {
		allowed := map[string]bool{}
		for _, a := range addresses {
			allowed[net.ParseIP(a).String()] = true
		}
		s.SetIncludeLoopbackCandidate(true)
		s.SetIPFilter(func(ip net.IP) bool { return allowed[ip.String()] })
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(registry),
		webrtc.WithSettingEngine(s)), nil
}

func loopback(server string) bool {
	u, err := url.Parse(server)
	if err != nil {
		return false
	}
	ip := net.ParseIP(u.Hostname())
	return u.Hostname() == "localhost" || (ip != nil && ip.IsLoopback())
}

func (w *Worker) add(count int) map[string]any {
	gate := make(chan struct{}, w.concurrency)
	var wg sync.WaitGroup
	fresh := make([]*Viewer, count)
	for i := range fresh {
		fresh[i] = &Viewer{index: len(w.viewers) + i, batch: w.batches}
	}
	w.batches++
	w.viewers = append(w.viewers, fresh...)
	for _, v := range fresh {
		wg.Add(1)
		gate <- struct{}{}
		go func(v *Viewer) {
			defer func() { <-gate; wg.Done() }()
			if err := v.setup(w); err != nil {
				v.fail("%s", err)
			}
		}(v)
	}
	wg.Wait()
	errs := []string{}
	for _, v := range fresh {
		if e := v.summary()["error"]; e != nil && len(errs) < 5 {
			errs = append(errs, e.(string))
		}
	}
	return map[string]any{"added": count, "errors": errs}
}

func (w *Worker) stats() map[string]any {
	out := make([]map[string]any, len(w.viewers))
	for i, v := range w.viewers {
		out[i] = v.summary()
	}
	return map[string]any{"viewers": out}
}

func run() error {
	if len(os.Args) < 2 || os.Args[1] != "viewers" {
		return fmt.Errorf("usage: %s viewers --server URL [--device D | --videoroom "+
			"--room R --feed F]", os.Args[0])
	}
	fs := flag.NewFlagSet("viewers", flag.ContinueOnError)
	server := fs.String("server", "", "the Janus API WebSocket URL")
	device := fs.String("device", "fanout-1", "janus.plugin.media device to watch")
	videoroom := fs.Bool("videoroom", false, "VideoRoom subscribers instead")
	room := fs.Uint64("room", 0, "VideoRoom room")
	feed := fs.Uint64("feed", 0, "VideoRoom publisher feed id")
	fs.Int("bitrate", 0, "ignored (the publisher's)")
	concurrency := fs.Int("concurrency", 8, "viewers negotiating at once")
	rcvbuf := fs.Int("rcvbuf", 4<<20, "receive buffer per ICE socket, bytes (0: the default)")
	var addresses multiFlag
	fs.Var(&addresses, "ice-address", "local address for ICE (repeatable)")
	if err := fs.Parse(os.Args[2:]); err != nil {
		return err
	}
	if *server == "" {
		return fmt.Errorf("--server is required")
	}
	if len(addresses) == 0 && loopback(*server) {
		addresses = multiFlag{"127.0.0.1"}
	}
	network, err := newBigBufferNet(*rcvbuf)
	if err != nil {
		return err
	}
	api, err := newAPI(addresses, network)
	if err != nil {
		return err
	}
	// One DTLS certificate for every viewer: generating one each would dominate setup.
	cert, err := generateCertificate()
	if err != nil {
		return err
	}
	janus, err := DialJanus(*server)
	if err != nil {
		return err
	}
	if err := janus.Start(); err != nil {
		return err
	}
	w := &Worker{janus: janus, api: api, videoroom: *videoroom, device: *device,
		room: *room, feed: *feed, concurrency: max(1, *concurrency),
		config: webrtc.Configuration{Certificates: []webrtc.Certificate{*cert},
			BundlePolicy: webrtc.BundlePolicyMaxBundle}}
	emit(map[string]any{"ready": true, "pid": os.Getpid()})
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var c struct {
			Cmd   string `json:"cmd"`
			Count int    `json:"count"`
		}
		if json.Unmarshal(in.Bytes(), &c) != nil {
			continue
		}
		switch c.Cmd {
		case "add":
			emit(w.add(c.Count))
		case "arrivals":
			// {"arrivals":[[hash, unix ns], ...] per viewer, in viewer order}
			out := make([][][2]string, 0, len(w.viewers))
			for _, v := range w.viewers {
				out = append(out, v.arrivals.list())
			}
			emit(map[string]any{"arrivals": out})
		case "stats":
			st := w.stats()
			st["rcvbuf_bytes"] = network.got.Load()
			emit(st)
		}
		if c.Cmd == "quit" {
			break
		}
	}
	janus.Close()
	for _, v := range w.viewers {
		v.close()
	}
	return nil
}

func generateCertificate() (*webrtc.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return webrtc.GenerateCertificate(key)
}

func max(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func main() {
	if err := run(); err != nil {
		emit(map[string]any{"ready": false, "error": err.Error()})
		os.Exit(1)
	}
}
