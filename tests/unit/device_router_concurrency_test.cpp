// The router under concurrency (run under ThreadSanitizer in CI): two producers' threads route
// while the device hands over between them, consumers join, start, stop and leave, and
// consumers ask for keyframes; every handle reference the consumers took is given back.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "../../plugin/device.h"
#include "../../plugin/local_publisher.h"
#include "../../plugin/local_viewer.h"
#include "fake_host.h"

namespace jmedia {
namespace {

using testing::FakeHost;

TEST(DeviceRouterConcurrency, RoutingHandOversAndConsumerChurnTogether) {
  FakeHost host;
  PublisherMedia media;
  media.video_codec = "vp8";
  media.video_payload_type = 96;
  std::vector<janus_plugin_session*> viewer_handles;
  viewer_handles.reserve(8);
  for (int i = 0; i < 8; ++i) viewer_handles.push_back(host.new_handle());
  {
    auto device = std::make_shared<Device>("cam");
    auto metrics = std::make_shared<PluginMetrics>(0);
    std::array<std::shared_ptr<LocalPublisher>, 2> producers{
        std::make_shared<LocalPublisher>(host, host.new_handle(), metrics),
        std::make_shared<LocalPublisher>(host, host.new_handle(), metrics)};
    device->set_producer(producers[0], media);
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> copies{0};
    auto route = [&](int which) {
      std::array<char, 24> bytes{};
      bytes[0] = static_cast<char>(0x80);
      for (std::uint16_t seq = 0; !stop.load(); ++seq) {
        bytes[2] = static_cast<char>(seq >> 8);
        bytes[3] = static_cast<char>(seq & 0xff);
        janus_plugin_rtp packet{};
        packet.video = (seq % 2) != 0 ? TRUE : FALSE;
        packet.buffer = bytes.data();
        packet.length = bytes.size();
        copies += device->route_rtp(*producers[which], packet);
        std::this_thread::yield();  // a packet interval, short: the churn is the point
      }
    };
    std::thread first(route, 0);
    std::thread second(route, 1);
    std::thread handover([&] {
      for (int round = 0; round < 200; ++round) {
        device->clear_producer(producers[round % 2].get());
        device->set_producer(producers[(round + 1) % 2], media);
      }
    });
    std::thread keyframes([&] {
      while (!stop.load()) device->request_keyframe(false);
    });
    std::vector<std::thread> churn;
    churn.reserve(2);
    for (int t = 0; t < 2; ++t) {
      churn.emplace_back([&, t] {
        for (int round = 0; round < 150; ++round) {
          auto viewer = std::make_shared<LocalViewer>(host, viewer_handles[t * 4 + round % 4]);
          device->add_consumer(viewer);
          device->start_consumer(*viewer);
          if (round % 3 == 0) viewer->set_kinds(MediaFlags{true, false, true});
          std::this_thread::yield();
          if (round % 2 == 0) viewer->stop();
          device->remove_consumer(viewer.get());
        }
      });
    }
    handover.join();
    for (auto& thread : churn) thread.join();
    stop = true;
    first.join();
    second.join();
    keyframes.join();
    EXPECT_TRUE(device->consumers()->empty());
    // Still a working router: the producer there now reaches a new consumer.
    auto last = std::make_shared<LocalViewer>(host, viewer_handles[0]);
    device->add_consumer(last);
    device->start_consumer(*last);
    std::array<char, 24> bytes{};
    bytes[0] = static_cast<char>(0x80);
    janus_plugin_rtp packet{};
    packet.buffer = bytes.data();
    packet.length = bytes.size();
    EXPECT_EQ(device->route_rtp(*producers[0], packet) + device->route_rtp(*producers[1], packet),
              1u);
    std::printf("[router] %llu copies routed during the churn\n",
                static_cast<unsigned long long>(copies.load()));
  }
  EXPECT_EQ(host.retains.load(), host.releases.load());
  for (auto* handle : viewer_handles) EXPECT_EQ(host.references(handle), 1);
}

}  // namespace
}  // namespace jmedia
