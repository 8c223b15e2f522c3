// MediaPlugin with a cluster section, on a fake core, against a real redis-server on a free
// loopback port (tests/cluster/redis_server.h). The other node is a bare directory client.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "../../cluster/directory.h"
#include "../../cluster/directory_keys.h"
#include "../../cluster/node_channel.h"
#include "../cluster/redis_server.h"
#include "eventually.h"
#include "plugin_test_support.h"

namespace jmedia::testing {
namespace {

using std::chrono::milliseconds;

// The other node: publishes what the test says.
class OtherNode final : public cluster::DirectoryListener {
 public:
  cluster::NodeLoad load() override { return {}; }
  std::vector<cluster::PublishedDevice> published() override { return {{"cam-b", 0}}; }
  bool publishes(const std::string& device_id) override { return device_id == "cam-b"; }
  void device_lost(const std::string&, const std::string&) override {}
};

class ClusterPluginTest : public PluginTest {
 protected:
  void SetUp() override {
    PluginConfig config;
    config.cluster.enabled = true;
    config.cluster.redis = cluster::Endpoint{"127.0.0.1", redis.port()};
    config.cluster.node_id = "node-a";
    config.cluster.secret = std::string(32, 's');
    config.cluster.heartbeat_ms = 100;
    config.cluster.node_ttl_ms = 500;
    plugin = std::make_unique<MediaPlugin>(host, sdp, config);
    cluster::DirectoryOptions options;
    options.redis = config.cluster.redis;
    options.node_id = "node-b";
    options.heartbeat = milliseconds(100);
    options.node_ttl = milliseconds(500);
    other = std::make_unique<cluster::Directory>(options, other_owner);
    ASSERT_TRUE(eventually([&] {
      return plugin->directory()->redis_up() && other->redis_up() &&
             plugin->directory()->live_nodes() == 2;
    }));
    ASSERT_EQ(other->claim("cam-b").result, cluster::Directory::ClaimResult::kClaimed);
  }
  void TearDown() override {
    other.reset();
    plugin.reset();
  }

  std::string cluster_devices(janus_plugin_session* handle) {
    return dump(sync(handle, R"({"request":"devices","scope":"cluster"})").get());
  }

  cluster::testing::RedisServer redis;
  OtherNode other_owner;
  std::unique_ptr<cluster::Directory> other;
};

TEST_F(ClusterPluginTest, ADeviceOfAnotherNodeIsBusyHere) {
  janus_plugin_session* h = attach();
  auto busy = request(h, R"({"request":"publish","device_id":"cam-b"})", jsep("offer"));
  EXPECT_EQ(code(busy.event), numeric(ErrorCode::kDeviceBusy)) << busy.event;
  EXPECT_NE(str(busy.event, "error").find("node-b"), std::string::npos) << busy.event;
  // Watchable through a relay, which this node cannot receive without an advertise_host.
  auto remote = request(h, R"({"request":"watch","device_id":"cam-b"})");
  EXPECT_EQ(code(remote.event), numeric(ErrorCode::kClusterUnavailable)) << remote.event;
  EXPECT_NE(str(remote.event, "error").find("advertise_host"), std::string::npos) << remote.event;
  auto none = request(h, R"({"request":"watch","device_id":"cam-none"})");
  EXPECT_EQ(code(none.event), numeric(ErrorCode::kNoSuchDevice)) << none.event;
  EXPECT_EQ(plugin->sessions().active(), 0u);
  detach(h);
}

TEST_F(ClusterPluginTest, PublishClaimsAndUnpublishReleases) {
  janus_plugin_session* h = attach();
  auto e = request(h, R"({"request":"publish","device_id":"cam-a"})", jsep("offer"));
  EXPECT_EQ(str(e.event, "result"), "publishing");
  EXPECT_EQ(redis.query({"GET", cluster::device_key("cam-a")}), "node-a");
  EXPECT_EQ(other->claim("cam-a").result, cluster::Directory::ClaimResult::kTaken);
  janus_plugin_session* lister = attach();
  EXPECT_TRUE(eventually([&] {
    const std::string listed = cluster_devices(lister);
    return listed.find(R"({"device_id":"cam-a","node_id":"node-a")") != std::string::npos &&
           listed.find(R"({"device_id":"cam-b","node_id":"node-b")") != std::string::npos;
  })) << cluster_devices(lister);
  detach(h);  // the role ends: the claim goes
  EXPECT_TRUE(eventually([&] {
    return redis.query({"GET", cluster::device_key("cam-a")}) == "(nil)";
  }));
  detach(lister);
}

TEST_F(ClusterPluginTest, RedisDownLocalDevicesGoOnAndTheClusterIsUnavailable) {
  janus_plugin_session* pub = attach();
  janus_plugin_session* viewer = attach();
  janus_plugin_session* remote = attach();
  other.reset();
  redis.stop();
  ASSERT_TRUE(eventually([&] { return !plugin->directory()->redis_up(); }));
  auto e = request(pub, R"({"request":"publish","device_id":"cam-a"})", jsep("offer"));
  EXPECT_EQ(str(e.event, "result"), "publishing") << e.event;
  auto watched = request(viewer, R"({"request":"watch","device_id":"cam-a"})");
  EXPECT_EQ(str(watched.event, "result"), "offer") << watched.event;
  auto away = request(remote, R"({"request":"watch","device_id":"cam-b"})");
  EXPECT_EQ(code(away.event), numeric(ErrorCode::kClusterUnavailable)) << away.event;
  EXPECT_EQ(code(cluster_devices(remote)), numeric(ErrorCode::kClusterUnavailable));
  EXPECT_EQ(code(dump(admin(R"({"request":"devices","scope":"cluster"})").get())),
            numeric(ErrorCode::kClusterUnavailable));
  // Back (empty): the device published meanwhile is claimed for this node.
  redis.start();
  EXPECT_TRUE(eventually([&] {
    return redis.query({"GET", cluster::device_key("cam-a")}) == "node-a";
  }));
  detach(pub);
  detach(viewer);
  detach(remote);
}

TEST_F(ClusterPluginTest, APublisherWhoseDeviceAnotherNodeHoldsIsEnded) {
  janus_plugin_session* h = attach();
  auto e = request(h, R"({"request":"publish","device_id":"cam-a"})", jsep("offer"));
  ASSERT_EQ(str(e.event, "result"), "publishing");
  // As after an outage in which node-b claimed it first.
  ASSERT_EQ(redis.query({"SET", cluster::device_key("cam-a"), "node-b", "PX", "5000"}), "OK");
  ASSERT_TRUE(eventually([&] { return plugin->sessions().active() == 0; }));
  bool told = false;
  bool hung_up = false;
  for (const auto& pushed : host.events()) {
    if (pushed.handle != h) continue;
    if (code(pushed.event) == numeric(ErrorCode::kDeviceBusy) &&
        str(pushed.event, "error").find("node-b") != std::string::npos) {
      told = true;
    }
    if (str(pushed.event, "result") == "hangup") {
      EXPECT_TRUE(told) << "1014 comes first";
      EXPECT_EQ(str(pushed.event, "reason"), "device busy") << pushed.event;
      hung_up = true;
    }
  }
  EXPECT_TRUE(told && hung_up);
  EXPECT_EQ(host.closed_pcs.load(), 1);
  EXPECT_EQ(plugin->devices().size(), 0u);
  // Its claim was not this node's to release: node-b keeps it.
  EXPECT_EQ(redis.query({"GET", cluster::device_key("cam-a")}), "node-b");
  detach(h);
}

TEST_F(ClusterPluginTest, TheClusterMetricsFollowTheDirectory) {
  const auto values = flatten(plugin->metrics()->Collect());
  EXPECT_EQ(values.at("janus_media_cluster_nodes"), 2);
  EXPECT_EQ(values.at("janus_media_cluster_redis_up"), 1);
  EXPECT_EQ(values.count("janus_media_cluster_directory_errors_total"), 1u);
}

// A node the test plays: publishes nothing, drops its messages.
class IdleNode final : public cluster::DirectoryListener, public cluster::NodeChannelListener {
 public:
  cluster::NodeLoad load() override { return {}; }
  std::vector<cluster::PublishedDevice> published() override { return {}; }
  bool publishes(const std::string&) override { return false; }
  void device_lost(const std::string&, const std::string&) override {}
  void received(const cluster::NodeMessage&) override {}
  void relay_unanswered(const cluster::NodeMessage&) override {}
};

TEST_F(ClusterPluginTest, ThePluginsInboxCountsWhatOtherNodesSendIt) {
  // node-c, with the cluster's secret, sends to the plugin (node-a); then someone without it.
  cluster::DirectoryOptions options;
  options.redis = cluster::Endpoint{"127.0.0.1", redis.port()};
  options.node_id = "node-c";
  options.heartbeat = milliseconds(100);
  options.node_ttl = milliseconds(500);
  options.secret = std::string(32, 's');
  IdleNode idle;
  cluster::Directory c(options, idle, &idle);
  auto value = [&](const std::string& series) {
    const auto values = flatten(plugin->metrics()->Collect());
    const auto found = values.find(series);
    return found == values.end() ? -1.0 : found->second;
  };
  ASSERT_TRUE(eventually([&] {
    return c.redis_up() && value("janus_media_cluster_inbox_up") == 1;
  })) << value("janus_media_cluster_inbox_up");
  cluster::NodeMessage left;
  left.type = cluster::MessageType::kPublisherLeft;
  left.device_id = "cam-b";
  ASSERT_TRUE(c.channel()->send("node-a", left));
  cluster::NodeMessage forged = left;
  forged.from_node = "node-c";
  ASSERT_EQ(redis.query({"PUBLISH", cluster::node_inbox_channel("node-a"),
                         cluster::encode_message(forged, "not-the-cluster-secret-0123456789")}),
            "1");
  ASSERT_TRUE(eventually([&] {
    return value("janus_media_cluster_messages_total{type=publisher_left,direction=received}") ==
               1 &&
           value("janus_media_cluster_messages_dropped_total{reason=bad_signature}") == 1;
  })) << value("janus_media_cluster_messages_total{type=publisher_left,direction=received}");
  EXPECT_EQ(value("janus_media_cluster_messages_total{type=relay_request,direction=sent}"), 0);
  EXPECT_EQ(value("janus_media_cluster_messages_dropped_total{reason=malformed}"), 0);
}

TEST(ClusterPluginSingleNodeTest, ScopeClusterOnASingleNodeIs1022) {
  FakeHost host;
  FakeSdp sdp;
  MediaPlugin plugin(host, sdp, PluginConfig{});
  janus_plugin_session* h = host.new_handle();
  int error = 1;
  plugin.create_session(h, &error);
  Reply reply =
      plugin.handle_message(h, "t", parse(R"({"request":"devices","scope":"cluster"})"), nullptr);
  EXPECT_EQ(code(dump(reply.body.get())), numeric(ErrorCode::kClusterUnavailable));
  reply = plugin.handle_message(h, "t", parse(R"({"request":"devices","scope":"local"})"), nullptr);
  EXPECT_EQ(dump(reply.body.get()), R"({"media":"devices","devices":[],"next_cursor":null})");
  const auto values = flatten(plugin.metrics()->Collect());
  EXPECT_EQ(values.count("janus_media_cluster_redis_up"), 0u) << "no cluster series alone";
  plugin.destroy_session(h, &error);
}

}  // namespace
}  // namespace jmedia::testing
