#!/usr/bin/python3
"""End-to-end fan-out smoke: the load generator of scripts/lib/viewer_load.py (webrtcbin
viewers, real ICE/DTLS/SRTP) against Janus, so that the generator behind
`scripts/benchmark fanout` keeps working.

  test_1_vp8_keyframe_detector     the payload-descriptor parser the first-keyframe probe
                                   uses: keyframe, interframe, continuation packets
  test_2_media_plugin_20_viewers   1 publisher (VP8 500 kbit/s + Opus) -> 20 viewers of
                                   janus.plugin.media in 2 processes: every viewer receives
                                   over a 3 s window, saw a keyframe, loses at most 1 %
  test_3_videoroom_10_subscribers  the same through janus.plugin.videoroom (the reference
                                   of the benchmark), 10 subscribers

Run: /usr/bin/python3 tests/e2e/test_fanout.py -v
"""

import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import JanusProcess  # noqa: E402

sys.path.insert(0, str(harness.REPO_ROOT / "scripts" / "lib"))
import viewer_load  # noqa: E402

HOLD = 3.0           # seconds of media measured
READY_TIMEOUT = 20.0  # every viewer's first packets and keyframe after setup


def log(message):
    sys.stderr.write("[fanout] %s\n" % message)
    sys.stderr.flush()


def rtp(payload, marker=0, extension=b""):
    first = 0x80 | (0x10 if extension else 0)
    return bytes([first, 0x60 | marker, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2]) + extension + payload


class FanoutTest(unittest.TestCase):
    janus = None

    @classmethod
    def setUpClass(cls):
        cls.janus = JanusProcess(
            overrides={"janus.plugin.media.jcfg":
                       "general: {\n\tmax_viewers_per_device = 1000\n}\n"},
            edge_settings=harness.LOAD_GENERATOR_EDGE)
        cls.janus.start()
        harness.require_media_plugin(cls.janus)

    @classmethod
    def tearDownClass(cls):
        if cls.janus is not None:
            harness.stop_janus(cls.janus, log, "fan-out")

    def test_1_vp8_keyframe_detector(self):
        # descriptor: X=1, S=1, PID=0; I=1 with a 15-bit picture id; then the VP8 header
        key = rtp(bytes([0x90, 0x80, 0x81, 0x23, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a]))
        inter = rtp(bytes([0x90, 0x80, 0x81, 0x24, 0x31, 0x02, 0x00]))
        continuation = rtp(bytes([0x80, 0x80, 0x81, 0x23, 0x10]))   # S=0: not a frame start
        short = rtp(bytes([0x10]))
        with_extension = rtp(bytes([0x10, 0x10]),
                             extension=bytes([0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0]))
        self.assertTrue(viewer_load.vp8_keyframe(key))
        self.assertFalse(viewer_load.vp8_keyframe(inter))
        self.assertFalse(viewer_load.vp8_keyframe(continuation))
        self.assertFalse(viewer_load.vp8_keyframe(short))
        self.assertTrue(viewer_load.vp8_keyframe(with_extension))
        self.assertFalse(viewer_load.vp8_keyframe(b"\x80" * 8))

    def test_1b_websocket_close_reads_the_destroy_reply(self):
        # The WebSocket reader used to be cancelled before `destroy` was sent, so its reply
        # was never read and every close (publish-gst's, each worker's) waited out 5 s.
        import asyncio
        import janus_gst

        async def run():
            janus = janus_gst.Janus.for_url(self.janus.ws_url)
            await janus.open()
            await janus.start(plugin=None)
            t0 = time.monotonic()
            reply = await janus.close()
            return reply, time.monotonic() - t0

        reply, took = asyncio.run(run())
        self.assertEqual((reply or {}).get("janus"), "success",
                         "destroy unanswered (close took %.1f s)" % took)

    def test_2_media_plugin_20_viewers(self):
        self._fanout(videoroom=False, n=20)

    def test_3_videoroom_10_subscribers(self):
        self._fanout(videoroom=True, n=10)

    def _fanout(self, videoroom, n):
        load = viewer_load.FanoutLoad(self.janus.ws_url, videoroom=videoroom, bitrate=500,
                                      processes=2)
        self.addCleanup(load.stop)
        t0 = time.monotonic()
        errors = load.add(n)
        self.assertEqual(errors, [], "viewers failed to set up")
        log("%d %s viewers set up in %.1f s" % (n, "VideoRoom" if videoroom else "media",
                                               time.monotonic() - t0))
        # Bounded poll: every viewer has packets and its first keyframe.
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            before = load.stats()
            waiting = [v for v in before if not v["packets"] or v["keyframe_s"] is None]
            if not waiting or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        self.assertEqual(waiting, [], "viewers without packets or keyframe after %.0f s"
                         % READY_TIMEOUT)
        t0 = time.monotonic()
        time.sleep(HOLD)
        after = load.stats()
        s = viewer_load.summarize(before, after, time.monotonic() - t0)
        keyframes = sorted(v["keyframe_s"] for v in after)
        log("%d/%d receiving, %.0f packets/s in all, %.0f kbit/s per viewer, %d lost, "
            "first keyframe %.2f-%.2f s after the request"
            % (s["receiving"], n, s["packets_per_s"], s["kbit_per_viewer"], s["lost"],
               keyframes[0], keyframes[-1]))
        self.assertEqual(s["ok"], n, s["errors"])
        self.assertEqual(s["receiving"], n, "a viewer received nothing for %.0f s" % HOLD)
        received = sum(v["packets"] for v in after)
        self.assertLessEqual(s["lost"], max(5, received // 100))
        # ~100 packets/s per viewer at 500 kbit/s + Opus; far below is a broken relay.
        self.assertGreater(s["packets_per_s"], 30 * n)


if __name__ == "__main__":
    unittest.main()
