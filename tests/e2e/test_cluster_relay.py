#!/usr/bin/python3
"""End-to-end tests of the relays between cluster nodes (issue 17): a private redis-server on a
free loopback port and three Janus nodes, A, B and C, on 127.0.0.1 (heartbeat 200 ms, node
TTL 1 s, each node its own cluster.relay_ports range of free UDP ports, advertise_host
127.0.0.1; A with cluster.test_relay_drop_percent = 5: its relay sockets drop 5 % of what
they send), and real WebRTC clients: aiortc publishers sending VP8 + Opus (a counter pattern
per publisher, media_clients.CounterVideoTrack) and aiortc viewers that decode them. One
Janus trio and one set of clients for the whole class, the tests in this order:

  test_1  publisher on A; three viewers on B and one on C decode the publisher's video and
          audio (first one viewer on B alone: its watch makes B's relay; then the three others
          at once: C's relay, two viewers joining B's); A has exactly two outbound relays
          (janus_media_relays{direction="out"} == 2), B and C one inbound relay each
  test_2  a late viewer on C: its first decoded frame within 1 s of its watch
  test_3  the 5 % loss on A's relay sockets is repaired: B's viewers lose < 0.5 % of the
          audio and of the video RTP (aiortc's inbound-rtp packetsLost / expected, read for
          every SSRC, and the distinct sequence numbers each receiver saw, so that a packet
          that came twice hides no loss), and A's janus_media_relay_retransmitted_total and
          B's janus_media_relay_recovered_total moved
  test_4  the same device published on B while A publishes it: 1014
  test_5  relay packets on the wire are SRTP: the test acts as a node ("node-t"): it
          PUBLISHes a signed relay_request (cluster/node_messages.h) into A's inbox with a
          UDP socket of its own as the address (one signed with another secret first: A
          drops it, bad_signature), gets the relay_accept on its own inbox channel, reads
          A's packets off the socket and decrypts them with the key derived as
          cluster/relay_keys.cpp does (HKDF-SHA256, AEAD_AES_128_GCM, pylibsrtp): the
          headers match, the payload differs from the decrypted VP8 (a keyframe's start
          code is in the plain text, not in the ciphertext), and keys of another relay id
          or of the other direction fail to decrypt them; a relay_stop ends it
  test_6  Redis killed and restarted: on each node a local echo and a local publisher with
          a local viewer never stop (no gap over 1 s in what they decode); a remote watch
          gets 1022 while Redis is down, and once Redis is back a remote watch decodes; the
          remote viewers of A's device are never told publisher_left over it
  test_7  SIGKILL of A (by pid): the viewers on B and C get publisher_left within 6 s; the
          device published again on B: C's viewers decode it

The viewers are plain aiortc receivers: they never ask for a keyframe themselves (a browser
would), so they decode only if the nodes get them one when their media comes up, as a local
viewer is (test_devices.py). Tests 1, 2 and 6 log what the diagnosis of a failure needs: when
each viewer's ICE came up and when the publisher was asked for keyframes (KeyframeProbe), the
relay counters, the remote viewers' events during the Redis outage.

The tests share the nodes and clients: each checks what it needs from the earlier ones and
says so when it is missing. Every wait is bounded; processes are ended by pid. About 30 s.

Run: JMEDIA_MODULES_DIR=<build>/modules /usr/bin/python3 tests/e2e/test_cluster_relay.py -v
"""

import asyncio
import hashlib
import hmac
import json
import re
import secrets
import signal
import socket
import struct
import sys
import threading
import time
import unittest
from pathlib import Path

from aiortc import RTCSessionDescription

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cluster_node import NODE_TTL_MS, ClusterNode, free_udp_ranges  # noqa: E402
from harness import LOOPBACK, RedisProcess  # noqa: E402
from media_clients import (MEDIA_PLUGIN, Echoer, KeyframeProbe, Publisher,  # noqa: E402
                           Viewer, close_all, make_offer, plugin_data, result_of)
from media_clients import wait_until as async_wait_until  # noqa: E402
from test_cluster import offer_without_candidates, wait_until  # noqa: E402

SECRET = "cluster-relay-test-secret-0123456789abcdef"
DROP_PERCENT = 5          # on A's relay sockets (cluster.test_relay_drop_percent)
RELAY_PORTS = 16          # per node
TEST_NODE = "node-t"      # test_5: the test itself as a node

DEVICE_BUSY = 1014
CLUSTER_UNAVAILABLE = 1022

FRAMES = 30               # decoded video frames that show media flows
AUDIO_FRAMES = 25
MAX_LOSS = 0.005          # test_3
LATE_FIRST_FRAME_S = 1.0  # test_2
LEFT_WITHIN_S = 6.0       # test_7
MAX_GAP_S = 1.0           # test_6: what "never stop" allows between decoded frames

SOURCE_A, SOURCE_B, SOURCE_C, SOURCE_A_AGAIN = 1, 2, 3, 4   # counter pattern ids


def log(msg):
    sys.stderr.write("[cluster-relay] %s\n" % msg)
    sys.stderr.flush()


# ---------------------------------------------------------------------------
# the asyncio loop of the aiortc clients: one thread for the whole class, so that the clients
# live (and their media flows) across tests
# ---------------------------------------------------------------------------
class LoopThread:
    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="aiortc-loop", daemon=True)
        self.thread.start()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro, timeout):
        """Runs coro on the loop, bounded by timeout; its result or its exception."""
        future = asyncio.run_coroutine_threadsafe(asyncio.wait_for(coro, timeout), self.loop)
        return future.result(timeout + 15)

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(15)


# ---------------------------------------------------------------------------
# a few Redis commands (RESP), for the test as a node
# ---------------------------------------------------------------------------
class Resp:
    """A Redis connection: command() for request/reply, next_push() for a subscriber's
    messages."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection((LOOPBACK, port), timeout=timeout)
        self.buffer = b""

    def close(self):
        self.sock.close()

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for arg in args:
            data = arg if isinstance(arg, bytes) else str(arg).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
        self.sock.sendall(b"".join(out))

    def _parse(self, at):
        """(value, end) of the reply starting at self.buffer[at], or None when incomplete."""
        line_end = self.buffer.find(b"\r\n", at)
        if line_end < 0:
            return None
        kind, line = self.buffer[at:at + 1], self.buffer[at + 1:line_end]
        at = line_end + 2
        if kind == b"+":
            return line.decode(), at
        if kind == b"-":
            return RuntimeError("redis: " + line.decode()), at
        if kind == b":":
            return int(line), at
        if kind == b"$":
            n = int(line)
            if n < 0:
                return None, at
            if len(self.buffer) < at + n + 2:
                return None
            return self.buffer[at:at + n], at + n + 2
        if kind == b"*":
            items = []
            for _ in range(int(line)):
                parsed = self._parse(at)
                if parsed is None:
                    return None
                items.append(parsed[0])
                at = parsed[1]
            return items, at
        raise RuntimeError("redis: unexpected reply %r" % self.buffer[:40])

    def read(self, timeout=5.0):
        """The next reply; None when none is complete within timeout."""
        deadline = time.monotonic() + timeout
        for _ in range(100000):
            parsed = self._parse(0) if self.buffer else None
            if parsed is not None:
                value, end = parsed
                self.buffer = self.buffer[end:]
                if isinstance(value, RuntimeError):
                    raise value
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not data:
                raise ConnectionError("redis closed the connection")
            self.buffer += data
        return None

    def command(self, *args):
        self.send(*args)
        reply = self.read()
        if reply is None:
            raise TimeoutError("redis: no reply to %s" % args[0])
        return reply


# ---------------------------------------------------------------------------
# the relay's message format and keys, as the nodes compute them
# ---------------------------------------------------------------------------
def inbox_channel(node):
    """cluster/directory_keys.h node_inbox_channel()."""
    return "jmedia:node:%s:inbox" % node


def sign(json_text, secret=SECRET):
    """cluster/node_messages.cpp sign_json(): "<hex HMAC-SHA256(secret, json)> <json>"."""
    mac = hmac.new(secret.encode(), json_text.encode(), hashlib.sha256).hexdigest()
    return "%s %s" % (mac, json_text)


def verify(wire, secret=SECRET):
    """The JSON object of a signed message, or AssertionError."""
    text = wire.decode() if isinstance(wire, bytes) else wire
    mac, _, body = text.partition(" ")
    expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac, expected):
        raise AssertionError("bad signature on %r" % text[:200])
    return json.loads(body)


def hkdf_sha256(salt, ikm, info, length):
    """RFC 5869, as cluster/relay_keys.cpp hkdf_sha256()."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def relay_key(relay_id, direction="origin->viewer", secret=SECRET):
    """cluster/relay_keys.cpp derive_relay_key(): 16 bytes of AES-128 key, 12 of salt."""
    info = b"jmedia relay srtp aead_aes_128_gcm\0" + relay_id.encode() + b"\0" + \
        direction.encode()
    return hkdf_sha256(b"jmedia cluster relay v1", secret.encode(), info, 28)


def is_rtcp(packet):
    """RFC 5761 demultiplexing: payload type byte 192-223 is RTCP."""
    return len(packet) >= 2 and 192 <= packet[1] <= 223


def rtp_header_length(packet):
    length = 12 + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10:
        length += 4 + 4 * struct.unpack("!H", packet[length + 2:length + 4])[0]
    return length


def vp8_keyframe_start(payload):
    """True when payload (an RTP payload) starts a VP8 keyframe: RFC 7741's descriptor with S
    set and partition 0, then a frame tag with P = 0 and the start code 9d 01 2a."""
    if len(payload) < 4:
        return False
    first, at = payload[0], 1
    if first & 0x80:                 # X: the extension byte and what it announces
        ext = payload[1]
        at = 2
        if ext & 0x80:               # I: picture id, 7 or 15 bits
            at += 2 if at < len(payload) and payload[at] & 0x80 else 1
        if ext & 0x40:               # L
            at += 1
        if ext & 0x30:               # T or K
            at += 1
    if not first & 0x10 or first & 0x07:
        return False
    frame = payload[at:]
    return len(frame) >= 10 and frame[0] & 0x01 == 0 and frame[3:6] == b"\x9d\x01\x2a"


# ---------------------------------------------------------------------------
# ports and nodes
# ---------------------------------------------------------------------------
class Node(ClusterNode):
    """ClusterNode, with a Janus session per message and a handle kept for queries."""

    def __init__(self, name, redis, relay_ports, drop_percent=0):
        settings = {"test_relay_drop_percent": drop_percent} if drop_percent else {}
        super().__init__(name, redis, SECRET, relay_ports, **settings)
        self.query_handle = None   # for "devices", polled often

    def message(self, body, jsep=None):
        """A plugin message on a Janus session of its own, destroyed after: the reply or
        event. (What the core or the plugin sends later, e.g. the hangup of a refused
        publisher's PeerConnection, would wait in the session's queue, which nobody
        long-polls, and the edge drops a session whose event waits over its
        send_timeout_ms.)"""
        session = self.http.create()
        try:
            handle = self.http.attach(session, MEDIA_PLUGIN)
            return self.http.message(session, handle, body, jsep=jsep, timeout=15)
        finally:
            self.http.destroy(session)

    def query(self, body):
        """A plugin request that answers at once and sends nothing later ("devices"), on
        one long-lived handle: cheap enough to poll."""
        if self.query_handle is None:
            self.query_handle = self.http.attach(self.session, MEDIA_PLUGIN)
        return self.http.message(self.session, self.query_handle, body, timeout=15)

    def cluster_devices(self):
        """{device_id: node_id} of "devices" scope cluster, or None (an error)."""
        data = plugin_data(self.query({"request": "devices", "scope": "cluster",
                                       "limit": 100}))
        if "error_code" in data:
            return None
        return {d["device_id"]: d["node_id"] for d in data.get("devices", [])}


# ---------------------------------------------------------------------------
# what the viewers receive: every RTP sequence number per SSRC, for the loss of test_3
# ---------------------------------------------------------------------------
class SequenceProbe:
    """Wraps aiortc's RTCRtpReceiver._handle_rtp_packet (once per process): each receiver's
    distinct (extended) sequence numbers per SSRC, so that a duplicate (a retransmission that
    came twice) cannot hide a loss as getStats' packetsReceived would."""

    installed = False
    seen = {}      # id(receiver) -> {ssrc: [last extended seq, set of extended seqs]}

    @classmethod
    def install(cls):
        if cls.installed:
            return
        from aiortc.rtcrtpreceiver import RTCRtpReceiver
        original = RTCRtpReceiver._handle_rtp_packet

        async def handle(self, packet, arrival_time_ms):
            streams = cls.seen.setdefault(id(self), {})
            stream = streams.get(packet.ssrc)
            seq = packet.sequence_number
            if stream is None:
                streams[packet.ssrc] = [seq, {seq}]
            elif len(stream[1]) < 1000000:
                last = stream[0]
                ext = last + ((seq - last + 0x8000) & 0xFFFF) - 0x8000
                stream[0] = max(last, ext)
                stream[1].add(ext)
            return await original(self, packet, arrival_time_ms)

        RTCRtpReceiver._handle_rtp_packet = handle
        cls.installed = True

    @classmethod
    def loss(cls, pc):
        """{kind: (expected, missing)} over pc's receivers, from the first sequence number
        each SSRC had to its highest."""
        out = {}
        for receiver in pc.getReceivers():
            kind = receiver.track.kind if receiver.track is not None else "?"
            for seqs in cls.seen.get(id(receiver), {}).values():
                expected = max(seqs[1]) - min(seqs[1]) + 1
                have = out.get(kind, (0, 0))
                out[kind] = (have[0] + expected, have[1] + expected - len(seqs[1]))
        return out


def inbound_rtp(pc):
    """{kind: (packetsReceived, packetsLost)} over every SSRC pc's receivers get: aiortc's
    own counters of each stream, which getStats() reports as inbound-rtp packetsReceived and
    packetsLost (aiortc 1.4's report keeps one inbound-rtp entry per receiver, the last SSRC's:
    for video that is the retransmission (RTX) stream, so the counters are read here)."""
    out = {}
    for receiver in pc.getReceivers():
        kind = receiver.track.kind if receiver.track is not None else "?"
        streams = getattr(receiver, "_RTCRtpReceiver__remote_streams", None)
        if streams is None:
            raise AssertionError("aiortc internals changed: no RTCRtpReceiver.__remote_streams")
        for stream in streams.values():
            have = out.get(kind, (0, 0))
            out[kind] = (have[0] + stream.packets_received, have[1] + stream.packets_lost)
    return out


def readable(viewer, source, since=0.0):
    """Video frames viewer decoded since `since` that show publisher `source`'s pattern."""
    return sum(1 for t, ident in viewer.media.video_ids
               if t >= since and ident is not None and ident[0] == source)


def first_readable(viewer, source, since=0.0):
    return min((t for t, ident in viewer.media.video_ids
                if t >= since and ident is not None and ident[0] == source), default=None)


def arrived(peer, results, since):
    """(monotonic time, message) of the first message for peer's handle since `since` whose
    plugin result is one of results, or None. (The events of earlier tests may still be
    queued: what arrived after a point in time is what counts.)"""
    for t, message in peer.received:
        if t >= since and message.get("sender") == peer.handle and \
                result_of(message) in results:
            return t, message
    return None


class FrameSampler:
    """Every 0.1 s, how many frames each of some peers has decoded; the longest time any of
    them went without a new frame of a kind (test_6's "never stop")."""

    def __init__(self, peers):
        self.peers = peers          # [(peer, kind)]
        self.samples = {}            # (name, kind) -> [(t, frames)]
        self.worst_at = {}           # (name, kind) -> when its longest gap ended (from t0)
        self.task = None

    def start(self):
        self.task = asyncio.ensure_future(self._run())

    async def _run(self):
        for _ in range(6000):
            now = time.monotonic()
            for peer, kind in self.peers:
                self.samples.setdefault((peer.name, kind), []).append(
                    (now, peer.media.frames.get(kind, 0)))
            await asyncio.sleep(0.1)

    async def stop(self):
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass

    def longest_gaps(self, t0, t1):
        """{(name, kind): longest seconds within [t0, t1] without a new frame}."""
        out = {}
        for key, samples in self.samples.items():
            last_change, previous, worst = max(t0, samples[0][0]), None, 0.0
            for t, frames in samples:
                if t < t0 or t > t1:
                    previous = frames if t < t0 else previous
                    continue
                if previous is None or frames != previous:
                    if t - last_change > worst:
                        worst = t - last_change
                        self.worst_at[key] = round(t - t0, 2)
                    last_change = t
                previous = frames
            out[key] = round(max(worst, min(t1, samples[-1][0]) - last_change), 2)
        return out


# ---------------------------------------------------------------------------
# the tests
# ---------------------------------------------------------------------------
class ClusterRelayTest(unittest.TestCase):
    loop = None
    redis = None
    a = b = c = None
    nodes = ()
    publisher = None
    viewers_b = []
    viewers_c = []
    peers = []
    offer = None

    @classmethod
    def setUpClass(cls):
        cls.t0 = time.monotonic()
        SequenceProbe.install()
        KeyframeProbe.install()
        cls.loop = LoopThread()
        cls.peers = []
        try:
            sdp = cls.loop.run(make_offer(("audio", "video")), 30)
            cls.offer = {"type": "offer", "sdp": offer_without_candidates(sdp)}
            cls.redis = RedisProcess().start()
            ranges = free_udp_ranges(3, RELAY_PORTS)
            cls.a = Node("node-a", cls.redis, ranges[0], DROP_PERCENT).start()
            cls.b = Node("node-b", cls.redis, ranges[1]).start()
            cls.c = Node("node-c", cls.redis, ranges[2]).start()
            cls.nodes = (cls.a, cls.b, cls.c)
            for node in cls.nodes:
                wait_until(lambda n=node: n.metric("janus_media_cluster_nodes") == 3 and
                           n.metric("janus_media_cluster_inbox_up") == 1, 15,
                           "%s to see 3 nodes and subscribe to its inbox" % node.name)
            log("redis %s; A %s (relay ports %d-%d), B %s (%d-%d), C %s (%d-%d)"
                % ((cls.redis.address, cls.a.janus.http_url) + cls.a.relay_ports +
                   (cls.b.janus.http_url,) + cls.b.relay_ports +
                   (cls.c.janus.http_url,) + cls.c.relay_ports))
            cls.publisher = Publisher(cls.a.janus, "publisher-a", SOURCE_A)
            cls.peers.append(cls.publisher)

            async def publish():
                await cls.publisher.connect()
                await cls.publisher.publish("cam-1", unittest.TestCase())
                await async_wait_until(lambda: cls.publisher.video_track.sent >= 10, 10,
                                       "the publisher to send video")
            cls.loop.run(publish(), 30)
            log("setup took %.1f s" % (time.monotonic() - cls.t0))
        except BaseException:
            for node in cls.nodes or (cls.a, cls.b, cls.c):
                if node is not None:
                    sys.stderr.write("\n--- janus %s log tail ---\n%s\n"
                                     % (node.name, node.janus.log_tail(40)))
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.loop is not None:
            try:
                cls.loop.run(close_all(cls.peers), 60)
            except Exception as e:      # noqa: BLE001
                log("closing the clients: %r" % e)
        for node in (cls.a, cls.b, cls.c):
            if node is not None and node.janus.proc is not None:
                node.janus.stop(10)
            if node is not None:
                node.janus.cleanup()
        if cls.redis is not None:
            cls.redis.kill()
        if cls.loop is not None:
            cls.loop.stop()
        log("the class took %.1f s" % (time.monotonic() - cls.t0))

    def setUp(self):
        for node in self.nodes:
            if node.janus.alive():
                node.keepalive()

    def run(self, result=None):
        failures = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > failures:
            for node in self.nodes:
                # What the cluster and the relays said, warnings and errors: the rest of a
                # node's log is mostly the clients' ICE and DTLS.
                lines = [line for line in node.janus.log_text().splitlines()
                         if re.search(r"relay|cluster|WARN|ERR|FATAL", line)]
                sys.stderr.write("--- janus %s: cluster, relay, WARN, ERR lines (last 20) "
                                 "---\n%s\n" % (node.name, "\n".join(lines[-20:])))
        return out

    # -- helpers --------------------------------------------------------------
    def arun(self, coro, timeout):
        return self.loop.run(coro, timeout)

    def new_peer(self, cls, node, name, *args):
        peer = cls(node.janus, name, *args)
        self.peers.append(peer)
        return peer

    async def close_peers(self, peers):
        for peer in peers:
            if peer in self.peers:
                self.peers.remove(peer)
        await close_all(peers)

    async def watching(self, node, name, device_id, source, browser_like=False):
        """A viewer on node that watches device_id (browser_like: it asks for keyframes
        while it cannot decode, as a browser does; see media_clients.Viewer)."""
        viewer = self.new_peer(Viewer, node, name, browser_like)
        await viewer.connect()
        t = time.monotonic()
        await viewer.watch_and_start(device_id, self)
        viewer.t_ice = time.monotonic()
        log("%s: watch of %s on %s answered and ICE up in %.2f s"
            % (name, device_id, node.name, viewer.t_ice - t))
        return viewer

    async def wait_decoding(self, viewer, source, since=0.0, frames=FRAMES, timeout=20):
        audio = viewer.media.frames.get("audio", 0)
        await async_wait_until(
            lambda: readable(viewer, source, since) >= frames and
            viewer.media.frames.get("audio", 0) >= audio + AUDIO_FRAMES, timeout,
            lambda: "%s to decode %d video frames of publisher %d and %d audio frames "
            "(has %d readable of %d decoded video, %d audio; inbound %r)"
            % (viewer.name, frames, source, AUDIO_FRAMES, readable(viewer, source, since),
               len(viewer.media.video_ids_since(since)), viewer.media.frames.get("audio", 0),
               SequenceProbe.loss(viewer.pc) if viewer.pc else None))

    def require(self, peers, what):
        if not peers or any(p.pc is None for p in peers):
            self.fail("needs %s (an earlier test did not get that far)" % what)

    def relays(self, node, direction):
        return node.metric("janus_media_relays", direction=direction)

    # -- 1. fan-out through relays ------------------------------------------------
    def test_1_viewers_on_b_and_c_decode_and_a_has_two_relays(self):
        async def body():
            # First one viewer alone (its watch makes B's relay), then the others at once
            # (C's relay, and two viewers joining B's).
            # A viewer that does not decode is reported at the end: the others (and the later
            # tests, which use them) go on.
            failed = []
            t = time.monotonic()
            # Browser-like: a viewer whose DTLS ends after Janus's (aiortc, on a loaded
            # machine) can lose the start of the keyframe its node asked for, and then
            # decodes nothing until it asks itself, as a browser does. Test 2's late viewer
            # does not ask: the nodes alone must get it its first frame.
            first = await self.watching(self.b, "viewer-b1", "cam-1", SOURCE_A, True)
            type(self).viewers_b = [first]
            failed += await self.check_decoding([first], t, timeout=5)
            names = [(self.b, "viewer-b2"), (self.b, "viewer-b3"), (self.c, "viewer-c1")]
            t = time.monotonic()
            viewers = await asyncio.gather(*[self.watching(node, name, "cam-1", SOURCE_A, True)
                                             for node, name in names])
            self.viewers_b.extend(viewers[:2])
            type(self).viewers_c = [viewers[2]]
            failed += await self.check_decoding(viewers, t, timeout=10)
            if failed:
                raise failed[0]
        self.arun(body(), 60)
        wait_until(lambda: self.relays(self.a, "out") == 2, 5,
                   lambda: "A to count 2 outbound relays (one per viewers' node), has %r"
                   % self.relays(self.a, "out"))
        self.assertEqual(self.relays(self.b, "in"), 1, "B's inbound relays")
        self.assertEqual(self.relays(self.c, "in"), 1, "C's inbound relays")
        self.assertEqual(self.relays(self.a, "in"), 0, "A's inbound relays")

    async def check_decoding(self, viewers, t, timeout):
        """Waits (bounded) for each of viewers (watches sent at t) to decode A's publisher;
        the AssertionErrors of those that did not. When each viewer's ICE came up and when the
        publisher was asked for keyframes are logged."""
        failed = []
        for viewer in viewers:
            try:
                await self.wait_decoding(viewer, SOURCE_A, t, timeout=timeout)
            except AssertionError as e:
                failed.append(e)
                log("%s does not decode: %s" % (viewer.name, e))
                continue
            finally:
                plis = KeyframeProbe.keyframe_requests(self.publisher.pc, t)
                log("%s: ICE up %.2f s after the watch; keyframe requests: %r sent by A's "
                    "plugin (janus_media_keyframe_requests_total), acted on by the publisher "
                    "at %r s after the watch" % (viewer.name, viewer.t_ice - t,
                                                 self.a.metric(
                                                     "janus_media_keyframe_requests_total"),
                                                 [round(x - t, 2) for x in plis]))
            log("%s decodes: %d readable video frames of A's publisher, %d audio, first frame "
                "%.2f s after the watch; PLIs it sent itself at %r s after the watch"
                % (viewer.name, readable(viewer, SOURCE_A, t), viewer.media.frames["audio"],
                   first_readable(viewer, SOURCE_A, t) - t,
                   [round(x - t, 2) for x in viewer.own_plis]))
        return failed

    # -- 2. a late viewer ----------------------------------------------------------
    def test_2_late_viewer_on_c_first_frame_within_1s(self):
        self.require(self.viewers_c, "test 1's viewer on C")

        async def body():
            viewer = self.new_peer(Viewer, self.c, "viewer-c2")
            await viewer.connect()
            t_watch = time.monotonic()
            await viewer.watch_and_start("cam-1", self)
            t_started = time.monotonic()
            await async_wait_until(lambda: readable(viewer, SOURCE_A, t_watch) >= 1, 10,
                                   "the late viewer's first frame")
            first = first_readable(viewer, SOURCE_A, t_watch)
            log("late viewer on C: watch -> start + ICE %.2f s, first frame %.3f s after the "
                "watch" % (t_started - t_watch, first - t_watch))
            self.viewers_c.append(viewer)
            self.assertLessEqual(first - t_watch, LATE_FIRST_FRAME_S)
            await self.wait_decoding(viewer, SOURCE_A, t_watch, frames=10)
        self.arun(body(), 30)
        self.assertEqual(self.relays(self.a, "out"), 2, "A's outbound relays with 2 on C")

    # -- 3. loss on the relay ------------------------------------------------------
    def test_3_relay_loss_is_repaired(self):
        self.require(self.viewers_b, "test 1's viewers on B")
        packets = 800   # RTP packets per viewer: ~40 dropped on A's relay at 5 %

        def rtp_at(viewer):
            return sum(e for e, _ in SequenceProbe.loss(viewer.pc).values())

        wait_until(lambda: all(rtp_at(v) >= packets for v in self.viewers_b) and
                   (self.a.metric("janus_media_relay_retransmitted_total") or 0) >= 10, 25,
                   lambda: "%d RTP packets at each viewer on B (have %r) and A's relays to "
                   "retransmit (retransmitted %r)"
                   % (packets, [rtp_at(v) for v in self.viewers_b],
                      self.a.metric("janus_media_relay_retransmitted_total")))
        counters = {
            "A retransmitted": self.a.metric("janus_media_relay_retransmitted_total"),
            "A nacked (out)": self.a.metric("janus_media_relay_nacked_total", direction="out"),
            "A packets (out)": self.a.metric("janus_media_relay_packets_total",
                                             direction="out"),
            "B recovered": self.b.metric("janus_media_relay_recovered_total"),
            "B lost": self.b.metric("janus_media_relay_lost_total"),
            "B nacked (in)": self.b.metric("janus_media_relay_nacked_total", direction="in"),
            "B packets (in)": self.b.metric("janus_media_relay_packets_total", direction="in")}
        log("relay counters: %r" % counters)
        self.assertGreater(counters["A retransmitted"] or 0, 0)
        self.assertGreater(counters["B recovered"] or 0, 0)
        for viewer in self.viewers_b:
            stats = inbound_rtp(viewer.pc)
            seqs = SequenceProbe.loss(viewer.pc)
            log("%s: inbound-rtp {kind: (packetsReceived, packetsLost)} %r; distinct sequence "
                "numbers {kind: (expected, missing)} %r" % (viewer.name, stats, seqs))
            for kind in ("audio", "video"):
                received, lost = stats.get(kind, (0, 0))
                self.assertGreater(received, packets // 4, "%s %s" % (viewer.name, kind))
                self.assertLess(max(0, lost) / (received + max(0, lost)), MAX_LOSS,
                                "%s: %s packetsLost %r" % (viewer.name, kind, stats))
                expected, missing = seqs.get(kind, (0, 0))
                self.assertLess(missing / max(1, expected), MAX_LOSS,
                                "%s: %s sequence numbers missing %r" % (viewer.name, kind, seqs))

    # -- 4. one publisher per device in the cluster ----------------------------------
    def test_4_same_device_on_b_while_a_publishes_gets_1014(self):
        self.assertTrue(self.publisher.pc is not None and
                        self.publisher.pc.connectionState == "connected",
                        "A's publisher is connected")
        wait_until(lambda: (self.b.cluster_devices() or {}).get("cam-1") == "node-a", 10,
                   "B's directory view to list cam-1 on node-a")
        reply = self.b.message({"request": "publish", "device_id": "cam-1"}, jsep=self.offer)
        data = plugin_data(reply)
        self.assertEqual(data.get("error_code"), DEVICE_BUSY, repr(reply))
        self.assertIn("node-a", data.get("error", ""))
        # A's publisher goes on, and B holds no publisher of cam-1.
        self.assertIn({"device_id": "cam-1", "publishing": True},
                      [{k: d.get(k) for k in ("device_id", "publishing")}
                       for d in plugin_data(self.a.query({"request": "devices"}))["devices"]])
        self.assertEqual(self.publisher.pc.connectionState, "connected")
        self.assertFalse([s for s in plugin_data(self.b.query({"request": "list",
                                                                "device_id": "cam-1"}))
                          .get("sessions", []) if s.get("role") == "publisher"])

    # -- 5. the relay's packets are SRTP ---------------------------------------------
    def test_5_relay_packets_on_the_wire_are_srtp(self):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind((LOOPBACK, 0))
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        address = "%s:%d" % udp.getsockname()
        sub = Resp(self.redis.port)
        pub = Resp(self.redis.port)
        relay_id = "%s-%s" % (TEST_NODE, secrets.token_hex(16))
        try:
            self.assertEqual(sub.command("SUBSCRIBE", inbox_channel(TEST_NODE)),
                             [b"subscribe", inbox_channel(TEST_NODE).encode(), 1])
            request = json.dumps({"v": 1, "type": "relay_request", "from_node": TEST_NODE,
                                  "device_id": "cam-1", "relay_id": relay_id,
                                  "address": address}, separators=(",", ":"))
            # Signed with another secret: A drops it (and nothing else happens).
            bad = self.a.metric("janus_media_cluster_messages_dropped_total",
                                reason="bad_signature")
            got = self.a.metric("janus_media_cluster_messages_total", type="relay_request",
                                direction="received")
            self.assertEqual(pub.command("PUBLISH", inbox_channel("node-a"),
                                         sign(request, SECRET + "x")), 1,
                             "A subscribes to its inbox")
            wait_until(lambda: self.a.metric("janus_media_cluster_messages_dropped_total",
                                             reason="bad_signature") == bad + 1, 5,
                       "A to drop the badly signed relay_request")
            self.assertEqual(self.a.metric("janus_media_cluster_messages_total",
                                           type="relay_request", direction="received"), got)
            # Signed with the cluster's secret: A takes it, and answers on our inbox.
            t = time.monotonic()
            self.assertEqual(pub.command("PUBLISH", inbox_channel("node-a"), sign(request)), 1)
            wait_until(lambda: self.a.metric("janus_media_cluster_messages_total",
                                             type="relay_request",
                                             direction="received") == got + 1, 5,
                       "A to take the relay_request")
            push = sub.read(timeout=5)
            self.assertIsNotNone(push, "no relay_accept on %s within 5 s of the request"
                                 % inbox_channel(TEST_NODE))
            self.assertEqual(push[:2], [b"message", inbox_channel(TEST_NODE).encode()])
            accept = verify(push[2])
            log("A answered in %.2f s: %s" % (time.monotonic() - t, json.dumps(accept)))
            self.assertEqual({k: accept.get(k) for k in ("v", "type", "from_node", "device_id",
                                                         "relay_id")},
                             {"v": 1, "type": "relay_accept", "from_node": "node-a",
                              "device_id": "cam-1", "relay_id": relay_id})
            host, _, port = accept["address"].rpartition(":")
            self.assertEqual(host, LOOPBACK)
            self.assertTrue(self.a.relay_ports[0] <= int(port) <= self.a.relay_ports[1],
                            "A's relay port %s in %r" % (port, self.a.relay_ports))
            media = accept.get("media") or {}
            self.assertEqual(media.get("video_codec", "").lower(), "vp8", repr(media))
            self.assertEqual(media.get("audio_codec", "").lower(), "opus", repr(media))
            self.assertIs(media.get("data"), False, repr(media))
            self.check_srtp(udp, relay_id, media, (host, int(port)))
            stop = json.dumps({"v": 1, "type": "relay_stop", "from_node": TEST_NODE,
                               "device_id": "cam-1", "relay_id": relay_id},
                              separators=(",", ":"))
            self.assertEqual(pub.command("PUBLISH", inbox_channel("node-a"), sign(stop)), 1)
        finally:
            sub.close()
            pub.close()
            udp.close()
        try:
            wait_until(lambda: self.relays(self.a, "out") == 2, 3, "")
        except AssertionError:
            pass
        log("A's outbound relays after our relay_stop: %r" % self.relays(self.a, "out"))

    def check_srtp(self, udp, relay_id, media, origin):
        import pylibsrtp

        def session(key):
            policy = pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND,
                                      srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_128_GCM)
            policy.window_size = 1024
            return pylibsrtp.Session(policy=policy)

        right = session(relay_key(relay_id))
        others = {"another relay id": session(relay_key(relay_id + "0")),
                  "the other direction": session(relay_key(relay_id, "viewer->origin")),
                  "another secret": session(relay_key(relay_id, secret=SECRET + "x"))}
        video_pt, audio_pt = media["video_pt"], media["audio_pt"]
        udp.settimeout(0.5)
        deadline = time.monotonic() + 8
        rtp = rtcp = 0
        kinds = set()
        keyframe = None
        for _ in range(3000):
            if keyframe is not None and kinds >= {video_pt, audio_pt} and rtp >= 50 or \
                    time.monotonic() > deadline:
                break
            try:
                wire, sender = udp.recvfrom(2048)
            except socket.timeout:
                continue
            self.assertEqual(sender, origin, "relay packets come from the accepted address")
            if is_rtcp(wire):
                rtcp += 1
                continue
            rtp += 1
            if rtp == 1:
                for why, wrong in others.items():
                    with self.assertRaises(pylibsrtp.Error, msg="decrypted with " + why):
                        wrong.unprotect(wire)
            plain = right.unprotect(wire)
            header = rtp_header_length(plain)
            self.assertEqual(len(wire), len(plain) + 16, "an AES-GCM tag of 16 bytes")
            self.assertEqual(wire[:header], plain[:header], "the RTP header is not encrypted")
            self.assertNotEqual(wire[header:len(plain)], plain[header:],
                                "the payload on the wire is the plain payload")
            pt = plain[1] & 0x7F
            self.assertIn(pt, (video_pt, audio_pt), "payload type %d" % pt)
            kinds.add(pt)
            if pt == video_pt and vp8_keyframe_start(plain[header:]):
                keyframe = (wire, plain, header)
        log("read %d RTP and %d RTCP packets of the relay; payload types %r; a VP8 keyframe "
            "start %s" % (rtp, rtcp, sorted(kinds), "seen" if keyframe else "NOT seen"))
        self.assertGreater(rtp, 10, "RTP packets of the relay at our socket")
        self.assertEqual(kinds, {video_pt, audio_pt}, "the relay carries audio and video")
        self.assertIsNotNone(keyframe, "a VP8 keyframe on the relay (A asks the publisher "
                             "for one for a new relay)")
        wire, plain, header = keyframe
        self.assertFalse(vp8_keyframe_start(wire[header:len(plain)]),
                         "the VP8 keyframe's start code is readable on the wire")
        log("keyframe payload plain %s... on the wire %s..."
            % (plain[header:header + 12].hex(), wire[header:header + 12].hex()))

    # -- 6. Redis down and back --------------------------------------------------------
    def test_6_redis_killed_and_restarted(self):
        extra = []

        async def setup():
            for node, device, source in ((self.b, "cam-b", SOURCE_B),
                                         (self.c, "cam-c", SOURCE_C)):
                publisher = self.new_peer(Publisher, node, "publisher-" + device, source)
                extra.append(publisher)
                await publisher.connect()
                await publisher.publish(device, self)
            local = []
            for node, device, source in ((self.a, "cam-1", SOURCE_A),
                                         (self.b, "cam-b", SOURCE_B),
                                         (self.c, "cam-c", SOURCE_C)):
                viewer = await self.watching(node, "local-viewer-" + node.name, device, source)
                extra.append(viewer)
                echo = self.new_peer(Echoer, node, "echo-" + node.name)
                extra.append(echo)
                await echo.connect()
                await echo.echo(self)
                local.append((viewer, source, echo))
            for viewer, source, echo in local:
                await self.wait_decoding(viewer, source, frames=10)
                await async_wait_until(lambda e=echo: e.media.frames.get("audio", 0) >= 10, 10,
                                       "%s to hear its echo" % echo.name)
            sampler = FrameSampler([(v, "video") for v, _, _ in local] +
                                   [(v, "audio") for v, _, _ in local] +
                                   [(e, "audio") for _, _, e in local])
            sampler.start()
            return local, sampler

        local, sampler = self.arun(setup(), 60)
        try:
            self._redis_outage(local, sampler)
        finally:
            self.arun(sampler.stop(), 10)
            self.arun(self.close_peers(extra), 60)

    def _redis_outage(self, local, sampler):
        for node in self.nodes:
            wait_until(lambda n=node: (n.cluster_devices() or {}).get("cam-b") == "node-b", 10,
                       lambda n=node: "%s to list cam-b on node-b, has %r"
                       % (n.name, n.cluster_devices()))
        t_kill = time.monotonic()
        self.redis.kill()
        for node in self.nodes:
            wait_until(lambda n=node: n.metric("janus_media_cluster_redis_up") == 0, 10,
                       "%s to see Redis down" % node.name)
        # A remote watch cannot look for the device: 1022 (C has no relay of cam-b).
        for node, device in ((self.c, "cam-b"), (self.a, "cam-c")):
            data = plugin_data(node.message({"request": "watch", "device_id": device}))
            self.assertEqual(data.get("error_code"), CLUSTER_UNAVAILABLE,
                             "watch %s on %s: %r" % (device, node.name, data))
        # Local signalling goes on too: a new watch of the node's own device.
        for node, device in ((self.a, "cam-1"), (self.b, "cam-b"), (self.c, "cam-c")):
            self.assertEqual(result_of(node.message({"request": "watch", "device_id": device})),
                             "offer", "local watch of %s on %s" % (device, node.name))
        # Down for two node TTLs at least (the claims and records expire meanwhile).
        wait_until(lambda: time.monotonic() - t_kill >= 2 * NODE_TTL_MS / 1000, 5,
                   "the outage to last 2 TTLs")
        t_restart = time.monotonic()
        self.redis.start()
        expected = {"cam-1": "node-a", "cam-b": "node-b", "cam-c": "node-c"}
        for node in self.nodes:
            wait_until(lambda n=node: n.metric("janus_media_cluster_redis_up") == 1 and
                       n.cluster_devices() == expected, 15,
                       lambda n=node: "%s to list %r again, has %r"
                       % (n.name, expected, n.cluster_devices()))
        t_back = time.monotonic()
        log("Redis down %.2f s; the directory complete again %.2f s after its restart"
            % (t_restart - t_kill, t_back - t_restart))
        # The local media went on all along.
        self.arun(async_wait_until(lambda: time.monotonic() > t_back + 1.0, 5, "1 s more"), 10)
        gaps = sampler.longest_gaps(t_kill - 0.5, time.monotonic())
        log("longest gaps without a decoded frame (s) from the kill to 1 s after the "
            "restart: %r, ending (s after the kill - 0.5 s) at %r" % (gaps, sampler.worst_at))
        for key, gap in gaps.items():
            self.assertLessEqual(gap, MAX_GAP_S, "%s %s stopped for %.2f s" % (key + (gap,)))
        # The remote viewers of cam-1 (relays need no Redis): logged.
        for viewer in self.viewers_b + self.viewers_c:
            events = [result_of(m) for t, m in viewer.received
                      if t >= t_kill and m.get("sender") == viewer.handle and result_of(m)]
            log("%s: %d readable frames of cam-1 since Redis was killed; events since: %r"
                % (viewer.name, readable(viewer, SOURCE_A, t_kill), events))

        # With Redis back, a remote watch works: C watches B's device.
        async def remote_watch():
            viewer = self.new_peer(Viewer, self.c, "viewer-c-cam-b")
            try:
                await viewer.connect()
                t = time.monotonic()
                await viewer.watch_and_start("cam-b", self)
                await self.wait_decoding(viewer, SOURCE_B, t, frames=15)
                log("C decodes cam-b (from B) %.2f s after its watch"
                    % (first_readable(viewer, SOURCE_B, t) - t))
            finally:
                await self.close_peers([viewer])
        self.arun(remote_watch(), 40)
        for viewer in self.viewers_b + self.viewers_c:
            events = [(round(t - t_kill, 2), result_of(m)) for t, m in viewer.received
                      if t >= t_kill and m.get("sender") == viewer.handle and result_of(m)]
            log("%s: events since Redis was killed (s after the kill): %r"
                % (viewer.name, events))
            # Their relay from A needs no Redis, and A never left: no node may take A for
            # gone when it reconnects to the emptied Redis before A does.
            self.assertNotIn("publisher_left", [e for _, e in events],
                             "%s lost its publisher over the Redis outage" % viewer.name)

    # -- 7. the origin killed ------------------------------------------------------------
    async def resume(self, viewer, t_pub):
        """viewer (told publisher_left) gets publisher_joined or an offer (answered) and
        decodes the device's new publisher; None, or AssertionError."""
        await async_wait_until(lambda: arrived(viewer, ("publisher_joined", "offer"), t_pub),
                               10, "%s: publisher_joined or an offer after the publish on B"
                               % viewer.name)
        ev = arrived(viewer, ("publisher_joined", "offer"), t_pub)[1]
        data = plugin_data(ev)
        log("%s got %s %.2f s after the publish on B" % (viewer.name, data.get("result"),
                                                       time.monotonic() - t_pub))
        if data["result"] == "offer":
            await viewer.start(await viewer.answer(ev["jsep"]), self)
        await self.wait_decoding(viewer, SOURCE_A_AGAIN, t_pub, frames=15, timeout=15)
        log("%s decodes B's publisher %.2f s after its publish"
            % (viewer.name, first_readable(viewer, SOURCE_A_AGAIN, t_pub) - t_pub))
        return None

    def test_7_sigkill_of_a_then_the_device_on_b(self):
        viewers = self.viewers_b + self.viewers_c
        self.require(self.viewers_c, "test 1's and 2's viewers on C")
        now = time.monotonic()

        async def decoding():
            await asyncio.gather(*[self.wait_decoding(v, SOURCE_A, now, frames=5)
                                   for v in viewers])
        self.arun(decoding(), 20)
        self.a.janus.send_signal(signal.SIGKILL)
        t_kill = time.monotonic()
        self.a.janus.stop(10)
        log("A (pid %s) killed" % self.a.janus.pid)

        async def left():
            try:
                await async_wait_until(
                    lambda: all(arrived(v, ("publisher_left",), t_kill) for v in viewers),
                    LEFT_WITHIN_S + 4, "publisher_left at every viewer")
            except AssertionError:
                pass    # said below, viewer by viewer
            return {v.name: arrived(v, ("publisher_left",), t_kill) for v in viewers}
        got = self.arun(left(), LEFT_WITHIN_S + 10)
        took = {name: ev and round(ev[0] - t_kill, 2) for name, ev in got.items()}
        log("publisher_left after A's SIGKILL (s): %r" % took)
        for viewer in viewers:
            self.assertIsNotNone(took[viewer.name], "%s: no publisher_left within %.0f s"
                                 % (viewer.name, LEFT_WITHIN_S + 4))
            self.assertLessEqual(took[viewer.name], LEFT_WITHIN_S, viewer.name)
            self.assertEqual(plugin_data(got[viewer.name][1]),
                             {"media": "event", "result": "publisher_left",
                              "device_id": "cam-1"})

        async def republish():
            publisher = self.new_peer(Publisher, self.b, "publisher-b-cam-1", SOURCE_A_AGAIN)
            await publisher.connect()
            deadline = time.monotonic() + 5
            for _ in range(50):
                t_pub = time.monotonic()
                reply = await publisher.request({"request": "publish", "device_id": "cam-1"},
                                                jsep=await publisher.offer(), timeout=15)
                if result_of(reply) == "publishing" or time.monotonic() > deadline:
                    break
                self.assertEqual(plugin_data(reply).get("error_code"), DEVICE_BUSY, repr(reply))
                await publisher.pc.close()
                await asyncio.sleep(0.2)
            self.assertEqual(result_of(reply), "publishing", repr(reply))
            await publisher.pc.setRemoteDescription(RTCSessionDescription(
                sdp=reply["jsep"]["sdp"], type="answer"))
            await publisher.wait_ice()
            log("cam-1 published on B %.2f s after A's SIGKILL" % (t_pub - t_kill))
            results = await asyncio.gather(*[self.resume(v, t_pub) for v in viewers],
                                           return_exceptions=True)
            for viewer, result in zip(viewers, results):
                if viewer in self.viewers_c and result is not None:
                    raise result
                if result is not None:
                    log("%s (on B, where the device is local now) did not resume: %r"
                        % (viewer.name, result))
        self.arun(republish(), 60)


if __name__ == "__main__":
    unittest.main()
