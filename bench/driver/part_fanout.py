"""Part "fanout" (issue 16): 1 publisher -> N viewers, janus.plugin.media against Janus's
VideoRoom (1 publisher, N subscribers), with the load generator of scripts/lib/viewer_load.py
(a webrtcbin publisher; Pion viewers, bench/fanout_viewer built into build-bench, in one
process; real ICE/DTLS/SRTP, no decoding).

For each Janus configuration (one loop thread per handle, Janus's default, and `event_loops`
= cores), each video bitrate and each plugin (the plugins alternate, their order swapped
every repetition), one ladder: viewers are added up to N in (1, 10, 50, 100, 200); at each
step, after a settle, Janus's CPU time over `hold` seconds against the RTP packets the
viewers received (counted per stream by the viewers): CPU per relayed viewer-packet, and net of
what Janus spends with the publisher alone (measured before the first viewer). The slope is
the extra Janus CPU per added viewer between steps. Loss: packets lost (from the RTP sequence
numbers) over the hold window. First packet and first keyframe: from `watch` (subscriber
`join`) to the first RTP packet and to the first VP8 keyframe, p50/p99 over the viewers
added at that step (they join while the earlier ones watch). RSS and threads of Janus
at each step, RSS per viewer against the publisher-only figure. The generator's own CPU (the
viewer workers and the publisher process) is reported beside Janus's.

A ladder stops climbing after a step where a viewer failed, one received nothing, more than
1 % of packets were lost, or the generator could not keep up (above 90 % of a core per
viewer process): past that the figures measure the machine, not Janus.

With profiling on (scripts/benchmark's default, off with --quick or --no-profile), the top
step of every ladder with shared loops is followed by a perf profile of Janus (5 s, after the
measured window, so that perf's own cost is not in the figures): the share of Janus's CPU
samples in our plugin, in VideoRoom, in SRTP (libsrtp2 and NSS), GLib's main loop, libc,
libnice and the kernel: where the cost per viewer-packet goes (issue 16, item 4)."""

import os
import shutil
import sys
import tempfile
import time

from common import (REPO, BenchError, perf_available, perf_profile, percentile,
                    proc_cpu_seconds, proc_status, proc_wakeups, start_janus,
                    stop_janus)

sys.path.insert(0, str(REPO / "scripts" / "lib"))
import viewer_load  # noqa: E402

PROCESSES = 1             # fanout_viewer processes (each runs on every core)
SETTLE = 2.0
WORKER_CPU_LIMIT = 90.0   # % of a core per viewer process
PROFILE_S = 5


def _janus_sample(janus):
    st = proc_status(janus.pid)
    return {"cpu": proc_cpu_seconds(janus.pid), "rss": st.get("rss_bytes"),
            "threads": st.get("threads"), "wakeups": proc_wakeups(janus.pid)}


def _ladder(ctx, janus, videoroom, bitrate, ladder, hold, label, profile=False):
    load = viewer_load.FanoutLoad(janus.ws_url, videoroom=videoroom, bitrate=bitrate,
                                  processes=PROCESSES,
                                  binary=viewer_load.viewer_binary(ctx.build_dir))
    points = []
    try:
        # The publisher alone: Janus's base CPU and RSS.
        time.sleep(SETTLE)
        j0, t0 = _janus_sample(janus), time.monotonic()
        time.sleep(hold / 2)
        j1, t1 = _janus_sample(janus), time.monotonic()
        base = {"janus_cpu_percent": 100 * (j1["cpu"] - j0["cpu"]) / (t1 - t0),
                "rss_bytes": j1["rss"], "threads": j1["threads"],
                "wakeups_per_s": (j1["wakeups"] - j0["wakeups"]) / (t1 - t0)}
        have = 0
        for n in ladder:
            if n <= have:
                continue
            ts = time.monotonic()
            errors = load.add(n - have)
            setup_s = time.monotonic() - ts
            step = load.batches - 1
            have = n
            time.sleep(SETTLE)
            before = load.stats()
            j0, g0, t0 = _janus_sample(janus), load.cpu_seconds(), time.monotonic()
            time.sleep(hold)
            j1, g1, t1 = _janus_sample(janus), load.cpu_seconds(), time.monotonic()
            after = load.stats()
            wall = t1 - t0
            s = viewer_load.summarize(before, after, wall)
            lost0 = {v["i"]: v["lost"] for v in before}
            lost = sum(v["lost"] - lost0.get(v["i"], 0) for v in after if v["error"] is None)
            received = s["packets_per_s"] * wall
            # The viewers added at this step (the step-th `add` of every worker).
            new = [v["keyframe_s"] for v in after
                   if v["batch"] == step and v["keyframe_s"] is not None]
            first = [v["first_packet_s"] for v in after
                     if v["batch"] == step and v["first_packet_s"] is not None]
            cpu = 100 * (j1["cpu"] - j0["cpu"]) / wall
            # A loop thread sleeps (a voluntary switch) once per wake-up, however many
            # handles' packets it then sends: wake-ups per viewer-packet show the batching.
            wakeups = j1["wakeups"] - j0["wakeups"]
            point = {
                "n": n, "ok": s["ok"], "receiving": s["receiving"],
                "with_keyframe": s["with_keyframe"], "setup_s": round(setup_s, 2),
                "packets_per_s": s["packets_per_s"], "kbit_per_viewer": s["kbit_per_viewer"],
                "lost": lost, "lost_ratio": lost / received if received else None,
                "janus_cpu_percent": cpu,
                "janus_us_per_viewer_packet": 1e4 * cpu / s["packets_per_s"]
                if s["packets_per_s"] else None,
                "janus_net_us_per_viewer_packet":
                    1e4 * max(0.0, cpu - base["janus_cpu_percent"]) / s["packets_per_s"]
                    if s["packets_per_s"] else None,
                "keyframe_p50_s": percentile(new, 50), "keyframe_p99_s": percentile(new, 99),
                "first_packet_p50_s": percentile(first, 50),
                "first_packet_p99_s": percentile(first, 99),
                "janus_wakeups_per_viewer_packet": wakeups / received if received else None,
                "janus_net_wakeups_per_viewer_packet":
                    max(0.0, wakeups - base["wakeups_per_s"] * wall) / received
                    if received else None,
                "janus_rss_bytes": j1["rss"], "janus_threads": j1["threads"],
                "rss_per_viewer_bytes": (j1["rss"] - base["rss_bytes"]) / n
                if j1["rss"] and base["rss_bytes"] else None,
                "generator_cpu_percent": 100 * (g1[0] - g0[0]) / wall,
                "publisher_cpu_percent": 100 * (g1[1] - g0[1]) / wall,
                "generator_threads": load.threads(),
                "generator_rcvbuf_bytes": load.rcvbuf_bytes,
                "errors": (errors + s["errors"])[:5]}
            if points:
                prev = points[-1]
                point["slope_cpu_percent_per_viewer"] = \
                    (cpu - prev["janus_cpu_percent"]) / (n - prev["n"])
            else:
                point["slope_cpu_percent_per_viewer"] = \
                    (cpu - base["janus_cpu_percent"]) / n
            points.append(point)
            ctx.progress.step(
                "%s N=%d ok %d/%d recv %d, %5.0f pkt/s (%3.0f kbit/s each), lost %d; janus "
                "%3.0f%% CPU, %s us/viewer-pkt (net %s), %s wake-ups/viewer-pkt, RSS %s MB, "
                "%d thr; keyframe p50 %s p99 %s s; generator %3.0f%% + publisher %3.0f%%%s"
                % (label, n, s["ok"], n, s["receiving"], s["packets_per_s"],
                   s["kbit_per_viewer"], lost, cpu, _f(point["janus_us_per_viewer_packet"], 1),
                   _f(point["janus_net_us_per_viewer_packet"], 1),
                   _f(point["janus_wakeups_per_viewer_packet"], 3),
                   _f((j1["rss"] or 0) / 1e6, 1), j1["threads"] or 0,
                   _f(point["keyframe_p50_s"], 2), _f(point["keyframe_p99_s"], 2),
                   point["generator_cpu_percent"], point["publisher_cpu_percent"],
                   "  " + point["errors"][0][:100] if point["errors"] else ""))
            broken = (s["ok"] < n or s["receiving"] < s["ok"] or
                      (point["lost_ratio"] or 0) > 0.01 or
                      point["generator_cpu_percent"] > WORKER_CPU_LIMIT * PROCESSES)
            if broken:
                point["stopped_here"] = True
                break
            if profile and n == ladder[-1]:
                point["profile"] = _profile(ctx, janus, label)
            # One more viewer joining the N that watch (what a viewer arriving at that size
            # sees; the step's own viewers joined together, a burst): its watch to keyframe.
            probe = _probe(load, step + 1)
            point["probe_keyframe_s"] = probe.get("keyframe_s")
            point["probe_first_packet_s"] = probe.get("first_packet_s")
            have += 1
        return {"base": base, "points": points}
    finally:
        load.stop()


def run(ctx):
    q = ctx.quick
    ladder = (1, 10) if q else (1, 10, 50, 100, 200)
    hold = 3.0 if q else 8.0
    reps = ctx.reps or 1
    bitrates = (500,) if q else (500, 1500)
    loops = (0,) if q else (0, os.cpu_count() or 2)
    # One point looked at closer, e.g. N = 1 over 60 s, where 8 s hold few of the CPU
    # clock's 10 ms ticks: JMEDIA_FANOUT_LADDER="1", JMEDIA_FANOUT_HOLD=60,
    # JMEDIA_FANOUT_LOOPS="2" (comma-separated lists).
    ladder = _env_ints("JMEDIA_FANOUT_LADDER", ladder)
    loops = _env_ints("JMEDIA_FANOUT_LOOPS", loops)
    hold = float(os.environ.get("JMEDIA_FANOUT_HOLD") or hold)
    plugins = ("media", "videoroom")
    total = reps * len(loops) * len(bitrates) * len(plugins) * len(ladder)
    ctx.progress.begin("fanout", total, "ladder N=%s, %.0f s each, bitrates %s kbit/s, "
                       "event_loops %s, %d rep(s)" % (list(ladder), hold, list(bitrates),
                                                       list(loops), reps))
    profile = ctx.profile and perf_available()
    if ctx.profile and not profile:
        ctx.progress.note("perf not usable here: no fan-out profile")
    runs = {}
    for event_loops in loops:
        janus = start_janus(ctx.modules_dir, debug_level=3, event_loops=event_loops,
                            extra_media_conf="\tmax_viewers_per_device = 100000\n")
        try:
            for rep in range(reps):
                for bitrate in bitrates:
                    order = plugins if rep % 2 == 0 else plugins[::-1]
                    for plugin in order:
                        label = "loops=%d %s %dk" % (event_loops, plugin, bitrate)
                        try:
                            r = _ladder(ctx, janus, plugin == "videoroom", bitrate, ladder,
                                        hold, label, profile=profile and event_loops > 0)
                        except Exception as e:  # noqa: BLE001 (a failed ladder is a result)
                            r = {"error": "%s: %s" % (type(e).__name__, e), "points": []}
                            ctx.progress.note("%s failed: %s" % (label, r["error"]))
                        key = "%d/%d/%s" % (event_loops, bitrate, plugin)
                        runs.setdefault(key, []).append(r)
                        time.sleep(1.0)
        finally:
            stop_janus(janus)
    return {"config": {"ladder": list(ladder), "hold_s": hold, "reps": reps,
                       "bitrates_kbit": list(bitrates), "event_loops": list(loops),
                       "processes": PROCESSES,
                       "media": "webrtcbin publisher: 640x480 30 fps VP8 (moving zone plate) "
                                "at the bitrate + Opus tone; viewers: Pion (bench/fanout_viewer), "
                                "packets counted, nothing decoded",
                       "keys": "event_loops/bitrate/plugin"},
            "runs": runs}


def _env_ints(name, default):
    text = os.environ.get(name)
    return tuple(int(v) for v in text.split(",")) if text else default


def _profile(ctx, janus, label):
    """perf_profile of Janus while the ladder's top step keeps relaying, or None."""
    workdir = tempfile.mkdtemp(prefix="jmedia-bench-perf-")
    try:
        prof = perf_profile(janus.pid, PROFILE_S, workdir)
    except BenchError as e:
        ctx.progress.note("profile %s: %s" % (label, e))
        return None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    ctx.progress.note("profile %s: %s" % (label, ", ".join(
        "%s %.1f %%" % (g, v) for g, v in sorted(prof["self"].items(), key=lambda kv: -kv[1]))))
    return prof


def _probe(load, batch, timeout=10.0):
    """Adds one viewer (the batch-th add); {"keyframe_s", "first_packet_s"} from its watch
    (the first packet tells the connection's setup from the wait for a keyframe), or {}."""
    if load.add(1):
        return {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        probe = [v for v in load.stats() if v["batch"] == batch]
        if probe and probe[0]["error"] is not None:
            return {}
        if probe and probe[0]["keyframe_s"] is not None:
            return {"keyframe_s": probe[0]["keyframe_s"],
                    "first_packet_s": probe[0]["first_packet_s"]}
        time.sleep(0.2)
    return {}


def _f(v, digits=0):
    return "-" if v is None else ("%.*f" % (digits, v))
