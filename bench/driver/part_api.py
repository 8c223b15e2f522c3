"""Part "api": sync plugin requests vs the core's ping vs VideoRoom's list, through Janus's
stock HTTP transport, with wrk (closed loop, keep-alive) at 1, 10 and 100 connections.

Two Janus nodes run side by side for the whole part: shards = 32 and shards = 1, each with
`handles` handles attached to janus.plugin.media (10,000: the table `list` pages over) and
one handle attached to janus.plugin.videoroom. Every (concurrency, endpoint, node) run is
repeated `reps` times, interleaved, so that the ratios compare runs minutes apart at most.
"""

import os
import tempfile
import time

from common import (MEDIA, VIDEOROOM, BenchError, Http, Wrk, attach, attach_many,
                    create_session, metric, perf_available, perf_profile, start_janus,
                    stop_janus)

ENDPOINTS = ("ping", "list", "info", "videoroom_list")
CONCURRENCY = (1, 10, 100)
SHARDS = (32, 1)


def _endpoints(janus, media_pair, videoroom_pair, media_session):
    media_path = "/janus/%d/%d" % media_pair
    return {
        "ping": ("/janus", {"janus": "ping", "transaction": "bench"}),
        "list": (media_path, {"janus": "message", "transaction": "bench",
                              "body": {"request": "list", "limit": 10}}),
        "info": (media_path, {"janus": "message", "transaction": "bench",
                              "body": {"request": "info", "media_session": media_session}}),
        "videoroom_list": ("/janus/%d/%d" % videoroom_pair,
                           {"janus": "message", "transaction": "bench",
                            "body": {"request": "list"}}),
    }


def _check_reply(name, reply):
    """Each endpoint answers what it should (wrk only sees HTTP 200)."""
    data = (reply.get("plugindata") or {}).get("data") or {}
    ok = {
        "ping": reply.get("janus") == "pong",
        "list": reply.get("janus") == "success" and data.get("media") == "list"
        and len(data.get("sessions") or []) == 10 and data.get("next_cursor"),
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
        for name, (path, body) in endpoints.items():
            _check_reply(name, http.post_json(path, body))
        http.close()
        table = metric(janus, "janus_media_handles")
        if int(table) != handles:
            raise BenchError("shards=%d: janus_media_handles is %s, expected %d"
                             % (shards, table, handles))
        return janus, endpoints
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
        for shards, (janus, endpoints) in nodes.items():
            for name, (path, body) in endpoints.items():
                wrk.run(janus.http_url.rsplit("/janus", 1)[0] + path, body, 10, 1)
        for rep in range(reps):
            order = ENDPOINTS[rep % len(ENDPOINTS):] + ENDPOINTS[:rep % len(ENDPOINTS)]
            shard_order = SHARDS if rep % 2 == 0 else tuple(reversed(SHARDS))
            for c in CONCURRENCY:
                for name in order:
                    for shards in shard_order:
                        janus, endpoints = nodes[shards]
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
        for janus, _ in nodes.values():
            stop_janus(janus)
        wrk.cleanup()
    return {"config": {"handles": handles, "seconds": seconds, "reps": reps,
                       "concurrency": list(CONCURRENCY), "tool": "wrk -t1 (Lua POST body)",
                       "transport": "janus.transport.http (stock)"},
            "runs": runs, "profile": profile}


def _profile(ctx, wrk, node):
    """perf of the janus process (shards = 32) under c = 100 for each endpoint: share of
    its CPU samples in our modules (self and with callees) vs the rest."""
    if not perf_available():
        ctx.progress.note("perf not usable here: no profile")
        return None
    janus, endpoints = node
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
