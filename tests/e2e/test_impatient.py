#!/usr/bin/python3
"""Impatient clients (issue 18): offer, apply the answer, then send hangup and detach together
without waiting, for janus.plugin.media and for echotest, 4 loops over the WebSocket API.

Janus 1.1.2 loses a hangup or detach queued while ICE selects its first pair (src/ice.c,
janus_ice_cb_new_selected_pair clears the handle loop's queue): the handle is never freed, its
loop thread ("hloop <id>") stays. janus.transport.edge holds those requests until the first pair
(reported by janus.eventhandler.media), so nothing is left.

  ImpatientEdgeTest   through the edge (events broadcast: the event handler feeds the watch),
                      janus.plugin.media and echotest at the same time, 4 loops each:
                      no hloop thread, no core or media handle left once the clients are gone
                      (polled, bounded), janus_edge_held_requests_total moved
  ImpatientEdgeFallbackTest   the edge without the event handler, janus.plugin.media: the
                      same checks (a detach waits for its hangup event or the timeout)
  ImpatientStockTest  the same loops with the stock transports: orphans appear (hloop threads
                      that outlive every session), looping until one does (bounded): the fix
                      is not luck; fails if none appears in the bound. For janus.plugin.media,
                      the plugin then marks them orphaned (janus_media_orphaned_handles, a log
                      line) and frees its part (janus_media_handles back to 0)

Run: /usr/bin/python3 tests/e2e/test_impatient.py -v   (about 2 min)
Env: JMEDIA_IMPATIENT_HOLD_MS (the edge's hold_timeout_ms; 0: no hold, as before the fix),
     JMEDIA_IMPATIENT_S (seconds of both plugins' loops through the edge, default 30),
     JMEDIA_IMPATIENT_FALLBACK_S (seconds of the fallback's loops, default 15),
     JMEDIA_IMPATIENT_STOCK_MAX_S (bound for the stock transports, default 90 per plugin)
"""

import asyncio
import os
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import (AdminClient, JanusLogOnFailure, JanusProcess, JanusWsClient,  # noqa: E402
                     hloop_threads, new_peer_connection)
from test_edge import metric, scrape  # noqa: E402

MEDIA_PLUGIN = "janus.plugin.media"
ECHOTEST = "janus.plugin.echotest"
BODIES = {
    MEDIA_PLUGIN: {"request": "echo", "audio": True, "video": True},
    ECHOTEST: {"audio": True, "video": True},
}
LOOPS = 4
RUN_S = float(os.environ.get("JMEDIA_IMPATIENT_S", "30"))
FALLBACK_S = float(os.environ.get("JMEDIA_IMPATIENT_FALLBACK_S", "15"))
STOCK_MAX_S = float(os.environ.get("JMEDIA_IMPATIENT_STOCK_MAX_S", "90"))
STOCK_ROUND_S = 10.0
SETTLE_TIMEOUT = 20.0
# A freed handle's loop thread quits within milliseconds of its destroy_session: one still there
# this long after every session is gone is an orphan.
ORPHAN_AFTER_S = 5.0


def log(message):
    sys.stderr.write("[impatient] %s\n" % message)
    sys.stderr.flush()


async def lifecycle(client, plugin):
    """attach, offer, answer applied, then hangup + detach sent together."""
    handle = await client.attach(plugin)
    pc = new_peer_connection()
    try:
        from aiortc import RTCSessionDescription
        sdp = await harness.sendrecv_offer(pc, 10)
        reply = await client.message(handle, BODIES[plugin],
                                     jsep={"type": "offer", "sdp": sdp, "trickle": False},
                                     timeout=15)
        jsep = reply.get("jsep")
        if not jsep:
            raise AssertionError("no answer: %r" % reply)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=jsep["sdp"], type=jsep["type"]))
        # aiortc starts ICE in the background: the impatient part.
        hangup, detach = await asyncio.gather(client.hangup(handle, timeout=15),
                                              client.detach(handle, timeout=15))
        for what, r in (("hangup", hangup), ("detach", detach)):
            if r.get("janus") != "success":
                raise AssertionError("%s answered %r" % (what, r))
    finally:
        await pc.close()


async def impatient_loops(janus, plugin, seconds):
    """LOOPS clients, each one session looping lifecycles for seconds: lifecycles done."""
    deadline = time.monotonic() + seconds
    done = [0] * LOOPS
    # aiortc's STUN retries of a closed PeerConnection fail on their closed socket: noise.
    default = asyncio.get_running_loop().default_exception_handler

    def quiet(loop, context):
        from aiortc.exceptions import InvalidStateError
        if isinstance(context.get("exception"), (AttributeError, InvalidStateError)):
            return
        default(context)

    asyncio.get_running_loop().set_exception_handler(quiet)

    async def loop(i):
        client = await JanusWsClient(janus.ws_url, timeout=15).connect()
        try:
            await client.create_session()
            for _ in range(100000):
                if time.monotonic() >= deadline:
                    break
                await lifecycle(client, plugin)
                done[i] += 1
            await client.destroy(timeout=15)
        finally:
            await client.close()

    await asyncio.gather(*(loop(i) for i in range(LOOPS)))
    return sum(done)


def leftovers(janus):
    text = scrape(janus)
    return {"hloop": hloop_threads(janus.pid),
            "core_handles": metric(text, "janus_core_handles"),
            "media_handles": metric(text, "janus_media_handles"),
            "sessions": len(AdminClient(janus.admin_url, janus.admin_secret)
                            .list_sessions())}


def wait_clean(janus, timeout):
    """Polls until nothing is left (bounded): the last reading."""
    deadline = time.monotonic() + timeout
    seen = leftovers(janus)
    for _ in range(int(timeout / 0.2) + 10):
        if not any(seen.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
        seen = leftovers(janus)
    return seen


class EdgeChecks:
    """run_plugins(): impatient loops through the edge of self.janus, then nothing left."""

    @classmethod
    def tearDownClass(cls):
        cls.janus.stop()

    def run_plugins(self, plugins, seconds):
        """LOOPS loops of each plugin at the same time for seconds, then nothing is left."""
        before = scrape(self.janus)
        held_before = metric(before, "janus_edge_held_requests_total")
        t0 = time.monotonic()

        async def together():
            return await asyncio.gather(*(impatient_loops(self.janus, p, seconds)
                                          for p in plugins))

        lifecycles = dict(zip(plugins, asyncio.run(together())))
        elapsed = time.monotonic() - t0
        seen = wait_clean(self.janus, SETTLE_TIMEOUT)
        after = scrape(self.janus)
        held = metric(after, "janus_edge_held_requests_total") - held_before
        timeouts = metric(after, "janus_edge_hold_timeouts_total") - metric(
            before, "janus_edge_hold_timeouts_total")
        log("through the edge: lifecycles %r in %.1f s; held %d requests (hangup %d, detach "
            "%d), %d hold timeouts; left: %r"
            % (lifecycles, elapsed, held,
               metric(after, "janus_edge_held_requests_total", janus="hangup")
               - metric(before, "janus_edge_held_requests_total", janus="hangup"),
               metric(after, "janus_edge_held_requests_total", janus="detach")
               - metric(before, "janus_edge_held_requests_total", janus="detach"),
               timeouts, seen))
        for plugin, n in lifecycles.items():
            self.assertGreater(n, 20, "too few lifecycles of %s to tell anything" % plugin)
        self.assertGreater(held, 0, "janus_edge_held_requests_total did not move")
        self.assertEqual(seen, {"hloop": 0, "core_handles": 0, "media_handles": 0,
                                "sessions": 0},
                         "handles left behind after %r impatient lifecycles (core handles "
                         "beyond the media handles are echotest's)" % lifecycles)


class ImpatientEdgeTest(EdgeChecks, JanusLogOnFailure, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # JMEDIA_IMPATIENT_HOLD_MS=0 turns the hold off: the edge as it was before issue 18.
        hold = os.environ.get("JMEDIA_IMPATIENT_HOLD_MS")
        cls.janus = JanusProcess(
            events_broadcast=True, api_transport="edge",
            edge_settings={"limits": {"hold_timeout_ms": int(hold)}} if hold else None)
        cls.janus.start()
        harness.require_media_plugin(cls.janus)

    def test_media_plugin_and_echotest_leave_nothing(self):
        self.run_plugins([MEDIA_PLUGIN, ECHOTEST], RUN_S)


class ImpatientEdgeFallbackTest(EdgeChecks, JanusLogOnFailure, unittest.TestCase):
    """The edge without the event handler (events.broadcast off, so janus.eventhandler.media is
    not loaded and janus_core_handles not served): a detach waits for the handle's hangup event,
    or the timeout. One plugin is enough here."""

    @classmethod
    def setUpClass(cls):
        cls.janus = JanusProcess(events_broadcast=False, api_transport="edge")
        cls.janus.start()
        harness.require_media_plugin(cls.janus)

    def test_media_plugin_leaves_nothing(self):
        self.run_plugins([MEDIA_PLUGIN], FALLBACK_S)


class ImpatientStockTest(JanusLogOnFailure, unittest.TestCase):
    """Without the edge the same loops leave orphans: what the edge test proves is the fix."""

    def run_plugin(self, plugin):
        janus = self.janus = JanusProcess(events_broadcast=True, api_transport="stock")
        janus.start()
        try:
            harness.require_media_plugin(janus)
            lifecycles = 0
            orphans = 0
            t0 = time.monotonic()
            # Rounds until an orphan shows (bounded): after each, every session is gone, and a
            # loop thread that outlives them by ORPHAN_AFTER_S is an orphan.
            for _ in range(100):
                if time.monotonic() - t0 >= STOCK_MAX_S:
                    break
                lifecycles += asyncio.run(impatient_loops(janus, plugin, STOCK_ROUND_S))
                seen = wait_clean(janus, ORPHAN_AFTER_S)
                if seen["sessions"] == 0 and seen["hloop"] > 0:
                    orphans = seen["hloop"]
                    break
            log("%s with the stock transports: %d lifecycles in %.1f s, %d hloop threads left "
                "after every session ended (%r)"
                % (plugin, lifecycles, time.monotonic() - t0, orphans, seen))
            self.assertGreater(
                orphans, 0,
                "the stock transports left no orphan in %d impatient lifecycles (%.0f s): this "
                "run cannot show that the edge's hold is what prevents them"
                % (lifecycles, time.monotonic() - t0))
            self.assertGreater(seen["core_handles"], 0,
                               "hloop threads left, but janus_core_handles is 0")
            if plugin == MEDIA_PLUGIN:
                # The plugin's detection: 10 s after the core stopped them, it frees its part.
                left = seen["media_handles"]
                self.assertGreater(left, 0, "no media handle left with the orphans")
                deadline = time.monotonic() + 25
                for _ in range(200):
                    text = scrape(janus)
                    orphaned = metric(text, "janus_media_orphaned_handles")
                    handles = metric(text, "janus_media_handles")
                    if (orphaned >= left and handles == 0) or time.monotonic() > deadline:
                        break
                    time.sleep(0.25)
                log("janus.plugin.media: janus_media_orphaned_handles %d, janus_media_handles "
                    "%d (were %d)" % (orphaned, handles, left))
                self.assertEqual(handles, 0, "the plugin did not free its orphaned handles")
                # Those it freed: the ones left then, and any it had freed before (an orphan of
                # the round's first seconds is found 10 s after its stop), never more than the
                # core's handles left (each orphan keeps one).
                self.assertTrue(left <= orphaned <= seen["core_handles"],
                                "janus_media_orphaned_handles %d, %d media handles left, %d core "
                                "handles left" % (orphaned, left, seen["core_handles"]))
                self.assertIn("orphaned, freed here", janus.log_text())
        finally:
            janus.stop()

    def test_media_plugin_leaves_orphans(self):
        self.run_plugin(MEDIA_PLUGIN)

    def test_echotest_leaves_orphans(self):
        self.run_plugin(ECHOTEST)


if __name__ == "__main__":
    unittest.main()
