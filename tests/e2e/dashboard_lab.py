"""The Grafana dashboard's queries against a real Prometheus that scraped real Janus nodes.

Shared by tests/e2e/test_dashboard.py and scripts/dashboard-preview:

  load_dashboard(), data_panels(), panel_rows()   the dashboard JSON (grafana/)
  interpolate(expr, variables, ...)               Grafana's variable interpolation, as its
                                                  Prometheus data source does it
  PrometheusServer                                /usr/bin/prometheus on a free loopback port,
                                                  temp config and TSDB, stopped by its pid
  Workload                                        live aiortc echo sessions and the failures
                                                  the failure panels need, on one Janus;
                                                  access_requests() on a node in token mode
                                                  (TOKEN_MODE)

Everything stays on 127.0.0.0/8; every wait is a bounded poll.
"""

import asyncio
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import JanusWsClient, free_port, new_peer_connection, port_owned_by  # noqa: E402
from test_echo import (MEDIA_PLUGIN, EchoSession, SmallVideoTrack,  # noqa: E402
                       ToneTrack, wait_until)

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = REPO_ROOT / "grafana" / "media-service-dashboard.json"
PROMETHEUS_CONF_DIR = REPO_ROOT / "conf" / "prometheus"
ALERTS = PROMETHEUS_CONF_DIR / "alerts.yml"
PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
TOKEN_SCRIPT = REPO_ROOT / "scripts" / "token"
# janus.plugin.media's access section for a node in token mode (JanusProcess(plugin_access=))
TOKEN_MODE = {"mode": "token", "jwt_secret": "dashboard lab secret: 32 bytes or more"}


def mint_token(*args, secret=TOKEN_MODE["jwt_secret"]):
    """A token from scripts/token (e.g. mint_token("--list"))."""
    out = subprocess.run(["/usr/bin/python3", str(TOKEN_SCRIPT), "--secret", secret] +
                         list(args), check=True, capture_output=True, text=True, timeout=30)
    return out.stdout.strip()


def log(msg):
    sys.stderr.write("[dashboard] %s\n" % msg)
    sys.stderr.flush()


# ===========================================================================
# the dashboard JSON
# ===========================================================================
def load_dashboard(path=DASHBOARD):
    with open(path) as f:
        return json.load(f)


def all_panels(dashboard):
    """Every panel, rows included, and the panels nested in collapsed rows."""
    out = []
    for p in dashboard.get("panels", []):
        out.append(p)
        out.extend(p.get("panels", []) if p.get("type") == "row" else [])
    return out


def data_panels(dashboard):
    return [p for p in all_panels(dashboard) if p.get("type") != "row"]


def panel_rows(dashboard):
    """{panel id: title of the row it is in} (top-level order, or nesting)."""
    rows = {}
    current = None
    for p in dashboard.get("panels", []):
        if p.get("type") == "row":
            current = p.get("title")
            for inner in p.get("panels", []):
                rows[inner.get("id")] = current
        else:
            rows[p.get("id")] = current
    return rows


def panel_by_title(dashboard, title):
    found = [p for p in data_panels(dashboard) if p.get("title") == title]
    if len(found) != 1:
        raise KeyError("%d panels titled %r" % (len(found), title))
    return found[0]


# ===========================================================================
# Grafana's interpolation (public/app/plugins/datasource/prometheus: interpolateQueryExpr)
# ===========================================================================
_SPECIAL = re.compile(r"[$^*{}\[\]'+?.()|]")


def _regex_escape(value):
    """prometheusSpecialRegexEscape: for a value inside a "..." regex matcher."""
    return _SPECIAL.sub(lambda m: "\\\\" + m.group(0), value.replace("\\", "\\\\\\\\"))


def variable_value(values, all_value=None):
    """What Grafana puts in the query for a multi-value/include-All variable: the All value
    as is, one value escaped, several as (a|b) escaped."""
    if values is None:
        return all_value
    if len(values) == 1:
        return _regex_escape(values[0])
    return "(" + "|".join(_regex_escape(v) for v in values) + ")"


def interpolate(expr, variables, rate_interval, interval, range_):
    """expr with $__rate_interval, $__interval, $__range and the dashboard's variables
    (variables: {name: text already formatted}) replaced; raises if a $ is left."""
    builtins = {
        "__rate_interval": rate_interval, "__interval": interval, "__range": range_,
    }
    names = dict(builtins)
    names.update(variables)
    # ${name} and ${name:format} first, then $name, longest names first
    def braced(m):
        if m.group(1) not in names:
            raise KeyError("unknown variable %s in %s" % (m.group(0), expr))
        return names[m.group(1)]
    out = re.sub(r"\$\{([A-Za-z0-9_]+)(?::[a-z]+)?\}", braced, expr)
    for name in sorted(names, key=len, reverse=True):
        out = re.sub(r"\$" + re.escape(name) + r"(?![A-Za-z0-9_])",
                     lambda _m, v=names[name]: v, out)
    if "$" in out:
        raise KeyError("variable left after interpolation: %s" % out)
    return out


# ===========================================================================
# Prometheus
# ===========================================================================
def _opener():
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url, timeout=5.0):
    """(status, body bytes); any HTTP status is returned, not raised. Loopback only."""
    host = urllib.parse.urlparse(url).hostname or ""
    if not host.startswith("127.") and host != "localhost":
        raise RuntimeError("refusing non-loopback url %s" % url)
    try:
        with _opener().open(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class PrometheusClient:
    """The few HTTP API calls used here, against any Prometheus URL."""

    def __init__(self, url):
        self.url = url.rstrip("/")

    def api(self, path, params, timeout=10.0):
        """The decoded JSON answer (status success or error), whatever the HTTP status."""
        status, body = http_get(self.url + path + "?" + urllib.parse.urlencode(params),
                                timeout=timeout)
        try:
            return json.loads(body)
        except ValueError:
            return {"status": "error", "error": "HTTP %d: %r" % (status, body[:200])}

    def query(self, expr, at=None):
        params = {"query": expr}
        if at is not None:
            params["time"] = "%.3f" % at
        return self.api("/api/v1/query", params)

    def query_range(self, expr, start, end, step):
        return self.api("/api/v1/query_range", {"query": expr, "start": "%.3f" % start,
                                                "end": "%.3f" % end, "step": "%g" % step})

    def vector(self, expr):
        """The result of an instant query that must be a vector."""
        reply = self.query(expr)
        if reply.get("status") != "success" or reply["data"]["resultType"] != "vector":
            raise AssertionError("query %s: %r" % (expr, reply))
        return reply["data"]["result"]

    def poll_vector(self, expr, pred, timeout, what, step=0.2):
        deadline = time.monotonic() + timeout
        last = None
        for _ in range(int(timeout / step) + 10):
            last = self.vector(expr)
            if pred(last):
                return last
            if time.monotonic() > deadline:
                break
            time.sleep(step)
        raise AssertionError("prometheus: timed out after %.0f s waiting for %s; last %s: %r"
                             % (timeout, what, expr, last))

    def label_values(self, label, match, start=None, end=None):
        params = {"match[]": match}
        if start is not None:
            params.update(start="%.3f" % start, end="%.3f" % end)
        reply = self.api("/api/v1/label/%s/values" % label, params)
        if reply.get("status") != "success":
            raise AssertionError("label values %s of %s: %r" % (label, match, reply))
        return reply["data"]

    def rules(self):
        reply = self.api("/api/v1/rules", {})
        if reply.get("status") != "success":
            raise AssertionError("rules: %r" % reply)
        return [r for g in reply["data"]["groups"] for r in g["rules"]]


def sample_values(result):
    """Every value of an instant-query result (vector or scalar) as floats."""
    if isinstance(result, dict):           # a "data" object
        kind, result = result.get("resultType"), result.get("result")
        if kind == "scalar":
            return [float(result[1])]
    return [float(s["value"][1]) for s in result]


class PrometheusServer(PrometheusClient):
    """/usr/bin/prometheus on 127.0.0.1:<free port> scraping targets, with a temp config
    and TSDB; stopped by its pid (stop()), the temp dir removed. With self_job, it also
    scrapes its own /metrics under that job (a non-Janus job with process_* and up, as in
    any real Prometheus)."""

    def __init__(self, targets, job, scrape_interval="1s", rule_files=(), self_job=None):
        super().__init__("http://127.0.0.1:0")
        self.targets = list(targets)
        self.job = job
        self.scrape_interval = scrape_interval
        self.rule_files = [str(p) for p in rule_files]
        self.self_job = self_job
        self.tmpdir = None
        self.proc = None
        self.port = None
        self._log = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def config_text(self):
        lines = ["global:",
                 "  scrape_interval: %s" % self.scrape_interval,
                 "  scrape_timeout: %s" % self.scrape_interval,
                 "  evaluation_interval: %s" % self.scrape_interval]
        if self.rule_files:
            lines.append("rule_files:")
            lines += ["  - %s" % json.dumps(p) for p in self.rule_files]
        lines += ["scrape_configs:",
                  "  - job_name: %s" % json.dumps(self.job),
                  "    metrics_path: /metrics",
                  "    static_configs:",
                  "      - targets: [%s]" % ", ".join(json.dumps(t) for t in self.targets)]
        if self.self_job:
            lines += ["  - job_name: %s" % json.dumps(self.self_job),
                      "    static_configs:",
                      "      - targets: [\"127.0.0.1:%d\"]" % self.port]
        return "\n".join(lines) + "\n"

    def start(self, timeout=30.0, attempts=3):
        self.tmpdir = tempfile.mkdtemp(prefix="jmedia-dash-prom-")
        config = os.path.join(self.tmpdir, "prometheus.yml")
        for attempt in range(1, attempts + 1):
            self.port = free_port()
            self.url = "http://127.0.0.1:%d" % self.port
            with open(config, "w") as f:
                f.write(self.config_text())
            r = subprocess.run([PROMTOOL, "check", "config", config], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60)
            if r.returncode != 0:
                self.stop()
                raise AssertionError("promtool check config:\n%s" % r.stdout.decode())
            try:
                self._start_once(config, timeout, attempt)
                return self
            except _PortTaken as e:
                log("prometheus start attempt %d: %s; trying another port" % (attempt, e))
                self._kill()
            except BaseException:
                self.stop()
                raise
        self.stop()
        raise AssertionError("prometheus did not get a free port in %d attempts" % attempts)

    def _start_once(self, config, timeout, attempt):
        self._log = open(os.path.join(self.tmpdir, "prometheus%d.log" % attempt), "wb")
        self.proc = subprocess.Popen(
            [PROMETHEUS, "--config.file=" + config,
             "--storage.tsdb.path=" + os.path.join(self.tmpdir, "data%d" % attempt),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            cwd=self.tmpdir, start_new_session=True)
        deadline = time.monotonic() + timeout
        last = "no attempt"
        for _ in range(int(timeout / 0.1) + 10):
            if self.proc.poll() is not None:
                if "address already in use" in self.log_tail().lower():
                    raise _PortTaken("port %d taken" % self.port)
                raise AssertionError("prometheus exited with %s:\n%s"
                                     % (self.proc.returncode, self.log_tail()))
            try:
                status, _ = http_get(self.url + "/-/ready", timeout=1.0)
                if status == 200:
                    if not port_owned_by(self.proc.pid, self.port):
                        raise _PortTaken("port %d answers but is not prometheus's" % self.port)
                    return
                last = "HTTP %d" % status
            except OSError as e:
                last = repr(e)
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        raise AssertionError("prometheus not ready after %.0f s (%s):\n%s"
                             % (timeout, last, self.log_tail()))

    def wait_targets_up(self, timeout=30.0):
        want = {(self.job, t) for t in self.targets}
        if self.self_job:
            want.add((self.self_job, "127.0.0.1:%d" % self.port))
        self.poll_vector("up == 1",
                         lambda r: {(s["metric"]["job"], s["metric"]["instance"])
                                    for s in r} >= want, timeout,
                         "every target up (%s)" % sorted(want))

    def log_tail(self, lines=30):
        if self._log is None:
            return ""
        try:
            with open(self._log.name, "rb") as f:
                return "\n".join(f.read().decode(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _kill(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    os.kill(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait(timeout=10)
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self, timeout=10.0):
        """SIGTERM our pid, SIGKILL after timeout; remove the temp dir. Idempotent."""
        code = None
        if self.proc is not None:
            code = harness.terminate(self.proc, timeout, "prometheus")
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.tmpdir is not None:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None
        return code


class _PortTaken(Exception):
    pass


# ===========================================================================
# the workload: what a Janus must have lived through for every panel to have data
# ===========================================================================
def _plugin_data(reply):
    return (reply.get("plugindata") or {}).get("data") or {}


class Workload:
    """Drives one Janus (janus.plugin.media, events broadcast) through what the dashboard
    shows: live aiortc echo sessions with a data channel (one of them ended), negotiations
    that never come up (ended by a hangup request and by a detach), requests the plugin
    refuses (unknown request, missing request) and a max_sessions rejection. Assertions
    through tc (any unittest.TestCase)."""

    def __init__(self, janus, tc=None):
        self.janus = janus
        self.tc = tc or unittest.TestCase()
        self.echoes = []
        self.counts = {"echo": 0, "failed": 0, "bad_requests": 0, "limit_rejections": 0,
                       "data_messages": 0, "access": 0}

    # -- live media -----------------------------------------------------------------
    async def start_echo(self):
        """One more echo session, up (webrtcup) with media flowing back."""
        s = EchoSession(self.janus)
        self.echoes.append(s)
        await s.open(self.tc)
        await s.client.wait_event(s.handle, "webrtcup", timeout=10)
        await wait_until(lambda: s.frames["audio"] > 0 and s.frames["video"] > 0, 15,
                         lambda: "echoed media (%r)" % s.frames)
        await wait_until(lambda: s.dc is not None and s.dc.readyState == "open", 10,
                         "data channel open")
        self.counts["echo"] += 1
        return s

    async def send_data(self, s, n=5):
        """n data channel messages, each echoed back."""
        before = len(s.dc_messages)
        for i in range(n):
            s.dc.send("dashboard-probe-%d" % i)
        await wait_until(lambda: len(s.dc_messages) >= before + n, 10,
                         lambda: "%d data channel echoes (got %d)"
                         % (n, len(s.dc_messages) - before))
        self.counts["data_messages"] += n

    async def end_echo(self, s):
        """Hang up, detach and destroy as a well-behaved client, then close."""
        try:
            r = await s.client.message(s.handle, {"request": "hangup"}, timeout=10)
            self.tc.assertNotIn("error_code", _plugin_data(r), "hangup: %r" % r)
            await s.client.wait_event(s.handle, "hangup", timeout=10)
            r = await s.client.detach(s.handle)
            self.tc.assertEqual(r.get("janus"), "success", "detach: %r" % r)
            r = await s.client.destroy()
            self.tc.assertEqual(r.get("janus"), "success", "destroy: %r" % r)
        finally:
            await s.close()
            if s in self.echoes:
                self.echoes.remove(s)

    async def end_all(self):
        for s in list(self.echoes):
            try:
                await self.end_echo(s)
            except Exception as e:  # keep tearing down the others
                log("ending an echo session: %r" % e)
                await s.close()

    # -- failures -------------------------------------------------------------------
    async def _offer(self):
        pc = new_peer_connection()
        pc.addTrack(ToneTrack())
        pc.addTrack(SmallVideoTrack())
        await pc.setLocalDescription(await pc.createOffer())
        await harness.wait_ice_gathering_complete(pc, 10)
        return pc, pc.localDescription

    async def failed_negotiation(self, end):
        """An echo offer whose answer is never applied: ICE never completes. Ended by a
        hangup request (end="request") or by detaching the handle (end="detach")."""
        client = await JanusWsClient(self.janus.ws_url).connect()
        pc = None
        try:
            await client.create_session()
            handle = await client.attach(MEDIA_PLUGIN)
            pc, offer = await self._offer()
            reply = await client.message(
                handle, {"request": "echo", "audio": True, "video": True, "data": False},
                jsep={"type": offer.type, "sdp": offer.sdp, "trickle": False}, timeout=15)
            await pc.close()          # the answer is never applied
            pc = None
            self.tc.assertEqual(_plugin_data(reply).get("result"), "echoing", repr(reply))
            if end == "request":
                r = await client.message(handle, {"request": "hangup"}, timeout=10)
                self.tc.assertNotIn("error_code", _plugin_data(r), "hangup: %r" % r)
                await client.wait_event(
                    handle, lambda m: _plugin_data(m).get("result") == "hangup", timeout=10)
            r = await client.detach(handle)
            self.tc.assertEqual(r.get("janus"), "success", "detach: %r" % r)
            r = await client.destroy()
            self.tc.assertEqual(r.get("janus"), "success", "destroy: %r" % r)
            self.counts["failed"] += 1
        finally:
            if pc is not None:
                await pc.close()
            await client.close()

    async def bad_requests(self):
        """Requests the plugin answers with an error: an unknown request (1003) and a body
        without "request" (1002)."""
        async with JanusWsClient(self.janus.ws_url) as client:
            await client.create_session()
            handle = await client.attach(MEDIA_PLUGIN)
            for body, code in (({"request": "fly"}, 1003), ({"audio": True}, 1002)):
                r = await client.message(handle, body, timeout=10)
                self.tc.assertEqual(_plugin_data(r).get("error_code"), code,
                                    "reply to %r: %r" % (body, r))
                self.counts["bad_requests"] += 1
            await client.detach(handle)
            await client.destroy()
        if self.janus.api_transport == "edge":
            # A message that is not a request: janus.transport.edge answers it itself (454)
            # and counts it in janus_edge_refused_total{reason="invalid"}.
            import websockets
            async with websockets.connect(self.janus.ws_url, subprotocols=["janus-protocol"],
                                          compression=None, ping_interval=None,
                                          open_timeout=10) as ws:
                await ws.send("not a request")
                reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
                self.tc.assertEqual(reply.get("error", {}).get("code"), 454, repr(reply))
                self.counts["bad_requests"] += 1

    async def access_requests(self):
        """On a node in token mode (TOKEN_MODE): list requests refused for each reason
        (missing, invalid, expired: 1020; forbidden: 1021) and list, devices and info
        granted (info of no such session: 1018)."""
        lister = mint_token("--watch", "cam-*", "--list")
        cases = (
            ({"request": "list"}, 1020),
            ({"request": "list", "token": mint_token("--list", secret="not the lab's secret, "
                                                     "but as long")}, 1020),
            ({"request": "list", "token": mint_token("--list", "--ttl", "-100")}, 1020),
            ({"request": "list", "token": mint_token("--watch", "cam-*")}, 1021),
            ({"request": "list", "token": lister}, None),
            ({"request": "devices", "token": lister}, None),
            ({"request": "info", "media_session": "0123456789abcdef", "token": lister}, 1018),
        )
        async with JanusWsClient(self.janus.ws_url) as client:
            await client.create_session()
            handle = await client.attach(MEDIA_PLUGIN)
            for body, code in cases:
                r = await client.message(handle, body, timeout=10)
                self.tc.assertEqual(_plugin_data(r).get("error_code"), code,
                                    "reply to %s: %r" % (body["request"], r))
                self.counts["access"] += 1
            await client.detach(handle)
            await client.destroy()

    async def limit_rejection(self):
        """max_sessions lowered to the sessions active now, an echo refused with 1011,
        max_sessions restored. Needs at least one live session."""
        admin = self.janus.admin()
        loop = asyncio.get_running_loop()

        def limits(**fields):
            r = admin.message_plugin(MEDIA_PLUGIN, dict({"request": "limits"}, **fields))
            resp = r.get("response") or {}
            self.tc.assertEqual(resp.get("media"), "limits", "admin limits: %r" % r)
            return resp

        before = await loop.run_in_executor(None, limits)
        self.tc.assertTrue(self.echoes, "limit_rejection needs a live session")
        await loop.run_in_executor(None, lambda: limits(max_sessions=len(self.echoes)))
        client = await JanusWsClient(self.janus.ws_url).connect()
        pc = None
        try:
            await client.create_session()
            handle = await client.attach(MEDIA_PLUGIN)
            pc, offer = await self._offer()
            r = await client.message(
                handle, {"request": "echo", "audio": True, "video": True},
                jsep={"type": offer.type, "sdp": offer.sdp, "trickle": False}, timeout=15)
            self.tc.assertEqual(_plugin_data(r).get("error_code"), 1011, "echo: %r" % r)
            self.counts["limit_rejections"] += 1
            await client.detach(handle)
            await client.destroy()
        finally:
            await loop.run_in_executor(
                None, lambda: limits(max_sessions=before["max_sessions"]))
            if pc is not None:
                await pc.close()
            await client.close()

    async def echo_that_ends(self):
        """An echo session that comes up and hangs up: the core's PeerConnection hangup and
        the ended-session counters move whatever the timing of the failures below."""
        s = await self.start_echo()
        await self.end_echo(s)

    async def all_failures(self):
        await self.echo_that_ends()
        await self.failed_negotiation("request")
        await self.failed_negotiation("detach")
        await self.bad_requests()
        await self.limit_rejection()


def scrape_value(janus, name):
    """The value of an unlabelled series in the janus's /metrics (None when absent)."""
    status, body = http_get(janus.metrics_url + "/metrics")
    if status != 200:
        raise AssertionError("/metrics: HTTP %d" % status)
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


async def wait_quiet(janus, timeout=15.0):
    """Until janus reports no PeerConnection and no handle of ours (so that stopping it
    never races with an SCTP association being torn down)."""
    loop = asyncio.get_running_loop()

    def quiet():
        return (scrape_value(janus, "janus_core_peerconnections") in (0.0, None)
                and scrape_value(janus, "janus_media_handles") in (0.0, None))

    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.2) + 10):
        if await loop.run_in_executor(None, quiet):
            return
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    raise AssertionError("janus still has PeerConnections or handles after %.0f s" % timeout)


def finite(values):
    return [v for v in values if not (math.isnan(v) or math.isinf(v))]
