"""Part "api": sync plugin requests vs the core's ping vs VideoRoom's list, through Janus's
stock HTTP transport, and the same reads through the session REST API of
janus.transport.prometheus (GET /api/media/sessions?limit=10 and /api/media/sessions/{id}),
with wrk (closed loop, keep-alive) at 1, 10 and 100 connections.

Two Janus nodes run side by side for the whole part: shards = 32 and shards = 1, each with
`handles` handles attached to janus.plugin.media (10,000: the table `list` pages over) and
one handle attached to janus.plugin.videoroom. Every (concurrency, endpoint, node) run is
repeated `reps` times, interleaved, so that the ratios compare runs minutes apart at most.
`list` is a page of 10 (summaries, the default), `list_100` one of 100 (the default limit).

Then the REST reads again while a writer churns sessions on the same node (WRITER_LOOPS
loops of attach, echo with an offer, the core's hangup, detach, over the WebSocket
transport: every lifecycle adds a session, gives it a role, takes the role back and removes
the session, the writes that contend with the reads for the table's shard locks), shards =
32 vs shards = 1.

Then, when valgrind and build-bench/bench/list_cost are there, the instructions of one `list`
(limit 10 and 100, summaries and "detail") through MediaPlugin::handle_message against a fake
core, and of serialising its reply as Janus's HTTP transport does: counts no load on the
machine can move.
"""

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time

from common import (MEDIA, VIDEOROOM, BenchError, Http, Wrk, attach, attach_many,
                    callgrind_totals, create_session, metric, perf_available, perf_profile,
                    report_run, start_janus, stop_janus)

ENDPOINTS = ("ping", "list", "list_100", "info", "videoroom_list", "rest_list", "rest_info")
REST = ("rest_list", "rest_info")  # GET on the metrics listener (no body)
CONCURRENCY = (1, 10, 100)
SHARDS = (32, 1)
LIST_LIMITS = {"list": 10, "list_100": 100, "rest_list": 10}
SUMMARY_FIELDS = {"media_session", "device_id", "role", "state"}  # docs/API.md, <summary>
WRITER_LOOPS = 4


def _endpoints(janus, media_pair, videoroom_pair, media_session):
    """{name: (url, POST body or None for a GET)}."""
    media_path = "/janus/%d/%d" % media_pair
    base = janus.http_url.rsplit("/janus", 1)[0]
    rest = janus.metrics_url
    endpoints = {
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
    out = {name: (base + path, body) for name, (path, body) in endpoints.items()}
    out["rest_list"] = (rest + "/api/media/sessions?limit=%d" % LIST_LIMITS["rest_list"], None)
    out["rest_info"] = (rest + "/api/media/sessions/" + media_session, None)
    return out


def _check_reply(name, reply):
    """Each endpoint answers what it should (wrk only sees HTTP 200)."""
    data = reply if name in REST else (reply.get("plugindata") or {}).get("data") or {}
    if name == "rest_list":
        sessions = data.get("sessions") or []
        ok = (data.get("media") == "list" and len(sessions) == LIST_LIMITS[name]
              and data.get("next_cursor") and all(set(s) == SUMMARY_FIELDS for s in sessions))
    elif name == "rest_info":
        ok = data.get("media") == "info" and "session" in data
    elif name in LIST_LIMITS:
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
        rest = Http(janus.metrics_port)
        for name, (url, body) in endpoints.items():
            path = url.split("/", 3)[3]
            if body is None:
                status, payload, _ = rest.request("GET", "/" + path)
            else:
                status, payload, _ = http.request("POST", "/" + path, body)
            if status != 200:
                raise BenchError("%s: HTTP %d %r" % (name, status, payload[:200]))
            _check_reply(name, json.loads(payload))
            reply_bytes[name] = len(payload)
        http.close()
        rest.close()
        table = metric(janus, "janus_media_handles")
        if int(table) != handles:
            raise BenchError("shards=%d: janus_media_handles is %s, expected %d"
                             % (shards, table, handles))
        return janus, endpoints, reply_bytes
    except BaseException:
        stop_janus(janus)
        raise


def _canned_offer(path):
    """An aiortc offer (audio + video), written to path: the writer sends it again and again
    (the core builds an ICE agent for each and checks a candidate that never answers)."""
    import harness
    from common import run_async

    async def offer():
        pc = harness.new_peer_connection()
        try:
            return await harness.sendrecv_offer(pc)
        finally:
            await asyncio.wait_for(pc.close(), 10)

    with open(path, "w") as f:
        f.write(run_async(offer()))


def _start_writer(janus, offer_path):
    """This file run as the writer (below) against janus, in a process of its own."""
    import sys
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--writer", janus.ws_url,
                             str(WRITER_LOOPS), offer_path],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # It says "started" once its loops have done a first lifecycle each.
    line = proc.stdout.readline()
    if not line.startswith("started"):
        proc.kill()
        raise BenchError("writer did not start: %r %s" % (line, proc.stderr.read()[-500:]))
    return proc


def _stop_writer(proc):
    import signal
    os.kill(proc.pid, signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=10)
        raise BenchError("writer did not stop: %s" % err[-500:])
    lines = [x for x in out.splitlines() if x.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise BenchError("writer failed (%s): %s" % (proc.returncode, err[-500:]))
    return json.loads(lines[-1])


def run(ctx):
    q = ctx.quick
    handles = 1000 if q else 10000
    seconds = 1.0 if q else 2.0
    reps = ctx.reps or (1 if q else 5)
    wrk = Wrk()
    nodes = {}
    runs = {str(s): {e: {str(c): [] for c in CONCURRENCY} for e in ENDPOINTS} for s in SHARDS}
    churn = {str(s): {e: {str(c): [] for c in CONCURRENCY} for e in REST} for s in SHARDS}
    writer = {str(s): [] for s in SHARDS}
    profile = writer_profile = None
    total = reps * len(CONCURRENCY) * (len(ENDPOINTS) + len(REST)) * len(SHARDS)
    ctx.progress.begin("api", total, "%d reps x %d runs of %.0f s, %d handles per node"
                       % (reps, total // reps, seconds, handles))
    workdir = tempfile.mkdtemp(prefix="jmedia-bench-api-")
    try:
        for shards in SHARDS:
            nodes[shards] = _prepare(ctx, shards, handles)
        # Warm-up: thread pools, connections, caches.
        for shards, (janus, endpoints, _) in nodes.items():
            for name, (url, body) in endpoints.items():
                wrk.run(url, body, 10, 1)
        for rep in range(reps):
            order = ENDPOINTS[rep % len(ENDPOINTS):] + ENDPOINTS[:rep % len(ENDPOINTS)]
            shard_order = SHARDS if rep % 2 == 0 else tuple(reversed(SHARDS))
            for c in CONCURRENCY:
                for name in order:
                    for shards in shard_order:
                        url, body = nodes[shards][1][name]
                        r = wrk.run(url, body, c, seconds)
                        runs[str(shards)][name][str(c)].append(r)
                        report_run(ctx, "rep %d c=%-3d %-14s shards=%-2d"
                                   % (rep + 1, c, name, shards), r)
        # The REST reads again, with a writer churning sessions on the node being read.
        offer_path = os.path.join(workdir, "offer.sdp")
        _canned_offer(offer_path)
        for rep in range(reps):
            shard_order = SHARDS if rep % 2 == 0 else tuple(reversed(SHARDS))
            for shards in shard_order:
                janus, endpoints, _ = nodes[shards]
                proc = _start_writer(janus, offer_path)
                try:
                    t0 = time.monotonic()
                    for c in CONCURRENCY:
                        for name in REST:
                            url, _ = endpoints[name]
                            r = wrk.run(url, None, c, seconds)
                            churn[str(shards)][name][str(c)].append(r)
                            report_run(ctx, "rep %d c=%-3d %-14s shards=%-2d + writer"
                                       % (rep + 1, c, name, shards), r)
                finally:
                    stats = _stop_writer(proc)
                stats["per_second"] = stats["lifecycles"] / (time.monotonic() - t0)
                writer[str(shards)].append(stats)
                ctx.progress.note("shards=%d writer: %.1f lifecycles/s, %d errors"
                                  % (shards, stats["per_second"], stats["errors"]))
        if ctx.profile:
            profile = _profile(ctx, wrk, nodes[32])
            writer_profile = _writer_profile(ctx, wrk, nodes, offer_path)
    finally:
        for janus, _, _ in nodes.values():
            stop_janus(janus)
        wrk.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
    return {"config": {"handles": handles, "seconds": seconds, "reps": reps,
                       "concurrency": list(CONCURRENCY),
                       "tool": "wrk -t1 (Lua POST body; GET for the REST API)",
                       "transport": "janus.transport.http (stock); the REST API on "
                                    "janus.transport.prometheus",
                       "list_limits": LIST_LIMITS, "reply_bytes": nodes[32][2],
                       "writer_loops": WRITER_LOOPS,
                       "writer": "attach, echo + offer, the core's hangup, detach (WebSocket)"},
            "runs": runs, "churn_runs": churn, "writer": writer, "profile": profile,
            "writer_profile": writer_profile,
            "callgrind": _callgrind(ctx, handles)}


def _perf_under_load(wrk, url, body, janus, workdir, watch=()):
    """perf_profile of janus for 4 s under wrk at c = 100 on url, with the req/s wrk saw."""
    # perf first synthesises every thread of the machine (Janus: one per handle), which
    # takes seconds: the load runs until perf is done.
    load = wrk.start(url, body, 100, 300)
    try:
        time.sleep(1.0)
        profile = perf_profile(janus.pid, 4, workdir, watch=watch)
    finally:
        try:
            rps = wrk.stop(load)["rps"]
        except BenchError:
            rps = None
    profile["rps_under_perf"] = rps
    return profile


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
            url, body = endpoints[name]
            try:
                out[name] = _perf_under_load(wrk, url, body, janus, workdir)
            except BenchError as e:
                ctx.progress.note("profile %s: %s" % (name, e))
                continue
            ctx.progress.note("profile %s: %.1f %% of janus CPU samples in our plugin "
                              "(with what it calls)"
                              % (name, out[name]["stack"].get("our plugin + runtime", 0.0)))
    finally:
        for f in os.listdir(workdir):
            os.unlink(os.path.join(workdir, f))
        os.rmdir(workdir)
    return out or None


# The table lock's slow paths (plugin/rw_lock.h, never inlined): a sample with one of them on
# its stack is a thread waiting for a shard lock.
LOCK_WAITS = ("RwLock::lock_slow", "RwLock::lock_shared_slow")


def _writer_profile(ctx, wrk, nodes, offer_path):
    """perf of each node under rest_list at c = 100 with the writer running: where Janus's CPU
    goes (threads, groups) and how many samples wait for a shard lock."""
    if not perf_available():
        return None
    out = {}
    workdir = tempfile.mkdtemp(prefix="jmedia-bench-perf-")
    try:
        for shards in SHARDS:
            janus, endpoints, _ = nodes[shards]
            url, _ = endpoints["rest_list"]
            proc = _start_writer(janus, offer_path)
            try:
                out[str(shards)] = _perf_under_load(wrk, url, None, janus, workdir,
                                                    watch=LOCK_WAITS)
            except BenchError as e:
                ctx.progress.note("writer profile shards=%d: %s" % (shards, e))
                continue
            finally:
                _stop_writer(proc)
            p = out[str(shards)]
            ctx.progress.note("writer profile shards=%d: %.2f %% of janus CPU samples wait for a "
                              "shard lock; threads %s"
                              % (shards, sum(p["watched"].values()),
                                 ", ".join("%s %.0f %%" % kv for kv in sorted(
                                     p["threads"].items(), key=lambda kv: -kv[1])[:5])))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
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
                row[key] = callgrind_totals(cg).get("Ir", 0) / result["iterations"]
                row["reply_bytes"] = result["reply_bytes"]
            out[label] = row
            ctx.progress.note("callgrind list %-18s %9.0f instructions per request, %9.0f to "
                              "serialise its %d-byte reply" % (label, row["request_ir"],
                                                               row["serialise_ir"],
                                                               row["reply_bytes"]))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {"iterations": iterations, "sessions": handles, "per_request": out}


# ---------------------------------------------------------------------------
# the writer: `part_api.py --writer WS_URL LOOPS OFFER_FILE`, until SIGTERM
# ---------------------------------------------------------------------------
async def _writer_loop(ws_url, offer, stop, stats, started):
    from harness import JanusWsClient
    client = None
    done = 0
    try:
        while not stop.is_set():
            if client is None or done % 100 == 0:   # bounded client history
                if client is not None:
                    await client.close()
                client = await JanusWsClient(ws_url, timeout=20, keepalive_interval=20).connect()
                await client.create_session()
            try:
                handle = await client.attach(MEDIA)
                reply = await client.message(handle, {"request": "echo", "audio": True,
                                                      "video": True, "data": False},
                                             jsep={"type": "offer", "sdp": offer}, timeout=20)
                if (reply.get("jsep") or {}).get("type") != "answer":
                    raise RuntimeError("no answer: %r" % (reply.get("plugindata") or reply))
                await client.hangup(handle, timeout=20)
                await client.detach(handle, timeout=20)
                client.events.pop(handle, None)
                stats["lifecycles"] += 1
            except Exception as e:  # noqa: BLE001 (counted, the loop goes on)
                stats["errors"] += 1
                if len(stats["first_errors"]) < 5:
                    stats["first_errors"].append(repr(e)[:200])
                await client.close()
                client = None
                await asyncio.sleep(0.2)
            done += 1
            started.set()
    finally:
        if client is not None:
            await client.close()


def writer_main(ws_url, loops, offer_path):
    import signal
    import sys
    with open(offer_path) as f:
        offer = f.read()
    stats = {"lifecycles": 0, "errors": 0, "first_errors": []}

    async def main():
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        started = [asyncio.Event() for _ in range(loops)]
        tasks = [asyncio.ensure_future(_writer_loop(ws_url, offer, stop, stats, started[i]))
                 for i in range(loops)]
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in started)), 60)
        sys.stdout.write("started\n")
        sys.stdout.flush()
        await asyncio.gather(*tasks)

    from common import run_async
    run_async(main())
    sys.stdout.write(json.dumps(stats) + "\n")


if __name__ == "__main__":
    import sys
    if len(sys.argv) == 5 and sys.argv[1] == "--writer":
        writer_main(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit("usage: part_api.py --writer WS_URL LOOPS OFFER_FILE")
