#!/usr/bin/python3
"""End-to-end: a publisher renegotiates to another video codec and its viewer follows.

Both peers are Debian's Chromium with Debian's janus.js, driven through the product's own
module web/jmedia.js (tests/e2e/browser.py; two tabs of one headless browser showing
pages/media.html, fake camera and microphone), against Debian's janus with our modules, on
127.0.0.0/8 only. aiortc cannot be the publisher here: after a renegotiation
to H.264 it keeps its first (VP8) encoder.

  RenegotiationTest
    test_viewer_follows_a_publisher_codec_change
        the publisher publishes VP8 (RTCRtpTransceiver.setCodecPreferences), a viewer
        decodes it; the publisher then offers H.264 only and sends it with "configure".
        The viewer must get an "offer" event (after that configure) with H.264 in its
        JSEP, answer it with "start" (-> "watching"), and decode H.264 frames from then
        on (getStats: the inbound video's codec and framesDecoded).

Run: JMEDIA_MODULES_DIR=<build>/modules /usr/bin/python3 tests/e2e/test_renegotiation.py -v
"""

import asyncio
import json
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import Browser, PageServer  # noqa: E402
from harness import JanusLogOnFailure, JanusProcess, process_sockets  # noqa: E402

PLUGIN = "janus.plugin.media"
TEST_TIMEOUT = 120.0   # hard bound on the test's async body
STEP_TIMEOUT = 25.0    # each wait for media or an event (generous: 2 loaded cores)
FIRST = {"mime": "video/VP8"}
# The constrained-baseline H.264 every WebRTC browser decodes, in packetization mode 1.
SECOND = {"mime": "video/H264", "fmtp": ["packetization-mode=1", "profile-level-id=42e01f"]}
FRAMES = 30            # frames a viewer must decode to count as "decoding" (2 s at 15 fps)
CAPTURE = {"width": 320, "height": 240, "frameRate": 15}


def log(message):
    sys.stderr.write("[renegotiation] %s\n" % message)
    sys.stderr.flush()


class RenegotiationTest(JanusLogOnFailure, unittest.TestCase):
    janus = None
    pages = None

    @classmethod
    def setUpClass(cls):
        cls.janus = JanusProcess().start()
        if "libjanus_media.so" not in cls.janus.config_info["plugins"]:
            cls.tearDownClass()
            raise AssertionError("libjanus_media.so not found in %s/plugins (set "
                                 "JMEDIA_MODULES_DIR or build first)"
                                 % JanusProcess().modules_dir)
        cls.pages = PageServer().start()

    @classmethod
    def tearDownClass(cls):
        if cls.pages is not None:
            cls.pages.stop()
        if cls.janus is not None:
            cls.janus.stop()
            cls.janus.cleanup()

    def admin(self, body):
        reply = self.janus.admin().message_plugin(PLUGIN, body)
        self.assertEqual(reply.get("janus"), "success", repr(reply))
        return reply["response"]

    def wait_plugin_empty(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        left = None
        while time.monotonic() < deadline:
            left = (self.admin({"request": "list"}).get("sessions"),
                    self.admin({"request": "devices"}).get("devices"))
            if left == ([], []):
                return
            time.sleep(0.1)
        self.fail("left in the plugin after the test: sessions, devices = %r" % (left,))

    def test_viewer_follows_a_publisher_codec_change(self):
        browser = Browser()
        self.addCleanup(browser.stop_process)  # even if the event loop itself fails
        asyncio.run(asyncio.wait_for(self._codec_change(browser), TEST_TIMEOUT))
        self.assertTrue(self.janus.alive(), "janus died")
        self.wait_plugin_empty()

    async def _codec_change(self, browser):
        t0 = time.monotonic()
        await browser.start()
        try:
            pub = await browser.open(self.pages.url("e2e/media.html"))
            view = await browser.open(self.pages.url("e2e/media.html"))
            for page, name in ((pub, "pub"), (view, "view")):
                await page.evaluate("jm.connect(%s).then(c => { window.conn = c; })"
                                    % json.dumps(self.janus.ws_url))
                await page.evaluate("conn.attach().then(h => { handles.%s = h; })" % name)
            log("chromium pid %d, two pages up after %.1f s" % (browser.pid, time.monotonic() - t0))

            # -- VP8 -------------------------------------------------------------------
            await pub.evaluate("handles.pub.publish('cam1', {codec: %s, video: %s}).then(() => 1)"
                               % (json.dumps(FIRST), json.dumps(CAPTURE)), timeout=STEP_TIMEOUT)
            await self.event(pub, "pub", "publishing")
            await pub.wait_for("handles.pub.webrtc.includes('up')", STEP_TIMEOUT,
                               "the publisher's PeerConnection up")
            await view.evaluate("handles.view.watch('cam1').then(() => 1)", timeout=STEP_TIMEOUT)
            await self.event(view, "view", "watching")
            before = await self.decoding(view, "video/VP8", 0)
            log("viewer decodes VP8 (%d frames) after %.1f s"
                % (before["frames"], time.monotonic() - t0))
            for page, name in ((pub, "pub"), (view, "view")):
                pair = (await page.evaluate("handles.%s.stats()" % name)).get("pair")
                pair.pop("rtt", None)
                self.assertEqual(pair, {"local": "127.0.0.1", "remote": "127.0.0.1"},
                                 "%s's selected candidate pair is not on loopback" % name)
            for pid in browser.processes():
                for proto in ("udp", "tcp"):
                    for address in process_sockets(pid, proto):
                        self.assertIn(address[0], ("127.0.0.1", "::1"),
                                      "chromium process %d has a %s socket on %s"
                                      % (pid, proto, address))

            # -- the publisher renegotiates to H.264 -----------------------------------
            mark = await view.evaluate("handles.view.events.length")
            received = (await view.evaluate("handles.view.stats()"))["video_in"]
            first_encoder = (await pub.evaluate("handles.pub.stats()"))["video_out"]["implementation"]
            await pub.evaluate("handles.pub.renegotiate({codec: %s}).then(() => 1)"
                               % json.dumps(SECOND), timeout=STEP_TIMEOUT)
            configured = await self.event(pub, "pub", "configured")
            self.assertIn("H264/90000", configured.get("jsep", {}).get("sdp", ""),
                          "the publisher's new answer has no H.264")
            sending = await pub.wait_for(
                "handles.pub.stats().then(s => (s = s || {}).video_out && s.video_out.mimeType === "
                "'video/H264' && s.video_out.implementation !== %s && s.video_out)"
                % json.dumps(first_encoder), STEP_TIMEOUT,
                "the publisher encoding H.264 (not with its VP8 encoder %s)" % first_encoder)
            log("publisher sends H.264 (%s) after %.1f s"
                % (sending.get("implementation"), time.monotonic() - t0))

            # -- the viewer follows ------------------------------------------------------
            try:
                offer = await self.event(view, "view", "offer", since=mark)
            except TimeoutError:
                offer = None
            if offer is None:
                stats = await view.evaluate("handles.view.stats()")
                events = await view.evaluate("handles.view.events.slice(%d)" % mark)
                self.fail("the viewer got no offer in %.0f s after the publisher's configure; "
                          "it receives %r; its events since: %s"
                          % (STEP_TIMEOUT, stats.get("video_in"), [e["result"] for e in events]))
            self.assertEqual(offer["data"].get("device_id"), "cam1", repr(offer["data"]))
            self.assertEqual(offer.get("jsep", {}).get("type"), "offer", repr(offer))
            self.assertIn("H264/90000", offer["jsep"]["sdp"], "the new offer has no H.264")
            self.assertNotIn("VP8/90000", offer["jsep"]["sdp"], "the new offer still has VP8")
            await self.event(view, "view", "watching", since=mark)
            after = await self.decoding(view, "video/H264", received["frames"])
            self.assertGreater(after["keyFrames"], received["keyFrames"],
                               "no H.264 keyframe decoded: %r" % after)
            log("viewer decodes H.264 (%d frames in all) after %.1f s"
                % (after["frames"], time.monotonic() - t0))
            results = [e["result"]
                       for e in await view.evaluate("handles.view.events.slice(%d)" % mark)]
            self.assertEqual(results, ["offer", "watching"], "the viewer's events after the "
                             "publisher's configure")
            for page, name in ((pub, "pub"), (view, "view")):
                self.assertEqual(await page.evaluate("handles.%s.errors" % name), [])
                self.assertEqual(page.console_errors(), [], "%s's console errors" % name)

            for page, name in ((view, "view"), (pub, "pub")):
                await page.evaluate("handles.%s.hangup().then(() => 1)" % name,
                                    timeout=STEP_TIMEOUT)
                await self.event(page, name, "hangup")
                await page.evaluate("conn.close()")
        finally:
            if sys.exc_info()[0] is not None:
                for page in browser.pages.values():
                    log("console of a page: %s" % page.console[-20:])
            await browser.stop()

    async def event(self, page, name, result, since=0):
        """The first event of handle name with this result, at index >= since (bounded)."""
        found = await page.wait_for(
            "handles.%s.events.slice(%d).find(e => e.result === %s) || null"
            % (name, since, json.dumps(result)), STEP_TIMEOUT,
            "%s's event '%s'" % (name, result))
        self.assertNotIn("error_code", found, repr(found))
        return found

    async def decoding(self, page, mime, at_least):
        """Inbound video stats once the viewer decoded FRAMES frames of mime since at_least
        frames of it (bounded)."""
        try:
            return await page.wait_for(
                "handles.view.stats().then(s => (s = s || {}).video_in && s.video_in.mimeType === %s && "
                "s.video_in.frames >= %d && s.video_in)" % (json.dumps(mime), at_least + FRAMES),
                STEP_TIMEOUT, "the viewer decoding %s" % mime)
        except TimeoutError:
            pass
        stats = await page.evaluate("handles.view.stats()")
        self.fail("the viewer does not decode %s: %r" % (mime, stats.get("video_in")))


if __name__ == "__main__":
    unittest.main()
