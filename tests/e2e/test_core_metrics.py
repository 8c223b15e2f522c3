#!/usr/bin/python3
"""End-to-end: janus.eventhandler.media turns a real Janus's events into janus_core_* metrics.

Janus runs with events.broadcast = true and this build's modules (JMEDIA_MODULES_DIR).
One aiortc echo session against Debian's janus.plugin.echotest, then one against our
janus.plugin.media (test_echo.py's EchoSession), each: offer, ICE, DTLS, webrtcup, echoed
media, hangup, detach, destroy.  Checked through the admin request
{"janus":"query_eventhandler","handler":"janus.eventhandler.media"} and through
janus.transport.prometheus's /metrics (on a free port set with an override of
janus.transport.prometheus.jcfg), which must also pass `promtool check metrics` for the
janus_core_* families. Without the transport (<modules>/transports/libjanus_prometheus.so)
the test fails, as for any of our modules missing from an e2e run.

Run: /usr/bin/python3 tests/e2e/test_core_metrics.py -v
"""

import asyncio
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import JanusProcess  # noqa: E402
from test_echo import (PROFILES, EchoSession, TONE_AMPLITUDE,  # noqa: E402
                       wait_until)

HANDLER = "janus.eventhandler.media"
ECHOTEST = "janus.plugin.echotest"
MEDIA = "janus.plugin.media"
TEST_TIMEOUT = 60.0


def log(msg):
    sys.stderr.write("[core-metrics] %s\n" % msg)
    sys.stderr.flush()


def query(janus, request=None):
    """The handler's answer to admin query_eventhandler (the reply's "response")."""
    fields = {"handler": HANDLER}
    if request is not None:
        fields["request"] = request
    reply = janus.admin().request("query_eventhandler", **fields)
    if reply.get("janus") != "success":
        raise AssertionError("query_eventhandler: %r" % reply)
    return reply["response"]


def scrape(port):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open("http://127.0.0.1:%d/metrics" % port, timeout=5) as resp:
        return resp.read().decode()


def samples(text):
    """{'name{labels}': value} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            out[name] = float(value)
        except ValueError:
            pass
    return out


def core_families(text):
    """Only the janus_core_* lines (HELP, TYPE and samples) of an exposition."""
    keep = []
    for line in text.splitlines():
        parts = line.split(" ")
        name = parts[2] if line.startswith("#") and len(parts) > 2 else parts[0]
        if name.startswith("janus_core_"):
            keep.append(line)
    return "\n".join(keep) + "\n"


class CoreMetricsTest(unittest.IsolatedAsyncioTestCase):

    def setUp(self):
        self.metrics_port = harness.free_port()
        overrides = {"janus.transport.prometheus.jcfg": (
            'general: {\n\tip = "127.0.0.1"\n\tport = %d\n}\n' % self.metrics_port)}
        self.janus = JanusProcess(events_broadcast=True, overrides=overrides)
        self.janus.start()

    def tearDown(self):
        self.janus.stop(10)
        self.janus.cleanup()

    async def asyncSetUp(self):
        asyncio.get_running_loop().slow_callback_duration = 2.0

    async def test_echo_sessions_move_the_core_metrics(self):
        try:
            await asyncio.wait_for(self._run(), TEST_TIMEOUT)
        except BaseException:
            log("janus log tail:\n" + self.janus.log_tail(80))
            raise

    # -- helpers --------------------------------------------------------------
    async def until(self, predicate, what, timeout=10):
        """Poll the handler's summary until predicate(summary) holds."""
        last = {}

        def check():
            last["s"] = query(self.janus)
            return predicate(last["s"])
        await wait_until(check, timeout,
                         lambda: "%s (summary %r)" % (what, last.get("s")),
                         step=0.1)
        return last["s"]

    async def echo(self, plugin):
        s = EchoSession(self.janus)
        try:
            await s.open(self, plugin=plugin, profile=PROFILES[plugin],
                         with_data=False)
            await s.client.wait_event(s.handle, "webrtcup", timeout=10)
            await wait_until(lambda: s.frames["audio"] >= 10, 15,
                             lambda: "echoed audio (%r)" % s.frames)
            await wait_until(lambda: s.audio_peak >= TONE_AMPLITUDE // 4, 5,
                             lambda: "echoed tone (peak %d)" % s.audio_peak)
            during = query(self.janus)
            if PROFILES[plugin]["hangup"] == "message":
                await s.client.message(s.handle, {"request": "hangup"},
                                       timeout=10)
            else:
                await s.client.hangup(s.handle, timeout=10)
            await s.client.wait_event(s.handle, "hangup", timeout=10)
            r = await s.client.detach(s.handle)
            self.assertEqual(r.get("janus"), "success", "detach: %r" % r)
            r = await s.client.destroy()
            self.assertEqual(r.get("janus"), "success", "destroy: %r" % r)
        finally:
            await s.close()
        return during

    def check_session(self, before, during, after, plugin):
        """One session of plugin, with one PeerConnection, came and went."""
        delta = lambda group, key: (after[group].get(key, 0)  # noqa: E731
                                    - before[group].get(key, 0))
        self.assertEqual(during["sessions"], before["sessions"] + 1, during)
        self.assertEqual(during["handles"], before["handles"] + 1, during)
        self.assertEqual(during["peerconnections"],
                         before["peerconnections"] + 1, during)
        self.assertEqual(after["sessions_created"],
                         before["sessions_created"] + 1, after)
        self.assertEqual(delta("sessions_destroyed", "request"), 1, after)
        self.assertEqual(delta("handles_attached", plugin), 1, after)
        self.assertEqual(delta("handles_detached", plugin), 1, after)
        self.assertEqual(after["peerconnections_established"],
                         before["peerconnections_established"] + 1, after)
        self.assertEqual(sum(after["peerconnection_hangups"].values())
                         - sum(before["peerconnection_hangups"].values()), 1,
                         after)
        # libnice does not always reach "ready" (all checks done) before the hangup
        for state in ("gathering", "connecting", "connected"):
            self.assertGreaterEqual(delta("ice_state_transitions", state), 1,
                                    "ICE %s: %r" % (state, after))
        self.assertEqual(delta("ice_state_transitions", "failed"), 0, after)
        self.assertEqual(delta("dtls_state_transitions", "trying"), 1, after)
        self.assertEqual(delta("dtls_state_transitions", "connected"), 1, after)
        self.assertEqual(delta("selected_pairs", "host/host/udp"), 1, after)
        self.assertEqual(sum(after["selected_pairs"].values())
                         - sum(before["selected_pairs"].values()), 1, after)
        self.assertGreaterEqual(delta("remote_candidates", "host"), 1, after)
        self.assertEqual(after["events_unrecognized"], 0, after)

    def check_scrape(self):
        if "serving /metrics" not in self.janus.log_text():
            raise AssertionError("janus.transport.prometheus is built but did not "
                                 "start: see the janus log")
        text = scrape(self.metrics_port)
        got = samples(text)
        for series, least in (
                ('janus_core_ice_state_transitions_total{state="connected"}', 2),
                ('janus_core_ice_state_transitions_total{state="gathering"}', 2),
                ('janus_core_dtls_state_transitions_total{state="connected"}', 2),
                ('janus_core_selected_pairs_total{local_type="host",'
                 'remote_type="host",transport="udp"}', 2),
                ('janus_core_handles_attached_total{plugin="%s"}' % ECHOTEST, 1),
                ('janus_core_handles_attached_total{plugin="%s"}' % MEDIA, 1),
                ('janus_core_peerconnections_established_total', 2),
                ('janus_core_sessions_created_total', 2),
                ('janus_core_remote_candidates_total{type="host"}', 2)):
            self.assertIn(series, got, "%s missing from /metrics" % series)
            self.assertGreaterEqual(got[series], least, series)
        for gauge in ("janus_core_sessions", "janus_core_handles",
                      "janus_core_peerconnections"):
            self.assertEqual(got.get(gauge), 0, gauge)
        self.assertEqual(got.get(
            'janus_core_selected_pairs_total{local_type="host",'
            'remote_type="relay",transport="udp"}'), 0)
        # promtool on our families (the other modules' have their own tests)
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool not installed (Debian prometheus)")
        with tempfile.NamedTemporaryFile("w", suffix=".prom") as f:
            f.write(core_families(text))
            f.flush()
            with open(f.name) as stdin:
                r = subprocess.run([promtool, "check", "metrics"], stdin=stdin,
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=30)
        out = r.stdout.decode(errors="replace")
        self.assertEqual((r.returncode, out), (0, ""), "promtool: %s" % out)
        log("/metrics on port %d: %d janus_core_* samples, promtool clean"
            % (self.metrics_port,
               sum(1 for k in got if k.startswith("janus_core_"))))

    # -- the test -------------------------------------------------------------
    async def _run(self):
        janus = self.janus
        self.assertIn("libjanus_mediaevh.so", janus.config_info["events"],
                      "libjanus_mediaevh.so not in %s/events (build first or set "
                      "JMEDIA_MODULES_DIR)" % janus.modules_dir)
        self.assertIn("libjanus_media.so", janus.config_info["plugins"])
        if "libjanus_prometheus.so" not in janus.config_info["transports"]:
            self.fail("libjanus_prometheus.so not in %s/transports: /metrics cannot be "
                      "checked (build the modules first or set JMEDIA_MODULES_DIR)"
                      % janus.modules_dir)
        # Janus lists the loaded handler in /info, and our init logged its line.
        self.assertIn(HANDLER, janus.server_info.get("events", {}),
                      "event handlers in /info: %r" % janus.server_info.get("events"))
        self.assertIn("[%s] JANUS media metrics event handler" % HANDLER,
                      janus.log_text())

        start = query(janus)
        self.assertTrue(start["enabled"])
        self.assertEqual(start["events_mask"],
                         "sessions,handles,jsep,webrtc,media,transports,core")
        self.assertEqual(start["sessions"], 0, start)
        # the core's startup event has arrived (it carries reclaim_session_timeout)
        start = await self.until(lambda s: s["events"]["core"] >= 1,
                                 "the core's startup event")
        self.assertEqual(start["reclaim_session_timeout"], 0)
        unknown = janus.admin().request("query_eventhandler", handler=HANDLER,
                                        request={"request": "bogus"})
        self.assertIn("error", unknown.get("response", {}), unknown)

        before = start
        for plugin in (ECHOTEST, MEDIA):
            during = await self.echo(plugin)
            after = await self.until(
                lambda s: s["sessions"] == before["sessions"]
                and s["handles"] == before["handles"]
                and s["peerconnections"] == before["peerconnections"]
                and s["sessions_created"] > before["sessions_created"]
                and sum(s["sessions_destroyed"].values())
                > sum(before["sessions_destroyed"].values()),
                "%s session gone" % plugin)
            self.check_session(before, during, after, plugin)
            log("%s: hangups %r, selected pairs %r"
                % (plugin, {k: v for k, v in after["peerconnection_hangups"].items()
                            if v}, after["selected_pairs"]))
            before = after
        self.assertEqual(before["peerconnection_hangups"]["janus_api"], 1,
                         before)  # echotest: core-level hangup request
        self.assertEqual(before["tracked"], {"sessions": 0, "handles": 0})
        self.check_scrape()
        self.assertTrue(janus.alive(), "janus died during the test")


if __name__ == "__main__":
    unittest.main()
