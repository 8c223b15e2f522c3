"""Part "soak" (opt-in): steady churn of janus.plugin.media for T minutes through
janus.transport.edge (what scripts/run serves), with impatient clients: the churn part's
lifecycle, but hangup and detach sent together right after the answer, the pattern that
leaves handles Janus 1.1.2 never frees unless the edge holds them (README, "Handles Janus
never frees"). The edge's request rate and per-address bounds are raised (one client
address). Janus's RSS, threads, hloop threads and open fds sampled every 10 s;
least-squares slopes; the heap's bytes in use before the run and once the clients are gone."""

import asyncio
import os
import time

from common import (EDGE_UNBOUNDED, MEDIA, heap_in_use, metric, proc_fds, proc_status,
                    run_async, start_janus, stop_janus)
from harness import hloop_threads
from part_churn import LoopStats, run_loops

INTERVAL = 10.0
EVENT_LOOPS = os.cpu_count() or 2


def slope_per_hour(points):
    """Least-squares slope of [(t seconds, y)] in y per hour."""
    n = len(points)
    if n < 2:
        return None
    mt = sum(t for t, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    if var == 0:
        return None
    return 3600 * sum((t - mt) * (y - my) for t, y in points) / var


def run(ctx):
    minutes = ctx.minutes
    loops = 4
    seconds = minutes * 60.0
    ctx.progress.begin("soak", int(seconds // INTERVAL) + 1,
                       "%.1f min of churn (%d loops), a sample every %.0f s"
                       % (minutes, loops, INTERVAL))
    # As scripts/run starts Janus: a loop thread per core shared by the handles (janus.jcfg
    # event_loops), not one per handle, whose threads each leak GnuTLS's random context.
    janus = start_janus(ctx.modules_dir, shards=32, api_transport="edge",
                        edge_settings=EDGE_UNBOUNDED, event_loops=EVENT_LOOPS)
    samples = []
    stats = LoopStats()
    try:
        # What the heap has in use (glibc's count, through gdb) before and once the clients are
        # gone: a leak grows it; RSS also grows with what the allocator keeps (per-thread arenas
        # of the threads Janus starts and ends for each handle).
        heap_before = heap_in_use(janus)
        base_handles = metric(janus, "janus_media_handles")
        base_core = metric(janus, "janus_core_handles")
        base_hloop = hloop_threads(janus.pid)   # with event_loops: the shared loops' threads

        async def sampler(t0):
            while True:
                st = proc_status(janus.pid)
                s = {"t": round(time.monotonic() - t0, 1), "rss_mb": st["rss_bytes"] / 2 ** 20,
                     "threads": st["threads"], "hloop": hloop_threads(janus.pid),
                     "fds": proc_fds(janus.pid),
                     "lifecycles": len(stats.durations), "errors": stats.error_count}
                samples.append(s)
                ctx.progress.step("t=%5.0f s  rss %7.1f MB  threads %4d  fds %5d  lifecycles %d  "
                                  "errors %d" % (s["t"], s["rss_mb"], s["threads"], s["fds"] or 0,
                                                 s["lifecycles"], s["errors"]))
                if s["t"] >= seconds:
                    return
                await asyncio.sleep(INTERVAL)

        async def main():
            t0 = time.monotonic()
            await asyncio.gather(run_loops(janus, MEDIA, loops, seconds, stats, impatient=True),
                                 sampler(t0))

        run_async(main())
        # The clients are gone: what is left once the edge's held requests (at most
        # hold_timeout_ms) and Janus's teardown have run (polled, at most 20 s).
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline and (
                metric(janus, "janus_core_handles") > base_core
                or hloop_threads(janus.pid) > base_hloop):
            time.sleep(0.25)
        heap_after = heap_in_use(janus)
        rss_after = proc_status(janus.pid)["rss_bytes"] / 2 ** 20
        leftover = {"janus_media_handles": metric(janus, "janus_media_handles") - base_handles,
                    "janus_core_handles": metric(janus, "janus_core_handles") - base_core,
                    "janus_media_sessions_active": metric(janus, "janus_media_sessions_active"),
                    "hloop_threads": hloop_threads(janus.pid) - base_hloop}
    finally:
        stop_janus(janus)
    # The first minute is warm-up (allocator arenas, thread caches): slopes over the rest. The
    # arenas fill for minutes (with event_loops, RSS levels off after ~5,000 lifecycles), so the
    # slope over the second half is given too: a leak grows there as much as anywhere.
    steady = [s for s in samples if s["t"] >= min(60.0, seconds / 3)]
    second_half = [s for s in samples if s["t"] >= seconds / 2]
    return {"config": {"minutes": minutes, "loops": loops, "interval_s": INTERVAL,
                       "transport": "janus.transport.edge", "edge_settings": EDGE_UNBOUNDED,
                       "event_loops": EVENT_LOOPS,
                       "lifecycle": "attach, echo + offer, setRemoteDescription(answer), "
                                    "hangup and detach together"},
            "samples": samples, "lifecycles": len(stats.durations),
            "errors": stats.error_count, "first_errors": stats.errors,
            "rss_mb_per_hour": slope_per_hour([(s["t"], s["rss_mb"]) for s in steady]),
            "rss_mb_per_hour_second_half": slope_per_hour([(s["t"], s["rss_mb"])
                                                           for s in second_half]),
            "threads_per_hour": slope_per_hour([(s["t"], s["threads"]) for s in steady]),
            "fds_per_hour": slope_per_hour([(s["t"], s["fds"] or 0) for s in steady]),
            "leftover_after": leftover, "rss_mb_after": rss_after,
            "heap_mb_before": None if heap_before is None else heap_before / 2 ** 20,
            "heap_mb_after": None if heap_after is None else heap_after / 2 ** 20}
