"""A Janus node of a test cluster (e2e.cluster, e2e.cluster_relay): Debian's janus with the
plugin's cluster settings, relay ports from free_udp_ranges(), one Janus API session over
HTTP, and its Prometheus series. The tests' own Node classes add how they send requests."""

import random
import re
import socket
import urllib.request

from harness import LOOPBACK, JanusProcess, require_media_plugin

HEARTBEAT_MS = 200
NODE_TTL_MS = 1000

_METRIC_LINE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


def free_udp_ranges(count, size, low=20000, high=32000):
    """count disjoint ranges of size UDP ports on 127.0.0.1, each free a moment ago (held
    together while choosing, so that they are disjoint), below the ephemeral ports the
    clients' and Janus's ICE sockets get."""
    held, ranges = [], []
    try:
        for _ in range(2000):
            if len(ranges) == count:
                return ranges
            base = random.randrange(low, high - size)
            if any(base < hi + 1 and base + size - 1 >= lo for lo, hi in ranges):
                continue
            socks = []
            try:
                for port in range(base, base + size):
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    socks.append(s)
                    s.bind((LOOPBACK, port))
            except OSError:
                for s in socks:
                    s.close()
                continue
            held.extend(socks)
            ranges.append((base, base + size - 1))
        raise AssertionError("no %d free UDP ranges of %d ports" % (count, size))
    finally:
        for s in held:
            s.close()


class ClusterNode:
    """One Janus node of the cluster and an HTTP client of its Janus API (one session)."""

    def __init__(self, name, redis, secret, relay_ports, **settings):
        """relay_ports: (first, last), e.g. one of free_udp_ranges(); settings: more
        cluster.* settings of the plugin."""
        cluster = {"redis": redis.address, "node_id": name, "secret": secret,
                   "heartbeat_ms": HEARTBEAT_MS, "node_ttl_ms": NODE_TTL_MS,
                   "advertise_host": LOOPBACK, "relay_ports": "%d-%d" % relay_ports}
        cluster.update(settings)
        self.name = name
        self.relay_ports = relay_ports
        self.janus = JanusProcess(plugin_cluster=cluster)
        self.http = None
        self.session = None

    def start(self):
        self.janus.start()
        require_media_plugin(self.janus)
        self.http = self.janus.http()
        self.http.timeout = 15
        self.session = self.http.create()
        return self

    def keepalive(self):
        self.http.keepalive(self.session)

    def metrics(self):
        """[(name, {label: value}, value)] of its Prometheus transport's /metrics."""
        with urllib.request.urlopen(self.janus.metrics_url + "/metrics", timeout=5) as r:
            text = r.read().decode()
        out = []
        for line in text.splitlines():
            match = _METRIC_LINE.match(line)
            if match and not line.startswith("#"):
                out.append((match.group(1), dict(_LABEL.findall(match.group(2) or "")),
                            float(match.group(3))))
        return out

    def metric(self, name, **labels):
        """The value of the series name{labels...} (other labels ignored), or None."""
        for metric, have, value in self.metrics():
            if metric == name and all(have.get(k) == v for k, v in labels.items()):
                return value
        return None
