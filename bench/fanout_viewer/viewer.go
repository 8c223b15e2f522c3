package main

// One receiving viewer: a Janus handle and a Pion PeerConnection answering the plugin's
// offer (janus.plugin.media `watch`, or a VideoRoom subscriber `join`), then `start`.

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v3"
)

type Viewer struct {
	index, batch int
	handle       uint64
	events       chan *Message
	setupEvents  chan *Message // what setup() waits for (the pump forwards it)

	mu         sync.Mutex // pc, candidates, err, the times
	pc         *webrtc.PeerConnection
	candidates []webrtc.ICECandidateInit // Janus's trickles before the remote description
	err        string
	tWatch     time.Time
	tOffer     time.Time
	tStarted   time.Time
	tUp        time.Time
	tKeyframe  time.Time
	tFirst     time.Time

	streamsMu sync.Mutex
	streams   []*stream

	arrivals arrivals // video packets' arrival times, for a relay's added latency
}

// arrivals: the wall-clock arrival time of the last arrivalRing video packets, keyed by a
// hash of the packet's payload tail (the same packet has the same payload at every viewer,
// whatever the node that relayed it rewrote in its header): bench/driver/part_cluster.py
// matches them between a viewer on the origin and one on another node.
const arrivalRing = 4096

type arrivals struct {
	mu   sync.Mutex
	keys [arrivalRing]uint64
	ns   [arrivalRing]int64
	next int
	full bool
}

func (a *arrivals) add(payload []byte, now int64) {
	tail := payload
	if len(tail) > 64 {
		tail = tail[len(tail)-64:]
	}
	h := uint64(14695981039346656037) // FNV-1a
	for _, b := range tail {
		h ^= uint64(b)
		h *= 1099511628211
	}
	a.mu.Lock()
	a.keys[a.next], a.ns[a.next] = h, now
	a.next = (a.next + 1) % arrivalRing
	if a.next == 0 {
		a.full = true
	}
	a.mu.Unlock()
}

// list: [hash, unix ns] pairs, oldest first (the hash as a decimal string: JSON numbers
// are doubles on the Python side too, but exactness matters only for matching).
func (a *arrivals) list() [][2]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	n, start := a.next, 0
	if a.full {
		n, start = arrivalRing, a.next
	}
	out := make([][2]string, 0, n)
	for k := 0; k < n; k++ {
		i := (start + k) % arrivalRing
		out = append(out, [2]string{fmt.Sprint(a.keys[i]), fmt.Sprint(a.ns[i])})
	}
	return out
}

// stream: one received track; its reader goroutine writes, stats() reads.
type stream struct {
	packets, bytes, lost atomic.Int64
}

func (v *Viewer) fail(format string, args ...any) {
	v.mu.Lock()
	if v.err == "" {
		v.err = fmt.Sprintf(format, args...)
	}
	v.mu.Unlock()
}

func (v *Viewer) mark(t *time.Time) {
	v.mu.Lock()
	if t.IsZero() {
		*t = time.Now()
	}
	v.mu.Unlock()
}

// pump reads the handle's events for the viewer's whole life.
func (v *Viewer) pump() {
	for m := range v.events {
		switch m.Janus {
		case "trickle":
			var c struct {
				Candidate     string  `json:"candidate"`
				SdpMid        *string `json:"sdpMid"`
				SdpMLineIndex *uint16 `json:"sdpMLineIndex"`
				Completed     bool    `json:"completed"`
			}
			if json.Unmarshal(m.Candidate, &c) != nil || c.Completed || c.Candidate == "" {
				continue
			}
			init := webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SdpMid,
				SDPMLineIndex: c.SdpMLineIndex}
			v.mu.Lock()
			if v.pc != nil && v.pc.RemoteDescription() != nil {
				v.pc.AddICECandidate(init)
			} else {
				v.candidates = append(v.candidates, init)
			}
			v.mu.Unlock()
		case "webrtcup":
			v.mark(&v.tUp)
		case "hangup":
			v.fail("hangup: %s", m.Reason)
			v.forward(m)
		case "media", "slowlink":
		default:
			v.forward(m)
		}
	}
}

func (v *Viewer) forward(m *Message) {
	select {
	case v.setupEvents <- m:
	default:
	}
}

// event waits for the plugin event that satisfies pred (errors and hangups end the wait).
func (v *Viewer) event(pred func(*Message, map[string]any) bool, what string) (*Message, error) {
	deadline := time.After(stepTimeout)
	for {
		select {
		case m := <-v.setupEvents:
			if m.Janus == "hangup" {
				return nil, fmt.Errorf("hangup before %s: %s", what, m.Reason)
			}
			d := m.PluginData.Data
			if code, ok := d["error_code"]; ok && code != nil {
				return nil, fmt.Errorf("error %v: %v", code, d["error"])
			}
			if pred(m, d) {
				return m, nil
			}
		case <-deadline:
			return nil, fmt.Errorf("no %s in %v", what, stepTimeout)
		}
	}
}

func (v *Viewer) setup(w *Worker) error {
	plugin := mediaPlugin
	if w.videoroom {
		plugin = videoroomPlugin
	}
	handle, events, err := w.janus.Attach(plugin)
	if err != nil {
		return err
	}
	v.handle, v.events = handle, events
	v.setupEvents = make(chan *Message, handleQueue)
	go v.pump()
	v.mark(&v.tWatch)
	var body map[string]any
	if w.videoroom {
		body = map[string]any{"request": "join", "ptype": "subscriber", "room": w.room,
			"streams": []map[string]any{{"feed": w.feed}}}
	} else {
		body = map[string]any{"request": "watch", "device_id": w.device}
	}
	if err := w.janus.Message(handle, body, nil); err != nil {
		return err
	}
	m, err := v.event(func(m *Message, _ map[string]any) bool {
		return m.Jsep != nil && m.Jsep.Type == "offer"
	}, "offer")
	if err != nil {
		return err
	}
	v.mark(&v.tOffer)
	answer, err := v.answer(w, m.Jsep.SDP)
	if err != nil {
		return err
	}
	if err := w.janus.Message(handle, map[string]any{"request": "start"},
		map[string]any{"type": "answer", "sdp": answer}); err != nil {
		return err
	}
	if w.videoroom {
		_, err = v.event(func(_ *Message, d map[string]any) bool { return d["started"] == "ok" },
			"started")
	} else {
		_, err = v.event(func(_ *Message, d map[string]any) bool {
			return d["result"] == "watching"
		}, "watching")
	}
	if err != nil {
		return err
	}
	v.mark(&v.tStarted)
	return nil
}

// answer: the PeerConnection, its answer to the offer with every local candidate in it
// (host candidates only, so gathering takes no time and no trickle is needed our way).
func (v *Viewer) answer(w *Worker, offer string) (string, error) {
	pc, err := w.api.NewPeerConnection(w.config)
	if err != nil {
		return "", err
	}
	pc.OnTrack(func(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
		go v.readRTCP(receiver)
		v.readRTP(track)
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateFailed {
			v.fail("PeerConnection failed")
		}
	})
	v.mu.Lock()
	v.pc = pc
	v.mu.Unlock()
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{
		Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", err
	}
	v.mu.Lock()
	for _, c := range v.candidates {
		pc.AddICECandidate(c)
	}
	v.candidates = nil
	v.mu.Unlock()
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return "", err
	}
	select {
	case <-gathered:
	case <-time.After(stepTimeout):
		return "", errors.New("ICE gathering did not complete")
	}
	return pc.LocalDescription().SDP, nil
}

// readRTP: the track's packets through Pion's interceptors (NACK generation, receiver
// reports, TWCC feedback when negotiated); counted, the first VP8 keyframe noted.
func (v *Viewer) readRTP(track *webrtc.TrackRemote) {
	s := &stream{}
	v.streamsMu.Lock()
	v.streams = append(v.streams, s)
	v.streamsMu.Unlock()
	video := track.Codec().MimeType == webrtc.MimeTypeVP8
	var seq SeqCounter
	buf := make([]byte, 1500)
	for first := true; ; first = false {
		n, _, err := track.Read(buf)
		if err != nil {
			return
		}
		off := rtpPayload(buf[:n])
		if off < 0 {
			continue
		}
		if first {
			v.mark(&v.tFirst)
		}
		if video && vp8Keyframe(buf[:n]) {
			v.mark(&v.tKeyframe)
			video = false // only the first one is of interest
		}
		if track.Codec().MimeType == webrtc.MimeTypeVP8 {
			v.arrivals.add(buf[off:n], time.Now().UnixNano())
		}
		seq.Add(uint16(buf[2])<<8 | uint16(buf[3]))
		s.packets.Add(1)
		s.bytes.Add(int64(n - off))
		s.lost.Store(seq.Lost())
	}
}

// readRTCP: Janus's sender reports, read through the interceptors (Read is ReadRTCP without
// its unmarshal and allocation) and dropped.
func (v *Viewer) readRTCP(receiver *webrtc.RTPReceiver) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := receiver.Read(buf); err != nil {
			return
		}
	}
}

func since(t0, t time.Time) any {
	if t0.IsZero() || t.IsZero() {
		return nil
	}
	return float64(t.Sub(t0).Microseconds()) / 1e6
}

func (v *Viewer) summary() map[string]any {
	var packets, bytes, lost int64
	v.streamsMu.Lock()
	for _, s := range v.streams {
		packets += s.packets.Load()
		bytes += s.bytes.Load()
		lost += s.lost.Load()
	}
	v.streamsMu.Unlock()
	v.mu.Lock()
	defer v.mu.Unlock()
	var errValue any
	if v.err != "" {
		errValue = v.err
	}
	return map[string]any{"i": v.index, "batch": v.batch, "error": errValue,
		"packets": packets, "bytes": bytes, "lost": lost,
		"offer_s": since(v.tWatch, v.tOffer), "started_s": since(v.tWatch, v.tStarted),
		"up_s": since(v.tWatch, v.tUp), "keyframe_s": since(v.tWatch, v.tKeyframe),
		"first_packet_s": since(v.tWatch, v.tFirst)}
}

func (v *Viewer) close() {
	v.mu.Lock()
	pc := v.pc
	v.mu.Unlock()
	if pc != nil {
		pc.Close()
	}
}
