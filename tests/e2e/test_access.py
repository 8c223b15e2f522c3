#!/usr/bin/python3
"""End-to-end: janus.plugin.media in token mode (access.mode = "token", HS256), against
Debian's janus with our modules, real WebRTC peers (aiortc) and janus.js in Debian's headless
Chromium, on 127.0.0.0/8 only. Tokens are minted by scripts/token, as an operator would.

  AccessTest
    test_1  publish without a token gets 1020 ("no token"), a refused offer lets the handle
            offer again; with a token it publishes on the same handle
    test_2  a token for cam-1 publishes cam-1 (ICE up) and gets 1021 for cam-2
    test_3  a viewer holding watch ["cam-*"] watches cam-1 and decodes its audio and video,
            gets 1021 for door-1 (which is publishing) and for door-2 (which is not), with the
            same words; devices and list with a watch ["cam-*"] + list token show cam-1 and
            its sessions, not door-1's; info of door-1's publisher is "no media session"
    test_4  an expired token gets 1020 ("token expired"), a forged one 1020 ("bad
            signature"); a publisher whose token expires goes on (state up, media in,
            configure answered)
    test_5  janus.js in Chromium watches cam-1 with a token (frames decoded), and gets 1020
            without one
    test_6  janus_media_access_denied_total / janus_media_access_granted_total on /metrics

Run: JMEDIA_MODULES_DIR=<build>/modules /usr/bin/python3 tests/e2e/test_access.py -v
"""

import asyncio
import json
import subprocess
import sys
import time
import unittest
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import Browser, PageServer  # noqa: E402
from web_lab import WebLab  # noqa: E402
from harness import JanusLogOnFailure, JanusProcess  # noqa: E402
from media_clients import (MEDIA_PLUGIN, TONE_AMPLITUDE, Peer, Publisher,  # noqa: E402
                           Viewer, close_all, log, plugin_data, wait_until)

REPO = Path(__file__).resolve().parents[2]
TOKEN_SCRIPT = REPO / "scripts" / "token"
SECRET = "e2e access secret: thirty-two bytes at least"
TEST_TIMEOUT = 90.0
STEP_TIMEOUT = 25.0
UNAUTHORIZED = 1020
FORBIDDEN = 1021
SESSION_NOT_FOUND = 1018


def mint(*args):
    """A token from scripts/token with the test's secret (e.g. "--watch", "cam-*")."""
    out = subprocess.run(["/usr/bin/python3", str(TOKEN_SCRIPT), "--secret", SECRET,
                          "--sub", "e2e"] + list(args),
                         check=True, capture_output=True, text=True, timeout=30)
    token = out.stdout.strip()
    if token.count(".") != 2:
        raise AssertionError("scripts/token printed %r" % out.stdout)
    return token


def metrics_text(janus):
    with urllib.request.urlopen(janus.metrics_url + "/metrics", timeout=10) as reply:
        return reply.read().decode()


def metric_value(text, series):
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    raise AssertionError("no series %s in /metrics" % series)


class AccessTest(JanusLogOnFailure, unittest.IsolatedAsyncioTestCase):
    janus_log_lines = 80
    janus = None
    pages = None

    @classmethod
    def setUpClass(cls):
        cls.janus = JanusProcess(plugin_access={"mode": "token", "jwt_secret": SECRET}).start()
        if "libjanus_media.so" not in cls.janus.config_info["plugins"]:
            cls.tearDownClass()
            raise AssertionError("libjanus_media.so not found in %s/plugins (set "
                                 "JMEDIA_MODULES_DIR or build first)" % cls.janus.modules_dir)
        if "access mode=token algorithm=HS256" not in cls.janus.log_text():
            tail = cls.janus.log_tail()
            cls.tearDownClass()
            raise AssertionError("the plugin did not start in token mode:\n" + tail)
        cls.pages = PageServer().start()

    @classmethod
    def tearDownClass(cls):
        if cls.pages is not None:
            cls.pages.stop()
            cls.pages = None
        if cls.janus is not None:
            cls.janus.stop()
            cls.janus.cleanup()
            cls.janus = None

    async def asyncSetUp(self):
        asyncio.get_running_loop().slow_callback_duration = 2.0
        self.peers = []

    async def bounded(self, coro):
        """Runs a test body with a time bound, closes its peers, then waits until the plugin
        holds no session and no device (admin API: it needs no token)."""
        try:
            await asyncio.wait_for(coro, TEST_TIMEOUT)
        finally:
            await close_all(self.peers)
        self.assertTrue(self.janus.alive(), "janus died")
        await asyncio.get_running_loop().run_in_executor(None, self.wait_plugin_empty)

    def admin(self, body):
        reply = self.janus.admin().message_plugin(MEDIA_PLUGIN, body)
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

    async def peer(self, cls, name, *args, **kw):
        p = cls(self.janus, name, *args, **kw)
        self.peers.append(p)
        await p.connect()
        return p

    async def publisher(self, name, device_id, token, source):
        p = await self.peer(Publisher, name, source)
        await p.publish(device_id, self, body={"token": token})
        return p

    async def refused(self, peer, body, code, jsep=None):
        """An async request answered by an error event (code) with its transaction."""
        reply = await peer.request(body, jsep=jsep, timeout=15)
        data = plugin_data(reply)
        shown = {k: v for k, v in body.items() if k != "token"}
        self.assertEqual(reply.get("janus"), "event", "%s: %r" % (shown, reply))
        self.assertEqual(data.get("error_code"), code, "%s: %r" % (shown, reply))
        self.assertNotIn("jsep", reply)
        if "token" in body:
            self.assertNotIn(body["token"], json.dumps(reply), "the reply quotes the token")
        return data

    async def sync(self, peer, body):
        reply = await peer.request(body, timeout=15)
        self.assertEqual(reply.get("janus"), "success", repr(reply))
        return plugin_data(reply)

    async def wait_frames(self, viewer, audio, video, timeout=15.0):
        await wait_until(
            lambda: viewer.media.frames["audio"] >= audio and
            viewer.media.frames["video"] >= video, timeout,
            lambda: "%s decoding >= %d audio and >= %d video frames (have %r)"
            % (viewer.name, audio, video, viewer.media.frames))

    # -----------------------------------------------------------------------------------------
    async def test_1_publish_without_a_token_gets_1020(self):
        async def body():
            pub = await self.peer(Publisher, "no-token", 1)
            data = await self.refused(pub, {"request": "publish", "device_id": "cam-1"},
                                      UNAUTHORIZED, jsep=await pub.offer())
            self.assertEqual(data.get("error"), "unauthorized: no token in the request")
            # The refused offer reset the handle (the core reports its hangup): a new offer
            # with a token publishes on it.
            await pub.client.wait_event(pub.handle, "hangup", timeout=10)
            await pub.pc.close()
            await pub.publish("cam-1", self, body={"token": mint("--publish", "cam-1")})
        await self.bounded(body())

    async def test_2_a_cam1_token_publishes_cam1_not_cam2(self):
        async def body():
            token = mint("--publish", "cam-1")
            await self.publisher("cam-1", "cam-1", token, 1)
            other = await self.peer(Publisher, "cam-2", 2)
            data = await self.refused(
                other, {"request": "publish", "device_id": "cam-2", "token": token}, FORBIDDEN,
                jsep=await other.offer())
            self.assertEqual(data.get("error"),
                             "forbidden: the token does not grant publishing this device")
        await self.bounded(body())

    async def test_3_a_cam_star_viewer_watches_cam1_and_sees_nothing_of_door1(self):
        async def body():
            cam = await self.publisher("cam-1", "cam-1", mint("--publish", "cam-1"), 1)
            door = await self.publisher("door-1", "door-1", mint("--publish", "door-*"), 2)
            watcher = mint("--watch", "cam-*")
            viewer = await self.peer(Viewer, "viewer", browser_like=True)
            await viewer.watch_and_start("cam-1", self, body={"token": watcher})
            await self.wait_frames(viewer, audio=50, video=30)
            await wait_until(lambda: viewer.media.audio_peak >= TONE_AMPLITUDE // 4, 5,
                             "the viewer decoding the tone")
            log("test 3: the cam-* viewer decoded %r" % viewer.media.frames)
            peeker = await self.peer(Peer, "peeker")
            door1 = await self.refused(
                peeker, {"request": "watch", "device_id": "door-1", "token": watcher}, FORBIDDEN)
            door2 = await self.refused(
                peeker, {"request": "watch", "device_id": "door-2", "token": watcher}, FORBIDDEN)
            self.assertEqual(door1, door2, "the refusal tells whether door-1 exists")
            # Listings with a watch cam-* + list token: cam-1 and its sessions only.
            lister = mint("--watch", "cam-*", "--list")
            devices = await self.sync(peeker, {"request": "devices", "token": lister})
            self.assertEqual([d["device_id"] for d in devices["devices"]], ["cam-1"],
                             repr(devices))
            self.assertEqual(devices["devices"][0]["viewers"], 1, repr(devices))
            self.assertIsNone(devices["next_cursor"])
            listed = await self.sync(peeker, {"request": "list", "token": lister})
            self.assertEqual(sorted(s["media_session"] for s in listed["sessions"]),
                             sorted([cam.media_session, viewer.media_session]), repr(listed))
            self.assertTrue(all(s["device_id"] == "cam-1" for s in listed["sessions"]))
            hidden = await self.sync(peeker, {"request": "info", "token": lister,
                                              "media_session": door.media_session})
            self.assertEqual(hidden.get("error_code"), SESSION_NOT_FOUND, repr(hidden))
            shown = await self.sync(peeker, {"request": "info", "token": lister,
                                             "media_session": viewer.media_session})
            self.assertEqual(shown["session"]["device_id"], "cam-1", repr(shown))
            # The admin API is unchanged: it sees both devices.
            everything = self.admin({"request": "devices"})
            self.assertEqual([d["device_id"] for d in everything["devices"]],
                             ["cam-1", "door-1"])
        await self.bounded(body())

    async def test_4_expired_and_forged_tokens_get_1020(self):
        async def body():
            peer = await self.peer(Peer, "expired")
            expired = mint("--watch", "cam-*", "--ttl", "-100")  # beyond the 30 s leeway
            data = await self.refused(
                peer, {"request": "watch", "device_id": "cam-1", "token": expired}, UNAUTHORIZED)
            self.assertEqual(data.get("error"), "unauthorized: token expired")
            forged = subprocess.run(
                ["/usr/bin/python3", str(TOKEN_SCRIPT), "--secret", SECRET + " but another",
                 "--list"], check=True, capture_output=True, text=True, timeout=30).stdout.strip()
            listed = await self.sync(peer, {"request": "list", "token": forged})
            self.assertEqual(listed.get("error_code"), UNAUTHORIZED, repr(listed))
            self.assertEqual(listed.get("error"), "unauthorized: bad signature")
            # A session outlives its token. This one expired 25 s ago: it is accepted for the
            # 5 s left of the 30 s leeway, long enough to publish with it.
            short_lived = mint("--publish", "cam-1", "--ttl", "-25")
            cam = await self.publisher("cam-1", "cam-1", short_lived, 1)
            # Once the plugin refuses the token, the publisher it let in goes on (no token
            # is looked at again): still up, media still coming in, configure answered.
            async def refused_now():
                reply = await peer.request({"request": "list", "token": short_lived},
                                           timeout=15)
                return plugin_data(reply).get("error") == "unauthorized: token expired"
            for _ in range(200):
                if await refused_now():
                    break
                await asyncio.sleep(0.1)
            else:
                self.fail("the token was never refused as expired")
            before = self.admin({"request": "info", "media_session": cam.media_session})
            self.assertEqual(before["session"]["state"], "up", repr(before))
            reply = await cam.request({"request": "configure", "keyframe": True}, timeout=15)
            self.assertEqual(plugin_data(reply).get("result"), "configured", repr(reply))
            await wait_until(
                lambda: self.admin({"request": "info", "media_session": cam.media_session})
                ["session"]["packets_in"] > before["session"]["packets_in"] + 50, 10,
                "the publisher's media still coming in after its token expired")
        await self.bounded(body())

    async def test_5_janus_js_in_chromium_watches_with_a_token(self):
        browser = Browser()
        self.addCleanup(browser.stop_process)

        async def body():
            await self.publisher("cam-1", "cam-1", mint("--publish", "cam-1"), 1)
            await browser.start()
            try:
                page = await browser.open(self.pages.url("e2e/media.html"))
                await page.evaluate("jm.connect(%s).then(c => { window.conn = c; })"
                                    % json.dumps(self.janus.ws_url))
                for name in ("nope", "view"):
                    await page.evaluate("conn.attach().then(h => { handles.%s = h; })" % name)
                # The product's module (web/jmedia.js) rejects the watch with the plugin's
                # error; a token-less watch must never be answered with an offer.
                refused = await page.evaluate(
                    "handles.nope.watch('cam-1').then(() => null, "
                    "e => ({code: e.code, reason: e.reason}))", timeout=STEP_TIMEOUT)
                self.assertIsNotNone(refused, "a watch without a token was accepted")
                self.assertEqual(refused["code"], UNAUTHORIZED, repr(refused))
                await page.evaluate("handles.view.watch('cam-1', {token: %s}).then(() => 1)"
                                    % json.dumps(mint("--watch", "cam-*")), timeout=STEP_TIMEOUT)
                watching = await page.wait_for(
                    "handles.view.events.find(e => e.result === 'watching' || e.error_code) "
                    "|| null", STEP_TIMEOUT, "the viewer's 'watching'")
                self.assertEqual(watching.get("result"), "watching", repr(watching))
                stats = await page.wait_for(
                    "handles.view.stats().then(s => (s = s || {}).video_in && "
                    "s.video_in.frames >= 30 && s.audio_in && s.audio_in.packets > 50 && s)",
                    STEP_TIMEOUT, "janus.js decoding cam-1")
                log("test 5: Chromium decoded %d video frames (%s), %d audio packets"
                    % (stats["video_in"]["frames"], stats["video_in"]["mimeType"],
                       stats["audio_in"]["packets"]))
                pair = dict(stats.get("pair") or {})
                pair.pop("rtt", None)
                self.assertEqual(pair, {"local": "127.0.0.1", "remote": "127.0.0.1"})
                self.assertEqual(page.console_errors(), [])
                await page.evaluate("handles.view.hangup().then(() => 1)", timeout=STEP_TIMEOUT)
                await page.evaluate("conn.close().then(() => 1)", timeout=STEP_TIMEOUT)
            finally:
                await browser.stop()
        await self.bounded(body())

    async def test_5b_the_pages_show_a_missing_token_and_work_with_one(self):
        """watch.html without ?token= shows the plugin's 1020; with a watch token it watches."""
        browser = Browser()
        self.addCleanup(browser.stop_process)

        async def body():
            await self.publisher("cam-1", "cam-1", mint("--publish", "cam-1"), 1)
            await browser.start()
            try:
                lab = WebLab(self.janus, self.pages, browser)
                bare = await lab.open("watch.html", device="cam-1", autostart="1")
                shown = await lab.wait_state(bare, r"error: 1020 ")
                log("test 5b: watch.html without a token: %s" % shown)
                self.assertNotIn("eyJ", shown)  # no token text echoed
                granted = await lab.open("watch.html", device="cam-1", autostart="1",
                                         token=mint("--watch", "cam-*"))
                await lab.wait_state(granted, "watching")
                await lab.frames_grow(granted, 10)
            finally:
                await browser.stop()
        await self.bounded(body())

    async def test_6_access_metrics(self):
        text = metrics_text(self.janus)
        # Tests 1-5 ran before (name order) in this Janus.
        for reason in ("missing", "expired", "invalid", "forbidden"):
            self.assertGreaterEqual(
                metric_value(text, 'janus_media_access_denied_total{reason="%s"}' % reason), 1,
                reason)
        for request in ("publish", "watch", "list", "devices", "info"):
            self.assertGreaterEqual(
                metric_value(text, 'janus_media_access_granted_total{request="%s"}' % request),
                1, request)
        self.assertEqual(metric_value(text, 'janus_media_access_granted_total{request="echo"}'),
                         0)
        self.assertGreaterEqual(
            metric_value(text, 'janus_media_request_errors_total{code="1021"}'), 3)


if __name__ == "__main__":
    unittest.main()
