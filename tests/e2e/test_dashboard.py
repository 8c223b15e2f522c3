#!/usr/bin/python3
"""The Grafana dashboard and the Prometheus alert rules, proven against a real Prometheus.

  DashboardJsonTest   grafana/media-service-dashboard.json is Grafana 10+ dashboard JSON:
                      schemaVersion >= 38, the datasource variable, multi-value job and
                      instance variables with All, the seven rows in order, unique panel ids,
                      gridPos on the 24-column grid without overlaps, every panel on
                      ${datasource} with targets that carry an expr, every metric selector
                      filtered by job and instance
  AlertRulesTest      promtool check rules / test rules / check config pass, and
                      alerts_test.yml has a firing and a not-firing case for every alert
  LiveDashboardTest   two Janus nodes (Debian's janus with this build's modules, events
                      broadcast so that the janus_core_* metrics exist) scraped every second
                      by Debian's Prometheus, which also scrapes itself (another job with
                      process_* and up); one node has a live aiortc echo session and went
                      through provoked failures (an echo session that ended, negotiations
                      that never come up, refused requests, a max_sessions rejection); the
                      other runs in token mode and refused and granted requests by token.
                      Both are nodes of one cluster (a private redis-server), so the Cluster
                      row has data; node 0's inbox is sent a message signed with the
                      cluster's secret and one that is not a message (counted as dropped).
                      The job and instance variables list the Janus job and both nodes only.
                      Every target of every panel, interpolated as Grafana does for All and
                      for one node, is accepted by Prometheus and holds series of the picked
                      nodes only (per-node targets: one series per picked node); with All,
                      each returns finite data; "all selected nodes" equals the sum of the
                      per-node series; the alert rules load and evaluate without error.

Panels whose metrics do not exist yet are listed in PENDING_METRICS (the ICE-candidate cap
of issue 5): their queries must still be accepted, and they become normal checks as soon as
the metric appears. Panels allowed to be all zero in this run are listed in ZERO_OK, each
with the reason; every other target must show a value above zero.

Run: JMEDIA_MODULES_DIR=/work/main/build/modules /usr/bin/python3 tests/e2e/test_dashboard.py -v
"""

import asyncio
import hashlib
import hmac
import json
import math
import socket
import re
import subprocess
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dashboard_lab as lab  # noqa: E402
from harness import JanusProcess, RedisProcess  # noqa: E402
from test_echo import check_media_plugin_built  # noqa: E402

TEST_TIMEOUT = 150.0
JOB = "janus-e2e"
SELF_JOB = "prometheus-self"   # Prometheus scraping itself: process_* and up of another job
RATE_INTERVAL = "2m"     # covers the whole run: every event of the workload is in the window
INTERVAL = "1s"
RANGE = "5m"
ROWS = ["Overview", "Sessions", "Media", "Protection", "Edge", "Cluster", "Core", "Process"]
CLUSTER_SECRET = "dashboard-test-cluster-secret-0123456789"
PANEL_TYPES = {"timeseries", "stat", "bargauge", "gauge", "table", "state-timeline",
               "barchart", "heatmap", "text"}
ISSUE5_MARK = "filled by the ICE-candidate cap (issue 5)"

# Panels whose metric does not exist yet: title -> the metric. Their queries must be
# accepted; while the metric is absent from Prometheus their result may be empty.
PENDING_METRICS = {
    "Remote candidates rejected": "janus_core_candidates_rejected_total",
    "Handles cut": "janus_core_handles_cut_total",
}

# Targets that may be all zero at the end of this run: title -> refIds (None: all), why.
ZERO_OK = {
    "Drain state": (None, "drain is off (it is on only during rolling restarts)"),
    "Lost packets": (None, "nothing is lost on loopback"),
    "NACKs": (None, "nothing is lost on loopback, so nothing is asked again"),
    "Slow-link events": (None, "no slow link on loopback"),
    "Keyframe requests": (None, "an echo client decoding every frame is sent no PLI"),
    "Busy errors (1008)": (None, "the async queue never fills in this run"),
    "Async queue depth vs capacity": ({"A"}, "no async request is pending between requests"),
    "Remote candidates rejected": (None, "no client goes over the candidate cap here"),
    "Handles cut": (None, "no client goes over the candidate cap here"),
    "Client queued bytes": (None, "every client reads what it is sent: nothing waits at the end"),
    "Held hangups and detaches": (None, "no client hangs up while its ICE still negotiates here"),
    "Orphaned handles": (None, "no detach is lost here (test_impatient.py provokes them)"),
    "Directory errors": (None, "Redis never fails in this run (test_cluster.py kills it)"),
    "Relays per node": (None, "no device is watched across nodes in this run (test_relay*.py)"),
    "Relay packets": (None, "no device is watched across nodes in this run"),
    "Relay bits": (None, "no device is watched across nodes in this run"),
    "Relay loss and retransmissions": (None, "no relay, and nothing lost on loopback"),
}

METRIC_SELECTOR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")
BARE_METRIC = re.compile(r"\b((?:janus|process)_[a-zA-Z0-9_:]+|up)\b(?!\s*\{)")
FUNCTION_OR_KEYWORD = {"sum", "by", "rate", "increase", "histogram_quantile", "max", "min",
                       "time", "and", "or", "unless", "on", "ignoring", "without", "count",
                       "avg", "deriv", "irate", "topk", "bottomk", "le"}


def log(msg):
    sys.stderr.write("[dashboard] %s\n" % msg)
    sys.stderr.flush()


def targets_of(panel):
    return panel.get("targets") or []


def redis_command(port, *args):
    """One command to the test's redis-server (RESP over a socket); its reply's first line."""
    out = b"*%d\r\n" % len(args)
    for arg in args:
        arg = arg.encode() if isinstance(arg, str) else arg
        out += b"$%d\r\n%s\r\n" % (len(arg), arg)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(out)
        return s.makefile("rb").readline().strip()


def node_message(message, secret=CLUSTER_SECRET):
    """A node message as cluster/node_messages.h puts it on the wire: signature, space, JSON."""
    text = json.dumps(message, separators=(",", ":"))
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest() + " " + text


def publish_to_inbox(redis, node_id, payload, timeout=10.0):
    """PUBLISH into a node's inbox until one subscriber got it (the node subscribes a moment
    after it starts; a PUBLISH that reached nobody delivered nothing)."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.1) + 1):
        if redis_command(redis.port, "PUBLISH", "jmedia:node:%s:inbox" % node_id,
                         payload) == b":1":
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    raise AssertionError("node %s never subscribed to its inbox" % node_id)


# ===========================================================================
# (a) the JSON
# ===========================================================================
class DashboardJsonTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dash = lab.load_dashboard()     # json.load: a syntax error fails here

    def test_top_level(self):
        d = self.dash
        self.assertIsInstance(d.get("title"), str)
        self.assertTrue(d["title"])
        self.assertIsInstance(d.get("uid"), str)
        self.assertRegex(d["uid"], r"^[A-Za-z0-9_-]{1,40}$")
        self.assertIsInstance(d.get("schemaVersion"), int)
        self.assertGreaterEqual(d["schemaVersion"], 38, "Grafana 10+ schema")
        self.assertIsNone(d.get("id"), "exported for sharing: no database id")
        self.assertIsInstance(d.get("panels"), list)
        self.assertIn("from", d.get("time", {}))
        self.assertIn("to", d.get("time", {}))
        self.assertIsInstance(d.get("templating", {}).get("list"), list)

    def test_variables(self):
        variables = {v.get("name"): v for v in self.dash["templating"]["list"]}
        ds = variables.get("datasource")
        self.assertIsNotNone(ds, "a datasource variable")
        self.assertEqual(ds.get("type"), "datasource")
        self.assertEqual(ds.get("query"), "prometheus")
        for name, metric_ref in (("job", None), ("instance", "$job")):
            v = variables.get(name)
            self.assertIsNotNone(v, "a %s variable" % name)
            self.assertEqual(v.get("type"), "query", name)
            self.assertTrue(v.get("multi"), "%s is multi-select" % name)
            self.assertTrue(v.get("includeAll"), "%s includes All" % name)
            # a custom All value such as ".*" would match every job: Prometheus's own
            # process_* and up, node exporters... would join the Janus panels
            self.assertFalse(v.get("allValue"), "%s: All must expand to the values found"
                             % name)
            self.assertEqual(v.get("datasource"), {"type": "prometheus", "uid": "${datasource}"},
                             name)
            query = v.get("query")
            query = query.get("query") if isinstance(query, dict) else query
            self.assertRegex(query, r"^label_values\((janus_\w+)(\{[^}]*\})?, *%s\)$" % name)
            if metric_ref:
                self.assertIn(metric_ref, query, "instance follows the job picked")
        # no other variable a query could depend on without the test knowing
        self.assertEqual(set(variables), {"datasource", "job", "instance"})

    def test_rows(self):
        rows = [p.get("title") for p in self.dash["panels"] if p.get("type") == "row"]
        self.assertEqual(rows, ROWS)
        by_row = lab.panel_rows(self.dash)
        for row in ROWS:
            self.assertTrue([pid for pid, r in by_row.items() if r == row],
                            "row %s has no panel" % row)
        for p in self.dash["panels"]:
            if p.get("type") == "row" and not p.get("collapsed"):
                self.assertEqual(p.get("panels"), [], "an open row holds no panels itself")

    def test_unique_ids_and_grid(self):
        panels = lab.all_panels(self.dash)
        ids = [p.get("id") for p in panels]
        self.assertTrue(all(isinstance(i, int) for i in ids), ids)
        self.assertEqual(len(ids), len(set(ids)), "duplicate panel ids")
        cells = {}
        for p in panels:
            g = p.get("gridPos")
            self.assertIsInstance(g, dict, p.get("title"))
            for k in ("h", "w", "x", "y"):
                self.assertIsInstance(g.get(k), int, "%s gridPos.%s" % (p.get("title"), k))
            self.assertGreater(g["w"], 0)
            self.assertGreater(g["h"], 0)
            self.assertGreaterEqual(g["x"], 0)
            self.assertLessEqual(g["x"] + g["w"], 24, p.get("title"))
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    other = cells.setdefault((x, y), p.get("title"))
                    self.assertEqual(other, p.get("title"),
                                     "%r overlaps %r at %d,%d" % (p.get("title"), other, x, y))

    def test_panels_and_targets(self):
        titles = []
        for p in lab.data_panels(self.dash):
            title = p.get("title")
            titles.append(title)
            self.assertTrue(title, "panel %s has a title" % p.get("id"))
            self.assertIn(p.get("type"), PANEL_TYPES, title)
            self.assertTrue(p.get("description"), "%s has a description" % title)
            self.assertEqual(p.get("datasource"), {"type": "prometheus", "uid": "${datasource}"},
                             title)
            targets = targets_of(p)
            self.assertTrue(targets, "%s has targets" % title)
            refs = [t.get("refId") for t in targets]
            self.assertEqual(len(refs), len(set(refs)), "%s: duplicate refIds" % title)
            for t in targets:
                self.assertTrue(t.get("refId"))
                self.assertEqual(t.get("datasource"),
                                 {"type": "prometheus", "uid": "${datasource}"}, title)
                self.assertIsInstance(t.get("expr"), str, title)
                self.assertTrue(t["expr"].strip(), "%s: empty expr" % title)
        self.assertEqual(len(titles), len(set(titles)), "panel titles are unique")

    def test_every_selector_is_filtered_by_job_and_instance(self):
        for p in lab.data_panels(self.dash):
            for t in targets_of(p):
                expr = t["expr"]
                selectors = METRIC_SELECTOR.findall(expr)
                self.assertTrue(selectors, "%s: no metric selector in %s" % (p["title"], expr))
                for name, matchers in selectors:
                    self.assertIn('job=~"$job"', matchers, "%s: %s" % (p["title"], expr))
                    self.assertIn('instance=~"$instance"', matchers,
                                  "%s: %s" % (p["title"], expr))
                # label lists (by/without/on/ignoring) and matchers are not metric names
                names_only = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", " ", expr)
                names_only = re.sub(r"\{[^}]*\}", "{}", names_only)
                bare = [m for m in BARE_METRIC.findall(names_only)
                        if m not in FUNCTION_OR_KEYWORD]
                self.assertEqual(bare, [], "%s: metric without selector in %s"
                                 % (p["title"], expr))

    def test_pending_panels_are_marked(self):
        for title, metric in PENDING_METRICS.items():
            p = lab.panel_by_title(self.dash, title)
            self.assertEqual(lab.panel_rows(self.dash)[p["id"]], "Protection")
            self.assertIn(ISSUE5_MARK, p["description"], title)
            self.assertTrue(any(metric in t["expr"] for t in targets_of(p)), title)
        for title in ZERO_OK:
            lab.panel_by_title(self.dash, title)    # no stale entry

    def test_interpolation(self):
        expr = 'sum(rate(x{job=~"$job",instance=~"${instance}"}[$__rate_interval]))'
        got = lab.interpolate(expr, {"job": ".*", "instance": lab.variable_value(
            ["127.0.0.1:1", "127.0.0.1:2"])}, "1m", "1s", "5m")
        self.assertEqual(got, 'sum(rate(x{job=~".*",instance=~"(127\\\\.0\\\\.0\\\\.1:1|'
                              '127\\\\.0\\\\.0\\\\.1:2)"}[1m]))')
        with self.assertRaises(KeyError):
            lab.interpolate("x[$__nope]", {}, "1m", "1s", "5m")


# ===========================================================================
# (b) promtool
# ===========================================================================
def promtool(*args):
    r = subprocess.run([lab.PROMTOOL] + list(args), cwd=str(lab.PROMETHEUS_CONF_DIR),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    return r.returncode, r.stdout.decode(errors="replace")


def alert_names(text):
    return re.findall(r"^\s*-\s*alert:\s*(\S+)\s*$", text, re.M)


def alert_test_cases(text):
    """[(alertname, firing?)] of every alert_rule_test entry in a promtool test file
    (firing: exp_alerts lists alerts; not firing: exp_alerts: [])."""
    cases = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^\s*alertname:\s*(\S+)\s*$", line)
        if not m:
            continue
        for nxt in lines[i + 1:]:
            e = re.match(r"^\s*exp_alerts:\s*(.*?)\s*$", nxt)
            if e:
                cases.append((m.group(1), e.group(1) != "[]"))
                break
            if re.match(r"^\s*-\s*(eval_time|alertname):", nxt):
                cases.append((m.group(1), False))   # no exp_alerts: expects none
                break
    return cases


class AlertRulesTest(unittest.TestCase):

    def test_check_rules(self):
        code, out = promtool("check", "rules", "alerts.yml")
        self.assertEqual(code, 0, out)
        self.assertIn("SUCCESS", out)

    def test_unit_tests(self):
        code, out = promtool("test", "rules", "alerts_test.yml")
        self.assertEqual(code, 0, out)
        self.assertIn("SUCCESS", out)

    def test_prometheus_yml_loads_the_rules(self):
        code, out = promtool("check", "config", "prometheus.yml")
        self.assertEqual(code, 0, out)
        self.assertIn("1 rule files found", out)
        self.assertRegex(out, r"SUCCESS: %d rules found"
                         % len(alert_names(lab.ALERTS.read_text())))

    def test_every_alert_has_firing_and_quiet_cases(self):
        names = alert_names(lab.ALERTS.read_text())
        self.assertGreaterEqual(set(names), {
            "JanusTargetDown", "JanusIceSuccessRatioLow", "JanusRequestErrorRatioHigh",
            "JanusQueueNearFull", "JanusMemoryGrowing", "JanusDrainLeftOn"})
        self.assertEqual(len(names), len(set(names)), "duplicate alert names")
        text = (lab.PROMETHEUS_CONF_DIR / "alerts_test.yml").read_text()
        cases = alert_test_cases(text)
        for name in names:
            self.assertIn((name, True), cases, "%s: no case where it fires" % name)
            self.assertIn((name, False), cases, "%s: no case where it must not fire" % name)
        self.assertEqual({n for n, _ in cases} - set(names), set(), "tests of unknown alerts")

    def test_every_alert_has_severity_summary_description(self):
        text = lab.ALERTS.read_text()
        blocks = re.split(r"^\s*-\s*alert:", text, flags=re.M)[1:]
        self.assertEqual(len(blocks), len(alert_names(text)))
        for block in blocks:
            name = block.split()[0]
            self.assertRegex(block, r"\n\s+severity:\s*(critical|warning|info)\s*\n", name)
            self.assertRegex(block, r"\n\s+summary:", name)
            self.assertRegex(block, r"\n\s+description:", name)


# ===========================================================================
# (c) a real Prometheus that scraped real Janus nodes
# ===========================================================================
class Check:
    """The outcome of one target under one interpolation."""

    def __init__(self, panel, target, setting, expr, reply):
        self.panel = panel
        self.title = panel["title"]
        self.target = target
        self.setting = setting
        self.expr = expr
        self.reply = reply
        self.ok = reply.get("status") == "success"
        self.values = lab.sample_values(reply["data"]) if self.ok else []
        self.series = []
        if self.ok:
            result = reply["data"]["result"]
            # a scalar (e.g. a bare number) is one series without labels
            self.series = [{"metric": {}, "value": result}] \
                if reply["data"].get("resultType") == "scalar" else result

    def describe(self):
        if not self.ok:
            return "rejected: %s" % self.reply.get("error")
        return "%d series, values %s" % (
            len(self.values), sorted(round(v, 6) for v in self.values)[:8])


class LiveDashboardTest(unittest.IsolatedAsyncioTestCase):

    async def asyncSetUp(self):
        asyncio.get_running_loop().slow_callback_duration = 2.0

    async def test_every_panel_returns_data(self):
        await asyncio.wait_for(self._live(), TEST_TIMEOUT)

    async def _live(self):
        t0 = time.monotonic()
        loop = asyncio.get_running_loop()
        self.timings = {}
        nodes = []
        prometheus = None
        workload = None
        redis = None
        try:
            redis = RedisProcess().start()
            for i in range(2):
                # The second node runs in token mode: the access panels have data.
                j = JanusProcess(events_broadcast=True,
                                 plugin_access=lab.TOKEN_MODE if i == 1 else None,
                                 plugin_cluster={"redis": redis.address, "node_id": "dash-%d" % i,
                                                 "secret": CLUSTER_SECRET})
                nodes.append(j)
                await loop.run_in_executor(None, j.start)
                check_media_plugin_built(j)
                self.assertIn("libjanus_mediaevh.so", j.config_info["events"],
                              "the event handler is not built (janus_core_* metrics)")
            self.timings["janus x2 up"] = time.monotonic() - t0
            targets = ["127.0.0.1:%d" % j.metrics_port for j in nodes]
            prometheus = lab.PrometheusServer(targets, JOB, "1s", rule_files=[lab.ALERTS],
                                              self_job=SELF_JOB)
            await loop.run_in_executor(None, prometheus.start)
            await loop.run_in_executor(None, prometheus.wait_targets_up)
            self.timings["prometheus up"] = time.monotonic() - t0

            workload = lab.Workload(nodes[0], self)
            echo = await workload.start_echo()
            await workload.send_data(echo)
            await workload.all_failures()
            access = lab.Workload(nodes[1], self)
            await access.access_requests()
            # The Cluster row's messages: one valid (as dash-1 would send it), one not.
            await loop.run_in_executor(None, publish_to_inbox, redis, "dash-0", node_message(
                {"v": 1, "type": "publisher_left", "from_node": "dash-1", "device_id": "cam-1"}))
            await loop.run_in_executor(None, publish_to_inbox, redis, "dash-0", "not a message")
            self.timings["workload done"] = time.monotonic() - t0
            log("workload on %s: %r; on %s (token mode): %r"
                % (targets[0], workload.counts, targets[1], access.counts))

            jobs, instances = await loop.run_in_executor(None, self._variable_values,
                                                         prometheus, targets)
            checks = await self._poll_panels(prometheus, jobs, instances)
            self.timings["every panel has data"] = time.monotonic() - t0
            self._report(checks)
            await loop.run_in_executor(None, self._check_rules, prometheus)

            await workload.end_all()
            await lab.wait_quiet(nodes[0])
        except BaseException:
            for j in nodes:
                log("janus %s log tail:\n%s" % (j.metrics_port, j.log_tail(40)))
            if prometheus is not None:
                log("prometheus log tail:\n%s" % prometheus.log_tail())
            raise
        finally:
            if workload is not None:
                await workload.end_all()
            if prometheus is not None:
                await loop.run_in_executor(None, prometheus.stop)
            for j in nodes:
                code, took = await loop.run_in_executor(None, j.stop, 10)
                log("janus pid %s stopped: code %s in %.2f s" % (j.pid, code, took))
                j.cleanup()
            if redis is not None:
                redis.kill()
            self.timings["total"] = time.monotonic() - t0
            log("timings (s since start): %s"
                % ", ".join("%s %.1f" % kv for kv in self.timings.items()))

    # -- the variables' own queries ----------------------------------------------------
    def _variable_values(self, prometheus, targets):
        """The values Grafana offers for job and instance (label_values over the series API,
        instance after job = All); asserts they are the Janus nodes and nothing else."""
        dash = lab.load_dashboard()
        variables = {v["name"]: v for v in dash["templating"]["list"]}

        def values(name, known):
            query = variables[name]["query"]
            query = query.get("query") if isinstance(query, dict) else query
            m = re.match(r"^label_values\((.*), *(\w+)\)$", query)
            match = lab.interpolate(m.group(1), known, RATE_INTERVAL, INTERVAL, RANGE)
            return sorted(prometheus.label_values(m.group(2), match))

        jobs = values("job", {})
        self.assertEqual(jobs, [JOB], "the job variable lists the Janus job only (not %s)"
                         % SELF_JOB)
        instances = values("instance", {"job": lab.variable_value(jobs)})
        self.assertEqual(instances, sorted(targets), "the instance variable finds both nodes")
        self.assertTrue(prometheus.vector('up{job="%s"} == 1' % SELF_JOB),
                        "a non-Janus job is scraped too, so that All is put to the test")
        return jobs, instances

    # -- every target ----------------------------------------------------------------
    def _run_all(self, prometheus, jobs, instances, at):
        """Every target of every panel, interpolated for All (every job and node the
        variables offer) and for one node alone, evaluated at the same instant."""
        dash = lab.load_dashboard()
        settings = {
            "All": {"job": lab.variable_value(jobs), "instance": lab.variable_value(instances)},
            "one node": {"job": lab.variable_value(jobs),
                       "instance": lab.variable_value([instances[0]])},
        }
        checks = []
        for panel in lab.data_panels(dash):
            for target in targets_of(panel):
                for setting, variables in settings.items():
                    expr = lab.interpolate(target["expr"], variables, RATE_INTERVAL,
                                           INTERVAL, RANGE)
                    checks.append(Check(panel, target, setting, expr,
                                        prometheus.query(expr, at=at)))
        return checks

    def _problems(self, prometheus, checks, instances):
        problems = []
        present = {}
        for c in checks:
            where = "%s [%s] %s: %s" % (c.title, c.target["refId"], c.setting, c.expr)
            if not c.ok:
                problems.append("%s: %s" % (where, c.describe()))
                continue
            picked = set(instances) if c.setting == "All" else {instances[0]}
            seen = {s["metric"]["instance"] for s in c.series if "instance" in s["metric"]}
            if not seen <= picked:
                problems.append("%s: series of nodes not picked: %s"
                                % (where, sorted(seen - picked)))
            if "{{instance}}" in c.target.get("legendFormat", "") and seen != picked \
                    and c.series:
                problems.append("%s: per-node series for %s, want %s"
                                % (where, sorted(seen), sorted(picked)))
            if c.setting != "All":
                continue
            pending = PENDING_METRICS.get(c.title)
            if pending is not None:
                if pending not in present:
                    present[pending] = bool(prometheus.vector(
                        'count({__name__="%s",job="%s"})' % (pending, JOB)))
                if not present[pending]:
                    continue        # not scraped yet: only "accepted" is required
            if not c.series:
                problems.append("%s: no data" % where)
                continue
            finite = lab.finite(c.values)
            if not finite:
                problems.append("%s: no finite value (%s)" % (where, c.describe()))
                continue
            zero_ok = ZERO_OK.get(c.title)
            if not (zero_ok and (zero_ok[0] is None or c.target["refId"] in zero_ok[0])):
                if not any(v > 0 for v in finite):
                    problems.append("%s: all zero (%s)" % (where, c.describe()))
        problems += self._summed_problems(checks)
        return problems

    def _summed_problems(self, checks):
        """A target "all selected nodes" must equal the sum of the same panel's per-node
        target (when it is a plain sum of the same thing)."""
        problems = []
        by_panel = {}
        for c in checks:
            if c.ok and c.setting == "All":
                by_panel.setdefault(c.title, []).append(c)
        for title, cs in by_panel.items():
            totals = [c for c in cs if c.target.get("legendFormat") == "all selected nodes"]
            nodes = [c for c in cs if c.target.get("legendFormat") == "{{instance}}"]
            for total in totals:
                for node in nodes:
                    same = node.target["expr"].replace("sum by (instance) ", "sum ")
                    if "/" in total.target["expr"] or same != total.target["expr"]:
                        continue
                    want = sum(lab.finite(node.values))
                    got = lab.finite(total.values)
                    if len(got) != 1 or not math.isclose(got[0], want, rel_tol=1e-9,
                                                         abs_tol=1e-9):
                        problems.append("%s: all selected nodes %r != sum of nodes %r"
                                        % (title, got, want))
        return problems

    async def _poll_panels(self, prometheus, jobs, instances, timeout=60.0):
        """Every check, again until all pass (media stats and scrapes arrive over a few
        seconds) or the deadline; then the failures are the assertion message."""
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + timeout
        problems = ["not run"]
        checks = []
        rounds = 0
        for _ in range(int(timeout) + 10):
            rounds += 1
            # 2 s in the past: every scrape up to then is in the TSDB, so that all the
            # queries of a round see the same samples
            at = time.time() - 2.0
            checks = await loop.run_in_executor(None, self._run_all, prometheus, jobs,
                                                instances, at)
            problems = await loop.run_in_executor(None, self._problems, prometheus, checks,
                                                  instances)
            if not problems or time.monotonic() > deadline:
                break
            await asyncio.sleep(1.0)
        n_targets = len({(c.title, c.target["refId"]) for c in checks})
        log("%d panels, %d targets, %d queries a round, %d round(s)"
            % (len({c.title for c in checks}), n_targets, len(checks), rounds))
        self.assertEqual(problems, [], "panels without proper data after %d rounds:\n  %s"
                         % (rounds, "\n  ".join(problems)))
        self.assertGreaterEqual(n_targets, 40)
        return checks

    def _report(self, checks):
        rows = lab.panel_rows(lab.load_dashboard())
        for c in checks:
            if c.setting != "All":
                continue
            extra = ""
            if c.title in PENDING_METRICS and not c.series:
                extra = "  (pending: %s not scraped yet)" % PENDING_METRICS[c.title]
            log("%-10s %-42s %s %s%s" % (rows.get(c.panel["id"]), c.title[:42],
                                         c.target["refId"], c.describe(), extra))

    def _check_rules(self, prometheus):
        names = alert_names(lab.ALERTS.read_text())

        def evaluated(rules):
            return ({r["name"] for r in rules} == set(names)
                    and all(r.get("health") == "ok" for r in rules))

        deadline = time.monotonic() + 15
        rules = []
        for _ in range(100):
            rules = prometheus.rules()
            if evaluated(rules) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertTrue(evaluated(rules), "alert rules in the live Prometheus: %r"
                        % [(r["name"], r.get("health"), r.get("lastError")) for r in rules])
        self.assertEqual([r["name"] for r in rules if r.get("lastError")], [])


if __name__ == "__main__":
    unittest.main()
