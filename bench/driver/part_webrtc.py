"""Part "webrtc": N concurrent aiortc clients with real media (a tone and 320x240 video).

  echo      N clients echo through janus.plugin.media, and (same run, same N) through
            janus.plugin.echotest as the reference
  fanout    1 publisher of a device, N viewers watching it (janus.plugin.media)

Setup time: the offer (echo/publish) or the `watch` request sent -> Janus's "webrtcup"
event received (what janus_media_setup_duration_seconds measures on the server side); of
which "answer": until the plugin's answer (or, for `watch`, its offer) is back.
Success: webrtcup and media received back within SETUP_TIMEOUT. Then media flows for
`hold` seconds, over which we take Janus's CPU time delta (/proc/<pid>/stat) and the
forwarded packets: RTP the clients received (getStats packetsReceived), and for
janus.plugin.media janus_media_rtp_relayed_packets_total too.

N goes up the ladder (1, 2, 4, 8, 16) while every client of the previous step succeeded and
the client process kept up (under CLIENT_CPU_LIMIT % of a core: one Python process drives
them all); the machine's 2 cores are shared by Janus and the clients."""

import asyncio
import time

from common import (run_async, ECHOTEST, MEDIA, metric, own_cpu_seconds, percentile, proc_cpu_seconds,
                    start_janus, stop_janus)

SETUP_TIMEOUT = 30.0
CLIENT_CPU_LIMIT = 90.0   # % of one core used by this (client) process
ECHO_BODY = {MEDIA: {"request": "echo", "audio": True, "video": True, "data": False},
             ECHOTEST: {"audio": True, "video": True}}


def _tracks():
    import sys
    from common import REPO
    sys.path.insert(0, str(REPO / "tests" / "e2e"))
    from media_clients import ToneTrack
    from test_echo import SmallVideoTrack
    return ToneTrack(), SmallVideoTrack()


class Client:
    """One Janus session (WebSocket), one handle, one PeerConnection."""

    def __init__(self, janus, plugin):
        self.janus = janus
        self.plugin = plugin
        self.client = self.handle = self.pc = None
        self.frames = 0
        self.first_frame = None
        self.t_sent = self.t_up = self.t_answer = None
        self.error = None
        self.tasks = []

    async def connect(self):
        from harness import JanusWsClient
        self.client = await JanusWsClient(self.janus.ws_url, timeout=SETUP_TIMEOUT,
                                          keepalive_interval=20).connect()
        await self.client.create_session()
        self.handle = await self.client.attach(self.plugin)

    def _on_track(self, track):
        async def consume():
            from aiortc.mediastreams import MediaStreamError
            for _ in range(10 ** 7):
                try:
                    await track.recv()
                except (MediaStreamError, asyncio.CancelledError):
                    return
                except Exception:  # noqa: BLE001 (decoder errors: keep the count)
                    return
                self.frames += 1
                if self.first_frame is None:
                    self.first_frame = time.monotonic()
        self.tasks.append(asyncio.ensure_future(consume()))

    def _new_pc(self):
        import harness
        self.pc = harness.new_peer_connection()
        self.pc.on("track", self._on_track)

    async def offer_and_wait(self, body):
        """echo or publish: our offer, the plugin's answer, webrtcup."""
        from aiortc import RTCSessionDescription
        self._new_pc()
        for track in _tracks():
            self.pc.addTrack(track)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        self.t_sent = time.monotonic()
        reply = await self.client.message(self.handle, body,
                                          jsep={"type": "offer",
                                                "sdp": self.pc.localDescription.sdp},
                                          timeout=SETUP_TIMEOUT)
        self.t_answer = time.monotonic()
        jsep = reply.get("jsep") or {}
        if jsep.get("type") != "answer":
            raise RuntimeError("no answer: %r" % (reply.get("plugindata") or reply))
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=jsep["sdp"], type="answer"))
        await self._wait_up()

    async def watch_and_wait(self, device_id):
        """watch -> the plugin's offer -> our answer with start -> webrtcup."""
        from aiortc import RTCSessionDescription
        self.t_sent = time.monotonic()
        reply = await self.client.message(self.handle, {"request": "watch",
                                                        "device_id": device_id},
                                          timeout=SETUP_TIMEOUT)
        self.t_answer = time.monotonic()
        jsep = reply.get("jsep") or {}
        if jsep.get("type") != "offer":
            raise RuntimeError("no offer: %r" % (reply.get("plugindata") or reply))
        self._new_pc()
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=jsep["sdp"], type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        r = await self.client.message(self.handle, {"request": "start"},
                                      jsep={"type": "answer",
                                            "sdp": self.pc.localDescription.sdp},
                                      timeout=SETUP_TIMEOUT)
        if ((r.get("plugindata") or {}).get("data") or {}).get("result") != "watching":
            raise RuntimeError("start: %r" % (r.get("plugindata") or r))
        await self._wait_up()

    async def _wait_up(self):
        await self.client.wait_event(self.handle, "webrtcup", timeout=SETUP_TIMEOUT)
        self.t_up = time.monotonic()

    async def wait_media(self, timeout):
        deadline = time.monotonic() + timeout
        while self.first_frame is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return self.first_frame is not None

    async def packets_received(self):
        if self.pc is None:
            return 0
        try:
            report = await asyncio.wait_for(self.pc.getStats(), 5)
        except Exception:  # noqa: BLE001
            return 0
        return sum(getattr(s, "packetsReceived", 0) or 0 for s in report.values()
                   if getattr(s, "type", "") == "inbound-rtp")

    async def close(self):
        for t in self.tasks:
            t.cancel()
        if self.client is not None and self.handle is not None and not self.client.closed.is_set():
            try:
                if self.plugin == MEDIA:
                    await self.client.message(self.handle, {"request": "hangup"}, timeout=5)
                else:
                    await self.client.hangup(self.handle, timeout=5)
                await self.client.detach(self.handle, timeout=5)
                await self.client.destroy(timeout=5)
            except Exception:  # noqa: BLE001
                pass
        if self.pc is not None:
            try:
                await asyncio.wait_for(self.pc.close(), 10)
            except Exception:  # noqa: BLE001
                pass
        if self.client is not None:
            await self.client.close()

    @property
    def setup_s(self):
        return self.t_up - self.t_sent if self.t_up and self.t_sent else None

    @property
    def answer_s(self):
        """The plugin's part: offer sent -> its answer (watch sent -> its offer) received."""
        return self.t_answer - self.t_sent if self.t_answer and self.t_sent else None

    @property
    def media_s(self):
        return self.first_frame - self.t_sent if self.first_frame and self.t_sent else None


async def _setup(client, start, expect_media=True):
    try:
        await client.connect()
        await start(client)
        if expect_media and not await client.wait_media(10):
            raise RuntimeError("no media within 10 s of webrtcup")
    except Exception as e:  # noqa: BLE001
        client.error = "%s: %r" % (type(e).__name__, e)


async def _scenario(janus, scenario, n, hold, tag):
    """One scenario at one N: set up, hold, measure, tear down."""
    publisher = None
    device = "bench-%s" % tag
    clients = []
    try:
        if scenario == "fanout":
            publisher = Client(janus, MEDIA)
            await _setup(publisher, lambda c: c.offer_and_wait(
                {"request": "publish", "device_id": device, "audio": True, "video": True,
                 "data": False}), expect_media=False)
            if publisher.error:
                raise RuntimeError("publisher: %s" % publisher.error)
            clients = [Client(janus, MEDIA) for _ in range(n)]
            await asyncio.gather(*[_setup(c, lambda c: c.watch_and_wait(device))
                                   for c in clients])
        else:
            plugin = MEDIA if scenario == "echo_media" else ECHOTEST
            clients = [Client(janus, plugin) for _ in range(n)]
            await asyncio.gather(*[_setup(c, lambda c, p=plugin: c.offer_and_wait(ECHO_BODY[p]))
                                   for c in clients])
        ok = [c for c in clients if c.error is None]
        # Media flowing: CPU per forwarded packet over `hold` seconds.
        await asyncio.sleep(1.0)
        pk0 = sum([await c.packets_received() for c in ok])
        relayed0 = metric(janus, "janus_media_rtp_relayed_packets_total")
        cpu0, own0, t0 = proc_cpu_seconds(janus.pid), own_cpu_seconds(), time.monotonic()
        await asyncio.sleep(hold)
        cpu1, own1, t1 = proc_cpu_seconds(janus.pid), own_cpu_seconds(), time.monotonic()
        relayed1 = metric(janus, "janus_media_rtp_relayed_packets_total")
        pk1 = sum([await c.packets_received() for c in ok])
        wall = t1 - t0
        packets = pk1 - pk0
        setups = [c.setup_s for c in ok]
        return {"n": n, "ok": len(ok), "success_ratio": len(ok) / n,
                "setup_s": [round(s, 4) for s in setups],
                "setup_p50_ms": (percentile(setups, 50) or 0) * 1e3 if setups else None,
                "setup_p99_ms": (percentile(setups, 99) or 0) * 1e3 if setups else None,
                "answer_p50_ms": (percentile([c.answer_s for c in ok], 50) or 0) * 1e3
                if ok else None,
                "first_media_p50_ms": (percentile([c.media_s for c in ok], 50) or 0) * 1e3
                if ok else None,
                "packets_received_per_s": packets / wall,
                "relayed_metric_per_s": (relayed1 - relayed0) / wall,
                "janus_cpu_percent": 100 * (cpu1 - cpu0) / wall,
                "client_cpu_percent": 100 * (own1 - own0) / wall,
                "janus_cpu_us_per_packet": 1e6 * (cpu1 - cpu0) / packets if packets else None,
                "errors": [c.error for c in clients if c.error][:5]}
    finally:
        await asyncio.gather(*[c.close() for c in clients])
        if publisher is not None:
            await publisher.close()
        await asyncio.sleep(0.5)


SCENARIOS = ("echo_media", "echo_echotest", "fanout")


def run(ctx):
    q = ctx.quick
    ladder = (1, 2) if q else (1, 2, 4, 8, 16)
    hold = 3.0 if q else 8.0
    reps = ctx.reps or (1 if q else 3)
    runs = {s: {} for s in SCENARIOS}
    ctx.progress.begin("webrtc", reps * len(ladder) * len(SCENARIOS),
                       "ladder N=%s, %.0f s of media each, %d reps" % (list(ladder), hold, reps))
    janus = start_janus(ctx.modules_dir, shards=32)
    stopped_at = {}
    idle_percent = None
    try:
        run_async(_scenario(janus, "echo_echotest", 1, 0.5, "warmup"))
        time.sleep(1.0)
        cpu0, t0 = proc_cpu_seconds(janus.pid), time.monotonic()
        time.sleep(3.0)
        idle_percent = 100 * (proc_cpu_seconds(janus.pid) - cpu0) / (time.monotonic() - t0)
        ctx.progress.note("janus idle: %.1f %% CPU" % idle_percent)
        for rep in range(reps):
            for n in ladder:
                if any(n > m for m in stopped_at.values()):
                    ctx.progress.step("rep %d N=%d skipped (N=%s already failed)"
                                      % (rep + 1, n, min(stopped_at.values())))
                    continue
                order = SCENARIOS if rep % 2 == 0 else ("echo_echotest", "echo_media", "fanout")
                for scenario in order:
                    try:
                        r = run_async(_scenario(janus, scenario, n, hold,
                                                "%d-%d-%s" % (rep, n, scenario)))
                    except Exception as e:  # noqa: BLE001 (a failed run, not a failed part)
                        r = {"n": n, "ok": 0, "success_ratio": 0.0, "setup_s": [],
                             "setup_p50_ms": None, "setup_p99_ms": None,
                             "first_media_p50_ms": None, "packets_received_per_s": 0.0,
                             "relayed_metric_per_s": 0.0, "janus_cpu_percent": 0.0,
                             "client_cpu_percent": 0.0, "janus_cpu_us_per_packet": None,
                             "errors": ["%s: %s" % (type(e).__name__, e)]}
                    if r.get("packets_received_per_s"):
                        net = max(0.0, r["janus_cpu_percent"] - idle_percent)
                        r["janus_net_cpu_us_per_packet"] = \
                            1e4 * net / r["packets_received_per_s"]
                    runs[scenario].setdefault(str(n), []).append(r)
                    ctx.progress.step(
                        "rep %d N=%d %-13s ok %d/%d  setup p50 %s ms p99 %s ms  %6.0f pkt/s  "
                        "janus %4.0f%% CPU, %s us/pkt  client %4.0f%% CPU%s"
                        % (rep + 1, n, scenario, r["ok"], n, _f(r["setup_p50_ms"]),
                           _f(r["setup_p99_ms"]), r["packets_received_per_s"],
                           r["janus_cpu_percent"], _f(r["janus_cpu_us_per_packet"], 1),
                           r["client_cpu_percent"],
                           "  " + r["errors"][0][:120] if r["errors"] else ""))
                    if r["success_ratio"] < 1.0:
                        stopped_at.setdefault(scenario, n)
                    elif r["client_cpu_percent"] > CLIENT_CPU_LIMIT:
                        # One Python process drives every client: past this it measures
                        # itself, not Janus.
                        stopped_at.setdefault("client_cpu_limit", n)
    finally:
        stop_janus(janus)
    return {"config": {"ladder": list(ladder), "hold_s": hold, "reps": reps,
                       "media": "aiortc: 8 kHz tone + 320x240 30 fps VP8 video",
                       "setup": "offer (echo, publish) or watch sent -> webrtcup received"},
            "runs": runs, "first_failure_n": stopped_at, "janus_idle_cpu_percent": idle_percent}


def _f(v, digits=0):
    return "-" if v is None else ("%.*f" % (digits, v))
