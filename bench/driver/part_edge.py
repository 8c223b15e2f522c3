"""Part "edge": janus.transport.edge against the stock transports (janus.transport.http and
janus.transport.websockets) carrying the same Janus API requests: the core's `ping`, and
janus.plugin.media's `info` and `list` (a page of 10), over HTTP (wrk, keep-alive) and over
WebSocket (bench/ws_load), at 1, 10 and 100 connections, each connection with one request
in flight (closed loop).

Two Janus nodes run side by side for the whole part, one per API transport, each with
HANDLES handles attached to janus.plugin.media; runs alternate between them within each
repetition. The edge's per-connection request rate and per-address connection count are
raised for this part (EDGE_SETTINGS): its bounds would otherwise refuse the load generator,
which is one client address. Every other bound of the edge is at its default.

Then WebSocket `ping` again at 1 and 10 connections with `idle` idle WebSocket connections
held open on each node, as a node serving many devices has them.

Then the memory a Janus spends per idle WebSocket connection, on nodes started for that
alone: `idle` connections opened, bare (handshake done, nothing sent) or each with a Janus
session created first (as janus.js does): the janus process's RSS before and once it has
settled, and the bytes its heap has in use (glibc's malloc_stats() through gdb), which leave
out what the allocator keeps of freed memory (the handshakes' buffers).
"""

import os
import subprocess
import time

from common import (EDGE_UNBOUNDED, MEDIA, BenchError, Http, Wrk, attach_many, heap_in_use,
                    metric, proc_cpu_seconds, proc_status, report_run, start_janus, stop_janus)

TRANSPORTS = ("edge", "stock")  # the node's API transport
PROTOCOLS = ("http", "ws")
ENDPOINTS = ("ping", "info", "list")
CONCURRENCY = (1, 10, 100)
LOADED_CONCURRENCY = (1, 10)  # WebSocket ping with the idle connections open
HANDLES = 1000
LIST_LIMIT = 10
EDGE_SETTINGS = EDGE_UNBOUNDED
EXPECT = {"ping": "pong", "info": '"info"', "list": '"list"'}


def _bodies(media_session):
    """{endpoint: (JSON template for ws_load, whether it goes to a plugin handle)}; $T, $S
    and $H are the transaction, session and handle (ws_load's substitutions)."""
    message = ('{"janus":"message","transaction":"$T","session_id":$S,"handle_id":$H,'
               '"body":%s}')
    return {
        "ping": ('{"janus":"ping","transaction":"$T"}', False),
        "info": (message % ('{"request":"info","media_session":"%s"}' % media_session), True),
        "list": (message % ('{"request":"list","limit":%d}' % LIST_LIMIT), True),
    }


class Node:
    """One Janus with its API transport, HANDLES media handles, and what each endpoint
    needs: a session and handle for the plugin's requests over HTTP."""

    def __init__(self, ctx, transport, handles):
        self.transport = transport
        self.janus = start_janus(ctx.modules_dir, api_transport=transport,
                                 edge_settings=EDGE_SETTINGS if transport == "edge" else None)
        try:
            loaded = self.janus.config_info.get("transports") or []
            if transport == "edge" and not any("edge" in t for t in loaded):
                raise BenchError("libjanus_edge.so not loaded (%s): build first" % loaded)
            self.pairs = attach_many(self.janus, MEDIA, handles, progress=ctx.progress)
            http = Http(self.janus.http_port)
            r = http.post_json("/janus/%d/%d" % self.pairs[0],
                               {"janus": "message", "transaction": "t",
                                "body": {"request": "list", "limit": 1}})
            http.close()
            self.media_session = r["plugindata"]["data"]["sessions"][0]["media_session"]
            if int(metric(self.janus, "janus_media_handles")) != handles:
                raise BenchError("%s: janus_media_handles is not %d" % (transport, handles))
        except BaseException:
            stop_janus(self.janus)
            raise

    def http_request(self, endpoint):
        """(url, body) for wrk."""
        base = self.janus.http_url
        handle = "%s/%d/%d" % ((base,) + self.pairs[0])
        return {
            "ping": (base, {"janus": "ping", "transaction": "bench"}),
            "info": (handle, {"janus": "message", "transaction": "bench",
                              "body": {"request": "info",
                                       "media_session": self.media_session}}),
            "list": (handle, {"janus": "message", "transaction": "bench",
                              "body": {"request": "list", "limit": LIST_LIMIT}}),
        }[endpoint]


def _ws_load(ctx, args, timeout):
    exe = os.path.join(ctx.build_dir, "bench", "ws_load")
    if not os.path.exists(exe):
        raise BenchError("%s missing: build first (scripts/benchmark builds it)" % exe)
    out = subprocess.run([exe] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, timeout=timeout)
    line = [x for x in out.stdout.splitlines() if x.startswith("JMEDIA_WS ")]
    if out.returncode != 0 or not line:
        raise BenchError("ws_load %s failed (%d): %s %s" % (" ".join(args[:4]), out.returncode,
                                                            out.stdout[-300:], out.stderr[-500:]))
    import json
    return json.loads(line[0][len("JMEDIA_WS "):])


def _run_ws(ctx, node, endpoint, connections, seconds):
    template, plugin = _bodies(node.media_session)[endpoint]
    args = ["--port", str(node.janus.ws_port), "--connections", str(connections),
            "--seconds", str(seconds), "--request", template, "--expect", EXPECT[endpoint]]
    if plugin:
        args += ["--attach", MEDIA]
    r = _ws_load(ctx, args, seconds + 90)
    return {"rps": r["requests"] / (r["duration_us"] / 1e6), "p50_ms": r["p50_us"] / 1e3,
            "p90_ms": r["p90_us"] / 1e3, "p99_ms": r["p99_us"] / 1e3,
            "max_ms": r["max_us"] / 1e3, "requests": r["requests"], "errors": r["errors"],
            "client_cpu_share": r["cpu_s"] / (r["duration_us"] / 1e6)}


def _hold_idle(ctx, port, count, request=None):
    """ws_load holding count idle connections to port (each after request, when given)
    until _release_idle."""
    exe = os.path.join(ctx.build_dir, "bench", "ws_load")
    args = [exe, "--port", str(port), "--idle", str(count)]
    if request:
        args += ["--idle-request", request]
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("JMEDIA_WS_READY"):
        proc.kill()
        proc.wait(10)
        raise BenchError("ws_load --idle %d: %r %s" % (count, line, proc.stderr.read()[-500:]))
    return proc


def _release_idle(proc):
    try:
        proc.stdin.close()
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _settled_rss(pid, seconds=10.0):
    """The process's RSS once two readings 0.5 s apart differ by less than 64 KiB (bounded)."""
    last = proc_status(pid)["rss_bytes"]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = proc_status(pid)["rss_bytes"]
        if abs(now - last) < 64 * 1024:
            return now
        last = now
    return last


IDLE_KINDS = {
    # handshake done, nothing sent
    "bare": None,
    # a Janus session created on it first, as janus.js does before it waits
    "session": '{"janus":"create","transaction":"$T"}',
}


def _idle_memory(ctx, transport, count, kind):
    """RSS per idle WebSocket connection (count of them) of a Janus started for it alone: on
    a node that served load before, they would reuse what its heap freed."""
    janus = start_janus(ctx.modules_dir, api_transport=transport,
                        edge_settings=EDGE_SETTINGS if transport == "edge" else None)
    try:
        pid = janus.pid
        before = _settled_rss(pid)
        heap_before = heap_in_use(janus)
        proc = _hold_idle(ctx, janus.ws_port, count, IDLE_KINDS[kind])
        try:
            during = _settled_rss(pid)
            heap_during = heap_in_use(janus)
            fds = len(os.listdir("/proc/%d/fd" % pid))
        finally:
            _release_idle(proc)
        heap = (None if heap_before is None or heap_during is None
                else (heap_during - heap_before) / count)
        return {"connections": count, "kind": kind, "rss_before": before,
                "rss_during": during, "fds_during": fds,
                "bytes_per_connection": (during - before) / count,
                "heap_bytes_per_connection": heap}
    finally:
        stop_janus(janus)


def run(ctx):
    q = ctx.quick
    seconds = 1.0 if q else 2.0
    reps = ctx.reps or (1 if q else 5)
    idle = 200 if q else 2000
    idle_reps = 1 if q else 3
    wrk = Wrk()
    nodes = {}
    runs = {p: {e: {str(c): {t: [] for t in TRANSPORTS} for c in CONCURRENCY}
                for e in ENDPOINTS} for p in PROTOCOLS}
    runs["ws_idle"] = {"ping": {str(c): {t: [] for t in TRANSPORTS}
                                for c in LOADED_CONCURRENCY}}
    memory = {kind: {t: [] for t in TRANSPORTS} for kind in IDLE_KINDS}
    total = reps * len(TRANSPORTS) * (len(PROTOCOLS) * len(ENDPOINTS) * len(CONCURRENCY)
                                      + len(LOADED_CONCURRENCY))
    ctx.progress.begin("edge", total + idle_reps * len(TRANSPORTS) * len(IDLE_KINDS),
                       "%d reps x %d runs of %.0f s, %d handles per node; %d idle connections"
                       % (reps, total // reps, seconds, HANDLES, idle))
    cpu = {}
    try:
        for t in TRANSPORTS:
            nodes[t] = Node(ctx, t, HANDLES)
            ctx.progress.note("%s: janus pid %d" % (t, nodes[t].janus.pid))
        for t, node in nodes.items():  # warm-up
            for e in ENDPOINTS:
                url, body = node.http_request(e)
                wrk.run(url, body, 10, 1)
                _run_ws(ctx, node, e, 10, 0.5)
            cpu[t] = proc_cpu_seconds(node.janus.pid)
        for rep in range(reps):
            order = TRANSPORTS if rep % 2 == 0 else tuple(reversed(TRANSPORTS))
            for protocol in PROTOCOLS:
                for c in CONCURRENCY:
                    for e in ENDPOINTS:
                        for t in order:
                            node = nodes[t]
                            if protocol == "http":
                                url, body = node.http_request(e)
                                r = wrk.run(url, body, c, seconds)
                            else:
                                r = _run_ws(ctx, node, e, c, seconds)
                            runs[protocol][e][str(c)][t].append(r)
                            report_run(ctx, "rep %d %-4s c=%-3d %-4s %-5s"
                                       % (rep + 1, protocol, c, e, t), r)
        for t, node in nodes.items():
            cpu[t] = proc_cpu_seconds(node.janus.pid) - cpu[t]
        # WebSocket ping again with `idle` idle connections open on each node, as a node
        # serving many devices has: what each event costs when many connections sit open.
        holders = [_hold_idle(ctx, node.janus.ws_port, idle) for node in nodes.values()]
        try:
            for rep in range(reps):
                order = TRANSPORTS if rep % 2 == 0 else tuple(reversed(TRANSPORTS))
                for c in LOADED_CONCURRENCY:
                    for t in order:
                        r = _run_ws(ctx, nodes[t], "ping", c, seconds)
                        runs["ws_idle"]["ping"][str(c)][t].append(r)
                        report_run(ctx, "rep %d ws + %d idle c=%-3d ping %-5s"
                                % (rep + 1, idle, c, t), r)
        finally:
            for holder in holders:
                _release_idle(holder)
        threads = {t: proc_status(n.janus.pid)["threads"] for t, n in nodes.items()}
        for node in nodes.values():
            stop_janus(node.janus)
        nodes = {}
        for rep in range(idle_reps):
            order = TRANSPORTS if rep % 2 == 0 else tuple(reversed(TRANSPORTS))
            for kind in IDLE_KINDS:
                for t in order:
                    m = _idle_memory(ctx, t, idle, kind)
                    memory[kind][t].append(m)
                    ctx.progress.step("rep %d idle %-7s %-5s %d connections: RSS %.2f KiB, heap "
                                      "%s KiB each" % (rep + 1, kind, t, idle,
                                                       m["bytes_per_connection"] / 1024,
                                                       "-" if m["heap_bytes_per_connection"] is None
                                                       else "%.2f" % (m["heap_bytes_per_connection"]
                                                                      / 1024)))
    finally:
        for node in nodes.values():
            stop_janus(node.janus)
        wrk.cleanup()
    return {"config": {"handles": HANDLES, "seconds": seconds, "reps": reps,
                       "concurrency": list(CONCURRENCY), "list_limit": LIST_LIMIT,
                       "edge_settings": EDGE_SETTINGS, "idle_connections": idle,
                       "tools": {"http": "wrk -t1 (Lua POST body)",
                                 "ws": "bench/ws_load (one thread, epoll)"}},
            "runs": runs, "idle_memory": memory, "janus_cpu_s": cpu,
            "threads_after": threads}
