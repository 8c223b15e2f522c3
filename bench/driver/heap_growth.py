#!/usr/bin/python3
"""Heap growth per media lifecycle, for tracing a leak (not a part of scripts/benchmark).

Runs the churn part's lifecycle (attach, offer, apply the answer, hangup, detach) in L loops
against one plugin, in rounds of N lifecycles, and prints glibc's heap bytes in use (malloc_stats
through gdb) after a warm-up round and after every round, once the clients' handles are gone
(core handles back to the start, no hloop thread beyond event_loops' own). The bytes per lifecycle between rounds
tell a leak (grows every round) from a cache (grows once).

  bench/driver/heap_growth.py --plugin janus.plugin.media --pattern impatient -n 1000 --rounds 3
  bench/driver/heap_growth.py --soak 10 --extra-general '{"event_loops": 2}'   # the soak part

--heaptrack PID-attaches heaptrack after the warm-up and SIGKILLs janus once the clients are
gone, so that heaptrack's "leaked" list is what was allocated during the rounds and was still
in use at the end (a clean stop would free the core's tables and hide a table that grows)."""

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (EDGE_UNBOUNDED, malloc_totals, metric, proc_memory_map,  # noqa: E402
                    proc_status, run_async, start_janus, stop_janus)
from harness import hloop_threads  # noqa: E402
from part_churn import LoopStats, run_loop  # noqa: E402


def _take(counter):
    """A more() for run_loop: True while the shared count lasts, taking one each time."""
    def more():
        if counter[0] <= 0:
            return False
        counter[0] -= 1
        return True
    return more


def run_round(janus, plugin, n, loops, impatient):
    stats = LoopStats()
    counter = [n]

    async def main():
        await asyncio.gather(*[run_loop(janus, plugin, _take(counter), stats, impatient)
                               for _ in range(loops)])
    run_async(main())
    return stats


def settle(janus, base_core, base_hloop, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (metric(janus, "janus_core_handles") <= base_core
                and hloop_threads(janus.pid) <= base_hloop):
            break
        time.sleep(0.25)
    time.sleep(1.0)   # the last handles' frees run after the counters move


def snapshot(janus):
    """Bytes: malloc's in use and system totals, RSS, and RSS by kind of mapping."""
    snap = dict(malloc_totals(janus) or {"in_use": 0, "system": 0})
    snap["rss"] = proc_status(janus.pid)["rss_bytes"]
    snap.update({k: v * 1024 for k, v in proc_memory_map(janus.pid).items()
                 if k != "anon_mappings"})
    return snap


def describe(snap):
    return ("heap in use %.3f MB, malloc system %.3f MB, rss %.1f MB (brk heap %.1f, anon %.1f, "
            "file %.1f)" % tuple(snap[k] / 2 ** 20 for k in ("in_use", "system", "rss", "heap",
                                                              "anon", "file")))


def soak(a):
    import functools
    import types
    import common
    import part_soak
    ctx = types.SimpleNamespace(minutes=a.soak, modules_dir=a.modules_dir,
                                progress=common.Progress())
    part_soak.start_janus = functools.partial(start_janus,
                                              extra_general=json.loads(a.extra_general))
    r = part_soak.run(ctx)
    print("soak %.1f min, general %s: %d lifecycles, errors %d, rss %.1f MB/h, threads %.1f/h, "
          "heap in use %.3f -> %.3f MB, left %s"
          % (a.soak, a.extra_general, r["lifecycles"], r["errors"], r["rss_mb_per_hour"],
             r["threads_per_hour"], r["heap_mb_before"], r["heap_mb_after"],
             r["leftover_after"]))
    print("JSON " + json.dumps(r))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plugin", default="janus.plugin.media")
    ap.add_argument("--pattern", choices=("impatient", "patient"), default="impatient")
    ap.add_argument("--transport", choices=("edge", "stock"), default="edge")
    ap.add_argument("-n", type=int, default=1000, help="lifecycles per round")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--loops", type=int, default=4)
    ap.add_argument("--modules-dir", default=str(Path(__file__).resolve().parents[2]
                                                 / "build" / "modules"))
    ap.add_argument("--extra-general", default="{}",
                    help="JSON of more janus.jcfg general settings, e.g. {\"event_loops\": 2}")
    ap.add_argument("--heaptrack", metavar="OUT", help="attach heaptrack after the warm-up")
    ap.add_argument("--soak", type=float, metavar="MINUTES",
                    help="instead: the soak part (bench/driver/part_soak.py) for MINUTES with "
                         "--extra-general, its RSS slope and heap figures")
    a = ap.parse_args()
    if a.soak:
        return soak(a)

    extra_general = json.loads(a.extra_general)
    janus = start_janus(a.modules_dir, shards=32, api_transport=a.transport,
                        edge_settings=EDGE_UNBOUNDED if a.transport == "edge" else None,
                        extra_general=extra_general)
    impatient = a.pattern == "impatient"
    ht = None
    out = {"plugin": a.plugin, "pattern": a.pattern, "transport": a.transport, "n": a.n,
           "loops": a.loops, "extra_general": extra_general, "rounds": []}
    try:
        base_core = metric(janus, "janus_core_handles")
        base_hloop = hloop_threads(janus.pid)   # event_loops: the shared loops, started with Janus
        st = run_round(janus, a.plugin, a.warmup, a.loops, impatient)
        settle(janus, base_core, base_hloop)
        prev = snapshot(janus)
        out["after_warmup"] = prev
        print("warm-up %d lifecycles (errors %d): %s" % (len(st.durations), st.error_count,
                                                          describe(prev)), flush=True)
        if a.heaptrack:
            ht = subprocess.Popen(["heaptrack", "-o", a.heaptrack, "-p", str(janus.pid)],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  start_new_session=True)
            time.sleep(8)   # gdb injects the library
        for r in range(a.rounds):
            t0 = time.monotonic()
            st = run_round(janus, a.plugin, a.n, a.loops, impatient)
            wall = time.monotonic() - t0
            settle(janus, base_core, base_hloop)
            snap = snapshot(janus)
            n = len(st.durations)
            left = {"core_handles": metric(janus, "janus_core_handles") - base_core,
                    "media_handles": metric(janus, "janus_media_handles"),
                    "hloop": hloop_threads(janus.pid) - base_hloop}
            per = {k: (snap[k] - prev[k]) / n if n else None for k in snap}
            out["rounds"].append({"lifecycles": n, "errors": st.error_count,
                                  "first_errors": st.errors, "wall_s": wall, "after": snap,
                                  "bytes_per_lifecycle": per, "left": left})
            print("round %d: %d lifecycles in %.0f s (errors %d): %s\n  per lifecycle: in use "
                  "%+.0f B, system %+.0f B, rss %+.0f B (brk heap %+.0f, anon %+.0f, file %+.0f)"
                  "  left %s" % (r + 1, n, wall, st.error_count, describe(snap), per["in_use"],
                                 per["system"], per["rss"], per["heap"], per["anon"],
                                 per["file"], left), flush=True)
            if st.errors:
                print("  first errors:", st.errors[:3], flush=True)
            prev = snap
        if ht is not None:
            os.kill(janus.pid, signal.SIGKILL)   # what is still allocated counts as leaked
            try:
                ht.wait(120)
            except subprocess.TimeoutExpired:
                os.killpg(ht.pid, signal.SIGTERM)
            print((ht.stdout.read() or b"").decode(errors="replace")[-2000:])
    finally:
        stop_janus(janus)
        if ht is not None and ht.poll() is None:
            os.killpg(ht.pid, signal.SIGTERM)
    print("JSON " + json.dumps(out))


if __name__ == "__main__":
    main()
