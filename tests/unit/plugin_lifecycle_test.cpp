// MediaPlugin's own threads and the ends of a session's life: the negotiation sweeper behind
// the exception barrier, the end reason of one negotiation not leaking into the next, and a
// graceful stop that reaches a session whose worker was entering its role meanwhile.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <map>
#include <thread>

#include "../../common/json.h"
#include "../../plugin/media_plugin.h"
#include "fake_host.h"
#include "log_capture.h"
#include "plugin_test_support.h"

namespace jmedia {
namespace {

using namespace std::chrono_literals;
using testing::code;
using testing::flatten;
using testing::jsep;
using testing::LogCapture;
using testing::parse;
using testing::PluginTest;
using testing::PushedEvent;
using testing::str;

// A gate a worker waits at inside the fake SDP engine: the first call that reaches it says
// so and waits until the test opens it.
class Gate {
 public:
  std::function<void()> hook() {
    return [this] {
      if (first_.exchange(false)) {
        entered_.set_value();
        opened_.wait_for(20s);
      }
    };
  }
  bool wait_entered() { return entered_future_.wait_for(10s) == std::future_status::ready; }
  void open() { open_.set_value(); }

 private:
  std::atomic<bool> first_{true};
  std::promise<void> entered_;
  std::future<void> entered_future_ = entered_.get_future();
  std::promise<void> open_;
  std::shared_future<void> opened_ = open_.get_future().share();
};

class PluginLifecycleTest : public PluginTest {
 protected:
  void make_plugin(PluginConfig config) {
    plugin.reset();
    plugin = std::make_unique<MediaPlugin>(host, sdp, config);
  }
  void SetUp() override { make_plugin({}); }
  void TearDown() override {
    sdp.before_answer = nullptr;
    sdp.before_offer = nullptr;
    plugin.reset();
  }

  std::string send(janus_plugin_session* handle, const std::string& body, JsonPtr j = nullptr) {
    std::string tx = "tx" + std::to_string(++counter);
    plugin->handle_message(handle, tx.c_str(), parse(body), std::move(j));
    return tx;
  }
  // The event with this transaction, waited for (bounded).
  PushedEvent answer_to(const std::string& tx) {
    for (int i = 0; i < 10000; ++i) {
      for (const auto& e : host.events()) {
        if (e.transaction == tx) return e;
      }
      std::this_thread::sleep_for(1ms);
    }
    ADD_FAILURE() << "no event for " << tx;
    return {};
  }
  // The first event of a handle whose result is `result`, waited for (bounded).
  std::optional<PushedEvent> event_of(janus_plugin_session* handle, const std::string& result,
                                      std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    do {
      for (const auto& e : host.events_for(handle)) {
        if (str(e.event, "result") == result) return e;
      }
      std::this_thread::sleep_for(1ms);
    } while (std::chrono::steady_clock::now() < deadline);
    return std::nullopt;
  }
  janus_plugin_session* publisher(const std::string& device) {
    janus_plugin_session* handle = attach();
    const auto tx =
        send(handle, R"({"request":"publish","device_id":")" + device + R"("})", jsep("offer"));
    EXPECT_EQ(str(answer_to(tx).event, "result"), "publishing");
    plugin->setup_media(handle);
    return handle;
  }

  int counter = 0;
};

// Item 1: a throw on the sweeper thread (here the core's push_event) used to reach
// std::terminate and take Janus down. It is logged, and the next sweep goes on.
TEST_F(PluginLifecycleTest, TheSweeperSurvivesAThrowingHostAndKeepsSweeping) {
  LogCapture log;
  PluginConfig config;
  config.negotiation_timeout_s = 1;  // swept every 250 ms
  make_plugin(config);
  janus_plugin_session* a = attach();
  janus_plugin_session* b = attach();
  answer_to(send(a, R"({"request":"echo"})", jsep("offer")));
  answer_to(send(b, R"({"request":"echo"})", jsep("offer")));
  host.push_throws = 1;  // the first hangup event the sweeper pushes throws
  // Bounded: 1 s of timeout, a 250 ms period, and slack for a loaded machine.
  ASSERT_TRUE(log.wait_for("fake: push_event failed")) << "the sweeper never hit the throw";
  EXPECT_TRUE(log.contains("negotiation sweeper: unexpected exception: fake: push_event failed"));
  // The sweep that threw stopped at the first session (its role ended, its event was lost);
  // a later sweep ends the other one and tells it.
  auto events = host.wait_events(3, 10000);
  ASSERT_EQ(events.size(), 3u) << "no sweep after the one that threw";
  EXPECT_EQ(str(events[2].event, "result"), "hangup");
  EXPECT_EQ(str(events[2].event, "reason"), "negotiation timeout");
  EXPECT_EQ(host.push_throws.load(), 0);
  for (int i = 0; i < 10000 && plugin->sessions().active() != 0; ++i)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(plugin->sessions().active(), 0u);
  detach(a);
  detach(b);
}

// Item 3: a hangup while negotiating sets the reason for a close_pc that the core may never
// answer; the next negotiation's natural end must not inherit it.
TEST_F(PluginLifecycleTest, ANewNegotiationForgetsTheReasonOfTheLastOne) {
  janus_plugin_session* handle = attach();
  answer_to(send(handle, R"({"request":"echo"})", jsep("offer")));
  answer_to(send(handle, R"({"request":"hangup"})"));
  auto first = event_of(handle, "hangup");
  ASSERT_TRUE(first);
  EXPECT_EQ(str(first->event, "reason"), "request");
  EXPECT_EQ(host.closed_pcs.load(), 1);
  // The core never reports that PeerConnection gone (no hangup_media): the client offers again.
  EXPECT_EQ(str(answer_to(send(handle, R"({"request":"echo"})", jsep("offer"))).event, "result"),
            "echoing");
  plugin->setup_media(handle);
  plugin->hangup_media(handle);  // the new PeerConnection closes on its own
  auto events = host.events_for(handle);
  ASSERT_EQ(str(events.back().event, "result"), "hangup");
  EXPECT_EQ(str(events.back().event, "reason"), "peerconnection closed");
  auto scraped = flatten(plugin->metrics()->Collect());
  EXPECT_EQ(scraped["janus_media_sessions_ended_total{role=echo,reason=request}"], 1);
  EXPECT_EQ(scraped["janus_media_sessions_ended_total{role=echo,reason=peerconnection_closed}"], 1);
  detach(handle);
}

// Item 4: a worker past claim_role_slot when graceful_stop set draining entered its role
// after the stop's single pass: never told "shutdown", and the stop waited its whole timeout.
// A viewer's offer is computed between the claim and the role, under the transition mutex.
TEST_F(PluginLifecycleTest, GracefulStopEndsAViewerWhoseWatchWasBeingAnswered) {
  LogCapture log;
  janus_plugin_session* cam = publisher("cam1");
  janus_plugin_session* viewer = attach();
  Gate gate;
  sdp.before_offer = gate.hook();
  const auto watch_tx = send(viewer, R"({"request":"watch","device_id":"cam1"})");
  ASSERT_TRUE(gate.wait_entered());
  const auto started = std::chrono::steady_clock::now();
  auto stopped = std::async(std::launch::async, [this] { return plugin->graceful_stop(30s); });
  ASSERT_TRUE(log.wait_for("shutdown: closing")) << "graceful_stop never made its pass";
  gate.open();
  EXPECT_EQ(str(answer_to(watch_tx).event, "result"), "offer");
  auto hangup = event_of(viewer, "hangup");
  ASSERT_TRUE(hangup) << "the viewer was never told";
  EXPECT_EQ(str(hangup->event, "reason"), "shutdown");
  EXPECT_EQ(str(hangup->event, "role"), "viewer");
  plugin->hangup_media(cam);  // the core reports the publisher's PeerConnection closed
  ASSERT_EQ(stopped.wait_for(10s), std::future_status::ready)
      << "graceful_stop still waits for a session nobody ends";
  EXPECT_TRUE(stopped.get());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  EXPECT_EQ(plugin->sessions().active(), 0u);
  JsonPtr info = plugin->query_session(viewer);
  EXPECT_STREQ(json_string_value(json_object_get(info.get(), "role")), "none");
  detach(viewer);
  detach(cam);
}

// The other outcome, for requests whose answer is computed before the claim (echo, publish):
// the claim sees draining and refuses with 1017; no role, nothing for the stop to wait for.
TEST_F(PluginLifecycleTest, GracefulStopRefusesAnEchoOrPublishHeldInItsAnswer) {
  for (const char* body : {R"({"request":"echo"})", R"({"request":"publish","device_id":"c"})"}) {
    SCOPED_TRACE(body);
    make_plugin({});
    LogCapture log;
    janus_plugin_session* handle = attach();
    Gate gate;
    sdp.before_answer = gate.hook();
    const auto tx = send(handle, body, jsep("offer"));
    ASSERT_TRUE(gate.wait_entered());
    auto stopped = std::async(std::launch::async, [this] { return plugin->graceful_stop(30s); });
    ASSERT_TRUE(log.wait_for("shutdown: closing"));
    gate.open();
    EXPECT_EQ(code(answer_to(tx).event), numeric(ErrorCode::kDraining));
    ASSERT_EQ(stopped.wait_for(10s), std::future_status::ready);
    EXPECT_TRUE(stopped.get());
    EXPECT_EQ(plugin->sessions().active(), 0u);
    EXPECT_FALSE(event_of(handle, "hangup", 0ms)) << "refused, so nothing to hang up";
    sdp.before_answer = nullptr;
    detach(handle);
  }
}

}  // namespace
}  // namespace jmedia
