"""results.json -> results.md (tables, targets with PASS/MISS, notes) and PNG plots."""

from pathlib import Path

from common import ECHOTEST, MEDIA, PROFILE_GROUPS, spread

PLUGIN_SYNC = ("list", "info")
# The session REST API's reads (janus.transport.prometheus, GET), as the targets name them.
REST_LABELS = {"rest_list": "REST `GET /api/media/sessions?limit=10`",
               "rest_info": "REST `GET /api/media/sessions/{id}`"}


# ---------------------------------------------------------------------------
# formatting
# ---------------------------------------------------------------------------
def _num(v, digits=0):
    if v is None:
        return "-"
    if digits == 0:
        return "{:,.0f}".format(v)
    return "{:,.{d}f}".format(v, d=digits)


def _sp(s, digits=0, scale=1.0):
    """median [min-max] of a spread() dict."""
    if not s or s.get("median") is None:
        return "-"
    if s["n"] == 1:
        return _num(s["median"] * scale, digits)
    return "%s [%s-%s]" % (_num(s["median"] * scale, digits), _num(s["min"] * scale, digits),
                           _num(s["max"] * scale, digits))


def _ratio_sp(s):
    if not s or s.get("median") is None:
        return "-"
    if s["n"] == 1:
        return "%.2fx" % s["median"]
    return "%.2fx [%.2f-%.2f]" % (s["median"], s["min"], s["max"])


def _pairwise(a_runs, b_runs, key):
    """Spread of a[i][key] / b[i][key] over repetitions i."""
    vals = []
    for a, b in zip(a_runs or [], b_runs or []):
        if a.get(key) is not None and b.get(key):
            vals.append(a[key] / b[key])
    return spread(vals)


# ---------------------------------------------------------------------------
# targets
# ---------------------------------------------------------------------------
def targets(results):
    """[{"target", "measured", "verdict", "note"}]; verdict PASS, MISS or n/a."""
    rows = []
    parts = results.get("parts", {})
    api = parts.get("api", {}).get("runs")
    if api:
        node = api["32"]
        for name in PLUGIN_SYNC:
            r = _pairwise(node[name]["100"], node["ping"]["100"], "rps")
            rows.append(_row("`%s` req/s >= 0.95x core `ping` (c=100, shards=32)" % name, r,
                             r["median"] is not None and r["median"] >= 0.95, "api-ping"))
            p = _pairwise(node[name]["100"], node["ping"]["100"], "p99_ms")
            rows.append(_row("`%s` p99 <= 1.1x `ping` p99 (c=100, shards=32)" % name, p,
                             p["median"] is not None and p["median"] <= 1.1, "api-ping"))
        for name in PLUGIN_SYNC:
            for c in sorted(api["32"][name], key=int):
                r = _pairwise(api["32"][name][c], api["1"][name][c], "rps")
                rows.append(_row("`%s` req/s shards=32 >= shards=1 (c=%s)" % (name, c), r,
                                 r["median"] is not None and r["median"] >= 1.0, "api-shards"))
        if "rest_list" in node:
            for name, label in REST_LABELS.items():
                r = _pairwise(node[name]["100"], node["ping"]["100"], "rps")
                rows.append(_row("%s req/s >= 1.5x core `ping` (c=100, shards=32)" % label, r,
                                 r["median"] is not None and r["median"] >= 1.5, "api-rest"))
                p = _pairwise(node[name]["100"], node["ping"]["100"], "p99_ms")
                rows.append(_row("%s p99 <= `ping` p99 (c=100, shards=32)" % label, p,
                                 p["median"] is not None and p["median"] <= 1.0, "api-rest"))
            for name, label in REST_LABELS.items():
                r = spread([x["rps"] for x in node[name]["100"]])
                rows.append(_abs_row("%s >= 10,000 req/s (c=100, shards=32)" % label, r,
                                     "%s req/s", r["median"] is not None and
                                     r["median"] >= 10000, "api-rest"))
                p = spread([x["p99_ms"] for x in node[name]["100"]])
                rows.append(_abs_row("%s p99 <= 50 ms (c=100, shards=32)" % label, p, "%s ms",
                                     p["median"] is not None and p["median"] <= 50, "api-rest",
                                     digits=2))
        churn = parts.get("api", {}).get("churn_runs")
        if churn:
            for name, label in REST_LABELS.items():
                r = _pairwise(churn["32"][name]["100"], churn["1"][name]["100"], "rps")
                rows.append(_row("%s req/s with a writer: shards=32 >= 1.2x shards=1 (c=100)"
                                 % label, r, r["median"] is not None and r["median"] >= 1.2,
                                 "api-rest-churn"))
        if "videoroom_list" in node:
            for c in sorted(node["list"], key=int):
                r = _pairwise(node["list"][c], node["videoroom_list"][c], "rps")
                rows.append(_row("`list` limit 10 req/s >= 1.0x VideoRoom `list` (c=%s, "
                                 "shards=32)" % c, r,
                                 r["median"] is not None and r["median"] >= 1.0,
                                 "api-videoroom"))
    table = parts.get("table", {}).get("ops_per_second", {}).get("90-5-5")
    if table and "sharded32" in table and "tbb" in table:
        for t in ("2", "4", "8"):
            a, b = table["sharded32"].get(t), table["tbb"].get(t)
            if not a or not b or not a["median"] or not b["median"]:
                continue
            # Repetition i of each (randomly interleaved runs), paired by index.
            r = spread([x / y for x, y in zip(a["values"], b["values"]) if y])
            rows.append(_row("sharded table (32) >= tbb::concurrent_hash_map, 90/5/5, %s "
                             "threads" % t, r, r["median"] >= 1.0, "table-tbb"))
    edge = parts.get("edge", {}).get("runs")
    if edge:
        for protocol, label in EDGE_PROTOCOLS.items():
            if protocol not in edge:
                continue
            for name in _edge_names(edge[protocol]):
                for c in sorted(edge[protocol][name], key=int):
                    point = edge[protocol][name][c]
                    r = _pairwise(point["edge"], point["stock"], "rps")
                    rows.append(_row("edge `%s` req/s >= 1.0x stock (%s, c=%s)" % (name, label, c),
                                     r, r["median"] is not None and r["median"] >= 1.0,
                                     "edge-throughput"))
                    p = _pairwise(point["edge"], point["stock"], "p99_ms")
                    rows.append(_row("edge `%s` p99 <= 1.1x stock (%s, c=%s)" % (name, label, c),
                                     p, p["median"] is not None and p["median"] <= 1.1,
                                     "edge-throughput"))
        for kind, label in EDGE_IDLE_KINDS.items():
            memory = (parts["edge"].get("idle_memory") or {}).get(kind) or {}
            if memory.get("edge") and memory.get("stock"):
                for key, what in (("heap_bytes_per_connection", "heap in use"),
                                  ("bytes_per_connection", "RSS")):
                    r = _pairwise(memory["edge"], memory["stock"], key)
                    rows.append(_row("edge memory per idle WebSocket connection <= stock's (%s, "
                                     "%s)" % (label, what), r,
                                     r["median"] is not None and r["median"] <= 1.0,
                                     "edge-memory"))
    soak = parts.get("soak") or {}
    if soak.get("rss_mb_per_hour") is not None and (soak.get("config") or {}).get("transport"):
        r = spread([soak["rss_mb_per_hour"]])
        rows.append(_abs_row("soak: RSS slope <= 2 MB/h from minute 1 (impatient churn "
                             "through the edge)", r, "%s MB/h", r["median"] <= 2.0, "soak",
                             digits=1))
        if soak.get("rss_mb_per_hour_second_half") is not None:
            r = spread([soak["rss_mb_per_hour_second_half"]])
            rows.append(_abs_row("soak: RSS slope <= 2 MB/h over the second half", r,
                                 "%s MB/h", r["median"] <= 2.0, "soak", digits=1))
        left = (soak.get("leftover_after") or {}).get("hloop_threads")
        if left is not None:
            rows.append(_abs_row("soak: no hloop thread left once the clients are gone",
                                 spread([left]), "%s", left == 0, "soak"))
    rows += _fanout_targets(parts)
    clu = parts.get("cluster") or {}
    if clu.get("ratio_values"):
        r = spread(clu["ratio_values"])
        rows.append(_row("cluster: the origin's CPU per outbound relay <= 1.2x per local "
                         "viewer (same stream)", r, r["median"] <= 1.2, "cluster"))
    web = parts.get("webrtc", {}).get("runs")
    if web and web.get("echo_media") and web.get("echo_echotest"):
        r = webrtc_setup_ratio(web)
        rows.append(_row("WebRTC echo setup p50 <= 1.1x echotest's (same N, same repetition)", r,
                         r["median"] is not None and r["median"] <= 1.10, "webrtc-setup"))
    return rows


def _abs_row(target, r, unit, ok, note, digits=0):
    """A target on an absolute figure (req/s, ms) instead of a ratio."""
    verdict = "n/a" if r.get("median") is None else ("PASS" if ok else "MISS")
    return {"target": target, "measured": unit % _sp(r, digits), "verdict": verdict,
            "note": note}


def _row(target, r, ok, note):
    measured = _ratio_sp(r)
    verdict = "n/a" if r.get("median") is None else ("PASS" if ok else "MISS")
    if verdict != "n/a" and r.get("n", 0) > 1 and r["min"] is not None:
        threshold = {"api-shards": 1.0, "table-tbb": 1.0, "api-videoroom": 1.0,
                     "api-rest-churn": 1.2, "api-rest": None,
                     "edge-throughput": None, "edge-memory": 1.0}.get(note)
        if threshold is not None and r["min"] < threshold <= r["max"]:
            verdict += " (within noise)"
    return {"target": target, "measured": measured, "verdict": verdict, "note": note}


def _pooled_setups(runs, rep):
    vals = []
    for n in runs:
        if rep < len(runs[n]):
            vals.extend(runs[n][rep]["setup_s"])
    return vals


def webrtc_setup_ratio(web, key="setup_p50_ms"):
    """Spread over (N, repetition) of media's p50 / echotest's p50 at the same N and
    repetition: like for like, whatever the mix of N."""
    ratios = []
    for n, runs in web["echo_media"].items():
        for a, b in zip(runs, web["echo_echotest"].get(n, [])):
            if a.get(key) and b.get(key) and a["success_ratio"] == 1 and b["success_ratio"] == 1:
                ratios.append(a[key] / b[key])
    return spread(ratios)


def target_lines(results):
    return ["%-5s %s: %s" % (r["verdict"].split()[0], r["target"].replace("`", ""),
                             r["measured"]) for r in targets(results)]


# ---------------------------------------------------------------------------
# markdown
# ---------------------------------------------------------------------------
def _api_names(api):
    """The endpoints of a run, in table order (runs before list_100 existed lack it)."""
    return [n for n in ("ping", "list", "list_100", "info", "videoroom_list", "rest_list",
                        "rest_info")
            if n in api["runs"]["32"]]


def _throughput_table(out, runs, names, concurrency):
    """Appends the table of runs[shards][name][connections] (shards 32 and 1): req/s, p50,
    p99 as median [min-max], errors summed."""
    out.append("| endpoint | shards | connections | req/s | p50 ms | p99 ms | errors |")
    out.append("|---|---|---|---|---|---|---|")
    for c in [str(x) for x in concurrency]:
        for name in names:
            for shards in ("32", "1"):
                rows = runs[shards][name][c]
                out.append("| %s | %s | %s | %s | %s | %s | %d |" % (
                    name, shards, c, _sp(spread([r["rps"] for r in rows])),
                    _sp(spread([r["p50_ms"] for r in rows]), 2),
                    _sp(spread([r["p99_ms"] for r in rows]), 2),
                    sum(r["errors"] for r in rows)))


def _api_md(api):
    out = []
    cfg = api["config"]
    names = _api_names(api)
    out.append("## API: sync requests through the HTTP transport\n")
    sizes = cfg.get("reply_bytes") or {}
    size = (lambda n: " (%s-byte reply)" % _num(sizes[n]) if sizes.get(n) else "")
    out.append("%s, keep-alive, %g s per run, %d repetitions interleaved over two Janus "
               "nodes running side by side (shards = 32 and 1), each with %s handles attached "
               "to janus.plugin.media. `list` = `{\"request\":\"list\",\"limit\":10}` (a page "
               "of 10 of those sessions, summaries as by default)%s, `list_100` = the same with "
               "`\"limit\":100` (the default limit)%s, `info` = one session%s, `ping` = "
               "`{\"janus\":\"ping\"}` (answered by the core), `videoroom_list` = VideoRoom's "
               "`list` (a stock plugin, same core path as ours)%s; `rest_list` = `GET "
               "/api/media/sessions?limit=10`%s and `rest_info` = `GET "
               "/api/media/sessions/{id}`%s on janus.transport.prometheus (the session REST "
               "API, read from the plugin's table on the transport's threads, not through the "
               "core). Median [min-max] over repetitions.\n"
               % (cfg["tool"], cfg["seconds"], cfg["reps"], _num(cfg["handles"]), size("list"),
                  size("list_100"), size("info"), size("videoroom_list"), size("rest_list"),
                  size("rest_info")))
    _throughput_table(out, api["runs"], names, cfg["concurrency"])
    out.append("")
    out.append("Ratios (same node, same repetition, median [min-max]):\n")
    n32, n1 = api["runs"]["32"], api["runs"]["1"]
    cols = [("rest_list / ping", "rest_list", "ping", n32),
            ("rest_info / ping", "rest_info", "ping", n32),
            ("list / ping", "list", "ping", n32), ("info / ping", "info", "ping", n32),
            ("videoroom_list / ping", "videoroom_list", "ping", n32),
            ("list / videoroom_list", "list", "videoroom_list", n32),
            ("list_100 / videoroom_list", "list_100", "videoroom_list", n32),
            ("list 32 / 1", "list", "list", n1), ("list_100 32 / 1", "list_100", "list_100", n1),
            ("info 32 / 1", "info", "info", n1),
            ("rest_list 32 / 1", "rest_list", "rest_list", n1)]
    cols = [col for col in cols if col[1] in names and col[2] in names]
    out.append("| connections | " + " | ".join(col[0] for col in cols) + " |")
    out.append("|---|" + "---|" * len(cols))
    for c in [str(x) for x in cfg["concurrency"]]:
        out.append("| %s | %s |" % (c, " | ".join(
            _ratio_sp(_pairwise(n32[a][c], ref[b][c], "rps")) for _, a, b, ref in cols)))
    churn = api.get("churn_runs")
    if churn:
        writer = api.get("writer") or {}
        out.append("")
        out.append("The REST reads with a writer on the same node: %d loops of %s, as fast as "
                   "they go (shards = 32 vs 1, same repetition):\n"
                   % (cfg.get("writer_loops", 0), cfg.get("writer", "")))
        _throughput_table(out, churn, ("rest_list", "rest_info"), cfg["concurrency"])
        out.append("")
        out.append("| connections | rest_list 32 / 1 | rest_info 32 / 1 |")
        out.append("|---|---|---|")
        for c in [str(x) for x in cfg["concurrency"]]:
            out.append("| %s | %s | %s |" % (c, _ratio_sp(_pairwise(
                churn["32"]["rest_list"][c], churn["1"]["rest_list"][c], "rps")), _ratio_sp(
                _pairwise(churn["32"]["rest_info"][c], churn["1"]["rest_info"][c], "rps"))))
        out.append("")
        out.append("Writer: " + "; ".join(
            "shards = %s %s lifecycles/s (%d errors)" % (
                shards, _sp(spread([w["per_second"] for w in writer.get(shards, [])]), 1),
                sum(w["errors"] for w in writer.get(shards, [])))
            for shards in ("32", "1")) + ".\n")
    cg = api.get("callgrind")
    if cg and cg.get("per_request"):
        out.append("")
        out.append("Instructions per `list` (callgrind, bench/list_cost: "
                   "`MediaPlugin::handle_message` against a fake core over %s idle sessions, "
                   "32 shards, mean of %d requests; then the reply serialised as Janus's HTTP "
                   "transport does, `json_dumps` with `JSON_INDENT(3)`). These counts do not "
                   "depend on the machine's load:\n" % (_num(cg["sessions"]), cg["iterations"]))
        out.append("| request | instructions in the plugin | instructions to serialise | "
                   "reply bytes |")
        out.append("|---|---|---|---|")
        for label, row in cg["per_request"].items():
            out.append("| `list` %s | %s | %s | %s |" % (label, _num(row["request_ir"]),
                                                         _num(row["serialise_ir"]),
                                                         _num(row["reply_bytes"])))
    out.append("")
    prof = api.get("profile")
    if prof:
        out.append("Where the janus process's CPU goes at 100 connections (shards = 32; "
                   "`perf record -a -F 499 --call-graph dwarf`, its samples only). Each cell: "
                   "samples whose innermost frame is in that code (self) / samples with that "
                   "code anywhere on the stack, i.e. with what it calls:\n")
        groups = [g for g, _ in PROFILE_GROUPS]
        out.append("| endpoint | req/s under perf | samples | " + " | ".join(groups) + " |")
        out.append("|---|---|---|" + "---|" * len(groups))
        for name, p in prof.items():
            cells = ["%.1f / %.1f" % (p["self"].get(g, 0.0), p["stack"].get(g, 0.0))
                     for g in groups]
            out.append("| %s | %s | %d | %s |" % (name, _num(p.get("rps_under_perf")),
                                                  p["samples"], " | ".join(cells)))
        out.append("\nThreads (share of samples): " + "; ".join(
            "%s: %s" % (name, ", ".join("%s %.0f %%" % (t, v) for t, v in
                                        sorted(p["threads"].items(), key=lambda x: -x[1])[:4]))
            for name, p in prof.items()) + ".\n")
        out.append("Our functions on the stack (share of the janus process's samples, with what "
                   "they call):\n")
        for name, p in prof.items():
            if p.get("our_functions"):
                out.append("- %s: %s" % (name, "; ".join(
                    "`%s` %.1f %%" % kv for kv in list(p["our_functions"].items())[:6])))
        out.append("")
    return out


EDGE_IDLE_KINDS = {"bare": "handshake only", "session": "with a Janus session"}
EDGE_PROTOCOLS = {"http": "HTTP", "ws": "WebSocket",
                  "ws_idle": "WebSocket, idle connections open"}


def _edge_names(runs):
    return [n for n in ("ping", "info", "list") if n in runs]


def _edge_md(edge):
    out = []
    cfg = edge["config"]
    out.append("## Edge: janus.transport.edge vs the stock transports\n")
    out.append("The same requests through janus.transport.edge and through Janus's own "
               "janus.transport.http / janus.transport.websockets, on two Janus nodes running "
               "side by side (%s handles attached to janus.plugin.media on each), runs "
               "alternating between them: the core's `ping`, the plugin's `info` and `list` "
               "(limit %d). HTTP: %s, keep-alive; WebSocket: %s; one request in flight per "
               "connection, %g s per run, %d repetitions. The edge's request-rate and "
               "per-address connection bounds were raised for this run (%s), since the load "
               "generator is one client address; its other bounds were at their defaults.\n"
               % (_num(cfg["handles"]), cfg["list_limit"], cfg["tools"]["http"],
                  cfg["tools"]["ws"], cfg["seconds"], cfg["reps"],
                  ", ".join("%s = %s" % kv for kv in sorted(
                      cfg["edge_settings"]["limits"].items()))))
    out.append("| protocol | request | connections | stock req/s | edge req/s | edge/stock "
               "| stock p99 ms | edge p99 ms | edge/stock p99 | errors |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for protocol, label in EDGE_PROTOCOLS.items():
        if protocol not in edge["runs"]:
            continue
        if protocol == "ws_idle":
            label = "WebSocket, %s idle connections open" % _num(cfg["idle_connections"])
        for c in sorted(next(iter(edge["runs"][protocol].values())), key=int):
            for name in _edge_names(edge["runs"][protocol]):
                point = edge["runs"][protocol][name][c]
                out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %d |" % (
                    label, name, c,
                    _sp(spread([r["rps"] for r in point["stock"]])),
                    _sp(spread([r["rps"] for r in point["edge"]])),
                    _ratio_sp(_pairwise(point["edge"], point["stock"], "rps")),
                    _sp(spread([r["p99_ms"] for r in point["stock"]]), 2),
                    _sp(spread([r["p99_ms"] for r in point["edge"]]), 2),
                    _ratio_sp(_pairwise(point["edge"], point["stock"], "p99_ms")),
                    sum(r["errors"] for r in point["stock"] + point["edge"])))
    shares = [r["client_cpu_share"] for protocol in ("ws",)
              for name in edge["runs"][protocol] for c in edge["runs"][protocol][name]
              for t in ("edge", "stock") for r in edge["runs"][protocol][name][c][t]
              if r.get("client_cpu_share") is not None]
    if shares:
        out.append("\nws_load's own CPU, in %% of one core: %s (median [min-max] over its "
                   "runs); the rest of the machine's two cores was Janus's.\n"
                   % _sp(spread([x * 100 for x in shares])))
    memory = edge.get("idle_memory") or {}
    if any(memory.get(kind) for kind in EDGE_IDLE_KINDS):
        out.append("\nMemory per idle WebSocket connection: %s connections opened to a Janus "
                   "started for that alone, bare (handshake done, nothing sent) or each with a "
                   "Janus session created first (as janus.js does before it waits). Heap in use: "
                   "glibc's malloc_stats() in the janus process through gdb, what the connections "
                   "hold; RSS: its resident memory once settled, which also counts what the "
                   "allocator kept of freed memory; each minus before.\n"
                   % _num(cfg["idle_connections"]))
        out.append("| idle connections | transport | heap in use, KiB per connection | RSS, KiB per "
                   "connection | RSS before MB | RSS with them MB |")
        out.append("|---|---|---|---|---|---|")
        for kind, label in EDGE_IDLE_KINDS.items():
            for t in ("stock", "edge"):
                rows = (memory.get(kind) or {}).get(t) or []
                if not rows:
                    continue
                heap = [m["heap_bytes_per_connection"] / 1024 for m in rows
                        if m.get("heap_bytes_per_connection") is not None]
                out.append("| %s | %s | %s | %s | %s | %s |" % (
                    label, t, _sp(spread(heap), 2) if heap else "-",
                    _sp(spread([m["bytes_per_connection"] / 1024 for m in rows]), 2),
                    _sp(spread([m["rss_before"] / 1e6 for m in rows]), 1),
                    _sp(spread([m["rss_during"] / 1e6 for m in rows]), 1)))
    out.append("")
    return out


def _srtp_md(srtp):
    cfg = srtp["config"]
    cpu = srtp["cpu_ns_per_packet"]
    out = ["## SRTP and send: the floor of a fan-out\n"]
    out.append("What one viewer's copy of a %d-byte SRTP packet costs at the least on Janus's "
               "send path, in CPU time of the sending thread (bench/srtp_send, Google "
               "Benchmark, %d repetitions interleaved): `srtp_protect` with Debian's libsrtp2 "
               "(the library the janus binary links; a fresh copy of the packet each time, as a "
               "relay makes one per viewer) and one UDP `sendmsg` on loopback to a socket a "
               "thread drains. The fan-out runs (1 publisher to N viewers, issue 16) are not "
               "built yet.\n" % (cfg["packet_bytes"], cfg["reps"]))
    out.append("| SRTP profile | protect, ns | protect + sendmsg, ns | viewer copies per "
               "second per core |")
    out.append("|---|---|---|---|")
    for arg, name in sorted(cfg["profiles"].items()):
        both = cpu.get("protect_and_send/%s" % arg) or {}
        out.append("| %s | %s | %s | %s |" % (
            name, _sp(cpu.get("protect/%s" % arg)), _sp(both),
            _num(1e9 / both["median"]) if both.get("median") else "-"))
    out.append("\n`sendmsg` alone: %s ns.\n" % _sp(cpu.get("sendmsg")))
    return out


# The SRTP profile of the fan-out's viewers: Janus offers AEAD_AES_256_GCM, AEAD_AES_128_GCM,
# then AES_CM; Pion (the DTLS server) picks from its own list, AEAD_AES_128_GCM first.
FANOUT_SRTP_PROFILE = "1"  # part srtp's profile key: AEAD_AES_128_GCM


def _fanout_points(fan):
    """{(event_loops, bitrate, plugin): {n: point}} of the last repetition's completed steps
    (the plot and the profile)."""
    return {key: reps[-1] for key, reps in _fanout_reps(fan).items()}


def _fanout_reps(fan):
    """{(event_loops, bitrate, plugin): [{n: point} per repetition]}."""
    out = {}
    for key, runs in (fan.get("runs") or {}).items():
        loops, bitrate, plugin = key.split("/")
        out[(int(loops), int(bitrate), plugin)] = [
            {p["n"]: p for p in r.get("points", [])} for r in runs if r.get("points")]
    return {k: v for k, v in out.items() if v}


def _fanout_targets(parts):
    """Each target as the median over repetitions of its per-repetition figure (media and
    VideoRoom of the same repetition ran back to back, their order alternating)."""
    fan = parts.get("fanout")
    if not fan:
        return []
    rows = []
    reps = _fanout_reps(fan)
    limit = ((parts.get("srtp") or {}).get("cpu_ns_per_packet") or {}).get(
        "protect_and_send/" + FANOUT_SRTP_PROFILE, {}).get("median")
    for (loops, bitrate, plugin), media_reps in sorted(reps.items()):
        if plugin != "media":
            continue
        label = "event_loops %d, %d kbit/s" % (loops, bitrate)
        room_reps = reps.get((loops, bitrate, "videoroom"), [])
        ns = sorted({n for steps in media_reps for n in steps})
        for n in ns:
            ratios = []
            for i, steps in enumerate(media_reps):
                other = room_reps[i].get(n, {}) if i < len(room_reps) else {}
                mine = steps.get(n, {})
                if mine.get("stopped_here") or other.get("stopped_here"):
                    continue  # a step past what the machine held measures the machine
                a = mine.get("janus_us_per_viewer_packet")
                b = other.get("janus_us_per_viewer_packet")
                if a and b:
                    ratios.append(a / b)
            if ratios:
                r = spread(ratios)
                rows.append(_row("fanout: media CPU per viewer-packet <= 1.0x VideoRoom's (%s, "
                                 "N=%d)" % (label, n), r, r["median"] <= 1.0, "fanout"))
        slopes = []
        for steps in media_reps:
            if all(n in steps for n in (10, 50, 200)):
                early = (steps[50]["janus_cpu_percent"] - steps[10]["janus_cpu_percent"]) / 40
                late = (steps[200]["janus_cpu_percent"] - steps[50]["janus_cpu_percent"]) / 150
                if early > 0:
                    slopes.append(late / early)
        if slopes:
            r = spread(slopes)
            rows.append(_row("fanout: cost per added viewer flat, slope 50->200 within "
                             "+-20%% of 10->50 (%s)" % label, r,
                             0.8 <= r["median"] <= 1.2, "fanout"))
        tops = [steps[200] for steps in media_reps if 200 in steps]
        if not tops:
            continue
        per_packet = [t.get("janus_us_per_viewer_packet") for t in tops]
        if limit and all(per_packet):
            r = spread([v * 1e3 / limit for v in per_packet])
            rows.append(_row("fanout: media CPU per viewer-packet within 3x of srtp_protect "
                             "(AEAD_AES_128_GCM) + sendmsg (%s, N=200)" % label, r,
                             r["median"] <= 3.0, "fanout"))
        if bitrate == 500:
            r = spread([t["lost"] for t in tops])
            rows.append(_abs_row("fanout: no loss at N=200, 500 kbit/s (%s)" % label,
                                 r, "%s packets", r["max"] == 0, "fanout"))
        probes = [t.get("probe_keyframe_s") for t in tops if t.get("probe_keyframe_s") is not None]
        if probes:
            r = spread(probes)
            rows.append(_abs_row("fanout: a viewer joining at N=200 has its first keyframe "
                                 "within 1 s (%s)" % label, r, "%s s", r["max"] <= 1.0,
                                 "fanout", digits=2))
    return rows


def _fanout_md(fan):
    cfg = fan["config"]
    out = ["## Fan-out: 1 publisher -> N viewers, janus.plugin.media vs VideoRoom\n"]
    out.append("The load generator (scripts/lib/viewer_load.py: a webrtcbin publisher, Pion "
               "viewers of bench/fanout_viewer in %d process(es); real ICE/DTLS/SRTP, no "
               "decoding) against one Janus per `event_loops` setting "
               "(0: one loop per handle, Janus's default). Media: %s. Per step: %.0f s of "
               "media; CPU per viewer-packet = Janus CPU time / RTP packets the viewers "
               "received; net = minus Janus's CPU with the publisher alone; slope = extra "
               "Janus CPU (%% of a core) per added viewer since the previous step; wake-ups = "
               "Janus's voluntary context switches (every thread's sleeps: a loop thread "
               "sleeps once per wake-up) per viewer-packet, and net of the publisher alone's; "
               "keyframe = "
               "`watch` (`join`) to the first VP8 keyframe of the viewers added at that step. "
               "Generator = the viewer processes' CPU, beside the publisher's. A ladder stops "
               "after a step with a failed or silent viewer, > 1 %% loss, or the viewers "
               "saturated.\n" % (cfg["processes"], cfg["media"], cfg["hold_s"]))
    out.append("| loops / kbit/s / plugin | N | ok / receiving | pkt/s | lost | Janus CPU % | "
               "us/viewer-pkt (net) | slope %/viewer | wake-ups/viewer-pkt (net) | "
               "keyframe p50 / p99 s | "
               "probe: first packet / keyframe s | RSS/viewer kB | threads | "
               "generator % + publisher % |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for key in sorted(fan["runs"]):
        for r in fan["runs"][key]:
            if r.get("error"):
                out.append("| %s | - | FAILED: %s |||||||||||||" % (key, r["error"][:80]))
            for p in r.get("points", []):
                out.append("| %s | %d%s | %d / %d | %s | %d | %s | %s (%s) | %s | %s (%s) | %s / %s | "
                           "%s / %s | %s | %s | %s + %s |" % (
                               key, p["n"], " (stop)" if p.get("stopped_here") else "", p["ok"],
                               p["receiving"], _num(p["packets_per_s"]), p["lost"],
                               _num(p["janus_cpu_percent"]),
                               _num(p["janus_us_per_viewer_packet"], 1),
                               _num(p["janus_net_us_per_viewer_packet"], 1),
                               _num(p.get("slope_cpu_percent_per_viewer"), 3),
                               _num(p.get("janus_wakeups_per_viewer_packet"), 3),
                               _num(p.get("janus_net_wakeups_per_viewer_packet"), 3),
                               _num(p["keyframe_p50_s"], 2), _num(p["keyframe_p99_s"], 2),
                               _num(p.get("probe_first_packet_s"), 2),
                               _num(p.get("probe_keyframe_s"), 2),
                               _num((p["rss_per_viewer_bytes"] or 0) / 1e3, 1),
                               p["janus_threads"], _num(p["generator_cpu_percent"]),
                               _num(p["publisher_cpu_percent"])))
    out.append("")
    profiled = [(key, p) for key, steps in sorted(_fanout_points(fan).items())
                for p in steps.values() if p.get("profile")]
    if profiled:
        groups = [g for g, _ in PROFILE_GROUPS]
        out.append("Where Janus's CPU goes at the top step (perf for %s s right after the "
                   "measured window, `perf record -a --call-graph dwarf`, the janus process's "
                   "samples only). Each cell: samples whose innermost frame is in that code "
                   "(self) / samples with that code anywhere on the stack:\n" % "5")
        out.append("| loops / kbit/s / plugin | N | samples | " + " | ".join(groups) +
                   " | other (self) |")
        out.append("|---|---|---|" + "---|" * (len(groups) + 1))
        for (loops, bitrate, plugin), p in profiled:
            prof = p["profile"]
            cells = ["%.1f / %.1f" % (prof["self"].get(g, 0.0), prof["stack"].get(g, 0.0))
                     for g in groups]
            out.append("| %d/%d/%s | %d | %d | %s | %.1f |" % (
                loops, bitrate, plugin, p["n"], prof["samples"], " | ".join(cells),
                prof["self"].get("other", 0.0)))
        out.append("")
    return out


def _table_md(table):
    out = ["## Session table micro-benchmark (bench/table_bench)\n"]
    cfg = table["config"]
    out.append("Google Benchmark, %d repetitions randomly interleaved, >= %g s each; %s "
               "entries over a key space of %s handle addresses (values: shared_ptr, copied out "
               "by each lookup, as SessionTable::find does). Million operations per second over "
               "all threads (wall clock), median [min-max]. `sharded32`/`sharded1`: the "
               "plugin's ShardedMap (plugin/sharded_map.h) as SessionTable's by-handle index; "
               "`shared_mutex`: one std::shared_mutex over one std::unordered_map; `tbb`: "
               "tbb::concurrent_hash_map (with a mixed pointer hash). The machine has 2 cores: "
               "4 and 8 threads are oversubscribed.\n"
               % (cfg["reps"], cfg["min_time_s"], _num(cfg["keys_present"]),
                  _num(cfg["key_space"])))
    ops = table["ops_per_second"]
    threads = sorted({t for mix in ops.values() for tab in mix.values() for t in tab}, key=int)
    out.append("| mix | table | " + " | ".join("%s thr" % t for t in threads) + " |")
    out.append("|---|---|" + "---|" * len(threads))
    for mix in [m for m in ("90-5-5", "50-25-25") if m in ops] + \
            [m for m in ops if m not in ("90-5-5", "50-25-25")]:
        for tab in ("sharded32", "sharded1", "shared_mutex", "tbb"):
            if tab not in ops[mix]:
                continue
            cells = []
            for t in threads:
                s = ops[mix][tab].get(t)
                if mix == "page10":
                    cells.append(_sp(s, 1, 1e-3) + "k" if s else "-")
                else:
                    cells.append(_sp(s, 2, 1e-6) if s else "-")
            out.append("| %s | %s | %s |" % (mix, tab, " | ".join(cells)))
    if "page10" in ops:
        out.append("\n`page10`: one `list` page (10 sessions after a random cursor) from "
                   "SessionTable's by-id index (ordered shards, 16-hex-digit ids), in thousand "
                   "pages per second.")
    per_op = table.get("per_operation")
    if per_op:
        out.append("\nPer operation, one thread, under callgrind (`table_bench --fixed`, "
                   "`--cache-sim=yes`: counts, not timings, so the machine's load does not move "
                   "them):\n")
        out.append("| mix | table | instructions | L1 read misses | L1 write misses | "
                   "last-level misses |")
        out.append("|---|---|---|---|---|---|")
        for mix, tabs in per_op.items():
            for tab, d in tabs.items():
                out.append("| %s | %s | %.0f | %.2f | %.2f | %.3f |" % (
                    mix, tab, d["instructions"], d["d1_read_misses"], d["d1_write_misses"],
                    d["ll_misses"]))
    out.append("")
    return out


def _churn_md(churn):
    cfg = churn["config"]
    out = ["## Churn: media session lifecycles\n",
           "%d concurrent loops of aiortc clients, %g s per run, %d repetitions alternating "
           "plugins in one Janus (shards = 32). Lifecycle: %s. Median [min-max].\n"
           % (cfg["loops"], cfg["seconds"], cfg["reps"], cfg["lifecycle"]),
           "| plugin | lifecycles/s | lifecycle p50 ms | p99 ms | Janus CPU ms per lifecycle | "
           "client CPU ms per lifecycle | errors |",
           "|---|---|---|---|---|---|---|"]
    for plugin in (MEDIA, ECHOTEST):
        runs = churn["runs"].get(plugin) or []
        out.append("| %s | %s | %s | %s | %s | %s | %d |" % (
            plugin, _sp(spread([r["per_second"] for r in runs]), 1),
            _sp(spread([r["p50_ms"] for r in runs]), 1),
            _sp(spread([r["p99_ms"] for r in runs]), 1),
            _sp(spread([r["janus_cpu_ms_per_lifecycle"] for r in runs]), 2),
            _sp(spread([r["client_cpu_ms_per_lifecycle"] for r in runs]), 2),
            sum(r["errors"] for r in runs)))
    r = _pairwise(churn["runs"].get(MEDIA), churn["runs"].get(ECHOTEST), "per_second")
    c = _pairwise(churn["runs"].get(MEDIA), churn["runs"].get(ECHOTEST),
                  "janus_cpu_ms_per_lifecycle")
    out.append("\nmedia / echotest: lifecycles/s %s, Janus CPU per lifecycle %s. Left after the "
               "runs: %s.\n" % (_ratio_sp(r), _ratio_sp(c), ", ".join(
                   "%s %g" % kv for kv in sorted(churn.get("leftover_after", {}).items()))))
    leftover = churn.get("leftover_after") or {}
    left = leftover.get("janus_media_handles", 0)
    others = leftover.get("janus_core_handles", left) - left
    if left or others:
        total = sum(x["lifecycles"] for x in churn["runs"].get(MEDIA, []))
        out.append(LEFTOVER_NOTE % (int(left), total, int(others)) + "\n")
    return out


def _webrtc_md(web):
    cfg = web["config"]
    out = ["## WebRTC: aiortc clients with media\n",
           "Media: %s. Setup: %s. %g s of media per run, %d repetitions; N up the ladder %s "
           "while every client succeeded. Janus CPU per forwarded packet = Janus CPU time / RTP "
           "packets the clients received over that window; net of idle: minus Janus's idle "
           "CPU (%s %%, measured before the runs). Median [min-max].\n"
           % (cfg["media"], cfg["setup"], cfg["hold_s"], cfg["reps"], cfg["ladder"],
              _num(web.get("janus_idle_cpu_percent"), 1)),
           "| scenario | N | success | setup p50 ms | setup p99 ms | answer p50 ms | "
           "first media p50 ms | "
           "packets/s received | Janus CPU % | Janus CPU us per packet (net of idle) | "
           "client CPU % |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    names = {"echo_media": "echo, janus.plugin.media", "echo_echotest": "echo, echotest",
             "fanout": "1 publisher -> N viewers"}
    for scenario in ("echo_media", "echo_echotest", "fanout"):
        for n in sorted(web["runs"].get(scenario, {}), key=int):
            runs = web["runs"][scenario][n]
            ok = sum(r["ok"] for r in runs)
            total = sum(r["n"] for r in runs)
            out.append("| %s | %s | %d/%d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                names[scenario], n, ok, total,
                _sp(spread([r["setup_p50_ms"] for r in runs])),
                _sp(spread([r["setup_p99_ms"] for r in runs])),
                _sp(spread([r.get("answer_p50_ms") for r in runs]), 1),
                _sp(spread([r["first_media_p50_ms"] for r in runs])),
                _sp(spread([r["packets_received_per_s"] for r in runs])),
                _sp(spread([r["janus_cpu_percent"] for r in runs])),
                "%s (%s)" % (_sp(spread([r["janus_cpu_us_per_packet"] for r in runs]), 1),
                             _sp(spread([r.get("janus_net_cpu_us_per_packet")
                                         for r in runs]), 1)),
                _sp(spread([r["client_cpu_percent"] for r in runs]))))
    stops = dict(web.get("first_failure_n") or {})
    cpu_stop = stops.pop("client_cpu_limit", None)
    ladder_top = max((int(n) for runs in web["runs"].values() for n in runs), default=0)
    if stops:
        out.append("\nFirst N with a failed client: %s." % ", ".join(
            "%s at N=%s" % kv for kv in sorted(stops.items())))
    if cpu_stop:
        out.append("\nThe ladder stopped after N=%s: the client process used more than 90 %% of "
                   "a core (past that it measures itself)." % cpu_stop)
    if not stops and not cpu_stop:
        out.append("\nEvery client succeeded up to the top of the ladder (N=%d)." % ladder_top)
    if web["runs"].get("echo_media") and web["runs"].get("echo_echotest"):
        out.append("\nEcho, media / echotest at the same N and repetition: setup p50 %s; "
                   "answer p50 %s." % (_ratio_sp(webrtc_setup_ratio(web["runs"])),
                                       _ratio_sp(webrtc_setup_ratio(web["runs"],
                                                                    "answer_p50_ms"))))
    slow = {}
    for scenario, by_n in web["runs"].items():
        setups = [x for runs in by_n.values() for r in runs for x in r["setup_s"]]
        if setups:
            slow[scenario] = (sum(1 for x in setups if x > 0.9), len(setups))
    if any(k for k, _ in slow.values()):
        out.append("\nSetups over 0.9 s: %s. These are the client's DTLS retransmission timer "
                   "(aiortc logs `DTLS handling timeout`, then completes 1 s later): when Janus "
                   "sends the offer (`watch`) it is the ICE controlling side and the viewer is "
                   "the DTLS client, whose first ClientHello goes out as soon as its own ICE "
                   "check succeeds and, when that is before Janus has selected its pair, gets "
                   "no answer. Janus's core and aiortc, not the plugin; echo setups, where the "
                   "client offers, meet it less often." % ", ".join(
                       "%s %d of %d" % (k, v[0], v[1]) for k, v in sorted(slow.items())))
    out.append("")
    return out


def _scrape_md(scr):
    out = ["## Scrape: /metrics latency\n",
           "%d scrapes per level on fresh connections (janus.transport.prometheus, shards = 32); "
           "collect = the transport's own collect + serialise time "
           "(janus_transport_scrape_duration_seconds).\n" % scr["config"]["scrapes_per_level"],
           "| media sessions | median ms [min-max] | p10-p90 ms | collect ms | body bytes | "
           "series | open fds | threads | idle Janus CPU % |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in scr["levels"]:
        out.append("| %s | %s | %s-%s | %s | %s | %s | %s | %s | %s |" % (
            _num(r["sessions"]), _sp(r["latency_ms"], 2), _num(r["p10_ms"], 2),
            _num(r["p90_ms"], 2), _num(r["server_ms"], 2), _num(r["body_bytes"]),
            _num(r["series"]), _num(r["open_fds"]), _num(r["threads"]),
            _num(r.get("idle_cpu_percent"), 1)))
    out.append("")
    return out


def _cluster_md(clu):
    cfg = clu["config"]
    out = ["## cluster\n",
           "A redis-server and 1 + %d Janus nodes on loopback (heartbeat %d ms, node TTL %d ms); "
           "%s. Origin A's CPU with the publisher alone: %s %%; A had %s outbound relays.\n"
           % (cfg["relays"], cfg["heartbeat_ms"], cfg["node_ttl_ms"], cfg["media"],
              _num(clu["base_cpu_percent"], 1), _num(clu.get("outbound_relays"))),
           "| repetition | A with %d relays (CPU %%) | + %d local viewers (CPU %%) | per relay "
           "(%% of a core) | per local viewer | relay / local |" % (cfg["relays"],
                                                                  cfg["local_viewers"]),
           "|---|---|---|---|---|---|"]
    for k, s in enumerate(clu["cpu"]):
        out.append("| %d | %s | %s | %s | %s | %s |" % (
            k + 1, _num(s["with_relays_cpu_percent"], 1), _num(s["with_local_cpu_percent"], 1),
            _num(s["per_relay_cpu_percent"], 2), _num(s["per_local_cpu_percent"], 2),
            _num(s["ratio"], 2)))
    out.append("")
    out.append("| from `watch` (ms) | first packet p50 / p99 | first keyframe p50 / p99 | "
               "viewers |")
    out.append("|---|---|---|---|")
    names = {"local": "viewer on the origin", "remote_cold": "first viewer of another node "
             "(its watch makes the relay)", "remote_warm": "viewer joining an existing relay"}
    for key, label in names.items():
        f = clu["first"][key]
        out.append("| %s | %s / %s | %s / %s | %d |" % (
            label, _num(f["first_packet_ms"]["p50"]), _num(f["first_packet_ms"]["p99"]),
            _num(f["keyframe_ms"]["p50"]), _num(f["keyframe_ms"]["p99"]),
            f["keyframe_ms"]["n"]))
    lat = clu["added_latency_ms"]
    out.append("")
    out.append("Steady state: a video packet reaches a viewer on another node %s ms (p50) / "
               "%s ms (p99) after it reaches a viewer on the origin (%d packets matched). "
               "Packets lost (RTP sequence gaps): %s at A's viewers, %s at the others'.\n"
               % (_num(lat["p50"], 2), _num(lat["p99"], 2), lat["n"], clu["lost"]["local"],
                  clu["lost"]["remote"]))
    d = clu["directory"]

    def calls(ops):
        # Whole calls, none below 0: what is left of a fraction (or a negative) is the
        # heartbeats' discrete ticks against their mean rate (results.json keeps the values).
        return ", ".join("%s %d" % (k, round(v)) for k, v in sorted(ops.items())
                         if round(v) > 0) or "none"

    out.append("Redis commands (INFO commandstats, less the heartbeats' %s): per publish "
               "(claim and release; mean of %d, signaling only): %s; per remote watch (the "
               "first on its node, mean of %d): %s.\n"
               % (", ".join("%s %s/s" % kv for kv in sorted(d["idle_calls_per_s"].items())),
                  d["publishes"], calls(d["per_publish"]), d["remote_watches"],
                  calls(d["per_remote_watch"])))
    return out


def _soak_md(soak):
    cfg = soak["config"]
    s = soak["samples"]
    how = ("through %s, %s" % (cfg["transport"], cfg["lifecycle"]) if cfg.get("transport")
           else "the stock transports, the churn part's lifecycle")
    if cfg.get("event_loops"):
        how += "; janus.jcfg event_loops = %d" % cfg["event_loops"]
    first, last = (s[0], s[-1]) if s else ({}, {})
    out = ["## Soak\n",
           "%g minutes of churn (%d loops, janus.plugin.media, %s), a sample every %g s: %s "
           "lifecycles, %d errors. Slopes (least squares, after the first minute): RSS %s MB/h "
           "(over the second half: %s MB/h), threads %s/h, open fds %s/h. RSS %s -> %s MB, threads %s -> %s (hloop %s -> %s). "
           "Left once the clients were gone: %s.%s\n"
           % (cfg["minutes"], cfg["loops"], how, cfg["interval_s"], _num(soak["lifecycles"]),
              soak["errors"], _num(soak["rss_mb_per_hour"], 1),
              _num(soak.get("rss_mb_per_hour_second_half"), 1),
              _num(soak["threads_per_hour"], 1), _num(soak["fds_per_hour"], 1),
              _num(first.get("rss_mb"), 1), _num(last.get("rss_mb"), 1),
              first.get("threads", "-"), last.get("threads", "-"), first.get("hloop", "-"),
              last.get("hloop", "-"),
              ", ".join("%s %g" % kv for kv in sorted(soak["leftover_after"].items())),
              (" Heap in use (glibc's malloc_stats() through gdb) %s MB before the run, %s MB "
               "once the clients were gone (RSS then %s MB)."
               % (_num(soak["heap_mb_before"], 1), _num(soak["heap_mb_after"], 1),
                  _num(soak.get("rss_mb_after"), 1))) if soak.get("heap_mb_after") else "")]
    return out


LEFTOVER_NOTE = (
    "**Handles never detached: %d of janus.plugin.media** (of %d media lifecycles) **and %d "
    "of echotest** (from janus_core_handles); every detach was answered `success`. Janus "
    "1.1.2 runs a detach on the handle's own loop thread: `janus_ice_handle_destroy()` queues "
    "`janus_ice_detach_handle` (a hangup queues `janus_ice_hangup_peerconnection`) on "
    "`handle->queued_packets`; when ICE selects its first pair, "
    "`janus_ice_cb_new_selected_pair()` calls `janus_ice_clear_queued_packets()` (\"FIXME "
    "Clear the queue\"), which drops every queued item, those two included. A detach queued in "
    "that window is lost: `destroy_session()` never comes, the plugin's session, the core's "
    "handle and its loop thread stay for good (the thread sits in poll()). Any plugin meets it "
    "when the client hangs up and detaches in the milliseconds where ICE selects its pair, as "
    "these loops do. The race is in Janus's core (still in upstream master); the fix belongs "
    "in ice.c: clear only media packets there and keep the control items. A count of 0 for a "
    "plugin in a run is luck, not immunity: clients that send hangup and detach together right "
    "after the answer leave orphans of echotest too (56 of 1,784 in issue 18, and in every run "
    "of e2e.impatient with the stock transports, which these benchmarks use). "
    "janus.transport.edge holds such requests until the first pair, and "
    "docs/patches/janus-ice-keep-control-items.patch fixes ice.c (README, \"Handles Janus "
    "never frees\").")

NOTES = {
    "api-ping": (
        "**`list`/`info` vs `ping`.** Janus 1.1.2 answers `ping` on its request thread, but "
        "hands every `message` (a request for any plugin) to a GLib thread pool "
        "(`janus.c`: `janus_transport_requests()` -> `g_thread_pool_push(tasks, ...)`), then "
        "wraps the plugin's answer and serialises a bigger body (`json_dumps`, indented as "
        "Janus's HTTP transport is configured by default): one more thread hop and wake-up "
        "per request, whatever the plugin. VideoRoom's `list`, a stock plugin on the same "
        "path, reached %s of `ping` at 100 connections: that is the reference for what a "
        "plugin request can reach here, and no plugin change gets `list` or `info` to 0.95x "
        "`ping` on Janus 1.1.2; the `list` vs VideoRoom `list` targets hold us to that "
        "reference instead. Jansson (building the page, then the core's copy and "
        "serialisation of it) was on the stack of %s of the samples under `list` and %s "
        "under VideoRoom's list. %s"),
    "api-videoroom": (
        "**`list` vs VideoRoom's `list`.** Both take the same way through the core (the task "
        "pool, the reply wrapped and serialised indented); what differs is the plugin's work "
        "and the size of its reply. `list` answers a page of 10 summaries (`media_session`, "
        "`device_id`, `role`, `state`; `\"detail\": true` gives whole session objects and "
        "`info` one) from the sharded id index, in a %s reply; VideoRoom lists its rooms in a "
        "%s one. %s Before summaries, the slot-moving page merge and jansson's unchecked "
        "setters (api run of 2026-11-25 23:25 UTC), a page of 10 whole session objects ran "
        "at 0.94x, 0.82x and 0.84x of VideoRoom's `list` at 1, 10 and "
        "100 connections; callgrind (10,000 sessions) counted 140,929 instructions per request in "
        "the plugin and 242,740 to serialise the reply (2,002,189 and 2,407,035 for a page "
        "of 100)."),
    "api-shards": (
        "**shards = 32 vs 1.** `info` is one lookup in either layout. `list` pages over the "
        "ordered id index, whose shards hold consecutive ranges of ids (sessions are placed by "
        "the value of their random id, `SessionIdOrder` in plugin/session_table.h): a page "
        "reads the cursor's shard and the next ones until it is full, one std::map "
        "upper_bound and limit + 1 copies as with one shard (`page10` in the table part: %s; "
        "before this placement (api run of 2026-12-02 01:01 UTC) a page merged all 32 shards, "
        "a read lock and an upper_bound each). %s With no "
        "writer in these runs the single lock of shards = 1 is never contended, so both "
        "layouts serve `list` and `info` at the same rate within noise; sharding pays when "
        "attaches, detaches and role changes contend with reads (the table part's 2-thread "
        "figures, sharded32 against sharded1). Before the bounded merge (run of 2026-11-25 "
        "22:47 UTC) page() copied limit + 1 entries from every shard and sorted them, and "
        "`list` with 32 shards ran at 0.66-0.76x of one shard."),
    "api-rest": (
        "**The session REST API vs `ping`.** `GET /api/media/sessions?limit=10` and `GET "
        "/api/media/sessions/{id}` are served by janus.transport.prometheus's libmicrohttpd "
        "thread pool (one thread per core) straight from the plugin's table through its "
        "published view: no core request thread, no task pool, no reply wrapping; the page "
        "is the plugin's own `list` (same parser and JSON builder), serialised once, "
        "compact. `ping` is the core's cheapest request over its stock HTTP transport. %s"),
    "api-rest-churn": (
        "**REST reads with a writer, shards = 32 vs 1.** The writer's lifecycles take the "
        "table's shard locks for writing (a session added and removed, a role index entry "
        "added and removed) while the reads take them for reading: a `list` page reads the "
        "cursor's shard and, when that runs out, the next ones; `info` one. %s At about 200 "
        "lifecycles/s, each holding a write lock a handful of times for about a microsecond "
        "(an estimated 0.1 %% of the time), even one lock is seldom contended: the reads slow "
        "down in both layouts alike (compare the tables with and without the writer), from "
        "the CPU the writer takes on the two cores: its own process (a canned offer, no "
        "media), and Janus's core answering its requests and starting ICE and DTLS for each "
        "echo (the janus and pool-janus threads below). With this writer shards = 32 cannot reach 1.2x shards = 1; "
        "one fast enough to contend would need role changes without WebRTC, which the API "
        "does not have. %s"),
    "table-tbb": (
        "**ShardedMap vs tbb::concurrent_hash_map.** Per operation ShardedMap takes its "
        "shard's one-word reader-writer lock (plugin/rw_lock.h: an atomic add to enter, one "
        "to leave; a waiter spins briefly, then parks on a futex), picks the shard by a multiply-shift of the mixed hash (no "
        "division) and walks std::unordered_map's nodes (its prime modulo, bucket -> node "
        "before -> node); TBB takes a spin lock per bucket and masks a power-of-two table. The "
        "counts, which no load on the machine can move (callgrind, one thread, 90/5/5): %s. "
        "Before (run of 2026-11-25 22:48 UTC) each shard had a std::shared_mutex (pthread "
        "rwlock calls) and the shard index was `h %% count_`: 207 instructions per operation "
        "and 0.51-0.61x of TBB at 2-8 threads. The timings at 2 threads and more are as noisy "
        "as the machine (see their spread)."),
    "edge-throughput": (
        "**The edge vs the stock transports.** Both serve WebSocket with libwebsockets and "
        "hand every request to the same core; the edge adds its bounds (a token bucket, "
        "the queue and size checks, the candidate count of a trickle) before the core sees a "
        "request and its queue accounting after."),
    "edge-memory": (
        "**Idle connections.** What each WebSocket connection costs the janus process while it "
        "only stays open: libwebsockets' per-connection state (its receive buffer: 4 KiB for "
        "Janus's transport, 2 KiB for the edge's), the event loop's (libev's watchers, for the "
        "edge), and the transport's own. Heap in use is what the connections hold; RSS also "
        "counts what the allocator kept of the handshakes' freed buffers, which the next "
        "connections reuse."),
    "soak": (
        "**Soak.** Impatient clients (hangup and detach together right after the answer) "
        "through janus.transport.edge, which holds them until the handle's first selected pair "
        "(README, \"Handles Janus never frees\"); each handle Janus never freed would keep its "
        "hloop thread, its ICE agent and their memory."),
    "fanout": (
        "**Fan-out.** %s The floor is part srtp's AEAD_AES_128_GCM protect and sendmsg of a "
        "1,212-byte copy: Janus's relay path around them (a copy and a queue push per viewer in "
        "the publisher's loop, the viewer loop's wake-up, which in a shared loop checks every "
        "handle's sources, RTCP and NACK bookkeeping) is the rest, as are the per-viewer costs "
        "that do not scale with packets, which weigh more at 500 kbit/s (about 100 packets/s "
        "per viewer) than at 1,500 (200). %s"),
    "cluster": (
        "**Cluster.** A relay and a local viewer carry the same packets, so the ratio of the "
        "origin's CPU they add is the ratio per packet copy: a relay is our plugin's "
        "RtpRewriter, libsrtp2 and one sendmsg on the relay thread; a local viewer is the "
        "Janus core's relay_rtp path (a copy queued to the viewer's loop, ICE, SRTP, RTCP and "
        "NACK bookkeeping). Each repetition measures R relays, then L local viewers added "
        "next to them, over the same window length (the spread is that of single windows "
        "on a shared machine)."),
    "webrtc-setup": (
        "**WebRTC setup.** The time from the offer to webrtcup is mostly ICE and DTLS in "
        "Janus's core and in aiortc, the same for both plugins; the plugins' share is the "
        "answer to the offer."),
}


def _note(key, parts):
    text = NOTES[key]
    api = parts.get("api") or {}
    prof = api.get("profile") or {}
    if key == "api-ping":
        runs = (api.get("runs") or {}).get("32") or {}
        vr = _ratio_sp(_pairwise(runs.get("videoroom_list", {}).get("100"),
                               runs.get("ping", {}).get("100"), "rps")) if runs else "-"
        ours = "; ".join("`%s`: %.1f %%" % (n, prof[n]["stack"].get("our plugin + runtime", 0.0))
                         for n in ("list", "info") if n in prof)
        jansson = ["%.0f %%" % prof[n]["stack"]["jansson"] if n in prof and
                   "jansson" in prof[n].get("stack", {}) else "(not profiled)"
                   for n in ("list", "videoroom_list")]
        text = text % (vr, jansson[0], jansson[1],
                       "Share of the janus process's CPU samples with our plugin on the "
                       "stack at 100 connections (shards = 32): %s." % ours if ours else "")
    if key == "api-videoroom":
        sizes = (api.get("config") or {}).get("reply_bytes") or {}
        size = (lambda n: "%s-byte" % _num(sizes[n]) if sizes.get(n) else "(not measured)")
        per = ((api.get("callgrind") or {}).get("per_request") or {})
        counts = "; ".join("%s: %s in the plugin, %s to serialise" % (
            label, _num(per[label]["request_ir"]), _num(per[label]["serialise_ir"]))
            for label in ("limit 10", "limit 100") if label in per)
        text = text % (size("list"), size("videoroom_list"),
                       "Instructions per `list` now (callgrind): %s." % counts if counts
                       else "")
    if key == "api-shards":
        ops = (parts.get("table") or {}).get("ops_per_second", {}).get("page10", {})
        pages = "; ".join("%s %s pages/s" % (t, _num(ops[t]["1"]["median"]))
                          for t in ("sharded32", "sharded1") if t in ops and "1" in ops[t])
        fn = (prof.get("list") or {}).get("our_functions", {})
        page = fn.get("jmedia::SessionTable::page")
        text = text % (pages or "not measured", "Under `list` at 100 connections, "
                       "`SessionTable::page` was on the stack of %.0f %% of the janus "
                       "process's CPU samples." % page if page is not None else "")
    if key == "api-rest":
        runs = (api.get("runs") or {}).get("32") or {}
        figures = "; ".join("%s at c=100: %s req/s, p99 %s ms (ping %s req/s, p99 %s ms)" % (
            n, _sp(spread([r["rps"] for r in runs[n]["100"]])),
            _sp(spread([r["p99_ms"] for r in runs[n]["100"]]), 2),
            _sp(spread([r["rps"] for r in runs["ping"]["100"]])),
            _sp(spread([r["p99_ms"] for r in runs["ping"]["100"]]), 2))
            for n in ("rest_list", "rest_info") if n in runs and "ping" in runs)
        ours = "; ".join("`%s`: %.1f %% with our transport on the stack, %.1f %% with our "
                         "plugin" % (n, prof[n]["stack"].get("our metrics transport", 0.0),
                                     prof[n]["stack"].get("our plugin + runtime", 0.0))
                         for n in ("rest_list", "rest_info") if n in prof)
        text = text % ((figures + "." if figures else "") +
                       (" Janus's CPU samples at 100 connections: %s." % ours if ours else ""))
    if key == "api-rest-churn":
        writer = api.get("writer") or {}
        rates = "; ".join("shards = %s: %s lifecycles/s" % (
            s_, _sp(spread([w["per_second"] for w in writer.get(s_, [])]), 1))
            for s_ in ("32", "1") if writer.get(s_))
        wp = api.get("writer_profile") or {}
        waits = "; ".join(
            "shards = %s: %.2f %% of %d samples wait in a shard lock's slow path, threads %s"
            % (s_, sum(wp[s_]["watched"].values()), wp[s_]["samples"],
               ", ".join("%s %.0f %%" % kv for kv in sorted(
                   wp[s_]["threads"].items(), key=lambda kv: -kv[1])[:4]))
            for s_ in ("32", "1") if s_ in wp)
        text = text % ("The writer ran %s in these runs." % rates if rates else "",
                       ("perf of Janus under `rest_list` at c = 100 with the writer running "
                        "(RwLock::lock_slow and lock_shared_slow, plugin/rw_lock.h, are never "
                        "inlined): %s." % waits) if waits else
                       "perf of the writer runs was not taken.")
    if key == "fanout":
        fan = parts.get("fanout") or {}
        reps = (fan.get("config") or {}).get("reps", 1)
        first = ("One repetition per configuration: a single ratio has the spread of one "
                 "8-second window." if reps == 1 else
                 "%d repetitions per configuration; each target is the median of its "
                 "per-repetition figures [min-max]." % reps)
        profiled = [(k, p["profile"]) for k, steps in sorted(_fanout_points(fan).items())
                    for p in steps.values() if p.get("profile")] if fan.get("runs") else []
        where = "; ".join(
            "%s at %d kbit/s: our plugin %.1f %% (%.1f %% with what it calls, the core's "
            "relay_rtp included), SRTP %.0f %%, kernel %.0f %%, GLib %.0f %%, libc %.0f %%" % (
                plugin, bitrate, pr["self"].get("our plugin + runtime", 0.0),
                pr["stack"].get("our plugin + runtime", 0.0),
                pr["self"].get("SRTP (libsrtp2 + NSS)", 0.0), pr["self"].get("kernel", 0.0),
                pr["self"].get("glib", 0.0), pr["self"].get("libc", 0.0))
            for (loops, bitrate, plugin), pr in profiled if plugin == "media")
        text = text % (first, ("Janus's CPU samples at N=200 with shared loops (self, unless "
                               "said): %s; what exceeds 3x the floor is the core's." % where)
                       if where else "")
    if key == "table-tbb":
        per_op = (parts.get("table", {}).get("per_operation") or {}).get("90-5-5") or {}
        counts = "; ".join("%s %.0f instructions and %.2f L1 read misses" % (
            t, per_op[t]["instructions"], per_op[t]["d1_read_misses"])
            for t in ("sharded32", "shared_mutex", "tbb") if t in per_op)
        text = text % (counts or "not measured (--quick, or no valgrind)")
    return text


def markdown(results):
    run = results.get("run", {})
    m = run.get("machine", {})
    parts = results.get("parts", {})
    out = ["# Benchmark results\n"]
    out.append("Last run: %s%s, parts: %s. Machine: %s x %s (nproc %s), %s GB RAM, Linux %s; "
               "Janus %s (Debian), aiortc %s; commit %s%s. Load average %s at start, %s at "
               "end (the machine is shared with other jobs: every figure is the median of "
               "repetitions with its [min-max] spread, and targets are ratios within one run).\n"
               % (run.get("date"), " (--quick smoke: not for conclusions)" if run.get("quick")
                  else "", ", ".join(run.get("parts", [])), m.get("nproc"), m.get("cpu"),
                  m.get("nproc"), m.get("mem_gb"), m.get("kernel"), m.get("janus"),
                  m.get("aiortc"), m.get("commit"),
                  " + uncommitted changes" if m.get("dirty") else "",
                  _load(run.get("loadavg_start")), _load(run.get("loadavg_end"))))
    dates = ["%s: %s%s" % (p, d["meta"]["date"], " (quick)" if d["meta"].get("quick") else "")
             for p, d in sorted(parts.items()) if d.get("meta")]
    if dates:
        out.append("Parts measured at: " + "; ".join(dates) + ".\n")
    rows = targets(results)
    if rows:
        out.append("## Targets\n")
        out.append("| target | measured: median [min-max] over repetitions | verdict |")
        out.append("|---|---|---|")
        for r in rows:
            out.append("| %s | %s | **%s** |" % (r["target"], r["measured"], r["verdict"]))
        out.append("")
        for key in dict.fromkeys(r["note"] for r in rows):
            out.append(_note(key, parts) + "\n")
    for name, fn in (("api", _api_md), ("table", _table_md), ("churn", _churn_md),
                     ("webrtc", _webrtc_md), ("scrape", _scrape_md), ("edge", _edge_md),
                     ("srtp", _srtp_md), ("fanout", _fanout_md), ("soak", _soak_md),
                     ("cluster", _cluster_md)):
        data = parts.get(name)
        if not data:
            continue
        if data.get("error"):
            out.append("## %s\n\nFAILED: %s\n" % (name, data["error"]))
            continue
        out.extend(fn(data))
        if name not in ("edge", "srtp", "cluster"):  # the parts with a plot
            out.append("![%s](%s.png)\n" % (name, name))
    return "\n".join(out) + "\n"


def _load(v):
    return "/".join("%.1f" % x for x in v) if v else "-"


# ---------------------------------------------------------------------------
# plots
# ---------------------------------------------------------------------------
def plots(results, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"font.size": 8, "figure.dpi": 80})
    parts = results.get("parts", {})
    made = []

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(Path(out_dir) / name)
        plt.close(fig)
        made.append(name)

    def errbar(values):
        s = spread(values)
        if s["median"] is None:
            return 0, (0, 0)
        return s["median"], (s["median"] - s["min"], s["max"] - s["median"])

    api = parts.get("api")
    if api and api.get("runs"):
        conc = [str(c) for c in api["config"]["concurrency"]]
        names = _api_names(api)
        fig, axes = plt.subplots(2, len(conc), figsize=(11, 5.5))
        for col, c in enumerate(conc):
            for row, key in enumerate(("rps", "p99_ms")):
                ax = axes[row][col]
                for k, shards in enumerate(("32", "1")):
                    meds, errs = [], [[], []]
                    for name in names:
                        m, (lo, hi) = errbar([r[key] for r in api["runs"][shards][name][c]])
                        meds.append(m)
                        errs[0].append(lo)
                        errs[1].append(hi)
                    xs = [i + (k - 0.5) * 0.38 for i in range(len(names))]
                    ax.bar(xs, meds, 0.38, yerr=errs, capsize=2,
                           label="shards=%s" % shards, color=("#4c72b0", "#dd8452")[k])
                ax.set_xticks(range(len(names)))
                ax.set_xticklabels(names)
                ax.set_title("%s, %s connection%s" % ("req/s" if key == "rps" else "p99 ms", c,
                                                      "" if c == "1" else "s"))
                ax.grid(axis="y", alpha=0.3)
        axes[0][0].legend()
        save(fig, "api.png")

    table = parts.get("table")
    if table and table.get("ops_per_second"):
        ops = table["ops_per_second"]
        mixes = [m for m in ("90-5-5", "50-25-25") if m in ops]
        fig, axes = plt.subplots(1, len(mixes) + (1 if "page10" in ops else 0),
                                 figsize=(11, 3.6), squeeze=False)
        for i, mix in enumerate(mixes):
            ax = axes[0][i]
            for tab in ("sharded32", "sharded1", "shared_mutex", "tbb"):
                if tab not in ops[mix]:
                    continue
                ts = sorted(ops[mix][tab], key=int)
                med = [ops[mix][tab][t]["median"] / 1e6 for t in ts]
                lo = [(ops[mix][tab][t]["median"] - ops[mix][tab][t]["min"]) / 1e6 for t in ts]
                hi = [(ops[mix][tab][t]["max"] - ops[mix][tab][t]["median"]) / 1e6 for t in ts]
                ax.errorbar([int(t) for t in ts], med, yerr=[lo, hi], marker="o", capsize=2,
                            label=tab)
            ax.set_xscale("log", base=2)
            ax.set_xticks([1, 2, 4, 8])
            ax.set_xticklabels(["1", "2", "4", "8"])
            ax.set_xlabel("threads (2 cores)")
            ax.set_ylabel("million ops/s")
            ax.set_title("lookup/insert/erase %s" % mix.replace("-", "/"))
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
            ax.legend()
        if "page10" in ops:
            ax = axes[0][len(mixes)]
            tabs = [t for t in ("sharded32", "sharded1") if t in ops["page10"]]
            for k, t in enumerate(sorted({x for tab in tabs for x in ops["page10"][tab]},
                                         key=int)):
                vals = [ops["page10"][tab].get(t, {}).get("median", 0) / 1e3 for tab in tabs]
                ax.bar([i + (k - 0.5) * 0.38 for i in range(len(tabs))], vals, 0.38,
                       label="%s thread%s" % (t, "" if t == "1" else "s"))
            ax.set_xticks(range(len(tabs)))
            ax.set_xticklabels(tabs)
            ax.set_yscale("log")
            ax.set_ylabel("thousand pages/s (log)")
            ax.set_title("one list page of 10 (by-id index)")
            ax.legend()
        save(fig, "table.png")

    churn = parts.get("churn")
    if churn and churn.get("runs"):
        fig, axes = plt.subplots(1, 2, figsize=(8, 3))
        plugins = (MEDIA, ECHOTEST)
        for ax, key, title in ((axes[0], "per_second", "lifecycles/s"),
                               (axes[1], "janus_cpu_ms_per_lifecycle",
                                "Janus CPU ms per lifecycle")):
            vals = [errbar([r[key] for r in churn["runs"].get(p, []) if r[key] is not None])
                    for p in plugins]
            ax.bar(range(2), [v[0] for v in vals], 0.5,
                   yerr=[[v[1][0] for v in vals], [v[1][1] for v in vals]], capsize=3,
                   color=["#4c72b0", "#55a868"])
            ax.set_xticks(range(2))
            ax.set_xticklabels(plugins)
            ax.set_title(title)
            ax.grid(axis="y", alpha=0.3)
        save(fig, "churn.png")

    web = parts.get("webrtc")
    if web and web.get("runs"):
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
        for scenario, label in (("echo_media", "echo: media"), ("echo_echotest", "echo: echotest"),
                                ("fanout", "1 -> N viewers: media")):
            runs = web["runs"].get(scenario) or {}
            ns = sorted(runs, key=int)
            if not ns:
                continue
            for ax, key in ((axes[0], "setup_p50_ms"), (axes[1], "janus_cpu_us_per_packet")):
                pts = [(int(n), errbar([r[key] for r in runs[n] if r[key] is not None]))
                       for n in ns]
                ax.errorbar([p[0] for p in pts], [p[1][0] for p in pts],
                            yerr=[[p[1][1][0] for p in pts], [p[1][1][1] for p in pts]],
                            marker="o", capsize=2, label=label)
        axes[0].set_title("setup p50 ms (offer/watch -> webrtcup)")
        axes[1].set_title("Janus CPU us per forwarded packet")
        ladder = sorted({int(n) for runs in web["runs"].values() for n in runs})
        for ax in axes:
            ax.set_xscale("log", base=2)
            ax.set_xticks(ladder)
            ax.set_xticklabels([str(n) for n in ladder])
            ax.set_xlabel("N clients")
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
            ax.legend()
        save(fig, "webrtc.png")

    scr = parts.get("scrape")
    if scr and scr.get("levels"):
        fig, ax = plt.subplots(figsize=(5, 3))
        lv = scr["levels"]
        xs = [r["sessions"] for r in lv]
        ax.errorbar(xs, [r["latency_ms"]["median"] for r in lv],
                    yerr=[[r["latency_ms"]["median"] - r["p10_ms"] for r in lv],
                          [r["p90_ms"] - r["latency_ms"]["median"] for r in lv]],
                    marker="o", capsize=3, label="GET /metrics (p10-p90)")
        ax.plot(xs, [r["server_ms"] or 0 for r in lv], marker="s", label="collect + serialise")
        ax.set_xlabel("media sessions")
        ax.set_ylabel("ms")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend()
        save(fig, "scrape.png")

    soak = parts.get("soak")
    if soak and soak.get("samples"):
        s = soak["samples"]
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.plot([x["t"] / 60 for x in s], [x["rss_mb"] for x in s], color="#4c72b0")
        ax.set_xlabel("minutes")
        ax.set_ylabel("RSS MB", color="#4c72b0")
        ax2 = ax.twinx()
        ax2.plot([x["t"] / 60 for x in s], [x["threads"] for x in s], color="#dd8452")
        ax2.set_ylabel("threads", color="#dd8452")
        ax.set_title("soak: RSS %s MB/h, threads %s/h" % (_num(soak["rss_mb_per_hour"], 1),
                                                         _num(soak["threads_per_hour"], 1)))
        ax.grid(alpha=0.3)
        save(fig, "soak.png")

    fan = parts.get("fanout")
    if fan and fan.get("runs"):
        points = _fanout_points(fan)
        bitrates = sorted({b for _, b, _ in points})
        fig, axes = plt.subplots(1, len(bitrates), figsize=(11, 3.6), squeeze=False)
        styles = {"media": "-", "videoroom": "--"}
        colors = {0: "#dd8452", 2: "#4c72b0"}
        for i, bitrate in enumerate(bitrates):
            ax = axes[0][i]
            for (loops, b, plugin), steps in sorted(points.items()):
                if b != bitrate:
                    continue
                ns = sorted(n for n in steps if steps[n].get("janus_us_per_viewer_packet"))
                ax.plot(ns, [steps[n]["janus_us_per_viewer_packet"] for n in ns], marker="o",
                        linestyle=styles.get(plugin, "-"), color=colors.get(loops, "#55a868"),
                        label="%s, event_loops %d" % (plugin, loops))
            ax.set_xscale("log")
            ax.set_xlabel("viewers")
            ax.set_ylabel("Janus CPU us per viewer-packet")
            ax.set_ylim(bottom=0)
            ax.set_title("fan-out, %d kbit/s" % bitrate)
            ax.grid(alpha=0.3)
            ax.legend()
        save(fig, "fanout.png")
    return made


def write(results, out_dir):
    out_dir = Path(out_dir)
    made = []
    try:
        made = plots(results, out_dir)
    except ImportError as e:
        import sys
        sys.stderr.write("no plots (%s): install python3-matplotlib\n" % e)
    text = markdown(results)
    # Only link the plots that exist.
    lines = [line for line in text.splitlines()
             if not (line.startswith("![") and line.split("(")[-1].rstrip(")") not in made)]
    (out_dir / "results.md").write_text("\n".join(lines) + "\n")
