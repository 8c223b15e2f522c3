#!/usr/bin/python3
"""End-to-end: the ICE-candidate cap against a real Janus 1.1.2 with our modules.

janus.eventhandler.media counts the remote candidates the core reports per handle
(events.broadcast = true); janus.transport.prometheus hangs up and detaches a handle that
goes over max_ice_candidates (default 50) through admin requests it injects (the admin
secret is in the generated janus.jcfg), and watches "pending-trickles" of the handles that
have not negotiated.  Floods go over the stock HTTP transport, as fast as one keep-alive
connection per thread allows, with distinct, valid 127.0.0.x host candidates.

  a) post-offer flood: an aiortc echo session on janus.plugin.media is up; 20,000 trickled
     candidates -> the handle is gone (admin list_handles), the client got error 1019,
     "kicked", "hangup" and "detached", the counters moved (/metrics), and Janus's RSS after
     the flood is within the baseline (echo up) + 4 MB;
  b) the same on a stock echotest handle with cap_scope = all: cut (hangup + detached, no
     1019); with cap_scope = media (a second Janus): the echotest handle is NOT cut;
  c) pre-offer flood: attach, then up to 200,000 trickles before any offer -> cut by the
     pending-trickles check (reason pending_trickles), Janus stays up; the RSS growth and how
     many trickles got in before the cut are printed. Also measured and printed: the same
     flood with 1,000 candidates per trickle request (what the check cannot see); and with
     the check rounds out of reach, the sweep that Janus's memory growth triggers;
  d) the cost of the pending-trickles check with N unnegotiated handles (JMEDIA_CAP_HANDLES,
     default 1000): admin requests per second and Janus CPU, printed; the request rate must
     stay within pending_trickles_checks_per_round per pending_trickles_check_ms.

Run: /usr/bin/python3 tests/e2e/test_candidate_cap.py -v
"""

import asyncio
import http.client
import json
import os
import sys
import threading
import time
import unittest
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import JanusProcess  # noqa: E402
from test_echo import PROFILES, EchoSession, wait_until  # noqa: E402

MEDIA = "janus.plugin.media"
ECHOTEST = "janus.plugin.echotest"
MAX_ICE_CANDIDATES = 50          # the default of conf/janus.eventhandler.media.jcfg
RSS_MARGIN = 4 * 1024 * 1024
TEST_TIMEOUT = 90.0
CUT_TIMEOUT = 5.0                # bounded wait for a handle to disappear
CHECK_HANDLES = int(os.environ.get("JMEDIA_CAP_HANDLES", "1000"))
CHECKS_PER_ROUND = 500           # the transport's default pending_trickles_checks_per_round
CHECK_INTERVAL = 1.0             # and pending_trickles_check_ms


def log(msg):
    sys.stderr.write("[candidate-cap] %s\n" % msg)
    sys.stderr.flush()


def mb(n):
    return "%.1f MB" % (n / 1048576.0)


# ---------------------------------------------------------------------------
# metrics, process figures
# ---------------------------------------------------------------------------
def scrape(janus):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(janus.metrics_url + "/metrics", timeout=5) as resp:
        text = resp.read().decode()
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


REJECTED = "janus_core_candidates_rejected_total"
CUT_TOO_MANY = 'janus_core_handles_cut_total{reason="too_many_candidates"}'
CUT_PENDING = 'janus_core_handles_cut_total{reason="pending_trickles"}'
HANDLE_INFOS = 'janus_transport_admin_requests_total{request="handle_info"}'
CHECKS = "janus_transport_pending_trickles_checks_total"
CUT_SECONDS_SUM = "janus_transport_handle_cut_duration_seconds_sum"
CUT_SECONDS_COUNT = "janus_transport_handle_cut_duration_seconds_count"


def thread_cpu(pid):
    """{tid: seconds on the CPU} of pid's threads, from /proc/<pid>/task/*/schedstat."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                out[tid] = int(f.read().split()[0]) / 1e9
        except (OSError, ValueError, IndexError):
            continue        # a thread that just ended
    return out


def cpu_share(before, after, seconds):
    """(whole process, busiest thread) CPU share between two thread_cpu() samples, in %.
    Janus's threads have no names; its requests thread, which answers every admin request,
    is the busiest one while only the check runs."""
    deltas = [after[t] - before.get(t, 0.0) for t in after]
    return (100 * sum(deltas) / seconds, 100 * max(deltas + [0.0]) / seconds)


class RssSampler:
    """Samples Janus's RSS every 20 ms in a thread; keeps the peak."""

    def __init__(self, janus):
        self.janus = janus
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        for _ in range(100000):
            if self._stop.is_set():
                return
            try:
                self.peak = max(self.peak, self.janus.rss_bytes())
            except (harness.HarnessError, OSError):
                return
            self._stop.wait(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        return False


# ---------------------------------------------------------------------------
# the flood
# ---------------------------------------------------------------------------
def candidate(i):
    """A distinct, valid host candidate on 127.0.0.x (for the first m-line, as bundled)."""
    return {"candidate": "candidate:%d 1 udp 2130706431 127.0.0.%d %d typ host"
                         % (i, 1 + i % 254, 1024 + (i // 254) % 60000),
            "sdpMid": "0", "sdpMLineIndex": 0}


class Flood:
    """Trickles `total` candidates to one handle over HTTP, `threads` keep-alive connections,
    `batch` candidates per request; stops at the first answer that is not an ack (the handle
    is gone) or at the deadline."""

    def __init__(self, janus, session_id, handle_id, total, threads=4, batch=1,
                 deadline=60.0):
        self.port = janus.http_port
        self.path = "/janus/%d/%d" % (session_id, handle_id)
        self.total = total
        self.threads = threads
        self.batch = batch
        self.deadline = time.monotonic() + deadline
        self.lock = threading.Lock()
        self.next = 0
        self.acked = 0            # candidates acknowledged
        self.requests = 0
        self.stopped = False
        self.first_error = None
        self.t_start = self.t_end = None
        self.t_first_error = None

    def _worker(self):
        conn = http.client.HTTPConnection(harness.LOOPBACK, self.port, timeout=10)
        try:
            for _ in range(self.total // self.batch + 1):
                with self.lock:
                    if self.stopped or self.next >= self.total or \
                            time.monotonic() > self.deadline:
                        return
                    first = self.next
                    self.next += self.batch
                n = min(self.batch, self.total - first)
                body = {"janus": "trickle", "transaction": "flood-%d" % first}
                if self.batch == 1:
                    body["candidate"] = candidate(first)
                else:
                    body["candidates"] = [candidate(first + k) for k in range(n)]
                try:
                    conn.request("POST", self.path, json.dumps(body),
                                 {"Content-Type": "application/json"})
                    reply = json.loads(conn.getresponse().read().decode())
                except (OSError, ValueError, http.client.HTTPException) as e:
                    reply = {"janus": "exception", "exception": repr(e)}
                with self.lock:
                    self.requests += 1
                    if reply.get("janus") == "ack":
                        self.acked += n
                    elif not self.stopped:
                        self.stopped = True
                        self.first_error = reply
                        self.t_first_error = time.monotonic()
        finally:
            conn.close()

    def run(self):
        self.t_start = time.monotonic()
        workers = [threading.Thread(target=self._worker, daemon=True)
                   for _ in range(self.threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(max(1.0, self.deadline - time.monotonic() + 15))
        self.t_end = time.monotonic()
        return self

    def rate(self):
        return self.requests / max(1e-6, self.t_end - self.t_start)


def handle_listed(janus, session_id, handle_id):
    try:
        return handle_id in janus.admin().list_handles(session_id)
    except harness.JanusError:
        return False       # the session is gone too


async def wait_gone(janus, session_id, handle_id, timeout=CUT_TIMEOUT):
    return await wait_until(lambda: not handle_listed(janus, session_id, handle_id), timeout,
                            "handle %d gone (admin list_handles)" % handle_id, step=0.01)


def make_janus(cap_scope=None, transport=None):
    """A Janus with our modules and events on. transport: extra settings of
    janus.transport.prometheus (on its own free port, then)."""
    overrides = {}
    if cap_scope is not None:
        overrides["janus.eventhandler.media.jcfg"] = (
            'general: {\n\tcap_scope = "%s"\n}\n' % cap_scope)
    metrics_port = None
    if transport:
        metrics_port = harness.free_port()
        settings = dict(transport, ip="127.0.0.1", port=metrics_port)
        overrides["janus.transport.prometheus.jcfg"] = "general: {\n%s}\n" % "".join(
            "\t%s = %s\n" % (k, json.dumps(v)) for k, v in settings.items())
    # The stock transports: these tests measure what the core itself accepts and how the
    # event handler's ledger and janus.transport.prometheus's enforcer cut a handle after it.
    # Through janus.transport.edge the candidates are refused before the core (test_edge.py).
    janus = JanusProcess(events_broadcast=True, overrides=overrides, api_transport="stock")
    janus.start()
    if metrics_port is not None:
        janus.metrics_port = metrics_port
    try:
        for module in ("libjanus_prometheus.so",):
            if module not in janus.config_info["transports"]:
                raise AssertionError("%s not built in %s" % (module, janus.modules_dir))
        if "libjanus_media.so" not in janus.config_info["plugins"]:
            raise AssertionError("libjanus_media.so not built in %s" % janus.modules_dir)
        # The transport's start-up probe: the core takes our admin requests.
        deadline = time.monotonic() + 10
        for _ in range(1000):
            if "the core takes our admin requests" in janus.log_text():
                break
            if time.monotonic() > deadline:
                raise AssertionError("the cap is not enforced:\n" + janus.log_tail(60))
            time.sleep(0.02)
    except BaseException:
        janus.stop()
        janus.cleanup()
        raise
    return janus


class PostOfferFlood(unittest.IsolatedAsyncioTestCase):
    """a) and b): cap_scope = all (the default)."""

    janus = None

    @classmethod
    def setUpClass(cls):
        cls.janus = make_janus()

    @classmethod
    def tearDownClass(cls):
        if cls.janus is not None:
            cls.janus.stop(10)
            cls.janus.cleanup()

    async def asyncSetUp(self):
        asyncio.get_running_loop().slow_callback_duration = 2.0

    async def run_bounded(self, coro):
        try:
            await asyncio.wait_for(coro, TEST_TIMEOUT)
        except BaseException:
            log("janus log tail:\n" + self.janus.log_tail(80))
            raise

    async def flood_echo(self, plugin, total=20000):
        """An echo session of plugin, up; then the flood. Returns what was seen."""
        s = EchoSession(self.janus)
        try:
            await s.open(self, plugin=plugin, profile=PROFILES[plugin], with_data=False)
            await s.client.wait_event(s.handle, "webrtcup", timeout=10)
            await wait_until(lambda: s.frames["audio"] >= 10, 15, "echoed audio")
            session_id, handle = s.client.session_id, s.handle
            await asyncio.sleep(0.5)
            baseline = self.janus.rss_bytes()
            before = scrape(self.janus)
            with RssSampler(self.janus) as rss:
                flood = await asyncio.get_running_loop().run_in_executor(
                    None, lambda: Flood(self.janus, session_id, handle, total).run())
                t_gone = await wait_gone(self.janus, session_id, handle)
            after_cut = scrape(self.janus)
            await asyncio.sleep(1.0)   # the handle loop frees the PeerConnection
            rss_after = self.janus.rss_bytes()
            seen = {
                "flood": flood, "baseline": baseline, "peak": rss.peak,
                "after": rss_after, "before": before, "after_cut": after_cut,
                "gone_s": t_gone - flood.t_start, "handle": handle,
                "session_id": session_id, "client": s.client,
            }
            # The client's own transport (the WebSocket) hears about it.
            seen["hangup"] = await s.client.wait_event(handle, "hangup", timeout=5)
            seen["detached"] = await s.client.wait_event(handle, "detached", timeout=5)
            seen["events"] = list(s.client.history)
            return seen
        finally:
            await s.close()

    def report(self, what, seen):
        f = seen["flood"]
        log("%s: %d of %d trickles acknowledged before the handle was cut (%d requests, "
            "%.0f/s, first error %s); handle gone %.3f s after the flood began; RSS baseline "
            "%s, peak %s, after %s (%+.2f MB)"
            % (what, f.acked, f.total, f.requests, f.rate(),
               (f.first_error or {}).get("error", {}).get("code"), seen["gone_s"],
               mb(seen["baseline"]), mb(seen["peak"]), mb(seen["after"]),
               (seen["after"] - seen["baseline"]) / 1048576.0))

    def check_cut(self, seen, reason_series):
        before, after = seen["before"], seen["after_cut"]
        f = seen["flood"]
        self.assertIsNotNone(f.first_error, "the flood never got an error: not cut")
        # 471 "Still cleaning a previous session" (hung up), then 459 "No such handle".
        self.assertIn(f.first_error.get("error", {}).get("code"), (458, 459, 471),
                      f.first_error)
        self.assertLess(f.acked, f.total, "every trickle got in")
        self.assertEqual(after[reason_series] - before[reason_series], 1,
                         "handles cut: %r" % after)
        self.assertGreaterEqual(after[REJECTED] - before[REJECTED], 1)
        # Server side: from over the cap to the detach answer, within 1 s.
        cut_seconds = after[CUT_SECONDS_SUM] - before[CUT_SECONDS_SUM]
        self.assertEqual(after[CUT_SECONDS_COUNT] - before[CUT_SECONDS_COUNT], 1)
        log("server side: over the cap -> detached in %.1f ms; candidates rejected %d"
            % (cut_seconds * 1000, after[REJECTED] - before[REJECTED]))
        self.assertLess(cut_seconds, 1.0)
        self.assertLess(seen["gone_s"], CUT_TIMEOUT)
        self.assertFalse(handle_listed(self.janus, seen["session_id"], seen["handle"]))
        self.assertTrue(self.janus.alive())

    async def test_a_media_handle_is_cut_and_told_why(self):
        await self.run_bounded(self._media())

    async def _media(self):
        seen = await self.flood_echo(MEDIA)
        self.report("post-offer flood, janus.plugin.media", seen)
        self.check_cut(seen, CUT_TOO_MANY)
        datas = [m.get("plugindata", {}).get("data", {}) for m in seen["events"]
                 if m.get("sender") == seen["handle"] and m.get("janus") == "event"]
        errors = [d for d in datas if d.get("error_code") == 1019]
        self.assertEqual(len(errors), 1, "error 1019 events: %r" % datas)
        self.assertIn("max_ice_candidates", errors[0].get("error", ""))
        kicked = [i for i, d in enumerate(datas) if d.get("result") == "kicked"]
        self.assertEqual(len(kicked), 1, datas)
        self.assertLess(datas.index(errors[0]), kicked[0], "1019 comes before kicked")
        self.assertEqual(seen["detached"].get("sender"), seen["handle"])
        self.assertLessEqual(seen["after"], seen["baseline"] + RSS_MARGIN,
                             "RSS after the flood %s > baseline %s + 4 MB"
                             % (mb(seen["after"]), mb(seen["baseline"])))

    async def test_b_stock_plugin_handle_is_cut_with_scope_all(self):
        await self.run_bounded(self._echotest())

    async def _echotest(self):
        seen = await self.flood_echo(ECHOTEST)
        self.report("post-offer flood, janus.plugin.echotest (cap_scope = all)", seen)
        self.check_cut(seen, CUT_TOO_MANY)
        self.assertEqual(seen["hangup"].get("reason"), "Admin API")
        for m in seen["events"]:
            data = m.get("plugindata", {}).get("data", {})
            self.assertNotIn("error_code", data, "a stock plugin says nothing: %r" % m)
        self.assertLessEqual(seen["after"], seen["baseline"] + RSS_MARGIN)


class MediaScope(unittest.IsolatedAsyncioTestCase):
    """b) with cap_scope = media: a stock plugin's handle is left alone."""

    async def asyncSetUp(self):
        asyncio.get_running_loop().slow_callback_duration = 2.0
        self.janus = make_janus(cap_scope="media")

    async def asyncTearDown(self):
        self.janus.stop(10)
        self.janus.cleanup()

    async def test_echotest_handle_is_not_cut(self):
        try:
            await asyncio.wait_for(self._run(), TEST_TIMEOUT)
        except BaseException:
            log("janus log tail:\n" + self.janus.log_tail(80))
            raise

    async def _run(self):
        s = EchoSession(self.janus)
        try:
            await s.open(self, plugin=ECHOTEST, profile=PROFILES[ECHOTEST], with_data=False)
            await s.client.wait_event(s.handle, "webrtcup", timeout=10)
            before = scrape(self.janus)
            total = 20 * MAX_ICE_CANDIDATES
            flood = await asyncio.get_running_loop().run_in_executor(
                None, lambda: Flood(self.janus, s.client.session_id, s.handle, total).run())
            self.assertIsNone(flood.first_error)
            self.assertEqual(flood.acked, total)
            await self.past_any_cut(s, before, total)
            after = scrape(self.janus)
            log("cap_scope = media: %d candidates trickled to an echotest handle, not cut"
                % total)
            self.assertTrue(handle_listed(self.janus, s.client.session_id, s.handle))
            self.assertEqual(after[CUT_TOO_MANY], before[CUT_TOO_MANY])
            self.assertEqual(after[CUT_PENDING], before[CUT_PENDING])
            self.assertEqual(after[REJECTED], before[REJECTED])
            self.assertFalse([m for m in s.client.queued_events(s.handle)
                              if m.get("janus") in ("hangup", "detached")])
            self.assertEqual(s.pc.iceConnectionState in ("connected", "completed"), True)
        finally:
            await s.close()

    async def past_any_cut(self, s, before, total):
        """Waits (bounded) until any cut the flood could have caused is over: 1) the events
        thread reported every trickled candidate; 2) an attach made after that reached the
        ledger (the core hands events over in order); 3) two check rounds began after it, on
        the enforcer's thread, which cuts every queued handle before each slice of a round.
        The attached janus.plugin.media handle, in scope and idle, is what those rounds check."""
        def candidates(sample):
            return sum(v for k, v in sample.items()
                       if k.startswith("janus_core_remote_candidates_total"))
        last = {}

        def reported():
            last["n"] = candidates(scrape(self.janus)) - candidates(before)
            return last["n"] >= total
        await wait_until(reported, 10, lambda: "the %d candidates reported (%d so far)"
                         % (total, last.get("n", 0)), step=0.05)
        await s.client.attach(MEDIA)
        await wait_until(lambda: query_eventhandler(self.janus)["unnegotiated"] >= 1, 10,
                         "the idle janus.plugin.media handle in the ledger", step=0.05)
        rounds = query_transport(self.janus)["check_rounds"]
        await wait_until(lambda: query_transport(self.janus)["check_rounds"] >= rounds + 2,
                         10 + 3 * CHECK_INTERVAL, "two check rounds after the flood", step=0.05)


def query_eventhandler(janus):
    reply = janus.admin().request("query_eventhandler", handler="janus.eventhandler.media")
    if reply.get("janus") != "success":
        raise AssertionError("query_eventhandler: %r" % reply)
    return reply["response"]["candidate_cap"]


def query_transport(janus):
    reply = janus.admin().request("query_transport", transport="janus.transport.prometheus")
    if reply.get("janus") != "success":
        raise AssertionError("query_transport: %r" % reply)
    return reply["response"]["candidate_cap"]


class MemorySweep(unittest.TestCase):
    """c) again, with ordinary check rounds out of reach (one handle per 20 s round, as if
    thousands of idle handles diluted them): Janus's memory growth triggers a sweep of every
    unnegotiated handle, which finds the flooded one."""

    def setUp(self):
        self.janus = make_janus(transport={"pending_trickles_check_ms": 20000,
                                           "pending_trickles_checks_per_round": 1,
                                           "pending_trickles_sweep_mb": 8})

    def tearDown(self):
        self.janus.stop(10)
        self.janus.cleanup()

    def test_memory_growth_finds_the_flooded_handle(self):
        try:
            self._run()
        except BaseException:
            log("janus log tail:\n" + self.janus.log_tail(60))
            raise

    def _run(self):
        cap = query_transport(self.janus)
        self.assertEqual(cap["pending_trickles_sweep_mb"], 8)
        self.assertEqual(cap["sweeps"], 0)
        http = self.janus.http()
        session_id = http.create()
        idle = [http.attach(session_id, MEDIA) for _ in range(20)]
        handle = http.attach(session_id, ECHOTEST)
        before = scrape(self.janus)
        rss_before = self.janus.rss_bytes()
        with RssSampler(self.janus) as rss:
            flood = Flood(self.janus, session_id, handle, 200000, deadline=30).run()
        after = scrape(self.janus)
        cap = query_transport(self.janus)
        log("memory sweep (8 MB, rounds of 1 handle per 20 s): %d trickles acknowledged "
            "before the cut, after %.2f s; RSS %s -> peak %s (%+.1f MB); %d sweep(s), %d "
            "handles checked"
            % (flood.acked, flood.t_end - flood.t_start, mb(rss_before), mb(rss.peak),
               (rss.peak - rss_before) / 1048576.0, cap["sweeps"], cap["checks"]))
        self.assertIsNotNone(flood.first_error, "never cut")
        self.assertFalse(handle_listed(self.janus, session_id, handle))
        self.assertGreaterEqual(cap["sweeps"], 1)
        self.assertEqual(after[CUT_PENDING] - before[CUT_PENDING], 1)
        self.assertLess(rss.peak - rss_before, 8 * 1048576 + 8 * 1048576,
                        "the sweep came late")
        for h in idle:
            self.assertTrue(handle_listed(self.janus, session_id, h), "an idle handle was cut")


class PreOfferFlood(unittest.TestCase):
    """c) trickles before any offer, and d) the cost of watching for them."""

    janus = None

    @classmethod
    def setUpClass(cls):
        cls.janus = make_janus()

    @classmethod
    def tearDownClass(cls):
        if cls.janus is not None:
            cls.janus.stop(10)
            cls.janus.cleanup()

    def flood_before_offer(self, plugin, total, batch):
        http = self.janus.http()
        session_id = http.create()
        handle = http.attach(session_id, plugin)
        time.sleep(0.2)
        before = scrape(self.janus)
        rss_before = self.janus.rss_bytes()
        with RssSampler(self.janus) as rss:
            flood = Flood(self.janus, session_id, handle, total, batch=batch,
                          deadline=60).run()
            gone = time.monotonic()
            deadline = gone + CUT_TIMEOUT
            for _ in range(10000):
                if not handle_listed(self.janus, session_id, handle) or \
                        time.monotonic() > deadline:
                    break
                time.sleep(0.01)
            gone = time.monotonic()
        after = scrape(self.janus)
        time.sleep(0.5)
        rss_after = self.janus.rss_bytes()
        log("pre-offer flood (%s, %d candidate(s) per request): %d candidates in %d requests "
            "acknowledged before the cut (%.0f requests/s); handle gone %.2f s after the "
            "flood began; RSS before %s, peak %s (%+.1f MB), after the cut %s (%+.1f MB)"
            % (plugin, batch, flood.acked, flood.requests, flood.rate(),
               gone - flood.t_start, mb(rss_before), mb(rss.peak),
               (rss.peak - rss_before) / 1048576.0, mb(rss_after),
               (rss_after - rss_before) / 1048576.0))
        self.assertFalse(handle_listed(self.janus, session_id, handle),
                         "the handle is still attached")
        self.assertEqual(after[CUT_PENDING] - before[CUT_PENDING], 1, after)
        self.assertEqual(after[CUT_TOO_MANY], before[CUT_TOO_MANY])
        self.assertTrue(self.janus.alive(), "janus died")
        return http, session_id, handle, flood

    def test_c1_single_candidate_trickles_are_cut(self):
        try:
            http, session_id, handle, flood = self.flood_before_offer(MEDIA, 200000, 1)
            self.assertIsNotNone(flood.first_error, "never cut: every trickle got in")
            # As after an offer: the cut hangs the handle up before it detaches it, and a
            # trickle that lands in between gets 471 "Still cleaning a previous session";
            # later ones 458/459. (Seen in a CI run: 2,297 trickles in, then 471.)
            self.assertIn(flood.first_error.get("error", {}).get("code"), (458, 459, 471),
                          flood.first_error)
            self.assertLess(flood.acked, 200000)
            # The janus.plugin.media client was told why, on its own (HTTP long-poll) session.
            ev = http.wait_event(session_id, lambda e: e.get("plugindata", {}).get(
                "data", {}).get("error_code") == 1019, timeout=5)
            self.assertEqual(ev.get("sender"), handle)
            http.wait_event(session_id, lambda e: e.get("janus") == "detached"
                            and e.get("sender") == handle, timeout=5)
            self.assertEqual(self.janus.admin().info().get("janus"), "server_info")
        except BaseException:
            log("janus log tail:\n" + self.janus.log_tail(60))
            raise

    def test_c2_batched_trickles_measured(self):
        """What the check cannot see: one request may carry many candidates, and
        pending-trickles counts requests. Printed for README; the handle is still cut."""
        try:
            self.flood_before_offer(ECHOTEST, 200000, 1000)
        except BaseException:
            log("janus log tail:\n" + self.janus.log_tail(60))
            raise

    def test_d_cost_of_the_check(self):
        try:
            self._cost()
        except BaseException:
            log("janus log tail:\n" + self.janus.log_tail(60))
            raise

    def _cost(self):
        pid = self.janus.pid
        window = 3.0
        # Idle first: nothing to check.
        m0, c0 = scrape(self.janus), thread_cpu(pid)
        time.sleep(window)
        m1, c1 = scrape(self.janus), thread_cpu(pid)
        idle_rate = (m1[HANDLE_INFOS] - m0[HANDLE_INFOS]) / window
        idle_cpu, idle_thread = cpu_share(c0, c1, window)
        # N handles that never negotiate (one HTTP session, as a client that attaches and
        # waits would).
        http = self.janus.http()
        session_id = http.create()
        t0 = time.monotonic()
        for _ in range(CHECK_HANDLES):
            http.attach(session_id, MEDIA)
        attach_s = time.monotonic() - t0
        time.sleep(CHECK_INTERVAL * 1.5)   # let the first round start
        m2, c2 = scrape(self.janus), thread_cpu(pid)
        time.sleep(window)
        m3, c3 = scrape(self.janus), thread_cpu(pid)
        rate = (m3[HANDLE_INFOS] - m2[HANDLE_INFOS]) / window
        checks = (m3[CHECKS] - m2[CHECKS]) / window
        cpu, busiest = cpu_share(c2, c3, window)
        log("pending-trickles check, %d unnegotiated handles (attached in %.1f s): %.0f "
            "handle_info/s (%.0f handles checked/s; idle: %.0f/s); janus CPU %.1f %% "
            "(idle %.1f %%), its busiest thread %.1f %% (idle %.1f %%); every handle checked "
            "every %.1f s"
            % (CHECK_HANDLES, attach_s, rate, checks, idle_rate, cpu, idle_cpu, busiest,
               idle_thread,
               max(CHECK_INTERVAL, CHECK_HANDLES / CHECKS_PER_ROUND * CHECK_INTERVAL)))
        self.assertEqual(idle_rate, 0)
        expected = min(CHECK_HANDLES, CHECKS_PER_ROUND) / CHECK_INTERVAL
        self.assertGreater(rate, 0.5 * expected, "the check does not run")
        self.assertLessEqual(rate, 1.5 * expected + 1, "the check is not rate-limited")
        self.assertEqual(scrape(self.janus)[CUT_PENDING], m0[CUT_PENDING],
                         "idle handles were cut")
        http.destroy(session_id)


if __name__ == "__main__":
    unittest.main()
