// The event handler feeds the ICE-candidate ledger (runtime/candidate_ledger.h) from the core's
// events: handle attached/detached, remote candidates, remote/local JSEP, hangups. A private
// ledger and registry per test; the enforcer side is played by the test itself.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>

#include "../../common/json.h"
#include "../../events/event_aggregator.h"
#include "event_json.h"

namespace jmedia::events {
namespace {

using testing::handle_head;
using testing::kHandle;
using testing::kSession;

using runtime::CandidateLedger;
using runtime::CutReason;
using runtime::HandleKey;
using std::chrono::milliseconds;

constexpr const char* kEcho = "janus.plugin.echotest";
constexpr const char* kMedia = "janus.plugin.media";

std::string handle_event(std::uint64_t handle, const std::string& name, const char* plugin) {
  return handle_head(2, 0, handle) + R"(,"event":{"name":")" + name + R"(","plugin":")" + plugin +
         R"(","opaque_id":"x"}})";
}

std::string candidate(std::uint64_t handle, int n) {
  // As ice.c reports a trickled or SDP candidate ("candidate:" stripped).
  return handle_head(16, 3, handle) + R"(,"event":{"remote-candidate":")" + std::to_string(n) +
         R"( 1 udp 2130706431 127.0.0.)" + std::to_string(1 + n % 250) + " " +
         std::to_string(10000 + n) + R"( typ host","stream_id":1,"component_id":1}})";
}

std::string jsep(std::uint64_t handle, const char* owner, const char* type) {
  return handle_head(8, 0, handle) + R"(,"event":{"owner":")" + owner + R"(","jsep":{"type":")" +
         type + R"(","sdp":"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"}}})";
}

std::string hangup(std::uint64_t handle) {
  return handle_head(16, 6, handle) + R"(,"event":{"connection":"hangup","reason":"Close PC"}})";
}

HandleKey key(std::uint64_t handle = kHandle) {
  return HandleKey{kSession, handle};
}

class CandidateFeed : public ::testing::Test {
 protected:
  void SetUp() override { make(config(4)); }

  static EventHandlerConfig config(std::uint32_t max,
                                   runtime::CapScope scope = runtime::CapScope::kAll) {
    EventHandlerConfig c;
    c.max_ice_candidates = max;
    c.cap_scope = scope;
    return c;
  }

  void make(const EventHandlerConfig& c) {
    aggregator_.reset();
    aggregator_ = std::make_unique<EventAggregator>(registry_, c, &ledger_);
  }

  void feed(const std::string& text) {
    json_error_t error;
    JsonPtr event = adopt(json_loads(text.c_str(), 0, &error));
    ASSERT_NE(event, nullptr) << error.text << " in " << text;
    aggregator_->consume(event.get());
  }
  void candidates(std::uint64_t handle, int n) {
    for (int i = 0; i < n; ++i) feed(candidate(handle, i));
  }

  prometheus::Registry registry_;
  CandidateLedger ledger_{registry_};
  std::unique_ptr<EventAggregator> aggregator_;
};

TEST_F(CandidateFeed, CandidatesBeyondTheCapQueueTheHandleOnce) {
  ASSERT_TRUE(ledger_.attach_enforcer());
  EXPECT_TRUE(ledger_.fed());
  EXPECT_EQ(ledger_.config().max_ice_candidates, 4u);
  feed(handle_event(kHandle, "attached", kMedia));
  EXPECT_EQ(ledger_.stats().tracked, 1u);
  candidates(kHandle, 4);
  EXPECT_FALSE(ledger_.next_cut(milliseconds{0}));
  candidates(kHandle, 3);  // the 5th, 6th and 7th
  EXPECT_EQ(ledger_.stats().rejected, 3u);
  auto order = ledger_.next_cut(milliseconds{0});
  ASSERT_TRUE(order);
  EXPECT_EQ(order->key, key());
  EXPECT_TRUE(order->media);
  EXPECT_EQ(order->reason, CutReason::kTooManyCandidates);
  EXPECT_FALSE(ledger_.next_cut(milliseconds{0}));
  // The metrics still count every candidate by type.
  EXPECT_EQ(aggregator_->metrics().remote_candidates(0).Value(), 7);
}

TEST_F(CandidateFeed, DetachForgetsTheHandle) {
  feed(handle_event(kHandle, "attached", kEcho));
  feed(handle_event(kHandle + 1, "attached", kEcho));
  EXPECT_EQ(ledger_.stats().tracked, 2u);
  feed(handle_event(kHandle, "detached", kEcho));
  EXPECT_EQ(ledger_.stats().tracked, 1u);
  EXPECT_EQ(ledger_.remote_candidate(key()), runtime::CandidateOutcome::kUntracked);
}

TEST_F(CandidateFeed, JsepEventsTellWhichHandlesNegotiated) {
  feed(handle_event(kHandle, "attached", kEcho));
  feed(handle_event(kHandle + 1, "attached", kMedia));
  feed(handle_event(kHandle + 2, "attached", kMedia));
  EXPECT_EQ(ledger_.stats().unnegotiated, 3u);
  feed(jsep(kHandle, "remote", "offer"));  // echo: the client's offer...
  EXPECT_EQ(ledger_.stats().unnegotiated, 3u);
  feed(jsep(kHandle, "local", "answer"));       // ...and the plugin's answer
  feed(jsep(kHandle + 1, "local", "offer"));    // watch: the plugin's offer...
  feed(jsep(kHandle + 1, "remote", "answer"));  // ...and the viewer's answer
  const auto targets = ledger_.unnegotiated(10);
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].key, key(kHandle + 2));
  EXPECT_TRUE(targets[0].media);
  // A hangup ends the negotiation: trickles wait for the next offer again.
  feed(hangup(kHandle));
  EXPECT_EQ(ledger_.stats().unnegotiated, 2u);
}

TEST_F(CandidateFeed, AHangupRestartsTheCount) {
  ASSERT_TRUE(ledger_.attach_enforcer());
  feed(handle_event(kHandle, "attached", kEcho));
  candidates(kHandle, 4);
  feed(hangup(kHandle));
  candidates(kHandle, 4);
  EXPECT_FALSE(ledger_.next_cut(milliseconds{0}));
  EXPECT_EQ(ledger_.stats().rejected, 0u);
}

TEST_F(CandidateFeed, MediaScopeCountsOnlyMediaHandles) {
  make(config(4, runtime::CapScope::kMedia));
  ASSERT_TRUE(ledger_.attach_enforcer());
  feed(handle_event(kHandle, "attached", kEcho));
  feed(handle_event(kHandle + 1, "attached", kMedia));
  candidates(kHandle, 50);
  EXPECT_FALSE(ledger_.next_cut(milliseconds{0}));
  candidates(kHandle + 1, 5);
  auto order = ledger_.next_cut(milliseconds{0});
  ASSERT_TRUE(order);
  EXPECT_EQ(order->key, key(kHandle + 1));
  EXPECT_EQ(ledger_.stats().rejected, 1u);
}

TEST_F(CandidateFeed, WithoutAnEnforcerItOnlyCounts) {
  feed(handle_event(kHandle, "attached", kEcho));
  candidates(kHandle, 10);
  EXPECT_EQ(ledger_.stats().rejected, 6u);
  EXPECT_EQ(ledger_.stats().queued, 0u);
}

TEST_F(CandidateFeed, TheCapIsOffWithMaxZeroOrWithoutTheEventsItNeeds) {
  make(config(0));
  EXPECT_FALSE(ledger_.fed());
  EventHandlerConfig no_webrtc = config(4);
  no_webrtc.events_mask &= ~kTypeWebrtc;
  EXPECT_FALSE(no_webrtc.cap_enabled());
  make(no_webrtc);
  EXPECT_FALSE(ledger_.fed());
  EventHandlerConfig no_handles = config(4);
  no_handles.events_mask &= ~kTypeHandle;
  make(no_handles);
  EXPECT_FALSE(ledger_.fed());
  feed(handle_event(kHandle, "attached", kEcho));
  EXPECT_EQ(ledger_.stats().tracked, 0u);
  // Without jsep it still counts (every handle is then "unnegotiated").
  EventHandlerConfig no_jsep = config(4);
  no_jsep.events_mask &= ~kTypeJsep;
  make(no_jsep);
  EXPECT_TRUE(ledger_.fed());
}

TEST_F(CandidateFeed, DestroyingTheAggregatorStopsFeeding) {
  feed(handle_event(kHandle, "attached", kEcho));
  aggregator_.reset();
  EXPECT_FALSE(ledger_.fed());
  EXPECT_EQ(ledger_.stats().tracked, 0u);
}

TEST_F(CandidateFeed, TheAdminSummaryShowsTheCap) {
  ASSERT_TRUE(ledger_.attach_enforcer());
  feed(handle_event(kHandle, "attached", kEcho));
  candidates(kHandle, 6);
  JsonPtr summary = aggregator_->summary();
  const json_t* cap = json_object_get(summary.get(), "candidate_cap");
  ASSERT_TRUE(json_is_object(cap)) << dump(summary.get());
  EXPECT_TRUE(json_is_true(json_object_get(cap, "enabled")));
  EXPECT_TRUE(json_is_true(json_object_get(cap, "enforced")));
  EXPECT_EQ(json_integer_value(json_object_get(cap, "max_ice_candidates")), 4);
  EXPECT_STREQ(json_string_value(json_object_get(cap, "cap_scope")), "all");
  EXPECT_EQ(json_integer_value(json_object_get(cap, "handles")), 1);
  EXPECT_EQ(json_integer_value(json_object_get(cap, "candidates_rejected")), 2);
  EXPECT_EQ(json_integer_value(json_object_get(cap, "queued")), 1);
  const json_t* cut = json_object_get(cap, "handles_cut");
  EXPECT_EQ(json_integer_value(json_object_get(cut, "too_many_candidates")), 0);
  EXPECT_EQ(json_integer_value(json_object_get(cut, "pending_trickles")), 0);
}

TEST_F(CandidateFeed, BadJsepEventsAreUnrecognizedAndChangeNothing) {
  feed(handle_event(kHandle, "attached", kEcho));
  feed(handle_head(8, 0, kHandle) + R"(,"event":{"owner":"remote"}})");
  feed(handle_head(8, 0, kHandle) + R"(,"event":{"owner":"elsewhere","jsep":{"type":"offer"}}})");
  EXPECT_EQ(aggregator_->metrics().unrecognized().Value(), 2);
  EXPECT_EQ(ledger_.stats().unnegotiated, 1u);
}

// The captured echo sessions of Janus 1.1.2 stay far below the default cap, and every handle
// is forgotten once detached.
TEST(CandidateFeedCaptured, RealSessionsAreNeitherCutNorLeftBehind) {
  prometheus::Registry registry;
  CandidateLedger ledger(registry);
  ASSERT_TRUE(ledger.attach_enforcer());
  EventAggregator aggregator(registry, EventHandlerConfig{}, &ledger);
  std::ifstream in(JMEDIA_EVENTS_FIXTURE);
  ASSERT_TRUE(in.good());
  std::string line;
  std::size_t peak = 0;
  for (int i = 0; i < 10000 && std::getline(in, line); ++i) {
    if (line.empty()) continue;
    JsonPtr event = adopt(json_loads(line.c_str(), 0, nullptr));
    ASSERT_NE(event, nullptr);
    aggregator.consume(event.get());
    peak = std::max(peak, ledger.stats().tracked);
  }
  EXPECT_EQ(peak, 1u);
  EXPECT_EQ(ledger.stats().tracked, 0u);
  EXPECT_EQ(ledger.stats().rejected, 0u);
  EXPECT_FALSE(ledger.next_cut(milliseconds{0}));
}

}  // namespace
}  // namespace jmedia::events
