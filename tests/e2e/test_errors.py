#!/usr/bin/python3
"""End-to-end error replies of janus.plugin.media over the real Janus API.

One Janus (JanusProcess) serves the whole class.  Malformed requests are sent
over HTTP (one Janus session, a main handle plus a fresh handle for every
request that carries a JSEP) and, for a sample, over the WebSocket.  Each
reply is checked against README's error table:

  sync   {"janus":"success", "plugindata":{"plugin":"janus.plugin.media",
          "data":{"media":"event","error_code":N,"error":"..."}}}
  async  {"janus":"ack"} and then {"janus":"event"} with the same
          transaction and the same plugindata

Some malformed requests never reach the plugin: Janus's core validates the
message envelope (body, jsep, SDP) first and answers {"janus":"error"} with
its own code.  Those tests assert what Janus really answers and say why.

The last test (test_99_...) checks that Janus survived it all: /janus/info
answers 200, the admin API still lists every handle used here, and a
complete echo session (WebSocket + aiortc) works, with query_session data
(admin handle_info -> plugin_specific) following its state.

Test methods run in name order (unittest sorts them), hence the numbers.
Always tests janus.plugin.media (JMEDIA_ECHO_PLUGIN is ignored here).

Run: /usr/bin/python3 tests/e2e/test_errors.py -v
"""

import asyncio
import json
import re
import sys
import unittest
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
from harness import JanusProcess, JanusWsClient  # noqa: E402
from test_echo import (MEDIA_PLUGIN, PROFILES, TEST_TIMEOUT,  # noqa: E402
                       TONE_AMPLITUDE, EchoSession, SmallVideoTrack,
                       ToneTrack, log, wait_until)

PLUGIN = MEDIA_PLUGIN
PROFILE = PROFILES[MEDIA_PLUGIN]
REPLY_TIMEOUT = 10.0         # seconds for any single reply or event

# README's stable error codes
INVALID_BODY = 1001
MISSING_REQUEST = 1002
UNKNOWN_REQUEST = 1003
INVALID_FIELD = 1004
MISSING_OFFER = 1005
WRONG_JSEP_TYPE = 1006
INVALID_SDP = 1007
UNEXPECTED_JSEP = 1013

# Janus core error codes (janus/apierror.h of 1.1.2)
JANUS_INVALID_JSON_OBJECT = 455
JANUS_MISSING_MANDATORY_ELEMENT = 456
JANUS_JSEP_UNKNOWN_TYPE = 464
JANUS_JSEP_INVALID_SDP = 465
JANUS_INVALID_ELEMENT_TYPE = 467
JANUS_UNEXPECTED_ANSWER = 469


def new_transaction():
    return "err-" + uuid.uuid4().hex[:16]


# ---------------------------------------------------------------------------
# offers (real aiortc offers, loopback candidates only)
# ---------------------------------------------------------------------------
async def _make_offer(kinds):
    pc = harness.new_peer_connection()
    try:
        if "audio" in kinds:
            pc.addTrack(ToneTrack())
        if "video" in kinds:
            pc.addTrack(SmallVideoTrack())
        if "data" in kinds:
            pc.createDataChannel("jmedia-errors")
        await pc.setLocalDescription(await pc.createOffer())
        await harness.wait_ice_gathering_complete(pc, 10)
        return pc.localDescription.sdp
    finally:
        await asyncio.wait_for(pc.close(), 10)


async def _make_offers():
    return {
        "full": await _make_offer({"audio", "video", "data"}),
        "audio": await _make_offer({"audio"}),
        "data": await _make_offer({"data"}),
    }


def make_offers():
    offers = asyncio.run(asyncio.wait_for(_make_offers(), 30))
    for name, sdp in offers.items():
        cands = harness.sdp_candidate_addresses(sdp)
        if not cands or any(not a.startswith("127.") for a, _ in cands):
            raise AssertionError("%s offer has non-loopback candidates: %r"
                                 % (name, cands))
    return offers


def sub_one(pattern, repl, text, flags=re.M):
    """re.subn that must replace exactly once (the test would be void
    otherwise)."""
    out, n = re.subn(pattern, repl, text, flags=flags)
    if n != 1:
        raise AssertionError("pattern %r matched %d times in\n%s"
                             % (pattern, n, text))
    return out


def offer_with_only_application_bfcp(data_offer):
    """The data-channel offer with its m-line turned into a non-SCTP
    application (TCP/BFCP): Janus parses it, nothing can be echoed."""
    return sub_one(r"^m=application \d+ \S+ [^\r\n]*", "m=application 9 TCP/BFCP *",
                   data_offer)


def offer_with_only_unknown_audio_codec(audio_offer):
    """The audio offer reduced to its first payload type, renamed to a codec
    nobody knows (x-unknown): Janus parses it, nothing can be echoed."""
    m = re.search(r"^m=audio (\d+) (\S+) (\d+)[^\r\n]*", audio_offer, re.M)
    if m is None:
        raise AssertionError("no m=audio line in\n%s" % audio_offer)
    pt = m.group(3)
    sdp = sub_one(r"^m=audio [^\r\n]*", "m=audio %s %s %s" % (m.group(1), m.group(2), pt),
                  audio_offer)
    lines = []
    for line in sdp.split("\r\n"):
        fmt = re.match(r"a=(rtpmap|fmtp|rtcp-fb):(\d+) ", line)
        if fmt and fmt.group(2) != pt:
            continue
        if fmt and fmt.group(1) == "rtpmap":
            line = re.sub(r" [^/ ]+/", " x-unknown/", line, count=1)
        lines.append(line)
    sdp = "\r\n".join(lines)
    if "a=rtpmap:%s x-unknown/" % pt not in sdp:
        raise AssertionError("could not rename the codec in\n%s" % sdp)
    return sdp


def offer_with_only_text_mline(audio_offer):
    """The audio offer with m=audio renamed m=text (a media type Janus's SDP
    parser does not know)."""
    return sub_one(r"^m=audio ", "m=text ", audio_offer)


# ---------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------
class MediaPluginErrorsTest(harness.JanusLogOnFailure, unittest.IsolatedAsyncioTestCase):
    janus = None
    http = None
    session = None       # Janus session (HTTP) of every error case
    main_handle = None   # gets every error case that carries no JSEP
    handles = []         # every handle attached here (main + fresh ones)
    offers = {}

    # -- fixture --------------------------------------------------------------
    @classmethod
    def setUpClass(cls):
        cls.janus = JanusProcess().start()
        try:
            if "libjanus_media.so" not in cls.janus.config_info["plugins"]:
                raise AssertionError(
                    "libjanus_media.so not found in %s/plugins (set "
                    "JMEDIA_MODULES_DIR or build first)" % cls.janus.modules_dir)
            cls.http = cls.janus.http()
            cls.http.timeout = REPLY_TIMEOUT
            cls.session = cls.http.create()
            cls.main_handle = cls.http.attach(cls.session, PLUGIN)
            cls.handles = [cls.main_handle]
            cls.offers = make_offers()
        except BaseException:
            sys.stderr.write("janus log tail:\n%s\n" % cls.janus.log_tail(60))
            cls.janus.stop()
            cls.janus.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.janus is not None:
            code, took = cls.janus.stop(10)
            log("janus (errors class) stopped: code %s in %.2f s" % (code, took))
            cls.janus.cleanup()

    async def asyncSetUp(self):
        asyncio.get_running_loop().slow_callback_duration = 2.0
        # keep the HTTP session alive whatever the order/pace of the tests
        r = self.http.keepalive(self.session)
        self.assertEqual(r.get("janus"), "ack", "keepalive: %r" % r)


    # -- helpers --------------------------------------------------------------
    def fresh_handle(self):
        """A new handle in the class session (for requests with a JSEP: the
        core keeps ICE state per handle once it has seen an offer)."""
        h = self.http.attach(self.session, PLUGIN)
        type(self).handles.append(h)
        return h

    def send(self, body, jsep=None, handle=None, raw=None):
        """POST a message; return (transaction, immediate reply)."""
        tx = new_transaction()
        req = {"janus": "message", "transaction": tx}
        if raw is not None:
            req.update(raw)
        else:
            req["body"] = body
        if jsep is not None:
            req["jsep"] = jsep
        reply = self.http.request(req, self.session, handle or self.main_handle,
                                  REPLY_TIMEOUT)
        self.assertEqual(reply.get("transaction"), tx, "reply %r" % reply)
        return tx, reply

    def check_error_data(self, reply, handle, code, what):
        self.assertEqual(reply.get("sender"), handle, "%s: %r" % (what, reply))
        pd = reply.get("plugindata")
        self.assertIsInstance(pd, dict, "%s: no plugindata in %r" % (what, reply))
        self.assertEqual(pd.get("plugin"), PLUGIN, "%s: %r" % (what, reply))
        data = pd.get("data")
        self.assertEqual(sorted(data), ["error", "error_code", "media"],
                         "%s: %r" % (what, data))
        self.assertEqual(data["media"], "event")
        self.assertEqual(data["error_code"], code, "%s: %r" % (what, data))
        self.assertIsInstance(data["error"], str)
        self.assertTrue(data["error"].strip(), "%s: empty reason" % what)
        self.assertNotIn("jsep", reply, "%s: an error carries no JSEP" % what)
        return data

    def assert_sync_error(self, body, code, jsep=None, handle=None, raw=None):
        handle = handle or self.main_handle
        what = "body %s" % json.dumps(body)[:120]
        tx, r = self.send(body, jsep, handle, raw)
        self.assertEqual(r.get("janus"), "success",
                         "%s: expected a synchronous reply, got %r" % (what, r))
        return self.check_error_data(r, handle, code, what)

    def assert_async_error(self, body, code, jsep=None, handle=None):
        handle = handle or self.main_handle
        what = "body %s%s" % (json.dumps(body)[:120], " + jsep" if jsep else "")
        tx, r = self.send(body, jsep, handle)
        self.assertEqual(r.get("janus"), "ack",
                         "%s: expected an ack, got %r" % (what, r))
        self.assertNotIn("plugindata", r)
        ev = self.http.wait_transaction(self.session, tx, REPLY_TIMEOUT)
        self.assertEqual(ev.get("janus"), "event", "%s: %r" % (what, ev))
        self.assertEqual(ev.get("transaction"), tx)
        return self.check_error_data(ev, handle, code, what)

    def assert_core_error(self, body, code, jsep=None, handle=None, raw=None):
        """Janus's core answers {"janus":"error"} itself: the plugin never
        sees the request."""
        handle = handle or self.main_handle
        tx, r = self.send(body, jsep, handle, raw)
        self.assertEqual(r.get("janus"), "error",
                         "expected a Janus core error, got %r" % r)
        self.assertNotIn("plugindata", r)
        err = r.get("error") or {}
        self.assertEqual(err.get("code"), code, "core error %r" % r)
        self.assertIsInstance(err.get("reason"), str)
        return err["reason"]

    def assert_fields(self, data, expected):
        """data has (at least) README's fields with these values."""
        self.assertEqual({k: data.get(k) for k in expected}, expected,
                         "in %r" % data)

    def plugin_specific(self, session, handle):
        info = self.janus.admin().handle_info(session, handle)
        self.assertEqual(info.get("plugin"), PLUGIN, "handle_info %r" % info)
        ps = info.get("plugin_specific")
        self.assertIsInstance(ps, dict, "no plugin_specific in %r" % info)
        return ps

    def assert_idle(self, handle):
        """A rejected request left the plugin session untouched."""
        ps = self.plugin_specific(self.session, handle)
        self.assertRegex(ps.get("media_session", ""), r"^[0-9a-f]{16}$", repr(ps))
        self.assertEqual(ps.get("role"), "none", repr(ps))
        self.assertEqual(ps.get("state"), "idle", repr(ps))

    def offer(self, sdp=None):
        return {"type": "offer", "sdp": sdp or self.offers["full"]}

    # -- body ---------------------------------------------------------------
    def test_01_body_not_an_object(self):
        """A body that is not a JSON object never reaches the plugin.

        Janus 1.1.2's core validates the message envelope first
        (janus.c: "body" is a required JSON_OBJECT), so an array, a string,
        a number, a boolean or null are answered synchronously by the core:
        {"janus":"error","error":{"code":467,"reason":"Invalid element type
        (body should be an object)"}}, with no ack and no event.  A message
        without a body gets 456 "Missing mandatory element (body)".  The
        plugin's 1001 (invalid_body) therefore cannot be produced through
        the Janus API; it guards other callers of handle_message.
        """
        for body in ([1, 2], ["request", "echo"], "echo", 42, 1.5, True, None):
            with self.subTest(body=body):
                reason = self.assert_core_error(body, JANUS_INVALID_ELEMENT_TYPE)
                self.assertIn("body should be an object", reason)
        with self.subTest(body="(missing)"):
            reason = self.assert_core_error(None, JANUS_MISSING_MANDATORY_ELEMENT,
                                            raw={})
            self.assertIn("body", reason)

    def test_02_missing_request(self):
        """No "request" key: synchronous 1002."""
        for body in ({}, {"audio": True}, {"Request": "echo"}):
            with self.subTest(body=body):
                self.assert_sync_error(body, MISSING_REQUEST)

    def test_03_request_not_a_string(self):
        """"request" of any other JSON type: synchronous 1002."""
        for value in (5, 1.5, None, True, ["echo"], {"name": "echo"}):
            with self.subTest(request=value):
                data = self.assert_sync_error({"request": value}, MISSING_REQUEST)
                self.assertIn("request", data["error"])

    def test_04_unknown_request(self):
        """An unknown name (names are case sensitive): synchronous 1003."""
        data = self.assert_sync_error({"request": "fly"}, UNKNOWN_REQUEST)
        self.assertEqual(data["error"], "unknown request 'fly'")   # README
        for name in ("", "ECHO", "echo ", "publish-ish"):
            with self.subTest(request=name):
                data = self.assert_sync_error({"request": name}, UNKNOWN_REQUEST)
                self.assertEqual(data["error"], "unknown request '%s'" % name)

    def test_05_long_request_name(self):
        """A 10 KB name: synchronous 1003, the reason quotes a short prefix."""
        name = "x" * 10240
        data = self.assert_sync_error({"request": name}, UNKNOWN_REQUEST)
        self.assertTrue(data["error"].startswith("unknown request '" + "x" * 16),
                        data["error"][:100])
        self.assertLess(len(data["error"]), 1024,
                        "the 10 KB name came back in full")

    def test_06_non_ascii_request_name(self):
        """Non-ASCII names: synchronous 1003; the reason is valid UTF-8 even
        when a 10 KB name of 2-byte characters is cut."""
        name = "échø-запрос-😀"
        data = self.assert_sync_error({"request": name}, UNKNOWN_REQUEST)
        self.assertEqual(data["error"], "unknown request '%s'" % name)
        # 10 KB names of 2- and 3-byte characters, one with an odd ASCII
        # lead so that any even cut falls inside a character
        prefix = "unknown request '"
        for lead, ch, n in (("", "я", 5120), ("a", "я", 5120), ("", "€", 3414)):
            with self.subTest(lead=lead, char=ch):
                data = self.assert_sync_error({"request": lead + ch * n},
                                              UNKNOWN_REQUEST)
                error = data["error"]
                self.assertTrue(error.startswith(prefix + lead + ch * 4), error[:100])
                self.assertLess(len(error), 1024)
                self.assertNotIn("\ufffd", error)
                quoted = error[len(prefix + lead):].rstrip("'.\u2026")
                self.assertEqual(set(quoted), {ch},
                                 "unexpected characters in %r" % error[:120])

    # -- echo fields ----------------------------------------------------------
    BAD_FIELDS = (("audio", "yes"), ("video", 1), ("data", None),
                  ("audio", 0), ("video", "true"), ("data", []))

    def test_07_echo_field_not_a_boolean(self):
        """audio/video/data of a non-boolean type: async 1004 naming the
        field.  Fields are checked before the JSEP, so no offer is needed."""
        for field, value in self.BAD_FIELDS:
            with self.subTest(field=field, value=value):
                data = self.assert_async_error({"request": "echo", field: value},
                                               INVALID_FIELD)
                self.assertIn("'%s'" % field, data["error"])

    def test_08_echo_field_not_a_boolean_with_offer(self):
        """Same with a valid offer (fresh handle each): still async 1004,
        and the plugin session stays idle (role none, state idle)."""
        for field, value in self.BAD_FIELDS[:3]:
            with self.subTest(field=field, value=value):
                h = self.fresh_handle()
                data = self.assert_async_error({"request": "echo", field: value},
                                               INVALID_FIELD, self.offer(), h)
                self.assertIn("'%s'" % field, data["error"])
                self.assert_idle(h)

    # -- echo JSEP ------------------------------------------------------------
    def test_09_echo_without_jsep(self):
        """echo with no JSEP: async 1005."""
        for body in ({"request": "echo"},
                     {"request": "echo", "audio": True, "video": False}):
            with self.subTest(body=body):
                self.assert_async_error(body, MISSING_OFFER)
        self.assert_idle(self.main_handle)

    def test_10_echo_with_answer_on_a_fresh_handle(self):
        """echo with a JSEP answer on a handle that never saw an offer.

        Janus's core rejects it before the plugin: with no ICE agent on the
        handle an answer is unexpected, so the reply is the core's
        {"janus":"error","error":{"code":469,"reason":"Unexpected ANSWER
        (did we offer?)"}} and not the plugin's 1006.
        """
        h = self.fresh_handle()
        reason = self.assert_core_error({"request": "echo"}, JANUS_UNEXPECTED_ANSWER,
                                        {"type": "answer",
                                         "sdp": self.offers["full"]}, h)
        self.assertIn("Unexpected ANSWER", reason)
        self.assert_idle(h)

    def test_12_echo_leaves_nothing_to_echo(self):
        """Offers Janus parses but that leave nothing to answer: async 1007,
        session left idle (fresh handle each)."""
        cases = (
            ("audio+video+data offer, every kind off",
             {"request": "echo", "audio": False, "video": False, "data": False},
             self.offers["full"]),
            ("audio-only offer, audio off",
             {"request": "echo", "audio": False}, self.offers["audio"]),
            ("data-only offer, data off",
             {"request": "echo", "data": False}, self.offers["data"]),
            ("only m=application over TCP/BFCP",
             {"request": "echo"},
             offer_with_only_application_bfcp(self.offers["data"])),
            ("only an audio codec nobody knows",
             {"request": "echo"},
             offer_with_only_unknown_audio_codec(self.offers["audio"])),
        )
        for what, body, sdp in cases:
            with self.subTest(case=what):
                h = self.fresh_handle()
                self.assert_async_error(body, INVALID_SDP, self.offer(sdp), h)
                self.assert_idle(h)

    def test_13_hangup_with_jsep(self):
        """hangup with a JSEP offer: async 1013 (fresh handle)."""
        h = self.fresh_handle()
        self.assert_async_error({"request": "hangup"}, UNEXPECTED_JSEP,
                                self.offer(), h)
        self.assert_idle(h)

    def test_14_core_rejects_bad_jsep_before_the_plugin(self):
        """JSEPs Janus's core refuses itself (synchronous "janus":"error",
        no ack, no event; the plugin is never called):

          jsep not an object (array, string, null)  455 Invalid jsep object
          jsep.type missing / jsep.sdp missing       456 missing mandatory element
          jsep.type neither offer nor answer         464 unknown message type
          SDP not starting with v=                   465 Invalid SDP
          only an m-line of unknown type (m=text)    465 Invalid m= line
        """
        cases = (
            ("jsep array", [1], JANUS_INVALID_JSON_OBJECT),
            ("jsep string", "offer", JANUS_INVALID_JSON_OBJECT),
            ("jsep null", None, JANUS_INVALID_JSON_OBJECT),
            ("no type", {"sdp": self.offers["full"]}, JANUS_MISSING_MANDATORY_ELEMENT),
            ("no sdp", {"type": "offer"}, JANUS_MISSING_MANDATORY_ELEMENT),
            ("type pranswer", {"type": "pranswer", "sdp": self.offers["full"]},
             JANUS_JSEP_UNKNOWN_TYPE),
            ("garbage sdp", {"type": "offer", "sdp": "garbage"},
             JANUS_JSEP_INVALID_SDP),
            ("m=text only", self.offer(offer_with_only_text_mline(self.offers["audio"])),
             JANUS_JSEP_INVALID_SDP),
        )
        for what, jsep, code in cases:
            with self.subTest(case=what):
                h = self.fresh_handle()
                raw = {"body": {"request": "echo"}, "jsep": jsep}
                self.assert_core_error(None, code, handle=h, raw=raw)
                self.assert_idle(h)

    # -- paging cursors -----------------------------------------------------------
    BAD_CURSORS = (
        # list pages by media_session id: 16 lower-case hex digits
        ({"request": "list", "cursor": "%%%garbage%%%"}, "a media_session id"),
        ({"request": "list", "cursor": ""}, "a media_session id"),
        ({"request": "list", "cursor": "0123456789ABCDEF"}, "a media_session id"),
        ({"request": "list", "cursor": "0123456789abcdef0"}, "a media_session id"),
        ({"request": "list", "cursor": "cam-1"}, "a media_session id"),
        ({"request": "list", "device_id": "cam-1", "cursor": "cam-1"}, "a media_session id"),
        # devices pages by device_id
        ({"request": "devices", "cursor": "%%%garbage%%%"}, "a device_id"),
        ({"request": "devices", "cursor": ""}, "a device_id"),
        ({"request": "devices", "cursor": "cam 1"}, "a device_id"),
        ({"request": "devices", "cursor": "caméra"}, "a device_id"),
    )

    def test_16_cursor_the_server_never_returned(self):
        """list/devices with a cursor no page could have ended with: 1004 in
        the sync reply, the reason saying what a cursor is; a next_cursor the
        server returned is accepted back."""
        for body, key in self.BAD_CURSORS:
            with self.subTest(body=body):
                data = self.assert_sync_error(body, INVALID_FIELD)
                self.assertTrue(data["error"].startswith("'cursor' must be " + key),
                                data["error"])
        self.fresh_handle()  # at least two media sessions: list limit 1 has a next page
        tx, r = self.send({"request": "list", "limit": 1})
        self.assertEqual(r.get("janus"), "success", repr(r))
        page = r["plugindata"]["data"]
        cursor = page.get("next_cursor")
        self.assertRegex(cursor or "", r"^[0-9a-f]{16}$", repr(page))
        tx, r = self.send({"request": "list", "limit": 1, "cursor": cursor})
        self.assertEqual(r.get("janus"), "success", repr(r))
        page = r["plugindata"]["data"]
        self.assertEqual(page.get("media"), "list", repr(page))
        self.assertEqual(len(page["sessions"]), 1, repr(page))
        self.assertGreater(page["sessions"][0]["media_session"], cursor, repr(page))

    # -- the same over the WebSocket -------------------------------------------
    async def test_15_websocket_sync_and_async_errors(self):
        """Over the WebSocket too: unknown request -> success with 1003;
        echo without JSEP -> ack, then an event with 1005 (same transaction)."""
        async with JanusWsClient(self.janus.ws_url, timeout=REPLY_TIMEOUT) as c:
            await c.create_session()
            h = await c.attach(PLUGIN)
            r = await c.message(h, {"request": "fly"})
            self.assertEqual(r.get("janus"), "success", repr(r))
            self.check_error_data(r, h, UNKNOWN_REQUEST, "ws fly")
            r = await c.message(h, {"request": "echo"})
            self.assertEqual(r.get("janus"), "event", repr(r))
            self.check_error_data(r, h, MISSING_OFFER, "ws echo without jsep")
            tx = r["transaction"]
            kinds = [m.get("janus") for m in c.history if m.get("transaction") == tx]
            # Both arrive, in either order: an error found while parsing is
            # pushed from inside handle_message, i.e. before the core sends
            # the ack (observed: event first, then ack).
            self.assertEqual(sorted(kinds), ["ack", "event"],
                             "messages with the echo transaction: %r" % kinds)
            log("websocket: messages with the transaction of an async error: %s"
                % " then ".join(kinds))
            r = await c.detach(h)
            self.assertEqual(r.get("janus"), "success", repr(r))
            r = await c.destroy()
            self.assertEqual(r.get("janus"), "success", repr(r))

    # -- afterwards ---------------------------------------------------------------
    async def test_99_janus_survives_and_echo_still_works(self):
        """After every error case: /janus/info answers 200, every handle used
        here is still attached, no exception reached the ABI barrier, and a
        complete echo session works, its admin handle_info showing
        plugin_specific media_session/role/state as it goes."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(self.janus.http_url + "/info", timeout=REPLY_TIMEOUT) as resp:
            self.assertEqual(resp.status, 200)
            info = json.loads(resp.read().decode())
        self.assertEqual(info.get("janus"), "server_info")
        self.assertIn(PLUGIN, info.get("plugins", {}))

        admin = self.janus.admin()
        self.assertIn(self.session, admin.list_sessions())
        attached = admin.list_handles(self.session)
        missing = [h for h in self.handles if h not in attached]
        self.assertEqual(missing, [], "handles gone: %r (attached: %r)"
                         % (missing, attached))
        self.assertIn(self.main_handle, attached)
        self.assert_idle(self.main_handle)
        # the main handle, target of every JSEP-less error, still answers
        tx, r = self.send({"request": "hangup"})
        self.assertEqual(r.get("janus"), "ack", repr(r))
        ev = self.http.wait_transaction(self.session, tx, REPLY_TIMEOUT)
        self.assert_fields(ev["plugindata"]["data"],
                           {"media": "event", "result": "hangingup"})

        await asyncio.wait_for(self._echo_afterwards(), TEST_TIMEOUT)

        self.assertTrue(self.janus.alive(), "janus died")
        text = self.janus.log_text()
        for marker in ("unexpected exception", "unexpected non-standard exception",
                       "[FATAL]"):
            self.assertNotIn(marker, text)

    async def _echo_afterwards(self):
        s = EchoSession(self.janus)
        try:
            await s.open(self, plugin=PLUGIN, profile=PROFILE)
            c, h = s.client, s.handle
            echoing = [m for m in c.history
                       if m.get("plugindata", {}).get("data", {}).get("result")
                       == "echoing"]
            self.assertEqual(len(echoing), 1, "echoing events: %r" % echoing)
            media_session = echoing[0]["plugindata"]["data"].get("media_session")
            self.assertRegex(media_session or "", r"^[0-9a-f]{16}$")

            await c.wait_event(h, "webrtcup", timeout=10)
            await wait_until(lambda: s.frames["audio"] >= 10 and s.frames["video"] >= 5,
                             15, lambda: "echoed media (have %r)" % s.frames)
            await wait_until(lambda: s.audio_peak >= TONE_AMPLITUDE // 4, 5,
                             lambda: "echoed tone (peak %d)" % s.audio_peak)
            await wait_until(lambda: s.dc.readyState == "open", 10,
                             "data channel open")
            probe = "after-errors-" + uuid.uuid4().hex
            s.dc.send(probe)
            await wait_until(lambda: probe in s.dc_messages, 10,
                             lambda: "data channel echo (got %r)" % s.dc_messages)

            ps = self.plugin_specific(c.session_id, h)
            self.assertEqual(ps.get("media_session"), media_session, repr(ps))
            self.assertEqual(ps.get("role"), "echo", repr(ps))
            self.assertEqual(ps.get("state"), "up", repr(ps))
            self.assertGreater(ps.get("packets_in", 0), 0, repr(ps))
            self.assertGreater(ps.get("packets_out", 0), 0, repr(ps))

            r = await c.message(h, {"request": "hangup"}, timeout=REPLY_TIMEOUT)
            self.assertEqual(r.get("janus"), "event", repr(r))
            self.assert_fields(r["plugindata"]["data"],
                               {"media": "event", "result": "hangingup"})
            ev = await c.wait_event(
                h, lambda m: m.get("plugindata", {}).get("data", {}).get("result")
                == "hangup", timeout=REPLY_TIMEOUT)
            self.assert_fields(ev["plugindata"]["data"],
                               {"media": "event", "result": "hangup",
                                "media_session": media_session, "reason": "request"})
            ps = self.plugin_specific(c.session_id, h)
            self.assertEqual(ps.get("media_session"), media_session, repr(ps))
            self.assertEqual(ps.get("state"), "closed", repr(ps))

            r = await c.detach(h)
            self.assertEqual(r.get("janus"), "success", repr(r))
            sid = c.session_id
            r = await c.destroy()
            self.assertEqual(r.get("janus"), "success", repr(r))
            self.assertNotIn(sid, self.janus.admin().list_sessions())
            log("echo after the error cases: media_session %s, frames %r, "
                "audio peak %d" % (media_session, s.frames, s.audio_peak))
        finally:
            await s.close()


if __name__ == "__main__":
    unittest.main()
