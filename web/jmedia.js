// janus.plugin.media for browsers: a promise API over Debian's janus.js (libjs-janus-gateway
// 1.1.2, with libjs-webrtc-adapter), plus the few helpers the pages of web/ share.
//
// The pages load adapter.js and janus.js as classic scripts first (window.Janus), then this
// module. The end-to-end tests drive this same module (tests/e2e/test_web.py through the
// pages, tests/e2e/test_renegotiation.py directly): what they check is what users run.
//
//   const conn = await connect('ws://127.0.0.1:8188/');   // or http://127.0.0.1:8088/janus
//   const cam = await conn.attach();
//   await cam.publish('cam-1', {token});                    // camera + microphone
//   const viewer = await conn.attach({onremotetrack: (track, on) => ...});
//   await viewer.watch('cam-1');                            // answers every offer itself
//   const stats = await viewer.stats();                     // normalised getStats()

export const PLUGIN = 'janus.plugin.media';
export const DEFAULT_WS_PORT = 8188;

// An error answer of the plugin ({"error_code": N, "error": text}), of Janus's core, of the
// connection or of the browser (code 0). message is what the pages show after "error: ".
export class MediaError extends Error {
  constructor(code, reason) {
    super(code ? `${code} ${reason}` : String(reason));
    this.code = code || 0;
    this.reason = String(reason);
  }
}

// -- page parameters ------------------------------------------------------------------------

// ?server=&device=&token=&autostart=1&codec= of a page. explicit says which were given, so
// that links to the other pages carry those (and not the defaults).
export function pageParams(search = location.search, here = location) {
  const q = new URLSearchParams(search);
  const explicit = {};
  for (const key of ['server', 'token']) {
    if (q.get(key)) explicit[key] = q.get(key);
  }
  return {
    server: q.get('server') || defaultServer(here),
    device: q.get('device') || '',
    token: q.get('token') || '',
    autostart: q.get('autostart') === '1',
    codec: q.get('codec') || '',
    explicit,
  };
}

// The Janus WebSocket of the host that served the page (scripts/run: ws://127.0.0.1:8188/).
export function defaultServer(here = location) {
  const scheme = here.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${here.hostname || '127.0.0.1'}:${DEFAULT_WS_PORT}/`;
}

// A link to another page that keeps this page's explicit server and token.
export function pageLink(page, params, extra = {}) {
  const q = new URLSearchParams({...params.explicit, ...extra});
  const s = q.toString();
  return s ? `${page}?${s}` : page;
}

// -- the connection -------------------------------------------------------------------------

let janusReady = null;

function initJanus() {
  if (!window.Janus) {
    return Promise.reject(new MediaError(0, 'janus.js is not loaded (libjs-janus-gateway)'));
  }
  janusReady = janusReady || new Promise((resolve) => {
    window.Janus.init({debug: ['warn', 'error'], callback: resolve});
  });
  return janusReady;
}

// A Janus session on server (WebSocket or HTTP long-poll, as janus.js picks from the URL).
// options.iceServers defaults to none: the media stays between this browser and Janus.
// options.onlost(error) is called if the connection goes later.
export async function connect(server, options = {}) {
  await initJanus();
  return new Promise((resolve, reject) => {
    let connection = null;
    const janus = new window.Janus({
      server,
      iceServers: options.iceServers || [],
      success: () => {
        connection = new Connection(janus, server);
        resolve(connection);
      },
      error: (e) => {
        const error = new MediaError(0, `Janus at ${server}: ${e}`);
        if (!connection) {
          reject(error);
        } else if (!connection.closed && options.onlost) {
          options.onlost(error);
        }
      },
    });
  });
}

class Connection {
  constructor(janus, server) {
    this.janus = janus;
    this.server = server;
    this.closed = false;
  }

  get sessionId() {
    return this.janus.getSessionId();
  }

  // A handle on janus.plugin.media; listeners as MediaHandle's.
  attach(listeners = {}) {
    return new Promise((resolve, reject) => {
      const h = new MediaHandle(listeners);
      this.janus.attach({
        plugin: PLUGIN,
        success: (handle) => {
          h.handle = handle;
          resolve(h);
        },
        error: (e) => reject(new MediaError(0, `attach ${PLUGIN}: ${e}`)),
        iceState: (state) => h._ice(state),
        webrtcState: (up, reason) => h._webrtc(up, reason),
        onmessage: (data, jsep) => h._message(data, jsep),
        onlocaltrack: (track, on) => h._localTrack(track, on),
        onremotetrack: (track, mid, on) => h._remoteTrack(track, mid, on),
        ondataopen: () => h._dataOpen(),
        ondata: (data) => h._data(data),
        oncleanup: () => h._cleanup(),
      });
    });
  }

  close() {
    this.closed = true;
    return new Promise((resolve) => {
      this.janus.destroy({success: resolve, error: resolve});
    });
  }
}

// -- codecs ---------------------------------------------------------------------------------

// The sender capabilities for a codec choice: 'vp8', 'h264', ..., or {mime: 'video/H264',
// fmtp: ['packetization-mode=1']} (each fmtp part must be in the codec's fmtp line).
export function videoCodecs(choice) {
  const want = typeof choice === 'string' ? {mime: 'video/' + choice} : choice;
  const all = RTCRtpSender.getCapabilities('video').codecs;
  const found = all.filter((c) => c.mimeType.toLowerCase() === want.mime.toLowerCase() &&
      (want.fmtp || []).every((part) => (c.sdpFmtpLine || '').split(';').includes(part)));
  if (!found.length) {
    throw new MediaError(0, `this browser cannot send ${want.mime} ${(want.fmtp || []).join(';')}`);
  }
  return found;
}

function preferVideoCodec(pc, choice) {
  const codecs = videoCodecs(choice);
  for (const t of pc.getTransceivers()) {
    const track = t.sender.track || t.receiver.track;
    if (track && track.kind === 'video' && !t.stopped) t.setCodecPreferences(codecs);
  }
}

// -- a handle -------------------------------------------------------------------------------

// One janus.plugin.media handle. Every plugin event is kept in events ({result, data,
// error_code, jsep: {type, sdp}}), in order. Listeners (all optional): onevent(event),
// onerror(MediaError) for an error no request waits for, onwebrtc(up, reason),
// onlocaltrack(track, on), onremotetrack(track, on), ondata(text), oncleanup().
export class MediaHandle {
  constructor(listeners) {
    this.listeners = listeners;
    this.handle = null;
    this.events = [];
    this.webrtc = [];     // 'up' / 'down: <reason>', in order
    this.ice = [];        // ICE states, in order
    this.errors = [];     // what went wrong outside a request (createAnswer, remote JSEP)
    this.role = null;
    this.up = false;
    this.dataOpen = false;
    this._waiters = [];
    this._autoAnswer = false;
    this._codec = null;
    this._lastStats = null;
    this._cleanupWaiters = [];
  }

  get id() {
    return this.handle ? this.handle.getId() : null;
  }

  get pc() {
    return this.handle && this.handle.webrtcStuff ? this.handle.webrtcStuff.pc : null;
  }

  _emit(name, ...args) {
    const fn = this.listeners[name];
    if (fn) fn(...args);
  }

  _message(data, jsep) {
    const event = {result: data.result || null, data, at: Date.now()};
    if (data.error_code) event.error_code = data.error_code;
    if (jsep) event.jsep = {type: jsep.type, sdp: jsep.sdp};
    this.events.push(event);
    if (jsep && jsep.type === 'answer') {
      this.handle.handleRemoteJsep({jsep, error: (e) => this._fail(`remote answer: ${e}`)});
    } else if (jsep && jsep.type === 'offer' && this._autoAnswer) {
      this._answer(jsep);
    }
    if (data.result === 'hangup') this.role = null;
    this._emit('onevent', event);
    this._settle(event);
  }

  // A viewer receives what is offered and answers with "start" (after watch, and after
  // every new offer: a new publisher with other codecs, or the publisher renegotiated).
  _answer(jsep) {
    this.handle.createAnswer({
      jsep,
      tracks: [{type: 'audio', capture: false, recv: true},
               {type: 'video', capture: false, recv: true}],
      success: (answer) => this.handle.send({
        message: {request: 'start'}, jsep: answer,
        error: (e) => this._fail(`start: ${e}`),
      }),
      error: (e) => this._fail(`answering the offer: ${e}`),
    });
  }

  _fail(text) {
    const error = new MediaError(0, text);
    this.errors.push(error.message);
    if (!this._rejectWaiters(error)) this._emit('onerror', error);
  }

  _ice(state) {
    this.ice.push(state);
    if (state === 'failed') this._fail('ICE failed');
  }

  _webrtc(up, reason) {
    this.up = up;
    this.webrtc.push(up ? 'up' : 'down: ' + reason);
    this._emit('onwebrtc', up, reason);
  }

  _localTrack(track, on) {
    // janus.js creates the PeerConnection inside createOffer and announces each captured
    // track before it creates the offer: the place to choose the codec of the first offer.
    if (on && track.kind === 'video' && this._codec && this.pc) {
      preferVideoCodec(this.pc, this._codec);
    }
    this._emit('onlocaltrack', track, on);
  }

  _remoteTrack(track, mid, on) {
    this._emit('onremotetrack', track, on);
  }

  _dataOpen() {
    this.dataOpen = true;
  }

  _data(text) {
    this._emit('ondata', text);
  }

  _cleanup() {
    this.up = false;
    this.dataOpen = false;
    this._lastStats = null;
    const waiting = this._cleanupWaiters;
    this._cleanupWaiters = [];
    waiting.forEach((resolve) => resolve());
    this._emit('oncleanup');
  }

  // The next event (from now) with this result; rejected by an error event first.
  _next(result) {
    return new Promise((resolve, reject) => {
      this._waiters.push({result, resolve, reject});
    });
  }

  _settle(event) {
    if (event.error_code) {
      const error = new MediaError(event.error_code, event.data.error);
      if (!this._rejectWaiters(error)) this._emit('onerror', error);
      return;
    }
    this._waiters = this._waiters.filter((w) => {
      if (w.result !== event.result) return true;
      w.resolve(event);
      return false;
    });
  }

  _rejectWaiters(error) {
    const waiters = this._waiters;
    this._waiters = [];
    waiters.forEach((w) => w.reject(error));
    return waiters.length > 0;
  }

  // Sends body (with jsep): the sync reply's data, or null once acknowledged. A sync error
  // reply, or Janus refusing the message, rejects with a MediaError.
  send(body, jsep) {
    return new Promise((resolve, reject) => {
      this.handle.send({
        message: body, jsep,
        success: (data) => {
          if (data && data.error_code) reject(new MediaError(data.error_code, data.error));
          else resolve(data || null);
        },
        error: (e) => reject(new MediaError(0, `${body.request}: ${e}`)),
      });
    });
  }

  // An async request: sent, then the event with result `result` (or its error).
  async request(body, result, jsep) {
    const answered = this._next(result);
    answered.catch(() => {});  // its error is thrown below, or by the send first
    try {
      await this.send(body, jsep);
    } catch (e) {
      this._waiters = this._waiters.filter((w) => w.result !== result);
      throw e;
    }
    return answered;
  }

  _offer(options) {
    return new Promise((resolve, reject) => {
      this.handle.createOffer(Object.assign({
        success: resolve,
        error: (e) => reject(new MediaError(0, describeMediaError(e))),
      }, options));
    });
  }

  // Publishes the camera and microphone as deviceId. options: token, audio, video (true,
  // false or getUserMedia constraints), codec (see videoCodecs). Resolves on "publishing".
  async publish(deviceId, options = {}) {
    const video = options.video === undefined ? true : options.video;
    const audio = options.audio === undefined ? true : options.audio;
    this._codec = options.codec || null;
    const tracks = [];
    if (audio) tracks.push({type: 'audio', capture: audio, recv: false});
    if (video) tracks.push({type: 'video', capture: video, recv: false});
    const jsep = await this._offer({tracks});
    const event = await this.request(withToken({request: 'publish', device_id: deviceId},
                                               options.token), 'publishing', jsep);
    this.role = 'publisher';
    return event;
  }

  // Watches deviceId; every offer the plugin sends is answered with "start". Resolves on
  // "watching".
  async watch(deviceId, options = {}) {
    this._autoAnswer = true;
    const watching = this._next('watching');
    watching.catch(() => {});  // awaited below once the offer came; rejected with it otherwise
    try {
      await this.request(withToken({request: 'watch', device_id: deviceId}, options.token),
                         'offer');
    } catch (e) {
      this._autoAnswer = false;
      this._waiters = this._waiters.filter((w) => w.result !== 'watching');
      throw e;
    }
    const event = await watching;
    this.role = 'viewer';
    return event;
  }

  // Sends the camera, microphone and a data channel to the echo; resolves on "echoing".
  async echo(options = {}) {
    const tracks = [{type: 'audio', capture: true, recv: true},
                    {type: 'video', capture: options.video === undefined ? true : options.video,
                     recv: true}];
    if (options.data !== false) tracks.push({type: 'data'});
    const jsep = await this._offer({tracks});
    const event = await this.request(withToken({request: 'echo'}, options.token), 'echoing',
                                     jsep);
    this.role = 'echo';
    return event;
  }

  // A publisher (or echo) sends a new offer with "configure", its video as codec only;
  // resolves on "configured".
  async renegotiate(options = {}) {
    if (options.codec && this.pc) preferVideoCodec(this.pc, options.codec);
    const jsep = await this._offer({});
    return this.request({request: 'configure', ...(options.body || {})}, 'configured', jsep);
  }

  configure(body) {
    return this.request({request: 'configure', ...body}, 'configured');
  }

  // Ends the role; resolves on the plugin's "hangup".
  hangup() {
    return this.request({request: 'hangup'}, 'hangup');
  }

  sendData(text) {
    return new Promise((resolve, reject) => {
      this.handle.data({text, success: resolve, error: (e) => reject(new MediaError(0, e))});
    });
  }

  // Every device the token may see, following next_cursor (pages of `limit`, at most
  // maxPages of them).
  async devices(options = {}) {
    const out = [];
    let cursor = null;
    for (let page = 0; page < (options.maxPages || 100); page++) {
      const body = withToken({request: 'devices', limit: options.limit || 100}, options.token);
      if (cursor) body.cursor = cursor;
      const reply = await this.send(body);
      out.push(...(reply.devices || []));
      cursor = reply.next_cursor;
      if (!cursor) break;
    }
    return out;
  }

  // What the PeerConnection sends and receives, from getStats(): per kind and direction
  // (video_in, video_out, audio_in, audio_out) the codec, counters, rates since the last
  // call, and the selected candidate pair. null without a PeerConnection.
  async stats() {
    const pc = this.pc;
    if (!pc) return null;
    const report = await pc.getStats();
    const now = performance.now();
    const last = this._lastStats;
    const out = {at: Date.now()};
    const remote = {};
    report.forEach((s) => {
      if (s.type === 'remote-inbound-rtp') remote[s.localId] = s;
    });
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' || s.type === 'outbound-rtp') {
        const inbound = s.type === 'inbound-rtp';
        const key = s.kind + (inbound ? '_in' : '_out');
        const codec = s.codecId ? report.get(s.codecId) : null;
        const bytes = inbound ? s.bytesReceived : s.bytesSent;
        const back = remote[s.id];
        const entry = {
          mimeType: codec ? codec.mimeType : null,
          payloadType: codec ? codec.payloadType : null,
          packets: inbound ? s.packetsReceived : s.packetsSent,
          bytes,
          frames: inbound ? s.framesDecoded : s.framesEncoded,
          keyFrames: inbound ? s.keyFramesDecoded : s.keyFramesEncoded,
          width: s.frameWidth, height: s.frameHeight, fps: s.framesPerSecond,
          implementation: inbound ? s.decoderImplementation : s.encoderImplementation,
          packetsLost: inbound ? s.packetsLost : back && back.packetsLost,
          jitter: inbound ? s.jitter : back && back.jitter,
          rtt: back ? back.roundTripTime : undefined,
          bitrate: null,
        };
        const before = last && last[key];
        if (before && before.bytes !== undefined && now > last.t) {
          entry.bitrate = Math.max(0, (bytes - before.bytes) * 8000 / (now - last.t));
        }
        out[key] = entry;
      } else if (s.type === 'transport' && s.selectedCandidatePairId) {
        const pair = report.get(s.selectedCandidatePairId);
        const local = pair && report.get(pair.localCandidateId);
        const far = pair && report.get(pair.remoteCandidateId);
        out.pair = {local: local ? local.address : null, remote: far ? far.address : null,
                    rtt: pair ? pair.currentRoundTripTime : undefined};
      }
    });
    this._lastStats = {t: now};
    for (const key of ['video_in', 'video_out', 'audio_in', 'audio_out']) {
      if (out[key]) this._lastStats[key] = {bytes: out[key].bytes};
    }
    return out;
  }

  detach() {
    return new Promise((resolve) => {
      this.handle.detach({success: resolve, error: resolve});
    });
  }

  // Ends the role, if any, and detaches. Waits (at most 2 s) for Janus's own hangup of the
  // PeerConnection first: Janus 1.1.2 can leave a handle behind when a detach follows a
  // hangup too closely. silent: the listeners hear nothing more (a handle left behind).
  async close({silent = false} = {}) {
    if (!this.handle) return;
    if (silent) this.listeners = {};
    const cleaned = this.pc ? new Promise((resolve) => this._cleanupWaiters.push(resolve))
                            : Promise.resolve();
    if (this.role) {
      try {
        await this.hangup();
      } catch (e) {
        // already gone: detach anyway
      }
    }
    await Promise.race([cleaned, new Promise((resolve) => setTimeout(resolve, 2000))]);
    await this.detach();
  }
}

// Where index.html reads the node's devices from: {name, list()} with list() resolving to
// [{device_id, publishing, viewers}]. Today the plugin's `devices` request on a handle (what
// any Janus API client can do); a source reading the REST API on the metrics listener
// (GET /api/media/devices) fits the same shape.
export function pluginDeviceSource(handle, token) {
  return {name: "the plugin's devices request", list: () => handle.devices({token})};
}

function withToken(body, token) {
  if (token) body.token = token;
  return body;
}

// getUserMedia's errors as a person can act on them.
function describeMediaError(e) {
  const name = e && e.name;
  if (name === 'NotAllowedError') return 'camera/microphone: permission denied';
  if (name === 'NotFoundError') return 'camera/microphone: none found';
  if (name === 'NotReadableError') return 'camera/microphone: in use by another program';
  if (window.isSecureContext === false) {
    return 'camera/microphone need a secure page (https://, or http://127.0.0.1): ' + e;
  }
  return String(e && e.message ? `${name}: ${e.message}` : e);
}

// -- what the pages share -------------------------------------------------------------------

// Shows text in the page's #state element; its class says how it looks (ok, busy, error).
export function showState(text, kind = 'busy') {
  const el = document.getElementById('state');
  el.textContent = text;
  el.className = 'state ' + kind;
  el.dataset.kind = kind;
}

export function showError(error) {
  showState('error: ' + (error instanceof MediaError ? error.message : String(error)), 'error');
}

// Renders rows [[label, key, value]] into the #stats element (a <dl>): each value in a
// <dd data-stat="key"> that scripts and tests can read.
export function showStats(rows) {
  const el = document.getElementById('stats');
  const keys = rows.map((r) => r[1]).join(' ');
  if (el.dataset.keys !== keys) {
    el.replaceChildren(...rows.map(([label, key]) => {
      const row = document.createElement('div');
      const dt = document.createElement('dt');
      const dd = document.createElement('dd');
      dt.textContent = label;
      dd.dataset.stat = key;
      row.append(dt, dd);
      return row;
    }));
    el.dataset.keys = keys;
  }
  for (const [, key, value] of rows) {
    el.querySelector(`[data-stat="${key}"]`).textContent = value === undefined ||
        value === null || Number.isNaN(value) ? '-' : String(value);
  }
}

export function formatBitrate(bps) {
  if (bps === null || bps === undefined) return '-';
  if (bps >= 1e6) return (bps / 1e6).toFixed(2) + ' Mbit/s';
  return Math.round(bps / 1e3) + ' kbit/s';
}

export function formatResolution(s) {
  if (!s || !s.width) return '-';
  return `${s.width}x${s.height}` + (s.fps ? ` @ ${Math.round(s.fps)} fps` : '');
}

export function formatMs(seconds) {
  if (seconds === undefined || seconds === null) return '-';
  const ms = seconds * 1000;
  return ms.toFixed(ms < 10 ? 2 : 1) + ' ms';
}

// Marks input as where error happened when the plugin's code is one of codes (e.g. 1004 on
// a bad device_id, 1015 no such device), until it is edited.
export function flagInput(input, error, codes) {
  if (!(error instanceof MediaError) || !codes.includes(error.code)) return;
  input.setAttribute('aria-invalid', 'true');
  input.focus();
  input.addEventListener('input', () => input.removeAttribute('aria-invalid'), {once: true});
}

// Appends a line to the page's #events list (newest first, at most 50).
export function logEvent(text) {
  const list = document.getElementById('events');
  if (!list) return;
  const item = document.createElement('li');
  const time = document.createElement('time');
  time.textContent = new Date().toLocaleTimeString();
  item.append(time, ' ' + text);
  list.prepend(item);
  while (list.children.length > 50) list.lastChild.remove();
}

// Keeps the nav links of the page pointing at the same server and token.
export function linkPages(params) {
  for (const a of document.querySelectorAll('a[data-page]')) {
    a.href = pageLink(a.dataset.page, params);
  }
  const server = document.getElementById('server');
  if (server) server.textContent = params.server;
}

// Calls fn every `ms` after the previous call finished, until the returned stop().
export function every(ms, fn) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    try {
      await fn();
    } finally {
      if (!stopped) timer = setTimeout(tick, ms);
    }
  };
  timer = setTimeout(tick, 0);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
