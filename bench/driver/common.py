"""Shared pieces of scripts/benchmark: progress, statistics, Janus nodes, HTTP, wrk.

Everything talks to 127.0.0.1 only: Janus nodes come from tests/e2e/harness.py
(JanusProcess: free loopback ports, loopback-only ICE), and every URL is checked.
"""

import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "e2e"))
from harness import JanusProcess  # noqa: E402

MEDIA = "janus.plugin.media"
ECHOTEST = "janus.plugin.echotest"
VIDEOROOM = "janus.plugin.videoroom"
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    pass


# ---------------------------------------------------------------------------
# progress
# ---------------------------------------------------------------------------
class Progress:
    """One line per step on stderr: elapsed time, part, step i/n, message."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.part = ""
        self.total = 0
        self.done = 0

    def begin(self, part, total_steps, what=""):
        self.part, self.total, self.done = part, max(1, total_steps), 0
        self._print("start%s" % (": " + what if what else ""))

    def step(self, msg):
        self.done += 1
        self._print("%d/%d %s" % (self.done, self.total, msg))

    def note(self, msg):
        self._print(msg)

    def _print(self, msg):
        elapsed = time.monotonic() - self.t0
        sys.stderr.write("[%4d:%02d] %-7s %s\n" % (elapsed // 60, elapsed % 60, self.part, msg))
        sys.stderr.flush()


# ---------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------
def callgrind_totals(path):
    """The totals of a callgrind output file ({event: count}, e.g. "Ir"), which it removes."""
    events, totals = [], []
    with open(path) as f:
        for line in f:
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("summary:"):
                totals = [int(x) for x in line.split()[1:]]
    os.unlink(path)
    return dict(zip(events, totals))


def report_run(ctx, prefix, r):
    """One load run on the progress line: req/s, p50, p99, errors."""
    ctx.progress.step("%s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms%s"
                      % (prefix, r["rps"], r["p50_ms"], r["p99_ms"],
                         "  ERRORS %d" % r["errors"] if r["errors"] else ""))


def percentile(values, p):
    """Linear interpolation between closest ranks; None for no values."""
    vals = sorted(values)
    if not vals:
        return None
    if len(vals) == 1:
        return vals[0]
    k = (len(vals) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(vals) - 1)
    return vals[lo] + (vals[hi] - vals[lo]) * (k - lo)


def spread(values):
    """{"median", "min", "max", "n", "values"} of repeated measurements."""
    vals = [v for v in values if v is not None]
    if not vals:
        return {"median": None, "min": None, "max": None, "n": 0, "values": []}
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals),
            "n": len(vals), "values": [round(v, 6) for v in vals]}


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


# ---------------------------------------------------------------------------
# the janus process
# ---------------------------------------------------------------------------
def proc_cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK   # utime + stime


def proc_status(pid):
    """{"rss_bytes", "threads"} from /proc/<pid>/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                out["rss_bytes"] = int(line.split()[1]) * 1024
            elif line.startswith("Threads:"):
                out["threads"] = int(line.split()[1])
    return out


def proc_wakeups(pid):
    """Voluntary context switches summed over every thread of pid: a thread's sleeps, so for a
    loop thread its wake-ups. Threads that ended before the call are not counted."""
    total = 0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return total
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue  # the thread ended while we read
    return total


def heap_in_use(janus, timeout=60.0):
    """Bytes the janus process has malloc'ed and not freed (glibc's malloc_stats(), "in use"
    over every arena, called in the process through gdb), or None without gdb. Unlike RSS it
    leaves out what the allocator keeps after frees."""
    totals = malloc_totals(janus, timeout)
    return None if totals is None else totals["in_use"]


def malloc_totals(janus, timeout=60.0):
    """{"system", "in_use"}: glibc's malloc_stats() totals over every arena (mmap'ed chunks
    included), printed by the janus process on its stderr (its log) when gdb calls it; None
    without gdb. system - in_use is what the allocator holds free."""
    if not shutil.which("gdb"):
        return None
    with open(janus.log_path, "rb") as f:
        f.seek(0, os.SEEK_END)
        start = f.tell()
    subprocess.run(["gdb", "-p", str(janus.pid), "-batch", "-nx", "-ex",
                    "call (void)malloc_stats()"], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=timeout)
    pattern = re.compile(r"Total \(incl\. mmap\):\s*\nsystem bytes\s*=\s*(\d+)\s*\n"
                         r"in use bytes\s*=\s*(\d+)")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with open(janus.log_path, "rb") as f:
            f.seek(start)
            found = pattern.findall(f.read().decode(errors="replace"))
        if found:
            return {"system": int(found[-1][0]), "in_use": int(found[-1][1])}
        time.sleep(0.05)
    return None


def proc_memory_map(pid):
    """Resident kB of the process by kind of mapping (/proc/<pid>/smaps): "heap" (the main
    arena's brk), "stack" (thread stacks: anonymous mappings behind a guard page are not told
    apart here, so they count as "anon"), "anon" (other anonymous mappings: mmap'ed chunks,
    the other arenas, thread stacks), "file" (libraries and other files)."""
    out = {"heap": 0, "stack": 0, "anon": 0, "file": 0, "anon_mappings": 0}
    kind = None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            fields = line.split()
            if not fields:
                continue
            if not fields[0].endswith(":") and "-" in fields[0]:
                name = fields[5] if len(fields) > 5 else ""
                kind = ("heap" if name == "[heap]" else "stack" if name.startswith("[stack")
                        else "anon" if name == "" else "file")
                if kind == "anon":
                    out["anon_mappings"] += 1
            elif fields[0] == "Rss:" and kind is not None:
                out[kind] += int(fields[1])
    return out


def proc_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def own_cpu_seconds():
    t = os.times()
    return t.user + t.system


def run_async(coro, settle=0.5):
    """asyncio.run() for aiortc clients: closed PeerConnections leave aioice retries and
    checks behind; give them `settle` seconds, then cancel what is left, and keep their
    late errors (after close) off the console."""
    import asyncio
    loop = asyncio.new_event_loop()
    late_errors = []
    loop.set_exception_handler(lambda _loop, context: late_errors.append(context.get("message")))
    try:
        result = loop.run_until_complete(coro)
        loop.run_until_complete(asyncio.sleep(settle))
        return result
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


# janus.transport.edge with its per-connection request rate and per-address connection count
# raised: a load generator is one client address (the results say so where it is used).
EDGE_UNBOUNDED = {"limits": {"max_requests_per_s": 1000000, "request_burst": 1000000,
                             "max_connections": 100000, "max_connections_per_ip": 100000}}


def start_janus(modules_dir, shards=32, debug_level=4, extra_media_conf="",
                api_transport="stock", edge_settings=None, event_loops=0, extra_general=None,
                plugin_cluster=None):
    """A private Janus with our modules (events broadcast on, as scripts/run), stock
    echotest and videoroom, sessions that never time out, on free loopback ports;
    event_loops > 0: that many shared loop threads (janus.jcfg), 0: one per handle;
    extra_general: more janus.jcfg general settings; plugin_cluster: the plugin's cluster
    section (a dict, as tests/e2e/harness.py's JanusProcess takes it)."""
    general = {"session_timeout": 0, **(extra_general or {})}
    if event_loops:
        general["event_loops"] = event_loops
    conf = "general: {\n\tshards = %d\n%s}\n" % (shards, extra_media_conf)
    if plugin_cluster:
        # In the override itself: janus_conf adds its plugin_cluster section only to a
        # janus.plugin.media.jcfg it writes, not to an override.
        import janus_conf
        conf += "\n" + janus_conf.render_jcfg({"cluster": plugin_cluster}).split("\n", 2)[2]
    # The stock transports carry the Janus API unless a part asks for the edge, as the
    # results say: they are the reference of every part (the e2e harness defaults to
    # janus.transport.edge, whose per-client rate bound a load generator would hit).
    janus = JanusProcess(modules_dir=str(modules_dir), debug_level=debug_level,
                         overrides={"janus.plugin.media.jcfg": conf},
                         extra={"general": general},
                         events_broadcast=True, start_timeout=30.0,
                         api_transport=api_transport, edge_settings=edge_settings)
    janus.start()
    if "libjanus_media.so" not in janus.config_info["plugins"]:
        janus.stop()
        janus.cleanup()
        raise BenchError("libjanus_media.so not in %s/plugins: build first" % modules_dir)
    return janus


def stop_janus(janus):
    if janus is None:
        return
    try:
        janus.stop(15)
    finally:
        janus.cleanup()


# ---------------------------------------------------------------------------
# HTTP (loopback, keep-alive)
# ---------------------------------------------------------------------------
def _check_loopback(url):
    host = urllib.parse.urlsplit(url).hostname or ""
    if not host.startswith("127."):
        raise BenchError("refusing non-loopback url %s" % url)


class Http:
    """A keep-alive HTTP/1.1 connection to one loopback port."""

    def __init__(self, port, timeout=20.0):
        self.port = port
        self.timeout = timeout
        self.conn = None

    def _connection(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        return self.conn

    def request(self, method, path, body=None):
        """(status, body bytes, seconds to the last byte); reconnects once."""
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        headers = {"Content-Type": "application/json"} if data is not None else {}
        for attempt in (1, 2):
            conn = self._connection()
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
                return resp.status, payload, time.perf_counter() - t0
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt == 2:
                    raise
        raise BenchError("unreachable")

    def post_json(self, path, body):
        status, payload, _ = self.request("POST", path, body)
        if status != 200:
            raise BenchError("POST %s: HTTP %d %r" % (path, status, payload[:200]))
        return json.loads(payload)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def janus_port(janus):
    return janus.http_port


def create_session(janus):
    r = Http(janus.http_port).post_json("/janus", {"janus": "create", "transaction": "c"})
    if r.get("janus") != "success":
        raise BenchError("create: %r" % r)
    return r["data"]["id"]


def attach(janus, session, plugin):
    r = Http(janus.http_port).post_json("/janus/%d" % session,
                                        {"janus": "attach", "plugin": plugin,
                                         "transaction": "a"})
    if r.get("janus") != "success":
        raise BenchError("attach %s: %r" % (plugin, r))
    return r["data"]["id"]


def attach_many(janus, plugin, count, sessions=10, threads=8, progress=None):
    """Attach count handles to plugin over `sessions` Janus sessions and `threads`
    keep-alive connections. Returns [(session, handle)]."""
    session_ids = [create_session(janus) for _ in range(sessions)]
    jobs = [session_ids[i % sessions] for i in range(count)]
    results = [None] * count
    errors = []
    lock = threading.Lock()

    def worker(first):
        conn = Http(janus.http_port)
        try:
            for i in range(first, count, threads):
                try:
                    r = conn.post_json("/janus/%d" % jobs[i],
                                       {"janus": "attach", "plugin": plugin,
                                        "transaction": "a%d" % i})
                    if r.get("janus") != "success":
                        raise BenchError("attach: %r" % r)
                    results[i] = (jobs[i], r["data"]["id"])
                except Exception as e:  # noqa: BLE001 (collected below)
                    with lock:
                        errors.append(repr(e))
        finally:
            conn.close()

    t0 = time.monotonic()
    workers = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(600)
    took = time.monotonic() - t0
    if errors or any(r is None for r in results):
        raise BenchError("%d of %d attaches failed: %s" % (len(errors), count, errors[:3]))
    if progress:
        progress.note("attached %d handles to %s in %.1f s (%.0f/s)"
                      % (count, plugin, took, count / max(took, 1e-9)))
    return results


# ---------------------------------------------------------------------------
# /metrics
# ---------------------------------------------------------------------------
def scrape(janus, timeout=20.0):
    """(seconds to the last byte, body text) of one GET /metrics on a new connection."""
    url = janus.metrics_url + "/metrics"
    _check_loopback(url)
    conn = Http(janus.metrics_port, timeout)
    try:
        status, body, took = conn.request("GET", "/metrics")
    finally:
        conn.close()
    if status != 200:
        raise BenchError("GET /metrics: HTTP %d" % status)
    return took, body.decode()


def parse_metrics(text):
    """{metric name: summed value over its series} plus {name{labels}: value}."""
    totals, series = {}, {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        try:
            key, value = line.rsplit(" ", 1)
            v = float(value)
        except ValueError:
            continue
        series[key] = v
        name = key.split("{", 1)[0]
        totals[name] = totals.get(name, 0.0) + v
    return totals, series


def metric(janus, name):
    return parse_metrics(scrape(janus)[1])[0].get(name, 0.0)


# ---------------------------------------------------------------------------
# wrk (HTTP load: POST bodies through a Lua script, exact percentiles in JSON)
# ---------------------------------------------------------------------------
WRK_DONE = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('JMEDIA_WRK {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""
WRK_POST = r"""
local f = assert(io.open(os.getenv("JMEDIA_WRK_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
""" + WRK_DONE


class Wrk:
    """wrk runs: a POST of a JSON body (the Janus API), or a GET when body is None (the
    session REST API)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="jmedia-bench-wrk-")
        self.lua = os.path.join(self.dir, "post.lua")
        with open(self.lua, "w") as f:
            f.write(WRK_POST)
        self.get_lua = os.path.join(self.dir, "get.lua")
        with open(self.get_lua, "w") as f:
            f.write(WRK_DONE)

    def _command(self, url, body, connections, seconds, threads):
        _check_loopback(url)
        env = dict(os.environ)
        script = self.get_lua
        if body is not None:
            body_path = os.path.join(self.dir, "body-%d.json" % os.getpid())
            with open(body_path, "w") as f:
                f.write(json.dumps(body))
            env["JMEDIA_WRK_BODY"] = body_path
            script = self.lua
        cmd = ["wrk", "-t%d" % min(threads, connections), "-c%d" % connections,
               "-d%ds" % max(1, round(seconds)), "--timeout", "10s", "-s", script, url]
        return cmd, env

    @staticmethod
    def _parse(returncode, stdout):
        line = [x for x in stdout.splitlines() if x.startswith("JMEDIA_WRK ")]
        if returncode != 0 or not line:
            raise BenchError("wrk failed (%d): %s" % (returncode, stdout[-500:]))
        r = json.loads(line[0][len("JMEDIA_WRK "):])
        errors = sum(r[k] for k in r if k.startswith("err_"))
        return {"rps": r["requests"] / (r["duration_us"] / 1e6),
                "p50_ms": r["p50_us"] / 1e3, "p90_ms": r["p90_us"] / 1e3,
                "p99_ms": r["p99_us"] / 1e3, "max_ms": r["max_us"] / 1e3,
                "requests": r["requests"], "errors": errors}

    def run(self, url, body, connections, seconds, threads=1):
        """One closed-loop run: {"rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "errors",
        "requests"}."""
        cmd, env = self._command(url, body, connections, seconds, threads)
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, env=env, timeout=seconds + 60)
        return self._parse(out.returncode, out.stdout)

    def start(self, url, body, connections, max_seconds, threads=1):
        """A run in the background, ended by stop() (or after max_seconds)."""
        cmd, env = self._command(url, body, connections, max_seconds, threads)
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=env)

    def stop(self, proc):
        """SIGINT to our wrk (it stops and reports), then its results."""
        import signal
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGINT)
        try:
            stdout, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            stdout, _ = proc.communicate(timeout=10)
        return self._parse(0, stdout)

    def cleanup(self):
        import shutil
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------
# perf (optional profile of the janus process: CPU share by shared object)
# ---------------------------------------------------------------------------
# Shared objects of the janus process, grouped for the profile table.
PROFILE_GROUPS = (
    ("our plugin + runtime", ("libjanus_media.so", "libjmedia_runtime.so")),
    ("our event handler", ("libjanus_mediaevh.so",)),
    ("our metrics transport", ("libjanus_prometheus.so",)),
    ("VideoRoom", ("libjanus_videoroom.so.1.1.2",)),
    ("Janus core", ("janus",)),
    ("SRTP (libsrtp2 + NSS)", ("libsrtp2.so.1", "libsoftokn3.so", "libfreeblpriv3.so",
                               "libnss3.so", "libnspr4.so", "libplc4.so", "libnssutil3.so")),
    ("libnice + GIO", ("libnice.so.10.13.1", "libgio-2.0.so.0.7400.6",
                       "libgobject-2.0.so.0.7400.6")),
    ("HTTP transport", ("libjanus_http.so.1.1.2", "libmicrohttpd.so.12.60.0")),
    ("jansson", ("libjansson.so.4.14.0",)),
    ("glib", ("libglib-2.0.so.0.7400.6",)),
    ("libc", ("libc.so.6",)),
    ("kernel", ("[kernel.kallsyms]",)),
)


def perf_available():
    try:
        r = subprocess.run(["perf", "record", "-o", "/dev/null", "-q", "--", "true"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        return r.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def perf_profile(pid, seconds, workdir, watch=()):
    """perf record (DWARF call graphs) of every CPU for `seconds`, kept for pid only
    (recording -p would open an event per thread, and Janus has one per handle).

    Returns {"samples": n, "self": {group: %}, "stack": {group: %}, "threads": {comm: %}}:
    "self" = samples whose innermost frame is in the group, "stack" = samples with a frame
    of the group anywhere on the stack (the group and what it calls), each sample counted
    once per group. watch: symbol substrings; "watched" = {substring: % of samples with a frame
    of ours whose symbol contains it}."""
    data = os.path.join(workdir, "perf-%d.data" % pid)
    # 16 KB of stack per sample at 299 Hz per CPU: big per-CPU buffers (-m), or a busy
    # machine makes perf lose most samples.
    rec = subprocess.run(["perf", "record", "-q", "-a", "-F", "299", "-m", "64M",
                          "--call-graph", "dwarf,16384", "-o", data, "--", "sleep",
                          str(seconds)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=seconds + 120)
    if rec.returncode != 0 or not os.path.exists(data):
        raise BenchError("perf record failed: %s" % rec.stdout[-300:])
    try:
        script = subprocess.run(["perf", "script", "-i", data, "--no-inline", "--pid", str(pid),
                                 "-F", "comm,pid,tid,ip,sym,dso"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                timeout=300)
    finally:
        os.unlink(data)
    group_of = {dso: g for g, dsos in PROFILE_GROUPS for dso in dsos}
    ours = {d for g, dsos in PROFILE_GROUPS if g.startswith("our ") for d in dsos}
    samples = 0
    selfs, stacks, threads, functions = {}, {}, {}, {}
    watched = {w: 0 for w in watch}

    def account(comm, frames):
        nonlocal samples
        if not frames:
            return
        samples += 1
        threads[comm] = threads.get(comm, 0) + 1
        first = group_of.get(frames[0][0], "other")
        selfs[first] = selfs.get(first, 0) + 1
        for g in {group_of.get(dso, "other") for dso, _ in frames}:
            stacks[g] = stacks.get(g, 0) + 1
        for fn in {_short_symbol(sym) for dso, sym in frames if dso in ours}:
            functions[fn] = functions.get(fn, 0) + 1
        for w in watch:
            if any(w in sym for dso, sym in frames if dso in ours):
                watched[w] += 1

    comm, frames = None, []
    for line in script.stdout.splitlines():
        if not line.strip():
            account(comm, frames)
            comm, frames = None, []
        elif line[0] not in " \t":
            account(comm, frames)
            head = line.split()
            comm = " ".join(head[:-1]) if len(head) > 1 and "/" in head[-1] else head[0]
            frames = []
        elif line.rstrip().endswith(")") and " (" in line:
            head, dso = line.rstrip()[:-1].rsplit(" (", 1)
            sym = head.strip().split(None, 1)[1] if len(head.split()) > 1 else "?"
            frames.append((os.path.basename(dso), sym))
    account(comm, frames)
    if samples < 100:
        raise BenchError("perf kept only %d samples of pid %d (lost to a busy machine?)"
                         % (samples, pid))

    def pct(d):
        return {k: round(100.0 * v / samples, 2) for k, v in d.items()}

    top = dict(sorted(pct(functions).items(), key=lambda kv: -kv[1])[:8])
    return {"samples": samples, "self": pct(selfs), "stack": pct(stacks),
            "threads": pct(threads), "our_functions": top, "watched": pct(watched)}


def _short_symbol(sym):
    """jmedia::ShardedMap<std::string, ...>::page -> jmedia::ShardedMap<>::page"""
    out, depth = [], 0
    for ch in sym.replace("(anonymous namespace)", "{anon}"):
        if ch == "<":
            if depth == 0:
                out.append("<>")
            depth += 1
        elif ch == ">" and depth:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out).split("(", 1)[0]
