"""WebRTC clients of Janus on GStreamer's webrtcbin: the Janus API (WebSocket or HTTP
long-poll, one session, one or more handles), webrtcbin's ICE agent made safe to use from
Python, and a test-pattern or camera publisher. Shared by scripts/publish-gst (a device
client) and scripts/lib/viewer_load.py (the fan-out load generator).

Run under Debian's /usr/bin/python3 (python3-gi, python3-websockets)."""

import asyncio
import ctypes
import ipaddress
import json
import random
import string
import threading
import urllib.parse
import urllib.request

PLUGIN = "janus.plugin.media"
STEP_TIMEOUT = 30.0   # seconds for each step (a reply, the answer, ICE)
KEEPALIVE = 25.0      # Janus drops a session after 60 s without a request


class JanusGstError(Exception):
    pass


def transaction():
    return "".join(random.choice(string.ascii_letters + string.digits) for _ in range(12))


# -- the Janus API --------------------------------------------------------------------------
class Janus:
    """One Janus session over a WebSocket or HTTP long-poll.  request() answers with the
    reply of the same transaction; what Janus pushes (plugin events, trickle, webrtcup,
    hangup...) goes to `queue`, or to the handle's own queue for a handle attached with
    attach() (a connection lost goes to `queue` only)."""

    def __init__(self, url):
        self.url = url
        self.session_id = None
        self.handle_id = None
        self.queue = asyncio.Queue()
        self.handle_queues = {}
        self._waiting = {}
        self._tasks = []

    @staticmethod
    def for_url(url):
        scheme = urllib.parse.urlparse(url).scheme
        if scheme in ("ws", "wss"):
            return JanusWebSocket(url)
        if scheme in ("http", "https"):
            return JanusHttp(url)
        raise JanusGstError("--server must be a ws://, wss://, http:// or https:// URL: %s" % url)

    def _deliver(self, message):
        # A request's reply (an async request's ack included) settles it; everything else,
        # the event answering an async request among it (it may come before the ack), is
        # an event.
        if message.get("janus") in ("ack", "success", "error"):
            waiter = self._waiting.get(message.get("transaction"))
            if waiter is not None and not waiter.done():
                waiter.set_result(message)
        else:
            self.handle_queues.get(message.get("sender"), self.queue).put_nowait(message)

    async def request(self, body, timeout=STEP_TIMEOUT):
        body = dict(body, transaction=transaction())
        if self.session_id is not None and body["janus"] != "create":
            body["session_id"] = self.session_id
        waiter = asyncio.get_running_loop().create_future()
        self._waiting[body["transaction"]] = waiter
        try:
            reply = await self._send(body, waiter, timeout)
        finally:
            self._waiting.pop(body["transaction"], None)
        if reply.get("janus") == "error":
            error = reply.get("error") or {}
            raise JanusGstError("Janus refused %s: %s %s"
                               % (body["janus"], error.get("code"), error.get("reason")))
        return reply

    async def start(self, plugin=PLUGIN):
        """Create the session and, unless plugin is None, attach the default handle (whose
        events go to `queue`)."""
        reply = await self.request({"janus": "create"})
        self.session_id = reply["data"]["id"]
        self._tasks.append(asyncio.ensure_future(self._keepalive()))
        self._started()
        if plugin is not None:
            reply = await self.request({"janus": "attach", "plugin": plugin})
            self.handle_id = reply["data"]["id"]

    async def attach(self, plugin):
        """One more handle of this session: (handle id, the queue of its events)."""
        reply = await self.request({"janus": "attach", "plugin": plugin})
        handle_id = reply["data"]["id"]
        return handle_id, self.handle_queues.setdefault(handle_id, asyncio.Queue())

    def _started(self):
        pass

    async def _keepalive(self):
        while True:
            await asyncio.sleep(KEEPALIVE)
            try:
                await self.request({"janus": "keepalive"})
            except Exception as e:  # the event loop reports it through events()
                self.queue.put_nowait({"janus": "lost", "reason": str(e)})
                return

    async def message(self, body, jsep=None, handle_id=None):
        request = {"janus": "message", "handle_id": handle_id or self.handle_id, "body": body}
        if jsep:
            request["jsep"] = jsep
        return await self.request(request)

    async def trickle(self, candidate, handle_id=None):
        await self.request({"janus": "trickle", "handle_id": handle_id or self.handle_id,
                            "candidate": candidate})

    async def close(self):
        """Destroys the session: Janus's reply, or None when there was none."""
        for task in self._tasks:
            task.cancel()
        if self.session_id is not None:
            try:
                return await self.request({"janus": "destroy"}, timeout=5)
            except Exception:
                pass
        return None


class JanusWebSocket(Janus):
    async def open(self):
        import websockets  # python3-websockets
        try:
            self.ws = await asyncio.wait_for(websockets.connect(
                self.url, subprotocols=["janus-protocol"], max_size=None), STEP_TIMEOUT)
        except (OSError, asyncio.TimeoutError) as e:
            raise JanusGstError("cannot connect to %s: %s" % (self.url, e)) from None
        # Not among _tasks, which close() cancels before `destroy`: its reply comes here.
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self):
        try:
            async for raw in self.ws:
                self._deliver(json.loads(raw))
        except Exception:
            pass
        self.queue.put_nowait({"janus": "lost", "reason": "the WebSocket closed"})

    async def _send(self, body, waiter, timeout):
        await self.ws.send(json.dumps(body))
        return await asyncio.wait_for(waiter, timeout)

    async def close(self):
        reply = await super().close()
        await self.ws.close()
        self._reader.cancel()
        return reply


class JanusHttp(Janus):
    async def open(self):
        self.base = self.url.rstrip("/")

    def _post(self, path, body, timeout):
        req = urllib.request.Request(self.base + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())

    async def _send(self, body, waiter, timeout):
        path = ""
        if "session_id" in body:
            path = "/%d" % body.pop("session_id")
        try:
            return await asyncio.get_running_loop().run_in_executor(
                None, self._post, path, body, timeout)
        except OSError as e:
            raise JanusGstError("cannot reach %s: %s" % (self.url, e)) from None

    def _started(self):
        loop = asyncio.get_running_loop()
        stop = self._stop = threading.Event()
        url = "%s/%d?maxev=10" % (self.base, self.session_id)

        def poll():
            while not stop.is_set():
                try:
                    with urllib.request.urlopen(url, timeout=40) as r:
                        replies = json.loads(r.read())
                except OSError as e:
                    if not stop.is_set():
                        loop.call_soon_threadsafe(self.queue.put_nowait,
                                                  {"janus": "lost", "reason": str(e)})
                    return
                for reply in replies if isinstance(replies, list) else [replies]:
                    if reply.get("janus") != "keepalive":
                        loop.call_soon_threadsafe(self._deliver, reply)

        threading.Thread(target=poll, name="janus-long-poll", daemon=True).start()

    async def close(self):
        reply = await super().close()
        if getattr(self, "_stop", None):
            self._stop.set()
        return reply


# -- GStreamer --------------------------------------------------------------------------
def gst():
    try:
        import gi
        gi.require_version("Gst", "1.0")
        gi.require_version("GstWebRTC", "1.0")
        gi.require_version("GstSdp", "1.0")
        from gi.repository import Gst, GstSdp, GstWebRTC
    except (ImportError, ValueError) as e:
        raise JanusGstError("%s: run with /usr/bin/python3; scripts/deps installs python3-gi "
                           "and GStreamer (gir1.2-gst-plugins-bad-1.0, gstreamer1.0-nice...)"
                           % e) from None
    Gst.init(None)
    return Gst, GstSdp, GstWebRTC


def pipeline_description(args):
    caps = "video/x-raw,width=%d,height=%d,framerate=%d/1" % (args.width, args.height, args.fps)
    if args.test_pattern:
        video = "videotestsrc is-live=true pattern=%s ! %s" % (args.pattern, caps)
    else:
        video = ("v4l2src device=%s ! videoconvert ! videoscale ! videorate ! %s"
                 % (args.camera, caps))
    # PLI and FIR from Janus (a viewer joined) reach vp8enc as a keyframe request.
    rtp_fb = "rtcp-fb-nack-pli=true,rtcp-fb-nack=true,rtcp-fb-ccm-fir=true"
    parts = [
        "webrtcbin name=webrtc bundle-policy=max-bundle",
        "%s ! videoconvert ! queue ! vp8enc deadline=1 cpu-used=8 target-bitrate=%d "
        "keyframe-max-dist=%d error-resilient=partitions ! rtpvp8pay pt=96 ! "
        "application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000,%s ! "
        "webrtc." % (video, args.bitrate * 1000, args.fps * 2, rtp_fb),
    ]
    audio = {"tone": "audiotestsrc is-live=true wave=sine freq=440 volume=0.2",
             "mic": "autoaudiosrc", "none": None}[args.audio]
    if audio:
        parts.append("%s ! audioconvert ! audioresample ! queue ! opusenc ! rtpopuspay pt=111 ! "
                     "application/x-rtp,media=audio,encoding-name=OPUS,payload=111,"
                     "clock-rate=48000 ! webrtc." % audio)
    return " ".join(parts)


_gobject = None


def ice_agent(webrtc):
    """webrtcbin's ICE agent (GstWebRTCICE), safe to use and to drop from Python.

    GStreamer 1.22's webrtcbin never sinks the floating reference of the agent it creates,
    and PyGObject sinks a floating object it is given: the first Python read of "ice-agent"
    takes webrtcbin's own reference over, and when the Python object goes the agent is freed
    under webrtcbin (a crash at the next use). A count of 1 while webrtcbin still holds the
    agent shows that happened: give webrtcbin its reference back.
    """
    global _gobject
    ice = webrtc.get_property("ice-agent")
    if ice is not None and ice.__grefcount__ < 2:
        if _gobject is None:
            _gobject = ctypes.CDLL("libgobject-2.0.so.0")
            _gobject.g_object_ref.argtypes = [ctypes.c_void_p]
            _gobject.g_object_ref.restype = ctypes.c_void_p
            ctypes.pythonapi.PyCapsule_GetPointer.restype = ctypes.c_void_p
            ctypes.pythonapi.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
        _gobject.g_object_ref(ctypes.pythonapi.PyCapsule_GetPointer(ice.__gpointer__, None))
    return ice


def restrict_ice(webrtc, addresses):
    """webrtcbin gathers ICE candidates on these addresses only."""
    ice = ice_agent(webrtc)
    for address in addresses:
        if not ice.emit("add-local-ip-address", address):
            raise JanusGstError("webrtcbin refused ICE address %s" % address)
    # libnice would also look for a UPnP router (SSDP multicast on the LAN): not when
    # the candidates are pinned to these addresses.
    ice.get_property("agent").set_property("upnp", False)


def loopback_server(url):
    host = urllib.parse.urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Publisher:
    def __init__(self, args, loop):
        self.args = args
        self.loop = loop
        self.Gst, self.GstSdp, self.GstWebRTC = gst()
        try:
            self.pipeline = self.Gst.parse_launch(pipeline_description(args))
        except Exception as e:
            raise JanusGstError("GStreamer pipeline: %s (is gstreamer1.0-plugins-bad/-good "
                               "installed?)" % e) from None
        self.webrtc = self.pipeline.get_by_name("webrtc")
        self.offer = loop.create_future()
        self.connected = loop.create_future()
        self.candidates = asyncio.Queue()
        self.webrtc.connect("on-negotiation-needed", self._on_negotiation_needed)
        self.webrtc.connect("on-ice-candidate", self._on_ice_candidate)
        self.webrtc.connect("notify::ice-connection-state", self._on_ice_state)
        self.webrtc.connect("notify::ice-gathering-state", self._on_gathering_state)
        for pad in self.webrtc.sinkpads:
            pad.get_property("transceiver").set_property(
                "direction", self.GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)

    def restrict_ice(self, addresses):
        restrict_ice(self.webrtc, addresses)

    def start(self):
        if self.pipeline.set_state(self.Gst.State.PLAYING) == self.Gst.StateChangeReturn.FAILURE:
            raise JanusGstError("the pipeline does not start (%s): %s"
                               % ("camera " + self.args.camera if not self.args.test_pattern
                                  else "test pattern", self.bus_error() or "no details"))

    def bus_error(self):
        bus = self.pipeline.get_bus()
        while True:
            message = bus.pop_filtered(self.Gst.MessageType.ERROR)
            if message is None:
                return None
            error, debug = message.parse_error()
            return "%s (%s)" % (error.message, debug)

    def stop(self):
        self.pipeline.set_state(self.Gst.State.NULL)

    # webrtcbin's callbacks run on its threads: hand everything to the asyncio loop.
    def _on_negotiation_needed(self, webrtc):
        promise = self.Gst.Promise.new_with_change_func(self._on_offer_created, webrtc, None)
        webrtc.emit("create-offer", None, promise)

    def _on_offer_created(self, promise, webrtc, _):
        reply = promise.get_reply()
        offer = reply.get_value("offer") if reply else None
        if offer is None:
            self.loop.call_soon_threadsafe(self._fail_offer, "webrtcbin made no offer")
            return
        webrtc.emit("set-local-description", offer, self.Gst.Promise.new())
        sdp = offer.sdp.as_text()
        self.loop.call_soon_threadsafe(
            lambda: self.offer.done() or self.offer.set_result(sdp))

    def _fail_offer(self, reason):
        if not self.offer.done():
            self.offer.set_exception(JanusGstError(reason))

    def _on_ice_candidate(self, webrtc, mline, candidate):
        self.loop.call_soon_threadsafe(self.candidates.put_nowait,
                                       {"sdpMLineIndex": mline, "candidate": candidate})

    def _on_gathering_state(self, webrtc, _):
        if webrtc.get_property("ice-gathering-state") == \
                self.GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            self.loop.call_soon_threadsafe(self.candidates.put_nowait, {"completed": True})

    def _on_ice_state(self, webrtc, _):
        state = webrtc.get_property("ice-connection-state")
        states = self.GstWebRTC.WebRTCICEConnectionState
        if state in (states.CONNECTED, states.COMPLETED):
            self.loop.call_soon_threadsafe(
                lambda: self.connected.done() or self.connected.set_result(True))
        elif state == states.FAILED:
            self.loop.call_soon_threadsafe(
                lambda: self.connected.done() or self.connected.set_exception(
                    JanusGstError("ICE failed: no candidate pair between this host and Janus "
                                 "(see --ice-address)")))

    def set_answer(self, sdp_text):
        ok, sdp = self.GstSdp.SDPMessage.new_from_text(sdp_text)
        if ok != self.GstSdp.SDPResult.OK:
            raise JanusGstError("Janus's answer does not parse")
        answer = self.GstWebRTC.WebRTCSessionDescription.new(
            self.GstWebRTC.WebRTCSDPType.ANSWER, sdp)
        self.webrtc.emit("set-remote-description", answer, self.Gst.Promise.new())

    def add_candidate(self, candidate):
        if candidate.get("completed") or "candidate" not in candidate:
            return
        self.webrtc.emit("add-ice-candidate", candidate.get("sdpMLineIndex", 0),
                         candidate["candidate"])

    def sent(self):
        """(packets, bytes) sent so far over every RTP stream, from webrtcbin's get-stats
        (None on no answer). Per stream only: 1.22 labels every stream with one codec."""
        promise = self.Gst.Promise.new()
        self.webrtc.emit("get-stats", None, promise)
        if promise.wait() != self.Gst.PromiseResult.REPLIED:
            return None
        totals = [0, 0]

        def each(field, value, _):
            if isinstance(value, self.Gst.Structure) and \
                    value.get_value("type") == self.GstWebRTC.WebRTCStatsType.OUTBOUND_RTP:
                for i, name in enumerate(("packets-sent", "bytes-sent")):
                    if value.has_field(name):
                        totals[i] += value.get_value(name)
            return True

        promise.get_reply().foreach(each, None)
        return tuple(totals)
