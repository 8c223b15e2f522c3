// 10,000 media sessions created and destroyed through MediaPlugin on a lean fake core: every
// session, device, slot and handle reference must be gone afterwards, the heap must be back
// near its level after a warm-up round, and the thread count flat. In the ASan build
// (scripts/test, build-asan) LeakSanitizer also checks the process at exit: nothing
// unreachable may be left. tests/e2e/test_leaks.py is the same against a real Janus.
#include <gtest/gtest.h>
#include <malloc.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "../../common/json.h"
#include "../../plugin/media_plugin.h"
#include "fake_host.h"

#if defined(__SANITIZE_ADDRESS__)
#define JMEDIA_LEAK_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define JMEDIA_LEAK_TEST_ASAN 1
#endif
#endif
#ifdef JMEDIA_LEAK_TEST_ASAN
// From <sanitizer/allocator_interface.h>, which gcc does not install.
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace jmedia {
namespace {

using testing::fake_offer;
using testing::FakeSdp;

constexpr int kWarmUp = 1000;
constexpr int kSessions = 10000;
// Heap growth allowed between the warm-up round and the end, for 10,000 sessions. A leak of
// 100 bytes per session (1 MB) fails; the real figure is a few KB at most (allocator and
// hash-table slack; measured: see the log line of each run).
constexpr long kHeapMarginBytes = 512 * 1024;

// Bytes the program holds on the heap now.
long heap_bytes() {
#ifdef JMEDIA_LEAK_TEST_ASAN
  return static_cast<long>(__sanitizer_get_current_allocated_bytes());
#else
  const struct mallinfo2 info = mallinfo2();
  return static_cast<long>(info.uordblks + info.hblkhd);
#endif
}

int thread_count() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

// A core that keeps nothing: FakeHost records every event, which would hide the plugin's own
// memory behind the fake's.
class LeanHost : public Host {
 public:
  int push_event(janus_plugin_session*, const char*, json_t* event, json_t*) override {
    ++events;
    if (json_object_get(event, "error_code") != nullptr) ++errors;
    return 0;
  }
  void relay_rtp(janus_plugin_session*, janus_plugin_rtp*) override { ++relayed; }
  void relay_rtcp(janus_plugin_session*, janus_plugin_rtcp*) override {}
  void relay_data(janus_plugin_session*, janus_plugin_data*) override { ++relayed; }
  void send_pli(janus_plugin_session*) override {}
  void send_remb(janus_plugin_session*, std::uint32_t) override {}
  void close_pc(janus_plugin_session*) override {}
  void retain_handle(janus_plugin_session* handle) override {
    g_atomic_int_inc(&handle->ref.count);
  }
  void release_handle(janus_plugin_session* handle) override {
    g_atomic_int_dec_and_test(&handle->ref.count);
  }
  bool requests_keyframe(janus_plugin_rtcp*) override { return false; }

  std::atomic<long> events{0}, errors{0}, relayed{0};
};

class SessionLeakTest : public ::testing::Test {
 protected:
  // Handles are reused from cycle to cycle, as the core's allocator reuses their memory.
  static constexpr int kHandlesPerCycle = 3;

  janus_plugin_session* fresh(int i) {
    janus_plugin_session& handle = handles_[i];
    EXPECT_EQ(handle.ref.count, 0) << "the plugin still holds a handle it was told to destroy";
    handle = {};
    handle.ref.count = 1;  // the core's reference for the plugin
    int error = 1;
    plugin_->create_session(&handle, &error);
    EXPECT_EQ(error, 0);
    return &handle;
  }
  void destroy(janus_plugin_session* handle) {
    int error = 1;
    plugin_->destroy_session(handle, &error);
    EXPECT_EQ(error, 0);
  }
  void send(janus_plugin_session* handle, const std::string& body, bool offer = false,
            const char* jsep_type = "offer") {
    json_error_t error;
    JsonPtr message = adopt(json_loads(body.c_str(), 0, &error));
    JsonPtr jsep;
    if (offer) {
      jsep = adopt(json_object());
      set(jsep.get(), "type", jsep_type);
      set(jsep.get(), "sdp", std::string_view(fake_offer()));
    }
    plugin_->handle_message(handle, "tx", std::move(message), std::move(jsep));
  }
  void drain() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while ((plugin_->queue_depth() != 0 || plugin_->notifications_pending() != 0) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    ASSERT_EQ(plugin_->queue_depth(), 0u) << "the workers did not drain the queue in 10 s";
    ASSERT_EQ(plugin_->notifications_pending(), 0u) << "the notifier did not finish in 10 s";
  }
  void media(janus_plugin_session* handle) {
    char buffer[32] = {static_cast<char>(0x80), 96};
    janus_plugin_rtp rtp{};
    rtp.buffer = buffer;
    rtp.length = sizeof buffer;
    rtp.video = TRUE;
    plugin_->incoming_rtp(handle, &rtp);
    char text[] = "ping";
    janus_plugin_data data{};
    data.buffer = text;
    data.length = 4;
    plugin_->incoming_data(handle, &data);
  }

  // One media session's life, of one of ten kinds (i % 10).
  void cycle(int i) {
    const std::string device = "dev-" + std::to_string(i);
    janus_plugin_session* a = fresh(0);
    switch (i % 10) {
      case 0: {  // echo, PeerConnection up, media, hung up by the core, detached
        send(a, R"({"request":"echo"})", true);
        drain();
        plugin_->setup_media(a);
        media(a);
        plugin_->hangup_media(a);
        break;
      }
      case 1: {  // publisher and a started viewer, media, viewer detached first
        janus_plugin_session* b = fresh(1);
        send(a, R"({"request":"publish","device_id":")" + device + "\"}", true);
        drain();
        plugin_->setup_media(a);
        send(b, R"({"request":"watch","device_id":")" + device + "\"}");
        drain();
        send(b, R"({"request":"start"})", true, "answer");
        drain();
        plugin_->setup_media(b);
        media(a);
        destroy(b);
        break;
      }
      case 2: {  // publisher never connected, detached while negotiating
        send(a, R"({"request":"publish","device_id":")" + device + "\"}", true);
        drain();
        break;
      }
      case 3: {  // a publisher leaves under two viewers (one never started)
        janus_plugin_session* b = fresh(1);
        janus_plugin_session* c = fresh(2);
        send(a, R"({"request":"publish","device_id":")" + device + "\"}", true);
        drain();
        send(b, R"({"request":"watch","device_id":")" + device + "\"}");
        send(c, R"({"request":"watch","device_id":")" + device + "\"}");
        drain();
        send(a, R"({"request":"hangup"})");
        drain();
        destroy(b);
        destroy(c);
        break;
      }
      case 4: {  // configure and queries on an echo, hangup request
        send(a, R"({"request":"echo"})", true);
        drain();
        plugin_->setup_media(a);
        send(a, R"({"request":"configure","video":false,"bitrate":100000,"keyframe":true})");
        plugin_->handle_message(a, "q", adopt(json_pack("{s:s}", "request", "list")), nullptr);
        JsonPtr info = plugin_->query_session(a);
        EXPECT_NE(info, nullptr);
        send(a, R"({"request":"hangup"})");
        drain();
        break;
      }
      case 5: {  // refused requests only
        send(a, R"({"request":"watch","device_id":"nobody"})");
        send(a, R"({"request":"echo"})");
        send(a, R"({"request":"fly"})");
        drain();
        break;
      }
      default:  // attach and detach
        break;
    }
    destroy(a);
  }

  void SetUp() override {
    handles_.resize(kHandlesPerCycle);
    plugin_ = std::make_unique<MediaPlugin>(host_, sdp_, PluginConfig{});
  }
  void TearDown() override { plugin_.reset(); }

  LeanHost host_;
  FakeSdp sdp_;
  std::vector<janus_plugin_session> handles_;
  std::unique_ptr<MediaPlugin> plugin_;
};

TEST_F(SessionLeakTest, TenThousandSessionsLeaveNothingBehind) {
  const int threads_before = thread_count();
  for (int i = 0; i < kWarmUp; ++i) cycle(i);
  drain();
  const long heap_baseline = heap_bytes();
  const int threads_baseline = thread_count();
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kSessions; ++i) {
    cycle(kWarmUp + i);
    if (::testing::Test::HasFailure()) break;  // one message, not 10,000
  }
  drain();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  EXPECT_EQ(plugin_->sessions().size(), 0u);
  EXPECT_EQ(plugin_->sessions().active(), 0u);
  EXPECT_EQ(plugin_->devices().size(), 0u);
  for (int role = 0; role < kRoleCount; ++role) {
    EXPECT_EQ(plugin_->sessions().role_count(static_cast<Role>(role)), 0u) << "role " << role;
  }
  for (const auto& handle : handles_) EXPECT_EQ(handle.ref.count, 0);
  // The requests did what they should have (the run is not 10,000 refusals).
  EXPECT_GT(host_.relayed.load(), kSessions / 10);
  EXPECT_GT(host_.events.load(), kSessions / 2);

  const long heap_after = heap_bytes();
  const int threads_after = thread_count();
  std::printf(
      "[leak] %d sessions in %.2f s; heap %ld -> %ld bytes (%+ld, margin %ld); threads %d -> "
      "%d -> %d; %ld events (%ld errors)\n",
      kSessions, seconds, heap_baseline, heap_after, heap_after - heap_baseline, kHeapMarginBytes,
      threads_before, threads_baseline, threads_after, host_.events.load(), host_.errors.load());
  EXPECT_LE(heap_after - heap_baseline, kHeapMarginBytes)
      << "the heap grew by " << heap_after - heap_baseline << " bytes over " << kSessions
      << " sessions";
  EXPECT_EQ(threads_after, threads_baseline);

  // Everything the plugin holds goes with it; only this test's own state is left.
  plugin_.reset();
  // Its threads: the workers, the negotiation-timeout sweeper and the device notifier.
  const PluginConfig defaults;
  const int plugin_threads =
      static_cast<int>(defaults.worker_threads) + (defaults.negotiation_timeout_s > 0 ? 1 : 0) + 1;
  EXPECT_EQ(thread_count(), threads_before - plugin_threads)
      << "the plugin's threads are not all joined";
}

}  // namespace
}  // namespace jmedia
