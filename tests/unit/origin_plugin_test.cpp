// This node as the origin of relays (plugin/relay_origin.cpp), end to end in one process:
// MediaPlugin with a cluster section on a fake core, a real redis-server on a free loopback
// port, and the viewers' node played by the test (its directory, its inbox, a RelayReceiver
// on loopback with the relay's keys).
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <thread>

#include "../../cluster/directory.h"
#include "../../cluster/directory_keys.h"
#include "../../cluster/node_channel.h"
#include "../../plugin/publisher_media.h"
#include "../cluster/redis_server.h"
#include "eventually.h"
#include "plugin_test_support.h"
#include "relay_peer.h"

namespace jmedia::testing {
namespace {

using std::chrono::milliseconds;

const std::string kOriginSecret(32, 's');

// node-b as the test plays it: a directory client whose inbox records what it is sent.
class ViewerNode final : public cluster::DirectoryListener, public cluster::NodeChannelListener {
 public:
  cluster::NodeLoad load() override { return {}; }
  std::vector<cluster::PublishedDevice> published() override { return {}; }
  bool publishes(const std::string&) override { return false; }
  void device_lost(const std::string&, const std::string&) override {}
  void received(const cluster::NodeMessage& message) override {
    std::lock_guard lock(mutex_);
    messages_.push_back(message);
  }
  void relay_unanswered(const cluster::NodeMessage&) override {}

  // The n-th (from 0) message of type with that relay_id (any when empty), once it came.
  std::optional<cluster::NodeMessage> wait(cluster::MessageType type, const std::string& relay_id,
                                           std::size_t n = 0) {
    std::optional<cluster::NodeMessage> found;
    eventually([&] {
      std::lock_guard lock(mutex_);
      std::size_t seen = 0;
      for (const auto& m : messages_) {
        if (m.type != type || (!relay_id.empty() && m.relay_id != relay_id)) continue;
        if (seen++ == n) {
          found = m;
          return true;
        }
      }
      return false;
    });
    return found;
  }

  // Those come so far (no wait).
  std::size_t count(cluster::MessageType type, const std::string& relay_id) {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& m : messages_) n += m.type == type && m.relay_id == relay_id ? 1 : 0;
    return n;
  }

 private:
  std::mutex mutex_;
  std::vector<cluster::NodeMessage> messages_;
};

class OriginPluginTest : public PluginTest {
 protected:
  void start(std::size_t max_viewers = 100, int drop_percent = 0) {
    PluginConfig config;
    config.max_viewers_per_device = max_viewers;
    config.cluster.enabled = true;
    config.cluster.redis = cluster::Endpoint{"127.0.0.1", redis.port()};
    config.cluster.node_id = "node-a";
    config.cluster.secret = kOriginSecret;
    config.cluster.advertise_host = "127.0.0.1";
    config.cluster.test_relay_drop_percent = drop_percent;
    config.cluster.heartbeat_ms = 100;
    config.cluster.node_ttl_ms = 500;
    plugin = std::make_unique<MediaPlugin>(host, sdp, config);
    cluster::DirectoryOptions options;
    options.redis = config.cluster.redis;
    options.node_id = "node-b";
    options.secret = kOriginSecret;
    options.heartbeat = milliseconds(100);
    options.node_ttl = milliseconds(500);
    b = std::make_unique<cluster::Directory>(options, viewer_node, &viewer_node);
    ASSERT_TRUE(eventually([&] {
      return plugin->directory()->live_nodes() == 2 && b->channel()->subscribed() &&
             value("janus_media_cluster_inbox_up") == 1;
    }));
  }
  void TearDown() override {
    receivers.clear();
    b.reset();
    plugin.reset();
  }

  double value(const std::string& series) {
    const auto values = flatten(plugin->metrics()->Collect());
    const auto found = values.find(series);
    return found == values.end() ? -1.0 : found->second;
  }
  janus_plugin_session* publish(const char* device) {
    janus_plugin_session* h = attach();
    auto e = request(h, std::string(R"({"request":"publish","device_id":")") + device + "\"}",
                     jsep("offer"));
    EXPECT_EQ(str(e.event, "result"), "publishing") << e.event;
    plugin->setup_media(h);
    return h;
  }
  std::size_t consumers(const char* device) {
    auto found = plugin->devices().find(device);
    return found ? found->consumer_count() : 0;
  }
  // A receiver of node-b, and its relay_request to node-a: the answer.
  struct Asked {
    RecordingReceiver* media = nullptr;
    std::string relay_id;
    std::optional<cluster::NodeMessage> answer;
  };
  Asked ask(const char* device, cluster::MessageType answer = cluster::MessageType::kRelayAccept,
            std::string relay_id = {}) {
    Asked asked;
    asked.relay_id = relay_id.empty() ? b->channel()->new_relay_id() : relay_id;
    receivers.push_back(RecordingReceiver::make(loop, asked.relay_id, kOriginSecret));
    asked.media = receivers.back().get();
    if (asked.media == nullptr) return asked;
    const std::size_t before = count(answer, asked.relay_id);
    EXPECT_EQ(b->channel()->request_relay("node-a", device, asked.media->receiver->local().text(),
                                          asked.relay_id),
              asked.relay_id);
    asked.answer = viewer_node.wait(answer, asked.relay_id, before);
    if (answer == cluster::MessageType::kRelayAccept && asked.answer) {
      // Where its receiver reports go (what keeps the origin's relay alive).
      cluster::Endpoint origin;
      cluster::RelayAddress address;
      std::string error;
      EXPECT_TRUE(cluster::parse_endpoint(asked.answer->address, origin));
      EXPECT_TRUE(cluster::RelayAddress::resolve(origin.host, origin.port, address, error));
      asked.media->receiver->set_peer(address);
    }
    return asked;
  }
  std::size_t count(cluster::MessageType type, const std::string& relay_id) {
    return viewer_node.count(type, relay_id);
  }
  void send_media(janus_plugin_session* pub, std::uint32_t audio_ssrc, std::uint16_t first_seq,
                  int packets) {
    for (int i = 0; i < packets; ++i) {
      const auto seq = static_cast<std::uint16_t>(first_seq + i);
      PublisherRtp audio(false, 111, audio_ssrc, seq, seq * 960u);
      plugin->incoming_rtp(pub, &audio.packet);
      PublisherRtp video(true, 96, audio_ssrc + 1, seq, seq * 3000u);
      plugin->incoming_rtp(pub, &video.packet);
    }
  }

  cluster::testing::RedisServer redis;
  ViewerNode viewer_node;
  std::unique_ptr<cluster::Directory> b;
  cluster::RelayLoop loop;
  std::vector<std::unique_ptr<RecordingReceiver>> receivers;
};

void expect_continuous(const std::vector<ReceivedRtp>& packets, const char* kind) {
  ASSERT_FALSE(packets.empty()) << kind;
  for (std::size_t i = 1; i < packets.size(); ++i) {
    EXPECT_EQ(packets[i].ssrc, packets[0].ssrc) << kind << " packet " << i;
    EXPECT_EQ(static_cast<std::uint16_t>(packets[i].seq - packets[i - 1].seq), 1)
        << kind << " packet " << i;
  }
}

TEST_F(OriginPluginTest, ARelayRequestIsAcceptedAndCarriesThePublishersMedia) {
  start();
  janus_plugin_session* pub = publish("cam-a");
  const int plis_before = host.plis.load();
  Asked asked = ask("cam-a");
  ASSERT_TRUE(asked.answer) << "no relay_accept";
  const std::string address = asked.answer->address;
  EXPECT_EQ(address.rfind("127.0.0.1:", 0), 0u) << address;
  std::string why;
  auto media = media_from_json(asked.answer->media, why);
  ASSERT_TRUE(media) << asked.answer->media << ": " << why;
  EXPECT_EQ(media->audio_codec, "opus");
  EXPECT_EQ(media->audio_payload_type, 111);
  EXPECT_EQ(media->video_codec, "vp8");
  EXPECT_EQ(media->video_payload_type, 96);
  EXPECT_FALSE(media->data) << "data channels are not relayed";
  EXPECT_EQ(consumers("cam-a"), 1u);
  EXPECT_TRUE(eventually([&] { return host.plis.load() > plis_before; }))
      << "a new relay asks the publisher for a keyframe";
  // The publisher's media, its SSRC changing halfway: one stream per kind on the relay.
  send_media(pub, 0xAAAA0000, 100, 10);
  send_media(pub, 0xCCCC0000, 7000, 10);
  ASSERT_TRUE(eventually([&] {
    return asked.media->of_type(111).size() == 20 && asked.media->of_type(96).size() == 20;
  })) << asked.media->packets().size();
  const auto audio = asked.media->of_type(111);
  const auto video = asked.media->of_type(96);
  expect_continuous(audio, "audio");
  expect_continuous(video, "video");
  EXPECT_NE(audio[0].ssrc, video[0].ssrc);
  EXPECT_EQ(audio[0].payload, "payload-100" + std::string(40 - 12 - 11, '\0'));
  EXPECT_EQ(value("janus_media_relays{direction=out}"), 1);
  EXPECT_EQ(value("janus_media_relay_packets_total{direction=out}"), 40);
  EXPECT_GT(value("janus_media_relay_bytes_total{direction=out}"), 40 * 40);
  detach(pub);
}

TEST_F(OriginPluginTest, AResentRequestMakesNothingNewAndANewIdReplacesTheNodesRelay) {
  start();
  janus_plugin_session* pub = publish("cam-a");
  Asked first = ask("cam-a");
  ASSERT_TRUE(first.answer);
  // The same relay_id again (as when node-b missed our accept): the same answer.
  receivers.pop_back();
  Asked again = ask("cam-a", cluster::MessageType::kRelayAccept, first.relay_id);
  ASSERT_TRUE(again.answer) << "a resent request is answered again";
  EXPECT_EQ(again.answer->address, first.answer->address);
  EXPECT_EQ(consumers("cam-a"), 1u);
  EXPECT_EQ(value("janus_media_relays{direction=out}"), 1);
  // Another relay_id from node-b for the same device: it replaces node-b's relay.
  Asked other = ask("cam-a");
  ASSERT_TRUE(other.answer);
  EXPECT_EQ(consumers("cam-a"), 1u);
  EXPECT_EQ(value("janus_media_relays{direction=out}"), 1);
  send_media(pub, 0x1000, 1, 5);
  EXPECT_TRUE(eventually([&] { return other.media->of_type(111).size() == 5; }));
  detach(pub);
}

TEST_F(OriginPluginTest, ARequestForADeviceNotPublishedHereIsRefused1015) {
  start();
  Asked asked = ask("cam-none", cluster::MessageType::kRelayRefuse);
  ASSERT_TRUE(asked.answer) << "no relay_refuse";
  EXPECT_EQ(asked.answer->code, numeric(ErrorCode::kNoSuchDevice));
  EXPECT_EQ(asked.answer->device_id, "cam-none");
  EXPECT_EQ(value("janus_media_relays{direction=out}"), 0);
}

TEST_F(OriginPluginTest, ARelayTakesNoViewerSlot) {
  start(/*max_viewers=*/1);
  janus_plugin_session* pub = publish("cam-a");
  Asked asked = ask("cam-a");
  ASSERT_TRUE(asked.answer) << "no relay_accept";
  // max_viewers_per_device=1, a relay there: one local viewer still gets in, a second does not.
  janus_plugin_session* viewer = attach();
  auto watched = request(viewer, R"({"request":"watch","device_id":"cam-a"})");
  EXPECT_EQ(str(watched.event, "result"), "offer") << watched.event;
  EXPECT_EQ(consumers("cam-a"), 2u);
  // Nor is it counted as a viewer: the listing, the heartbeat's record and the per-device
  // metric say one.
  const std::string listed = dump(sync(viewer, R"({"request":"devices"})").get());
  EXPECT_NE(listed.find(R"("viewers":1)"), std::string::npos) << listed;
  EXPECT_TRUE(eventually([&] {
    const auto view = plugin->directory()->view();
    if (!view) return false;
    for (const auto& entry : view->devices) {
      if (entry.device_id == "cam-a") return entry.viewers == 1;
    }
    return false;
  }));
  janus_plugin_session* second = attach();
  EXPECT_EQ(code(request(second, R"({"request":"watch","device_id":"cam-a"})").event),
            numeric(ErrorCode::kTooManyViewers));
  // And a relay gets in with the slot taken.
  Asked other = ask("cam-a");  // replaces node-b's relay
  EXPECT_TRUE(other.answer);
  EXPECT_EQ(consumers("cam-a"), 2u);
  detach(second);
  detach(viewer);
  detach(pub);
}

TEST_F(OriginPluginTest, RelayStopAndTheNodeLeavingEndTheRelay) {
  start();
  janus_plugin_session* pub = publish("cam-a");
  Asked asked = ask("cam-a");
  ASSERT_TRUE(asked.answer);
  ASSERT_EQ(consumers("cam-a"), 1u);
  // A relay_stop for a relay_id this node does not send changes nothing.
  cluster::NodeMessage stop;
  stop.type = cluster::MessageType::kRelayStop;
  stop.device_id = "cam-a";
  stop.relay_id = "node-b-unknown";
  ASSERT_TRUE(b->channel()->send("node-a", stop));
  stop.relay_id = asked.relay_id;
  ASSERT_TRUE(b->channel()->send("node-a", stop));
  EXPECT_TRUE(eventually([&] { return consumers("cam-a") == 0; }));
  EXPECT_EQ(value("janus_media_relays{direction=out}"), 0);
  // Again, and node-b goes away: its relays end (node_left).
  Asked again = ask("cam-a");
  ASSERT_TRUE(again.answer);
  ASSERT_EQ(consumers("cam-a"), 1u);
  b.reset();
  EXPECT_TRUE(eventually([&] { return consumers("cam-a") == 0; }, milliseconds(5000)));
  EXPECT_EQ(value("janus_media_relays{direction=out}"), 0);
  detach(pub);
}

TEST_F(OriginPluginTest, LossOnTheRelayIsRepairedByRetransmission) {
  start(100, /*drop_percent=*/20);
  janus_plugin_session* pub = publish("cam-a");
  Asked asked = ask("cam-a");
  ASSERT_TRUE(asked.answer);
  for (int round = 0; round < 20; ++round) {
    send_media(pub, 0x5000, static_cast<std::uint16_t>(1 + round * 10), 10);
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_TRUE(eventually([&] {
    return asked.media->receiver->stats().recovered > 0 &&
           value("janus_media_relay_retransmitted_total") > 0;
  })) << asked.media->receiver->stats().recovered;
  EXPECT_GT(value("janus_media_relay_nacked_total{direction=out}"), 0);
  detach(pub);
}

TEST_F(OriginPluginTest, ThePublishersNewsReachesTheRelaysNode) {
  start();
  janus_plugin_session* pub = publish("cam-a");
  Asked asked = ask("cam-a");
  ASSERT_TRUE(asked.answer);
  send_media(pub, 0x7000, 1, 5);
  ASSERT_TRUE(eventually([&] { return asked.media->of_type(111).size() == 5; }));
  detach(pub);
  auto left = viewer_node.wait(cluster::MessageType::kPublisherLeft, "");
  ASSERT_TRUE(left) << "no publisher_left";
  EXPECT_EQ(left->device_id, "cam-a");
  EXPECT_EQ(consumers("cam-a"), 1u) << "the relay stays for the next publisher";
  // Another publisher with other codecs: publisher_joined with its media, and the relay
  // carries it at once, the stream continuing.
  sdp.video_codec = "h264";
  sdp.video_payload_type = 102;
  janus_plugin_session* next = publish("cam-a");
  auto joined = viewer_node.wait(cluster::MessageType::kPublisherJoined, "");
  ASSERT_TRUE(joined) << "no publisher_joined";
  std::string why;
  auto media = media_from_json(joined->media, why);
  ASSERT_TRUE(media) << why;
  EXPECT_EQ(media->video_codec, "h264");
  EXPECT_EQ(media->video_payload_type, 102);
  EXPECT_FALSE(media->data);
  ASSERT_TRUE(eventually([&] { return plugin->notifications_pending() == 0; }));
  send_media(next, 0x9000, 3000, 5);
  ASSERT_TRUE(eventually([&] { return asked.media->of_type(111).size() == 10; }))
      << asked.media->of_type(111).size();
  expect_continuous(asked.media->of_type(111), "audio across publishers");
  detach(next);
}

}  // namespace
}  // namespace jmedia::testing

namespace jmedia::testing {
namespace {

TEST_F(OriginPluginTest, APublisherWithTheSameCodecsKeepsTheRelaysPayloadTypes) {
  start();
  janus_plugin_session* pub = publish("cam-a");
  Asked asked = ask("cam-a");
  ASSERT_TRUE(asked.answer);
  detach(pub);
  ASSERT_TRUE(viewer_node.wait(cluster::MessageType::kPublisherLeft, ""));
  // The same codecs under another payload type: the relay goes on with the one it announced.
  sdp.video_payload_type = 100;
  janus_plugin_session* next = publish("cam-a");
  auto joined = viewer_node.wait(cluster::MessageType::kPublisherJoined, "");
  ASSERT_TRUE(joined) << "no publisher_joined";
  std::string why;
  auto media = media_from_json(joined->media, why);
  ASSERT_TRUE(media) << why;
  EXPECT_EQ(media->video_codec, "vp8");
  EXPECT_EQ(media->video_payload_type, 96) << joined->media;
  ASSERT_TRUE(eventually([&] { return plugin->notifications_pending() == 0; }));
  for (std::uint16_t seq = 1; seq <= 5; ++seq) {
    PublisherRtp video(true, 100, 0x4242, seq, seq * 3000u);
    plugin->incoming_rtp(next, &video.packet);
  }
  EXPECT_TRUE(eventually([&] { return asked.media->of_type(96).size() == 5; }))
      << asked.media->packets().size() << " packets, " << asked.media->of_type(100).size()
      << " of payload type 100";
  detach(next);
}

}  // namespace
}  // namespace jmedia::testing

namespace jmedia::testing {
namespace {

TEST_F(OriginPluginTest, KeyframeRequestsOnTheRelayReachThePublisherAndAnFirIsNeverHeldBack) {
  start();
  janus_plugin_session* pub = publish("cam-a");
  Asked asked = ask("cam-a");
  ASSERT_TRUE(asked.answer);
  send_media(pub, 0x3000, 1, 3);
  ASSERT_TRUE(eventually([&] { return asked.media->of_type(96).size() == 3; }));
  // The viewers' node's PLI (its receiver sends at most one per 500 ms; the publisher's gate
  // lets one per 100 ms through) becomes a PLI on the publisher's handle.
  const int before = host.plis.load();
  const std::uint32_t video_ssrc = asked.media->of_type(96)[0].ssrc;
  EXPECT_TRUE(eventually([&] {
    asked.media->receiver->request_keyframe(video_ssrc);
    return host.plis.load() > before;
  })) << host.plis.load();
  EXPECT_GT(asked.media->receiver->stats().keyframe_requests_sent, 0u);
  const auto targets = host.pli_targets();
  ASSERT_FALSE(targets.empty());
  EXPECT_EQ(targets.back(), pub);
  // Each FIR (a viewer on the other node whose media just came up) is one PLI on the
  // publisher's handle, however soon after the last one: the publisher's gate (one per
  // 100 ms) holds back PLIs only. Each is sent once, not until something gets through.
  for (int i = 1; i <= 3; ++i) {
    const int plis_before = host.plis.load();
    ASSERT_TRUE(asked.media->receiver->request_keyframe(video_ssrc, true));
    EXPECT_TRUE(eventually([&] { return host.plis.load() == plis_before + 1; }))
        << "FIR " << i << ": " << host.plis.load() - plis_before << " PLIs";
  }
  detach(pub);
}

}  // namespace
}  // namespace jmedia::testing

namespace jmedia::testing {
namespace {

TEST_F(OriginPluginTest, ThePublishersSenderReportsGoOnTheRelayInItsStreams) {
  start();
  janus_plugin_session* pub = publish("cam-a");
  Asked asked = ask("cam-a");
  ASSERT_TRUE(asked.answer);
  send_media(pub, 0x6000, 10, 3);  // audio SSRC 0x6000, timestamps 960 per seq
  ASSERT_TRUE(eventually([&] { return asked.media->of_type(111).size() == 3; }));
  const ReceivedRtp first = asked.media->of_type(111)[0];
  // A sender report of the audio SSRC, RTP time of seq 11, with one report block.
  std::array<char, 52> sr{};
  sr[0] = static_cast<char>(0x81);
  sr[1] = static_cast<char>(200);
  sr[3] = 12;
  const std::uint32_t fields[] = {0x6000, 0x11111111, 0x22222222, 11 * 960u, 3, 300};
  for (int f = 0; f < 6; ++f) {
    for (int i = 0; i < 4; ++i) sr[4 + 4 * f + i] = static_cast<char>(fields[f] >> (24 - 8 * i));
  }
  janus_plugin_rtcp rtcp{};
  rtcp.video = FALSE;
  rtcp.buffer = sr.data();
  rtcp.length = sr.size();
  plugin->incoming_rtcp(pub, &rtcp);
  ASSERT_TRUE(eventually([&] { return !asked.media->sender_reports().empty(); }))
      << "no sender report on the relay";
  const auto report = asked.media->sender_reports()[0];
  ASSERT_GE(report.size(), 28u);
  auto word = [&](std::size_t at) {
    return (std::uint32_t{report[at]} << 24) | (std::uint32_t{report[at + 1]} << 16) |
           (std::uint32_t{report[at + 2]} << 8) | report[at + 3];
  };
  EXPECT_EQ(report[1], 200);
  EXPECT_EQ(word(4), first.ssrc) << "the relay's audio SSRC";
  EXPECT_EQ(word(8), 0x11111111u);
  EXPECT_EQ(word(16), first.timestamp + 960u) << "the relay's RTP time of seq 11";
  detach(pub);
}

}  // namespace
}  // namespace jmedia::testing
