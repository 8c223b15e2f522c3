#!/usr/bin/env python3
"""negotiation_timeout against a real Janus: a client that sends an offer and never runs ICE
(its PeerConnection closed right after the offer was made, its Janus session kept alive)
holds a media session in "negotiating" for good without it. With negotiation_timeout = 2,
the client gets a hangup event with reason "negotiation timeout", the max_sessions slot
comes back (janus_media_sessions_active) and the end is counted by reason; the handle can
negotiate again. A viewer that never answers the plugin's offer ends the same way.
"""
import asyncio
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import HttpClient, JanusProcess  # noqa: E402
from test_metrics import poll_scrape, scrape  # noqa: E402

MEDIA = "janus.plugin.media"
TIMEOUT_S = 2
PLUGIN_CONF = "general: {\n\tnegotiation_timeout = %d\n}\n" % TIMEOUT_S


def log(text):
    print("[negotiation-timeout] " + text, flush=True)


async def _offer_then_vanish():
    """A real aiortc offer whose PeerConnection is closed at once: no ICE will ever answer."""
    pc = harness.new_peer_connection()
    try:
        return await harness.sendrecv_offer(pc)
    finally:
        await asyncio.wait_for(pc.close(), 10)


def offer():
    return asyncio.run(asyncio.wait_for(_offer_then_vanish(), 30))


def plugin_data(event):
    return ((event.get("plugindata") or {}).get("data")) or {}


def is_hangup(event):
    return plugin_data(event).get("result") == "hangup"


class NegotiationTimeoutTest(unittest.TestCase):
    janus = None

    @classmethod
    def setUpClass(cls):
        cls.janus = JanusProcess(overrides={"janus.plugin.media.jcfg": PLUGIN_CONF}).start()

    @classmethod
    def tearDownClass(cls):
        if cls.janus is not None:
            cls.janus.stop(10)
            cls.janus.cleanup()

    def active(self):
        return scrape(self.janus.metrics_url).total("janus_media_sessions_active")

    def ended(self, role):
        s = scrape(self.janus.metrics_url)
        return s.value("janus_media_sessions_ended_total", role=role,
                       reason="negotiation_timeout")

    def test_an_echo_that_never_comes_up_ends_and_frees_its_slot(self):
        self.assertIn("negotiation_timeout=2s", self.janus.log_text())
        client = HttpClient(self.janus.http_url, timeout=15)
        session = client.create()
        handle = client.attach(session, MEDIA)
        before = self.ended("echo")
        sent = time.monotonic()
        reply = client.message(session, handle, {"request": "echo"},
                               jsep={"type": "offer", "sdp": offer()})
        self.assertEqual((reply.get("jsep") or {}).get("type"), "answer", reply)
        self.assertEqual(self.active(), 1)
        hangup = client.wait_event(session, is_hangup, timeout=TIMEOUT_S + 8)
        took = time.monotonic() - sent
        log("hangup %.2f s after the offer: %s" % (took, plugin_data(hangup)))
        self.assertEqual(plugin_data(hangup)["reason"], "negotiation timeout")
        self.assertEqual(plugin_data(hangup)["role"], "echo")
        self.assertGreaterEqual(took, TIMEOUT_S - 0.1)
        poll_scrape(self.janus.metrics_url,
                    lambda s: s.total("janus_media_sessions_active") == 0, 5,
                    "the slot is back")
        self.assertEqual(self.ended("echo") - before, 1)
        # The handle can start over.
        reply = client.message(session, handle, {"request": "echo"},
                               jsep={"type": "offer", "sdp": offer()})
        self.assertEqual((reply.get("jsep") or {}).get("type"), "answer", reply)
        client.request({"janus": "detach"}, session, handle)
        client.request({"janus": "destroy"}, session)

    def test_a_viewer_that_never_answers_ends(self):
        client = HttpClient(self.janus.http_url, timeout=15)
        session = client.create()
        publisher = client.attach(session, MEDIA)
        viewer = client.attach(session, MEDIA)
        reply = client.message(session, publisher, {"request": "publish", "device_id": "cam-nt"},
                               jsep={"type": "offer", "sdp": offer()})
        self.assertEqual((reply.get("jsep") or {}).get("type"), "answer", reply)
        before = self.ended("viewer")
        reply = client.message(session, viewer, {"request": "watch", "device_id": "cam-nt"})
        self.assertEqual((reply.get("jsep") or {}).get("type"), "offer", reply)
        # Never answered with start: the viewer ends, and so does the publisher (no ICE).
        hangups = [client.wait_event(session, is_hangup, timeout=TIMEOUT_S + 8)
                   for _ in range(2)]
        roles = sorted(plugin_data(h)["role"] for h in hangups)
        self.assertEqual(roles, ["publisher", "viewer"])
        self.assertTrue(all(plugin_data(h)["reason"] == "negotiation timeout" for h in hangups))
        self.assertEqual(self.ended("viewer") - before, 1)
        client.request({"janus": "destroy"}, session)


if __name__ == "__main__":
    unittest.main()
