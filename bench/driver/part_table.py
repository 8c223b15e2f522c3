"""Part "table": the session table micro-benchmark (bench/table_bench.cpp, Google
Benchmark). Repetitions are randomly interleaved (--benchmark_enable_random_interleaving)
so that a burst of load from elsewhere on the machine does not hit one table only.

Then (not with --quick) each table once more under callgrind, single-threaded, a fixed
number of operations (table_bench --fixed=...): instructions and simulated cache misses per
operation, which do not depend on what else the machine is doing."""

import json
import os
import re
import shutil
import subprocess
import tempfile

from common import BenchError, callgrind_totals, spread

CALLGRIND_TABLES = ("sharded32", "sharded1", "shared_mutex", "tbb")
CALLGRIND_MIXES = ("90-5-5", "50-25-25")
CALLGRIND_OPERATIONS = 200000

NAME = re.compile(r"^(?P<table>[^/]+)/(?P<mix>[^/]+)(?:/.*)?/threads:(?P<threads>\d+)$")


def run(ctx):
    exe = os.path.join(ctx.build_dir, "bench", "table_bench")
    if not os.path.exists(exe):
        raise BenchError("%s missing: build with -DJMEDIA_BENCH=ON" % exe)
    # Many short repetitions: their median shrugs off bursts of load from other jobs.
    reps = ctx.reps or (2 if ctx.quick else 10)
    min_time = 0.05 if ctx.quick else 0.1
    listing = subprocess.run([exe, "--benchmark_list_tests=true"], stdout=subprocess.PIPE,
                             text=True, check=True).stdout.split()
    ctx.progress.begin("table", len(listing) * reps,
                       "%d benchmarks x %d repetitions, min %.2f s each"
                       % (len(listing), reps, min_time))
    fd, out_path = tempfile.mkstemp(prefix="jmedia-table-", suffix=".json")
    os.close(fd)
    try:
        cmd = [exe, "--benchmark_min_time=%g" % min_time,
               "--benchmark_repetitions=%d" % reps,
               "--benchmark_enable_random_interleaving=true",
               "--benchmark_out=%s" % out_path, "--benchmark_out_format=json",
               "--benchmark_counters_tabular=false"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            m = re.match(r"^(\S+/threads:\d+)\s.*items_per_second=(\S+)", line)
            if m:
                ctx.progress.step("%-42s %s ops/s" % (m.group(1).replace("/real_time", ""),
                                                      m.group(2).rstrip("/s")))
        if proc.wait() != 0:
            raise BenchError("table_bench exited with %d" % proc.returncode)
        with open(out_path) as f:
            report = json.load(f)
    finally:
        os.unlink(out_path)
    values = {}
    for b in report["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        m = NAME.match(b["run_name"])
        if not m:
            continue
        key = (m.group("table"), m.group("mix"), int(m.group("threads")))
        values.setdefault(key, []).append(b["items_per_second"])
    results = {}
    for (table, mix, threads), ops in sorted(values.items()):
        results.setdefault(mix, {}).setdefault(table, {})[str(threads)] = spread(ops)
    ctx_info = report.get("context", {})
    per_op = None
    if not ctx.quick and shutil.which("valgrind"):
        per_op = _callgrind(ctx, exe)
    return {"per_operation": per_op,
            "config": {"reps": reps, "min_time_s": min_time,
                       "keys_present": int(ctx_info.get("keys_present", 0)),
                       "key_space": int(ctx_info.get("key_space", 0)),
                       "library_build_type": ctx_info.get("library_build_type")},
            "ops_per_second": results}


def _callgrind(ctx, exe):
    """{mix: {table: {"instructions", "d1_read_misses", "d1_write_misses", "ll_misses"}}}
    per operation (callgrind --cache-sim=yes, fixed_work() only)."""
    out = {}
    workdir = tempfile.mkdtemp(prefix="jmedia-callgrind-")
    try:
        for mix in CALLGRIND_MIXES:
            for table in CALLGRIND_TABLES:
                cg = os.path.join(workdir, "cg.out")
                r = subprocess.run(["valgrind", "--tool=callgrind", "--cache-sim=yes",
                                    "--toggle-collect=*fixed_work*",
                                    "--callgrind-out-file=" + cg, exe,
                                    "--fixed=%s/%s/%d" % (table, mix, CALLGRIND_OPERATIONS)],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                   timeout=600)
                if r.returncode != 0:
                    raise BenchError("callgrind of %s/%s failed" % (table, mix))
                counted = json.loads(r.stdout.strip().splitlines()[-1])["counted_operations"]
                ev = callgrind_totals(cg)
                d = {"instructions": ev.get("Ir", 0) / counted,
                     "d1_read_misses": ev.get("D1mr", 0) / counted,
                     "d1_write_misses": ev.get("D1mw", 0) / counted,
                     "ll_misses": (ev.get("DLmr", 0) + ev.get("DLmw", 0)) / counted}
                out.setdefault(mix, {})[table] = d
                ctx.progress.note("callgrind %-12s %-8s %5.0f instructions, %.2f L1 read misses "
                                  "per operation" % (table, mix, d["instructions"],
                                                     d["d1_read_misses"]))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return out
