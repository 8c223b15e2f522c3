"""Part "api": sync plugin requests vs the core's ping vs VideoRoom's list, through Janus's
stock HTTP transport, with wrk (closed loop, keep-alive) at 1, 10 and 100 connections.

Two Janus nodes run side by side for the whole part: shards = 32 and shards = 1, each with
`handles` handles attached to janus.plugin.media (10,000: the table `list` pages over) and
one handle attached to janus.plugin.videoroom. Every (concurrency, endpoint, node) run is
repeated `reps` times, interleaved, so that the ratios compare runs minutes apart at most.
`list` is a page of 10 (summaries, the default), `list_100` one of 100 (the default limit).

Then, when valgrind and build-bench/bench/list_cost are there, the instructions of one `list`
(limit 10 and 100, summaries and "detail") through MediaPlugin::handle_message against a fake
core, and of serialising its reply as Janus's HTTP transport does: counts no load on the
machine can move.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time

from common import (MEDIA, VIDEOROOM, BenchError, Http, Wrk, attach, attach_many,
                    create_session, metric, perf_available, perf_profile, start_janus,
                    stop_janus)

ENDPOINTS = ("ping", "list", "list_100", "info", "videoroom_list")
CONCURRENCY = (1, 10, 100)
SHARDS = (32, 1)
LIST_LIMITS = {"list": 10, "list_100": 100}
SUMMARY_FIELDS = {"media_session", "device_id", "role", "state"}  # docs/API.md, <summary>


def _endpoints(janus, media_pair, videoroom_pair, media_session):
    media_path = "/janus/%d/%d" % media_pair
    return {
        "ping": ("/janus", {"janus": "ping", "transaction": "bench"}),
        "list": (media_path, {"janus": "message", "transaction": "bench",
                              "body": {"request": "list", "limit": LIST_LIMITS["list"]}}),
        "list_100": (media_path, {"janus": "message", "transaction": "bench",
                                  "body": {"request": "list",
                                           "limit": LIST_LIMITS["list_100"]}}),
        "info": (media_path, {"janus": "message", "transaction": "bench",
                              "body": {"request": "info", "media_session": media_session}}),
        "videoroom_list": ("/janus/%d/%d" % videoroom_pair,
                           {"janus": "message", "transaction": "bench",
                            "body": {"request": "list"}}),
    }


def _check_reply(name, reply):
    """Each endpoint answers what it should (wrk only sees HTTP 200)."""
    data = (reply.get("plugindata") or {}).get("data") or {}
    if name in LIST_LIMITS:
        sessions = data.get("sessions") or []
        ok = (reply.get("janus") == "success" and data.get("media") == "list"
              and len(sessions) == LIST_LIMITS[name] and data.get("next_cursor")
              and all(set(s) == SUMMARY_FIELDS for s in sessions))
    else:
        ok = {
            "ping": reply.get("janus") == "pong",
            "info": reply.get("janus") == "success" and data.get("media") == "info",
            "videoroom_list": reply.get("janus") == "success"
            and data.get("videoroom") == "success",
        }[name]
    if not ok:
        raise BenchError("%s: unexpected reply %r" % (name, reply))


def _prepare(ctx, shards, handles):
    janus = start_janus(ctx.modules_dir, shards=shards)
    try:
        ctx.progress.note("shards=%d: janus pid %d, attaching %d handles"
                          % (shards, janus.pid, handles))
        pairs = attach_many(janus, MEDIA, handles, progress=ctx.progress)
        session = create_session(janus)
        videoroom = (session, attach(janus, session, VIDEOROOM))
        http = Http(janus.http_port)
        r = http.post_json("/janus/%d/%d" % pairs[0],
                           {"janus": "message", "transaction": "t",
                            "body": {"request": "list", "limit": 1}})
        media_session = r["plugindata"]["data"]["sessions"][0]["media_session"]
        endpoints = _endpoints(janus, pairs[0], videoroom, media_session)
        reply_bytes = {}
        for name, (path, body) in endpoints.items():
            status, payload, _ = http.request("POST", path, body)
            if status != 200:
                raise BenchError("%s: HTTP %d %r" % (name, status, payload[:200]))
            _check_reply(name, json.loads(payload))
            reply_bytes[name] = len(payload)
        http.close()
        table = metric(janus, "janus_media_handles")
        if int(table) != handles:
            raise BenchError("shards=%d: janus_media_handles is %s, expected %d"
                             % (shards, table, handles))
        return janus, endpoints, reply_bytes
    except BaseException:
        stop_janus(janus)
        raise


def run(ctx):
    q = ctx.quick
    handles = 1000 if q else 10000
    seconds = 1.0 if q else 2.0
    reps = ctx.reps or (1 if q else 5)
    wrk = Wrk()
    nodes = {}
    runs = {str(s): {e: {str(c): [] for c in CONCURRENCY} for e in ENDPOINTS} for s in SHARDS}
    profile = None
    total = reps * len(CONCURRENCY) * len(ENDPOINTS) * len(SHARDS)
    ctx.progress.begin("api", total, "%d reps x %d runs of %.0f s, %d handles per node"
                       % (reps, total // reps, seconds, handles))
    try:
        for shards in SHARDS:
            nodes[shards] = _prepare(ctx, shards, handles)
        # Warm-up: thread pools, connections, caches.
        for shards, (janus, endpoints, _) in nodes.items():
            for name, (path, body) in endpoints.items():
                wrk.run(janus.http_url.rsplit("/janus", 1)[0] + path, body, 10, 1)
        for rep in range(reps):
            order = ENDPOINTS[rep % len(ENDPOINTS):] + ENDPOINTS[:rep % len(ENDPOINTS)]
            shard_order = SHARDS if rep % 2 == 0 else tuple(reversed(SHARDS))
            for c in CONCURRENCY:
                for name in order:
                    for shards in shard_order:
                        janus, endpoints, _ = nodes[shards]
                        path, body = endpoints[name]
                        url = janus.http_url.rsplit("/janus", 1)[0] + path
                        r = wrk.run(url, body, c, seconds)
                        runs[str(shards)][name][str(c)].append(r)
                        ctx.progress.step(
                            "rep %d c=%-3d %-14s shards=%-2d %8.0f req/s  p50 %6.2f ms  "
                            "p99 %6.2f ms%s" % (rep + 1, c, name, shards, r["rps"], r["p50_ms"],
                                                r["p99_ms"],
                                                "  ERRORS %d" % r["errors"] if r["errors"]
                                                else ""))
        if ctx.profile:
            profile = _profile(ctx, wrk, nodes[32])
    finally:
        for janus, _, _ in nodes.values():
            stop_janus(janus)
        wrk.cleanup()
    return {"config": {"handles": handles, "seconds": seconds, "reps": reps,
                       "concurrency": list(CONCURRENCY), "tool": "wrk -t1 (Lua POST body)",
                       "transport": "janus.transport.http (stock)",
                       "list_limits": LIST_LIMITS, "reply_bytes": nodes[32][2]},
            "runs": runs, "profile": profile, "callgrind": _callgrind(ctx, handles)}


def _profile(ctx, wrk, node):
    """perf of the janus process (shards = 32) under c = 100 for each endpoint: share of
    its CPU samples in our modules (self and with callees) vs the rest."""
    if not perf_available():
        ctx.progress.note("perf not usable here: no profile")
        return None
    janus, endpoints, _ = node
    out = {}
    workdir = tempfile.mkdtemp(prefix="jmedia-bench-perf-")
    try:
        for name in ENDPOINTS:
            path, body = endpoints[name]
            url = janus.http_url.rsplit("/janus", 1)[0] + path
            # perf first synthesises every thread of the machine (Janus: one per handle),
            # which takes seconds: the load runs until perf is done.
            load = wrk.start(url, body, 100, 300)
            try:
                time.sleep(1.0)
                out[name] = perf_profile(janus.pid, 4, workdir)
            except BenchError as e:
                ctx.progress.note("profile %s: %s" % (name, e))
                continue
            finally:
                try:
                    rps = wrk.stop(load)["rps"]
                except BenchError:
                    rps = None
            out[name]["rps_under_perf"] = rps
            ctx.progress.note("profile %s: %.1f %% of janus CPU samples in our plugin "
                              "(with what it calls)"
                              % (name, out[name]["stack"].get("our plugin + runtime", 0.0)))
    finally:
        for f in os.listdir(workdir):
            os.unlink(os.path.join(workdir, f))
        os.rmdir(workdir)
    return out or None


# (label, request body) of the callgrind runs: list pages as the benchmark asks for them, and
# the same with the whole session objects.
CALLGRIND_BODIES = (
    ("limit 10", {"request": "list", "limit": 10}),
    ("limit 10, detail", {"request": "list", "limit": 10, "detail": True}),
    ("limit 100", {"request": "list", "limit": 100}),
    ("limit 100, detail", {"request": "list", "limit": 100, "detail": True}),
)


def _callgrind(ctx, handles):
    """{label: {"request_ir", "serialise_ir", "reply_bytes"}} per request: bench/list_cost
    (MediaPlugin against a fake core, `handles` idle sessions, 32 shards) under callgrind,
    once collecting measure_request() (handle_message: parse, page, reply) and once
    measure_serialise() (json_dumps of the reply, JSON_INDENT(3) as Janus's HTTP transport).
    None when valgrind or list_cost is missing."""
    exe = os.path.join(ctx.build_dir, "bench", "list_cost")
    if not shutil.which("valgrind") or not os.path.exists(exe):
        ctx.progress.note("no valgrind or no %s: no instruction counts" % exe)
        return None
    iterations = 10 if ctx.quick else 50
    out = {}
    workdir = tempfile.mkdtemp(prefix="jmedia-callgrind-")
    try:
        for label, body in CALLGRIND_BODIES:
            row = {}
            for key, function in (("request_ir", "measure_request"),
                                  ("serialise_ir", "measure_serialise")):
                cg = os.path.join(workdir, "cg.out")
                r = subprocess.run(["valgrind", "--tool=callgrind",
                                    "--toggle-collect=*%s*" % function,
                                    "--callgrind-out-file=" + cg, exe, json.dumps(body),
                                    str(iterations), str(handles)],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                   timeout=600)
                if r.returncode != 0:
                    raise BenchError("callgrind of list_cost %s failed" % label)
                result = json.loads(r.stdout.strip().splitlines()[-1])
                with open(cg) as f:
                    events, totals = [], []
                    for line in f:
                        if line.startswith("events:"):
                            events = line.split()[1:]
                        elif line.startswith("summary:"):
                            totals = [int(x) for x in line.split()[1:]]
                os.unlink(cg)
                row[key] = dict(zip(events, totals)).get("Ir", 0) / result["iterations"]
                row["reply_bytes"] = result["reply_bytes"]
            out[label] = row
            ctx.progress.note("callgrind list %-18s %9.0f instructions per request, %9.0f to "
                              "serialise its %d-byte reply" % (label, row["request_ir"],
                                                               row["serialise_ir"],
                                                               row["reply_bytes"]))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {"iterations": iterations, "sessions": handles, "per_request": out}
