#!/usr/bin/python3
"""End-to-end fan-out smoke: the load generator of scripts/lib/viewer_load.py (a webrtcbin
publisher, Pion viewers of bench/fanout_viewer: real ICE/DTLS/SRTP) against Janus, so that
the generator behind `scripts/benchmark fanout` keeps working. Its RTP counting and VP8
keyframe parser have their unit test in bench/fanout_viewer/rtpstats_test.go
(fanout_viewer.unit).

  test_1b_websocket_close_reads_the_destroy_reply   the publisher's Janus client
  test_2_media_plugin_20_viewers   1 publisher (VP8 500 kbit/s + Opus) -> 20 viewers of
                                   janus.plugin.media: every viewer receives over a 3 s
                                   window, saw its first packet and a keyframe, loses at
                                   most 1 %
  test_3_videoroom_10_subscribers  the same through janus.plugin.videoroom (the reference
                                   of the benchmark), 10 subscribers

Run: JMEDIA_MODULES_DIR=build/modules /usr/bin/python3 tests/e2e/test_fanout.py -v (the
viewers: $JMEDIA_FANOUT_VIEWER, else the build next to JMEDIA_MODULES_DIR)
"""

import os
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


def viewer_binary():
    modules = os.environ.get("JMEDIA_MODULES_DIR")
    return viewer_load.viewer_binary(Path(modules).parent if modules else None)


def log(message):
    sys.stderr.write("[fanout] %s\n" % message)
    sys.stderr.flush()


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
                                      binary=viewer_binary())
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
            waiting = [v for v in before if not v["packets"] or v["keyframe_s"] is None
                       or v["first_packet_s"] is None]
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
        firsts = sorted(v["first_packet_s"] for v in after)
        log("%d/%d receiving, %.0f packets/s in all, %.0f kbit/s per viewer, %d lost, "
            "first packet %.2f-%.2f s, first keyframe %.2f-%.2f s after the request"
            % (s["receiving"], n, s["packets_per_s"], s["kbit_per_viewer"], s["lost"],
               firsts[0], firsts[-1], keyframes[0], keyframes[-1]))
        self.assertEqual(s["ok"], n, s["errors"])
        self.assertEqual(s["receiving"], n, "a viewer received nothing for %.0f s" % HOLD)
        received = sum(v["packets"] for v in after)
        self.assertLessEqual(s["lost"], max(5, received // 100))
        # ~100 packets/s per viewer at 500 kbit/s + Opus; far below is a broken relay.
        self.assertGreater(s["packets_per_s"], 30 * n)


if __name__ == "__main__":
    unittest.main()
