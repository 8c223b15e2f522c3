"""Part "churn": full media session lifecycles per second, janus.plugin.media vs
janus.plugin.echotest in the same Janus, N concurrent loops of real aiortc clients.

One lifecycle: attach, the plugin's echo request with an aiortc offer (audio + video
transceivers), apply the answer (setRemoteDescription), hang up (the core's
{"janus":"hangup"} for both: echotest has no hangup request of its own), detach. Each loop keeps one
WebSocket and one Janus session, renewed every RECYCLE lifecycles so the client's message
history stays bounded. Also used by the soak part (run_loops)."""

import asyncio
import time

from common import (run_async, ECHOTEST, MEDIA, metric, own_cpu_seconds, percentile, proc_cpu_seconds,
                    start_janus, stop_janus)

RECYCLE = 100
BODIES = {
    MEDIA: {"request": "echo", "audio": True, "video": True, "data": False},
    ECHOTEST: {"audio": True, "video": True},
}


class LoopStats:
    def __init__(self):
        self.durations = []   # seconds per completed lifecycle
        self.errors = []      # first errors, bounded
        self.error_count = 0

    def error(self, e):
        self.error_count += 1
        if len(self.errors) < 10:
            self.errors.append(e)


async def _one_lifecycle(client, plugin, impatient=False):
    import harness
    from aiortc import RTCSessionDescription
    t0 = time.perf_counter()
    handle = await client.attach(plugin)
    pc = harness.new_peer_connection()
    try:
        offer = await harness.sendrecv_offer(pc)
        reply = await client.message(handle, BODIES[plugin],
                                     jsep={"type": "offer", "sdp": offer}, timeout=20)
        jsep = reply.get("jsep") or {}
        if jsep.get("type") != "answer":
            raise RuntimeError("no answer: %r" % (reply.get("plugindata") or reply))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=jsep["sdp"], type="answer"))
        # The core's hangup for both plugins (echotest has no hangup request of its own), so
        # that both lifecycles are the same requests; the plugin's `hangup` request is an
        # async round trip more, tested in tests/e2e.
        if impatient:
            # As impatient clients do: hangup and detach together, right after the answer.
            replies = await asyncio.gather(client.hangup(handle, timeout=20),
                                           client.detach(handle, timeout=20))
        else:
            replies = [await client.hangup(handle, timeout=20)]
            if replies[0].get("janus") == "success":
                replies.append(await client.detach(handle, timeout=20))
        for what, r in zip(("hangup", "detach"), replies):
            if r.get("janus") != "success":
                raise RuntimeError("%s: %r" % (what, r))
        took = time.perf_counter() - t0
    finally:
        client.events.pop(handle, None)
        try:
            await asyncio.wait_for(pc.close(), 10)
        except Exception:  # noqa: BLE001
            pass
    return took


async def run_loop(janus, plugin, more, stats, impatient):
    """One client looping lifecycles while more() says so (a deadline, a count), a fresh
    session every RECYCLE of them."""
    from harness import JanusWsClient
    client = None
    done = 0
    try:
        for _ in range(10 ** 7):
            if not more():
                break
            if client is None or done % RECYCLE == 0:
                if client is not None:
                    await client.destroy()
                    await client.close()
                client = await JanusWsClient(janus.ws_url, timeout=20,
                                             keepalive_interval=20).connect()
                await client.create_session()
            try:
                stats.durations.append(await _one_lifecycle(client, plugin, impatient))
            except Exception as e:  # noqa: BLE001 (counted, the loop goes on)
                stats.error("%s: %r" % (type(e).__name__, e))
                await client.close()
                client = None
                await asyncio.sleep(0.2)
            done += 1
    finally:
        if client is not None:
            try:
                await asyncio.wait_for(client.destroy(), 5)
            except Exception:  # noqa: BLE001
                pass
            await client.close()


async def run_loops(janus, plugin, loops, seconds, stats, impatient=False):
    deadline = time.monotonic() + seconds
    await asyncio.gather(*[run_loop(janus, plugin, lambda: time.monotonic() < deadline, stats,
                                    impatient) for _ in range(loops)])


def measure(janus, plugin, loops, seconds):
    stats = LoopStats()
    cpu0, own0, t0 = proc_cpu_seconds(janus.pid), own_cpu_seconds(), time.monotonic()
    run_async(run_loops(janus, plugin, loops, seconds, stats))
    wall = time.monotonic() - t0
    cpu = proc_cpu_seconds(janus.pid) - cpu0
    own = own_cpu_seconds() - own0
    n = len(stats.durations)
    return {"lifecycles": n, "per_second": n / wall, "wall_s": wall,
            "p50_ms": (percentile(stats.durations, 50) or 0) * 1e3,
            "p99_ms": (percentile(stats.durations, 99) or 0) * 1e3,
            "errors": stats.error_count, "first_errors": stats.errors,
            "janus_cpu_ms_per_lifecycle": cpu * 1e3 / n if n else None,
            "client_cpu_ms_per_lifecycle": own * 1e3 / n if n else None,
            "janus_cpu_percent": 100 * cpu / wall, "client_cpu_percent": 100 * own / wall}


def run(ctx):
    q = ctx.quick
    loops = 2 if q else 4
    seconds = 5.0 if q else 15.0
    reps = ctx.reps or (1 if q else 3)
    plugins = (MEDIA, ECHOTEST)
    runs = {p: [] for p in plugins}
    ctx.progress.begin("churn", reps * len(plugins), "%d loops, %.0f s per run, %d reps"
                       % (loops, seconds, reps))
    janus = start_janus(ctx.modules_dir, shards=32)
    try:
        base_handles = metric(janus, "janus_media_handles")
        base_core = metric(janus, "janus_core_handles")
        measure(janus, ECHOTEST, loops, 1.0)   # warm-up (aiortc imports, Janus threads)
        for rep in range(reps):
            for plugin in (plugins if rep % 2 == 0 else tuple(reversed(plugins))):
                r = measure(janus, plugin, loops, seconds)
                runs[plugin].append(r)
                ctx.progress.step("rep %d %-22s %6.1f lifecycles/s  p50 %6.1f ms  p99 %6.1f ms  "
                                  "janus %5.1f ms CPU each  errors %d"
                                  % (rep + 1, plugin, r["per_second"], r["p50_ms"], r["p99_ms"],
                                     r["janus_cpu_ms_per_lifecycle"] or 0, r["errors"]))
        time.sleep(1.0)
        leftover = {"janus_media_handles": metric(janus, "janus_media_handles") - base_handles,
                    "janus_core_handles": metric(janus, "janus_core_handles") - base_core,
                    "janus_media_sessions_active": metric(janus, "janus_media_sessions_active")}
    finally:
        stop_janus(janus)
    return {"config": {"loops": loops, "seconds": seconds, "reps": reps,
                       "lifecycle": "attach, echo + offer, setRemoteDescription(answer), "
                                    "the core's hangup, detach"},
            "runs": runs, "leftover_after": leftover}
