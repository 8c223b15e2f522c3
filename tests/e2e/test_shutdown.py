#!/usr/bin/python3
"""Graceful shutdown: SIGTERM with 50 media sessions, 3 of them with live PeerConnections.

Janus closes its transports before it destroys sessions, so a plugin that waited for
destroy() could tell its clients nothing. janus.plugin.media catches the signal first
(plugin/shutdown_guard.*): every client must get {"result":"hangup","reason":"shutdown"}
over its still-open WebSocket, and Janus must exit cleanly within shutdown_timeout.

The second test runs the same under valgrind's memcheck and requires that no error and no
definitely-lost block has a frame in our modules.
"""

import asyncio
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from media_clients import Echoer, Peer, Publisher, Viewer, close_all, plugin_data  # noqa: E402

OUR_LIBS = ("libjanus_media.so", "libjmedia_runtime.so", "libjanus_prometheus.so",
            "libjanus_mediaevh.so")
SHUTDOWN_TIMEOUT_S = 10


def log(msg):
    sys.stderr.write("[shutdown] %s\n" % msg)
    sys.stderr.flush()


def plugin_conf():
    return "general: {\n\tshutdown_timeout = %d\n}\n" % SHUTDOWN_TIMEOUT_S


def shutdown_hangups(peer):
    return [m for m in peer.events("hangup")
            if plugin_data(m).get("reason") == "shutdown"]


class ShutdownScenario:
    """1 publisher + 1 started viewer + 1 echo (3 PeerConnections) and 47 viewers that
    watched but never answered (media sessions still negotiating)."""

    def __init__(self, janus, tc, waiting_viewers):
        self.janus = janus
        self.tc = tc
        self.waiting_viewers = waiting_viewers
        self.peers = []

    async def build(self):
        tc = self.tc
        publisher = Publisher(self.janus, "publisher", source=1)
        self.peers.append(publisher)
        await publisher.connect()
        await publisher.publish("cam-shutdown", tc)
        viewer = Viewer(self.janus, "viewer")
        self.peers.append(viewer)
        await viewer.connect()
        await viewer.watch_and_start("cam-shutdown", tc)
        echo = Echoer(self.janus, "echo")
        self.peers.append(echo)
        await echo.connect()
        await echo.echo(tc)
        for i in range(self.waiting_viewers):
            peer = Peer(self.janus, "waiting-%d" % i)
            self.peers.append(peer)
            await peer.connect()
            reply = await peer.request({"request": "watch", "device_id": "cam-shutdown"})
            tc.assertEqual(plugin_data(reply).get("result"), "offer", repr(reply))
        # The plugin sees each PeerConnection up (setup_media) a moment after the client.
        deadline = time.monotonic() + 30
        while True:
            listed = self.janus.admin().message_plugin(
                "janus.plugin.media", {"request": "list", "limit": 1000})
            sessions = listed["response"]["sessions"]
            up = [s for s in sessions if s["state"] == "up"]
            if len(up) == 3 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        tc.assertEqual(len(sessions), 3 + self.waiting_viewers, repr(listed)[:500])
        tc.assertEqual(len(up), 3, "3 live PeerConnections: %r" % up)
        return self

    async def sigterm_and_check(self):
        tc = self.tc
        t0 = time.monotonic()
        self.janus.send_signal(signal.SIGTERM)
        deadline = t0 + SHUTDOWN_TIMEOUT_S + 20
        while self.janus.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        took = time.monotonic() - t0
        code = self.janus.proc.poll()
        log("janus exited with %s after %.2f s (shutdown_timeout %d s)"
            % (code, took, SHUTDOWN_TIMEOUT_S))
        tc.assertEqual(code, 0, "janus exit code\n" + self.janus.log_tail())
        tc.assertLess(took, SHUTDOWN_TIMEOUT_S + 5, "exit within the timeout")
        missing = [p.name for p in self.peers if not shutdown_hangups(p)]
        tc.assertEqual(missing, [], "clients without a hangup (reason shutdown)")
        log("%d clients got hangup with reason shutdown" % len(self.peers))
        text = self.janus.log_text()
        tc.assertIn("shutdown: signal 15", text)
        tc.assertNotIn("still active at the timeout", text)
        return took

    async def close(self):
        await close_all(self.peers)


class GracefulShutdownTest(unittest.IsolatedAsyncioTestCase):

    async def test_sigterm_with_50_sessions_and_3_peerconnections(self):
        janus = harness.JanusProcess(overrides={"janus.plugin.media.jcfg": plugin_conf()})
        janus.start()
        scenario = ShutdownScenario(janus, self, waiting_viewers=47)
        try:
            await asyncio.wait_for(scenario.build(), 120)
            await asyncio.wait_for(scenario.sigterm_and_check(), 60)
        finally:
            await scenario.close()
            janus.stop()
            janus.cleanup()


VALGRIND_WRAPPER = """#!/bin/sh
exec /usr/bin/valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \\
  --errors-for-leak-kinds=definite --num-callers=30 --log-file={log} /usr/bin/janus "$@"
"""


def our_valgrind_reports(text):
    """Valgrind records (errors and definitely-lost blocks) with a frame in our modules."""
    records, current = [], []
    for line in text.splitlines():
        body = re.sub(r"^==\d+== ?", "", line)
        if body == "":
            if current:
                records.append(current)
            current = []
        else:
            current.append(body)
    if current:
        records.append(current)
    ours = []
    for record in records:
        head = record[0]
        is_problem = ("definitely lost" in head or head.startswith("Invalid ")
                      or head.startswith("Conditional jump") or head.startswith("Use of uninit")
                      or "uninitialised" in head or head.startswith("Mismatched free")
                      or head.startswith("Syscall param"))
        if is_problem and any(lib in line for line in record for lib in OUR_LIBS):
            ours.append("\n".join(record))
    return ours


class ValgrindShutdownTest(unittest.IsolatedAsyncioTestCase):

    def test_report_filter_finds_our_frames(self):
        """The filter below must catch a report in our code and ignore others."""
        sample = ("==1== Invalid read of size 4\n==1==    at 0x1: f (libjanus_media.so)\n==1== \n"
                  "==1== 8 bytes in 1 blocks are definitely lost in loss record 1 of 2\n"
                  "==1==    by 0x2: g (libjanus_videoroom.so.1.1.2)\n==1== \n")
        found = our_valgrind_reports(sample)
        self.assertEqual(len(found), 1)
        self.assertIn("Invalid read", found[0])

    async def test_sigterm_under_valgrind_reports_nothing_in_our_code(self):
        tmp = tempfile.mkdtemp(prefix="jmedia-valgrind-")
        vlog = os.path.join(tmp, "valgrind.log")
        wrapper = os.path.join(tmp, "janus-under-valgrind")
        with open(wrapper, "w") as f:
            f.write(VALGRIND_WRAPPER.format(log=vlog))
        os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IEXEC)
        # Under memcheck Janus runs ~20x slower: fewer waiting viewers, longer start.
        janus = harness.JanusProcess(janus_bin=wrapper, start_timeout=120,
                                     overrides={"janus.plugin.media.jcfg": plugin_conf()})
        janus.start()
        scenario = ShutdownScenario(janus, self, waiting_viewers=7)
        try:
            await asyncio.wait_for(scenario.build(), 240)
            # valgrind itself is slow to exit (leak check): allow it.
            global SHUTDOWN_TIMEOUT_S  # noqa: PLW0603
            saved = SHUTDOWN_TIMEOUT_S
            SHUTDOWN_TIMEOUT_S = saved + 60
            try:
                await asyncio.wait_for(scenario.sigterm_and_check(), 180)
            finally:
                SHUTDOWN_TIMEOUT_S = saved
        finally:
            await scenario.close()
            janus.stop(timeout=60)
            janus.cleanup()
        with open(vlog, errors="replace") as f:
            text = f.read()
        shutil.rmtree(tmp, ignore_errors=True)
        self.assertIn("ERROR SUMMARY", text, "valgrind ran to the end")
        summary = re.findall(r"ERROR SUMMARY: .*", text)[-1]
        log("valgrind: %s" % summary)
        ours = our_valgrind_reports(text)
        self.assertEqual(ours, [], "valgrind reports in our modules:\n" + "\n\n".join(ours[:5]))


if __name__ == "__main__":
    unittest.main()
