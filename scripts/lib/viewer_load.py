#!/usr/bin/python3
"""A fan-out load generator: one publisher, many receiving WebRTC viewers, on GStreamer's
webrtcbin (real ICE, DTLS and SRTP; Debian's gstreamer1.0-plugins-bad, gstreamer1.0-nice,
python3-gi).

  /usr/bin/python3 scripts/lib/viewer_load.py --server ws://127.0.0.1:8188/ \\
      --viewers 200 --processes 2 --bitrate 500 --seconds 20 [--videoroom]

Viewers decode nothing: each webrtcbin's receive pads end in a fakesink, so the per-packet
work (ICE, DTLS-SRTP unprotect, the RTP session and jitter buffer) stays in GStreamer's C
code; Python runs per viewer only for signalling, for the first video packets (a pad probe
reads the VP8 payload descriptor until the first keyframe and then removes itself) and for
webrtcbin's get-stats (inbound-rtp packets-received, bytes-received and packets-lost, which
the RTP session counts from sequence numbers). Many viewers share one process, one Janus
session (one handle each) and one WebSocket; --processes spreads them over cores.

Two plugins: janus.plugin.media (publish a device, viewers `watch` it and answer with
`start`) and Janus's janus.plugin.videoroom (a room with one publisher; viewers `join` as
subscribers of its feed and answer with `start`).

The same file is the worker (``worker viewers`` / ``worker publish``, JSON lines on
stdin/stdout) and the controller (the FanoutLoad class, used by tests/e2e/test_fanout.py and
bench/driver/part_fanout.py, and this CLI).
"""

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from janus_gst import (STEP_TIMEOUT, Janus, JanusGstError, Publisher, gst,  # noqa: E402
                       loopback_server, restrict_ice)

MEDIA = "janus.plugin.media"
VIDEOROOM = "janus.plugin.videoroom"
SETUP_CONCURRENCY = 8     # viewers negotiating at once in one worker
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- worker side ----------------------------------------------------------------------------
def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def vp8_keyframe(data):
    """True when an RTP packet (bytes) starts a VP8 keyframe (RFC 7741: the payload
    descriptor's S bit and partition 0, then the P bit of the VP8 frame header clear)."""
    if len(data) < 12 or data[0] >> 6 != 2:
        return False
    offset = 12 + 4 * (data[0] & 0x0F)
    if data[0] & 0x10:  # header extension
        if len(data) < offset + 4:
            return False
        offset += 4 + 4 * int.from_bytes(data[offset + 2:offset + 4], "big")
    if data[0] & 0x20:  # padding at the end: irrelevant for the descriptor
        pass
    if len(data) <= offset:
        return False
    d = data[offset]
    if not d & 0x10 or d & 0x07:  # not the start of partition 0
        return False
    offset += 1
    if d & 0x80:  # X: extension byte
        if len(data) <= offset:
            return False
        x = data[offset]
        offset += 1
        if x & 0x80:  # I: picture id, 7 or 15 bits
            if len(data) <= offset:
                return False
            offset += 2 if data[offset] & 0x80 else 1
        if x & 0x40:  # L: TL0PICIDX
            offset += 1
        if x & 0x30:  # T or K: TID/Y/KEYIDX
            offset += 1
    return len(data) > offset and not data[offset] & 0x01


class Viewer:
    """One webrtcbin in its own pipeline, one Janus handle."""

    def __init__(self, worker, index, batch):
        self.worker = worker
        self.index = index
        self.batch = batch   # which `add` of the worker it came with (0, 1, ...)
        self.Gst, self.GstSdp, self.GstWebRTC = worker.gst
        self.k = worker.constants
        self.handle = self.queue = None
        self.pipeline = self.webrtc = None
        self.t_watch = self.t_offer = self.t_started = self.t_up = self.t_keyframe = None
        self.error = None
        self.events = asyncio.Queue()
        self.pump = None

    # Janus events: trickle applied, webrtcup and hangup noted, the rest for setup().
    async def _pump(self):
        while True:
            message = await self.queue.get()
            kind = message.get("janus")
            if kind == "trickle":
                c = message.get("candidate") or {}
                if self.webrtc is not None and "candidate" in c and not c.get("completed"):
                    self.webrtc.emit("add-ice-candidate", c.get("sdpMLineIndex", 0),
                                     c["candidate"])
            elif kind == "webrtcup":
                self.t_up = time.monotonic()
            elif kind == "hangup":
                self.error = self.error or "hangup: %s" % message.get("reason")
                self.events.put_nowait(message)
            else:
                self.events.put_nowait(message)

    async def _event(self, predicate, what):
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise JanusGstError("no %s in %.0f s" % (what, STEP_TIMEOUT))
            try:
                message = await asyncio.wait_for(self.events.get(), remaining)
            except asyncio.TimeoutError:
                continue
            if message.get("janus") == "hangup":
                raise JanusGstError("hangup before %s: %s" % (what, message.get("reason")))
            data = (message.get("plugindata") or {}).get("data") or {}
            if data.get("error_code"):
                raise JanusGstError("error %s: %s" % (data["error_code"], data.get("error")))
            if predicate(message, data):
                return message, data

    async def setup(self, args):
        janus = self.worker.janus
        plugin = VIDEOROOM if args.videoroom else MEDIA
        self.handle, self.queue = await janus.attach(plugin)
        self.pump = asyncio.ensure_future(self._pump())
        self.t_watch = time.monotonic()
        if args.videoroom:
            body = {"request": "join", "ptype": "subscriber", "room": args.room,
                    "streams": [{"feed": args.feed}]}
        else:
            body = {"request": "watch", "device_id": args.device}
        await janus.message(body, handle_id=self.handle)
        message, _ = await self._event(
            lambda m, d: (m.get("jsep") or {}).get("type") == "offer", "offer")
        self.t_offer = time.monotonic()
        answer = await self._answer(message["jsep"]["sdp"])
        await janus.message({"request": "start"}, {"type": "answer", "sdp": answer},
                            handle_id=self.handle)
        if args.videoroom:
            await self._event(lambda m, d: d.get("started") == "ok", "started")
        else:
            await self._event(lambda m, d: d.get("result") == "watching", "watching")
        self.t_started = time.monotonic()

    async def _answer(self, offer_sdp):
        Gst, GstSdp, GstWebRTC = self.Gst, self.GstSdp, self.GstWebRTC
        loop = asyncio.get_running_loop()
        self.pipeline = Gst.Pipeline.new("viewer%d" % self.index)
        self.webrtc = Gst.ElementFactory.make("webrtcbin", None)
        self.webrtc.set_property("bundle-policy", GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
        self.pipeline.add(self.webrtc)
        restrict_ice(self.webrtc, self.worker.ice_addresses)
        self.webrtc.connect("pad-added", self._on_pad_added)
        self.webrtc.connect("on-ice-candidate", lambda _w, mline, candidate:
                            loop.call_soon_threadsafe(self._trickle, mline, candidate))
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            raise JanusGstError("the viewer pipeline does not start")
        ok, sdp = GstSdp.SDPMessage.new_from_text(offer_sdp)
        if ok != GstSdp.SDPResult.OK:
            raise JanusGstError("the offer does not parse")
        offer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.OFFER, sdp)
        self.webrtc.emit("set-remote-description", offer, Gst.Promise.new())
        answered = loop.create_future()

        def on_answer(promise, _data):
            reply = promise.get_reply()
            answer = reply.get_value("answer") if reply else None
            if answer is None:
                loop.call_soon_threadsafe(lambda: answered.done() or answered.set_exception(
                    JanusGstError("webrtcbin made no answer")))
                return
            self.webrtc.emit("set-local-description", answer, Gst.Promise.new())
            text = answer.sdp.as_text()
            loop.call_soon_threadsafe(lambda: answered.done() or answered.set_result(text))

        self.webrtc.emit("create-answer", None,
                         Gst.Promise.new_with_change_func(on_answer, None))
        return await asyncio.wait_for(answered, STEP_TIMEOUT)

    def _trickle(self, mline, candidate):
        asyncio.ensure_future(self._send_trickle({"sdpMLineIndex": mline,
                                                  "candidate": candidate}))

    async def _send_trickle(self, candidate):
        try:
            await self.worker.janus.trickle(candidate, handle_id=self.handle)
        except Exception as e:  # noqa: BLE001 (recorded: the viewer then has no media)
            self.error = self.error or "trickle: %s" % e

    # GStreamer's streaming threads: every receive pad to a fakesink; a video pad gets a
    # probe that looks for the first keyframe and then removes itself.
    def _on_pad_added(self, webrtc, pad):
        Gst, k = self.Gst, self.k
        if pad.get_direction() != k.SRC:
            return
        sink = Gst.ElementFactory.make("fakesink", None)
        sink.set_property("sync", False)
        sink.set_property("async", False)
        sink.set_property("enable-last-sample", False)
        self.pipeline.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad("sink"))
        pad.add_probe(k.PROBE_BUFFER, self._probe, None)

    def _probe(self, pad, info, _data):
        k = self.k
        caps = pad.get_current_caps()
        name = caps.get_structure(0).get_value("encoding-name") if caps else None
        if name != "VP8":
            return k.REMOVE
        buf = info.get_buffer()
        if buf is not None and vp8_keyframe(buf.extract_dup(0, min(buf.get_size(), 64))):
            self.t_keyframe = time.monotonic()
            return k.REMOVE
        return k.OK

    def stats(self):
        """(packets, bytes, lost) over the inbound RTP streams, from get-stats."""
        Gst, k = self.Gst, self.k
        if self.webrtc is None:
            return None
        promise = Gst.Promise.new()
        self.webrtc.emit("get-stats", None, promise)
        if promise.wait() != k.REPLIED:
            return None
        totals = [0, 0, 0]

        def each(_field, value, _):
            if isinstance(value, Gst.Structure) and \
                    value.get_value("type") == k.INBOUND_RTP:
                for i, name in enumerate(("packets-received", "bytes-received",
                                          "packets-lost")):
                    if value.has_field(name):
                        totals[i] += value.get_value(name)
            return True

        promise.get_reply().foreach(each, None)
        return totals

    def summary(self):
        s = self.stats() if self.error is None else None

        def since(t):
            return round(t - self.t_watch, 4) if t and self.t_watch else None

        return {"i": self.index, "batch": self.batch, "error": self.error, "packets": s[0] if s else 0,
                "bytes": s[1] if s else 0, "lost": s[2] if s else 0,
                "offer_s": since(self.t_offer), "started_s": since(self.t_started),
                "up_s": since(self.t_up), "keyframe_s": since(self.t_keyframe)}

    def stop(self):
        if self.pump is not None:
            self.pump.cancel()
        if self.pipeline is not None:
            self.pipeline.set_state(self.Gst.State.NULL)


class Worker:
    """Viewers of one process, or the publisher, driven by JSON commands on stdin."""

    def __init__(self, args):
        self.args = args
        self.gst = gst()
        Gst, _, GstWebRTC = self.gst
        # PyGObject resolves enum members lazily and not thread-safely: a first lookup from
        # a streaming thread can fail ("type object 'PadDirection' has no attribute 'SRC'"),
        # so the ones used there are looked up here, once.
        self.constants = argparse.Namespace(
            SRC=Gst.PadDirection.SRC, PROBE_BUFFER=Gst.PadProbeType.BUFFER,
            OK=Gst.PadProbeReturn.OK, REMOVE=Gst.PadProbeReturn.REMOVE,
            REPLIED=Gst.PromiseResult.REPLIED, INBOUND_RTP=GstWebRTC.WebRTCStatsType.INBOUND_RTP)
        # The same for the wrapper classes the streaming threads use (a race there gave
        # "Expected Gst.PadProbeInfo, but got gi.repository.Gst.PadProbeInfo").
        for cls, method in ((Gst.PadProbeInfo, "get_buffer"), (Gst.Buffer, "extract_dup"),
                            (Gst.Pad, "get_current_caps"), (Gst.Caps, "get_structure"),
                            (Gst.Structure, "get_value"), (Gst.Pad, "link"),
                            (Gst.Element, "sync_state_with_parent"), (Gst.Pad, "add_probe")):
            getattr(cls, method)
        self.janus = Janus.for_url(args.server)
        self.ice_addresses = args.ice_address or (
            ["127.0.0.1"] if loopback_server(args.server) else [])
        self.viewers = []
        self.batches = 0
        self.publisher = None

    async def run(self):
        loop = asyncio.get_running_loop()
        commands = asyncio.Queue()

        def read_stdin():
            for line in sys.stdin:
                loop.call_soon_threadsafe(commands.put_nowait, line)
            loop.call_soon_threadsafe(commands.put_nowait, '{"cmd": "quit"}')

        threading.Thread(target=read_stdin, name="commands", daemon=True).start()
        await self.janus.open()
        await self.janus.start(plugin=None)
        ready = {"ready": True, "pid": os.getpid()}
        if self.args.role == "publish":
            ready.update(await self.publish())
        emit(ready)
        while True:
            command = json.loads(await commands.get())
            cmd = command.get("cmd")
            if cmd == "quit":
                break
            if cmd == "add":
                emit(await self.add(command["count"]))
            elif cmd == "stats":
                if self.publisher is not None:
                    sent = await loop.run_in_executor(None, self.publisher.sent)
                    emit({"sent_packets": sent[0] if sent else None,
                          "sent_bytes": sent[1] if sent else None})
                else:
                    emit({"viewers": await loop.run_in_executor(
                        None, lambda: [v.summary() for v in self.viewers])})
        await self.close()

    async def add(self, count):
        gate = asyncio.Semaphore(SETUP_CONCURRENCY)
        self.batches += 1
        new = [Viewer(self, len(self.viewers) + i, self.batches - 1) for i in range(count)]
        self.viewers.extend(new)

        async def one(viewer):
            async with gate:
                try:
                    await viewer.setup(self.args)
                except Exception as e:  # noqa: BLE001 (one viewer's failure is a result)
                    viewer.error = "%s: %s" % (type(e).__name__, e)

        await asyncio.gather(*[one(v) for v in new])
        return {"added": count, "errors": [v.error for v in new if v.error][:5]}

    async def publish(self):
        """The publisher: janus.plugin.media `publish`, or a VideoRoom (created here) and
        its one publisher. Answers once ICE is connected."""
        args = self.args
        loop = asyncio.get_running_loop()
        plugin = VIDEOROOM if args.videoroom else MEDIA
        handle, queue = await self.janus.attach(plugin)
        p = self.publisher = Publisher(args, loop)
        if self.ice_addresses:
            p.restrict_ice(self.ice_addresses)

        async def event(predicate, what):
            deadline = time.monotonic() + STEP_TIMEOUT
            while time.monotonic() < deadline:
                try:
                    m = await asyncio.wait_for(queue.get(), 0.5)
                except asyncio.TimeoutError:
                    continue
                if m.get("janus") == "trickle":
                    p.add_candidate(m.get("candidate") or {})
                    continue
                d = (m.get("plugindata") or {}).get("data") or {}
                if d.get("error_code"):
                    raise JanusGstError("error %s: %s" % (d["error_code"], d.get("error")))
                if predicate(m, d):
                    return m, d
            raise JanusGstError("publisher: no %s in %.0f s" % (what, STEP_TIMEOUT))

        out = {}
        if args.videoroom:
            reply = await self.janus.message(
                {"request": "create", "room": args.room, "publishers": 1,
                 "videocodec": "vp8", "audiocodec": "opus", "description": "fan-out"},
                handle_id=handle)
            d = (reply.get("plugindata") or {}).get("data") or {}
            if d.get("videoroom") != "created":
                raise JanusGstError("VideoRoom create: %r" % d)
            await self.janus.message({"request": "join", "ptype": "publisher",
                                      "room": args.room, "display": "publisher"},
                                     handle_id=handle)
            _, d = await event(lambda m, d: d.get("videoroom") == "joined", "joined")
            out["feed"] = d["id"]
        p.start()
        sdp = await asyncio.wait_for(p.offer, STEP_TIMEOUT)

        async def trickle():
            while True:
                candidate = await p.candidates.get()
                await self.janus.trickle(candidate, handle_id=handle)
                if candidate.get("completed"):
                    return

        asyncio.ensure_future(trickle())
        if args.videoroom:
            body = {"request": "publish", "audio": True, "video": True}
            done = lambda m, d: d.get("configured") == "ok"  # noqa: E731
        else:
            body = {"request": "publish", "device_id": args.device}
            done = lambda m, d: d.get("result") == "publishing"  # noqa: E731
        await self.janus.message(body, {"type": "offer", "sdp": sdp}, handle_id=handle)
        m, _ = await event(lambda m, d: done(m, d) and m.get("jsep"), "answer to publish")
        p.set_answer(m["jsep"]["sdp"])
        deadline = time.monotonic() + STEP_TIMEOUT
        while not p.connected.done() and time.monotonic() < deadline:
            while not queue.empty():
                m = queue.get_nowait()
                if m.get("janus") == "trickle":
                    p.add_candidate(m.get("candidate") or {})
            await asyncio.sleep(0.05)
        await asyncio.wait_for(p.connected, 0.1)
        return out

    async def close(self):
        # One destroy detaches every handle (Janus hangs their PeerConnections up).
        await self.janus.close()
        for v in self.viewers:
            v.stop()
        if self.publisher is not None:
            self.publisher.stop()


def worker_main(argv):
    p = argparse.ArgumentParser(prog="viewer_load.py worker")
    p.add_argument("role", choices=("viewers", "publish"))
    p.add_argument("--server", required=True)
    p.add_argument("--device", default="fanout-1")
    p.add_argument("--videoroom", action="store_true")
    p.add_argument("--room", type=int, default=0)
    p.add_argument("--feed", type=int, default=0)
    p.add_argument("--bitrate", type=int, default=500)
    p.add_argument("--ice-address", action="append")
    args = p.parse_args(argv)
    # What Publisher (janus_gst) reads: a test pattern with an Opus tone. A moving zone
    # plate is what vp8enc's rate control holds at the target (within ~7 % at 500 and 1,500
    # kbit/s); simpler patterns undershoot it (ball) or overshoot it (smpte at 500).
    args.test_pattern, args.audio = True, "tone"
    args.pattern = "zone-plate kx2=20 ky2=20 kt=1"
    args.width, args.height, args.fps, args.camera = 640, 480, 30, None
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(Worker(args).run())
        return 0
    except Exception as e:  # noqa: BLE001 (the controller reads it)
        emit({"ready": False, "error": "%s: %s" % (type(e).__name__, e)})
        return 1


# -- controller side ------------------------------------------------------------------------
def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def threads(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return None


class WorkerProcess:
    def __init__(self, argv, nice=0, command=None):
        self.proc = subprocess.Popen(
            (command or [sys.executable, str(Path(__file__).resolve()), "worker"]) + argv,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
            preexec_fn=(lambda: os.nice(nice)) if nice else None)
        self.ready = self.reply(STEP_TIMEOUT * 2)
        if not self.ready.get("ready"):
            self.stop()
            raise JanusGstError("worker: %s" % self.ready.get("error"))

    @property
    def pid(self):
        return self.proc.pid

    def reply(self, timeout):
        """The next JSON line of the worker (a thread bounds the wait)."""
        box = []
        reader = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(timeout)
        if not box or not box[0]:
            raise JanusGstError("worker %d: no reply in %.0f s (exit %s)"
                                % (self.proc.pid, timeout, self.proc.poll()))
        return json.loads(box[0])

    def send(self, command):
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def stop(self, timeout=20):
        if self.proc.poll() is None:
            try:
                self.send({"cmd": "quit"})
                self.proc.wait(timeout)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass


class FanoutLoad:
    """One publisher (its own process) and viewers spread over `processes` workers.

    Use: load = FanoutLoad(url, videoroom=False, bitrate=500); load.add(n) (blocking, every
    viewer negotiated or failed); load.stats() per viewer; load.cpu_seconds(); load.stop()."""

    def __init__(self, server, videoroom=False, bitrate=500, processes=2, nice=0,
                 device=None, room=None, viewer_binary=None):
        self.server = server
        self.videoroom = videoroom
        self.processes = processes
        self.nice = nice
        tag = "%d-%d" % (os.getpid(), random.randrange(1 << 30))
        self.device = device or "fanout-%s" % tag
        self.room = room or random.randrange(1 << 20, 1 << 30)
        base = ["--server", server, "--bitrate", str(bitrate)]
        if videoroom:
            base += ["--videoroom", "--room", str(self.room)]
        else:
            base += ["--device", self.device]
        self.publisher = None
        self.workers = []
        self.batches = 0
        try:
            self.publisher = WorkerProcess(["publish"] + base, nice)
            if videoroom:
                base += ["--feed", str(self.publisher.ready["feed"])]
            command = [str(viewer_binary)] if viewer_binary else None
            self.workers = [WorkerProcess(["viewers"] + base, nice, command)
                            for _ in range(processes)]
        except BaseException:
            self.stop()
            raise

    @property
    def viewers(self):
        return self.workers

    def add(self, n, timeout=None):
        """n more viewers, spread evenly over the workers; the errors of the first few
        that failed."""
        shares = [n // len(self.workers) + (1 if i < n % len(self.workers) else 0)
                  for i in range(len(self.workers))]
        # Every worker gets the command, 0 viewers or not, so that a viewer's `batch` (the
        # how-many-th add it came with) is the same number in all of them.
        for w, k in zip(self.workers, shares):
            w.send({"cmd": "add", "count": k})
        errors = []
        for w, k in zip(self.workers, shares):
            errors += w.reply(timeout or STEP_TIMEOUT + 2 * k)["errors"]
        self.batches += 1
        return errors

    def stats(self, timeout=60):
        for w in self.workers:
            w.send({"cmd": "stats"})
        out = []
        for k, w in enumerate(self.workers):
            for v in w.reply(timeout)["viewers"]:
                v["i"] = "%d.%d" % (k, v["i"])   # unique over the workers
                out.append(v)
        return out

    def publisher_sent(self, timeout=20):
        self.publisher.send({"cmd": "stats"})
        return self.publisher.reply(timeout)

    def cpu_seconds(self):
        """(viewer workers, publisher) CPU seconds so far."""
        return (sum(cpu_seconds(w.pid) for w in self.workers),
                cpu_seconds(self.publisher.pid))

    def threads(self):
        return sum(threads(w.pid) or 0 for w in self.workers)

    def stop(self):
        for w in self.workers:
            w.stop()
        if self.publisher is not None:
            self.publisher.stop()


def summarize(before, after, seconds):
    """Per-run figures from two stats() lists of the same viewers."""
    b = {v["i"]: v for v in before}
    ok = [v for v in after if v["error"] is None]
    packets = sum(v["packets"] - b.get(v["i"], {}).get("packets", 0) for v in ok)
    nbytes = sum(v["bytes"] - b.get(v["i"], {}).get("bytes", 0) for v in ok)
    return {"viewers": len(after), "ok": len(ok),
            "receiving": sum(1 for v in ok if v["packets"] > b.get(v["i"], {}).get("packets", 0)),
            "with_keyframe": sum(1 for v in ok if v["keyframe_s"] is not None),
            "packets_per_s": packets / seconds, "kbit_per_viewer": 8e-3 * nbytes / seconds /
            max(1, len(ok)), "lost": sum(v["lost"] for v in ok),
            "errors": [v["error"] for v in after if v["error"]][:5]}


def main(argv):
    if argv[:1] == ["worker"]:
        return worker_main(argv[1:])
    p = argparse.ArgumentParser(description="Fan-out load: 1 publisher, N webrtcbin viewers.")
    p.add_argument("--server", default="ws://127.0.0.1:8188/")
    p.add_argument("--viewers", type=int, default=20)
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--bitrate", type=int, default=500, help="video kbit/s target")
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--videoroom", action="store_true", help="janus.plugin.videoroom")
    args = p.parse_args(argv)
    load = FanoutLoad(args.server, args.videoroom, args.bitrate, args.processes)
    try:
        t0 = time.monotonic()
        errors = load.add(args.viewers)
        print("%d viewers set up in %.1f s%s" % (args.viewers, time.monotonic() - t0,
                                                 "; errors: %s" % errors if errors else ""))
        before, cpu0, t0 = load.stats(), load.cpu_seconds(), time.monotonic()
        time.sleep(args.seconds)
        after, cpu1, t1 = load.stats(), load.cpu_seconds(), time.monotonic()
        s = summarize(before, after, t1 - t0)
        s["viewer_cpu_percent"] = 100 * (cpu1[0] - cpu0[0]) / (t1 - t0)
        s["publisher_cpu_percent"] = 100 * (cpu1[1] - cpu0[1]) / (t1 - t0)
        s["threads"] = load.threads()
        print(json.dumps(s, indent=1))
    finally:
        load.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
