// The edge's hold of hangups and detaches while a handle's PeerConnection negotiates (issue 18):
// what is held, in which order it goes, the timeout, the bounds, and the fallback when no event
// handler feeds the runtime's PcWatch.
#include "../../edge/hold_queue.h"
#include "../../edge/edge.h"
#include "fake_core.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace jmedia::edge {
namespace {

using std::chrono::milliseconds;
using Verdict = HoldQueue::Verdict;

constexpr runtime::HandleKey kA{11, 101};
constexpr runtime::HandleKey kB{11, 102};
constexpr runtime::HandleKey kOther{12, 201};

HoldOptions options() {
  HoldOptions o;
  o.timeout = milliseconds(3000);
  o.grace = milliseconds(50);
  o.max_per_handle = 4;
  o.max_total = 6;
  return o;
}

// What the held requests did when forwarded, in order.
struct Log {
  std::mutex mutex;
  std::vector<std::string> lines;
  HoldQueue::Forward forward(std::string line) {
    return [this, line = std::move(line)] {
      std::lock_guard lock(mutex);
      lines.push_back(line);
    };
  }
  std::vector<std::string> take() {
    std::lock_guard lock(mutex);
    return std::exchange(lines, {});
  }
};

class HoldQueueTest : public ::testing::Test {
 protected:
  HoldQueueTest() { watch_.start_feeding(); }
  Verdict admit(HoldQueue& q, const runtime::HandleKey& key, Verb verb, const std::string& line,
                Clock::time_point now) {
    HoldQueue::Forward f = log_.forward(line);
    const Verdict v = q.admit(key, verb, now, f);
    if (v != Verdict::kHeld) {
      EXPECT_TRUE(f) << line << ": not taken unless held";
    }
    return v;
  }
  runtime::PcWatch watch_;
  Log log_;
  const Clock::time_point t0_ = Clock::now();
};

TEST_F(HoldQueueTest, AHandleThatIsNotNegotiatingIsNotHeld) {
  HoldQueue q(options(), &watch_);
  EXPECT_EQ(admit(q, kA, Verb::kHangup, "hangup", t0_), Verdict::kForward);
  EXPECT_EQ(admit(q, kA, Verb::kDetach, "detach", t0_), Verdict::kForward);
  EXPECT_EQ(q.held(), 0u);
}

TEST_F(HoldQueueTest, HangupDetachAndWhatFollowsWaitForTheFirstSelectedPairInOrder) {
  HoldQueue q(options(), &watch_);
  q.negotiating(kA);
  watch_.sdp(kA);
  watch_.ice_active(kA);  // remote candidates parsed: a pair may come any moment
  // A message that is neither a hangup nor a detach is not held by itself.
  EXPECT_EQ(admit(q, kA, Verb::kTrickle, "trickle 0", t0_), Verdict::kForward);
  EXPECT_EQ(admit(q, kA, Verb::kHangup, "hangup", t0_), Verdict::kHeld);
  EXPECT_EQ(admit(q, kA, Verb::kDetach, "detach", t0_), Verdict::kHeld);
  EXPECT_EQ(admit(q, kA, Verb::kTrickle, "trickle 1", t0_), Verdict::kHeld);
  EXPECT_EQ(q.held(), 3u);
  EXPECT_EQ(q.release_due(t0_ + milliseconds(1000)), 0u);
  EXPECT_TRUE(log_.take().empty());

  const Clock::time_point before = Clock::now();
  watch_.settled(kA);  // the event handler saw the first selected pair
  // Not before the grace: the core's loop must be past its clearing.
  EXPECT_EQ(q.release_due(before), 0u);
  EXPECT_EQ(q.release_due(Clock::now() + milliseconds(50)), 3u);
  EXPECT_EQ(log_.take(), (std::vector<std::string>{"hangup", "detach", "trickle 1"}));
  EXPECT_EQ(q.held(), 0u);
  EXPECT_EQ(q.timeouts(), 0u);
  // Settled: nothing of it is held any more.
  EXPECT_EQ(admit(q, kA, Verb::kHangup, "late hangup", Clock::now()), Verdict::kForward);
}

TEST_F(HoldQueueTest, OrderIsPerHandle) {
  HoldQueue q(options(), &watch_);
  q.negotiating(kA);
  q.negotiating(kB);
  EXPECT_EQ(admit(q, kA, Verb::kHangup, "A hangup", t0_), Verdict::kHeld);
  EXPECT_EQ(admit(q, kB, Verb::kDetach, "B detach", t0_), Verdict::kHeld);
  EXPECT_EQ(admit(q, kA, Verb::kMessage, "A message", t0_), Verdict::kHeld);
  // Another handle of the same session, not negotiating: goes at once.
  EXPECT_EQ(admit(q, {11, 103}, Verb::kHangup, "C hangup", t0_), Verdict::kForward);
  watch_.settled(kB);
  EXPECT_EQ(q.release_due(Clock::now() + milliseconds(100)), 1u);
  EXPECT_EQ(log_.take(), (std::vector<std::string>{"B detach"}));
  EXPECT_EQ(q.held(), 2u);
  watch_.closed(kA);  // hung up (ICE never got a pair): safe too
  EXPECT_EQ(q.release_due(Clock::now() + milliseconds(100)), 2u);
  EXPECT_EQ(log_.take(), (std::vector<std::string>{"A hangup", "A message"}));
}

TEST_F(HoldQueueTest, HeldRequestsGoAfterTheTimeoutAndAreCounted) {
  HoldQueue q(options(), &watch_);
  std::vector<std::string> logged;
  q.on_timeout([&](const runtime::HandleKey& key, Verb verb, std::uint64_t total) {
    logged.push_back(std::to_string(key.handle_id) + " " +
                     std::string(kVerbNames[static_cast<int>(verb)]) + " " + std::to_string(total));
  });
  q.negotiating(kA);
  EXPECT_EQ(admit(q, kA, Verb::kHangup, "hangup", t0_), Verdict::kHeld);
  EXPECT_EQ(admit(q, kA, Verb::kDetach, "detach", t0_ + milliseconds(2000)), Verdict::kHeld);
  EXPECT_EQ(q.release_due(t0_ + milliseconds(2999)), 0u);
  // The timeout runs from the first request held: both go.
  EXPECT_EQ(q.release_due(t0_ + milliseconds(3000)), 2u);
  EXPECT_EQ(log_.take(), (std::vector<std::string>{"hangup", "detach"}));
  EXPECT_EQ(q.timeouts(), 1u);
  EXPECT_EQ(logged, (std::vector<std::string>{"101 hangup 1"}));
}

TEST_F(HoldQueueTest, BoundsPerHandleAndInAll) {
  HoldQueue q(options(), &watch_);  // 4 per handle, 6 in all
  q.negotiating(kA);
  q.negotiating(kB);
  EXPECT_EQ(admit(q, kA, Verb::kHangup, "A0", t0_), Verdict::kHeld);
  for (int i = 1; i < 4; ++i) EXPECT_EQ(admit(q, kA, Verb::kTrickle, "A", t0_), Verdict::kHeld);
  EXPECT_EQ(admit(q, kA, Verb::kTrickle, "A over", t0_), Verdict::kFull);
  EXPECT_EQ(admit(q, kB, Verb::kHangup, "B0", t0_), Verdict::kHeld);
  EXPECT_EQ(admit(q, kB, Verb::kTrickle, "B1", t0_), Verdict::kHeld);
  EXPECT_EQ(admit(q, kB, Verb::kDetach, "B over", t0_), Verdict::kFull);
  EXPECT_EQ(q.held(), 6u);
  EXPECT_EQ(q.release_all(), 6u);
  EXPECT_EQ(q.held(), 0u);
}

TEST_F(HoldQueueTest, AtMostMaxTrackedHandlesNegotiate) {
  HoldOptions o = options();
  o.max_tracked = 1;
  HoldQueue q(o, &watch_);
  q.negotiating(kA);
  q.negotiating(kB);
  EXPECT_EQ(q.tracked(), 1u);
  EXPECT_EQ(admit(q, kB, Verb::kHangup, "B", t0_), Verdict::kForward);
  q.signal(kA, PcSignal::kUp);
  EXPECT_EQ(q.tracked(), 0u);
}

TEST_F(HoldQueueTest, WithoutTheEventHandlerADetachWaitsForTheHangupEvent) {
  runtime::PcWatch unfed;  // no event handler feeds it
  HoldQueue q(options(), &unfed);
  q.negotiating(kA);
  q.client_candidates(kA);  // the offer's a=candidate lines, or a trickle
  EXPECT_EQ(admit(q, kA, Verb::kHangup, "hangup", t0_), Verdict::kForward);
  EXPECT_EQ(admit(q, kA, Verb::kDetach, "detach", t0_), Verdict::kHeld);
  EXPECT_EQ(q.release_due(Clock::now() + milliseconds(1000)), 0u);
  q.signal(kA, PcSignal::kHangup);  // the core's hangup event passed through the edge
  EXPECT_EQ(q.release_due(Clock::now() + milliseconds(50)), 1u);
  EXPECT_EQ(log_.take(), (std::vector<std::string>{"detach"}));

  // And without a watch at all, the timeout when the hangup event never comes.
  HoldQueue none(options(), nullptr);
  none.negotiating(kB);
  none.client_candidates(kB);
  EXPECT_EQ(admit(none, kB, Verb::kHangup, "B hangup", t0_), Verdict::kForward);
  EXPECT_EQ(admit(none, kB, Verb::kDetach, "B detach", t0_), Verdict::kHeld);
  EXPECT_EQ(none.release_due(t0_ + milliseconds(3000)), 1u);
  EXPECT_EQ(none.timeouts(), 1u);
}

TEST_F(HoldQueueTest, WithoutTheEventHandlerANegotiationWithoutClientCandidatesIsNotHeld) {
  HoldQueue q(options(), nullptr);
  q.negotiating(kA);  // an offer without a=candidate lines, no trickle yet
  EXPECT_EQ(admit(q, kA, Verb::kDetach, "detach", t0_), Verdict::kForward);
  q.client_candidates(kA);
  EXPECT_EQ(admit(q, kA, Verb::kDetach, "detach", t0_), Verdict::kHeld);
  // A new negotiation starts without candidates again.
  q.signal(kA, PcSignal::kHangup);
  EXPECT_EQ(q.release_due(Clock::now() + milliseconds(50)), 1u);
  q.negotiating(kA);
  EXPECT_EQ(admit(q, kA, Verb::kDetach, "again", t0_), Verdict::kForward);
}

TEST_F(HoldQueueTest, ClientCandidatesAreActivityWithTheEventHandlerToo) {
  HoldQueue q(options(), &watch_);
  watch_.sdp(kA);  // the event handler saw no activity (yet)
  q.negotiating(kA);
  q.client_candidates(kA);
  const Clock::time_point now = Clock::now();
  EXPECT_EQ(admit(q, kA, Verb::kDetach, "detach", now), Verdict::kHeld);
  EXPECT_EQ(q.release_due(now + milliseconds(100)), 0u);  // not quiet: held for the pair
  EXPECT_EQ(q.release_all(), 1u);
}

TEST_F(HoldQueueTest, TheEdgesOwnEventsSettleAHandle) {
  HoldQueue q(options(), &watch_);
  q.negotiating(kA);
  EXPECT_TRUE(q.is_negotiating(kA));
  q.signal(kA, PcSignal::kUp);  // webrtcup or media delivered: a pair was selected
  EXPECT_FALSE(q.is_negotiating(kA));
  EXPECT_EQ(admit(q, kA, Verb::kHangup, "hangup", t0_), Verdict::kForward);
  q.negotiating(kB);
  EXPECT_EQ(admit(q, kB, Verb::kDetach, "detach", t0_), Verdict::kHeld);
  q.signal(kB, PcSignal::kDetached);
  EXPECT_EQ(q.release_due(Clock::now() + milliseconds(50)), 1u);
}

TEST_F(HoldQueueTest, ARenegotiationOfASettledPeerConnectionIsNotHeld) {
  HoldQueue q(options(), &watch_);
  watch_.sdp(kA);
  watch_.settled(kA);
  q.negotiating(kA);  // a new offer on the PeerConnection that is up
  EXPECT_EQ(admit(q, kA, Verb::kHangup, "hangup", t0_), Verdict::kForward);
}

TEST_F(HoldQueueTest, ASessionsDestroyWaitsForItsHeldHandles) {
  HoldQueue q(options(), &watch_);
  q.negotiating(kA);
  EXPECT_EQ(admit(q, {11, 0}, Verb::kKeepalive, "keepalive", t0_), Verdict::kForward);
  EXPECT_EQ(admit(q, kA, Verb::kDetach, "detach", t0_), Verdict::kHeld);
  EXPECT_EQ(admit(q, {11, 0}, Verb::kDestroy, "destroy", t0_), Verdict::kHeld);
  EXPECT_EQ(admit(q, {12, 0}, Verb::kDestroy, "other destroy", t0_), Verdict::kForward);
  EXPECT_EQ(q.release_due(Clock::now() + milliseconds(100)), 0u);
  watch_.settled(kA);
  EXPECT_EQ(q.release_due(Clock::now() + milliseconds(100)), 2u);
  EXPECT_EQ(log_.take(), (std::vector<std::string>{"detach", "destroy"}));
}

TEST_F(HoldQueueTest, WhatArrivesWhileAHandleIsReleasedQueuesBehind) {
  HoldQueue q(options(), &watch_);
  q.negotiating(kA);
  HoldQueue::Forward first = [&] {
    log_.forward("hangup")();
    // A request of the handle arriving while its held ones are being forwarded.
    EXPECT_EQ(admit(q, kA, Verb::kDetach, "detach", Clock::now()), Verdict::kHeld);
  };
  ASSERT_EQ(q.admit(kA, Verb::kHangup, t0_, first), Verdict::kHeld);
  watch_.settled(kA);
  EXPECT_EQ(q.release_due(Clock::now() + milliseconds(100)), 2u);
  EXPECT_EQ(log_.take(), (std::vector<std::string>{"hangup", "detach"}));
  // Once drained and settled, requests go straight through again.
  EXPECT_EQ(admit(q, kA, Verb::kMessage, "message", Clock::now()), Verdict::kForward);
}

TEST_F(HoldQueueTest, TheThreadForwardsOnceTheHandleSettles) {
  HoldQueue q(options(), &watch_);
  q.start();
  q.negotiating(kA);
  EXPECT_EQ(admit(q, kA, Verb::kHangup, "hangup", Clock::now()), Verdict::kHeld);
  const Clock::time_point settled_at = Clock::now();
  watch_.settled(kA);
  const Clock::time_point deadline = Clock::now() + milliseconds(2000);
  std::vector<std::string> lines;
  while (lines.empty() && Clock::now() < deadline) {
    lines = log_.take();
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(lines, (std::vector<std::string>{"hangup"}));
  EXPECT_LT(Clock::now() - settled_at, milliseconds(1000));  // well before the 3 s timeout
  q.stop();
}

TEST_F(HoldQueueTest, AGoneSessionsRequestsAreForwarded) {
  HoldQueue q(options(), &watch_);
  q.negotiating(kA);
  EXPECT_EQ(admit(q, kA, Verb::kDetach, "detach", t0_), Verdict::kHeld);
  q.session_gone(kA.session_id);
  EXPECT_EQ(q.release_due(Clock::now()), 1u);
  EXPECT_FALSE(q.is_negotiating(kA));
  EXPECT_EQ(admit(q, kOther, Verb::kDetach, "other", t0_), Verdict::kForward);
}

TEST_F(HoldQueueTest, ASecondQueueOnAWatchWithAListenerFallsBack) {
  HoldQueue first(options(), &watch_);
  HoldQueue second(options(), &watch_);  // the watch would never tell it: the fallback
  second.negotiating(kA);
  second.client_candidates(kA);
  EXPECT_EQ(admit(second, kA, Verb::kHangup, "hangup", t0_), Verdict::kForward);
  EXPECT_EQ(admit(second, kA, Verb::kDetach, "detach", t0_), Verdict::kHeld);
  EXPECT_EQ(second.release_all(), 1u);
}

TEST_F(HoldQueueTest, AQuietNegotiationIsHeldOnlyUntilTheGraceAfterItsOffer) {
  HoldQueue q(options(), &watch_);
  watch_.sdp(kA);  // the SDP seen, no candidate, ICE never connecting
  q.negotiating(kA);
  const Clock::time_point now = Clock::now();
  EXPECT_EQ(admit(q, kA, Verb::kDetach, "detach", now), Verdict::kHeld);
  EXPECT_EQ(q.release_due(now + milliseconds(60)), 1u);  // grace after the offer, still quiet
  EXPECT_EQ(q.timeouts(), 0u);
  // Past the grace at arrival: not held at all.
  watch_.sdp(kB);
  q.negotiating(kB);
  EXPECT_EQ(admit(q, kB, Verb::kDetach, "late", Clock::now() + milliseconds(60)),
            Verdict::kForward);
  EXPECT_EQ(log_.take(), (std::vector<std::string>{"detach"}));
}

TEST_F(HoldQueueTest, IceActivityDuringTheGraceKeepsTheHold) {
  HoldQueue q(options(), &watch_);
  watch_.sdp(kA);
  q.negotiating(kA);
  const Clock::time_point now = Clock::now();
  EXPECT_EQ(admit(q, kA, Verb::kHangup, "hangup", now), Verdict::kHeld);
  watch_.ice_active(kA);  // a trickle, or ICE connecting, reported meanwhile
  EXPECT_EQ(q.release_due(now + milliseconds(60)), 0u);
  EXPECT_EQ(q.release_due(now + milliseconds(2000)), 0u);
  watch_.settled(kA);
  EXPECT_EQ(q.release_due(Clock::now() + milliseconds(50)), 1u);
  // Unknown to the watch (its SDP not reported yet): not quiet, held.
  q.negotiating(kB);
  EXPECT_EQ(admit(q, kB, Verb::kHangup, "B", Clock::now() + milliseconds(60)), Verdict::kHeld);
  EXPECT_EQ(q.release_all(), 1u);
}

TEST_F(HoldQueueTest, ANullTimeoutHoldsNothing) {
  HoldOptions o = options();
  o.timeout = milliseconds(0);
  HoldQueue q(o, &watch_);
  q.negotiating(kA);
  EXPECT_EQ(admit(q, kA, Verb::kHangup, "hangup", t0_), Verdict::kForward);
}

}  // namespace
}  // namespace jmedia::edge

// --- the Edge's part: what starts and ends a negotiation ---------------------------------------

namespace jmedia::edge {
namespace {

ClientRequest request_of(const char* text) {
  auto parsed = parse_request(text);
  EXPECT_TRUE(std::holds_alternative<ClientRequest>(parsed)) << text;
  return std::move(std::get<ClientRequest>(parsed));
}

TEST(EdgeHoldTest, AnOfferTheCoreRefusesStartsNoNegotiation) {
  EdgeConfig config;
  jmedia::testing::FakeCore core;
  EdgeMetrics metrics;
  runtime::PcWatch watch;
  watch.start_feeding();
  Edge edge(config, core, metrics, CandidatePolicy{.max_ice_candidates = 50}, nullptr, &watch);
  // An SDP the core cannot parse: it answers an error and sets no ICE up.
  ClientRequest offer = request_of(
      R"({"janus":"message","session_id":11,"handle_id":101,"transaction":"m","body":{},)"
      R"("jsep":{"type":"offer","sdp":"not an SDP"}})");
  ASSERT_TRUE(offer.jsep);
  edge.forwarding(offer);
  const Pending pending = edge.pending_for(offer, Clock::now());
  JsonPtr error = adopt(json_loads(
      R"({"janus":"error","transaction":"m","error":{"code":465,"reason":"Invalid SDP"}})", 0,
      nullptr));
  edge.answered(Transport::kHttp, pending, error.get());
  // Nothing negotiates on that handle: its detach goes to the core at once.
  ClientRequest detach =
      request_of(R"({"janus":"detach","session_id":11,"handle_id":101,"transaction":"d"})");
  HoldQueue::Forward forward = [] {};
  std::string refusal;
  EXPECT_EQ(edge.hold(Transport::kHttp, detach, Clock::now(), forward, refusal),
            HoldQueue::Verdict::kForward);
}

}  // namespace
}  // namespace jmedia::edge
