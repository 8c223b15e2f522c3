"""Part "srtp": the floor of a fan-out on this machine (bench/srtp_send.cpp, Google
Benchmark): what one viewer's copy of a 1,200-byte RTP packet costs at the least on Janus's
send path, srtp_protect with Debian's libsrtp2 (the library the janus binary links) and one
UDP sendmsg on loopback to a drained socket, per SRTP profile: what the fan-out part's
(1 publisher to N viewers, issue 16) cost per viewer-packet is compared with. Run it in the
same invocation as fanout (`scripts/benchmark fanout srtp`): the machine's speed changes
between runs, and the ratio is only fair within one."""

import json
import os
import subprocess
import tempfile

from common import BenchError, spread

PROFILES = {"0": "AES_CM_128_HMAC_SHA1_80", "1": "AEAD_AES_128_GCM", "2": "AEAD_AES_256_GCM"}


def run(ctx):
    exe = os.path.join(ctx.build_dir, "bench", "srtp_send")
    if not os.path.exists(exe):
        raise BenchError("%s missing: build with -DJMEDIA_BENCH=ON" % exe)
    reps = ctx.reps or (2 if ctx.quick else 10)
    min_time = 0.1 if ctx.quick else 0.3
    ctx.progress.begin("srtp", 1, "7 benchmarks x %d repetitions, min %.1f s each"
                       % (reps, min_time))
    fd, out_path = tempfile.mkstemp(prefix="jmedia-srtp-", suffix=".json")
    os.close(fd)
    try:
        subprocess.run([exe, "--benchmark_min_time=%g" % min_time,
                        "--benchmark_repetitions=%d" % reps,
                        "--benchmark_enable_random_interleaving=true",
                        "--benchmark_out=%s" % out_path, "--benchmark_out_format=json"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True,
                       timeout=600)
        with open(out_path) as f:
            report = json.load(f)
    except subprocess.CalledProcessError as e:
        raise BenchError("srtp_send exited with %d: %s" % (e.returncode, e.stderr[-500:]))
    finally:
        os.unlink(out_path)
    cpu_ns = {}
    for b in report["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        scale = {"ns": 1.0, "us": 1e3, "ms": 1e6}[b["time_unit"]]
        cpu_ns.setdefault(b["run_name"], []).append(b["cpu_time"] * scale)
    out = {name: spread(values) for name, values in cpu_ns.items()}
    ctx.progress.step("; ".join("%s %.0f ns" % (n, s["median"]) for n, s in sorted(out.items())))
    return {"config": {"packet_bytes": 1212, "reps": reps, "min_time_s": min_time,
                       "profiles": PROFILES},
            "cpu_ns_per_packet": out}
