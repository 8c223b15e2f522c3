// Two MediaPlugins in one process, each on its fake core, against one redis-server: a
// publisher on node-a, viewers on node-b, the relay between them made by the plugins
// themselves (the origin side, relay_origin.cpp, and the viewers' side, remote_devices.cpp).
#include <gtest/gtest.h>

#include <array>
#include <chrono>

#include "../cluster/redis_server.h"
#include "eventually.h"
#include "plugin_test_support.h"

namespace jmedia::testing {
namespace {

using std::chrono::milliseconds;

PluginConfig node_config(const std::string& node_id, int redis_port) {
  PluginConfig config;
  config.cluster.enabled = true;
  config.cluster.redis = cluster::Endpoint{"127.0.0.1", redis_port};
  config.cluster.node_id = node_id;
  config.cluster.secret = std::string(32, 's');
  config.cluster.advertise_host = "127.0.0.1";
  config.cluster.heartbeat_ms = 100;
  config.cluster.node_ttl_ms = 3000;
  config.cluster.relay_linger_s = 1;
  return config;
}

// The viewers' node is the fixture's plugin (host, sdp); the origin is origin_plugin.
class TwoNodesTest : public PluginTest {
 protected:
  void SetUp() override {
    origin_plugin =
        std::make_unique<MediaPlugin>(origin_host, origin_sdp, node_config("node-a", redis.port()));
    plugin = std::make_unique<MediaPlugin>(host, sdp, node_config("node-b", redis.port()));
    ASSERT_TRUE(eventually([&] {
      return plugin->directory()->live_nodes() == 2 &&
             origin_plugin->directory()->live_nodes() == 2 &&
             plugin->directory()->channel()->subscribed() &&
             origin_plugin->directory()->channel()->subscribed();
    }));
    publisher = origin_host.new_handle();
    int error = 1;
    origin_plugin->create_session(publisher, &error);
    ASSERT_EQ(error, 0);
    Reply reply = origin_plugin->handle_message(
        publisher, "pub", parse(R"({"request":"publish","device_id":"cam-1"})"), jsep("offer"));
    ASSERT_EQ(reply.kind, Reply::Kind::kAsync);
    ASSERT_TRUE(eventually([&] {
      for (const auto& e : origin_host.events()) {
        if (e.transaction == "pub") return str(e.event, "result") == "publishing";
      }
      return false;
    }));
    origin_plugin->setup_media(publisher);
  }
  void TearDown() override {
    plugin.reset();
    origin_plugin.reset();
  }
  void publisher_sends(int pt, bool video, std::uint16_t number) {
    std::array<char, 40> bytes{};
    bytes[0] = static_cast<char>(0x80);
    bytes[1] = static_cast<char>(pt);
    bytes[2] = static_cast<char>(number >> 8);
    bytes[3] = static_cast<char>(number);
    bytes[11] = video ? 2 : 1;  // the publisher's SSRCs
    janus_plugin_rtp packet{};
    packet.mindex = video ? 1 : 0;
    packet.video = video ? TRUE : FALSE;
    packet.buffer = bytes.data();
    packet.length = bytes.size();
    origin_plugin->incoming_rtp(publisher, &packet);
  }
  janus_plugin_session* watching() {
    janus_plugin_session* h = attach();
    auto offer = request(h, R"({"request":"watch","device_id":"cam-1"})");
    EXPECT_EQ(str(offer.event, "result"), "offer") << offer.event;
    auto started = request(h, R"({"request":"start"})", jsep("answer"));
    EXPECT_EQ(str(started.event, "result"), "watching") << started.event;
    plugin->setup_media(h);
    return h;
  }
  bool media_reaches(janus_plugin_session* h) {
    return eventually([&] {
      ++seq;
      publisher_sends(111, false, seq);
      publisher_sends(96, true, seq);
      bool audio = false;
      bool video = false;
      for (const auto& r : host.relayed_to(h)) (r.video ? video : audio) = true;
      return audio && video;
    });
  }
  double metric(MediaPlugin& p, const std::string& series) {
    const auto values = flatten(p.metrics()->Collect());
    const auto found = values.find(series);
    return found == values.end() ? -1 : found->second;
  }

  cluster::testing::RedisServer redis;
  FakeHost origin_host;
  FakeSdp origin_sdp;
  std::unique_ptr<MediaPlugin> origin_plugin;
  janus_plugin_session* publisher = nullptr;
  std::uint16_t seq = 0;
};

TEST_F(TwoNodesTest, ViewersOnAnotherNodeGetThePublishersMediaThroughOneRelay) {
  janus_plugin_session* first = watching();
  ASSERT_TRUE(media_reaches(first));
  janus_plugin_session* second = watching();
  ASSERT_TRUE(media_reaches(second));
  EXPECT_EQ(metric(*origin_plugin, "janus_media_relays{direction=out}"), 1);
  EXPECT_EQ(metric(*plugin, "janus_media_relays{direction=in}"), 1);
  EXPECT_GT(metric(*plugin, "janus_media_relay_packets_total{direction=in}"), 0);
  // A keyframe asked for on node-b becomes a PLI on the publisher's handle on node-a. Asked
  // again until one arrives, as a decoder does: both ends hold PLIs back (500 ms on the
  // relay, 100 ms at the publisher), and the viewers' setup_media asked just now.
  const int plis = origin_host.plis.load();
  const auto asked = std::chrono::steady_clock::now();
  EXPECT_TRUE(eventually([&] {
    request(first, R"({"request":"configure","keyframe":true})");
    return origin_host.plis.load() > plis;
  }));
  EXPECT_LT(std::chrono::steady_clock::now() - asked, milliseconds(1500));
  // The publisher leaves: node-b's viewers are told; the last one leaving ends the relay.
  int error = 1;
  origin_plugin->destroy_session(publisher, &error);
  EXPECT_TRUE(eventually([&] {
    for (const auto& e : host.events_for(second)) {
      if (str(e.event, "result") == "publisher_left") return true;
    }
    return false;
  }));
  detach(first);
  detach(second);
  EXPECT_TRUE(eventually([&] {
    return metric(*origin_plugin, "janus_media_relays{direction=out}") == 0 &&
           metric(*plugin, "janus_media_relays{direction=in}") == 0;
  }));
}

}  // namespace
}  // namespace jmedia::testing
