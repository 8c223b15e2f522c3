"""Part "cluster" (issue 17, opt-in): what a relay between nodes costs, on real parts: a private
redis-server and 1 + R Debian Janus nodes (A, the origin, and R others) on loopback, one
webrtcbin publisher on A (scripts/lib/viewer_load.py's: 640x480 30 fps VP8 at 500 kbit/s +
Opus), Pion viewers (bench/fanout_viewer, one process per node).

1. The origin's CPU per outbound relay against per local viewer. Both carry the same stream
   (every packet of the publisher, once), so the ratio of the CPU they add is the ratio per
   packet copy. A's CPU (/proc/<pid>/stat, as part fanout) over `hold` seconds: (base) the
   publisher alone; (relays) one viewer on each of the R other nodes: R outbound relays on A,
   nothing else; (relays + local) L local viewers on A added. Per relay = (relays - base) / R,
   per local viewer = (relays + local - relays) / L; then A's local viewers are dropped (their
   process ended: the Janus sessions go) and the last two steps repeated `reps` times, so
   that each repetition pairs a relay figure with a local one measured next to it. The
   viewers on the other nodes cost A nothing but the relay: a node sends one relay per
   device whatever its viewer count (one viewer each here).
2. The latency a relay adds. First packet and first VP8 keyframe from `watch`: A's local
   viewers against the first viewer of each other node (cold: its watch makes the relay:
   directory, relay_request, relay_accept, then a keyframe through the relay) and against
   viewers joining an existing relay (warm). Steady state: the same video packet's arrival
   at a viewer on A and at one on each other node (matched by a hash of the payload's tail,
   which no node rewrites; both clocks are this machine's), p50/p99 of the difference over
   the last packets (up to 4096 per viewer).
3. Directory operations: Redis's INFO commandstats before and after `publishes` publishes
   and unpublishes on A (signaling only, distinct devices) and after R remote watches (the
   first viewer on each other node), less what the nodes' heartbeats do in the same time
   (measured first, with nothing happening): calls per command, per publish (its claim and
   its release) and per remote watch. (A watch of a device the node already relays calls no
   Redis command: the relay exists.)
"""

import socket
import sys
import time

from common import REPO, BenchError, percentile, proc_cpu_seconds, start_janus, stop_janus

sys.path.insert(0, str(REPO / "scripts" / "lib"))
sys.path.insert(0, str(REPO / "tests" / "e2e"))
import viewer_load  # noqa: E402
from harness import RedisProcess  # noqa: E402
from test_cluster_relay import free_udp_ranges  # noqa: E402

SECRET = "benchmark-cluster-secret-0123456789abcdef"
HEARTBEAT_MS = 1000       # the defaults
NODE_TTL_MS = 5000
RELAY_PORTS = 16
SETTLE = 2.0
BITRATE = 500


def _redis_commandstats(port):
    """{command: calls} of INFO commandstats (plain RESP over a socket)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            head, _, rest = data.partition(b"\r\n")
            if head.startswith(b"$") and len(rest) >= int(head[1:]):
                break
    out = {}
    for line in data.decode(errors="replace").splitlines():
        if line.startswith("cmdstat_"):
            name, _, fields = line[len("cmdstat_"):].partition(":")
            for kv in fields.split(","):
                if kv.startswith("calls="):
                    out[name] = int(kv[6:])
    return out


def _delta(before, after):
    return {k: after.get(k, 0) - before.get(k, 0) for k in after
            if after.get(k, 0) != before.get(k, 0)}


def _net_ops(before, after, seconds, idle_rate):
    """Calls per command between two commandstats, less the heartbeats' share."""
    d = _delta(before, after)
    d.pop("info", None)   # this part's own INFO commandstats
    idle_rate = {k: v for k, v in idle_rate.items() if k != "info"}
    out = {}
    for k in set(d) | set(idle_rate):
        v = d.get(k, 0) - idle_rate.get(k, 0.0) * seconds
        if abs(v) >= 0.5:
            out[k] = round(v, 1)
    return out


def _wait(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise BenchError("cluster: no %s within %.0f s" % (what, timeout))


def _viewers(ctx, node, device):
    return viewer_load.WorkerProcess(["viewers", "--server", node.ws_url, "--device", device,
                                      "--bitrate", str(BITRATE)],
                                     command=[viewer_load.viewer_binary(ctx.build_dir)])


def _add(worker, n):
    worker.send({"cmd": "add", "count": n})
    errors = worker.reply(viewer_load.STEP_TIMEOUT + 2 * n)["errors"]
    if errors:
        raise BenchError("cluster: viewers failed: %s" % errors[:2])


def _stats(worker):
    worker.send({"cmd": "stats"})
    return worker.reply(60)["viewers"]


def _arrivals(worker):
    worker.send({"cmd": "arrivals"})
    return [dict((int(h), int(ns)) for h, ns in v) for v in worker.reply(60)["arrivals"]]


def _publishes(node, redis, n, idle_rate):
    """n publish + unpublish (Janus session destroyed) of distinct devices on node, signaling
    only (an aiortc offer without candidates: the directory claim is made at `publish`, ICE
    need not complete): Redis calls per publish, the release included."""
    import asyncio
    from media_clients import MEDIA_PLUGIN, make_offer, result_of
    from test_cluster import offer_without_candidates
    sdp = asyncio.run(asyncio.wait_for(make_offer(("audio", "video")), 30))
    offer = {"type": "offer", "sdp": offer_without_candidates(sdp)}
    http = node.http()
    http.timeout = 15
    s0, t0 = _redis_commandstats(redis.port), time.monotonic()
    for k in range(n):
        session = http.create()
        handle = http.attach(session, MEDIA_PLUGIN)
        reply = http.message(session, handle, {"request": "publish",
                                               "device_id": "dir-%d-%d" % (k, time.time())},
                             jsep=offer, timeout=15)
        if result_of(reply) != "publishing":
            raise BenchError("cluster: publish: %r" % reply)
        http.destroy(session)
    # The releases (unpublish: DEL on the directory thread) land within a heartbeat.
    _wait(lambda: _delta(s0, _redis_commandstats(redis.port)).get("del", 0) -
          idle_rate.get("del", 0) * (time.monotonic() - t0) >= n - 0.5, 10,
          "release of %d directory claims" % n)
    s1, t1 = _redis_commandstats(redis.port), time.monotonic()
    return {k: round(v / n, 2) for k, v in _net_ops(s0, s1, t1 - t0, idle_rate).items()}


def _cpu_window(janus, hold):
    c0, t0 = proc_cpu_seconds(janus.pid), time.monotonic()
    time.sleep(hold)
    return 100 * (proc_cpu_seconds(janus.pid) - c0) / (time.monotonic() - t0)


def _p(values):
    return {"p50": percentile(values, 50), "p99": percentile(values, 99), "n": len(values)}


def run(ctx):
    q = ctx.quick
    relays = 2 if q else 3
    local = 2 if q else 3
    hold = 4.0 if q else 15.0
    reps = ctx.reps or (1 if q else 2)
    warm = 2 if q else 4
    publishes = 10 if q else 30
    ctx.progress.begin("cluster", 3 + reps, "1 + %d nodes, %d local viewers, hold %.0f s, "
                       "%d rep(s)" % (relays, local, hold, reps))
    redis, nodes, workers, spare, load = None, [], [], [], None
    try:
        redis = RedisProcess().start()
        ranges = free_udp_ranges(1 + relays, RELAY_PORTS)
        for k in range(1 + relays):
            nodes.append(start_janus(
                ctx.modules_dir, debug_level=3,
                plugin_cluster={"redis": redis.address, "node_id": "node-%c" % (97 + k),
                                "secret": SECRET, "heartbeat_ms": HEARTBEAT_MS,
                                "node_ttl_ms": NODE_TTL_MS, "advertise_host": "127.0.0.1",
                                "relay_ports": "%d-%d" % ranges[k]}))
        from common import metric
        for n in nodes:
            _wait(lambda n=n: metric(n, "janus_media_cluster_nodes") == 1 + relays and
                  metric(n, "janus_media_cluster_inbox_up") == 1, 20, "cluster of %d nodes"
                  % (1 + relays))
        a = nodes[0]
        # The heartbeats' own Redis traffic, with nothing else happening.
        idle = 3.0 if q else 6.0
        s0, t0 = _redis_commandstats(redis.port), time.monotonic()
        time.sleep(idle)
        s1, t1 = _redis_commandstats(redis.port), time.monotonic()
        idle_rate = {k: v / (t1 - t0) for k, v in _delta(s0, s1).items() if k != "info"}
        ctx.progress.step("heartbeats: %s calls/s" % ", ".join(
            "%s %.1f" % kv for kv in sorted(idle_rate.items())))

        device = "cluster-bench-%d" % int(time.time())
        publish_ops = _publishes(a, redis, publishes, idle_rate)
        load = viewer_load.FanoutLoad(a.ws_url, bitrate=BITRATE, device=device,
                                      binary=viewer_load.viewer_binary(ctx.build_dir))
        local_worker = load.workers[0]
        time.sleep(SETTLE)
        base = _cpu_window(a, hold)
        ctx.progress.step("publisher alone: A %.1f%% CPU; publish: Redis %s" % (base, publish_ops))

        # R remote watches: one viewer on each other node (each makes A's relay to it).
        workers = [_viewers(ctx, n, device) for n in nodes[1:]]
        s0, t0 = _redis_commandstats(redis.port), time.monotonic()
        for w in workers:
            _add(w, 1)
        s1, t1 = _redis_commandstats(redis.port), time.monotonic()
        watch_ops = _net_ops(s0, s1, t1 - t0, idle_rate)
        out_relays = metric(a, "janus_media_relays")

        samples = []
        locals_ = []
        for rep in range(reps):
            if rep:
                local_worker.stop()
                local_worker = _viewers(ctx, a, device)
                spare.append(local_worker)
                time.sleep(SETTLE)
            time.sleep(SETTLE)
            with_relays = _cpu_window(a, hold)
            _add(local_worker, local)
            time.sleep(SETTLE)
            with_local = _cpu_window(a, hold)
            st = _stats(local_worker)
            locals_ += st
            per_relay = (with_relays - base) / relays
            per_local = (with_local - with_relays) / local
            samples.append({"with_relays_cpu_percent": with_relays,
                            "with_local_cpu_percent": with_local,
                            "per_relay_cpu_percent": per_relay,
                            "per_local_cpu_percent": per_local,
                            "ratio": per_relay / per_local if per_local > 0 else None})
            ctx.progress.step("rep %d: A %.1f%% with %d relays, %.1f%% with %d local viewers "
                              "more: %.2f%% per relay, %.2f%% per local viewer, ratio %s"
                              % (rep + 1, with_relays, relays, with_local, local, per_relay,
                                 per_local, "%.2f" % samples[-1]["ratio"]
                                 if samples[-1]["ratio"] is not None else "-"))

        # Warm remote watches: viewers joining the relay that exists on the first other node.
        _add(workers[0], warm)
        time.sleep(SETTLE)
        warm_stats = _stats(workers[0])[1:]
        # Read late: a viewer's times count from its watch, and its first packet may come
        # after add() returned (at `start`).
        cold = [_stats(w)[0] for w in workers]
        # Steady state: the same packets at a viewer on A and at one on each other node.
        arrivals_a = _arrivals(local_worker)[0]
        added = []
        for w in workers:
            remote = _arrivals(w)[0]
            added += [(ns - arrivals_a[h]) / 1e6 for h, ns in remote.items() if h in arrivals_a]
        # Packets each remote viewer missed or got twice make no pairs; a hash shared by two
        # packets (retransmissions keep theirs) is one pair at most: dict keys.
        loss = {"local": sum(v["lost"] for v in locals_),
                "remote": sum(v["lost"] for w in workers for v in _stats(w))}
        ctx.progress.step("added latency (ms) p50 %s p99 %s over %d packets"
                          % (_f(percentile(added, 50), 2), _f(percentile(added, 99), 2),
                             len(added)))

        def times(vs, key):
            return [v[key] * 1e3 for v in vs if v.get(key) is not None]

        first = {"local": {"first_packet_ms": _p(times(locals_, "first_packet_s")),
                           "keyframe_ms": _p(times(locals_, "keyframe_s"))},
                 "remote_cold": {"first_packet_ms": _p(times(cold, "first_packet_s")),
                                 "keyframe_ms": _p(times(cold, "keyframe_s"))},
                 "remote_warm": {"first_packet_ms": _p(times(warm_stats, "first_packet_s")),
                                 "keyframe_ms": _p(times(warm_stats, "keyframe_s"))}}
        ratios = [s["ratio"] for s in samples if s["ratio"] is not None]
        return {"config": {"relays": relays, "local_viewers": local, "hold_s": hold,
                           "reps": reps, "warm_viewers": warm, "bitrate_kbit": BITRATE,
                           "heartbeat_ms": HEARTBEAT_MS, "node_ttl_ms": NODE_TTL_MS,
                           "media": "webrtcbin publisher: 640x480 30 fps VP8 (zone plate) at "
                                    "%d kbit/s + Opus tone; viewers: Pion (bench/fanout_viewer)"
                                    % BITRATE},
                "base_cpu_percent": base, "outbound_relays": out_relays,
                "cpu": samples, "ratio_values": ratios,
                "ratio_median": percentile(ratios, 50) if ratios else None,
                "first": first, "added_latency_ms": _p(added), "lost": loss,
                "directory": {"idle_calls_per_s": {k: round(v, 2) for k, v in idle_rate.items()},
                              "publishes": publishes,
                              "per_publish": publish_ops,
                              "remote_watches": relays,
                              "per_remote_watch": {k: round(v / relays, 1)
                                                   for k, v in watch_ops.items()}}}
    finally:
        for w in workers + spare:
            w.stop()
        if load is not None:
            load.stop()
        for n in nodes:
            stop_janus(n)
        if redis is not None:
            redis.kill()


def _f(v, digits=0):
    return "-" if v is None else ("%.*f" % (digits, v))
