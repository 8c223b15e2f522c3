"""aiortc publishers and viewers of janus.plugin.media devices (e2e tests).

Used by test_devices.py; everything stays on 127.0.0.0/8 (harness's
new_peer_connection() and JanusWsClient refuse anything else).

  CounterVideoTrack     320x240 video whose frames carry (source id, frame
                        number) as 16 black/white columns, so that a viewer
                        can tell whose video it decodes and that it moves
  read_counter_frame()  decodes that pattern from a received VideoFrame
  ToneTrack             a 440 Hz tone
  ReceivedMedia         per-peer tally of decoded frames (audio, video),
                        first-frame times, decoded video ids, audio peak
  Peer                  one JanusWsClient session + a janus.plugin.media
                        handle; every message it gets is timestamped
  Publisher             publish (optionally another audio codec, or the
                        offer's payload types renumbered as another stack
                        would number them)
  Viewer                watch -> offer -> start; browser_like=True adds the
                        PLIs a browser sends while it cannot decode
  Echoer                an audio echo session
  KeyframeProbe         records, in this process, every PLI a publisher's
                        RTCRtpSender acts on and every PLI a viewer's
                        RTCRtpReceiver sends (who asked for keyframes)
  make_offer()          a throw-away aiortc offer (loopback candidates)
  renumber_payload_types(), tolerate_codec_switch_in_pcm_decoder()
  plugin_data(), result_of(), wait_until(), close_all()

Two workarounds of aiortc 1.4 limitations, both for renegotiation only and
both documented where they are: a receiver adopts the codecs of a new offer
(Viewer._adopt_renegotiated_codecs), and the PCM decoder drops the one old-
codec frame aiortc hands it after a codec switch.
"""

import asyncio
import collections
import fractions
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import JanusWsClient, new_peer_connection  # noqa: E402

import numpy  # noqa: E402
from aiortc import RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import (AudioStreamTrack, MediaStreamError,  # noqa: E402
                                 VideoStreamTrack)
from av import AudioFrame, VideoFrame  # noqa: E402

MEDIA_PLUGIN = "janus.plugin.media"
TONE_HZ = 440.0
TONE_AMPLITUDE = 8000

# Video pattern: BITS columns, white = 1; value = source << 12 | frame & 0xfff
WIDTH, HEIGHT, BITS = 320, 240, 16
DARK, BRIGHT = 40, 200
COUNTER_MASK = 0xFFF


def log(msg):
    sys.stderr.write("[devices] %s\n" % msg)
    sys.stderr.flush()


async def wait_until(cond, timeout, what, step=0.02):
    """Poll cond() until true; bounded in time and iterations.  Returns the
    monotonic time at which it held; AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / step) + 10):
        if cond():
            return time.monotonic()
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(step)
    if cond():
        return time.monotonic()
    raise AssertionError("timed out after %.1f s waiting for %s"
                         % (timeout, what() if callable(what) else what))


def plugin_data(msg):
    """plugindata.data of a Janus message ({} when absent)."""
    return ((msg or {}).get("plugindata") or {}).get("data") or {}


def result_of(msg):
    return plugin_data(msg).get("result")


def is_result(result):
    return lambda m: result_of(m) == result


# ---------------------------------------------------------------------------
# media sources
# ---------------------------------------------------------------------------
class ToneTrack(AudioStreamTrack):
    """A 440 Hz sine, 8 kHz mono s16, 20 ms frames (paced like aiortc's)."""

    RATE = 8000
    SAMPLES = 160

    def __init__(self):
        super().__init__()
        t = numpy.arange(self.RATE) / self.RATE   # one second, 440 periods
        self._second = (TONE_AMPLITUDE * numpy.sin(2 * math.pi * TONE_HZ * t)
                        ).astype("<i2")

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        if hasattr(self, "_timestamp"):
            self._timestamp += self.SAMPLES
            wait = self._start + self._timestamp / self.RATE - time.time()
            await asyncio.sleep(wait)
        else:
            self._start = time.time()
            self._timestamp = 0
        frame = AudioFrame(format="s16", layout="mono", samples=self.SAMPLES)
        offset = self._timestamp % self.RATE
        frame.planes[0].update(
            self._second[offset:offset + self.SAMPLES].tobytes())
        frame.pts = self._timestamp
        frame.sample_rate = self.RATE
        frame.time_base = fractions.Fraction(1, self.RATE)
        return frame


def counter_value(source, number):
    return ((source & 0xF) << 12) | (number & COUNTER_MASK)


def make_counter_frame(source, number):
    y = numpy.full((HEIGHT, WIDTH), DARK, numpy.uint8)
    value = counter_value(source, number)
    col = WIDTH // BITS
    for bit in range(BITS):
        if value >> bit & 1:
            y[:, bit * col:(bit + 1) * col] = BRIGHT
    uv = numpy.full((HEIGHT // 2, WIDTH), 128, numpy.uint8)
    return VideoFrame.from_ndarray(numpy.vstack([y, uv]), format="yuv420p")


def read_counter_frame(frame):
    """(source, number) of a decoded counter frame, or None when a column is
    neither clearly dark nor clearly bright (not our pattern)."""
    if frame.format.name == "yuv420p":
        luma = frame.to_ndarray()[:frame.height]
    else:
        luma = frame.to_ndarray(format="gray")
    h, w = luma.shape
    col = w // BITS
    if col < 4 or h < 8:
        return None
    value = 0
    for bit in range(BITS):
        m = luma[h // 4:3 * h // 4,
                 bit * col + col // 4:(bit + 1) * col - col // 4].mean()
        if m > (DARK + BRIGHT) / 2 + 30:
            value |= 1 << bit
        elif m >= (DARK + BRIGHT) / 2 - 30:
            return None
    return (value >> 12, value & COUNTER_MASK)


class CounterVideoTrack(VideoStreamTrack):
    """30 fps 320x240 frames showing counter_value(source, n), n = 0, 1, ..."""

    def __init__(self, source):
        super().__init__()
        self.source = source
        self.sent = 0

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        frame = make_counter_frame(self.source, self.sent)
        self.sent += 1
        frame.pts = pts
        frame.time_base = time_base
        return frame


# ---------------------------------------------------------------------------
# what a viewer decodes
# ---------------------------------------------------------------------------
class ReceivedMedia:
    """Decoded frames of one PeerConnection's remote tracks."""

    def __init__(self):
        self.frames = {"audio": 0, "video": 0}
        self.first_frame = {}              # kind -> monotonic time
        self.audio_peak = 0
        # (monotonic time, (source, number) or None) of recent video frames
        self.video_ids = collections.deque(maxlen=4000)
        self.ended = {}
        self.tasks = []

    def add_track(self, track):
        self.tasks.append(asyncio.ensure_future(self._consume(track)))

    async def _consume(self, track, limit_s=600):
        kind = track.kind
        deadline = time.monotonic() + limit_s
        for _ in range(10000000):
            if time.monotonic() > deadline:
                return
            try:
                frame = await track.recv()
            except (MediaStreamError, asyncio.CancelledError):
                self.ended[kind] = time.monotonic()
                return
            except Exception as e:      # noqa: BLE001 (decoder errors)
                self.ended[kind] = "%r" % e
                return
            now = time.monotonic()
            self.frames[kind] = self.frames.get(kind, 0) + 1
            self.first_frame.setdefault(kind, now)
            if kind == "video":
                try:
                    ident = read_counter_frame(frame)
                except Exception:       # noqa: BLE001
                    ident = None
                self.video_ids.append((now, ident))
            elif kind == "audio" and self.audio_peak < TONE_AMPLITUDE // 4:
                try:
                    self.audio_peak = max(self.audio_peak,
                                          int(abs(frame.to_ndarray()).max()))
                except Exception:       # noqa: BLE001
                    pass

    def video_ids_since(self, t0):
        return [ident for t, ident in self.video_ids if t >= t0]

    def snapshot(self):
        return dict(self.frames)

    async def stop(self):
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            try:
                await asyncio.wait_for(task, 5)
            except (asyncio.CancelledError, Exception):
                pass
        self.tasks = []


# ---------------------------------------------------------------------------
# who asked for keyframes
# ---------------------------------------------------------------------------
class KeyframeProbe:
    """Class-level wrappers on aiortc: every RTCRtpSender._send_keyframe()
    call (aiortc calls it when a PLI arrives for that sender) and every
    RTCRtpReceiver._send_rtcp_pli() (a receiver asking for a keyframe itself)
    is recorded as (monotonic time, object).  Installed once per process."""

    installed = False
    sender_keyframe_requests = []   # (t, RTCRtpSender)
    receiver_plis = []              # (t, RTCRtpReceiver)

    @classmethod
    def install(cls):
        if cls.installed:
            return
        from aiortc.rtcrtpreceiver import RTCRtpReceiver
        from aiortc.rtcrtpsender import RTCRtpSender
        orig_kf = RTCRtpSender._send_keyframe
        orig_pli = RTCRtpReceiver._send_rtcp_pli

        def send_keyframe(self):
            if len(cls.sender_keyframe_requests) < 100000:
                cls.sender_keyframe_requests.append((time.monotonic(), self))
            return orig_kf(self)

        async def send_rtcp_pli(self, media_ssrc):
            if len(cls.receiver_plis) < 100000:
                cls.receiver_plis.append((time.monotonic(), self))
            return await orig_pli(self, media_ssrc)

        RTCRtpSender._send_keyframe = send_keyframe
        RTCRtpReceiver._send_rtcp_pli = send_rtcp_pli
        cls.installed = True

    @classmethod
    def keyframe_requests(cls, pc, since=0.0):
        senders = {id(s) for s in pc.getSenders()}
        return [t for t, s in cls.sender_keyframe_requests
                if id(s) in senders and t >= since]

    @classmethod
    def plis_sent(cls, pc, since=0.0):
        receivers = {id(r) for r in pc.getReceivers()}
        return [t for t, r in cls.receiver_plis
                if id(r) in receivers and t >= since]


# ---------------------------------------------------------------------------
# peers
# ---------------------------------------------------------------------------
class Peer:
    """A Janus session (WebSocket) with one janus.plugin.media handle."""

    def __init__(self, janus, name, timeout=10.0):
        self.janus = janus
        self.name = name
        self.timeout = timeout
        self.client = None
        self.handle = None
        self.pc = None
        self.media = ReceivedMedia()
        self.media_session = None

    async def connect(self):
        self.client = await JanusWsClient(self.janus.ws_url,
                                          timeout=self.timeout).connect()
        # timestamp everything that arrives (monotonic time, message)
        self.received = []
        dispatch = self.client._dispatch

        async def timestamped(msg):
            if len(self.received) < 100000:
                self.received.append((time.monotonic(), msg))
            await dispatch(msg)

        self.client._dispatch = timestamped
        await self.client.create_session()
        self.handle = await self.client.attach(MEDIA_PLUGIN)
        return self

    async def request(self, body, jsep=None, timeout=None):
        """A plugin message; the sync reply or the event with the same
        transaction."""
        return await self.client.message(self.handle, body, jsep=jsep,
                                         timeout=timeout or self.timeout)

    async def wait_result(self, result, timeout=None):
        return await self.client.wait_event(self.handle, is_result(result),
                                            timeout or self.timeout)

    def arrival(self, match):
        """Monotonic time at which the first message for this handle matching
        match (a "janus" string or a predicate) arrived, or None."""
        pred = (lambda m: m.get("janus") == match) if isinstance(match, str) else match
        for t, m in self.received:
            if m.get("sender") == self.handle and pred(m):
                return t
        return None

    def events(self, result=None):
        """Every message received for this handle (history), optionally only
        those with plugindata.data.result == result."""
        out = [m for m in self.client.history if m.get("sender") == self.handle]
        if result is not None:
            out = [m for m in out if result_of(m) == result]
        return out

    async def wait_ice(self, timeout=10.0):
        return await wait_until(
            lambda: self.pc.iceConnectionState in ("connected", "completed"),
            timeout, lambda: "%s ICE connected (state %s)"
            % (self.name, self.pc.iceConnectionState))

    async def close(self):
        await self.media.stop()
        if self.pc is not None:
            try:
                await asyncio.wait_for(self.pc.close(), 10)
            except Exception:           # noqa: BLE001
                pass
        if self.client is not None:
            await self.client.close()


class Publisher(Peer):
    """aiortc sender of a tone and a CounterVideoTrack(source)."""

    def __init__(self, janus, name, source, audio=True, video=True, audio_codec=None,
                 payload_types=None):
        super().__init__(janus, name)
        self.source = source
        self.audio = audio
        self.video = video
        self.audio_codec = audio_codec      # e.g. "PCMU": offer only that codec
        # {old: new} payload type renumbering of the offer sent to Janus
        self.payload_types = payload_types
        self.video_track = None

    async def offer(self):
        self.pc = pc = new_peer_connection()
        if self.audio:
            if self.audio_codec is None:
                pc.addTrack(ToneTrack())
            else:
                from aiortc import RTCRtpSender
                t = pc.addTransceiver(ToneTrack(), direction="sendonly")
                wanted = [c for c in RTCRtpSender.getCapabilities("audio").codecs
                          if c.mimeType.lower() == "audio/" + self.audio_codec.lower()]
                if not wanted:
                    raise AssertionError("aiortc has no %s encoder" % self.audio_codec)
                t.setCodecPreferences(wanted[:1])
        if self.video:
            self.video_track = CounterVideoTrack(self.source)
            pc.addTrack(self.video_track)
        pc.on("track", self.media.add_track)
        await pc.setLocalDescription(await pc.createOffer())
        await harness.wait_ice_gathering_complete(pc, 10)
        sdp = pc.localDescription.sdp
        if self.payload_types:
            sdp = renumber_payload_types(sdp, self.payload_types)
        return {"type": "offer", "sdp": sdp}

    async def publish(self, device_id, tc, body=None):
        """publish with a fresh offer; asserts the "publishing" event and
        its JSEP answer, applies it and waits for ICE.  Returns the data."""
        jsep = await self.offer()
        req = {"request": "publish", "device_id": device_id}
        req.update(body or {})
        reply = await self.request(req, jsep=jsep, timeout=15)
        data = plugin_data(reply)
        tc.assertEqual(reply.get("janus"), "event", "%s publish: %r" % (self.name, reply))
        tc.assertEqual(data.get("result"), "publishing",
                       "%s publish: %r" % (self.name, reply))
        tc.assertEqual(data.get("device_id"), device_id)
        tc.assertRegex(data.get("media_session") or "", r"^[0-9a-f]{16}$")
        answer = reply.get("jsep") or {}
        tc.assertEqual(answer.get("type"), "answer", "%s: %r" % (self.name, reply))
        await self.pc.setRemoteDescription(
            RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        self.media_session = data["media_session"]
        await self.wait_ice()
        return data


class Viewer(Peer):
    """aiortc receiver of a device's media: watch, answer the offer, start.

    aiortc itself never asks for a keyframe when the first video it receives
    is not decodable (it only sends a PLI when its jitter buffer overflows),
    so a plain aiortc viewer depends entirely on the plugin to get it a
    keyframe.  Browsers do ask (a PLI as soon as they cannot decode).  With
    browser_like=True the viewer does what a browser does: after each start,
    while it receives video RTP but has decoded no frame since, or the last
    frame it decoded is broken (not a counter pattern: e.g. a new source's
    delta frames decoded on top of the old source's pictures), it sends an
    RTCP PLI for that stream every 0.5 s, for at most 10 s."""

    PLI_INTERVAL = 0.5
    PLI_WINDOW = 10.0

    def __init__(self, janus, name, browser_like=False):
        super().__init__(janus, name)
        self.t_start = None
        self.browser_like = browser_like
        self.own_plis = []            # monotonic times of PLIs we sent
        self._pli_task = None

    async def watch(self, device_id, timeout=None, body=None):
        req = {"request": "watch", "device_id": device_id}
        req.update(body or {})
        return await self.request(req, timeout=timeout)

    async def answer(self, offer):
        """Applies a JSEP offer of the plugin; returns the JSEP answer."""
        renegotiation = self.pc is not None
        if self.pc is None:
            self.pc = new_peer_connection()
            self.pc.on("track", self.media.add_track)
        await self.pc.setRemoteDescription(
            RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await harness.wait_ice_gathering_complete(self.pc, 10)
        if renegotiation:
            self._adopt_renegotiated_codecs()
        return {"type": "answer", "sdp": self.pc.localDescription.sdp}

    def _adopt_renegotiated_codecs(self):
        """aiortc 1.4 limitation: RTCRtpReceiver.receive() takes the codecs
        only the first time, so after a renegotiation that changes the codec
        (or its payload type) the new RTP is dropped (unknown payload type in
        the transport's RTP router and in the receiver).  A browser adopts
        the new codecs; do the same by hand."""
        for t in self.pc.getTransceivers():
            codecs = getattr(t.receiver, "_RTCRtpReceiver__codecs", None)
            router = getattr(t.receiver.transport, "_rtp_router", None)
            if codecs is None or router is None:
                raise AssertionError("aiortc internals changed: no receiver codecs")
            for codec in t._codecs:
                codecs[codec.payloadType] = codec
                router.payload_type_table.setdefault(codec.payloadType, set()).add(t.receiver)

    def video_rtp_ssrcs(self):
        """SSRCs of the video RTP our receivers have seen (aiortc 1.4
        internals: RTCRtpReceiver.__remote_streams)."""
        out = []
        for r in self.pc.getReceivers() if self.pc else ():
            if r.track is not None and r.track.kind == "video":
                out.extend(getattr(r, "_RTCRtpReceiver__remote_streams", {}).keys())
        return out

    def readable_video_since(self, t0):
        """Decoded video frames since t0 that show a counter pattern (a
        decoder may output junk frames before its first keyframe)."""
        return sum(1 for ident in self.media.video_ids_since(t0) if ident is not None)

    def _decoding_well(self, since):
        frames = self.media.video_ids_since(since)
        return len(frames) > 0 and frames[-1] is not None

    async def _browser_like_plis(self, since):
        deadline = time.monotonic() + self.PLI_WINDOW
        for _ in range(int(self.PLI_WINDOW / 0.05) + 10):
            if time.monotonic() > deadline or self.readable_video_since(since) >= 10:
                return
            ssrcs = self.video_rtp_ssrcs()
            last = self.own_plis[-1] if self.own_plis else 0.0
            if ssrcs and not self._decoding_well(since) and \
                    time.monotonic() - last >= self.PLI_INTERVAL:
                for r in self.pc.getReceivers():
                    if r.track is not None and r.track.kind == "video":
                        self.own_plis.append(time.monotonic())
                        await r._send_rtcp_pli(ssrcs[0])
            await asyncio.sleep(0.05)

    async def start(self, answer, tc):
        self.t_start = time.monotonic()
        if self.browser_like:
            from aiortc.rtcrtpreceiver import RTCRtpReceiver
            tc.assertTrue(hasattr(RTCRtpReceiver, "_send_rtcp_pli"),
                          "aiortc without RTCRtpReceiver._send_rtcp_pli")
            if self._pli_task is not None:
                self._pli_task.cancel()
            self._pli_task = asyncio.ensure_future(
                self._browser_like_plis(self.t_start))
            self.media.tasks.append(self._pli_task)
        reply = await self.request({"request": "start"}, jsep=answer)
        tc.assertEqual(reply.get("janus"), "event", "%s start: %r" % (self.name, reply))
        tc.assertEqual(plugin_data(reply).get("result"), "watching",
                       "%s start: %r" % (self.name, reply))
        return plugin_data(reply)

    async def watch_and_start(self, device_id, tc, body=None):
        """watch (body: more fields, e.g. a token) -> "offer" event with a JSEP
        offer -> start with our answer -> "watching".  Returns the data of the
        offer event."""
        reply = await self.watch(device_id, timeout=15, body=body)
        data = plugin_data(reply)
        tc.assertEqual(reply.get("janus"), "event", "%s watch: %r" % (self.name, reply))
        tc.assertEqual(data.get("result"), "offer", "%s watch: %r" % (self.name, reply))
        tc.assertEqual(data.get("device_id"), device_id)
        tc.assertRegex(data.get("media_session") or "", r"^[0-9a-f]{16}$")
        offer = reply.get("jsep") or {}
        tc.assertEqual(offer.get("type"), "offer", "%s watch: %r" % (self.name, reply))
        self.media_session = data["media_session"]
        answer = await self.answer(offer)
        await self.start(answer, tc)
        await self.wait_ice()
        return data


def renumber_payload_types(sdp, mapping):
    """The SDP with payload types renumbered ({old: new}) in m= lines and in
    a=rtpmap/fmtp/rtcp-fb lines and apt= parameters, as another WebRTC stack
    would number the same codecs (Chrome: opus 111, VP8 96; Firefox: VP8
    120).  aiortc then sends with the numbers of the answer, i.e. the new
    ones."""
    import re

    def pt(match):
        return str(mapping.get(int(match.group(0)), int(match.group(0))))

    out = []
    for line in sdp.split("\r\n"):
        if line.startswith("m="):
            head, _, fmts = line.partition(" UDP/TLS/RTP/SAVPF ")
            if fmts:
                line = head + " UDP/TLS/RTP/SAVPF " + re.sub(r"\d+", pt, fmts)
        elif re.match(r"a=(rtpmap|fmtp|rtcp-fb):\d+", line):
            line = re.sub(r"(?<=:)\d+", pt, line, count=1)
            line = re.sub(r"(?<=apt=)\d+", pt, line)
        out.append(line)
    result = "\r\n".join(out)
    for old, new in mapping.items():
        if "a=rtpmap:%d " % new not in result:
            raise AssertionError("renumbering %d -> %d failed in\n%s" % (old, new, result))
    return result


_PCM_PATCHED = False


def tolerate_codec_switch_in_pcm_decoder():
    """aiortc 1.4 hands the frame that was completed by the first packet of
    a new codec to the new codec's decoder: after a switch from Opus to
    PCMU the last Opus frame goes to the PCMU decoder, which raises (wrong
    size) and kills the receiver's audio thread for good.  A browser drops
    such a frame; so does this patch.  Idempotent."""
    global _PCM_PATCHED
    if _PCM_PATCHED:
        return
    from aiortc.codecs import g711
    original = g711.PcmDecoder.decode

    def decode(self, encoded_frame):
        if len(encoded_frame.data) != g711.SAMPLES_PER_FRAME:
            return []
        return original(self, encoded_frame)

    g711.PcmDecoder.decode = decode
    _PCM_PATCHED = True


async def make_offer(kinds=("audio", "video")):
    """SDP of an aiortc offer for kinds; the PC is closed again."""
    pc = new_peer_connection()
    try:
        if "audio" in kinds:
            pc.addTrack(ToneTrack())
        if "video" in kinds:
            pc.addTrack(CounterVideoTrack(0))
        if "data" in kinds:
            pc.createDataChannel("devices")
        await pc.setLocalDescription(await pc.createOffer())
        await harness.wait_ice_gathering_complete(pc, 10)
        return pc.localDescription.sdp
    finally:
        await asyncio.wait_for(pc.close(), 10)


async def close_all(peers):
    for p in peers:
        if p is not None:
            try:
                await asyncio.wait_for(p.close(), 20)
            except Exception as e:      # noqa: BLE001
                log("closing %s: %r" % (getattr(p, "name", p), e))


class Echoer(Peer):
    """An audio-only echo session (role "echo")."""

    async def echo(self, tc):
        self.pc = pc = new_peer_connection()
        pc.addTrack(ToneTrack())
        pc.on("track", self.media.add_track)
        await pc.setLocalDescription(await pc.createOffer())
        await harness.wait_ice_gathering_complete(pc, 10)
        reply = await self.request({"request": "echo"},
                                   jsep={"type": "offer",
                                         "sdp": pc.localDescription.sdp},
                                   timeout=15)
        data = plugin_data(reply)
        tc.assertEqual(data.get("result"), "echoing", "%s echo: %r" % (self.name, reply))
        answer = reply.get("jsep") or {}
        tc.assertEqual(answer.get("type"), "answer", "%s: %r" % (self.name, reply))
        await pc.setRemoteDescription(
            RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        self.media_session = data["media_session"]
        await self.wait_ice()
        return data
