#!/usr/bin/python3
"""End-to-end tests of janus.plugin.media's cluster directory (issue 17, the directory
half; media through the relays is the 3-node test's): a private redis-server and two Janus
nodes, A and B, on 127.0.0.1, with a short heartbeat (200 ms) and node TTL (1 s).

  ClusterDirectoryTest 1  both nodes register: "devices" scope cluster lists both, the
                          cluster metrics say 2 nodes, Redis up and each node's inbox up
                       2  the same device published on B while A publishes: 1014
                       3  "devices" scope cluster (client and admin) lists both nodes'
                          devices with their node ids; watch on A of B's device: an offer
                          (through a relay from B)
                       4  Redis killed: local publish and watch on each node go on, and so
                          does a watch of a device relayed here already; watch of another
                          node's device not relayed here and "devices" scope cluster: 1022
                       5  Redis back (empty): the nodes register again and claim their
                          devices again, the one published during the outage included
                       6  a device published on both nodes during an outage: once Redis
                          is back, exactly one keeps it; the other's publisher gets 1014
                          and a hangup with reason "device busy"
                       7  SIGKILL of A: its claim expires within node_ttl_ms + 1 s and B
                          can then publish the device; B's view drops A, and B reports A
                          gone (node_left) within node_ttl_ms + 1 s
  ClusterConfigRefusedTest  cluster.redis set without a node_id, or with a short secret:
                          the plugin does not start (it never runs as a single node then);
                          Janus runs on without it

The directory work happens at publish, before any media: the clients here are plain HTTP
clients of the Janus API with an aiortc offer whose candidates are stripped (so that no ICE
check fails and ends a publisher during the test), not WebRTC peers. Local "publish" and
"watch" working means their answers ("publishing", a viewer "offer"); a watch of the other
node's device gets its offer once the other node accepted the relay (media across nodes is
not checked here).

Run: JMEDIA_MODULES_DIR=<build>/modules /usr/bin/python3 tests/e2e/test_cluster.py -v
"""

import asyncio
import json
import sys
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cluster_node import NODE_TTL_MS, ClusterNode, free_udp_ranges  # noqa: E402
from harness import JanusProcess, RedisProcess  # noqa: E402
from media_clients import MEDIA_PLUGIN, make_offer, plugin_data, result_of  # noqa: E402

SECRET = "cluster-test-secret-0123456789abcdef"
RELAY_PORTS = 16          # per node

DEVICE_BUSY = 1014
NO_SUCH_DEVICE = 1015
CLUSTER_UNAVAILABLE = 1022


def log(msg):
    sys.stderr.write("[cluster] %s\n" % msg)
    sys.stderr.flush()


def wait_until(cond, timeout, what, step=0.05):
    """Polls cond() until it returns a true value (returned); bounded in time and count."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / step) + 10):
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            break
        time.sleep(step)
    value = cond()
    if value:
        return value
    raise AssertionError("timed out after %.1f s waiting for %s"
                         % (timeout, what() if callable(what) else what))


def offer_without_candidates(sdp):
    lines = [line for line in sdp.split("\r\n")
             if not line.startswith("a=candidate:") and line != "a=end-of-candidates"]
    return "\r\n".join(lines)


class Node(ClusterNode):
    """ClusterNode, its requests on its one Janus session."""

    def __init__(self, name, redis, relay_ports):
        super().__init__(name, redis, SECRET, relay_ports)

    def handle(self):
        return self.http.attach(self.session, MEDIA_PLUGIN)

    def message(self, handle, body, jsep=None):
        return self.http.message(self.session, handle, body, jsep=jsep, timeout=15)

    def client_devices(self, **fields):
        body = {"request": "devices", "scope": "cluster"}
        body.update(fields)
        reply = self.message(self.handle(), body)
        assert reply.get("janus") == "success", reply
        return plugin_data(reply)

    def admin_devices(self, **fields):
        body = {"request": "devices", "scope": "cluster"}
        body.update(fields)
        reply = self.janus.admin().message_plugin(MEDIA_PLUGIN, body)
        assert reply.get("janus") == "success", reply
        return reply["response"]


class ClusterDirectoryTest(unittest.TestCase):
    redis = None
    a = None
    b = None
    offer = None

    @classmethod
    def setUpClass(cls):
        sdp = asyncio.run(asyncio.wait_for(make_offer(("audio", "video")), 30))
        cls.offer = {"type": "offer", "sdp": offer_without_candidates(sdp)}
        cls.redis = RedisProcess().start()
        try:
            ranges = free_udp_ranges(2, RELAY_PORTS)
            cls.a = Node("node-a", cls.redis, ranges[0]).start()
            cls.b = Node("node-b", cls.redis, ranges[1]).start()
        except BaseException:
            cls.tearDownClass()
            raise
        log("redis %s, A %s, B %s" % (cls.redis.address, cls.a.janus.http_url,
                                      cls.b.janus.http_url))

    @classmethod
    def tearDownClass(cls):
        for node in (cls.a, cls.b):
            if node is not None and node.janus.proc is not None:
                node.janus.stop(10)
                node.janus.cleanup()
        if cls.redis is not None:
            cls.redis.kill()

    def setUp(self):
        for node in (self.a, self.b):
            if node.janus.alive():
                node.keepalive()

    def run(self, result=None):
        failures = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > failures:
            for node in (self.a, self.b):
                if node is not None:
                    sys.stderr.write("\n--- janus %s log tail ---\n%s\n"
                                     % (node.name, node.janus.log_tail(40)))
        return out

    # -- helpers --------------------------------------------------------------
    def publish(self, node, device_id, handle=None):
        handle = handle or node.handle()
        reply = node.message(handle, {"request": "publish", "device_id": device_id},
                             jsep=self.offer)
        return handle, reply

    def assert_publishing(self, node, device_id):
        handle, reply = self.publish(node, device_id)
        self.assertEqual(result_of(reply), "publishing", "%s: %r" % (node.name, reply))
        return handle

    def assert_error(self, reply, code, what):
        data = plugin_data(reply)
        self.assertEqual(data.get("error_code"), code, "%s: %r" % (what, reply))
        self.assertTrue(data.get("error"), what)
        return data

    def watch(self, node, device_id):
        return node.message(node.handle(), {"request": "watch", "device_id": device_id})

    def cluster_listing(self, node):
        """{device_id: node_id} and the node ids of node's "devices" scope cluster, or None
        when it answers an error."""
        data = node.client_devices(limit=100)
        if "error_code" in data:
            return None
        return ({d["device_id"]: d["node_id"] for d in data["devices"]},
                sorted(n["node_id"] for n in data["nodes"]))

    def wait_redis_down(self):
        for node in (self.a, self.b):
            wait_until(lambda n=node: n.metric("janus_media_cluster_redis_up") == 0, 10,
                       "%s to see Redis down" % node.name)

    # -- tests ------------------------------------------------------------------
    def test_1_both_nodes_register(self):
        for node in (self.a, self.b):
            wait_until(lambda n=node: (self.cluster_listing(n) or ({}, []))[1] ==
                       ["node-a", "node-b"], 10, "%s to list both nodes" % node.name)
            self.assertEqual(node.metric("janus_media_cluster_nodes"), 2)
            self.assertEqual(node.metric("janus_media_cluster_redis_up"), 1)
            self.assertIsNotNone(node.metric("janus_media_cluster_directory_errors_total"))
            # Each node listens on its inbox (its own subscriber connection).
            wait_until(lambda n=node: n.metric("janus_media_cluster_inbox_up") == 1, 10,
                       "%s to subscribe to its inbox" % node.name)
        data = self.a.client_devices()
        self.assertEqual(data["node_id"], "node-a")
        self.assertEqual(data["scope"], "cluster")

    def test_2_same_device_on_b_while_a_publishes_gets_1014(self):
        self.assert_publishing(self.a, "cam-1")
        _, reply = self.publish(self.b, "cam-1")
        data = self.assert_error(reply, DEVICE_BUSY, "publish cam-1 on B")
        self.assertIn("node-a", data["error"])
        # B holds no trace of it: its local listing has no cam-1.
        local = plugin_data(self.b.message(self.b.handle(), {"request": "devices"}))
        self.assertEqual(local.get("devices"), [], repr(local))

    def test_3_cluster_devices_list_both_nodes_with_node_ids(self):
        self.assert_publishing(self.b, "cam-2")
        expected = {"cam-1": "node-a", "cam-2": "node-b"}
        for node in (self.a, self.b):
            wait_until(lambda n=node: (self.cluster_listing(n) or ({}, []))[0] == expected, 10,
                       lambda n=node: "%s to list %r, got %r" % (n.name, expected,
                                                                 self.cluster_listing(n)))
        admin = self.a.admin_devices()
        self.assertEqual([(d["device_id"], d["node_id"], d["publishing"])
                          for d in admin["devices"]],
                         [("cam-1", "node-a", True), ("cam-2", "node-b", True)])
        # The same through the REST API of the metrics listener.
        with urllib.request.urlopen(self.b.janus.metrics_url +
                                    "/api/media/devices?scope=cluster", timeout=5) as r:
            rest = json.loads(r.read().decode())
        self.assertEqual(rest.get("scope"), "cluster", repr(rest))
        self.assertEqual([(d["device_id"], d["node_id"]) for d in rest["devices"]],
                         [("cam-1", "node-a"), ("cam-2", "node-b")])
        # Paged as the local listing: limit and next_cursor.
        first = self.b.client_devices(limit=1)
        self.assertEqual([d["device_id"] for d in first["devices"]], ["cam-1"])
        self.assertEqual(first["next_cursor"], "cam-1")
        rest = self.b.client_devices(limit=1, cursor="cam-1")
        self.assertEqual([d["device_id"] for d in rest["devices"]], ["cam-2"])
        self.assertIsNone(rest["next_cursor"])
        # A device of another node is watched here through a relay from it: an offer.
        self.assertEqual(result_of(self.watch(self.a, "cam-2")), "offer")
        self.assert_error(self.watch(self.a, "cam-none"), NO_SUCH_DEVICE, "watch cam-none")
        self.assertEqual(result_of(self.watch(self.a, "cam-1")), "offer")

    def test_4_redis_down_local_devices_go_on(self):
        self.redis.kill()
        self.wait_redis_down()
        for node in (self.a, self.b):
            self.assert_error(node.message(node.handle(), {"request": "devices",
                                                           "scope": "cluster"}),
                              CLUSTER_UNAVAILABLE, "%s devices scope cluster" % node.name)
            response = node.admin_devices()
            self.assertEqual(response.get("error_code"), CLUSTER_UNAVAILABLE, repr(response))
            # REST: 503 (retry later), the plugin's error in the body.
            with self.assertRaises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(node.janus.metrics_url +
                                       "/api/media/devices?scope=cluster", timeout=5)
            self.assertEqual(refused.exception.code, 503)
            self.assertEqual(json.loads(refused.exception.read().decode()).get("error_code"),
                             CLUSTER_UNAVAILABLE)
            self.assertEqual(node.metric("janus_media_cluster_nodes"), 0)
        # Local publish and watch on each node.
        self.assert_publishing(self.a, "cam-3")
        self.assertEqual(result_of(self.watch(self.a, "cam-3")), "offer")
        self.assertEqual(result_of(self.watch(self.a, "cam-1")), "offer")
        self.assertEqual(result_of(self.watch(self.b, "cam-2")), "offer")
        # A device not published here and not relayed here yet cannot be looked for: 1022.
        self.assert_error(self.watch(self.b, "cam-1"), CLUSTER_UNAVAILABLE, "watch cam-1 on B")
        # One relayed here already (test 3's viewer of cam-2 on A) goes on without Redis: a
        # relay needs none, so a new viewer joins it.
        self.assertEqual(result_of(self.watch(self.a, "cam-2")), "offer")

    def test_5_redis_back_nodes_register_again(self):
        self.redis.start()  # empty: no persistence
        expected = {"cam-1": "node-a", "cam-2": "node-b", "cam-3": "node-a"}
        for node in (self.a, self.b):
            wait_until(lambda n=node: self.cluster_listing(n) ==
                       (expected, ["node-a", "node-b"]), 15,
                       lambda n=node: "%s to list %r again, got %r"
                       % (n.name, expected, self.cluster_listing(n)))
            self.assertEqual(node.metric("janus_media_cluster_redis_up"), 1)
            self.assertGreater(node.metric("janus_media_cluster_directory_errors_total"), 0)
        # The claims are back too: cam-3 (published during the outage) is A's cluster-wide.
        _, reply = self.publish(self.b, "cam-3")
        self.assert_error(reply, DEVICE_BUSY, "publish cam-3 on B")
        # And the directory finds cam-1 on A again for a watch on B (through a relay).
        self.assertEqual(result_of(self.watch(self.b, "cam-1")), "offer")

    def test_6_a_device_published_on_both_during_an_outage_keeps_one(self):
        self.redis.kill()
        self.wait_redis_down()
        handles = {node.name: self.assert_publishing(node, "cam-9") for node in (self.a, self.b)}
        self.redis.start()
        # Which node keeps it: the one the directory lists it on, once it lists it on one.
        # (Sync requests only here: a long poll given up early would lose the events Janus
        # writes to it.)

        def holder():
            found = [node for node in (self.a, self.b)
                     if (self.cluster_listing(node) or ({}, []))[0].get("cam-9") == node.name]
            return found[0] if len(found) == 1 and found[0] is not None else None

        keeper = wait_until(holder, 15, "the directory to list cam-9 on one node")
        lost = self.b if keeper is self.a else self.a
        log("cam-9: %s keeps it, %s's publisher is to be ended" % (keeper.name, lost.name))
        handle = handles[lost.name]
        hangup = lost.http.wait_event(
            lost.session, lambda ev: ev.get("sender") == handle and
            plugin_data(ev).get("result") == "hangup", timeout=10)
        self.assertEqual(plugin_data(hangup)["reason"], "device busy", repr(hangup))
        self.assertEqual(plugin_data(hangup)["role"], "publisher")
        errors = [plugin_data(ev) for ev in lost.http.pending_events[lost.session]
                  if ev.get("sender") == handle and
                  plugin_data(ev).get("error_code") == DEVICE_BUSY]
        self.assertEqual(len(errors), 1, repr(lost.http.pending_events[lost.session]))
        self.assertIn(keeper.name, errors[0]["error"])
        local = plugin_data(lost.message(lost.handle(), {"request": "devices"}))
        self.assertNotIn("cam-9", [d["device_id"] for d in local["devices"]])
        # The keeper's publisher is still there, still a publisher, and the directory's view
        # on both nodes agrees.
        local = plugin_data(keeper.message(keeper.handle(), {"request": "devices"}))
        self.assertIn({"device_id": "cam-9", "publishing": True, "viewers": 0},
                      local["devices"])
        listed = plugin_data(keeper.message(keeper.handle(), {"request": "list",
                                                              "device_id": "cam-9"}))
        self.assertEqual([s["role"] for s in listed["sessions"]], ["publisher"], repr(listed))
        wait_until(lambda: (self.cluster_listing(lost) or ({}, []))[0].get("cam-9") ==
                   keeper.name, 10, "%s to list cam-9 on %s" % (lost.name, keeper.name))

    def test_7_sigkill_of_a_frees_its_devices_within_the_ttl(self):
        # cam-1 is A's; B is refused until A's claim expires.
        wait_until(lambda: (self.cluster_listing(self.b) or ({}, []))[0].get("cam-1") ==
                   "node-a", 10, "B to list cam-1 on A")
        self.a.janus.send_signal(9)
        killed = time.monotonic()
        self.a.janus.stop(10)

        def published_on_b():
            handle, reply = self.publish(self.b, "cam-1")
            if result_of(reply) == "publishing":
                return time.monotonic()
            self.assert_error(reply, DEVICE_BUSY, "publish cam-1 on B before A's claim expired")
            return None

        at = wait_until(published_on_b, NODE_TTL_MS / 1000 + 5, "B to publish cam-1",
                        step=0.1)
        took = at - killed
        # B's directory reports A gone (the plugin's DirectoryListener::node_left) within the
        # TTL and a heartbeat of A's last refresh.
        gone = wait_until(lambda: "cluster: node 'node-a' is gone from the directory" in
                          self.b.janus.log_text() and time.monotonic(),
                          NODE_TTL_MS / 1000 + 5, "B to report node-a gone", step=0.05)
        log("B reported node-a gone at most %.2f s after its SIGKILL" % (gone - killed))
        self.assertLessEqual(gone - killed, NODE_TTL_MS / 1000 + 1.0)
        log("cam-1 published on B %.2f s after A's SIGKILL (node_ttl_ms %d)"
            % (took, NODE_TTL_MS))
        self.assertLessEqual(took, NODE_TTL_MS / 1000 + 1.0)
        # The view is the last heartbeat's: polled.
        def only_b():
            devices, nodes = self.cluster_listing(self.b) or ({}, [])
            return nodes == ["node-b"] and devices.get("cam-1") == "node-b" and \
                set(devices.values()) == {"node-b"}

        wait_until(only_b, 5,
                   lambda: "B's view to drop node-a and list cam-1 on B, got %r"
                   % (self.cluster_listing(self.b),))
        self.assertEqual(self.b.metric("janus_media_cluster_nodes"), 1)


class ClusterConfigRefusedTest(unittest.TestCase):
    def check_refused(self, cluster, why):
        janus = JanusProcess(plugin_cluster=cluster)
        janus.start()
        try:
            plugins = janus.http().info().get("plugins", {})
            self.assertNotIn(MEDIA_PLUGIN, plugins, "the plugin started: %r" % sorted(plugins))
            self.assertIn("janus.plugin.echotest", plugins)  # Janus itself runs on
            log_text = janus.log_text()
            self.assertIn("a node with cluster.redis never runs alone", log_text)
            self.assertIn(why, log_text)
        finally:
            janus.stop(10)
            janus.cleanup()

    def test_no_node_id(self):
        self.check_refused({"redis": "127.0.0.1:1", "secret": SECRET},
                           "cluster.node_id is not set")

    def test_short_secret(self):
        self.check_refused({"redis": "127.0.0.1:1", "node_id": "node-x", "secret": "short"},
                           "cluster.secret has 5 bytes; at least 32 are needed")


if __name__ == "__main__":
    unittest.main()
