"""Part "scrape": GET /metrics latency (janus.transport.prometheus) with 0, 1,000 and
10,000 media sessions in the table (handles attached to janus.plugin.media over HTTP).
Also what the janus process burns when idle with that many handles.

Each level: the median (and p10/p90) of `count` scrapes on fresh connections, the
transport's own collect + serialise time (janus_transport_scrape_duration_seconds,
sum/count delta over those scrapes), the body size and the number of series."""

import time

from common import (MEDIA, BenchError, attach_many, parse_metrics, percentile,
                    proc_cpu_seconds, proc_fds, proc_status, scrape, spread, start_janus,
                    stop_janus)

IDLE_SECONDS = 3.0


def _wait_handles(janus, want, timeout=30.0):
    deadline = time.monotonic() + timeout
    have = None
    while time.monotonic() < deadline:
        have = parse_metrics(scrape(janus)[1])[0].get("janus_media_handles")
        if have == want:
            return
        time.sleep(0.2)
    raise BenchError("janus_media_handles is %s, expected %d" % (have, want))


def run(ctx):
    q = ctx.quick
    levels = (0, 1000) if q else (0, 1000, 10000)
    count = 15 if q else 40
    ctx.progress.begin("scrape", len(levels), "%d scrapes at each of %s sessions"
                       % (count, list(levels)))
    janus = start_janus(ctx.modules_dir, shards=32)
    results = []
    attached = 0
    try:
        for level in levels:
            if level > attached:
                attach_many(janus, MEDIA, level - attached, progress=ctx.progress)
                attached = level
            _wait_handles(janus, level)
            # What the janus process burns with these handles and nobody asking anything.
            time.sleep(1.0)
            cpu0, t0 = proc_cpu_seconds(janus.pid), time.monotonic()
            time.sleep(IDLE_SECONDS)
            idle = 100 * (proc_cpu_seconds(janus.pid) - cpu0) / (time.monotonic() - t0)
            for _ in range(3):
                scrape(janus)  # warm-up
            before = parse_metrics(scrape(janus)[1])[0]
            took, sizes = [], []
            for _ in range(count):
                t, body = scrape(janus)
                took.append(t * 1e3)
                sizes.append(len(body))
                time.sleep(0.02)
            after_text = scrape(janus)[1]
            after, series = parse_metrics(after_text)
            n = after.get("janus_transport_scrape_duration_seconds_count", 0) - \
                before.get("janus_transport_scrape_duration_seconds_count", 0)
            s = after.get("janus_transport_scrape_duration_seconds_sum", 0) - \
                before.get("janus_transport_scrape_duration_seconds_sum", 0)
            st = proc_status(janus.pid)
            r = {"sessions": level, "latency_ms": spread(took),
                 "p10_ms": percentile(took, 10), "p90_ms": percentile(took, 90),
                 "server_ms": 1e3 * s / n if n else None,
                 "body_bytes": sorted(sizes)[len(sizes) // 2], "series": len(series),
                 "open_fds": proc_fds(janus.pid), "threads": st.get("threads"),
                 "rss_mb": st.get("rss_bytes", 0) / 2 ** 20, "idle_cpu_percent": idle}
            results.append(r)
            ctx.progress.step("%5d sessions: median %.2f ms (p10 %.2f, p90 %.2f), collect %.2f ms, "
                              "%d bytes, %d series, %d fds, %d threads, idle janus %.1f %% CPU"
                              % (level, r["latency_ms"]["median"], r["p10_ms"], r["p90_ms"],
                                 r["server_ms"] or 0, r["body_bytes"], r["series"],
                                 r["open_fds"] or 0, r["threads"] or 0, idle))
    finally:
        stop_janus(janus)
    return {"config": {"scrapes_per_level": count, "levels": list(levels)}, "levels": results}
