#!/usr/bin/python3
"""End-to-end echo tests: aiortc <-> Janus (loopback only).

  JMEDIA_ECHO_PLUGIN   plugin package under test (default janus.plugin.media;
                       janus.plugin.echotest runs against Debian's stock one)
  JMEDIA_ECHO_BODY     optional JSON body for the offer message (overrides
                       the per-plugin default below)
  JMEDIA_MODULES_DIR   our built modules (default <repo>/build/modules)

Run: /usr/bin/python3 tests/e2e/test_echo.py -v
"""

import asyncio
import fractions
import json
import math
import os
import sys
import time
import unittest
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import (JanusConnectionClosed, JanusProcess,  # noqa: E402
                     JanusWsClient, new_peer_connection,
                     sdp_candidate_addresses)

from aiortc import RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import (AudioStreamTrack, MediaStreamError,  # noqa: E402
                                 VideoStreamTrack)
from av import AudioFrame, VideoFrame  # noqa: E402

PLUGIN = os.environ.get("JMEDIA_ECHO_PLUGIN", "janus.plugin.media")
MEDIA_PLUGIN = "janus.plugin.media"

# Per-plugin behaviour: the body sent with the offer, and how to hang up.
#   hangup "message": plugin request {"request":"hangup"}; the plugin replies
#                     and Janus emits {"janus":"hangup"}
#   hangup "janus":   core request {"janus":"hangup"} on the handle (echotest
#                     has no hangup request; it answers any body with "ok")
PROFILES = {
    MEDIA_PLUGIN: {
        "body": {"request": "echo", "audio": True, "video": True, "data": True},
        "hangup": "message",
        "ok": lambda d: d.get("result") == "ok" or "error_code" not in d,
        "text_echo": lambda text: text,
    },
    "janus.plugin.echotest": {
        "body": {"audio": True, "video": True},
        "hangup": "janus",
        "ok": lambda d: d.get("echotest") == "event" and d.get("result") == "ok",
        # echotest bounces binary messages as they are, text with a prefix
        "text_echo": lambda text: "Janus EchoTest here! You wrote: " + text,
    },
}
PROFILE = dict(PROFILES.get(PLUGIN, PROFILES[MEDIA_PLUGIN]))
if os.environ.get("JMEDIA_ECHO_BODY"):
    PROFILE["body"] = json.loads(os.environ["JMEDIA_ECHO_BODY"])

TEST_TIMEOUT = 45.0          # hard bound on one test's async body
TONE_HZ = 440.0
TONE_AMPLITUDE = 8000


def log(msg):
    sys.stderr.write("[e2e] %s\n" % msg)
    sys.stderr.flush()


def check_media_plugin_built(janus):
    if PLUGIN == MEDIA_PLUGIN and \
            "libjanus_media.so" not in janus.config_info["plugins"]:
        raise AssertionError(
            "libjanus_media.so not found in %s/plugins (set JMEDIA_MODULES_DIR "
            "or build first; JMEDIA_ECHO_PLUGIN=janus.plugin.echotest tests "
            "Debian's echotest instead)" % janus.modules_dir)


# ---------------------------------------------------------------------------
# media sources
# ---------------------------------------------------------------------------
class ToneTrack(AudioStreamTrack):
    """A 440 Hz sine, 8 kHz mono s16, 20 ms frames (paced like aiortc's)."""

    RATE = 8000
    SAMPLES = 160

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
        ts = self._timestamp
        pcm = b"".join(
            int(TONE_AMPLITUDE * math.sin(2 * math.pi * TONE_HZ * (ts + i)
                                          / self.RATE)).to_bytes(2, "little",
                                                                 signed=True)
            for i in range(self.SAMPLES))
        frame.planes[0].update(pcm)
        frame.pts = ts
        frame.sample_rate = self.RATE
        frame.time_base = fractions.Fraction(1, self.RATE)
        return frame


class SmallVideoTrack(VideoStreamTrack):
    """320x240 grey frames at 30 fps (cheaper to encode than 640x480)."""

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=320, height=240)
        for p in frame.planes:
            p.update(bytes([128]) * p.buffer_size)
        frame.pts = pts
        frame.time_base = time_base
        return frame


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
async def wait_until(cond, timeout, what, step=0.02):
    """Poll cond() until true; bounded in time and iterations."""
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


def assert_loopback_candidates(tc, sdp, who, exact=None):
    cands = sdp_candidate_addresses(sdp)
    tc.assertTrue(cands, "%s SDP has no a=candidate lines" % who)
    for addr, typ in cands:
        if exact:
            tc.assertEqual(addr, exact, "%s candidate %s is not %s" % (who, addr, exact))
        else:
            tc.assertTrue(addr.startswith("127."),
                          "%s candidate %s is not loopback" % (who, addr))
        tc.assertEqual(typ, "host", "%s candidate of type %s" % (who, typ))
    return cands


class EchoSession:
    """One Janus session + handle + aiortc PeerConnection in echo mode."""

    def __init__(self, janus):
        self.janus = janus
        self.client = None
        self.handle = None
        self.pc = None
        self.dc = None
        self.frames = {"audio": 0, "video": 0}
        self.first_frame = {}
        self.audio_peak = 0
        self.dc_messages = []
        self.tasks = []
        self.t = {}

    async def _consume(self, track):
        kind = track.kind
        deadline = time.monotonic() + TEST_TIMEOUT + 30
        for _ in range(100000):
            if time.monotonic() > deadline:
                return
            try:
                frame = await track.recv()
            except (MediaStreamError, asyncio.CancelledError):
                return
            except Exception:
                return
            self.frames[kind] = self.frames.get(kind, 0) + 1
            self.first_frame.setdefault(kind, time.monotonic())
            if kind == "audio" and self.audio_peak < TONE_AMPLITUDE // 4:
                try:
                    arr = frame.to_ndarray()
                    self.audio_peak = max(self.audio_peak, int(abs(arr).max()))
                except Exception:
                    pass

    async def open(self, tc, plugin=PLUGIN, profile=PROFILE, with_data=True):
        t0 = self.t["start"] = time.monotonic()
        self.client = await JanusWsClient(self.janus.ws_url).connect()
        await self.client.create_session()
        self.handle = await self.client.attach(plugin)

        self.pc = pc = new_peer_connection()
        pc.addTrack(ToneTrack())
        pc.addTrack(SmallVideoTrack())
        if with_data:
            self.dc = pc.createDataChannel("jmedia-e2e")
            self.dc.on("message", lambda m: self.dc_messages.append(m))
        body = dict(profile["body"])
        if not with_data and "data" in body:
            body["data"] = False

        @pc.on("track")
        def on_track(track):
            self.tasks.append(asyncio.ensure_future(self._consume(track)))

        await pc.setLocalDescription(await pc.createOffer())
        await harness.wait_ice_gathering_complete(pc, 10)
        offer = pc.localDescription
        self.local_cands = assert_loopback_candidates(tc, offer.sdp, "offer",
                                                      exact="127.0.0.1")
        self.t["offer"] = time.monotonic()
        reply = await self.client.message(
            self.handle, body,
            jsep={"type": offer.type, "sdp": offer.sdp, "trickle": False},
            timeout=15)
        self.t["answer"] = time.monotonic()
        tc.assertEqual(reply.get("janus"), "event", "offer reply: %r" % reply)
        data = reply.get("plugindata", {}).get("data", {})
        tc.assertNotIn("error_code", data, "plugin error: %r" % data)
        tc.assertTrue(profile["ok"](data), "unexpected plugin reply %r" % data)
        jsep = reply.get("jsep")
        tc.assertIsNotNone(jsep, "no jsep in reply %r" % reply)
        tc.assertEqual(jsep.get("type"), "answer")
        self.remote_cands = assert_loopback_candidates(tc, jsep["sdp"], "answer")
        for kind in ("audio", "video") + (("application",) if with_data else ()):
            tc.assertIn("m=%s " % kind, jsep["sdp"], "answer lacks m=%s" % kind)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=jsep["sdp"],
                                                            type=jsep["type"]))
        self.t["ice"] = await wait_until(
            lambda: pc.iceConnectionState in ("connected", "completed"),
            10, lambda: "ICE connected (state %s)" % pc.iceConnectionState)
        tc.assertIn(pc.iceConnectionState, ("connected", "completed"))
        return t0

    def dtls_state(self):
        tr = self.pc.getTransceivers()
        return tr[0].sender.transport.state if tr and tr[0].sender.transport else None

    async def close(self):
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            try:
                await asyncio.wait_for(task, 5)
            except (asyncio.CancelledError, Exception):
                pass
        if self.pc is not None:
            await asyncio.wait_for(self.pc.close(), 10)
        if self.client is not None:
            await self.client.close()


# ---------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------
class EchoTest(unittest.IsolatedAsyncioTestCase):
    janus = None

    async def asyncSetUp(self):
        # IsolatedAsyncioTestCase runs the loop in debug mode; aiortc's codecs
        # routinely block for >0.1 s, which would only add log noise.
        asyncio.get_running_loop().slow_callback_duration = 2.0

    @classmethod
    def setUpClass(cls):
        cls.janus = JanusProcess().start()
        try:
            check_media_plugin_built(cls.janus)
        except BaseException:
            cls.janus.stop()
            cls.janus.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.janus is not None:
            code, took = cls.janus.stop(10)
            log("janus (echo class) stopped: code %s in %.2f s" % (code, took))
            cls.janus.cleanup()

    async def test_full_echo(self):
        try:
            await asyncio.wait_for(self._full_echo(), TEST_TIMEOUT)
        except BaseException:
            log("janus log tail:\n" + self.janus.log_tail(80))
            raise

    async def _full_echo(self):
        s = EchoSession(self.janus)
        try:
            await self._run_full_echo(s)
        finally:
            await s.close()
        self.assertEqual(self.janus.admin().list_sessions(), [],
                         "session still listed after destroy")
        self.assertTrue(self.janus.alive(), "janus died during the test")

    async def _run_full_echo(self, s):
        t0 = await s.open(self)
        c, h = s.client, s.handle

        # DTLS
        t_dtls = await wait_until(lambda: s.dtls_state() == "connected", 10,
                                  "DTLS connected")
        self.assertEqual(s.dtls_state(), "connected")
        # webrtcup
        await c.wait_event(h, "webrtcup", timeout=10)
        t_up = time.monotonic()
        # echoed media
        await wait_until(lambda: s.frames["audio"] >= 25 and s.frames["video"] >= 10,
                         15, lambda: "echoed audio and video frames (have %r)"
                         % s.frames)
        self.assertGreater(s.frames["audio"], 0, "no echoed audio frames")
        self.assertGreater(s.frames["video"], 0, "no echoed video frames")
        await wait_until(lambda: s.audio_peak >= TONE_AMPLITUDE // 4, 5,
                         lambda: "echoed tone (peak %d)" % s.audio_peak)
        # data channel
        await wait_until(lambda: s.dc.readyState == "open", 10, "data channel open")
        probe = b"\x00echo-probe-\xff" + uuid.uuid4().bytes
        t_dc = time.monotonic()
        s.dc.send(probe)
        await wait_until(lambda: probe in s.dc_messages, 10,
                         lambda: "binary data channel echo (got %r)"
                         % s.dc_messages)
        dc_rtt = time.monotonic() - t_dc
        self.assertEqual([m for m in s.dc_messages if m == probe], [probe])
        text = "echo-probe-" + uuid.uuid4().hex
        want = PROFILE["text_echo"](text)
        s.dc.send(text)
        await wait_until(lambda: want in s.dc_messages, 10,
                         lambda: "text data channel echo (got %r)"
                         % s.dc_messages)
        self.assertEqual([m for m in s.dc_messages if m == want], [want])

        # every socket of janus and of this test process is on 127.0.0.0/8
        for who, pid in (("janus", self.janus.pid), ("test", os.getpid())):
            for proto in ("udp", "tcp"):
                socks = harness.process_sockets(pid, proto)
                if proto == "udp":
                    self.assertTrue(socks, "%s has no UDP socket?" % who)
                bad = [a for a in socks if not a[0].startswith("127.")]
                self.assertEqual(bad, [], "%s %s sockets off loopback" % (who, proto))
        janus_udp = harness.process_sockets(self.janus.pid, "udp")

        info = self.janus.admin().handle_info(c.session_id, h)
        self.assertEqual(info.get("plugin"), PLUGIN)
        log("full echo (%s): answer %.3fs, ice %.3fs, dtls %.3fs, webrtcup "
            "%.3fs, first audio %.3fs, first video %.3fs after start; frames "
            "audio=%d video=%d, audio peak=%d, dc rtt %.1f ms; candidates "
            "local=%s remote=%s; janus udp %s; janus rss %.1f MB"
            % (PLUGIN, s.t["answer"] - t0, s.t["ice"] - t0, t_dtls - t0,
               t_up - t0, s.first_frame["audio"] - t0,
               s.first_frame["video"] - t0, s.frames["audio"],
               s.frames["video"], s.audio_peak, dc_rtt * 1000,
               sorted({a for a, _ in s.local_cands}),
               sorted({a for a, _ in s.remote_cands}), janus_udp,
               self.janus.rss_bytes() / 1e6))

        # hangup
        if PROFILE["hangup"] == "message":
            r = await c.message(h, {"request": "hangup"}, timeout=10)
            self.assertIn(r.get("janus"), ("success", "event"), "hangup: %r" % r)
            self.assertNotIn("error_code",
                             r.get("plugindata", {}).get("data", {}),
                             "hangup: %r" % r)
        else:
            r = await c.hangup(h, timeout=10)
            self.assertEqual(r.get("janus"), "success", "hangup: %r" % r)
        ev = await c.wait_event(h, "hangup", timeout=10)
        log("hangup event: %s" % json.dumps(ev))

        # detach + destroy
        r = await c.detach(h)
        self.assertEqual(r.get("janus"), "success", "detach: %r" % r)
        r = await c.destroy()
        self.assertEqual(r.get("janus"), "success", "destroy: %r" % r)


class SigtermTest(unittest.IsolatedAsyncioTestCase):

    def setUp(self):
        self.janus = JanusProcess()
        self.janus.start()
        try:
            check_media_plugin_built(self.janus)
        except BaseException:
            self.janus.stop()
            self.janus.cleanup()
            raise

    def tearDown(self):
        self.janus.stop(5)
        self.janus.cleanup()

    async def asyncSetUp(self):
        asyncio.get_running_loop().slow_callback_duration = 2.0

    async def test_sigterm_with_echo_session(self):
        """SIGTERM with an audio+video echo PeerConnection up.

        No data channel on purpose: stock Janus 1.1.2 races on SIGTERM when
        an SCTP association is up (janus_sctp_deinit frees sctp_ids while
        the handle loop still runs janus_sctp_association_destroy -> SIGFPE
        in g_hash_table_remove, about 1 run in 10-40; fixed upstream after
        1.1.2 by bcc5b328).  That is a core bug we cannot fix from a
        module, so it is not part of the suite (see tests/e2e/README.md).
        """
        try:
            await asyncio.wait_for(self._sigterm(), TEST_TIMEOUT)
        except BaseException:
            log("janus log tail:\n" + self.janus.log_tail(80))
            raise

    async def _sigterm(self):
        s = EchoSession(self.janus)
        try:
            await s.open(self, with_data=False)
            await s.client.wait_event(s.handle, "webrtcup", timeout=10)
            await wait_until(lambda: s.frames["audio"] > 0 and s.frames["video"] > 0,
                             15, lambda: "media flowing (%r)" % s.frames)
            pid = self.janus.pid
            loop = asyncio.get_running_loop()
            # stop() blocks: run it in a thread so the client keeps reading
            code, took = await loop.run_in_executor(None, self.janus.stop, 10.0)
            log("SIGTERM to janus pid %d with an audio+video echo session "
                "up: exit code %s after %.2f s" % (pid, code, took))
            self.assertLess(took, 10.0, "janus took %.1f s to exit" % took)
            self.assertEqual(code, 0, "janus exit code %s after SIGTERM" % code)
            self.assertFalse(self.janus.alive())
            # the client must notice: ws close or a hangup for the handle
            try:
                ev = await s.client.wait_event(s.handle, "hangup", timeout=5)
                seen = "hangup event %s" % json.dumps(ev)
            except JanusConnectionClosed:
                seen = "websocket closed (code %s)" % s.client.close_code
            await wait_until(lambda: s.client.closed.is_set(), 5, "ws close")
            log("client saw: %s; ws closed=%s"
                % (seen, s.client.closed.is_set()))
        finally:
            await s.close()


if __name__ == "__main__":
    log("plugin under test: %s, body %s, hangup via %s"
        % (PLUGIN, json.dumps(PROFILE["body"]), PROFILE["hangup"]))
    unittest.main()
