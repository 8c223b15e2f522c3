#!/usr/bin/python3
"""End-to-end tests of janus.transport.prometheus and the janus_media_* metrics,
against Debian's janus with our modules, real WebRTC peers (aiortc) and a real
Prometheus server (Debian's /usr/bin/prometheus and promtool), on 127.0.0.0/8
only.

  EchoMetricsTest      promtool finds nothing to complain about in a scrape
                       taken during a live audio+video echo; one echo session
                       moves the janus_media_* series as documented; a client
                       that never completes ICE is counted in
                       janus_media_peerconnections_failed_total with the reason
                       it triggered (hangup request, detach)
  PrometheusServerTest a real Prometheus (scrape_interval 1s) scrapes the
                       transport: up == 1, janus_media_handles follows the
                       handles attached, janus_build_info and
                       process_resident_memory_bytes have sane values
  ScrapeCostTest       10,000 handles attached over the HTTP API: the /metrics
                       body stays the same size (within 5 %), scrape latency
                       is printed; detaching them all brings
                       janus_media_handles back to its baseline.  (Latency
                       does grow, ~1.3 ms per 1,000 handles: Janus 1.1.2 gives
                       every handle a loop thread and an eventfd, and
                       process_open_fds lists /proc/self/fd.)
  HttpEdgeTest         bearer auth (401/200), 404, 405, HEAD, /healthz,
                       /readyz following the plugin's drain, and a second Janus
                       whose metrics port is taken: it runs without the
                       transport, and the first keeps serving

The /metrics text is parsed here (name{labels} value), independently of the
modules' serializer.  Every wait is a bounded poll.

Run: JMEDIA_MODULES_DIR=/work/main/build-dev/modules \\
     /usr/bin/python3 tests/e2e/test_metrics.py -v
"""

import asyncio
import http.client
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import (JanusProcess, JanusWsClient, free_port,  # noqa: E402
                     new_peer_connection, port_owned_by)
from test_echo import (MEDIA_PLUGIN, PROFILES, EchoSession,  # noqa: E402
                       SmallVideoTrack, ToneTrack, log, wait_until)
from dashboard_lab import PrometheusServer  # noqa: E402

PROMTOOL = "/usr/bin/promtool"
PROFILE = PROFILES[MEDIA_PLUGIN]
TEST_TIMEOUT = 60.0           # hard bound on one async test body
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4"
ROLES = ("echo", "publisher", "viewer")
END_REASONS = ("request", "kicked", "peerconnection_closed", "negotiation_ended",
               "detached", "shutdown")

SCALE_HANDLES = 10000         # handles attached by ScrapeCostTest
SCALE_SESSIONS = 10           # Janus sessions they are spread over
SCALE_THREADS = 8             # keep-alive HTTP connections doing the work
BEARER_TOKEN = "s3cret"
FAILED_ICE_ROUNDS = 10       # clients that never complete ICE, per way of ending them


# ===========================================================================
# HTTP (loopback only, no proxies, any status returned rather than raised)
# ===========================================================================
class HttpReply:
    def __init__(self, status, headers, body, took):
        self.status = status
        self.headers = headers          # list of (name, value)
        self.body = body                # bytes
        self.took = took                # seconds, request to last byte

    def header(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def __repr__(self):
        return "HTTP %s %r %r" % (self.status, self.headers, self.body[:200])


def http_request(url, method="GET", headers=None, body=None, timeout=10.0):
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname or not parts.hostname.startswith("127."):
        raise harness.HarnessError("refusing non-loopback url %s" % url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        t0 = time.monotonic()
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        conn.request(method, path, body=body, headers=dict(headers or {}))
        resp = conn.getresponse()
        data = resp.read()
        return HttpReply(resp.status, resp.getheaders(), data,
                         time.monotonic() - t0)
    finally:
        conn.close()


def raw_http(port, request_bytes, timeout=5.0):
    """Send raw bytes to 127.0.0.1:port, read until the server closes.
    Returns (status line, header lines, body bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request_bytes)
        chunks = []
        deadline = time.monotonic() + timeout
        for _ in range(100000):
            if time.monotonic() > deadline:
                raise AssertionError("server did not close within %.1f s" % timeout)
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        raise AssertionError("no end of headers in %r" % data[:500])
    lines = head.decode("latin-1").split("\r\n")
    return lines[0], lines[1:], body


# ===========================================================================
# the Prometheus text format, parsed here
# ===========================================================================
def _parse_labels(line, i):
    """Parse {a="x",b="y"} starting at line[i] == '{'; return (dict, index
    after '}')."""
    labels = {}
    i += 1
    for _ in range(len(line)):
        while i < len(line) and line[i] in " \t":
            i += 1
        if i < len(line) and line[i] == "}":
            return labels, i + 1
        eq = line.index("=", i)
        name = line[i:eq].strip()
        if not name or not (name[0].isalpha() or name[0] == "_") or \
                not all(c.isalnum() or c == "_" for c in name):
            raise ValueError("bad label name %r in %r" % (name, line))
        i = eq + 1
        if line[i] != '"':
            raise ValueError("label value not quoted in %r" % line)
        i += 1
        value = []
        for _ in range(len(line)):
            c = line[i]
            if c == "\\":
                nxt = line[i + 1]
                value.append({"n": "\n", "\\": "\\", '"': '"'}.get(nxt, "\\" + nxt))
                i += 2
            elif c == '"':
                i += 1
                break
            else:
                value.append(c)
                i += 1
        if name in labels:
            raise ValueError("label %r twice in %r" % (name, line))
        labels[name] = "".join(value)
        if line[i] == ",":
            i += 1
        elif line[i] != "}":
            raise ValueError("expected ',' or '}' at %d in %r" % (i, line))
    raise ValueError("unterminated labels in %r" % line)


def parse_metrics(text):
    """{(name, ((label, value), ...sorted)): float} for every sample line.
    Raises ValueError on a malformed line or a series seen twice."""
    series = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        i = 0
        while i < len(line) and line[i] not in "{ \t":
            i += 1
        name = line[:i]
        if not name or not all(c.isalnum() or c in "_:" for c in name):
            raise ValueError("line %d: bad metric name in %r" % (lineno, line))
        labels = {}
        if i < len(line) and line[i] == "{":
            labels, i = _parse_labels(line, i)
        fields = line[i:].split()
        if len(fields) not in (1, 2):
            raise ValueError("line %d: expected 'value [timestamp]' in %r"
                             % (lineno, line))
        value = float(fields[0])     # accepts +Inf, -Inf, NaN
        key = (name, tuple(sorted(labels.items())))
        if key in series:
            raise ValueError("line %d: series %s%s twice" % (lineno, name, labels))
        series[key] = value
    return series


class Scrape:
    """One /metrics response, parsed."""

    def __init__(self, reply):
        self.reply = reply
        self.text = reply.body.decode("utf-8")
        self.size = len(reply.body)
        self.took = reply.took
        self.series = parse_metrics(self.text)

    def value(self, name, **labels):
        key = (name, tuple(sorted(labels.items())))
        if key not in self.series:
            raise AssertionError("no series %s%s in the scrape" % (name, labels))
        return self.series[key]

    def total(self, name, **labels):
        """Sum of every series of name whose labels include labels."""
        found = [v for (n, ls), v in self.series.items()
                 if n == name and set(labels.items()) <= set(ls)]
        if not found:
            raise AssertionError("no series %s%s in the scrape" % (name, labels))
        return sum(found)

    def family(self, name):
        """{labels tuple: value} of one metric name."""
        return {ls: v for (n, ls), v in self.series.items() if n == name}


def auth_headers(token):
    return {"Authorization": "Bearer " + token} if token else {}


def scrape(base_url, token=None):
    reply = http_request(base_url + "/metrics", headers=auth_headers(token))
    if reply.status != 200:
        raise AssertionError("GET /metrics: %r" % reply)
    ctype = (reply.header("Content-Type") or [""])[0]
    if not ctype.startswith(METRICS_CONTENT_TYPE):
        raise AssertionError("GET /metrics Content-Type %r" % ctype)
    return Scrape(reply)


def poll_scrape(base_url, pred, timeout, what, token=None, step=0.05):
    """Scrape until pred(scrape) holds; bounded in time and iterations."""
    deadline = time.monotonic() + timeout
    last = None
    for _ in range(int(timeout / step) + 10):
        last = scrape(base_url, token)
        if pred(last):
            return last
        if time.monotonic() > deadline:
            break
        time.sleep(step)
    raise AssertionError("timed out after %.1f s waiting for %s"
                         % (timeout, what(last) if callable(what) else what))


async def apoll_scrape(base_url, pred, timeout, what, step=0.05):
    """poll_scrape for coroutines: the loop keeps running aiortc meanwhile."""
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + timeout
    last = None
    for _ in range(int(timeout / step) + 10):
        last = await loop.run_in_executor(None, scrape, base_url)
        if pred(last):
            return last
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(step)
    raise AssertionError("timed out after %.1f s waiting for %s"
                         % (timeout, what(last) if callable(what) else what))


def promtool_check(text):
    """(exit code, stdout+stderr) of `promtool check metrics` on text."""
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    return r.returncode, r.stdout.decode(errors="replace")


def media_plugin_check(janus):
    for kind, so in (("plugins", "libjanus_media.so"),
                     ("transports", "libjanus_prometheus.so")):
        if so not in janus.config_info[kind]:
            raise AssertionError("%s not found in %s/%s (set JMEDIA_MODULES_DIR or "
                                 "build first)" % (so, janus.modules_dir, kind))


def wait_metrics_endpoint(base_url, timeout=10.0, token=None):
    """Poll /healthz until the transport answers 200."""
    deadline = time.monotonic() + timeout
    last = "no attempt"
    for _ in range(int(timeout / 0.05) + 10):
        try:
            r = http_request(base_url + "/healthz", headers=auth_headers(token),
                             timeout=1.0)
            if r.status == 200:
                return r
            last = repr(r)
        except OSError as e:
            last = repr(e)
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    raise AssertionError("%s/healthz not 200 after %.1f s: %s"
                         % (base_url, timeout, last))


def start_janus(cls_name, **kwargs):
    janus = JanusProcess(**kwargs).start()
    try:
        media_plugin_check(janus)
    except BaseException:
        janus.stop()
        janus.cleanup()
        raise
    log("%s: janus pid %d, api %s, metrics %s" % (cls_name, janus.pid,
                                                  janus.http_url, janus.metrics_url))
    return janus


def stop_janus(cls_name, janus):
    return harness.stop_janus(janus, log, cls_name)


def janus_info_status(http_url):
    r = http_request(http_url + "/info", timeout=5.0)
    return r.status, (json.loads(r.body) if r.status == 200 else None)


# ===========================================================================
# 1-3: metrics of echo sessions
# ===========================================================================
class EchoMetricsTest(harness.JanusLogOnFailure, unittest.IsolatedAsyncioTestCase):
    janus = None

    @classmethod
    def setUpClass(cls):
        cls.janus = start_janus(cls.__name__)

    @classmethod
    def tearDownClass(cls):
        stop_janus(cls.__name__, cls.janus)

    async def asyncSetUp(self):
        asyncio.get_running_loop().slow_callback_duration = 2.0
        self.url = self.janus.metrics_url
        # Every test ends its sessions; wait until the previous one's are gone.
        await apoll_scrape(
            self.url, lambda s: s.total("janus_media_sessions_active") == 0
            and s.value("janus_media_handles") == 0, 10,
            lambda s: "no media session and no handle left (active %s, handles %s)"
            % (s.family("janus_media_sessions_active"),
               s.value("janus_media_handles")))

    async def scrape(self):
        return await asyncio.get_running_loop().run_in_executor(None, scrape, self.url)

    # -- 1 --------------------------------------------------------------------
    async def test_1_promtool_accepts_a_scrape_during_live_echo(self):
        await asyncio.wait_for(self._promtool_live(), TEST_TIMEOUT)

    async def _promtool_live(self):
        loop = asyncio.get_running_loop()
        # promtool does complain about a bad exposition (so silence means something)
        code, out = await loop.run_in_executor(
            None, promtool_check,
            "# HELP bad_counter x\n# TYPE bad_counter counter\nbad_counter 1\n")
        self.assertIn("_total", out, "promtool did not flag a counter without _total")

        s = EchoSession(self.janus)
        try:
            await s.open(self, plugin=MEDIA_PLUGIN, profile=PROFILE, with_data=False)
            await s.client.wait_event(s.handle, "webrtcup", timeout=10)
            await wait_until(lambda: s.frames["audio"] >= 10 and s.frames["video"] >= 5,
                             15, lambda: "echoed audio and video (%r)" % s.frames)
            live = await self.scrape()
            # taken while the session is up and media flows
            self.assertEqual(live.value("janus_media_sessions_active", role="echo"), 1)
            self.assertGreater(live.value("janus_media_rtp_relayed_packets_total",
                                          kind="video"), 0)
            code, out = await loop.run_in_executor(None, promtool_check, live.text)
            log("promtool check metrics on a live scrape (%d bytes, %d series): "
                "exit %d, output %r" % (live.size, len(live.series), code, out))
            self.assertEqual((code, out), (0, ""),
                             "promtool check metrics complained:\n%s" % out)
            r = await s.client.message(s.handle, {"request": "hangup"}, timeout=10)
            self.assertEqual(r["plugindata"]["data"].get("result"), "hangingup", repr(r))
            await s.client.wait_event(s.handle, "hangup", timeout=10)
            r = await s.client.detach(s.handle)
            self.assertEqual(r.get("janus"), "success", "detach: %r" % r)
            await s.client.destroy()
        finally:
            await s.close()

    # -- 2 --------------------------------------------------------------------
    async def test_2_one_echo_session_moves_the_metrics(self):
        await asyncio.wait_for(self._echo_moves_metrics(), TEST_TIMEOUT)

    async def _echo_moves_metrics(self):
        before = await self.scrape()
        self.assertEqual(before.value("janus_media_sessions_active", role="echo"), 0)

        def delta(now, name, **labels):
            return now.value(name, **labels) - before.value(name, **labels)

        s = EchoSession(self.janus)
        try:
            await s.open(self, plugin=MEDIA_PLUGIN, profile=PROFILE, with_data=False)
            await s.client.wait_event(s.handle, "webrtcup", timeout=10)
            await wait_until(lambda: s.frames["audio"] >= 25 and s.frames["video"] >= 10,
                             15, lambda: "echoed audio and video (%r)" % s.frames)
            got = dict(s.frames)
            up = await apoll_scrape(
                self.url,
                lambda m: delta(m, "janus_media_rtp_relayed_packets_total", kind="audio")
                >= got["audio"] and delta(m, "janus_media_rtp_relayed_packets_total",
                                          kind="video") >= got["video"],
                10, lambda m: "relayed packets >= frames echoed %r (audio +%d, video +%d)"
                % (got, delta(m, "janus_media_rtp_relayed_packets_total", kind="audio"),
                   delta(m, "janus_media_rtp_relayed_packets_total", kind="video")))

            self.assertEqual({dict(k)["role"]: v for k, v in
                              up.family("janus_media_sessions_active").items()},
                             dict(zip(ROLES, (1, 0, 0))), "janus_media_sessions_active")
            self.assertEqual(up.value("janus_media_handles"),
                             before.value("janus_media_handles") + 1)
            self.assertEqual(delta(up, "janus_media_peerconnections_up_total", role="echo"), 1)
            self.assertEqual(delta(up, "janus_media_sessions_created_total", role="echo"), 1)
            self.assertEqual(delta(up, "janus_media_setup_duration_seconds_count",
                                   role="echo"), 1)
            self.assertEqual(delta(up, "janus_media_setup_duration_seconds_bucket",
                                   role="echo", le="+Inf"), 1)
            setup = delta(up, "janus_media_setup_duration_seconds_sum", role="echo")
            self.assertTrue(0 < setup < s.t["ice"] - s.t["offer"] + 5,
                            "setup duration %.3f s (offer to ICE connected took %.3f s)"
                            % (setup, s.t["ice"] - s.t["offer"]))
            self.assertEqual(delta(up, "janus_media_requests_total",
                                   request="echo", result="ok"), 1)
            self.assertEqual(delta(up, "janus_media_requests_total",
                                   request="echo", result="error"), 0)
            self.assertEqual(delta(up, "janus_media_request_duration_seconds_count",
                                   request="echo"), 1)
            for kind in ("audio", "video"):
                self.assertGreater(delta(up, "janus_media_rtp_relayed_bytes_total",
                                         kind=kind),
                                   delta(up, "janus_media_rtp_relayed_packets_total",
                                         kind=kind) * 12,   # an RTP header is 12 bytes
                                   "relayed %s bytes" % kind)
            self.assertEqual(up.total("janus_media_peerconnections_failed_total", role="echo")
                             - before.total("janus_media_peerconnections_failed_total",
                                            role="echo"), 0)

            r = await s.client.message(s.handle, {"request": "hangup"}, timeout=10)
            self.assertEqual(r["plugindata"]["data"].get("result"), "hangingup", repr(r))
            await s.client.wait_event(s.handle, "hangup", timeout=10)
            after = await apoll_scrape(
                self.url,
                lambda m: m.value("janus_media_sessions_active", role="echo") == 0
                and delta(m, "janus_media_sessions_ended_total", role="echo",
                          reason="request") >= 1,
                10, lambda m: "sessions_active{echo} 0 and ended{echo,request} +1 "
                "(active %s, ended %s)"
                % (m.value("janus_media_sessions_active", role="echo"),
                   m.family("janus_media_sessions_ended_total")))
            self.assertEqual(delta(after, "janus_media_sessions_ended_total",
                                   role="echo", reason="request"), 1)
            self.assertEqual(after.total("janus_media_sessions_ended_total")
                             - before.total("janus_media_sessions_ended_total"), 1,
                             "exactly one session ended")
            self.assertEqual(delta(after, "janus_media_peerconnections_up_total",
                                   role="echo"), 1)
            self.assertEqual(after.total("janus_media_peerconnections_failed_total")
                             - before.total("janus_media_peerconnections_failed_total"), 0,
                             "a session that came up is not a failed negotiation")
            self.assertEqual(delta(after, "janus_media_requests_total",
                                   request="hangup", result="ok"), 1)
            # the handle is still attached: hangup ends the role, not the handle
            self.assertEqual(after.value("janus_media_handles"),
                             before.value("janus_media_handles") + 1)
            log("echo session metrics: setup %.3f s, relayed packets audio +%d video "
                "+%d, bytes audio +%d video +%d (client got frames %r)"
                % (setup,
                   delta(after, "janus_media_rtp_relayed_packets_total", kind="audio"),
                   delta(after, "janus_media_rtp_relayed_packets_total", kind="video"),
                   delta(after, "janus_media_rtp_relayed_bytes_total", kind="audio"),
                   delta(after, "janus_media_rtp_relayed_bytes_total", kind="video"),
                   s.frames))
            r = await s.client.detach(s.handle)
            self.assertEqual(r.get("janus"), "success", "detach: %r" % r)
            await apoll_scrape(
                self.url, lambda m: m.value("janus_media_handles")
                == before.value("janus_media_handles"), 10,
                lambda m: "janus_media_handles back to %s (is %s)"
                % (before.value("janus_media_handles"), m.value("janus_media_handles")))
            await s.client.destroy()
        finally:
            await s.close()

    # -- 3 --------------------------------------------------------------------
    async def _offer_never_connected(self):
        """Attach, send echo with a real aiortc offer, take the answer, and close
        the PeerConnection without ever applying it: ICE never completes."""
        client = await JanusWsClient(self.janus.ws_url).connect()
        pc = None
        try:
            await client.create_session()
            handle = await client.attach(MEDIA_PLUGIN)
            pc = new_peer_connection()
            pc.addTrack(ToneTrack())
            pc.addTrack(SmallVideoTrack())
            await pc.setLocalDescription(await pc.createOffer())
            await harness.wait_ice_gathering_complete(pc, 10)
            offer = pc.localDescription
            reply = await client.message(
                handle, {"request": "echo", "audio": True, "video": True, "data": False},
                jsep={"type": offer.type, "sdp": offer.sdp, "trickle": False}, timeout=15)
            await pc.close()     # the answer is never applied
            pc = None
            data = reply.get("plugindata", {}).get("data", {})
            self.assertEqual(data.get("result"), "echoing", "echo reply %r" % reply)
            self.assertEqual((reply.get("jsep") or {}).get("type"), "answer", repr(reply))
            return client, handle
        except BaseException:
            if pc is not None:
                await pc.close()
            await client.close()
            raise

    async def _failed_ice_round(self, end):
        """One client that never completes ICE, ended by a hangup request
        (end == "request") or a detach (end == "detached").  Returns the
        deltas of failed_total and sessions_ended_total{role="echo"} by reason."""
        before = await self.scrape()

        def delta(now, name, **labels):
            return now.value(name, **labels) - before.value(name, **labels)

        client, handle = await self._offer_never_connected()
        try:
            negotiating = await self.scrape()
            self.assertEqual(negotiating.value("janus_media_sessions_active", role="echo"), 1)
            self.assertEqual(delta(negotiating, "janus_media_requests_total",
                                   request="echo", result="ok"), 1)
            self.assertEqual(delta(negotiating, "janus_media_peerconnections_up_total",
                                   role="echo"), 0)
            if end == "request":
                r = await client.message(handle, {"request": "hangup"}, timeout=10)
                self.assertEqual(r["plugindata"]["data"].get("result"), "hangingup", repr(r))
                ev = await client.wait_event(
                    handle, lambda m: (m.get("plugindata") or {}).get("data", {})
                    .get("result") == "hangup", timeout=10)
                self.assertEqual(ev["plugindata"]["data"].get("reason"), "request", repr(ev))
                self.assertEqual(ev["plugindata"]["data"].get("role"), "echo", repr(ev))
            else:
                r = await client.detach(handle)
                self.assertEqual(r.get("janus"), "success", "detach: %r" % r)
            after = await apoll_scrape(
                self.url,
                lambda m: m.value("janus_media_sessions_active", role="echo") == 0
                and m.total("janus_media_peerconnections_failed_total")
                > before.total("janus_media_peerconnections_failed_total"),
                10, lambda m: "a failed PeerConnection counted (failed %s)"
                % {dict(k)["reason"]: v for k, v in
                   m.family("janus_media_peerconnections_failed_total").items()
                   if dict(k)["role"] == "echo" and v})
            failed = {reason: delta(after, "janus_media_peerconnections_failed_total",
                                    role="echo", reason=reason) for reason in END_REASONS}
            ended = {reason: delta(after, "janus_media_sessions_ended_total",
                                   role="echo", reason=reason) for reason in END_REASONS}
            self.assertEqual(delta(after, "janus_media_peerconnections_up_total",
                                   role="echo"), 0)
            self.assertEqual(delta(after, "janus_media_setup_duration_seconds_count",
                                   role="echo"), 0)
            self.assertEqual(after.total("janus_media_peerconnections_failed_total")
                             - before.total("janus_media_peerconnections_failed_total"), 1,
                             "exactly one failed PeerConnection")
            if end == "request":
                r = await client.detach(handle)
                self.assertEqual(r.get("janus"), "success", "detach: %r" % r)
            await client.destroy()
        finally:
            await client.close()
        await apoll_scrape(self.url, lambda m: m.value("janus_media_handles") == 0, 10,
                           lambda m: "janus_media_handles 0 (is %s)"
                           % m.value("janus_media_handles"))
        return ({k: v for k, v in failed.items() if v}, {k: v for k, v in ended.items() if v})

    async def _failed_ice(self, end):
        """FAILED_ICE_ROUNDS rounds: the reason must be the one triggered every time
        (a reason that depends on timing would pass a single round by luck)."""
        rounds = []
        for _ in range(FAILED_ICE_ROUNDS):
            rounds.append(await self._failed_ice_round(end))
        log("ICE never completed, ended by %s, %d rounds: "
            "(failed_total deltas, sessions_ended deltas) per round %s"
            % (end, len(rounds), rounds))
        # A hangup request is always "request". A detach is "detached" when the plugin learns
        # of the detach first, and "negotiation_ended" when Janus 1.1.2's detach path hangs
        # the PeerConnection up before it marks the handle stopped (the plugin cannot tell
        # that hangup from any other the core makes): both are documented in README.
        allowed = {"request"} if end == "request" else {"detached", "negotiation_ended"}
        for failed, ended in rounds:
            self.assertEqual(len(failed), 1, "one failed PeerConnection per round: %r" % rounds)
            reason = next(iter(failed))
            self.assertIn(reason, allowed, "failed reason after a %s: %r" % (end, rounds))
            self.assertEqual((failed, ended), ({reason: 1}, {reason: 1}),
                             "janus_media_peerconnections_failed_total / sessions_ended_total "
                             "{role=\"echo\"} deltas by reason after a %s, per round" % end)

    async def test_3_failed_ice_then_hangup_request(self):
        await asyncio.wait_for(self._failed_ice("request"), TEST_TIMEOUT)

    async def test_4_failed_ice_then_detach(self):
        await asyncio.wait_for(self._failed_ice("detached"), TEST_TIMEOUT)


# ===========================================================================
# 4: a real Prometheus server
# ===========================================================================
class PrometheusServerTest(unittest.TestCase):
    janus = None

    @classmethod
    def setUpClass(cls):
        cls.janus = start_janus(cls.__name__)

    @classmethod
    def tearDownClass(cls):
        stop_janus(cls.__name__, cls.janus)

    def test_prometheus_scrapes_the_transport(self):
        job = "janus-e2e"
        target = "127.0.0.1:%d" % self.janus.metrics_port
        api = self.janus.http()
        session = api.create()
        handles = [api.attach(session, MEDIA_PLUGIN) for _ in range(3)]
        prom = PrometheusServer([target], job)
        t0 = time.monotonic()
        try:
            prom.start()
            t_ready = time.monotonic()
            log("prometheus pid %d ready on %s after %.2f s, scraping %s every 1 s"
                % (prom.proc.pid, prom.url, t_ready - t0, target))
            res = prom.poll_vector("janus_media_handles",
                                   lambda r: bool(r) and r[0]["value"][1] == "3",
                                   30, "janus_media_handles == 3")
            t_seen = time.monotonic()
            self.assertEqual(len(res), 1, repr(res))
            self.assertEqual(res[0]["metric"],
                             {"__name__": "janus_media_handles", "job": job,
                              "instance": target})

            up = prom.vector('up{job="%s"}' % job)
            self.assertEqual(len(up), 1, repr(up))
            self.assertEqual(float(up[0]["value"][1]), 1.0, repr(up))
            self.assertEqual(up[0]["metric"]["instance"], target)

            targets = json.loads(http_request(prom.url + "/api/v1/targets").body)
            active = targets["data"]["activeTargets"]
            self.assertEqual([(t["scrapeUrl"], t["health"], t["lastError"]) for t in active],
                             [("http://%s/metrics" % target, "up", "")], repr(active))

            build = prom.vector("janus_build_info")
            self.assertEqual(len(build), 1, repr(build))
            self.assertEqual(float(build[0]["value"][1]), 1.0)
            labels = build[0]["metric"]
            self.assertEqual(labels.get("janus_version"), "1.1.2", repr(labels))
            self.assertRegex(labels.get("module_version", ""), r"^\d+\.\d+\.\d+", repr(labels))

            rss = prom.vector('process_resident_memory_bytes{job="%s"}' % job)
            self.assertEqual(len(rss), 1, repr(rss))
            rss_value = float(rss[0]["value"][1])
            actual = self.janus.rss_bytes()
            self.assertTrue(actual / 3 < rss_value < actual * 3,
                            "process_resident_memory_bytes %d vs janus VmRSS %d"
                            % (rss_value, actual))

            capacity = prom.vector("janus_media_queue_capacity")
            self.assertEqual([c["value"][1] for c in capacity], ["256"])

            # a change reaches Prometheus on a later scrape
            r = api.detach(session, handles.pop())
            self.assertEqual(r.get("janus"), "success", repr(r))
            prom.poll_vector("janus_media_handles", lambda r: bool(r) and r[0]["value"][1] == "2",
                             30, "janus_media_handles == 2 after a detach")
            scrapes = prom.vector('janus_transport_scrapes_total{job="%s"}' % job)
            self.assertGreaterEqual(float(scrapes[0]["value"][1]), 2.0, repr(scrapes))
            log("prometheus: janus_media_handles 3 seen %.2f s after ready; up=1; "
                "build_info %s; process_resident_memory_bytes %.1f MB (VmRSS %.1f MB); "
                "scrapes so far %s" % (t_seen - t_ready, labels, rss_value / 1e6,
                                       actual / 1e6, scrapes[0]["value"][1]))
        except BaseException:
            log("prometheus log tail:\n" + prom.log_tail())
            raise
        finally:
            code = prom.stop()
            log("prometheus stopped: code %s" % code)
            for h in handles:
                api.detach(session, h)
            api.destroy(session)
        self.assertIsNone(prom.tmpdir)
        self.assertEqual(janus_info_status(self.janus.http_url)[0], 200)


# ===========================================================================
# 5: the scrape does not grow with handles
# ===========================================================================
def _json_post(conn, path, body):
    conn.request("POST", path, body=json.dumps(body),
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        raise AssertionError("POST %s: HTTP %d %r" % (path, resp.status, data[:200]))
    return json.loads(data)


def parallel_requests(port, jobs, threads, make_request):
    """Run make_request(conn, job) for each job over `threads` keep-alive
    connections; returns (results in job order, errors)."""
    results = [None] * len(jobs)
    errors = []
    lock = threading.Lock()

    def worker(first):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        try:
            for i in range(first, len(jobs), threads):
                try:
                    results[i] = make_request(conn, jobs[i])
                except Exception as e:       # collected, reported by the test
                    with lock:
                        errors.append("%r: %r" % (jobs[i], e))
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        finally:
            conn.close()

    workers = [threading.Thread(target=worker, args=(t,), daemon=True)
               for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        if w.is_alive():
            errors.append("a worker thread did not finish within 120 s")
    return results, errors


def timed_scrapes(url, n=5):
    scrapes = [scrape(url) for _ in range(n)]
    return scrapes, statistics.median(s.took for s in scrapes), \
        statistics.median(s.size for s in scrapes)


class ScrapeCostTest(unittest.TestCase):
    janus = None

    @classmethod
    def setUpClass(cls):
        # session_timeout 0: the sessions must outlive the measurements
        cls.janus = start_janus(cls.__name__, extra={"general": {"session_timeout": 0}},
                                edge_settings=harness.LOAD_GENERATOR_EDGE)

    @classmethod
    def tearDownClass(cls):
        stop_janus(cls.__name__, cls.janus)

    def test_scrape_size_does_not_grow_with_10000_handles(self):
        url = self.janus.metrics_url
        api = self.janus.http()
        base_scrapes, base_latency, base_size = timed_scrapes(url)
        baseline_handles = base_scrapes[-1].value("janus_media_handles")
        sessions = [api.create() for _ in range(SCALE_SESSIONS)]
        try:
            jobs = [sessions[i % len(sessions)] for i in range(SCALE_HANDLES)]

            def attach(conn, session):
                r = _json_post(conn, "/janus/%d" % session,
                               {"janus": "attach", "plugin": MEDIA_PLUGIN,
                                "transaction": "a%d" % id(conn)})
                if r.get("janus") != "success":
                    raise AssertionError("attach: %r" % r)
                return r["data"]["id"]

            t0 = time.monotonic()
            handle_ids, errors = parallel_requests(self.janus.http_port, jobs,
                                                   SCALE_THREADS, attach)
            attach_s = time.monotonic() - t0
            self.assertEqual(errors[:5], [], "%d attach errors" % len(errors))
            self.assertEqual(len(set(handle_ids)), SCALE_HANDLES, "distinct handle ids")

            many = poll_scrape(url, lambda s: s.value("janus_media_handles")
                               == baseline_handles + SCALE_HANDLES, 10,
                               lambda s: "janus_media_handles == %d (is %s)"
                               % (baseline_handles + SCALE_HANDLES,
                                  s.value("janus_media_handles")))
            many_scrapes, many_latency, many_size = timed_scrapes(url)
            for s in many_scrapes:
                self.assertEqual(s.value("janus_media_handles"),
                                 baseline_handles + SCALE_HANDLES)
            self.assertEqual(len(many.series), len(base_scrapes[-1].series),
                             "number of series changed with %d handles" % SCALE_HANDLES)
            self.assertEqual(set(many.series), set(base_scrapes[-1].series),
                             "series changed with %d handles" % SCALE_HANDLES)
            growth = (many_size - base_size) / base_size
            log("scrape cost: %d handles attached in %.2f s (%.0f attaches/s over %d "
                "sessions, %d connections); /metrics body %d bytes before, %d bytes with "
                "them (%+.2f %%); median scrape latency of 5: %.2f ms before, %.2f ms with "
                "them; janus RSS %.1f MB; process_threads %d -> %d, process_open_fds "
                "%d -> %d"
                % (SCALE_HANDLES, attach_s, SCALE_HANDLES / attach_s, SCALE_SESSIONS,
                   SCALE_THREADS, base_size, many_size, growth * 100,
                   base_latency * 1e3, many_latency * 1e3, self.janus.rss_bytes() / 1e6,
                   base_scrapes[-1].value("process_threads"), many.value("process_threads"),
                   base_scrapes[-1].value("process_open_fds"),
                   many.value("process_open_fds")))
            self.assertLessEqual(abs(growth), 0.05,
                                 "/metrics body %d -> %d bytes" % (base_size, many_size))
            self.assertLess(many_latency, base_latency * 5 + 0.05,
                            "median scrape latency %.1f ms -> %.1f ms"
                            % (base_latency * 1e3, many_latency * 1e3))

            def detach(conn, pair):
                session, handle = pair
                r = _json_post(conn, "/janus/%d/%d" % (session, handle),
                               {"janus": "detach", "transaction": "d%d" % handle})
                if r.get("janus") != "success":
                    raise AssertionError("detach: %r" % r)
                return True

            t0 = time.monotonic()
            _, errors = parallel_requests(self.janus.http_port,
                                          list(zip(jobs, handle_ids)),
                                          SCALE_THREADS, detach)
            detach_s = time.monotonic() - t0
            self.assertEqual(errors[:5], [], "%d detach errors" % len(errors))
            end = poll_scrape(url, lambda s: s.value("janus_media_handles")
                              == baseline_handles, 20,
                              lambda s: "janus_media_handles back to %s (is %s)"
                              % (baseline_handles, s.value("janus_media_handles")))
            log("scrape cost: %d handles detached in %.2f s (%.0f/s); "
                "janus_media_handles %s -> %s -> %s"
                % (SCALE_HANDLES, detach_s, SCALE_HANDLES / detach_s, baseline_handles,
                   many.value("janus_media_handles"), end.value("janus_media_handles")))
            self.assertEqual(end.total("janus_media_sessions_active"), 0)
        finally:
            for session in sessions:
                try:
                    api.destroy(session)
                except OSError:
                    pass
        self.assertEqual(janus_info_status(self.janus.http_url)[0], 200)


# ===========================================================================
# 6: HTTP edge cases, auth, readiness, a taken port
# ===========================================================================
class JanusWithTakenMetricsPort(JanusProcess):
    """The harness restarts janus on fresh ports when its log says "Address
    already in use" (a lost race for a free port).  Here the metrics
    transport's port is taken on purpose, so that transport's own log lines
    do not count as a clash; every other port is still checked."""

    def _log_has_port_clash(self):
        text = "\n".join(line for line in self.log_text().splitlines()
                         if "[janus.transport.prometheus]" not in line)
        return any(m in text for m in harness._PORT_CLASH_MARKERS)


def prometheus_jcfg(port, extra=""):
    return ('general: {\n\tip = "127.0.0.1"\n\tport = %d\n%s}\n' % (port, extra))


class HttpEdgeTest(harness.JanusLogOnFailure, unittest.TestCase):
    janus = None
    port = None

    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.janus = start_janus(
            cls.__name__, overrides={"janus.transport.prometheus.jcfg": prometheus_jcfg(
                cls.port, '\tbearer_token = "%s"\n' % BEARER_TOKEN)})
        cls.url = "http://127.0.0.1:%d" % cls.port
        try:
            wait_metrics_endpoint(cls.url, token=BEARER_TOKEN)
        except BaseException:
            stop_janus(cls.__name__, cls.janus)
            raise

    @classmethod
    def tearDownClass(cls):
        stop_janus(cls.__name__, cls.janus)

    def get(self, path, token=BEARER_TOKEN, method="GET", headers=None, body=None):
        h = auth_headers(token)
        h.update(headers or {})
        return http_request(self.url + path, method=method, headers=h, body=body)

    def assert_janus_up(self):
        self.assertTrue(self.janus.alive(), "janus died")
        status, info = janus_info_status(self.janus.http_url)
        self.assertEqual(status, 200)
        self.assertEqual(info.get("janus"), "server_info")

    def test_1_bearer_token(self):
        before = scrape(self.url, BEARER_TOKEN)
        unauthorized = [
            ("no Authorization header", None, {}),
            ("wrong token", "nope", {}),
            ("token with a suffix", BEARER_TOKEN + "x", {}),
            ("token prefix only", BEARER_TOKEN[:-1], {}),
            ("basic instead of bearer", None, {"Authorization": "Basic czNjcmV0OnMzY3JldA=="}),
        ]
        for what, token, headers in unauthorized:
            for path in ("/metrics", "/healthz", "/readyz", "/nope"):
                r = self.get(path, token=token, headers=headers)
                self.assertEqual(r.status, 401, "%s on %s: %r" % (what, path, r))
                self.assertIn('Bearer realm="janus metrics"', r.header("WWW-Authenticate"),
                              "%s on %s: %r" % (what, path, r))
                self.assertNotIn(b"janus_", r.body, "%s leaked metrics" % what)
        after = scrape(self.url, BEARER_TOKEN)
        build = [(dict(labels).get("janus_version"), value)
                 for labels, value in after.family("janus_build_info").items()]
        self.assertEqual(build, [("1.1.2", 1.0)], "janus_build_info")
        self.assertIn("janus_media_handles", {n for n, _ in after.series})
        self.assertEqual(after.value("janus_transport_http_requests_total", code="401")
                         - before.value("janus_transport_http_requests_total", code="401"),
                         len(unauthorized) * 4)
        # the scheme name is case-insensitive (RFC 7235)
        r = self.get("/healthz", token=None, headers={"Authorization": "bearer " + BEARER_TOKEN})
        self.assertEqual(r.status, 200, repr(r))
        self.assert_janus_up()

    def test_2_paths_and_methods(self):
        r = self.get("/nope")
        self.assertEqual(r.status, 404, repr(r))
        r = self.get("/metrics/x")
        self.assertEqual(r.status, 404, repr(r))
        r = self.get("/metrics", method="POST", body=b"x=1",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 405, repr(r))
        self.assertEqual(r.header("Allow"), ["GET, HEAD"], repr(r))
        r = self.get("/metrics", method="DELETE")
        self.assertEqual(r.status, 405, repr(r))
        r = self.get("/metrics")
        self.assertEqual(r.status, 200, repr(r))
        get_size = len(r.body)

        # HEAD over a raw socket: the body on the wire must be empty
        status, headers, body = raw_http(
            self.port, ("HEAD /metrics HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                        "Authorization: Bearer %s\r\nConnection: close\r\n\r\n"
                        % (self.port, BEARER_TOKEN)).encode())
        log("HEAD /metrics: %s; %s; body %d bytes (GET body %d bytes)"
            % (status, headers, len(body), get_size))
        self.assertRegex(status, r"^HTTP/1\.[01] 200 ")
        self.assertEqual(body, b"", "HEAD /metrics sent a body")
        lengths = [h.split(":", 1)[1].strip() for h in headers
                   if h.lower().startswith("content-length:")]
        self.assertEqual(len(lengths), 1, "HEAD Content-Length: %r" % headers)
        self.assertLess(abs(int(lengths[0]) - get_size), get_size * 0.05,
                        "HEAD Content-Length %s vs GET body %d" % (lengths[0], get_size))
        self.assert_janus_up()

    def test_3_health_and_readiness_follow_drain(self):
        r = self.get("/healthz")
        self.assertEqual((r.status, r.body), (200, b"ok\n"))
        r = self.get("/readyz")
        self.assertEqual(r.status, 200, repr(r))
        admin = self.janus.admin()
        try:
            reply = admin.message_plugin(MEDIA_PLUGIN, {"request": "drain", "enabled": True})
            self.assertEqual(reply.get("response", {}).get("enabled"), True, repr(reply))
            r = self.get("/readyz")
            self.assertEqual(r.status, 503, repr(r))
            self.assertIn(b"drain", r.body, repr(r))
            r = self.get("/healthz")
            self.assertEqual(r.status, 200, "healthz while draining: %r" % r)
            self.assertEqual(scrape(self.url, BEARER_TOKEN).value("janus_media_draining"), 1)
        finally:
            reply = admin.message_plugin(MEDIA_PLUGIN, {"request": "drain", "enabled": False})
        self.assertEqual(reply.get("response", {}).get("enabled"), False, repr(reply))
        r = self.get("/readyz")
        self.assertEqual(r.status, 200, repr(r))
        self.assertEqual(scrape(self.url, BEARER_TOKEN).value("janus_media_draining"), 0)
        self.assert_janus_up()

    def test_4_taken_port(self):
        self.assertTrue(port_owned_by(self.janus.pid, self.port))
        first_info = janus_info_status(self.janus.http_url)[1]
        self.assertIn("janus.transport.prometheus", first_info.get("transports", {}))
        second = JanusWithTakenMetricsPort(
            overrides={"janus.transport.prometheus.jcfg": prometheus_jcfg(self.port)})
        try:
            second.start()
            status, info = janus_info_status(second.http_url)
            self.assertEqual(status, 200)
            self.assertEqual(info.get("janus"), "server_info")
            self.assertNotIn("janus.transport.prometheus", info.get("transports", {}),
                             "the second janus lists the metrics transport")
            self.assertIn(MEDIA_PLUGIN, info.get("plugins", {}))
            # its Janus API and our plugin work
            api = second.http()
            session = api.create()
            handle = api.attach(session, MEDIA_PLUGIN)
            r = api.message(session, handle, {"request": "list"})
            self.assertEqual(r["plugindata"]["data"].get("media"), "list", repr(r))
            self.assertEqual(api.detach(session, handle).get("janus"), "success")
            self.assertEqual(api.destroy(session).get("janus"), "success")

            lines = [line for line in second.log_text().splitlines()
                     if "[janus.transport.prometheus]" in line
                     and "cannot listen on 127.0.0.1:%d" % self.port in line]
            log("second janus (metrics port %d taken): %s" % (self.port, lines))
            self.assertEqual(len(lines), 1, "no 'cannot listen' line in the log:\n%s"
                             % second.log_tail(40))
            self.assertIn("Janus continues without it", lines[0])
            # the first one still owns the port and serves
            self.assertTrue(port_owned_by(self.janus.pid, self.port))
            self.assertFalse(port_owned_by(second.pid, self.port))
            s = scrape(self.url, BEARER_TOKEN)
            self.assertIn("janus_media_handles", {n for n, _ in s.series})
            self.assertTrue(second.alive(), "the second janus died")
        finally:
            code, took = second.stop(10)
            second.cleanup()
        log("second janus stopped: code %s in %.2f s" % (code, took))
        self.assertEqual(code, 0, "second janus exit code")
        r = self.get("/metrics")
        self.assertEqual(r.status, 200, repr(r))
        self.assert_janus_up()


if __name__ == "__main__":
    unittest.main()
