// The ICE-candidate ledger of libjmedia_runtime (runtime/candidate_ledger.h): counting against
// the cap, scope, negotiation, the cut queue, the round-robin of unnegotiated handles, the
// metrics, and the feeder and enforcer threads together.
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <dlfcn.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "candidate_ledger.h"

namespace jmedia::runtime {
namespace {

using std::chrono::milliseconds;

constexpr std::string_view kMedia = "janus.plugin.media";
constexpr std::string_view kEcho = "janus.plugin.echotest";

HandleKey key(std::uint64_t handle, std::uint64_t session = 7) {
  return HandleKey{session, handle};
}

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override { ledger_.start_feeding(LedgerConfig{.max_ice_candidates = 3}); }

  // n remote candidates on k; the outcomes in order.
  std::vector<CandidateOutcome> candidates(const HandleKey& k, int n) {
    std::vector<CandidateOutcome> out;
    for (int i = 0; i < n; ++i) out.push_back(ledger_.remote_candidate(k));
    return out;
  }

  double cut(CutReason reason) {
    return static_cast<double>(ledger_.stats().cut[static_cast<std::size_t>(reason)]);
  }

  std::string exposition() { return prometheus::TextSerializer().Serialize(registry_.Collect()); }

  prometheus::Registry registry_;
  CandidateLedger ledger_{registry_};
};

TEST_F(LedgerTest, CountsUpToTheCapThenQueuesTheHandleOnce) {
  ASSERT_TRUE(ledger_.attach_enforcer());
  ASSERT_TRUE(ledger_.attached(key(1), kEcho));
  using O = CandidateOutcome;
  EXPECT_EQ(candidates(key(1), 6), (std::vector<O>{O::kCounted, O::kCounted, O::kCounted,
                                                   O::kQueued, O::kRejected, O::kRejected}));
  EXPECT_EQ(ledger_.stats().rejected, 3u);  // the 4th, 5th and 6th
  auto order = ledger_.next_cut(milliseconds{0});
  ASSERT_TRUE(order);
  EXPECT_EQ(order->key, key(1));
  EXPECT_EQ(order->reason, CutReason::kTooManyCandidates);
  EXPECT_FALSE(order->media);
  EXPECT_EQ(order->count, 4u);
  EXPECT_LE(order->queued_at, std::chrono::steady_clock::now());
  EXPECT_FALSE(ledger_.next_cut(milliseconds{0})) << "queued once";
}

TEST_F(LedgerTest, AMediaHandleIsMarkedSoItsClientCanBeTold) {
  ASSERT_TRUE(ledger_.attach_enforcer());
  ledger_.attached(key(2), kMedia);
  candidates(key(2), 4);
  auto order = ledger_.next_cut(milliseconds{0});
  ASSERT_TRUE(order);
  EXPECT_TRUE(order->media);
}

TEST_F(LedgerTest, MediaScopeLeavesOtherPluginsAlone) {
  ledger_.start_feeding(LedgerConfig{.max_ice_candidates = 3, .scope = CapScope::kMedia});
  ASSERT_TRUE(ledger_.attach_enforcer());
  ledger_.attached(key(1), kEcho);
  ledger_.attached(key(2), kMedia);
  for (const auto outcome : candidates(key(1), 10))
    EXPECT_EQ(outcome, CandidateOutcome::kNotCapped);
  EXPECT_EQ(candidates(key(2), 4).back(), CandidateOutcome::kQueued);
  EXPECT_EQ(ledger_.stats().rejected, 1u);
  auto order = ledger_.next_cut(milliseconds{0});
  ASSERT_TRUE(order);
  EXPECT_EQ(order->key, key(2));
  EXPECT_FALSE(ledger_.next_cut(milliseconds{0}));
  // Only media handles are checked for pending trickles, too.
  ledger_.attached(key(3), kEcho);
  ledger_.attached(key(4), kMedia);
  auto targets = ledger_.unnegotiated(10);
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].key, key(4));
  EXPECT_TRUE(targets[0].media);
}

TEST_F(LedgerTest, WithoutAnEnforcerItOnlyCounts) {
  ledger_.attached(key(1), kEcho);
  using O = CandidateOutcome;
  EXPECT_EQ(candidates(key(1), 5), (std::vector<O>{O::kCounted, O::kCounted, O::kCounted,
                                                   O::kOverNoEnforcer, O::kRejected}));
  EXPECT_EQ(ledger_.stats().rejected, 2u);
  EXPECT_EQ(ledger_.stats().queued, 0u);
  EXPECT_FALSE(ledger_.next_cut(milliseconds{0}));
  EXPECT_FALSE(ledger_.enforced());
}

TEST_F(LedgerTest, ZeroMeansNoCap) {
  ledger_.start_feeding(LedgerConfig{.max_ice_candidates = 0});
  ASSERT_TRUE(ledger_.attach_enforcer());
  ledger_.attached(key(1), kEcho);
  for (const auto outcome : candidates(key(1), 100))
    EXPECT_EQ(outcome, CandidateOutcome::kNotCapped);
  EXPECT_EQ(ledger_.stats().rejected, 0u);
  EXPECT_TRUE(ledger_.unnegotiated(10).empty()) << "nothing to check without a cap";
}

TEST_F(LedgerTest, UnknownHandlesAndAnUnfedLedgerAreIgnored) {
  ASSERT_TRUE(ledger_.attach_enforcer());
  EXPECT_EQ(ledger_.remote_candidate(key(99)), CandidateOutcome::kUntracked);
  ledger_.stop_feeding();
  EXPECT_FALSE(ledger_.fed());
  EXPECT_FALSE(ledger_.attached(key(1), kEcho));
  EXPECT_EQ(ledger_.remote_candidate(key(1)), CandidateOutcome::kUntracked);
  EXPECT_EQ(ledger_.stats().tracked, 0u);
}

TEST_F(LedgerTest, TheSameHandleIdInAnotherSessionIsAnotherHandle) {
  ASSERT_TRUE(ledger_.attach_enforcer());
  ledger_.attached(key(1, 100), kEcho);
  ledger_.attached(key(1, 200), kEcho);
  candidates(key(1, 100), 3);
  candidates(key(1, 200), 3);
  EXPECT_FALSE(ledger_.next_cut(milliseconds{0}));
  EXPECT_EQ(ledger_.stats().tracked, 2u);
}

TEST_F(LedgerTest, AHangupRestartsTheCountOfTheNextPeerConnection) {
  ASSERT_TRUE(ledger_.attach_enforcer());
  ledger_.attached(key(1), kEcho);
  candidates(key(1), 3);
  ledger_.peerconnection_closed(key(1));
  EXPECT_EQ(candidates(key(1), 3).back(), CandidateOutcome::kCounted);
  EXPECT_EQ(ledger_.remote_candidate(key(1)), CandidateOutcome::kQueued);
}

TEST_F(LedgerTest, ADetachedHandleIsForgottenAndItsQueuedCutSkipped) {
  ASSERT_TRUE(ledger_.attach_enforcer());
  ledger_.attached(key(1), kEcho);
  ledger_.attached(key(2), kEcho);
  candidates(key(1), 4);
  candidates(key(2), 4);
  EXPECT_EQ(ledger_.stats().queued, 2u);
  ledger_.detached(key(1));
  EXPECT_EQ(ledger_.stats().tracked, 1u);
  auto order = ledger_.next_cut(milliseconds{0});
  ASSERT_TRUE(order);
  EXPECT_EQ(order->key, key(2));
  EXPECT_FALSE(ledger_.next_cut(milliseconds{0}));
  EXPECT_EQ(ledger_.remote_candidate(key(1)), CandidateOutcome::kUntracked);
  ledger_.detached(key(1));  // twice: harmless
}

TEST_F(LedgerTest, NegotiationNeedsBothSdps) {
  ledger_.attached(key(1), kEcho);
  ledger_.attached(key(2), kEcho);
  ledger_.attached(key(3), kEcho);
  ledger_.remote_sdp(key(1));  // offer in, answer not sent yet: its trickles may still wait
  ledger_.remote_sdp(key(2));
  ledger_.local_sdp(key(2));  // negotiated
  ledger_.local_sdp(key(3));  // our offer out, no answer yet
  std::set<HandleKey> checked;
  for (const auto& target : ledger_.unnegotiated(10)) checked.insert(target.key);
  EXPECT_EQ(checked, (std::set<HandleKey>{key(1), key(3)}));
  // A hangup makes it unnegotiated again: trickles wait for the next offer.
  ledger_.peerconnection_closed(key(2));
  EXPECT_EQ(ledger_.stats().unnegotiated, 3u);
}

TEST_F(LedgerTest, UnnegotiatedHandlesComeRoundRobin) {
  for (std::uint64_t h = 1; h <= 5; ++h) ledger_.attached(key(h), kEcho);
  std::vector<std::uint64_t> seen;
  for (int round = 0; round < 4; ++round) {
    for (const auto& target : ledger_.unnegotiated(2)) seen.push_back(target.key.handle_id);
  }
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 1, 2, 3}));
  EXPECT_EQ(ledger_.unnegotiated(100).size(), 5u) << "never more than there are";
  EXPECT_TRUE(ledger_.unnegotiated(0).empty());
}

// A round is read a slice at a time (the events thread gets the mutex in between): a slice
// holds at most kMaxSlice handles, and a whole round (a sweep) lists each handle once, from
// where the last round stopped, while handles come and go between its slices.
TEST_F(LedgerTest, ARoundIsListedInBoundedSlicesAndASweepListsEachHandleOnce) {
  for (std::uint64_t h = 1; h <= 300; ++h) ledger_.attached(key(h), kEcho);
  CheckRound probe = CandidateLedger::start_round(1000);
  EXPECT_EQ(ledger_.next_slice(probe, 1000).size(), CandidateLedger::kMaxSlice);
  EXPECT_EQ(ledger_.unnegotiated(1000).size(), 300u) << "a whole round, slice by slice";
  EXPECT_LE(ledger_.stats().longest_slice, CandidateLedger::kMaxSlice);

  // The probe listed 1-64, the round 65-300 and 1-64: 65-100 now, and the next round starts
  // after handle 100.
  EXPECT_EQ(ledger_.unnegotiated(36).back().key.handle_id, 100u);
  CheckRound sweep = CandidateLedger::start_round(SIZE_MAX);
  std::vector<std::uint64_t> listed;
  for (int slice = 0; slice < 1000; ++slice) {
    const std::vector<CheckTarget> targets = ledger_.next_slice(sweep, 7);
    if (targets.empty()) break;
    EXPECT_LE(targets.size(), 7u);
    for (const auto& target : targets) listed.push_back(target.key.handle_id);
    if (slice == 2) {
      ledger_.detached(key(101));          // where the sweep began (listed already)
      ledger_.detached(key(200));          // ahead of it: never listed
      ledger_.attached(key(1000), kEcho);  // new, ahead of it: listed
      ledger_.attached(key(50), kEcho);    // there already: listed once
    }
    if (slice == 20) ledger_.detached(key(150));  // listed already
  }
  const std::set<std::uint64_t> unique(listed.begin(), listed.end());
  EXPECT_EQ(unique.size(), listed.size()) << "a handle listed twice";
  EXPECT_EQ(listed.front(), 101u);
  EXPECT_EQ(listed.back(), 100u) << "ends before where it began";
  EXPECT_EQ(unique.count(200), 0u);
  EXPECT_EQ(unique.count(1000), 1u);
  EXPECT_EQ(listed.size(), 300u) << "299 of the first 300 (200 went before its turn), and 1000";
  EXPECT_TRUE(ledger_.next_slice(sweep, 7).empty()) << "over";
}

// The handle a sweep began with, and every one after it, go before the sweep comes round
// again: the sweep still ends once the handles before it are listed.
TEST_F(LedgerTest, ASweepEndsWhenTheHandlesItBeganWithAreGone) {
  for (std::uint64_t h = 1; h <= 5; ++h) ledger_.attached(key(h), kEcho);
  (void)ledger_.unnegotiated(2);  // the next round starts at handle 3
  CheckRound sweep = CandidateLedger::start_round(SIZE_MAX);
  std::vector<std::uint64_t> listed;
  for (int slice = 0; slice < 100; ++slice) {
    const std::vector<CheckTarget> targets = ledger_.next_slice(sweep, 1);
    if (targets.empty()) break;
    listed.push_back(targets.front().key.handle_id);
    if (slice == 2) {
      for (std::uint64_t h = 3; h <= 5; ++h) ledger_.detached(key(h));
    }
  }
  EXPECT_EQ(listed, (std::vector<std::uint64_t>{3, 4, 5, 1, 2}));
}

TEST_F(LedgerTest, APendingTricklesCutIsQueuedOnceAndEndsTheChecks) {
  ledger_.attached(key(1), kMedia);
  EXPECT_FALSE(ledger_.queue_cut(key(1), CutReason::kPendingTrickles, 80)) << "no enforcer";
  ASSERT_TRUE(ledger_.attach_enforcer());
  EXPECT_TRUE(ledger_.queue_cut(key(1), CutReason::kPendingTrickles, 80));
  EXPECT_FALSE(ledger_.queue_cut(key(1), CutReason::kPendingTrickles, 90));
  EXPECT_FALSE(ledger_.queue_cut(key(9), CutReason::kPendingTrickles, 90)) << "unknown handle";
  EXPECT_TRUE(ledger_.unnegotiated(10).empty());
  auto order = ledger_.next_cut(milliseconds{0});
  ASSERT_TRUE(order);
  EXPECT_EQ(order->reason, CutReason::kPendingTrickles);
  EXPECT_EQ(order->count, 80u);
  EXPECT_TRUE(order->media);
  ledger_.count_cut(order->reason);
  EXPECT_EQ(cut(CutReason::kPendingTrickles), 1);
  EXPECT_EQ(cut(CutReason::kTooManyCandidates), 0);
}

TEST_F(LedgerTest, OneEnforcerAtATime) {
  EXPECT_TRUE(ledger_.attach_enforcer());
  EXPECT_FALSE(ledger_.attach_enforcer());
  ledger_.attached(key(1), kEcho);
  candidates(key(1), 4);
  ledger_.detach_enforcer();  // drops the queue
  EXPECT_FALSE(ledger_.enforced());
  EXPECT_EQ(ledger_.stats().queued, 0u);
  EXPECT_TRUE(ledger_.attach_enforcer());
  EXPECT_FALSE(ledger_.next_cut(milliseconds{0}));
}

TEST(Ledger, TheQueueAndTheHandlesAreBounded) {
  prometheus::Registry registry;
  CandidateLedger ledger(registry, /*max_queue=*/2, /*max_tracked=*/4);
  ledger.start_feeding(LedgerConfig{.max_ice_candidates = 1});
  ASSERT_TRUE(ledger.attach_enforcer());
  for (std::uint64_t h = 1; h <= 4; ++h) EXPECT_TRUE(ledger.attached(key(h), kEcho));
  EXPECT_FALSE(ledger.attached(key(5), kEcho)) << "max_tracked";
  using O = CandidateOutcome;
  for (std::uint64_t h = 1; h <= 2; ++h) {
    ledger.remote_candidate(key(h));
    EXPECT_EQ(ledger.remote_candidate(key(h)), O::kQueued);
  }
  ledger.remote_candidate(key(3));
  EXPECT_EQ(ledger.remote_candidate(key(3)), O::kOverQueueFull);
  EXPECT_EQ(ledger.remote_candidate(key(3)), O::kRejected) << "logged once";
  ASSERT_TRUE(ledger.next_cut(milliseconds{0}));
  EXPECT_EQ(ledger.remote_candidate(key(3)), O::kQueued) << "retried once there is room";
}

TEST_F(LedgerTest, MetricsAreInTheRegistryFromTheStart) {
  std::string text = exposition();
  EXPECT_NE(text.find("janus_core_candidates_rejected_total 0"), std::string::npos) << text;
  EXPECT_NE(text.find("janus_core_handles_cut_total{reason=\"too_many_candidates\"} 0"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("janus_core_handles_cut_total{reason=\"pending_trickles\"} 0"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("janus_core_candidate_ledger_handles 0"), std::string::npos) << text;
  ledger_.attached(key(1), kEcho);
  ledger_.attached(key(2), kEcho);
  candidates(key(1), 5);
  ledger_.count_cut(CutReason::kTooManyCandidates);
  text = exposition();
  EXPECT_NE(text.find("janus_core_candidates_rejected_total 2"), std::string::npos) << text;
  EXPECT_NE(text.find("janus_core_handles_cut_total{reason=\"too_many_candidates\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("janus_core_candidate_ledger_handles 2"), std::string::npos) << text;
  ledger_.detached(key(2));
  EXPECT_NE(exposition().find("janus_core_candidate_ledger_handles 1"), std::string::npos);
}

TEST(Ledger, FamiliesLeaveTheRegistryWithTheLedger) {
  prometheus::Registry registry;
  {
    CandidateLedger ledger(registry);
    EXPECT_EQ(registry.Collect().size(), 3u);
  }
  EXPECT_TRUE(registry.Collect().empty());
}

// The event handler feeds and the transport enforces: two dlopen()ed modules, one ledger.
TEST(Ledger, TwoDlopenedModulesShareTheProcessWideLedger) {
  void* a = dlopen(JMEDIA_PROBE_A, RTLD_NOW | RTLD_LOCAL);
  void* b = dlopen(JMEDIA_PROBE_B, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(a, nullptr) << dlerror();
  ASSERT_NE(b, nullptr) << dlerror();
  auto* ledger_a = reinterpret_cast<void* (*)()>(dlsym(a, "jmedia_probe_ledger"));
  auto* ledger_b = reinterpret_cast<void* (*)()>(dlsym(b, "jmedia_probe_ledger"));
  ASSERT_TRUE(ledger_a && ledger_b);
  EXPECT_EQ(ledger_a(), ledger_b());
  EXPECT_EQ(ledger_a(), static_cast<void*>(&candidate_ledger()));
  dlclose(b);
  dlclose(a);
}

TEST_F(LedgerTest, NextCutWaitsAndDetachingTheEnforcerWakesIt) {
  ASSERT_TRUE(ledger_.attach_enforcer());
  ledger_.attached(key(1), kEcho);
  // Times out without an order (bounded).
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(ledger_.next_cut(milliseconds{30}));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, milliseconds{25});
  // An order from another thread wakes it.
  std::thread feeder([&] {
    std::this_thread::sleep_for(milliseconds{20});
    candidates(key(1), 4);
  });
  auto order = ledger_.next_cut(milliseconds{5000});
  feeder.join();
  ASSERT_TRUE(order);
  // Detaching wakes a long wait at once.
  std::thread stopper([&] {
    std::this_thread::sleep_for(milliseconds{20});
    ledger_.detach_enforcer();
  });
  const auto t1 = std::chrono::steady_clock::now();
  EXPECT_FALSE(ledger_.next_cut(milliseconds{10000}));
  stopper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t1, milliseconds{5000});
}

TEST_F(LedgerTest, WaitHangupReturnsOnceThePeerConnectionIsGone) {
  ASSERT_TRUE(ledger_.attach_enforcer());
  ledger_.attached(key(1), kEcho);
  EXPECT_TRUE(ledger_.wait_hangup(key(1), milliseconds{0})) << "no PeerConnection yet";
  ledger_.remote_sdp(key(1));
  EXPECT_FALSE(ledger_.wait_hangup(key(1), milliseconds{20}));
  std::thread events([&] {
    std::this_thread::sleep_for(milliseconds{20});
    ledger_.peerconnection_closed(key(1));
  });
  EXPECT_TRUE(ledger_.wait_hangup(key(1), milliseconds{5000}));
  events.join();
  ledger_.remote_candidate(key(1));  // a new PeerConnection
  std::thread detach([&] {
    std::this_thread::sleep_for(milliseconds{20});
    ledger_.detached(key(1));
  });
  EXPECT_TRUE(ledger_.wait_hangup(key(1), milliseconds{5000}));
  detach.join();
  EXPECT_TRUE(ledger_.wait_hangup(key(99), milliseconds{5000})) << "unknown: nothing to wait for";
}

// The events thread feeds while the enforcer pops cuts and lists unnegotiated handles and a
// scrape reads the metrics (run under ThreadSanitizer too).
TEST(Ledger, FeederEnforcerAndScrapesConcurrently) {
  prometheus::Registry registry;
  CandidateLedger ledger(registry);
  ledger.start_feeding(LedgerConfig{.max_ice_candidates = 5});
  ASSERT_TRUE(ledger.attach_enforcer());
  constexpr std::uint64_t kHandles = 2000;
  std::atomic<bool> fed{false};
  std::thread feeder([&] {
    for (std::uint64_t h = 1; h <= kHandles; ++h) {
      ledger.attached(key(h), h % 2 ? kEcho : kMedia);
      if (h % 3 == 0) {
        ledger.remote_sdp(key(h));
        ledger.local_sdp(key(h));
      }
      for (int c = 0; c < (h % 4 == 0 ? 8 : 2); ++c) ledger.remote_candidate(key(h));
      if (h % 5 == 0) ledger.detached(key(h));
    }
    fed.store(true);
  });
  std::uint64_t cuts = 0;
  std::thread enforcer([&] {
    for (int i = 0; i < 100000; ++i) {
      if (auto order = ledger.next_cut(milliseconds{1})) {
        ledger.count_cut(order->reason);
        ++cuts;
        continue;
      }
      for (const auto& target : ledger.unnegotiated(50)) {
        // Handles that never go over the cap: the two reasons stay apart.
        if (target.key.handle_id % 7 == 0 && target.key.handle_id % 4 != 0) {
          ledger.queue_cut(target.key, CutReason::kPendingTrickles, 6);
        }
      }
      if (fed.load() && ledger.stats().queued == 0) break;
    }
  });
  std::thread scraper([&] {
    for (int i = 0; i < 200 && !fed.load(); ++i) {
      (void)prometheus::TextSerializer().Serialize(registry.Collect());
      (void)ledger.stats();
    }
  });
  feeder.join();
  enforcer.join();
  scraper.join();
  const LedgerStats stats = ledger.stats();
  EXPECT_EQ(stats.tracked, kHandles - kHandles / 5);
  EXPECT_EQ(stats.rejected, (kHandles / 4) * 3);  // 8 candidates each on every 4th handle
  EXPECT_EQ(cuts, stats.cut[0] + stats.cut[1]);
  // Every 4th handle went over; those detached before the enforcer popped them are skipped.
  EXPECT_GE(stats.cut[0], kHandles / 4 - kHandles / 20);
  EXPECT_LE(stats.cut[0], kHandles / 4);
}

}  // namespace
}  // namespace jmedia::runtime
