#!/usr/bin/python3
"""A fan-out load generator: one publisher, many receiving WebRTC viewers, real ICE, DTLS
and SRTP, nothing decoded.

  /usr/bin/python3 scripts/lib/viewer_load.py --server ws://127.0.0.1:8188/ \\
      --viewers 200 --bitrate 500 --seconds 20 [--videoroom] [--viewer-binary PATH]

The viewers are bench/fanout_viewer (Go, on Debian's Pion: golang-github-pion-webrtc.v3-dev;
CMake's fanout_viewer target builds it into <build>/bench/fanout_viewer/fanout_viewer): one
process holds them all (one Janus session, a handle each, one WebSocket), counts packets,
payload bytes and loss from sequence numbers per received stream, and the times from `watch`
(subscriber `join`) to the first packet and the first VP8 keyframe. The publisher is GStreamer's
webrtcbin (janus_gst.Publisher; Debian's gstreamer1.0-plugins-bad, gstreamer1.0-nice,
python3-gi) in a process of its own: this file's ``worker publish``.

Two plugins: janus.plugin.media (publish a device, viewers `watch` it and answer with
`start`) and Janus's janus.plugin.videoroom (a room with one publisher; viewers `join` as
subscribers of its feed and answer with `start`).

Both kinds of worker speak JSON lines on stdin/stdout (see bench/fanout_viewer/main.go);
the FanoutLoad class drives them (tests/e2e/test_fanout.py, bench/driver/part_fanout.py and
this CLI).
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
                       loopback_server)

MEDIA = "janus.plugin.media"
VIDEOROOM = "janus.plugin.videoroom"
# Where CMake's fanout_viewer target puts the viewers in the plain build.
DEFAULT_VIEWER_BINARY = HERE.parent.parent / "build" / "bench" / "fanout_viewer" / "fanout_viewer"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- worker side ----------------------------------------------------------------------------
def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Worker:
    """The publisher, driven by JSON commands on stdin (the viewers are bench/fanout_viewer)."""

    def __init__(self, args):
        self.args = args
        gst()  # GStreamer initialised, or a clear error
        self.janus = Janus.for_url(args.server)
        self.ice_addresses = args.ice_address or (
            ["127.0.0.1"] if loopback_server(args.server) else [])
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
        ready.update(await self.publish())
        emit(ready)
        while True:
            command = json.loads(await commands.get())
            cmd = command.get("cmd")
            if cmd == "quit":
                break
            if cmd == "stats":
                sent = await loop.run_in_executor(None, self.publisher.sent)
                emit({"sent_packets": sent[0] if sent else None,
                      "sent_bytes": sent[1] if sent else None})
        await self.close()

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
        await self.janus.close()
        if self.publisher is not None:
            self.publisher.stop()


def worker_main(argv):
    p = argparse.ArgumentParser(prog="viewer_load.py worker")
    p.add_argument("role", choices=("publish",))
    p.add_argument("--server", required=True)
    p.add_argument("--device", default="fanout-1")
    p.add_argument("--videoroom", action="store_true")
    p.add_argument("--room", type=int, default=0)
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


def viewer_binary(build_dir=None):
    """The fanout_viewer binary: $JMEDIA_FANOUT_VIEWER, else that of build_dir, else that
    of the plain build; an error saying how to build it when it is not there."""
    path = os.environ.get("JMEDIA_FANOUT_VIEWER") or (
        Path(build_dir) / "bench" / "fanout_viewer" / "fanout_viewer" if build_dir
        else DEFAULT_VIEWER_BINARY)
    if not os.access(path, os.X_OK):
        raise JanusGstError("no fan-out viewer binary at %s: build it (cmake --build <build> "
                            "--target fanout_viewer, or bench/fanout_viewer/build.sh PATH)"
                            % path)
    return str(path)


class FanoutLoad:
    """One publisher (its own process) and viewers spread over `processes` fanout_viewer
    processes (one is enough: each uses every core).

    Use: load = FanoutLoad(url, videoroom=False, bitrate=500); load.add(n) (blocking, every
    viewer negotiated or failed); load.stats() per viewer; load.cpu_seconds(); load.stop()."""

    def __init__(self, server, videoroom=False, bitrate=500, processes=1, nice=0,
                 device=None, room=None, binary=None):
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
        self.rcvbuf_bytes = None
        try:
            self.publisher = WorkerProcess(["publish"] + base, nice)
            if videoroom:
                base += ["--feed", str(self.publisher.ready["feed"])]
            command = [binary or viewer_binary()]
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
            reply = w.reply(timeout)
            # What the kernel granted an ICE socket of the viewers (SO_RCVBUF).
            self.rcvbuf_bytes = reply.get("rcvbuf_bytes")
            for v in reply["viewers"]:
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
    p = argparse.ArgumentParser(description="Fan-out load: 1 webrtcbin publisher, N Pion "
                                            "viewers (bench/fanout_viewer).")
    p.add_argument("--server", default="ws://127.0.0.1:8188/")
    p.add_argument("--viewers", type=int, default=20)
    p.add_argument("--processes", type=int, default=1, help="fanout_viewer processes")
    p.add_argument("--viewer-binary", help="fanout_viewer (default: $JMEDIA_FANOUT_VIEWER, "
                   "else build/bench/fanout_viewer/fanout_viewer)")
    p.add_argument("--bitrate", type=int, default=500, help="video kbit/s target")
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--videoroom", action="store_true", help="janus.plugin.videoroom")
    args = p.parse_args(argv)
    load = FanoutLoad(args.server, args.videoroom, args.bitrate, args.processes,
                      binary=args.viewer_binary)
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
        s["viewer_rcvbuf_bytes"] = load.rcvbuf_bytes
        print(json.dumps(s, indent=1))
    finally:
        load.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
