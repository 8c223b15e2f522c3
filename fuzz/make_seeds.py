#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets into fuzz/corpus/<target>/.

The seeds are committed; run this again (/usr/bin/python3 fuzz/make_seeds.py) after changing
it. Formats: fuzz/README.md. aiortc-offer.sdp is a real offer of aiortc (audio, video, data
channel, loopback candidate), captured once.
"""

import base64
import importlib.machinery
import importlib.util
import json
import shutil
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
REPO = HERE.parent
FAKE_OFFER = ("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
              "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n")
REAL_OFFER = (HERE / "aiortc-offer.sdp").read_text().replace("\n", "\r\n").replace("\r\r", "\r")


def j(value):
    return json.dumps(value, separators=(",", ":"))


OFFER = j({"type": "offer", "sdp": FAKE_OFFER})
REAL = j({"type": "offer", "sdp": REAL_OFFER})
ANSWER = j({"type": "answer", "sdp": "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"})


def m(slot, body, jsep=None):
    line = "m%d%s" % (slot, j(body) if not isinstance(body, str) else body)
    return line + ("\t" + jsep if jsep else "")


def write(target, seeds):
    folder = CORPUS / target
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, content in seeds.items():
        data = content if isinstance(content, bytes) else content.encode()
        (folder / name).write_bytes(data)


def plugin_requests():
    pub = {"request": "publish", "device_id": "cam-1"}
    watch = {"request": "watch", "device_id": "cam-1"}
    return {
        "echo": m(0, {"request": "echo"}, OFFER),
        "echo-real-offer": m(0, {"request": "echo", "audio": True, "video": True,
                                 "data": True}, REAL),
        "echo-up-configure-hangup": "\n".join([
            m(0, {"request": "echo"}, OFFER), "s0",
            m(0, {"request": "configure", "video": False, "bitrate": 128000}),
            m(0, {"request": "configure", "keyframe": True}, OFFER),
            m(0, {"request": "hangup"}), "h0", "q0"]),
        "publish-watch-start": "\n".join([
            m(0, pub, OFFER), "s0", m(1, watch), m(1, {"request": "start"}, ANSWER), "s1",
            m(2, watch), m(1, {"request": "configure", "audio": False, "keyframe": True}),
            m(3, {"request": "list", "device_id": "cam-1", "role": "viewer", "limit": 1}),
            m(3, {"request": "info", "media_session": "$1"}),
            m(3, {"request": "devices", "limit": 5}), "h0", "d1", "q2"]),
        "handover": "\n".join([
            m(0, pub, OFFER), "s0", m(1, watch), m(1, {"request": "start"}, ANSWER), "s1",
            m(2, pub, OFFER), m(0, {"request": "hangup"}), "h0",
            "Aav\topus\t111\th264\t102\tprofile-level-id=42e01f\tv=0\r\n",
            m(2, pub, OFFER), "s2", m(1, {"request": "start"}, ANSWER), "d2", "d1"]),
        "limits-busy": "\n".join([m(i, {"request": "echo"}, OFFER) for i in range(6)] +
                                 ["n0" + j({"request": "configure"}) for _ in range(10)]),
        "detach-races": "\n".join([
            m(0, pub, OFFER), "d0", "x" + j({"request": "hangup"}), m(1, watch),
            "n2" + j(pub) + "\t" + OFFER, "d2", "h2", "s2"]),
        "errors": "\n".join([
            m(0, "[]"), m(0, {}), m(0, {"request": 5}), m(0, {"request": "fly"}),
            m(0, {"request": "echo"}), m(0, {"request": "echo"}, ANSWER),
            m(0, {"request": "echo", "audio": "yes"}, OFFER),
            m(0, {"request": "echo"}, j({"type": "offer", "sdp": ""})),
            m(0, {"request": "publish"}, OFFER),
            m(0, {"request": "publish", "device_id": "bad id/"}, OFFER),
            m(0, {"request": "watch", "device_id": "x" * 129}),
            m(0, {"request": "watch", "device_id": "nobody"}),
            m(0, {"request": "start"}, ANSWER), m(0, {"request": "configure"}),
            m(0, {"request": "configure", "bitrate": -1}), m(0, {"request": "hangup"}, OFFER),
            m(0, {"request": "list", "limit": 0}), m(0, {"request": "list", "role": "king"}),
            m(0, {"request": "info"}), m(0, {"request": "devices", "cursor": 7}),
            m(0, {"request": "\u00e9" * 40}), m(0, "not json")]),
        # Token mode ("#token": the rig's plugin verifies tokens; k mints one, $K is it).
        "token-publish-watch": "\n".join([
            "#token", "k" + j({"publish": ["cam-*"], "watch": ["cam-*"], "list": True}),
            m(0, dict(pub, token="$K"), OFFER), "s0", m(1, dict(watch, token="$K")),
            m(1, {"request": "start"}, ANSWER), "s1",
            m(2, {"request": "watch", "device_id": "door-1", "token": "$K"}),
            m(3, {"request": "list", "limit": 1, "token": "$K"}),
            m(3, {"request": "devices", "token": "$K"}),
            m(3, {"request": "info", "media_session": "$1", "token": "$K"}),
            m(4, pub, OFFER), m(4, dict(pub, token="not.a.token")),
            "k" + j({"watch": ["door-*"]}) + "\t-100", m(5, dict(watch, token="$K")),
            "k" + j({"echo": True}), m(5, {"request": "echo", "token": "$K"}, OFFER),
            "k" + j({"watch": ["cam*x"]}), m(2, dict(watch, token="$K")), "h0", "d1"]),
        "token-listing": "\n".join([
            "#token", "k" + j({"publish": ["*"], "watch": ["*"], "echo": True}),
            m(0, dict(pub, token="$K"), OFFER), "s0",
            m(1, {"request": "publish", "device_id": "cam-2", "token": "$K"}, OFFER),
            m(2, {"request": "publish", "device_id": "door-1", "token": "$K"}, OFFER),
            m(3, dict(watch, token="$K")), m(4, {"request": "echo", "token": "$K"}, OFFER),
            "k" + j({"watch": ["cam-*"], "publish": ["door-1"], "list": True}),
            m(5, {"request": "list", "limit": 1, "token": "$K"}),
            m(5, {"request": "list", "role": "viewer", "token": "$K"}),
            m(5, {"request": "list", "role": "echo", "token": "$K"}),
            m(5, {"request": "list", "device_id": "cam-2", "token": "$K"}),
            m(5, {"request": "list", "cursor": "cam-1/0000000000000000", "token": "$K"}),
            m(5, {"request": "list", "cursor": "$0", "token": "$K"}),
            m(5, {"request": "devices", "limit": 1, "cursor": "cam-1", "token": "$K"}),
            m(5, {"request": "info", "media_session": "$4", "token": "$K"}),
            "a" + j({"request": "list", "cursor": "cam-1/0000000000000000"}),
            "d2", "d0"]),
    }


def plugin_admin():
    return {
        "list": j({"request": "list"}),
        "list-filtered": j({"request": "list", "device_id": "cam-1", "role": "viewer",
                            "limit": 1, "cursor": ""}),
        "info": j({"request": "info", "media_session": "$3"}),
        "devices": j({"request": "devices", "limit": 1}) + "\n" +
                   j({"request": "devices", "cursor": "cam-1"}),
        "kick-session": j({"request": "kick", "media_session": "$1"}),
        "kick-negotiating": j({"request": "kick", "media_session": "$4",
                               "reason": "too_many_candidates"}),
        "kick-device": j({"request": "kick", "device_id": "cam-1"}) + "\n!h1\n!h0\n" +
                       j({"request": "list"}),
        "drain": j({"request": "drain", "enabled": True}) + "\n!m5" +
                 j({"request": "echo"}) + "\t" + OFFER + "\n" +
                 j({"request": "drain", "enabled": False}),
        "limits": j({"request": "limits", "max_sessions": 1, "max_viewers_per_device": 1,
                     "queue_size": 1}) + "\n!m5" + j({"request": "watch", "device_id": "cam-1"}),
        "limits-read": j({"request": "limits"}),
        "errors": "\n".join([
            "", "[]", "{}", j({"request": 1}), j({"request": "echo"}),
            j({"request": "kick"}), j({"request": "kick", "media_session": "x",
                                       "device_id": "cam-1"}),
            j({"request": "kick", "media_session": "nope"}),
            j({"request": "kick", "device_id": "nope"}),
            j({"request": "kick", "device_id": "cam-1", "reason": "boredom"}),
            j({"request": "drain"}), j({"request": "drain", "enabled": 1}),
            j({"request": "limits", "max_sessions": 0}),
            j({"request": "limits", "queue_size": 10 ** 12}),
            j({"request": "info", "media_session": "y" * 65})]),
    }


def plugin_sdp():
    return {
        "fake-offer": OFFER,
        "real-offer": REAL,
        "answer": ANSWER,
        "no-sdp": j({"type": "offer"}),
        "empty-sdp": j({"type": "offer", "sdp": ""}),
        "nul-in-sdp": j({"type": "offer", "sdp": "v=0\u0000m=audio"}),
        "sdp-not-string": j({"type": "offer", "sdp": 5}),
        "type-long": j({"type": "o" * 40, "sdp": "v=0"}),
        "not-object": '"v=0"',
        "trickle": j({"type": "offer", "sdp": FAKE_OFFER, "trickle": False}),
        "programmed-codecs": "Aavd\topus\t111\tvp8\t96\t\tv=0\r\n\n"
                             "Aavd\topus\t111\th264\t102\tprofile-level-id=42e01f\t\n"
                             "Aav\tPCMU\t0\tvp9\t98\tprofile-id=0\t\n" + OFFER,
        "programmed-refusals": "AE\nAO\nA\nAd\t\t\t\t\t\t\n" + REAL,
        "programmed-odd": "Aav\t\u00e9\u00e9\t-1\t" + "x" * 300 + "\t999999\t\x01\t\n" + OFFER,
    }


def rtp(seq, ts, ssrc, pt=96, marker=0, payload=b"\x90\x90"):
    return struct.pack("!BBHII", 0x80, (marker << 7) | pt, seq, ts, ssrc) + payload


def rec(op, data):
    return bytes([op, len(data)]) + data


def plugin_media():
    def op(kind, slot=0, high=0):
        return kind | (slot << 3) | (high << 6)
    audio = rtp(1, 960, 0x11111111, 111)
    video = rtp(1, 3000, 0x22222222, 96, 1)
    seeds = {
        "publisher-rtp": bytes([0x1f]) + b"".join(
            rec(op(0), rtp(i, i * 960, 0x11111111, 111)) + rec(op(1), rtp(i, i * 3000, 0x2, 96))
            for i in range(1, 6)),
        "echo-all": bytes([0x07]) + rec(op(0, 3), audio) + rec(op(1, 3), video) +
                    rec(op(2, 3), b"\x81\xc9\x00\x07" + b"\x00" * 28) +
                    rec(op(4, 3), b"hello"),
        "viewer-rtcp-pli": bytes([0x1f]) + rec(op(3, 1), b"\x81\xce\x00\x02" + b"\x00" * 8) +
                           rec(op(3, 2), b"\x81\xce\x00\x02" + b"\x00" * 8) +
                           rec(op(5, 5), b"") + rec(op(3, 1), b"\x80\xc8\x00\x06" + b"\x00" * 24),
        "handover": bytes([0x0f]) + rec(op(1), video) + rec(op(5, 3), b"") +
                    rec(op(1, 4), rtp(500, 777777, 0x33333333, 100)) +
                    rec(op(5, 3), b"") + rec(op(1), rtp(9, 9, 0x44444444)),
        "viewer-reattach": bytes([0x07]) + rec(op(0), audio) + rec(op(5, 4), b"") +
                           rec(op(0), rtp(2, 1920, 0x11111111, 111)) + rec(op(5, 7), audio),
        "kinds-off": bytes([0x03]) + rec(op(5, 0), b"") + rec(op(1), video) +
                     rec(op(5, 1), b"") + rec(op(1), video) + rec(op(5, 2), b"") +
                     rec(op(0), audio) + rec(op(5, 6), b"") + rec(op(0), audio),
        "data": bytes([0x04]) + rec(op(4, 0), b"\x00\x01binary") + rec(op(4, 0, 1), b"text") +
                rec(op(4, 1), b"from a viewer"),
        "short-packets": bytes([0x1f]) + rec(op(0), b"") + rec(op(1), b"\x80") +
                         rec(op(1), b"\x80" * 11) + rec(op(2, 1), b"") + rec(op(6), b"\x80" * 11),
        "rewriter": bytes([0]) + rec(op(6), rtp(100, 1000, 1)) + rec(op(6), rtp(101, 2000, 1)) +
                    rec(op(6), rtp(99, 500, 1)) + rec(op(6), rtp(65535, 0xffffffff, 2)) +
                    rec(op(7), rtp(0, 0, 2, 0x7f)) + rec(op(6), rtp(7, 7, 1)),
    }
    return seeds


def transport_http():
    def req(method, path, *headers, host="127.0.0.1"):
        return ("%s %s HTTP/1.1\r\n%s%s\r\n"
                % (method, path, "Host: %s\r\n" % host if host else "",
                   "".join(h + "\r\n" for h in headers)))

    def post(path, body, *headers):
        return req("POST", path, *headers, "Content-Length: %d" % len(body)) + body
    bearer = "Authorization: Bearer s3cret"
    basic = "Authorization: Basic ZnV6ejpwYTpzcw=="
    # The session REST API's tokens (fuzz/transport_rig.h).
    read = "Authorization: Bearer r3ad-t0ken"
    admin = "Authorization: Bearer adm1n-t0ken"
    json_type = "Content-Type: application/json"
    api = {
        "api-list": req("GET", "/api/media/sessions?limit=10&role=viewer&detail=true", read),
        "api-list-cursor": req("GET", "/api/media/sessions?cursor=0123456789abcdef&device_id="
                               "cam%3A1&limit=x", basic),
        "api-info": req("GET", "/api/media/sessions/0123456789abcdef", admin),
        "api-info-missing": req("HEAD", "/api/media/sessions/012345678abcdeff", bearer),
        "api-devices": req("GET", "/api/media/devices?limit=2&cursor=cam-0", read),
        "api-kick": req("DELETE", "/api/media/sessions/0123456789abcdef", admin),
        "api-kick-device": req("DELETE", "/api/media/devices/cam%2D1", admin),
        "api-kick-read-token": req("DELETE", "/api/media/devices/cam-1", read),
        "api-drain": post("/api/media/drain", '{"enabled":true}', admin, json_type),
        "api-drain-bad": post("/api/media/drain", '{"enabled":1,"x":[]}', admin, json_type),
        "api-drain-text": post("/api/media/drain", '{"enabled":false}', admin,
                               "Content-Type: text/plain"),
        "api-drain-chunked": req("POST", "/api/media/drain", admin, json_type,
                                 "Transfer-Encoding: chunked") +
                             '9\r\n{"enabled\r\n8\r\n":false}\r\n0\r\n\r\n',
        "api-drain-large": req("POST", "/api/media/drain", admin, json_type,
                               "Content-Length: 5000"),
        "api-405": req("PUT", "/api/media/drain", admin),
        "api-404": req("GET", "/api/media/nope", host="localhost:30006"),
        "api-no-token": req("GET", "/api/media/sessions", host="evil.example"),
        "api-no-host": "GET /api/media/devices HTTP/1.0\r\n\r\n",
        "api-bad-query": req("GET", "/api/media/sessions?limit=1&limit=2&%zz", read),
        "api-keep-alive": req("GET", "/api/media/sessions", read) +
                          req("GET", "/api/media/devices", read),
    }
    return dict(api, **{
        "metrics-bearer": req("GET", "/metrics", bearer),
        "metrics-basic": req("GET", "/metrics?x=1", basic),
        "healthz-head": req("HEAD", "/healthz", bearer),
        "readyz": req("GET", "/readyz", basic, "Connection: close"),
        "no-auth": req("GET", "/metrics"),
        "bad-bearer": req("GET", "/metrics", "Authorization: Bearer s3cre"),
        "bad-basic": req("GET", "/metrics", "Authorization: Basic ZnV6ejpwYTpzcw="),
        "lower-scheme": req("GET", "/metrics", "authorization: bearer   s3cret \t"),
        "not-found": req("GET", "/janus", bearer),
        "post": req("POST", "/metrics", bearer, "Content-Length: 4") + "abcd",
        "chunked": req("PUT", "/healthz", bearer, "Transfer-Encoding: chunked") +
                   "4\r\nabcd\r\n0\r\n\r\n",
        "http10": "GET /healthz HTTP/1.0\r\n" + bearer + "\r\n\r\n",
        "pipelined": req("GET", "/healthz", bearer) + req("GET", "/readyz", bearer),
        "garbage": "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
        "truncated": "GET /metr",
    })


def event_aggregator():
    fixture = (REPO / "tests/events/fixtures/janus-1.1.2-echo-sessions.jsonl").read_text()
    lines = fixture.splitlines()
    seeds = {}
    # The captured sessions in pieces of 16 events, so that each seed stays small.
    for i in range(0, len(lines), 16):
        seeds["captured-%02d" % (i // 16)] = "\n".join(lines[i:i + 16]) + "\n"
    ev = lambda **kw: j(kw)  # noqa: E731
    seeds["transport-gone"] = "\n".join([
        ev(type=256, subtype=1, event={"status": "started",
                                       "info": {"reclaim-session-timeout": 0}}),
        ev(type=1, session_id=1, event={"name": "created",
                                        "transport": {"transport": "ws", "id": "42"}}),
        ev(type=2, session_id=1, handle_id=2, event={"name": "attached",
                                                     "plugin": "janus.plugin.media"}),
        ev(type=16, subtype=6, session_id=1, handle_id=2, event={"connection": "webrtcup"}),
        ev(type=128, event={"transport": "ws", "id": "42",
                            "data": {"event": "disconnected"}}),
        "?" + j({"request": "summary"}), "?" + j({"request": "other"}), "?null"])
    seeds["core-update"] = "\n".join([
        ev(type=256, subtype=1, event={"status": "update",
                                       "info": {"sessions": 3, "handles": 4,
                                                "peerconnections": 1}}),
        ev(type=1, session_id=9, event={"name": "timeout"}),
        ev(type=256, subtype=2, event={"status": "shutdown", "signum": 15})])
    seeds["media-stats"] = "\n".join([
        ev(type=2, session_id=1, handle_id=2, event={"name": "attached", "plugin": "p.a"}),
        ev(type=32, subtype=3, session_id=1, handle_id=2,
           event=[{"mid": "0", "mindex": 0, "media": "audio", "rtt": 20, "lost": 5,
                   "lost-by-remote": 1, "jitter-local": 3, "jitter-remote": 4,
                   "packets-received": 10, "packets-sent": 10, "nacks-received": 1,
                   "nacks-sent": 2},
                  {"mid": "1", "mindex": 1, "media": "video-sim1", "lost": 9},
                  {"mid": "2", "mindex": 2, "media": "data", "packets-received": 3}]),
        ev(type=32, subtype=2, session_id=1, handle_id=2,
           event={"mid": "0", "media": "video", "slow_link": "uplink", "lost_lastsec": 4}),
        ev(type=16, subtype=4, session_id=1, handle_id=2,
           event={"selected-pair": "a <-> b",
                  "candidates": {"local": {"type": "host", "transport": "udp"},
                                 "remote": {"type": "relay", "transport": "tcp"}}}),
        ev(type=16, subtype=3, session_id=1, handle_id=2,
           event={"remote-candidate": "1 1 udp 2130706431 127.0.0.1 5000 typ srflx"}),
        ev(type=2, session_id=1, handle_id=2, event={"name": "detached"})])
    seeds["plugins-over-cap"] = "\n".join(
        ev(type=2, session_id=1, handle_id=i, event={"name": "attached", "plugin": "p.%d" % i})
        for i in range(6))
    seeds["not-events"] = "\n".join(["[]", "5", '"x"', "{}", '{"type":"1"}',
                                     '{"type":999}', '{"type":16,"subtype":99}'])
    return seeds


def load_token_script():
    """scripts/token (no .py suffix) as a module: its mint() signs the HS256 seeds."""
    loader = importlib.machinery.SourceFileLoader("token_script", str(REPO / "scripts" / "token"))
    spec = importlib.util.spec_from_loader("token_script", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def access_token():
    # access_token_fuzzer.cpp's clock and HS256 secret.
    now = 1700000000
    secret = b"fuzz-secret-0123456789abcdef0123456789"
    mint = load_token_script().mint

    def b64(text):
        return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()

    media = {"publish": ["cam-1"], "watch": ["cam-*", "door-1"], "echo": True, "list": True}
    good = {"exp": now + 3600, "nbf": now - 10, "iat": now, "sub": "fuzz", "media": media}
    checked = dict(good, iss="app.example", aud=["other", "janus-media"])
    hs = j({"alg": "HS256", "typ": "JWT"})
    # The longest token the verifier reads (8192 bytes), and one byte more.
    def sized(n):
        return mint(secret, dict(good, sub="x" * n))
    n = (8192 - len(sized(0))) * 3 // 4
    while len(sized(n)) > 8192:
        n -= 1
    longest = sized(n)
    seeds = {
        "good-hs256": "T" + mint(secret, good),
        "longest": "T" + longest,
        "too-long": "T" + longest + "x" * (8193 - len(longest)),
        "good-hs256-iss-aud": "T" + mint(secret, checked),
        "expired": "T" + mint(secret, dict(good, exp=now - 60)),
        "not-yet": "T" + mint(secret, dict(good, nbf=now + 600)),
        "wrong-secret": "T" + mint(b"another-secret-0123456789abcdef012345", good),
        "alg-none": "T" + b64(j({"alg": "none"})) + "." + b64(j(good)) + ".",
        # RS256 and ES256 headers with signatures of the right sizes that cannot verify: they
        # reach libjwt's PEM and ECDSA paths.
        "rs256-unsigned": "T" + b64(j({"alg": "RS256"})) + "." + b64(j(good)) + "." +
                          base64.urlsafe_b64encode(bytes(256)).rstrip(b"=").decode(),
        "es256-unsigned": "T" + b64(j({"alg": "ES256", "typ": "JWT"})) + "." + b64(j(good)) +
                          "." + base64.urlsafe_b64encode(bytes(range(64))).rstrip(b"=").decode(),
        "three-dots": "Ta.b.c.d",
        "signed-good": "S" + hs + "\n" + j(good),
        "signed-checked": "S" + hs + "\n" + j(checked),
        "signed-none": "S" + j({"alg": "none"}) + "\n" + j(good),
        "signed-crit": "S" + j({"alg": "HS256", "crit": ["x"]}) + "\n" + j(good),
        "signed-bad-claims": "S" + hs + "\n" + j(dict(
            good, media={"publish": ["c*m", 5], "watch": "cam-1", "echo": "yes"})),
        "signed-no-exp": "S" + hs + "\n" + j({"media": media}),
        "signed-fraction": "S" + hs + "\n" + j(dict(good, exp=now - 29.5)),
        "signed-aud": "S" + hs + "\n" + j(dict(good, aud="janus-media")),
        "signed-dup": "S" + hs + "\n" + '{"exp":1,"exp":1700003600,"media":{}}',
        "signed-many-patterns": "S" + hs + "\n" + j(dict(
            good, media={"watch": ["cam-%d" % i for i in range(65)]})),
        "patterns": "P" + "\n".join(["+cam-*", "+cam-1", "+door-1", "+*", "+c*m", "+", "cam",
                                     "cam-", "cam-1", "cam-10", "cam.", "door-1", "door-10",
                                     "zulu", "\xff"]),
        "patterns-prefixes": "P" + "\n".join(["+a*", "+ab*", "+b", "+ba*", "a", "ab", "abc",
                                              "b", "b0", "ba", "bb", "c"]),
    }
    return seeds


def edge():
    def record(op, data):
        data = data.encode() if isinstance(data, str) else data
        return bytes([op]) + struct.pack("<H", len(data)) + data

    def ws(text, flags=1):
        return record(0, bytes([flags]) + (text.encode() if isinstance(text, str) else text))

    def post(url, body):
        return record(1, url + "\n" + (body if isinstance(body, str) else j(body)))

    def trickle(session, handle, count, start=0):
        return {"janus": "trickle", "transaction": "t", "session_id": session,
                "handle_id": handle,
                "candidates": [{"candidate": "candidate:%d 1 udp 1 127.0.0.1 %d typ host"
                                % (i, 9000 + i), "sdpMid": "0"}
                               for i in range(start, start + count)] + [{"completed": True}]}

    offer_with_candidates = REAL_OFFER + "".join(
        "a=candidate:%d 1 udp 1 127.0.0.1 %d typ host\r\n" % (i, 7000 + i) for i in range(40))
    return {
        "ws-ping": ws(j({"janus": "ping", "transaction": "p"})),
        "ws-fragments": ws('{"janus":"tr', 2 * 1) + ws('ickle","session_id":1,"handle_id":2,', 0)
                        + ws('"candidate":{"candidate":"a"}}', 1),
        "ws-two-documents": ws('{"janus":"ping"}{"janus":"ping"}'),
        "ws-too-big": ws("{" + " " * 100, 0xFE) + ws("}"),
        "ws-trickles-over-the-cap": ws(j(trickle(1, 2, 30))) + ws(j(trickle(1, 2, 30, 30)))
                                    + record(2, j({"janus": "hangup", "session_id": 1,
                                                   "sender": 2}))
                                    + ws(j(trickle(1, 2, 50))),
        "ws-offer-with-candidates": ws(j({"janus": "message", "session_id": 1, "handle_id": 3,
                                          "body": {"request": "echo"},
                                          "jsep": {"type": "offer",
                                                   "sdp": offer_with_candidates}}))
                                    + record(3, j({"janus": "ack"}))
                                    + ws(j(trickle(1, 3, 20))),
        "ws-answers": ws(j({"janus": "attach", "session_id": 5, "plugin": "janus.plugin.media"}))
                      + record(3, j({"janus": "success", "data": {"id": 6}}))
                      + ws(j(trickle(5, 6, 40)))
                      + record(3, j({"janus": "error", "error": {"code": 459}}))
                      + ws(j(trickle(5, 6, 40)))
                      + ws(j({"janus": "detach", "session_id": 5, "handle_id": 6}))
                      + record(3, j({"janus": "success"})),
        "http-paths": post("/janus", {"janus": "create"}) + post("/janus/info", "{}")
                      + post("/janus/12/34", {"janus": "trickle", "candidate": {"candidate": "a"}})
                      + post("/janus/12/34", {"janus": "trickle", "handle_id": 35})
                      + post("/janus//12//", {"janus": "keepalive"})
                      + post("/janus/1/2/3", "{}") + post("/elsewhere", "{}")
                      + post("/janus/18446744073709551615/1", {"janus": "hangup"}),
        "http-timeout-event": post("/janus/7/8", trickle(7, 8, 45))
                              + record(2, j({"janus": "timeout", "session_id": 7}))
                              + post("/janus/7/8", trickle(7, 8, 45)),
    }



def relay_rtcp():
    def header(fmt, pt, body):
        return struct.pack("!BBH", 0x80 | fmt, pt, (4 + len(body)) // 4 - 1) + body

    sr = header(0, 200, struct.pack("!IIIIII", 0x1234, 0xE0000000, 0x80000000, 90000, 10, 1200))
    rr = header(1, 201, struct.pack("!I", 0x99) + struct.pack("!IIIIII", 0x1234, 3, 70000, 0,
                                                                   0x00008000, 655))
    nack = header(1, 205, struct.pack("!IIHHHH", 0x99, 0x1234, 100, 0x8001, 65535, 0x0003))
    pli = header(1, 206, struct.pack("!II", 0x99, 0x1234))
    fir = header(4, 206, struct.pack("!IIII", 0x99, 0, 0x1234, 0x07000000))
    return {
        "parse-sr": b"\x00" + sr,
        "parse-rr-nack-pli": b"\x00" + rr + nack + pli,
        "parse-fir": b"\x00" + fir,
        "parse-bad-length": b"\x00" + nack[:2] + b"\x00\x09" + nack[4:],
        "nack-round-trip": b"\x01" + struct.pack("!12H", 1, 2, 3, 17, 18, 40, 41, 4095, 4000,
                                                 200, 201, 216),
    }


def main():
    write("plugin_requests", plugin_requests())
    write("plugin_admin", plugin_admin())
    write("plugin_sdp", plugin_sdp())
    write("plugin_media", plugin_media())
    write("transport_http", transport_http())
    write("transport_mhd", transport_http())
    write("event_aggregator", event_aggregator())
    write("access_token", access_token())
    write("edge", edge())
    write("relay_rtcp", relay_rtcp())
    for folder in sorted(CORPUS.iterdir()):
        files = list(folder.iterdir())
        print("%-18s %3d seeds, %6d bytes" % (folder.name, len(files),
                                              sum(f.stat().st_size for f in files)))


if __name__ == "__main__":
    main()
