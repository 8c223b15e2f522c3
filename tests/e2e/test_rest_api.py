#!/usr/bin/python3
"""End-to-end tests of the session REST API (/api/media/... on janus.transport.prometheus's
listener), against Debian's janus with our modules, on 127.0.0.0/8 (and, for the non-loopback
side, a private network namespace).

  RestApiTest            1  sessions created over the Janus API appear in GET
                            /api/media/sessions as the plugin's own list shows them (same
                            objects, filters, detail), info and devices likewise
                         2  paging across 1,000 sessions returns each exactly once, in
                            order, while other sessions come and go
                         3  DELETE /api/media/sessions/{id} kicks a live aiortc echo (the
                            client gets "kicked", then "hangup"); DELETE
                            /api/media/devices/{id} kicks a device's publisher
                         4  POST /api/media/drain flips /readyz and refuses new sessions
                         5  bad parameters get the plugin's own error (same body as its list
                            over the Janus API), 404/405/415 answers, a rebound Host refused,
                            janus_transport_api_* counted
  RestApiTokenTest       6  with api_token and api_admin_token: 401 without, 403 for a read
                            token on a write, the metrics bearer lets reads in
  RestApiNonLoopbackTest 7  in a network namespace of its own (unshare -rn): the transport
                            on 0.0.0.0, clients from 127.0.0.3 (loopback: served without a
                            token) and from 198.51.100.7 (not loopback: refused without one)
  RestApiWithoutPluginTest 8  janus without janus.plugin.media: 503 with a JSON error

Run: JMEDIA_MODULES_DIR=build/modules /usr/bin/python3 tests/e2e/test_rest_api.py -v
"""

import asyncio
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import JanusLogOnFailure, JanusProcess  # noqa: E402

PLUGIN = "janus.plugin.media"
TEST_TIMEOUT = 60.0
INVALID_BODY, INVALID_FIELD, NO_SUCH_DEVICE, DRAINING, SESSION_NOT_FOUND = \
    1001, 1004, 1015, 1017, 1018
SUMMARY_FIELDS = {"media_session", "device_id", "role", "state"}
READ_TOKEN = "e2e-read-token-0123456789"
ADMIN_TOKEN = "e2e-admin-token-0123456789"
SCRAPE_TOKEN = "e2e-scrape-token-0123456789"
# Not a loopback address: the namespace's own (TEST-NET-2, RFC 5737).
OUTSIDE_IP = "198.51.100.7"


def log(msg):
    sys.stderr.write("[rest] %s\n" % msg)
    sys.stderr.flush()


def rest(port, method, path, body=None, headers=None, host="127.0.0.1", source=None,
         content_type="application/json", timeout=10.0):
    """One request to the REST API; returns (status, headers {lower: value}, parsed JSON or
    None, raw body). source: the client's address (bound before connecting)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    try:
        data = None
        hdrs = dict(headers or {})
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            if content_type:
                hdrs["Content-Type"] = content_type
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        parsed = None
        if raw and resp.getheader("Content-Type", "").startswith("application/json"):
            parsed = json.loads(raw)
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed, raw
    finally:
        conn.close()


def start_janus(what, **kwargs):
    janus = JanusProcess(**kwargs).start()
    log("%s: janus pid %d, metrics/API on %s" % (what, janus.pid, janus.metrics_url))
    return janus


def stop_janus(janus, what):
    if janus is not None:
        code, took = janus.stop(10)
        log("janus (%s) stopped: code %s in %.2f s" % (what, code, took))
        janus.cleanup()


class Sessions:
    """Handles attached to janus.plugin.media over the Janus API (HTTP), and the plugin's sync
    requests on one of them."""

    def __init__(self, janus):
        self.http = janus.http()
        self.session = self.http.create()
        self.handles = []
        self.probe = self.attach()

    def attach(self):
        handle = self.http.attach(self.session, PLUGIN)
        self.handles.append(handle)
        return handle

    def plugin(self, body, handle=None):
        """plugindata.data of a sync request (list, info, devices) over the Janus API."""
        reply = self.http.message(self.session, handle or self.probe, body)
        return ((reply.get("plugindata") or {}).get("data")) or {}

    def keepalive(self):
        self.http.keepalive(self.session)

    def close(self):
        try:
            self.http.destroy(self.session)
        except Exception as e:      # noqa: BLE001
            log("destroying session %s: %r" % (self.session, e))


def make_offer():
    from media_clients import make_offer as offer
    return asyncio.run(offer(("audio",)))


# ===========================================================================
class RestApiTest(JanusLogOnFailure, unittest.TestCase):
    janus_log_lines = 80
    janus = None

    @classmethod
    def setUpClass(cls):
        cls.janus = start_janus("rest api")
        if "libjanus_media.so" not in cls.janus.config_info["plugins"]:
            raise AssertionError("libjanus_media.so not built (set JMEDIA_MODULES_DIR)")

    @classmethod
    def tearDownClass(cls):
        stop_janus(cls.janus, "rest api")

    def get(self, path, **kwargs):
        return rest(self.janus.metrics_port, "GET", path, **kwargs)

    def ok(self, method, path, body=None):
        status, headers, data, raw = rest(self.janus.metrics_port, method, path, body)
        self.assertEqual(status, 200, "%s %s: %s" % (method, path, raw[:300]))
        self.assertEqual(headers.get("content-type"), "application/json")
        self.assertEqual(headers.get("cache-control"), "no-store")
        return data

    def rest_pages(self, limit, **params):
        """Every page of GET /api/media/sessions; returns (ids, pages)."""
        ids, pages, cursor = [], [], None
        for _ in range(10000):
            query = dict(params, limit=limit)
            if cursor is not None:
                query["cursor"] = cursor
            page = self.ok("GET", "/api/media/sessions?" + "&".join(
                "%s=%s" % (k, str(v).lower() if isinstance(v, bool) else v)
                for k, v in query.items()))
            self.assertEqual(page.get("media"), "list", repr(page))
            self.assertLessEqual(len(page["sessions"]), limit)
            pages.append(page)
            ids.extend(s["media_session"] for s in page["sessions"])
            cursor = page["next_cursor"]
            if cursor is None:
                return ids, pages
            self.assertEqual(cursor, page["sessions"][-1]["media_session"])
        self.fail("paging never ended")

    def wait_empty(self, sessions):
        sessions.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.ok("GET", "/api/media/sessions?limit=1")["sessions"] == []:
                return
            time.sleep(0.05)
        self.fail("sessions left after the test")

    # -----------------------------------------------------------------------
    def test_1_sessions_appear_as_the_plugins_list_shows_them(self):
        s = Sessions(self.janus)
        try:
            for _ in range(5):
                s.attach()
            offer = make_offer()
            publisher = s.handles[1]
            reply = s.http.message(s.session, publisher,
                                   {"request": "publish", "device_id": "cam-rest"},
                                   jsep={"type": "offer", "sdp": offer}, timeout=15)
            self.assertEqual(((reply.get("plugindata") or {}).get("data") or {}).get("result"),
                             "publishing", repr(reply))
            echo = s.handles[2]
            reply = s.http.message(s.session, echo, {"request": "echo"},
                                   jsep={"type": "offer", "sdp": offer}, timeout=15)
            self.assertEqual(((reply.get("plugindata") or {}).get("data") or {}).get("result"),
                             "echoing", repr(reply))

            listed = s.plugin({"request": "list"})
            self.assertEqual(len(listed["sessions"]), 6, repr(listed))
            self.assertEqual(self.ok("GET", "/api/media/sessions"), listed)
            self.assertTrue(all(set(x) == SUMMARY_FIELDS for x in listed["sessions"]))
            for query, body in (
                    ("limit=2", {"limit": 2}),
                    ("detail=true", {"detail": True}),
                    ("role=publisher", {"role": "publisher"}),
                    ("role=echo&detail=true", {"role": "echo", "detail": True}),
                    ("device_id=cam-rest", {"device_id": "cam-rest"}),
                    ("limit=3&cursor=%s" % listed["sessions"][1]["media_session"],
                     {"limit": 3, "cursor": listed["sessions"][1]["media_session"]})):
                with self.subTest(query=query):
                    self.assertEqual(self.ok("GET", "/api/media/sessions?" + query),
                                     s.plugin(dict(body, request="list")))
            roles = {x["role"] for x in listed["sessions"]}
            self.assertEqual(roles, {"none", "publisher", "echo"})
            for entry in listed["sessions"]:
                sid = entry["media_session"]
                with self.subTest(info=sid):
                    got = self.ok("GET", "/api/media/sessions/" + sid)
                    self.assertEqual(got, s.plugin({"request": "info", "media_session": sid}))
                    self.assertEqual({k: got["session"][k] for k in SUMMARY_FIELDS}, entry)
            devices = self.ok("GET", "/api/media/devices")
            self.assertEqual(devices, s.plugin({"request": "devices"}))
            self.assertEqual(devices["devices"], [{"device_id": "cam-rest", "publishing": True,
                                                   "viewers": 0}])
            self.assertEqual(self.ok("GET", "/api/media/devices?limit=1&cursor=cam-res"),
                             s.plugin({"request": "devices", "limit": 1, "cursor": "cam-res"}))
        finally:
            self.wait_empty(s)

    def test_2_paging_1000_sessions_while_sessions_come_and_go(self):
        s = Sessions(self.janus)
        churn = Sessions(self.janus)
        stop = threading.Event()
        churned = {"attached": 0, "detached": 0, "errors": []}

        def come_and_go():
            handles = []
            while not stop.is_set():
                try:
                    if len(handles) < 20:
                        handles.append(churn.attach())
                        churned["attached"] += 1
                    else:
                        churn.http.detach(churn.session, handles.pop(0))
                        churned["detached"] += 1
                except Exception as e:      # noqa: BLE001
                    churned["errors"].append(repr(e))
                    return

        try:
            t0 = time.monotonic()
            for _ in range(999):
                s.attach()
            log("attached 1,000 handles in %.1f s" % (time.monotonic() - t0))
            stable, _ = self.rest_pages(1000)
            self.assertEqual(len(stable), 1000 + 1, "1,000 + churn's probe handle")
            stable = set(stable)
            worker = threading.Thread(target=come_and_go, daemon=True)
            worker.start()
            try:
                for limit in (37, 100):
                    with self.subTest(limit=limit):
                        before = churned["attached"]
                        ids, pages = self.rest_pages(limit)
                        self.assertEqual(len(ids), len(set(ids)), "a session listed twice")
                        self.assertEqual(ids, sorted(ids), "not in media_session order")
                        missing = stable - set(ids)
                        self.assertFalse(missing, "%d stable sessions not listed" % len(missing))
                        self.assertGreater(churned["attached"], before,
                                           "no session came or went while paging")
                        log("limit %d: %d pages, %d listed (%d churned ones)"
                            % (limit, len(pages), len(ids), len(set(ids) - stable)))
                    s.keepalive()
                    churn.keepalive()
            finally:
                stop.set()
                worker.join(20)
            self.assertEqual(churned["errors"], [])
        finally:
            churn.close()
            self.wait_empty(s)

    def test_3_delete_kicks_a_live_echo_and_a_device(self):
        from media_clients import Echoer, close_all, plugin_data, result_of

        async def scenario():
            e = Echoer(self.janus, "echo")
            try:
                await e.connect()
                await e.echo(self)
                loop = asyncio.get_running_loop()
                info = await loop.run_in_executor(
                    None, self.ok, "GET", "/api/media/sessions/" + e.media_session)
                self.assertEqual((info["session"]["role"], info["session"]["state"]),
                                 ("echo", "up"), repr(info))
                kicked = await loop.run_in_executor(
                    None, self.ok, "DELETE", "/api/media/sessions/" + e.media_session)
                self.assertEqual(kicked, {"media": "kick", "kicked": 1})
                ev = await e.wait_result("kicked")
                self.assertEqual(plugin_data(ev), {"media": "event", "result": "kicked",
                                                   "media_session": e.media_session})
                ev = await e.wait_result("hangup")
                self.assertEqual(plugin_data(ev), {"media": "event", "result": "hangup",
                                                   "media_session": e.media_session,
                                                   "role": "echo", "reason": "kicked"})
                order = [result_of(m) for m in e.events() if result_of(m) in ("kicked", "hangup")]
                self.assertEqual(order, ["kicked", "hangup"])
                await e.client.wait_event(e.handle, "hangup", timeout=10)   # Janus's own
                info = await loop.run_in_executor(
                    None, self.ok, "GET", "/api/media/sessions/" + e.media_session)
                self.assertEqual((info["session"]["role"], info["session"]["state"]),
                                 ("none", "closed"), repr(info))
            finally:
                await close_all([e])

        asyncio.run(asyncio.wait_for(scenario(), TEST_TIMEOUT))

        # A device: its (negotiating) publisher is kicked; the client hears it.
        s = Sessions(self.janus)
        try:
            publisher = s.attach()
            s.http.message(s.session, publisher, {"request": "publish", "device_id": "cam-k"},
                           jsep={"type": "offer", "sdp": make_offer()}, timeout=15)
            self.assertEqual(self.ok("DELETE", "/api/media/devices/cam-k"),
                             {"media": "kick", "kicked": 1})
            ev = s.http.wait_event(s.session, lambda m: result_of(m) == "kicked", 10)
            self.assertEqual(ev.get("sender"), publisher, repr(ev))
            ev = s.http.wait_event(s.session, lambda m: result_of(m) == "hangup", 10)
            self.assertEqual(plugin_data(ev)["reason"], "kicked")
            self.assertEqual(self.ok("GET", "/api/media/devices")["devices"], [])
            status, _, body, _ = rest(self.janus.metrics_port, "DELETE", "/api/media/devices/cam-k")
            self.assertEqual((status, body["error_code"]), (404, NO_SUCH_DEVICE), repr(body))
        finally:
            self.wait_empty(s)

    def test_4_drain_flips_readyz(self):
        port = self.janus.metrics_port
        self.assertEqual(rest(port, "GET", "/readyz")[0], 200)
        s = Sessions(self.janus)
        try:
            on = self.ok("POST", "/api/media/drain", {"enabled": True})
            self.assertEqual(on, {"media": "drain", "enabled": True, "active_sessions": 0})
            status, _, _, raw = rest(port, "GET", "/readyz")
            self.assertEqual(status, 503, raw)
            self.assertIn(b"draining", raw)
            reply = s.http.message(s.session, s.probe, {"request": "echo"},
                                   jsep={"type": "offer", "sdp": make_offer()}, timeout=15)
            data = (reply.get("plugindata") or {}).get("data") or {}
            self.assertEqual(data.get("error_code"), DRAINING, repr(reply))
            # What a web page could send cross-site without asking first is refused.
            for content_type in ("text/plain", None):
                status, _, body, _ = rest(port, "POST", "/api/media/drain",
                                          '{"enabled":false}', content_type=content_type)
                self.assertEqual(status, 415, repr(body))
            self.assertEqual(rest(port, "GET", "/readyz")[0], 503, "still draining")
            status, _, body, _ = rest(port, "POST", "/api/media/drain", "{enabled: false}")
            self.assertEqual((status, body["error_code"]), (400, INVALID_BODY), repr(body))
            status, _, body, _ = rest(port, "POST", "/api/media/drain", {"enabled": "no"})
            self.assertEqual((status, body["error_code"]), (400, INVALID_FIELD), repr(body))
            status, _, body, _ = rest(port, "POST", "/api/media/drain", b" " * 5000)
            self.assertEqual(status, 413, repr(body))
            off = self.ok("POST", "/api/media/drain", {"enabled": False})
            self.assertEqual(off["enabled"], False)
            self.assertEqual(rest(port, "GET", "/readyz")[0], 200)
        finally:
            rest(port, "POST", "/api/media/drain", {"enabled": False})
            self.wait_empty(s)

    def test_5_errors_are_the_plugins_and_answers_are_counted(self):
        port = self.janus.metrics_port
        s = Sessions(self.janus)
        try:
            # Bad parameters: the very answer the plugin gives its own list over the Janus API.
            for query, body in (("limit=0", {"limit": 0}), ("limit=1001", {"limit": 1001}),
                                ("limit=ten", {"limit": "ten"}), ("cursor=xyz", {"cursor": "xyz"}),
                                ("role=boss", {"role": "boss"}),
                                ("device_id=bad%21id", {"device_id": "bad!id"}),
                                ("detail=1", {"detail": "1"})):
                with self.subTest(query=query):
                    status, headers, got, _ = self.get("/api/media/sessions?" + query)
                    self.assertEqual(status, 400)
                    self.assertEqual(headers.get("content-type"), "application/json")
                    self.assertEqual(got, s.plugin(dict(body, request="list")))
                    self.assertEqual(got["error_code"], INVALID_FIELD)
            status, _, got, _ = self.get("/api/media/devices?cursor=bad%20id")
            self.assertEqual((status, got), (400, s.plugin({"request": "devices",
                                                            "cursor": "bad id"})))
            status, _, got, _ = self.get("/api/media/sessions/0123456789abcdef")
            self.assertEqual((status, got), (404, s.plugin({"request": "info",
                                                            "media_session": "0123456789abcdef"})))
            self.assertEqual(got["error_code"], SESSION_NOT_FOUND)
            # What the plugin never sees: our checks, same codes.
            status, _, got, _ = self.get("/api/media/sessions?limt=5")
            self.assertEqual((status, got["error_code"]), (400, INVALID_FIELD), repr(got))
            self.assertIn("unknown parameter 'limt'", got["error"])
            status, _, got, _ = self.get("/api/media/sessions?limit=1&limit=2")
            self.assertEqual((status, got["error_code"]), (400, INVALID_FIELD), repr(got))
            # Paths and methods.
            for path in ("/api/media", "/api/media/session", "/api/media/sessions/a/b"):
                status, _, got, _ = self.get(path)
                self.assertEqual(status, 404, path)
                self.assertIn("error", got)
            status, headers, got, _ = rest(port, "PUT", "/api/media/sessions/0123456789abcdef")
            self.assertEqual((status, headers.get("allow")), (405, "GET, HEAD, DELETE"))
            status, headers, _, _ = rest(port, "POST", "/api/media/sessions", {})
            self.assertEqual((status, headers.get("allow")), (405, "GET, HEAD"))
            # HEAD: GET's headers, no body.
            status, headers, _, raw = rest(port, "HEAD", "/api/media/sessions")
            self.assertEqual((status, raw), (200, b""))
            self.assertEqual(headers.get("content-type"), "application/json")
            # A page whose DNS name was rebound to 127.0.0.1 names itself in Host.
            status, _, got, _ = rest(port, "DELETE", "/api/media/devices/x",
                                     headers={"Host": "attacker.example:%d" % port})
            self.assertEqual(status, 403, repr(got))
            self.assertIn("Host header", got["error"])
            status, _, _, _ = rest(port, "GET", "/api/media/devices",
                                   headers={"Host": "localhost:%d" % port})
            self.assertEqual(status, 200)

            _, _, _, scrape = rest(port, "GET", "/metrics")
            text = scrape.decode()

            def sample(series):
                for line in text.splitlines():
                    if line.startswith(series + " "):
                        return float(line.split()[-1])
                return None

            self.assertGreaterEqual(sample('janus_transport_api_requests_total{route="sessions",'
                                           'method="GET",code="400"}') or 0, 9)
            self.assertEqual(sample('janus_transport_api_requests_total{route="session",'
                                    'method="PUT",code="405"}'), None, "PUT is 'other'")
            self.assertGreaterEqual(sample('janus_transport_api_requests_total{route="session",'
                                           'method="other",code="405"}') or 0, 1)
            self.assertGreaterEqual(sample('janus_transport_api_requests_total{route="device",'
                                           'method="DELETE",code="403"}') or 0, 1)
            self.assertGreaterEqual(sample('janus_transport_api_requests_total{route="unknown",'
                                           'method="GET",code="404"}') or 0, 3)
            self.assertGreaterEqual(sample('janus_transport_api_request_duration_seconds_count'
                                           '{route="sessions"}') or 0, 10)
            self.assertIn('janus_transport_http_requests_total{code="400"}', text)
            if shutil.which("promtool"):
                r = subprocess.run(["promtool", "check", "metrics"], input=scrape,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
                self.assertEqual(r.returncode, 0, r.stdout.decode()[-2000:])
        finally:
            self.wait_empty(s)


# ===========================================================================
class RestApiTokenTest(JanusLogOnFailure, unittest.TestCase):
    janus = None

    @classmethod
    def setUpClass(cls):
        cls.janus = start_janus("rest api tokens", metrics_settings={
            "api_token": READ_TOKEN, "api_admin_token": ADMIN_TOKEN,
            "bearer_token": SCRAPE_TOKEN})
        text = cls.janus.log_text()
        if "reads need api_token or the metrics credentials" not in text:
            raise AssertionError("the start-up log does not say who may read:\n"
                                 + cls.janus.log_tail(40))

    @classmethod
    def tearDownClass(cls):
        stop_janus(cls.janus, "rest api tokens")

    def test_6_tokens(self):
        port = self.janus.metrics_port

        def call(method, path, token=None, body=None):
            headers = {"Authorization": "Bearer " + token} if token else {}
            return rest(port, method, path, body, headers=headers)

        status, headers, body, _ = call("GET", "/api/media/sessions")
        self.assertEqual(status, 401, "a loopback client needs a configured token too")
        self.assertIn('Bearer realm="janus media api"', headers.get("www-authenticate", ""))
        self.assertEqual(call("GET", "/api/media/sessions", "wrong")[0], 401)
        self.assertEqual(call("GET", "/api/media/sessions", READ_TOKEN[:-1])[0], 401)
        for token in (READ_TOKEN, ADMIN_TOKEN, SCRAPE_TOKEN):
            status, _, body, _ = call("GET", "/api/media/sessions", token)
            self.assertEqual(status, 200, token)
            self.assertEqual(body.get("media"), "list")
        self.assertEqual(call("GET", "/metrics", SCRAPE_TOKEN)[0], 200)
        self.assertEqual(call("GET", "/metrics", READ_TOKEN)[0], 401, "/metrics keeps its own")
        for token, expected in ((None, 401), ("wrong", 401), (READ_TOKEN, 403),
                                (SCRAPE_TOKEN, 403), (ADMIN_TOKEN, 404)):
            with self.subTest(token=token):
                status, _, body, _ = call("DELETE", "/api/media/sessions/0123456789abcdef", token)
                self.assertEqual(status, expected, repr(body))
        self.assertEqual(call("POST", "/api/media/drain", READ_TOKEN, {"enabled": True})[0], 403)
        self.assertEqual(rest(port, "GET", "/readyz", headers={
            "Authorization": "Bearer " + SCRAPE_TOKEN})[0], 200, "the refused drain did nothing")


# ===========================================================================
def namespace_child():
    """Runs inside `unshare -rn`: a network of our own with lo up, 127.0.0.0/8 and OUTSIDE_IP
    on it. Starts janus with the transport on 0.0.0.0 and api_admin_token only (reads without
    a token: loopback only; writes: the token, from anywhere), and prints one JSON line:
    {case: [status, body]}."""
    ip = shutil.which("ip") or "/usr/sbin/ip"
    for args in (["link", "set", "lo", "up"], ["addr", "add", OUTSIDE_IP + "/32", "dev", "lo"]):
        subprocess.run([ip] + args, check=True)
    janus = start_janus("rest api in a namespace", metrics_settings={
        "ip": "0.0.0.0", "api_admin_token": ADMIN_TOKEN})
    results = {}
    try:
        port = janus.metrics_port
        admin = {"Authorization": "Bearer " + ADMIN_TOKEN}
        cases = {
            "loopback read": ("GET", "/api/media/sessions", "127.0.0.1", "127.0.0.3", {}),
            "loopback read, Host by name": ("GET", "/api/media/sessions", "127.0.0.1",
                                            "127.0.0.3", {"Host": "janus.example"}),
            "outside read": ("GET", "/api/media/sessions", OUTSIDE_IP, OUTSIDE_IP, {}),
            "outside metrics": ("GET", "/metrics", OUTSIDE_IP, OUTSIDE_IP, {}),
            "outside write": ("DELETE", "/api/media/sessions/0123456789abcdef", OUTSIDE_IP,
                              OUTSIDE_IP, {}),
            "outside write, admin token": ("DELETE", "/api/media/sessions/0123456789abcdef",
                                           OUTSIDE_IP, OUTSIDE_IP, admin),
            "outside read, admin token": ("GET", "/api/media/devices", OUTSIDE_IP, OUTSIDE_IP,
                                          admin),
            "loopback write": ("DELETE", "/api/media/sessions/0123456789abcdef", "127.0.0.1",
                               "127.0.0.3", {}),
        }
        for name, (method, path, host, source, headers) in cases.items():
            status, _, body, raw = rest(port, method, path, host=host, source=source,
                                        headers=headers)
            results[name] = [status, body if body is not None else raw[:80].decode()]
    finally:
        stop_janus(janus, "rest api in a namespace")
    print(json.dumps(results))


class RestApiNonLoopbackTest(unittest.TestCase):
    def test_7_only_loopback_clients_are_served_without_a_token(self):
        cmd = [sys.executable, os.path.abspath(__file__), "--namespace-child"]
        attempts = [["unshare", "-rn"] + cmd]
        if os.geteuid() == 0:
            attempts.append(["unshare", "-n"] + cmd)
        outputs = []
        for attempt in attempts:
            r = subprocess.run(attempt, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=120, env=dict(os.environ))
            outputs.append("%s: rc %d\n%s" % (" ".join(attempt[:2]), r.returncode,
                                              r.stderr.decode(errors="replace")[-3000:]))
            if r.returncode == 0:
                break
        else:
            self.fail("cannot run clients from a non-loopback address: no network namespace "
                      "(unshare -rn needs user namespaces; unshare -n needs root):\n"
                      + "\n".join(outputs))
        results = json.loads(r.stdout.decode().strip().splitlines()[-1])
        log("namespace results: %s" % json.dumps(results))

        def status(name):
            return results[name][0]

        self.assertEqual(status("loopback read"), 200, results)
        self.assertEqual(status("loopback read, Host by name"), 403, results)
        self.assertEqual(status("outside read"), 403, results)
        self.assertIn("only loopback clients", results["outside read"][1]["error"])
        self.assertEqual(status("outside metrics"), 200, "/metrics keeps its own rules")
        self.assertEqual(status("outside write"), 401, results)
        self.assertEqual(status("outside write, admin token"), 404,
                         "let in (unknown session): %r" % results)
        self.assertEqual(status("outside read, admin token"), 200, results)
        self.assertEqual(status("loopback write"), 401,
                         "a configured token is needed from loopback too: %r" % results)


# ===========================================================================
class RestApiPluginTokenModeTest(JanusLogOnFailure, unittest.TestCase):
    """The plugin in token access mode (issue 12): the REST API is operator-only, loopback
    clients without a configured token included; api_token still reads everything."""
    janus = None

    @classmethod
    def setUpClass(cls):
        cls.janus = start_janus("rest api, plugin in token mode", metrics_settings={
            "api_token": READ_TOKEN, "api_admin_token": ADMIN_TOKEN},
            plugin_access={"mode": "token", "jwt_secret": "x" * 40})
        if "access mode=token" not in cls.janus.log_text():
            raise AssertionError("the plugin did not start in token mode:\n"
                                 + cls.janus.log_tail(40))

    @classmethod
    def tearDownClass(cls):
        stop_janus(cls.janus, "rest api, plugin in token mode")

    def test_9_operator_only(self):
        port = self.janus.metrics_port
        status, _, body, _ = rest(port, "GET", "/api/media/sessions")
        self.assertEqual(status, 401, "a loopback client without a token: %r" % body)
        status, _, body, _ = rest(port, "GET", "/api/media/devices",
                                  headers={"Authorization": "Bearer " + READ_TOKEN})
        self.assertEqual(status, 200, repr(body))
        self.assertEqual(body.get("media"), "devices")
        status, _, body, _ = rest(port, "DELETE", "/api/media/devices/cam-1",
                                  headers={"Authorization": "Bearer " + READ_TOKEN})
        self.assertEqual(status, 403, repr(body))


# ===========================================================================
class RestApiWithoutPluginTest(JanusLogOnFailure, unittest.TestCase):
    janus = None

    @classmethod
    def setUpClass(cls):
        built = Path(os.environ.get("JMEDIA_MODULES_DIR", str(harness.DEFAULT_MODULES_DIR)))
        cls.modules = tempfile.mkdtemp(prefix="jmedia-e2e-noplugin-")
        for kind in ("transports", "events", "lib"):
            if (built / kind).is_dir():
                os.symlink(built / kind, os.path.join(cls.modules, kind))
        cls.janus = start_janus("rest api without the plugin", modules_dir=cls.modules)
        if "libjanus_media.so" in cls.janus.config_info["plugins"]:
            raise AssertionError("janus.plugin.media is loaded")

    @classmethod
    def tearDownClass(cls):
        stop_janus(cls.janus, "rest api without the plugin")
        shutil.rmtree(cls.modules, ignore_errors=True)

    def test_8_every_route_answers_503(self):
        port = self.janus.metrics_port
        self.assertIn("janus.plugin.media is not loaded: it answers 503", self.janus.log_text())
        for method, path, body in (("GET", "/api/media/sessions", None),
                                   ("GET", "/api/media/sessions/0123456789abcdef", None),
                                   ("GET", "/api/media/devices", None),
                                   ("DELETE", "/api/media/devices/cam-1", None),
                                   ("POST", "/api/media/drain", {"enabled": True})):
            with self.subTest(method=method, path=path):
                status, headers, got, _ = rest(port, method, path, body)
                self.assertEqual(status, 503)
                self.assertEqual(headers.get("content-type"), "application/json")
                self.assertIn("janus.plugin.media is not running", got["error"])
        self.assertEqual(rest(port, "GET", "/readyz")[0], 200)
        self.assertEqual(rest(port, "GET", "/metrics")[0], 200)


if __name__ == "__main__":
    if sys.argv[1:] == ["--namespace-child"]:
        namespace_child()
    else:
        unittest.main()
