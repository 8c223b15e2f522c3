// RelayOrigin on its own (no Redis, no channel: its answers go nowhere): relays made from
// relay_requests, ended when their peer goes silent, a flood of requests bounded; and media
// routed to a relay while relays come and go (also run under ThreadSanitizer: table_tests).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "../../plugin/relay_origin.h"
#include "eventually.h"
#include "relay_peer.h"

namespace jmedia::testing {
namespace {

using std::chrono::milliseconds;

const std::string kRelayOriginSecret = "0123456789abcdef0123456789abcdef-origin";

// A publisher of this node, as far as the origin can tell: it has a session handle.
class HereProducer final : public Producer {
 public:
  void request_keyframe(bool new_consumer) override {
    (new_consumer ? new_consumer_keyframes : keyframes).fetch_add(1);
  }
  janus_plugin_session* session_handle() const override {
    return const_cast<janus_plugin_session*>(&handle_);
  }
  std::atomic<int> keyframes{0};
  std::atomic<int> new_consumer_keyframes{0};

 private:
  janus_plugin_session handle_{};
};

// An inbound relay, as far as the origin can tell: no session handle.
class ElsewhereProducer final : public Producer {
 public:
  void request_keyframe(bool) override {}
};

class RelayOriginTest : public ::testing::Test {
 protected:
  RelayOriginTest() {
    config.secret = kRelayOriginSecret;
    config.advertise_host = "127.0.0.1";
    PublisherMedia media;
    media.audio_codec = "opus";
    media.audio_payload_type = 111;
    media.video_codec = "vp8";
    media.video_payload_type = 96;
    media.data = true;
    device = std::get<std::shared_ptr<Device>>(devices.claim_producer("cam", producer, media));
  }
  void make_origin(milliseconds peer_timeout = milliseconds(5000)) {
    cluster::RelaySenderOptions defaults;
    defaults.peer_timeout = peer_timeout;
    origin = std::make_unique<RelayOrigin>(loop, devices, config, defaults);
  }
  ~RelayOriginTest() override {
    origin.reset();
    receivers.clear();
  }
  RecordingReceiver* ask(const std::string& relay_id, const std::string& device_id = "cam",
                         const std::string& node = "node-b",
                         milliseconds report_interval = milliseconds(1000)) {
    receivers.push_back(
        RecordingReceiver::make(loop, relay_id, kRelayOriginSecret, report_interval));
    if (!receivers.back()) return nullptr;
    cluster::NodeMessage request;
    request.type = cluster::MessageType::kRelayRequest;
    request.from_node = node;
    request.device_id = device_id;
    request.relay_id = relay_id;
    request.address = receivers.back()->receiver->local().text();
    origin->received(request);
    return receivers.back().get();
  }
  void route(std::uint16_t seq) {
    PublisherRtp audio(false, 111, 0x1234, seq, seq * 960u);
    device->route_rtp(*producer, audio.packet);
  }

  cluster::RelayLoop loop;
  cluster::ClusterConfig config;
  DeviceRegistry devices{4};
  std::shared_ptr<HereProducer> producer = std::make_shared<HereProducer>();
  std::shared_ptr<Device> device;
  std::vector<std::unique_ptr<RecordingReceiver>> receivers;
  std::unique_ptr<RelayOrigin> origin;
};

TEST_F(RelayOriginTest, ARelayWhosePeerIsSilentEnds) {
  make_origin(milliseconds(1000));
  RecordingReceiver* media = ask("node-b-1", "cam", "node-b", milliseconds(100));
  ASSERT_NE(media, nullptr);
  ASSERT_TRUE(eventually([&] { return origin->relays() == 1; }));
  EXPECT_EQ(device->consumer_count(), 1u);
  EXPECT_TRUE(eventually([&] { return producer->new_consumer_keyframes.load() == 1; }));
  route(1);
  ASSERT_TRUE(eventually([&] { return media->packets().size() == 1; }));
  // The receiver learnt the origin's address from that packet and reports every 100 ms:
  // 15 reports, past the origin's 1 s timeout since the first, and the relay is still there.
  ASSERT_TRUE(eventually([&] { return media->receiver->stats().reports_sent >= 15; }));
  EXPECT_EQ(origin->relays(), 1u);
  // Its node goes silent.
  receivers.clear();
  EXPECT_TRUE(eventually([&] { return origin->relays() == 0; }));
  EXPECT_EQ(device->consumer_count(), 0u);
  const RelayTotals totals = origin->totals();
  EXPECT_EQ(totals.relays, 0u);
  EXPECT_EQ(totals.packets, 1u) << "an ended relay's counters stay in the totals";
}

TEST_F(RelayOriginTest, OnlyALocalProducersDeviceIsRelayed) {
  make_origin();
  auto elsewhere = std::make_shared<ElsewhereProducer>();
  PublisherMedia media;
  media.audio_codec = "opus";
  ASSERT_TRUE(std::holds_alternative<std::shared_ptr<Device>>(
      devices.claim_producer("remote-cam", elsewhere, media)));
  ask("node-b-2", "remote-cam");
  ask("node-b-3", "no-such-cam");
  ask("node-b-4", "cam");
  ASSERT_TRUE(eventually([&] { return origin->pending() == 0; }));
  EXPECT_EQ(origin->relays(), 1u);
  EXPECT_EQ(devices.find("remote-cam")->consumer_count(), 0u);
  EXPECT_EQ(device->consumer_count(), 1u);
}

TEST_F(RelayOriginTest, AFloodOfRequestsIsBoundedAndCounted) {
  make_origin();
  cluster::NodeMessage request;
  request.type = cluster::MessageType::kRelayRequest;
  request.from_node = "node-b";
  request.device_id = "no-such-cam";
  request.address = "127.0.0.1:9";
  // Four senders against the one thread that handles them: the queue fills, whatever the
  // speed of each (a single sender can be matched by the handler, as under TSan).
  std::atomic<std::size_t> most_pending{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < 4; ++t) {
    senders.emplace_back([&, t] {
      cluster::NodeMessage mine = request;
      for (std::size_t i = 0; i < 2 * RelayOrigin::kMaxQueued; ++i) {
        mine.relay_id = "node-b-" + std::to_string(t) + "-" + std::to_string(i);
        origin->received(mine);
        const std::size_t now = origin->pending();
        std::size_t seen = most_pending.load();
        while (now > seen && !most_pending.compare_exchange_weak(seen, now)) {
        }
      }
    });
  }
  for (auto& sender : senders) sender.join();
  EXPECT_LE(most_pending.load(), RelayOrigin::kMaxQueued + 1) << "queued, and one being handled";
  EXPECT_GT(origin->dropped(), 0u);
  EXPECT_EQ(origin->totals().dropped, origin->dropped()) << "what the metric shows";
  EXPECT_TRUE(eventually([&] { return origin->pending() == 0; }));
  EXPECT_EQ(origin->relays(), 0u);
}

TEST_F(RelayOriginTest, MediaFlowsWhileRelaysComeAndGo) {
  make_origin();
  std::atomic<bool> done{false};
  std::thread media([&] {
    for (std::uint16_t seq = 0; !done.load(); ++seq) {
      route(seq);
      if (seq % 64 == 0) std::this_thread::sleep_for(milliseconds(1));
    }
  });
  for (int i = 0; i < 20; ++i) {
    const std::string id = "node-c-" + std::to_string(i);
    ask(id, "cam", "node-c");  // each replaces node-c's previous relay
    if (i % 5 == 4) origin->node_left("node-c");
  }
  ASSERT_TRUE(eventually([&] { return origin->pending() == 0; }));
  RecordingReceiver* last = ask("node-c-last", "cam", "node-c");
  ASSERT_TRUE(eventually([&] { return origin->pending() == 0 && origin->relays() == 1; }));
  EXPECT_TRUE(eventually([&] { return !last->packets().empty(); }));
  done = true;
  media.join();
  EXPECT_EQ(device->consumer_count(), 1u);
  origin->stop();
  EXPECT_EQ(device->consumer_count(), 0u);
  EXPECT_EQ(origin->relays(), 0u);
}

}  // namespace
}  // namespace jmedia::testing
