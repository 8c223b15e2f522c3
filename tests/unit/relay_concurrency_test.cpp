// The media path under concurrency (run under ThreadSanitizer in CI): a publisher relays
// while viewers join, start, hang up and detach on other threads, and while the publisher
// itself is replaced.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "../../common/json.h"
#include "../../plugin/media_plugin.h"
#include "fake_host.h"

namespace jmedia {
namespace {

using testing::fake_offer;
using testing::FakeHost;
using testing::FakeSdp;

JsonPtr parse(const std::string& text) {
  json_error_t error;
  return adopt(json_loads(text.c_str(), 0, &error));
}

JsonPtr jsep(const char* type) {
  JsonPtr j = adopt(json_object());
  set(j.get(), "type", type);
  set(j.get(), "sdp", std::string_view(fake_offer()));
  return j;
}

TEST(RelayConcurrency, ViewersComeAndGoWhileMediaFlows) {
  FakeHost host;
  FakeSdp sdp;
  PluginConfig config;
  config.queue_size = 100000;
  MediaPlugin plugin(host, sdp, config);
  auto attach = [&] {
    janus_plugin_session* handle = host.new_handle();
    int error = 1;
    plugin.create_session(handle, &error);
    EXPECT_EQ(error, 0);
    return handle;
  };
  auto detach = [&](janus_plugin_session* handle) {
    int error = 1;
    plugin.destroy_session(handle, &error);
  };
  janus_plugin_session* cam = attach();
  plugin.handle_message(cam, "p", parse(R"({"request":"publish","device_id":"cam"})"),
                        jsep("offer"));
  for (int i = 0; i < 5000 && plugin.devices().size() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(plugin.devices().size(), 1u);
  plugin.setup_media(cam);

  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  std::thread media([&] {
    std::array<char, 32> bytes{};
    bytes[0] = static_cast<char>(0x80);
    for (std::uint16_t seq = 0; !stop.load() && seq < 60000; ++seq) {
      bytes[2] = static_cast<char>(seq >> 8);
      bytes[3] = static_cast<char>(seq & 0xff);
      janus_plugin_rtp packet{};
      packet.video = (seq % 2) != 0;
      packet.buffer = bytes.data();
      packet.length = bytes.size();
      plugin.incoming_rtp(cam, &packet);
      ++sent;
    }
  });
  std::vector<std::thread> churn;
  for (int t = 0; t < 3; ++t) {
    churn.emplace_back([&] {
      for (int round = 0; round < 40; ++round) {
        janus_plugin_session* v = attach();
        plugin.handle_message(v, "w", parse(R"({"request":"watch","device_id":"cam"})"), nullptr);
        plugin.handle_message(v, "s", parse(R"({"request":"start"})"), jsep("answer"));
        plugin.setup_media(v);  // (not on its loop thread here: the test wants the overlap)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        if (round % 2 == 0) plugin.hangup_media(v);
        detach(v);
      }
    });
  }
  for (auto& thread : churn) thread.join();
  stop = true;
  media.join();
  EXPECT_GT(sent.load(), 0);
  detach(cam);
  plugin.shutdown();
  EXPECT_EQ(plugin.sessions().size(), 0u);
}

}  // namespace
}  // namespace jmedia
