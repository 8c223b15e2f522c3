#!/usr/bin/python3
"""Benchmarks of janus-media, every claim side by side with its reference in one run.
Run through scripts/benchmark (which installs the tools and builds build-bench/ first).

  scripts/benchmark [PART ...] [--quick] [--reps R] [--minutes T] [--out DIR] [--no-profile]

PARTS (default: every one but fanout, soak and cluster):
  api      sync plugin requests (list pages of 10 and 100 over 10,000 sessions, info) vs
           the core's ping vs VideoRoom's list, HTTP transport, wrk at 1/10/100
           connections, shards 32 and 1; callgrind counts of one list (bench/list_cost)
  table    the session table micro-benchmark (bench/table_bench: ShardedMap vs a
           shared_mutex map vs tbb::concurrent_hash_map, 1-8 threads)
  churn    media session lifecycles per second, janus.plugin.media vs echotest
  webrtc   N aiortc clients: echo (vs echotest) and 1 publisher -> N viewers
  scrape   /metrics latency with 0, 1,000, 10,000 sessions
  edge     janus.transport.edge vs the stock transports: ping, info, list over HTTP (wrk)
           and WebSocket (bench/ws_load) at 1/10/100 connections; memory per idle
           WebSocket connection
  srtp     the floor of a fan-out: srtp_protect (Debian's libsrtp2, as Janus) and a UDP
           sendmsg of a 1,200-byte RTP packet, per viewer copy (bench/srtp_send)
  fanout   opt-in: 1 publisher -> N webrtcbin viewers (N up to 200), janus.plugin.media vs
           VideoRoom, 500 and 1,500 kbit/s, one loop per handle and event_loops = cores:
           Janus CPU per relayed viewer-packet, slope, loss, first keyframe, RSS per viewer
  soak     opt-in: T minutes of churn, RSS/threads sampled every 10 s (--minutes, default 10)
  cluster  opt-in (about 3 min, --quick < 1 min): redis-server + 1 + R Janus nodes: the
           origin's CPU per outbound relay vs per local viewer, the latency a relay adds
           (first frame after watch; the same packet at a viewer on the origin and on another
           node), Redis commands per publish and per remote watch

Writes DIR/results.json, DIR/results.md and DIR/*.png (DIR: bench-results/, or
bench-results/tmp/quick/ with --quick). Parts run now replace the same parts of an
earlier results.json in DIR; the others are kept (each part carries its own date).
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "driver"))
import common  # noqa: E402
import report  # noqa: E402

PARTS = ("api", "table", "churn", "webrtc", "scrape", "edge", "srtp", "fanout", "soak",
         "cluster")
DEFAULT_PARTS = ("api", "table", "churn", "webrtc", "scrape", "edge", "srtp")


class Context:
    def __init__(self, args):
        self.quick = args.quick
        self.reps = args.reps
        self.minutes = args.minutes
        self.profile = args.profile if args.profile is not None else not args.quick
        self.build_dir = str(Path(args.build_dir).resolve())
        self.modules_dir = str(Path(args.build_dir).resolve() / "modules")
        self.progress = common.Progress()


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = None
    try:
        with open("/proc/meminfo") as f:
            mem_gb = round(int(f.readline().split()[1]) / 2 ** 20, 1)
    except (OSError, ValueError, IndexError):
        pass

    def out(cmd):
        try:
            return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    return {"nproc": os.cpu_count(), "cpu": cpu, "mem_gb": mem_gb,
            "kernel": platform.release(),
            "janus": out(["dpkg-query", "-W", "-f=${Version}", "janus"]),
            "aiortc": out(["dpkg-query", "-W", "-f=${Version}", "python3-aiortc"]),
            "commit": out(["git", "-C", str(common.REPO), "rev-parse", "--short", "HEAD"]),
            "dirty": bool(out(["git", "-C", str(common.REPO), "status", "--porcelain",
                               "--untracked-files=no"]))}


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return [float(x) for x in f.read().split()[:3]]
    except (OSError, ValueError):
        return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 2)[2])
    ap.add_argument("parts", nargs="*", metavar="PART", help="parts to run (default: all "
                    "but fanout, soak and cluster)")
    ap.add_argument("--quick", action="store_true", help="short smoke run (< 5 min)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions per measurement")
    ap.add_argument("--minutes", type=float, default=10.0, help="soak duration (max 240)")
    ap.add_argument("--out", default=None, help="output folder")
    ap.add_argument("--build-dir", default=str(common.REPO / "build-bench"))
    ap.add_argument("--profile", dest="profile", action="store_true", default=None,
                    help="perf profile of Janus in the api part (default: on, off with --quick)")
    ap.add_argument("--no-profile", dest="profile", action="store_false")
    args = ap.parse_args(argv)
    parts = args.parts or list(DEFAULT_PARTS)
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        ap.error("unknown part(s) %s; choose from %s" % (", ".join(unknown), ", ".join(PARTS)))
    if not 0 < args.minutes <= 240:
        ap.error("--minutes must be in (0, 240]")
    if args.reps is not None and not 1 <= args.reps <= 20:
        ap.error("--reps must be 1..20")
    out = Path(args.out) if args.out else \
        common.REPO / "bench-results" / ("tmp/quick" if args.quick else "")
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(args)

    results_path = out / "results.json"
    results = {}
    if results_path.exists():
        try:
            results = json.loads(results_path.read_text())
        except ValueError:
            results = {}
    results.setdefault("parts", {})
    started = datetime.datetime.now(datetime.timezone.utc)
    results["run"] = {"date": started.strftime("%Y-%m-%d %H:%M UTC"), "quick": args.quick,
                      "parts": parts, "machine": machine(), "loadavg_start": loadavg()}
    sys.stderr.write("scripts/benchmark: %s%s -> %s\n"
                     % (" ".join(parts), " (quick)" if args.quick else "", out))
    failed = []
    import importlib
    for part in [p for p in PARTS if p in parts]:
        module = importlib.import_module("part_" + part)
        t0 = time.monotonic()
        try:
            data = module.run(ctx)
            data["meta"] = {"date": datetime.datetime.now(datetime.timezone.utc)
                            .strftime("%Y-%m-%d %H:%M UTC"), "quick": args.quick,
                            "seconds": round(time.monotonic() - t0, 1),
                            "loadavg_after": loadavg(), "machine": results["run"]["machine"]}
            results["parts"][part] = data
        except KeyboardInterrupt:
            sys.stderr.write("interrupted\n")
            failed.append(part)
            break
        except Exception as e:  # noqa: BLE001 (reported; the other parts still run)
            traceback.print_exc()
            failed.append(part)
            results["parts"][part] = {
                "error": "%s: %s" % (type(e).__name__, e),
                "meta": {"date": datetime.datetime.now(datetime.timezone.utc)
                         .strftime("%Y-%m-%d %H:%M UTC"), "quick": args.quick}}
        results["run"]["loadavg_end"] = loadavg()
        results_path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
        report.write(results, out)
    took = (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds()
    sys.stderr.write("scripts/benchmark: done in %d:%02d; %s\n"
                     % (took // 60, took % 60, out / "results.md"))
    for line in report.target_lines(results):
        sys.stderr.write("  %s\n" % line)
    if failed:
        sys.stderr.write("scripts/benchmark: FAILED parts: %s\n" % " ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
