#!/usr/bin/python3
"""End-to-end: the product's web pages (web/) and device client (scripts/publish-gst).

Debian's headless Chromium (fake camera and microphone) opens the pages as scripts/run
serves them (tests/e2e/browser.py's PageServer is scripts/lib/web_server.py), against
Debian's janus with our modules, on 127.0.0.0/8 only. The tests read what a person sees:
each page's #state and the numbers of its #stats (tests/e2e/web_lab.py).

  WebPagesTest
    test_1_publish_watch_list_leave_and_return
        publish.html publishes web-cam-1; watch.html in a second tab shows "watching" and
        its frames decoded grow over 3 s; index.html lists web-cam-1 publishing with 1
        viewer; the publisher hangs up: watch.html shows "publisher left" (and the event);
        a new publish.html comes back: watch.html shows publisher_joined, then "watching"
        with frames growing again. Screenshots of every page, and publish and watch side
        by side, under the build's test-artifacts/web/.
    test_2_echo_over_websocket_and_http_long_poll
        echo.html reaches "echoing" with a data channel round trip shown, over the
        WebSocket and over HTTP long-poll.
    test_3_errors_shown_with_the_plugin_code
        a bad device id on publish.html and watch.html shows "error: 1004 ...", watching a
        device nobody publishes "error: 1015 ...", a Janus nobody runs "error: Janus at ...".
    test_4_publish_gst_test_pattern_decoded_in_watch
        scripts/publish-gst publishes a test pattern (VP8, Opus) that watch.html decodes;
        every socket of publish-gst is on loopback; SIGTERM makes it hang up and exit 0,
        and watch.html shows the publisher left.
    test_5_token_goes_in_the_request_body
        with ?token=, each page sends it in the body of its request (publish, watch, echo,
        devices), as access control (issue 12) expects: {"request":"watch",
        "device_id":D,"token":T}; read from what the page writes on its WebSocket.

A missing token showing "error: 1020 ..." on watch.html is in test_access.py (token mode).

Run: JMEDIA_MODULES_DIR=<build>/modules /usr/bin/python3 tests/e2e/test_web.py -v
(JMEDIA_ARTIFACTS_DIR: where the screenshots go, default <repo>/build/test-artifacts/web)
"""

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import Browser, PageServer, side_by_side  # noqa: E402
from harness import (REPO_ROOT, JanusLogOnFailure, JanusProcess, free_port,  # noqa: E402
                     process_sockets, terminate)
from web_lab import STEP_TIMEOUT, WebLab  # noqa: E402

PLUGIN = "janus.plugin.media"
TEST_TIMEOUT = 240.0   # hard bound on one test's async body
MIN_FRAMES = 20        # frames decoded over 3 s that count as "video plays" (fake camera: 30 fps)
ARTIFACTS = Path(os.environ.get("JMEDIA_ARTIFACTS_DIR",
                                str(REPO_ROOT / "build" / "test-artifacts"))) / "web"
PUBLISH_GST = REPO_ROOT / "scripts" / "publish-gst"


# Injected before a page's scripts: every JSON message the page writes on a WebSocket.
RECORD_SENT = """
(function () {
  const send = WebSocket.prototype.send;
  window.jmediaSent = [];
  WebSocket.prototype.send = function (data) {
    try { window.jmediaSent.push(JSON.parse(data)); } catch (e) { /* not JSON */ }
    return send.call(this, data);
  };
})();
"""


def log(message):
    sys.stderr.write("[web] %s\n" % message)
    sys.stderr.flush()


class WebPagesTest(JanusLogOnFailure, unittest.TestCase):
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

    # -- helpers ------------------------------------------------------------------------
    def admin(self, body):
        reply = self.janus.admin().message_plugin(PLUGIN, body)
        self.assertEqual(reply.get("janus"), "success", repr(reply))
        return reply["response"]

    def wait_plugin_empty(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        left = None
        while time.monotonic() < deadline:
            left = (self.admin({"request": "list"}).get("sessions"),
                    self.admin({"request": "devices"}).get("devices"))
            if left == ([], []):
                return
            time.sleep(0.1)
        self.fail("left in the plugin after the test: sessions, devices = %r" % (left,))

    def in_browser(self, body):
        """Runs body(lab) with a fresh headless Chromium (stopped by pid whatever happens),
        then checks that Janus is up and the plugin empty."""
        browser = Browser()
        self.addCleanup(browser.stop_process)

        async def run():
            await browser.start()
            lab = WebLab(self.janus, self.pages, browser)
            try:
                await body(lab)
            finally:
                if sys.exc_info()[0] is not None:
                    for page in browser.pages.values():
                        log("console of a page: %s" % page.console[-20:])
                await browser.stop()

        asyncio.run(asyncio.wait_for(run(), TEST_TIMEOUT))
        self.assertTrue(self.janus.alive(), "janus died")
        self.wait_plugin_empty()

    async def event_names(self, page):
        """The events watch.html lists (newest first): each line's first word."""
        return await page.evaluate("[...document.querySelectorAll('#events li')]"
                                   ".map(li => li.lastChild.textContent.trim().split(/[: ]/)[0])")

    async def wait_event_line(self, page, text, timeout=STEP_TIMEOUT):
        return await page.wait_for(
            "[...document.querySelectorAll('#events li')].some(li => li.textContent"
            ".includes(%r))" % text, timeout, "%r in the events of the page" % text)

    async def shot(self, page, name):
        path = await page.screenshot(ARTIFACTS / (name + ".png"))
        log("screenshot %s" % path)
        return path

    def assert_no_console_errors(self, *pages):
        for page in pages:
            self.assertEqual(page.console_errors(), [], "console errors of a page")

    # -- tests --------------------------------------------------------------------------
    def test_1_publish_watch_list_leave_and_return(self):
        self.in_browser(self._publish_watch_list_leave_and_return)

    async def _publish_watch_list_leave_and_return(self, lab):
        t0 = time.monotonic()
        pub, view = await lab.publish_and_watch("web-cam-1")
        log("publishing and watching after %.1f s" % (time.monotonic() - t0))
        first, last, seconds = await lab.frames_grow(view, MIN_FRAMES, over=3.0)
        log("frames decoded %d -> %d in %.1f s" % (first, last, seconds))
        for key in ("resolution", "video_bitrate", "jitter", "rtt"):
            self.assertNotIn(await lab.stat(view, key), (None, "", "-"),
                             "watch.html shows no %s" % key)
        self.assertEqual(await lab.stat(view, "video_codec"), "video/VP8")
        self.assertNotIn(await lab.stat(pub, "video_bitrate"), (None, "", "-"))
        self.assertRegex(await lab.stat(pub, "resolution"), r"^320x240")

        index = await lab.open("index.html")
        row = "#devices tr[data-device='web-cam-1']"
        await index.wait_for(
            "(r => r && r.querySelector('[data-col=publishing]').textContent === 'yes' && "
            "r.querySelector('[data-col=viewers]').textContent === '1')"
            "(document.querySelector(%r))" % row, STEP_TIMEOUT,
            "index.html listing web-cam-1 publishing with 1 viewer")
        self.assertEqual(await lab.stat(index, "viewers"), "1")
        link = await index.evaluate("document.querySelector(%r).querySelector('a').href" % row)
        self.assertIn("watch.html?", link)
        self.assertIn("device=web-cam-1", link)
        for page in (pub, view):
            pair = await page.evaluate("jmediaPage.handle.stats().then(s => s.pair)")
            self.assertEqual((pair["local"], pair["remote"]), ("127.0.0.1", "127.0.0.1"),
                             "a selected candidate pair not on loopback")
        shots = [await self.shot(pub, "publish"), await self.shot(view, "watch"),
                 await self.shot(index, "index")]
        side_by_side(shots[:2], ARTIFACTS / "publish-and-watch.png")
        self.assert_no_console_errors(pub, view, index)

        # -- the publisher leaves ------------------------------------------------------
        await lab.click_and_wait(pub, "hangup", "hung up: request")
        await lab.wait_state(view, "publisher left")
        await self.wait_event_line(view, "publisher_left")
        await index.wait_for(
            "(r => r && r.querySelector('[data-col=publishing]').textContent === 'no')"
            "(document.querySelector(%r))" % row, STEP_TIMEOUT,
            "index.html showing web-cam-1 without a publisher")
        await self.shot(view, "watch-publisher-left")
        log("publisher left, seen after %.1f s" % (time.monotonic() - t0))

        # -- a new publisher comes back: the video resumes ------------------------------
        pub2 = await lab.open("publish.html", device="web-cam-1", autostart="1",
                              resolution="320x240")
        await lab.wait_state(pub2, "publishing")
        await self.wait_event_line(view, "publisher_joined")
        await lab.wait_state(view, "watching")
        again = await lab.frames_grow(view, MIN_FRAMES, over=3.0)
        self.assertGreater(again[0], first, "frames decoded went back")
        log("a new publisher: frames decoded %d -> %d in %.1f s" % again)
        await self.shot(view, "watch-publisher-back")
        self.assertEqual(await self.event_names(view),
                         ["publisher_joined", "publisher_left", "watching", "offer"])
        self.assert_no_console_errors(pub, pub2, view, index)

        await lab.click_and_wait(view, "stop", "stopped")
        await lab.click_and_wait(pub2, "hangup", "hung up: request")

    def test_2_echo_over_websocket_and_http_long_poll(self):
        self.in_browser(self._echo_both_transports)

    async def _echo_both_transports(self, lab):
        for name, server in (("ws", self.janus.ws_url), ("http", self.janus.http_url)):
            echo = await lab.open("echo.html", server=server, autostart="1")
            await lab.wait_state(echo, "echoing")
            trip = await echo.wait_for(
                "(t => t && t !== '-' && t)(document.querySelector("
                "'#stats [data-stat=round_trip]').textContent)", STEP_TIMEOUT,
                "a data channel round trip on echo.html over %s" % name)
            log("echo over %s: echoing, round trip %s" % (name, trip))
            self.assertRegex(trip, r"^\d+(\.\d+)? ms$")
            await self.shot(echo, "echo-" + name)
            self.assert_no_console_errors(echo)
            await lab.click_and_wait(echo, "stop", "stopped")

    def test_3_errors_shown_with_the_plugin_code(self):
        self.in_browser(self._errors)

    async def _errors(self, lab):
        bad = "bad device id!"
        pub = await lab.open("publish.html", device=bad, autostart="1", resolution="320x240")
        shown = await lab.wait_state(pub, r"error: 1004 ")
        log("publish.html, device %r: %s" % (bad, shown))
        self.assertIn("device_id", shown)
        self.assertEqual(await pub.evaluate(
            "document.getElementById('device').getAttribute('aria-invalid')"), "true",
            "the device field is not marked as the cause")
        await self.shot(pub, "publish-bad-device")
        view = await lab.open("watch.html", device=bad, autostart="1")
        shown = await lab.wait_state(view, r"error: 1004 ")
        log("watch.html, device %r: %s" % (bad, shown))
        view2 = await lab.open("watch.html", device="nobody-home", autostart="1")
        shown = await lab.wait_state(view2, r"error: 1015 ")
        log("watch.html, device nobody publishes: %s" % shown)
        # Shown on the page, and nothing thrown that nobody caught.
        self.assert_no_console_errors(pub, view, view2)
        # The pages can start again after an error: the Publish button is back.
        self.assertFalse(await pub.evaluate("document.getElementById('start').disabled"))
        # Janus unreachable (a port nobody listens on) is shown too, not only logged.
        nowhere = "ws://127.0.0.1:%d/" % free_port()
        echo = await lab.open("echo.html", server=nowhere, autostart="1")
        shown = await lab.wait_state(echo, "error: Janus at " + re.escape(nowhere))
        log("echo.html, server %s: %s" % (nowhere, shown))

    def test_5_token_goes_in_the_request_body(self):
        self.in_browser(self._token_in_body)

    async def _token_in_body(self, lab):
        token = "tok-1.a-b_c"

        async def sent(page, request):
            return await page.wait_for(
                "(window.jmediaSent || []).map(m => m.body).find(b => b && b.request === %r)"
                " || null" % request, STEP_TIMEOUT, "a %r request sent by the page" % request)

        pub = await lab.open("publish.html", scripts=[RECORD_SENT], device="tok-cam",
                             token=token, autostart="1", resolution="320x240")
        await lab.wait_state(pub, "publishing")
        self.assertEqual(await sent(pub, "publish"),
                         {"request": "publish", "device_id": "tok-cam", "token": token})
        view = await lab.open("watch.html", scripts=[RECORD_SENT], device="tok-cam",
                              token=token, autostart="1")
        await lab.wait_state(view, "watching")
        self.assertEqual(await sent(view, "watch"),
                         {"request": "watch", "device_id": "tok-cam", "token": token})
        self.assertNotIn("token", await sent(view, "start"),
                         "start needs no token once the handle holds its role")
        index = await lab.open("index.html", scripts=[RECORD_SENT], token=token)
        self.assertEqual((await sent(index, "devices")).get("token"), token)
        self.assertIn("token=" + token, await index.evaluate(
            "document.querySelector('a[data-page=\"watch.html\"]').href"),
            "the links to the other pages lose the token")
        echo = await lab.open("echo.html", scripts=[RECORD_SENT], token=token, autostart="1")
        await lab.wait_state(echo, "echoing")
        self.assertEqual(await sent(echo, "echo"), {"request": "echo", "token": token})
        await lab.click_and_wait(echo, "stop", "stopped")
        await lab.click_and_wait(view, "stop", "stopped")
        await lab.click_and_wait(pub, "hangup", "hung up: request")

    def test_4_publish_gst_test_pattern_decoded_in_watch(self):
        proc = subprocess.Popen(
            ["/usr/bin/python3", str(PUBLISH_GST), "--test-pattern", "--device", "gst-cam-1",
             "--server", self.janus.ws_url, "--width", "320", "--height", "240", "--fps", "15",
             "--report", "2"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.addCleanup(proc.stdout.close)
        self.addCleanup(terminate, proc, 10, "publish-gst")
        output = Output(proc)
        self.in_browser(lambda lab: self._publish_gst(lab, proc, output))

    async def _publish_gst(self, lab, proc, output):
        try:
            await output.wait_for("publish-gst: ICE connected", STEP_TIMEOUT)
        except AssertionError:
            self.fail("publish-gst did not connect:\n%s" % output.text())
        view = await lab.open("watch.html", device="gst-cam-1", autostart="1")
        await lab.wait_state(view, "watching")
        first, last, seconds = await lab.frames_grow(view, 10, over=3.0)
        log("publish-gst -> watch.html: frames decoded %d -> %d in %.1f s"
            % (first, last, seconds))
        self.assertEqual(await lab.stat(view, "video_codec"), "video/VP8")
        self.assertRegex(await lab.stat(view, "resolution"), r"^320x240")
        self.assertGreater(await lab.number(view, "audio_packets") or 0, 0, "no audio")
        await output.wait_for("publish-gst: sent ", STEP_TIMEOUT)
        sockets = process_sockets(proc.pid, "udp") + process_sockets(proc.pid, "tcp")
        self.assertTrue(sockets, "publish-gst has no socket")
        for address in sockets:
            self.assertIn(address[0], ("127.0.0.1", "::1"),
                          "publish-gst has a socket on %s" % (address,))
        await self.shot(view, "watch-publish-gst")
        self.assert_no_console_errors(view)

        os.kill(proc.pid, signal.SIGTERM)
        code = await asyncio.get_running_loop().run_in_executor(None, proc.wait, 15)
        self.assertEqual(code, 0, output.text())
        self.assertIn("publish-gst: hanging up", output.text())
        await lab.wait_state(view, "publisher left")
        await lab.click_and_wait(view, "stop", "stopped")


class Output:
    """A child's stdout read by a thread, so that waits are bounded."""

    def __init__(self, proc):
        self.lines = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc):
        for raw in proc.stdout:
            with self._cond:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self.lines.append(None)
            self._cond.notify_all()

    def text(self):
        with self._cond:
            return "\n".join(line for line in self.lines if line is not None)

    async def wait_for(self, prefix, timeout):
        def found():
            deadline = time.monotonic() + timeout
            with self._cond:
                while True:
                    if any(line is not None and line.startswith(prefix) for line in self.lines):
                        return True
                    remaining = deadline - time.monotonic()
                    if (self.lines and self.lines[-1] is None) or remaining <= 0:
                        return False
                    self._cond.wait(remaining)

        if not await asyncio.get_running_loop().run_in_executor(None, found):
            raise AssertionError("no line %r from the process in %.0f s:\n%s"
                                 % (prefix, timeout, self.text()))


if __name__ == "__main__":
    unittest.main()
