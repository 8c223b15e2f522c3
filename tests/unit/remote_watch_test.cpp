// The viewers' side of the relays between nodes (remote_devices.cpp, inbound_relay.cpp): the
// plugin (node-a) watches cam-b, which node-b holds. node-b is the test's: a directory client
// with an inbox that answers the plugin's relay_request itself (a RelaySender of the same
// relay_id and secret, and a signed relay_accept), or refuses, or stays silent.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "../../cluster/directory.h"
#include "../../cluster/directory_keys.h"
#include "../../cluster/node_channel.h"
#include "../../cluster/relay_sender.h"
#include "../../plugin/publisher_media.h"
#include "../cluster/redis_server.h"
#include "eventually.h"
#include "plugin_test_support.h"

namespace jmedia::testing {
namespace {

using std::chrono::milliseconds;

const std::string kRemoteWatchSecret(32, 's');

class TestOrigin final : public cluster::DirectoryListener,
                         public cluster::NodeChannelListener,
                         public cluster::RelaySenderListener {
 public:
  enum class Answer { kAccept, kRefuse, kSilent };

  cluster::NodeLoad load() override { return {}; }
  std::vector<cluster::PublishedDevice> published() override {
    if (!publishing.load()) return {};
    return {{"cam-b", 0}};
  }
  bool publishes(const std::string& device_id) override {
    return publishing.load() && device_id == "cam-b";
  }
  void device_lost(const std::string&, const std::string&) override {}

  void received(const cluster::NodeMessage& message) override {
    std::lock_guard lock(mutex);
    messages.push_back(message);
    if (message.type != cluster::MessageType::kRelayRequest) return;
    ++requests;
    if (answer == Answer::kSilent) return;
    cluster::NodeMessage reply;
    reply.device_id = message.device_id;
    reply.relay_id = message.relay_id;
    if (answer == Answer::kRefuse) {
      reply.type = cluster::MessageType::kRelayRefuse;
      reply.code = 1015;
      reply.reason = "no publisher here";
      directory->channel()->send(message.from_node, reply);
      return;
    }
    cluster::RelaySenderOptions options;
    options.relay_id = message.relay_id;
    options.secret = kRemoteWatchSecret;
    options.socket.host = "127.0.0.1";
    const auto colon = message.address.rfind(':');
    std::string why;
    EXPECT_TRUE(cluster::RelayAddress::resolve(message.address.substr(0, colon),
                                               std::stoi(message.address.substr(colon + 1)),
                                               options.peer, why))
        << why;
    std::string error;
    sender = cluster::RelaySender::create(loop, options, *this, error);
    ASSERT_TRUE(sender) << error;
    reply.type = cluster::MessageType::kRelayAccept;
    reply.address = sender->local().text();
    reply.media = media_to_json(media);
    directory->channel()->send(message.from_node, reply);
  }
  void relay_unanswered(const cluster::NodeMessage&) override {}
  void keyframe_requested(std::uint32_t ssrc, bool full_intra) override {
    last_pli_ssrc.store(ssrc);
    ++(full_intra ? firs : plis);
  }
  void peer_lost(std::chrono::milliseconds) override {}

  // One RTP packet on the relay: false before the relay exists.
  bool send(int pt, std::uint16_t seq, std::uint32_t ssrc) {
    std::lock_guard lock(mutex);
    if (!sender) return false;
    std::uint8_t packet[60] = {0x80,
                               static_cast<std::uint8_t>(pt),
                               static_cast<std::uint8_t>(seq >> 8),
                               static_cast<std::uint8_t>(seq),
                               0,
                               0,
                               0,
                               1,
                               static_cast<std::uint8_t>(ssrc >> 24),
                               static_cast<std::uint8_t>(ssrc >> 16),
                               static_cast<std::uint8_t>(ssrc >> 8),
                               static_cast<std::uint8_t>(ssrc)};
    return sender->send_rtp(packet, sizeof packet);
  }
  int count(cluster::MessageType type) {
    std::lock_guard lock(mutex);
    int n = 0;
    for (const auto& m : messages) n += m.type == type ? 1 : 0;
    return n;
  }
  std::string relay_id() {
    std::lock_guard lock(mutex);
    return sender ? sender->relay_id() : "";
  }
  void notify(cluster::MessageType type, const PublisherMedia* with = nullptr) {
    cluster::NodeMessage message;
    message.type = type;
    message.device_id = "cam-b";
    if (with != nullptr) message.media = media_to_json(*with);
    ASSERT_TRUE(directory->channel()->send("node-a", message));
  }

  std::atomic<bool> publishing{true};
  Answer answer = Answer::kAccept;  // set before the plugin asks
  PublisherMedia media{"opus", 111, "vp8", 96, "", false};
  cluster::Directory* directory = nullptr;
  std::atomic<int> plis{0};
  std::atomic<int> firs{0};
  std::atomic<std::uint32_t> last_pli_ssrc{0};
  std::mutex mutex;  // guards what follows
  std::vector<cluster::NodeMessage> messages;
  int requests = 0;
  cluster::RelayLoop loop;
  std::unique_ptr<cluster::RelaySender> sender;
};

class RemoteWatchTest : public PluginTest {
 protected:
  void SetUp() override { start(TestOrigin::Answer::kAccept); }
  void start(TestOrigin::Answer answer, std::int64_t linger_s = 10) {
    origin.answer = answer;
    PluginConfig config;
    config.cluster.enabled = true;
    config.cluster.redis = cluster::Endpoint{"127.0.0.1", redis.port()};
    config.cluster.node_id = "node-a";
    config.cluster.secret = kRemoteWatchSecret;
    config.cluster.advertise_host = "127.0.0.1";
    config.cluster.heartbeat_ms = 100;
    config.cluster.node_ttl_ms = 3000;
    config.cluster.relay_linger_s = linger_s;
    plugin = std::make_unique<MediaPlugin>(host, sdp, config);
    cluster::DirectoryOptions options;
    options.redis = config.cluster.redis;
    options.node_id = "node-b";
    options.heartbeat = milliseconds(100);
    options.node_ttl = milliseconds(3000);
    options.secret = kRemoteWatchSecret;
    other = std::make_unique<cluster::Directory>(options, origin, &origin);
    origin.directory = other.get();
    ASSERT_TRUE(eventually([&] {
      return plugin->directory()->redis_up() && other->redis_up() &&
             plugin->directory()->live_nodes() == 2 && other->channel()->subscribed();
    }));
    ASSERT_EQ(other->claim("cam-b").result, cluster::Directory::ClaimResult::kClaimed);
  }
  void restart(TestOrigin::Answer answer, std::int64_t linger_s = 10) {
    other.reset();
    plugin.reset();
    start(answer, linger_s);
  }
  void TearDown() override {
    plugin.reset();
    other.reset();
    std::lock_guard lock(origin.mutex);
    origin.sender.reset();
  }

  // A viewer of cam-b that answered its offer.
  janus_plugin_session* watching(const char* expect_offer = "offer opus vp8") {
    janus_plugin_session* h = attach();
    auto offer = request(h, R"({"request":"watch","device_id":"cam-b"})");
    EXPECT_EQ(str(offer.event, "result"), "offer") << offer.event;
    EXPECT_NE(offer.jsep.find(expect_offer), std::string::npos) << offer.jsep;
    auto started = request(h, R"({"request":"start"})", jsep("answer"));
    EXPECT_EQ(str(started.event, "result"), "watching") << started.event;
    return h;
  }
  // Sends audio and video until the viewer got both (the relay is up end to end).
  bool media_reaches(janus_plugin_session* h) {
    std::uint16_t seq = 0;
    return eventually([&] {
      ++seq;
      origin.send(111, seq, 0xA0D10);
      origin.send(96, seq, 0x71DE0);
      bool audio = false;
      bool video = false;
      for (const auto& r : host.relayed_to(h)) {
        (r.video ? video : audio) |= r.payload_type == (r.video ? 96 : 111);
      }
      return audio && video;
    });
  }
  // The info request's reply for the viewer session of h (its media_session from its offer).
  std::string info_of(janus_plugin_session* h) {
    std::string media_session;
    for (const auto& e : host.events_for(h)) {
      if (str(e.event, "result") == "offer") media_session = str(e.event, "media_session");
    }
    return dump(sync(h, R"({"request":"info","media_session":")" + media_session + R"("})").get());
  }
  double metric(const std::string& series) {
    const auto values = flatten(plugin->metrics()->Collect());
    const auto found = values.find(series);
    return found == values.end() ? -1.0 : found->second;
  }
  bool told(janus_plugin_session* h, const std::string& result) {
    return eventually([&] {
      for (const auto& e : host.events_for(h)) {
        if (str(e.event, "result") == result) return true;
      }
      return false;
    });
  }

  cluster::testing::RedisServer redis;
  TestOrigin origin;
  std::unique_ptr<cluster::Directory> other;
};

TEST_F(RemoteWatchTest, AViewerOfAnotherNodesDeviceGetsItsMediaThroughOneRelay) {
  janus_plugin_session* viewer = watching();
  ASSERT_TRUE(media_reaches(viewer));
  // Audio and video told apart by payload type; a packet of another type is dropped, and
  // counted.
  ASSERT_TRUE(origin.send(100, 1000, 0x71DE0));
  EXPECT_TRUE(eventually([&] { return metric("janus_media_relay_unrouted_total") == 1; }))
      << metric("janus_media_relay_unrouted_total");
  for (const auto& r : host.relayed_to(viewer)) EXPECT_EQ(r.payload_type, r.video ? 96 : 111);
  // A keyframe asked for here reaches the origin as a PLI for the video SSRC.
  auto configured = request(viewer, R"({"request":"configure","keyframe":true})");
  EXPECT_EQ(str(configured.event, "result"), "configured");
  EXPECT_TRUE(eventually([&] { return origin.plis.load() > 0; }));
  EXPECT_EQ(origin.last_pli_ssrc.load(), 0x71DE0u);
  // info says where the producer is; the local listing names the origin.
  janus_plugin_session* other_viewer = watching();
  EXPECT_TRUE(media_reaches(other_viewer));
  {
    std::lock_guard lock(origin.mutex);
    EXPECT_EQ(origin.requests, 1) << "one relay per device and node";
  }
  const std::string listed = dump(sync(viewer, R"({"request":"devices"})").get());
  EXPECT_NE(listed.find(R"("device_id":"cam-b")"), std::string::npos) << listed;
  EXPECT_NE(listed.find(R"("node_id":"node-b")"), std::string::npos) << listed;
  const std::string info = info_of(viewer);
  EXPECT_NE(info.find(R"("producer_node":"node-b")"), std::string::npos) << info;
  detach(viewer);
  detach(other_viewer);
}

TEST_F(RemoteWatchTest, AViewerWhoseMediaIsUpBeforeAnyVideoCameGetsAFullIntraRequest) {
  janus_plugin_session* viewer = watching();
  // Its PeerConnection is up before the relay brought any video: the keyframe it needs cannot
  // name the video SSRC yet, and the one the origin asked for when the relay began went by
  // before this viewer could receive it.
  plugin->setup_media(viewer);
  EXPECT_EQ(origin.firs.load(), 0);
  ASSERT_TRUE(media_reaches(viewer));
  EXPECT_TRUE(eventually([&] { return origin.firs.load() == 1; })) << origin.firs.load();
  EXPECT_EQ(origin.last_pli_ssrc.load(), 0x71DE0u);
  EXPECT_EQ(origin.plis.load(), 0);
  // A viewer whose media comes up later, once the SSRC is known, gets one at once.
  janus_plugin_session* late = watching();
  plugin->setup_media(late);
  EXPECT_TRUE(eventually([&] { return origin.firs.load() == 2; })) << origin.firs.load();
  detach(viewer);
  detach(late);
}

TEST_F(RemoteWatchTest, ViewersArrivingTogetherShareOneRequest) {
  constexpr int kViewers = 8;
  std::vector<janus_plugin_session*> viewers;
  std::vector<std::string> txs;
  for (int i = 0; i < kViewers; ++i) {
    viewers.push_back(attach());
    txs.push_back("together" + std::to_string(i));
    Reply reply =
        plugin->handle_message(viewers.back(), txs.back().c_str(),
                               parse(R"({"request":"watch","device_id":"cam-b"})"), nullptr);
    EXPECT_EQ(reply.kind, Reply::Kind::kAsync);
  }
  ASSERT_TRUE(eventually([&] {
    int offers = 0;
    for (const auto& e : host.events()) {
      offers += e.transaction.rfind("together", 0) == 0 && str(e.event, "result") == "offer";
    }
    return offers == kViewers;
  }));
  {
    std::lock_guard lock(origin.mutex);
    EXPECT_EQ(origin.requests, 1);
  }
  for (auto* h : viewers) detach(h);
}

TEST_F(RemoteWatchTest, TheHeartbeatNeverClaimsARelayedDevice) {
  janus_plugin_session* viewer = watching();
  ASSERT_TRUE(media_reaches(viewer));
  // A local publish of cam-b stays 1014 while node-b holds it.
  janus_plugin_session* busy = attach();
  auto refused = request(busy, R"({"request":"publish","device_id":"cam-b"})", jsep("offer"));
  EXPECT_EQ(code(refused.event), numeric(ErrorCode::kDeviceBusy)) << refused.event;
  EXPECT_NE(str(refused.event, "error").find("node-b"), std::string::npos) << refused.event;
  detach(busy);
  // A later heartbeat of the plugin's lists a device it publishes: cam-a, published now.
  janus_plugin_session* pub = attach();
  auto e = request(pub, R"({"request":"publish","device_id":"cam-a"})", jsep("offer"));
  ASSERT_EQ(str(e.event, "result"), "publishing") << e.event;
  const auto listed = [&](const char* device) {
    return redis.query({"HEXISTS", cluster::node_devices_key("node-a"), device});
  };
  ASSERT_TRUE(eventually([&] { return listed("cam-a") == "1"; })) << listed("cam-a");
  EXPECT_EQ(listed("cam-b"), "0");
  EXPECT_EQ(redis.query({"GET", cluster::device_key("cam-b")}), "node-b");
  // Both claims vanish (as after a Redis restart) and node-b no longer refreshes cam-b: the
  // plugin's heartbeat takes back what it publishes (cam-a), and must not take cam-b.
  origin.publishing = false;
  ASSERT_EQ(redis.query({"DEL", cluster::device_key("cam-b"), cluster::device_key("cam-a")}), "2");
  ASSERT_TRUE(eventually([&] {
    return redis.query({"GET", cluster::device_key("cam-a")}) == "node-a";
  }));
  EXPECT_EQ(redis.query({"GET", cluster::device_key("cam-b")}), "(nil)");
  detach(pub);
  detach(viewer);
}

TEST_F(RemoteWatchTest, ARefusedRelayGivesTheWatchTheRefusesCode) {
  restart(TestOrigin::Answer::kRefuse);
  janus_plugin_session* h = attach();
  auto refused = request(h, R"({"request":"watch","device_id":"cam-b"})");
  EXPECT_EQ(code(refused.event), 1015) << refused.event;
  EXPECT_NE(str(refused.event, "error").find("node-b"), std::string::npos) << refused.event;
  EXPECT_EQ(plugin->sessions().active(), 0u);
  detach(h);
}

TEST_F(RemoteWatchTest, AnUnansweredRelayIs1022) {
  restart(TestOrigin::Answer::kSilent);
  janus_plugin_session* h = attach();
  auto unanswered = request(h, R"({"request":"watch","device_id":"cam-b"})");
  EXPECT_EQ(code(unanswered.event), numeric(ErrorCode::kClusterUnavailable)) << unanswered.event;
  {
    std::lock_guard lock(origin.mutex);
    EXPECT_GE(origin.requests, 1);
  }
  EXPECT_EQ(plugin->sessions().active(), 0u);
  detach(h);
}

TEST_F(RemoteWatchTest, ThePublishersNewsReachesTheViewers) {
  janus_plugin_session* viewer = watching();
  ASSERT_TRUE(media_reaches(viewer));
  origin.notify(cluster::MessageType::kPublisherLeft);
  ASSERT_TRUE(told(viewer, "publisher_left"));
  origin.notify(cluster::MessageType::kPublisherJoined, &origin.media);
  ASSERT_TRUE(told(viewer, "publisher_joined"));
  // Other codecs: a new offer, built from what publisher_joined announced.
  PublisherMedia h264{"opus", 111, "h264", 102, "packetization-mode=1", false};
  origin.notify(cluster::MessageType::kPublisherJoined, &h264);
  ASSERT_TRUE(eventually([&] {
    for (const auto& e : host.events_for(viewer)) {
      if (str(e.event, "result") == "offer" && e.jsep.find("offer opus h264") != std::string::npos)
        return true;
    }
    return false;
  }));
  detach(viewer);
}

TEST_F(RemoteWatchTest, TheOriginLeavingEndsItsRelayAndALocalPublisherTakesOver) {
  janus_plugin_session* viewer = watching();
  ASSERT_TRUE(media_reaches(viewer));
  other->stop();  // node-b withdraws (its record and claims go): node_left
  ASSERT_TRUE(told(viewer, "publisher_left"));
  // cam-b published here now: the viewer stays and gets the local publisher.
  janus_plugin_session* pub = attach();
  auto e = request(pub, R"({"request":"publish","device_id":"cam-b"})", jsep("offer"));
  ASSERT_EQ(str(e.event, "result"), "publishing") << e.event;
  // The local publisher sends a data channel too (the relay never does): a new offer.
  EXPECT_TRUE(eventually([&] {
    const auto events = host.events_for(viewer);
    return str(events.back().event, "result") == "offer" &&
           events.back().jsep.find("offer opus vp8") != std::string::npos;
  }));
  EXPECT_EQ(redis.query({"GET", cluster::device_key("cam-b")}), "node-a");
  detach(pub);
  detach(viewer);
}

TEST_F(RemoteWatchTest, ViewersLeftWithoutAPublisherGetItFromTheNextNodeThatHoldsTheDevice) {
  janus_plugin_session* viewer = watching();
  ASSERT_TRUE(media_reaches(viewer));
  other->stop();
  ASSERT_TRUE(told(viewer, "publisher_left"));
  {
    std::lock_guard lock(origin.mutex);
    origin.sender.reset();
  }
  // cam-b is published on node-c now (the test's origin again, under another name).
  cluster::DirectoryOptions options;
  options.redis = cluster::Endpoint{"127.0.0.1", redis.port()};
  options.node_id = "node-c";
  options.heartbeat = milliseconds(100);
  options.node_ttl = milliseconds(3000);
  options.secret = kRemoteWatchSecret;
  other = std::make_unique<cluster::Directory>(options, origin, &origin);
  origin.directory = other.get();
  ASSERT_TRUE(eventually([&] { return other->redis_up() && other->channel()->subscribed(); }));
  ASSERT_EQ(other->claim("cam-b").result, cluster::Directory::ClaimResult::kClaimed);
  // Found in the directory's view within a second or two: a new relay, from node-c.
  ASSERT_TRUE(told(viewer, "publisher_joined"));
  {
    std::lock_guard lock(origin.mutex);
    EXPECT_EQ(origin.requests, 2);
    EXPECT_EQ(origin.messages.back().from_node, "node-a");
  }
  const std::size_t before = host.relayed_to(viewer).size();
  std::uint16_t seq = 1000;
  EXPECT_TRUE(eventually([&] {
    origin.send(96, ++seq, 0x71DE1);
    return host.relayed_to(viewer).size() > before;
  }));
  const std::string info = info_of(viewer);
  EXPECT_NE(info.find(R"("producer_node":"node-c")"), std::string::npos) << info;
  detach(viewer);
}

TEST_F(RemoteWatchTest, TheLastViewerLeavingStopsTheRelayAfterTheLinger) {
  restart(TestOrigin::Answer::kAccept, 1);
  janus_plugin_session* viewer = watching();
  ASSERT_TRUE(media_reaches(viewer));
  const std::string relay_id = origin.relay_id();
  const auto left = std::chrono::steady_clock::now();
  detach(viewer);
  ASSERT_TRUE(eventually([&] { return origin.count(cluster::MessageType::kRelayStop) == 1; }));
  EXPECT_GE(std::chrono::steady_clock::now() - left, milliseconds(900));
  {
    std::lock_guard lock(origin.mutex);
    for (const auto& m : origin.messages) {
      if (m.type == cluster::MessageType::kRelayStop) {
        EXPECT_EQ(m.relay_id, relay_id);
      }
    }
  }
  EXPECT_TRUE(eventually([&] { return plugin->devices().size() == 0; }));
  // A new viewer asks again (a new relay).
  janus_plugin_session* again = watching();
  {
    std::lock_guard lock(origin.mutex);
    EXPECT_EQ(origin.requests, 2);
  }
  detach(again);
}

TEST_F(RemoteWatchTest, ASilentOriginLosesItsViewers) {
  janus_plugin_session* viewer = watching();
  ASSERT_TRUE(media_reaches(viewer));
  // No packet from the origin for node_ttl_ms (3 s): the viewer is told.
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& e : host.events_for(viewer)) {
          if (str(e.event, "result") == "publisher_left") return true;
        }
        return false;
      },
      milliseconds(6000)));
  detach(viewer);
}

}  // namespace
}  // namespace jmedia::testing
