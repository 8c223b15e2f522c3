// The test API of media.html: janus.js (Debian's libjs-janus-gateway) driven by
// tests/e2e/browser.py through Runtime.evaluate. Every function returns a promise or a
// JSON-able value. Handles are named by the test ("pub", "view"); every plugin event a
// handle gets is kept, in order, in JM.handles[name].events.
'use strict';

(function () {
  // Loopback only: janus.js trickles each candidate it sees; it sees the 127.0.0.1 UDP ones.
  const NativePeerConnection = window.RTCPeerConnection;
  const nativeCreateOffer = NativePeerConnection.prototype.createOffer;
  class LoopbackPeerConnection extends NativePeerConnection {
    constructor(...args) {
      super(...args);
      // janus.js creates the PeerConnection inside createOffer: the codec of its first
      // offer is the one JM.publish chose just before.
      this.jmVideoCodec = JM.nextVideoCodec;
      JM.nextVideoCodec = null;
    }
    set onicecandidate(handler) {
      super.onicecandidate = handler && ((event) => {
        const c = event.candidate;
        if (c && c.candidate && !(c.address === '127.0.0.1' && c.protocol === 'udp')) return;
        handler.call(this, event);
      });
    }
    get onicecandidate() {
      return super.onicecandidate;
    }
    // Offers list only the video codec chosen for this PeerConnection, if any (janus.js
    // creates its offers itself: this is where setCodecPreferences can act first).
    createOffer(...args) {
      if (this.jmVideoCodec) preferVideoCodec(this, this.jmVideoCodec);
      return nativeCreateOffer.apply(this, args);
    }
  }
  window.RTCPeerConnection = LoopbackPeerConnection;

  // The sender capabilities of mime (e.g. "video/H264") whose fmtp line has every part of
  // fmtp (e.g. ["packetization-mode=1"]).
  function videoCodecs(mime, fmtp) {
    const all = RTCRtpSender.getCapabilities('video').codecs;
    const found = all.filter((c) => c.mimeType.toLowerCase() === mime.toLowerCase() &&
        (fmtp || []).every((part) => (c.sdpFmtpLine || '').split(';').includes(part)));
    if (!found.length) {
      throw new Error('this browser cannot send ' + mime + ' ' + (fmtp || []).join(';') +
                      ' (it sends ' + all.map((c) => c.mimeType).join(', ') + ')');
    }
    return found;
  }

  function preferVideoCodec(pc, choice) {
    const codecs = videoCodecs(choice.mime, choice.fmtp);
    for (const t of pc.getTransceivers()) {
      if (t.receiver.track && t.receiver.track.kind === 'video' && !t.stopped) {
        t.setCodecPreferences(codecs);
      }
    }
  }

  function summary(data, jsep) {
    const event = {result: data.result || null, event: data};
    if (data.error_code) event.error_code = data.error_code;
    if (jsep) event.jsep = {type: jsep.type, sdp: jsep.sdp};
    return event;
  }

  const JM = {
    janus: null,
    handles: {},
    nextVideoCodec: null,

    // Creates the Janus session (over the WebSocket URL server).
    connect(server, options) {
      return new Promise((resolve, reject) => {
        Janus.init({
          debug: ['warn', 'error'],
          callback: () => {
            JM.janus = new Janus(Object.assign({
              server: server,
              iceServers: [],  // no STUN/TURN: loopback only
              success: () => resolve(JM.janus.getSessionId()),
              error: (e) => reject(new Error('janus session: ' + e)),
            }, options || {}));
          },
        });
      });
    },

    // Attaches a handle to plugin (janus.plugin.media) under name.
    attach(name, plugin) {
      return new Promise((resolve, reject) => {
        const h = {name: name, handle: null, events: [], webrtc: [], ice: [], autoStart: false,
                   answerErrors: []};
        JM.handles[name] = h;
        JM.janus.attach({
          plugin: plugin || 'janus.plugin.media',
          success: (handle) => {
            h.handle = handle;
            resolve(handle.getId());
          },
          error: (e) => reject(new Error('attach: ' + e)),
          iceState: (state) => h.ice.push(state),
          webrtcState: (up, reason) => h.webrtc.push(up ? 'up' : 'down: ' + reason),
          onmessage: (data, jsep) => JM._onmessage(h, data, jsep),
        });
      });
    },

    _onmessage(h, data, jsep) {
      h.events.push(summary(data, jsep));
      if (!jsep) return;
      if (jsep.type === 'answer') {
        h.handle.handleRemoteJsep({jsep: jsep, error: (e) => h.answerErrors.push(String(e))});
      } else if (jsep.type === 'offer' && h.autoStart) {
        // A viewer: receive what is offered, answer with "start" (again after a new offer).
        h.handle.createAnswer({
          jsep: jsep,
          tracks: [{type: 'audio', capture: false, recv: true},
                   {type: 'video', capture: false, recv: true}],
          success: (answer) => h.handle.send({message: {request: 'start'}, jsep: answer}),
          error: (e) => h.answerErrors.push(String(e)),
        });
      }
    },

    // Sends body (with jsep, if given); resolves on the ack (or with a sync reply's data).
    send(name, body, jsep) {
      const h = JM.handles[name];
      return new Promise((resolve, reject) => {
        h.handle.send({
          message: body, jsep: jsep, success: (data) => resolve(data || null),
          error: (e) => reject(new Error(body.request + ': ' + e)),
        });
      });
    },

    _offer(h, options) {
      return new Promise((resolve, reject) => {
        h.handle.createOffer(Object.assign({
          success: resolve, error: (e) => reject(new Error('createOffer: ' + e)),
        }, options));
      });
    },

    // Publishes the fake camera and microphone as deviceId; video is offered as
    // video.mime only (setCodecPreferences), e.g. {mime: "video/VP8"}.
    async publish(name, deviceId, video) {
      const h = JM.handles[name];
      JM.nextVideoCodec = video;
      const jsep = await JM._offer(h, {
        tracks: [{type: 'audio', capture: true, recv: false},
                 {type: 'video', capture: {width: 320, height: 240, frameRate: 15}, recv: false}],
      });
      return JM.send(name, {request: 'publish', device_id: deviceId}, jsep);
    },

    // An echo of the fake camera and microphone (janus.plugin.media's "echo"): what comes back
    // is received on the same PeerConnection.
    async echo(name) {
      const h = JM.handles[name];
      const jsep = await JM._offer(h, {
        tracks: [{type: 'audio', capture: true, recv: true},
                 {type: 'video', capture: {width: 320, height: 240, frameRate: 15}, recv: true}],
      });
      return JM.send(name, {request: 'echo', audio: true, video: true}, jsep);
    },

    // A publisher's renegotiation to another video codec: a new offer sent with configure.
    async renegotiate(name, video) {
      const h = JM.handles[name];
      const pc = h.handle.webrtcStuff.pc;
      pc.jmVideoCodec = video;
      const jsep = await JM._offer(h, {});
      return JM.send(name, {request: 'configure'}, jsep);
    },

    // Watches deviceId: every offer the plugin sends is answered with "start".
    watch(name, deviceId) {
      const h = JM.handles[name];
      h.autoStart = true;
      return JM.send(name, {request: 'watch', device_id: deviceId});
    },

    events(name, since) {
      return JM.handles[name].events.slice(since || 0);
    },

    state(name) {
      const h = JM.handles[name];
      return {events: h.events.length, webrtc: h.webrtc, ice: h.ice,
              answerErrors: h.answerErrors};
    },

    // What the PeerConnection sends and receives, from getStats(): per kind and direction
    // the codec and frame/packet counters, and the selected candidate pair's addresses.
    async stats(name) {
      const pc = JM.handles[name].handle.webrtcStuff.pc;
      if (!pc) return null;
      const report = await pc.getStats();
      const out = {};
      report.forEach((s) => {
        if (s.type === 'inbound-rtp' || s.type === 'outbound-rtp') {
          const codec = s.codecId ? report.get(s.codecId) : null;
          const inbound = s.type === 'inbound-rtp';
          out[s.kind + (inbound ? '_in' : '_out')] = {
            mimeType: codec ? codec.mimeType : null,
            payloadType: codec ? codec.payloadType : null,
            packets: inbound ? s.packetsReceived : s.packetsSent,
            frames: inbound ? s.framesDecoded : s.framesEncoded,
            keyFrames: inbound ? s.keyFramesDecoded : s.keyFramesEncoded,
            implementation: inbound ? s.decoderImplementation : s.encoderImplementation,
          };
        } else if (s.type === 'transport' && s.selectedCandidatePairId) {
          const pair = report.get(s.selectedCandidatePairId);
          const local = pair && report.get(pair.localCandidateId);
          const remote = pair && report.get(pair.remoteCandidateId);
          out.pair = {local: local ? local.address : null, remote: remote ? remote.address : null};
        }
      });
      return out;
    },

    hangup(name) {
      return JM.send(name, {request: 'hangup'});
    },

    destroy() {
      return new Promise((resolve) => {
        if (!JM.janus) {
          resolve();
          return;
        }
        JM.janus.destroy({success: resolve, error: resolve});
      });
    },
  };
  window.JM = JM;
})();
