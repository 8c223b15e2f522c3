// The device as a router, against fake producers and consumers: media reaches the started
// consumers of the kinds they want, each as it came in; keyframe requests reach the producer;
// the listener hears of what consumers must be told; a consumer removed while a snapshot
// lists it stays valid (and its handle referenced) until the snapshot goes; and through the
// plugin, every handle reference a producer or consumer took is given back.
#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "../../plugin/device.h"
#include "../../plugin/local_publisher.h"
#include "../../plugin/local_viewer.h"
#include "plugin_test_support.h"

namespace jmedia {
namespace {

using testing::FakeHost;

PublisherMedia vp8() {
  PublisherMedia m;
  m.audio_codec = "opus";
  m.audio_payload_type = 111;
  m.video_codec = "vp8";
  m.video_payload_type = 96;
  m.data = true;
  return m;
}

// Records what reaches it, then scribbles on the header and mindex as a rewriting consumer may.
class FakeConsumer final : public Consumer {
 public:
  void send_rtp(janus_plugin_rtp& packet) override {
    const auto* b = reinterpret_cast<const unsigned char*>(packet.buffer);
    seqs.push_back(static_cast<std::uint16_t>((b[2] << 8) | b[3]));
    mindexes.push_back(packet.mindex);
    packet.buffer[2] = 0x7f;
    packet.buffer[3] = 0x7f;
    packet.mindex = 9;
  }
  void send_data(janus_plugin_data& /*packet*/) override { ++data; }
  void use_media(const PublisherMedia& media) override { offered = media; }

  std::vector<std::uint16_t> seqs;
  std::vector<int> mindexes;
  int data = 0;
  PublisherMedia offered;
};

class FakeProducer final : public Producer {
 public:
  void request_keyframe(bool new_consumer) override { ++(new_consumer ? fresh : asked); }
  int asked = 0;
  int fresh = 0;
};

class RecordingListener final : public DeviceListener {
 public:
  void device_has_news(const std::shared_ptr<Device>& device) override {
    told.push_back(device->id());
  }
  std::vector<std::string> told;
};

struct Rtp {
  explicit Rtp(std::uint16_t seq, bool video) {
    bytes[0] = static_cast<char>(0x80);
    bytes[1] = 96;
    bytes[2] = static_cast<char>(seq >> 8);
    bytes[3] = static_cast<char>(seq & 0xff);
    packet.video = video ? TRUE : FALSE;
    packet.mindex = video ? 1 : 0;
    packet.buffer = bytes.data();
    packet.length = bytes.size();
  }
  std::array<char, 20> bytes{};
  janus_plugin_rtp packet{};
};

class DeviceRouterTest : public ::testing::Test {
 protected:
  std::shared_ptr<FakeConsumer> consumer(bool start) {
    auto c = std::make_shared<FakeConsumer>();
    device->add_consumer(c);
    if (start) device->start_consumer(*c);
    return c;
  }

  RecordingListener listener;
  std::shared_ptr<Device> device = std::make_shared<Device>("cam", &listener);
  std::shared_ptr<FakeProducer> producer = std::make_shared<FakeProducer>();
};

TEST_F(DeviceRouterTest, PacketsReachStartedConsumersOfTheKindsTheyWantEachAsItCameIn) {
  device->set_producer(producer, vp8());
  auto a = consumer(true);
  auto pending = consumer(false);
  auto audio_only = consumer(true);
  audio_only->set_kinds(MediaFlags{true, false, false});
  EXPECT_EQ(a->offered.video_codec, "vp8") << "told the media its offer is built from";

  Rtp video(1, true);
  const auto original = video.bytes;
  EXPECT_EQ(device->route_rtp(*producer, video.packet), 1u);
  EXPECT_EQ(video.bytes, original) << "restored for the caller";
  EXPECT_EQ(video.packet.mindex, 1);
  Rtp audio(2, false);
  EXPECT_EQ(device->route_rtp(*producer, audio.packet), 2u);
  EXPECT_EQ(a->seqs, (std::vector<std::uint16_t>{1, 2}));
  // a scribbled on the packet before audio_only got it: the router restored it in between.
  EXPECT_EQ(audio_only->seqs, std::vector<std::uint16_t>{2});
  EXPECT_EQ(audio_only->mindexes, std::vector<int>{0});
  EXPECT_TRUE(pending->seqs.empty()) << "not started: nothing";

  char text[] = "hi";
  janus_plugin_data data{};
  data.buffer = text;
  data.length = 2;
  EXPECT_EQ(device->route_data(*producer, data), 1u);
  EXPECT_EQ(a->data, 1);
  EXPECT_EQ(audio_only->data, 0);
  EXPECT_EQ(pending->data, 0);

  a->stop();
  Rtp after(3, true);
  EXPECT_EQ(device->route_rtp(*producer, after.packet), 0u) << "a stopped consumer gets nothing";
}

TEST_F(DeviceRouterTest, OnlyTheDevicesProducerRoutesAndAHandOverSwitchesAtOnce) {
  Rtp packet(1, true);
  EXPECT_EQ(device->route_rtp(*producer, packet.packet), 0u) << "no producer yet";
  device->set_producer(producer, vp8());
  auto c = consumer(true);
  FakeProducer stranger;
  EXPECT_EQ(device->route_rtp(stranger, packet.packet), 0u);
  EXPECT_EQ(device->route_rtp(*producer, packet.packet), 1u);
  ASSERT_TRUE(device->clear_producer(producer.get()));
  auto next = std::make_shared<FakeProducer>();
  device->set_producer(next, vp8());  // same codecs: the consumer goes on
  EXPECT_EQ(device->route_rtp(*producer, packet.packet), 0u) << "the replaced producer";
  EXPECT_EQ(device->route_rtp(*next, packet.packet), 1u);
  EXPECT_EQ(c->seqs.size(), 2u);
}

TEST_F(DeviceRouterTest, KeyframeRequestsReachTheProducerThereNow) {
  device->request_keyframe(true);  // none: nothing happens
  device->set_producer(producer, vp8());
  device->request_keyframe(false);
  device->request_keyframe(true);
  EXPECT_EQ(producer->asked, 1);
  EXPECT_EQ(producer->fresh, 1);
  device->clear_producer(producer.get());
  auto next = std::make_shared<FakeProducer>();
  device->set_producer(next, vp8());
  device->request_keyframe(false);
  EXPECT_EQ(producer->asked, 1);
  EXPECT_EQ(next->asked, 1);
}

TEST_F(DeviceRouterTest, TheListenerHearsOfProducerChangesWhenConsumersAreThereToBeTold) {
  device->set_producer(producer, vp8());
  EXPECT_TRUE(listener.told.empty()) << "nobody to tell";
  auto c = consumer(true);
  EXPECT_FALSE(device->update_media(nullptr, vp8()));
  FakeProducer stranger;
  EXPECT_FALSE(device->update_media(&stranger, vp8()));
  EXPECT_TRUE(listener.told.empty()) << "not the producer: no news";
  EXPECT_TRUE(device->update_media(producer.get(), vp8()));
  ASSERT_TRUE(device->clear_producer(producer.get()));
  EXPECT_FALSE(device->clear_producer(producer.get())) << "once";
  device->set_producer(std::make_shared<FakeProducer>(), vp8());
  EXPECT_EQ(listener.told, (std::vector<std::string>{"cam", "cam", "cam"}));
  auto news = device->take_news();
  ASSERT_EQ(news.consumers.size(), 1u);
  EXPECT_EQ(news.consumers[0].consumer, c);
  EXPECT_TRUE(news.consumers[0].producer_left);
  EXPECT_EQ(news.consumers[0].joined, ConsumerNews::Joined::kSameCodecs);
}

TEST_F(DeviceRouterTest, AConsumerRemovedWhileASnapshotListsItKeepsItsHandleUntilTheSnapshotGoes) {
  FakeHost host;
  janus_plugin_session* handle = host.new_handle();  // the core's reference: 1
  device->set_producer(producer, vp8());
  auto viewer = std::make_shared<LocalViewer>(host, handle);
  EXPECT_EQ(host.references(handle), 2) << "the viewer holds a reference of its own";
  device->add_consumer(viewer);
  device->start_consumer(*viewer);
  auto snapshot = device->consumers();  // what a media thread may be relaying from
  std::weak_ptr<LocalViewer> watched = viewer;
  EXPECT_EQ(device->remove_consumer(viewer.get()), viewer);
  viewer.reset();  // its session let go
  Rtp packet(1, true);
  EXPECT_EQ(device->route_rtp(*producer, packet.packet), 0u) << "no longer in the device";
  ASSERT_FALSE(watched.expired()) << "the snapshot still holds it";
  EXPECT_EQ(host.references(handle), 2);
  // The relay in flight completes on a handle that is still referenced.
  ASSERT_EQ(snapshot->size(), 1u);
  snapshot->front()->send_rtp(packet.packet);
  EXPECT_EQ(host.relayed_to(handle).size(), 1u);
  snapshot.reset();
  EXPECT_TRUE(watched.expired());
  EXPECT_EQ(host.references(handle), 1) << "its reference went with it";
  EXPECT_EQ(host.retains.load(), host.releases.load());
}

TEST(LocalPublisherTest, KeyframesForNewConsumersAlwaysReachThePublisher) {
  FakeHost host;
  janus_plugin_session* handle = host.new_handle();
  auto metrics = std::make_shared<PluginMetrics>(0);
  {
    LocalPublisher publisher(host, handle, metrics);
    EXPECT_EQ(host.references(handle), 2);
    publisher.request_keyframe(true);
    publisher.request_keyframe(true);
    EXPECT_EQ(host.plis.load(), 2);
    EXPECT_EQ(host.pli_targets(), (std::vector<janus_plugin_session*>{handle, handle}));
    // Right after one went through, a plain request waits for the rest of the interval (or
    // passes if this thread was held 100 ms); never more than one.
    publisher.request_keyframe(false);
    publisher.request_keyframe(false);
    EXPECT_LE(host.plis.load(), 3);
  }
  EXPECT_EQ(host.references(handle), 1);
}

// Through the plugin: publish, watch, media, a publisher hand-over, a kick, detach.
class RouterHandleTest : public testing::PluginTest {
 protected:
  void SetUp() override { plugin = std::make_unique<MediaPlugin>(host, sdp, PluginConfig{}); }
  void TearDown() override { plugin.reset(); }
};

TEST_F(RouterHandleTest, EveryHandleReferenceTakenIsGivenBackWhenSessionsEnd) {
  using testing::jsep;
  using testing::str;
  std::vector<janus_plugin_session*> handles;
  auto publish = [&] {
    janus_plugin_session* cam = attach();
    handles.push_back(cam);
    auto e = request(cam, R"({"request":"publish","device_id":"cam1"})", jsep("offer"));
    EXPECT_EQ(str(e.event, "result"), "publishing") << e.event;
    plugin->setup_media(cam);
    return cam;
  };
  janus_plugin_session* cam = publish();
  std::vector<janus_plugin_session*> viewers;
  for (int i = 0; i < 3; ++i) {
    janus_plugin_session* v = attach();
    handles.push_back(v);
    viewers.push_back(v);
    EXPECT_EQ(str(request(v, R"({"request":"watch","device_id":"cam1"})").event, "result"),
              "offer");
    EXPECT_EQ(str(request(v, R"({"request":"start"})", jsep("answer", "v=0\r\n")).event, "result"),
              "watching");
    plugin->setup_media(v);
  }
  Rtp packet(1, true);
  plugin->incoming_rtp(cam, &packet.packet);
  EXPECT_EQ(host.relayed_rtp.load(), 3);
  EXPECT_GT(host.retains.load(), 0) << "the publisher's producer and each viewer's consumer";
  for (auto* v : viewers) EXPECT_GE(host.references(v), 2);
  // A hand-over: the publisher detaches, another takes the device, a viewer is kicked.
  detach(cam);
  janus_plugin_session* second = publish();
  plugin->incoming_rtp(second, &packet.packet);
  auto kicked = admin(R"({"request":"kick","media_session":")" +
                      plugin->sessions().find(viewers[0])->id() + R"("})");
  EXPECT_EQ(json_integer_value(json_object_get(kicked.get(), "kicked")), 1);
  for (int i = 0; i < 5000 && plugin->notifications_pending() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (auto* v : viewers) detach(v);
  detach(second);
  EXPECT_EQ(plugin->devices().size(), 0u);
  for (int i = 0; i < 5000 && plugin->notifications_pending() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(plugin->notifications_pending(), 0u);
  EXPECT_EQ(host.retains.load(), host.releases.load() - static_cast<int>(handles.size()))
      << "every retain released, and the core's own reference of each handle";
  for (auto* h : handles) EXPECT_EQ(host.references(h), 0);
}

}  // namespace
}  // namespace jmedia
