// The edge's pure bounds: token bucket and abuse window, connection counts, outgoing queues,
// WebSocket message assembly, ICE-candidate counting.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "../../edge/candidate_guard.h"
#include "../../edge/limits.h"
#include "../../edge/message_assembler.h"
#include "../../edge/outbox.h"

namespace jmedia::edge {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(EdgeBoundsTest, TheBucketGivesTheBurstThenTheRate) {
  const Clock::time_point t0 = Clock::now();
  TokenBucket bucket(100, 200, t0);
  int taken = 0;
  while (bucket.take(t0)) ++taken;
  EXPECT_EQ(taken, 200);
  EXPECT_FALSE(bucket.take(t0 + milliseconds(5)));  // half a token
  EXPECT_TRUE(bucket.take(t0 + milliseconds(10)));  // one token after 10 ms at 100/s
  EXPECT_FALSE(bucket.take(t0 + milliseconds(10)));
  EXPECT_FALSE(bucket.full(t0 + seconds(1)));
  EXPECT_TRUE(bucket.full(t0 + seconds(3)));  // refilled, never beyond the burst
  taken = 0;
  while (bucket.take(t0 + seconds(3))) ++taken;
  EXPECT_EQ(taken, 200);
}

TEST(EdgeBoundsTest, AClientStillOverTheRateAfterTheAbuseWindowIsClosed) {
  const Clock::time_point t0 = Clock::now();
  RateGuard guard(10, 10, seconds(2), t0);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(guard.admit(t0), RateGuard::Verdict::kAdmit);
  EXPECT_EQ(guard.admit(t0), RateGuard::Verdict::kRefuse);
  // Flooding on: each refill lets one through, the rest is refused, until the window is over.
  Clock::time_point now = t0;
  RateGuard::Verdict last = RateGuard::Verdict::kAdmit;
  for (int i = 0; i < 1000 && last != RateGuard::Verdict::kClose; ++i) {
    now += milliseconds(10);
    last = guard.admit(now);
  }
  EXPECT_EQ(last, RateGuard::Verdict::kClose);
  EXPECT_GE(now - t0, seconds(2));
  EXPECT_LT(now - t0, seconds(2) + milliseconds(20));
}

TEST(EdgeBoundsTest, AClientThatBurstsOnceAndCalmsDownIsNotClosed) {
  const Clock::time_point t0 = Clock::now();
  RateGuard guard(10, 10, seconds(2), t0);
  for (int i = 0; i < 10; ++i) guard.admit(t0);
  EXPECT_EQ(guard.admit(t0), RateGuard::Verdict::kRefuse);
  // Quiet long enough for the bucket to refill: the streak is over.
  EXPECT_EQ(guard.admit(t0 + seconds(3)), RateGuard::Verdict::kAdmit);
  for (int i = 0; i < 9; ++i) guard.admit(t0 + seconds(3));
  EXPECT_EQ(guard.admit(t0 + seconds(3)), RateGuard::Verdict::kRefuse);  // a new streak
  EXPECT_EQ(guard.admit(t0 + seconds(3) + milliseconds(1)), RateGuard::Verdict::kRefuse);
}

TEST(EdgeBoundsTest, ConnectionsAreCountedInAllAndPerAddress) {
  ConnectionCounter counter(3, 2);
  EXPECT_TRUE(counter.open("127.0.0.1"));
  EXPECT_TRUE(counter.open("127.0.0.1"));
  EXPECT_FALSE(counter.open("127.0.0.1"));  // per address
  EXPECT_TRUE(counter.open("127.0.0.2"));
  EXPECT_FALSE(counter.open("127.0.0.3"));  // in all
  EXPECT_EQ(counter.total(), 3u);
  counter.close("127.0.0.1");
  EXPECT_EQ(counter.from("127.0.0.1"), 1u);
  EXPECT_TRUE(counter.open("127.0.0.3"));
  counter.close("never-opened");  // ignored
  EXPECT_EQ(counter.total(), 3u);
}

TEST(EdgeBoundsTest, AnOutboxOverItsCountDropsEverythingAndCloses) {
  std::atomic<std::int64_t> queued{0};
  Outbox box({.max_messages = 3, .max_bytes = 1 << 20, .send_timeout = seconds(10)}, &queued);
  const Clock::time_point now = Clock::now();
  EXPECT_EQ(box.push("a", now), Outbox::Push::kQueuedFirst);
  EXPECT_EQ(box.push("bb", now), Outbox::Push::kQueued);
  EXPECT_EQ(box.push("ccc", now), Outbox::Push::kQueued);
  EXPECT_EQ(queued.load(), 6);
  EXPECT_EQ(box.push("d", now), Outbox::Push::kOverflow);
  EXPECT_TRUE(box.closed());
  EXPECT_EQ(box.size(), 0u);
  EXPECT_EQ(queued.load(), 0);
  EXPECT_EQ(box.push("e", now), Outbox::Push::kClosed);
  EXPECT_EQ(queued.load(), 0);
}

TEST(EdgeBoundsTest, AnOutboxOverItsBytesOrItsSendTimeoutOverflows) {
  const Clock::time_point now = Clock::now();
  {
    Outbox box({.max_messages = 100, .max_bytes = 10, .send_timeout = seconds(10)}, nullptr);
    EXPECT_EQ(box.push("123456", now), Outbox::Push::kQueuedFirst);
    EXPECT_EQ(box.push("1234", now), Outbox::Push::kQueued);
    EXPECT_EQ(box.push("1", now), Outbox::Push::kOverflow);
  }
  {
    Outbox box({.max_messages = 100, .max_bytes = 10, .send_timeout = seconds(10)}, nullptr);
    // One message larger than the bound goes into an empty box...
    EXPECT_EQ(box.push(std::string(50, 'x'), now), Outbox::Push::kQueuedFirst);
    Outgoing out;
    EXPECT_TRUE(box.pop(out));
    EXPECT_EQ(out.text.size(), 50u);
    EXPECT_FALSE(box.pop(out));
  }
  {
    Outbox box({.max_messages = 100, .max_bytes = 1000, .send_timeout = milliseconds(100)},
               nullptr);
    EXPECT_EQ(box.push("a", now), Outbox::Push::kQueuedFirst);
    EXPECT_FALSE(box.expired(now + milliseconds(99)));
    EXPECT_TRUE(box.expired(now + milliseconds(100)));
    EXPECT_EQ(box.push("b", now + milliseconds(100)), Outbox::Push::kOverflow);
  }
}

TEST(EdgeBoundsTest, AnOutboxPopsInOrder) {
  Outbox box({.max_messages = 10, .max_bytes = 100, .send_timeout = seconds(1)}, nullptr);
  const Clock::time_point now = Clock::now();
  for (const char* text : {"1", "2", "3", "4"}) box.push(text, now);
  std::vector<Outgoing> some;
  EXPECT_EQ(box.pop_some(some, 3), 3u);
  ASSERT_EQ(some.size(), 3u);
  EXPECT_EQ(some[0].text + some[1].text + some[2].text, "123");
  Outgoing out;
  ASSERT_TRUE(box.pop(out));
  EXPECT_EQ(out.text, "4");
  EXPECT_EQ(box.bytes(), 0u);
}

TEST(EdgeBoundsTest, PushesFromManyThreadsAreAllCountedOrAllDropped) {
  std::atomic<std::int64_t> queued{0};
  Outbox box({.max_messages = 1000000, .max_bytes = 1 << 30, .send_timeout = seconds(60)}, &queued);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&box] {
      for (int i = 0; i < 2000; ++i) box.push("0123456789", Clock::now());
    });
  }
  std::size_t popped = 0;
  Outgoing out;
  while (popped < 8000) {
    if (box.pop(out)) ++popped;
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(popped, 8000u);
  EXPECT_EQ(queued.load(), 0);
}

TEST(EdgeBoundsTest, AMessageInOnePieceIsNotCopied) {
  MessageAssembler assembler(100);
  const std::string text = R"({"janus":"ping"})";
  ASSERT_EQ(assembler.add(text, 0, true), MessageAssembler::Result::kComplete);
  EXPECT_EQ(assembler.message().data(), text.data());
  EXPECT_EQ(assembler.buffered(), 0u);
}

TEST(EdgeBoundsTest, PiecesAndFramesMakeOneMessage) {
  MessageAssembler assembler(100);
  EXPECT_EQ(assembler.add("ab", 3, false), MessageAssembler::Result::kMore);   // frame 1
  EXPECT_EQ(assembler.add("cde", 0, false), MessageAssembler::Result::kMore);  // its end
  EXPECT_EQ(assembler.add("fg", 0, true), MessageAssembler::Result::kComplete);
  EXPECT_EQ(assembler.message(), "abcdefg");
  EXPECT_EQ(assembler.add("next", 0, true), MessageAssembler::Result::kComplete);
  EXPECT_EQ(assembler.message(), "next");
  EXPECT_EQ(assembler.buffered(), 0u);
}

TEST(EdgeBoundsTest, AMessageOverTheCapIsRefusedBeforeItIsBuffered) {
  MessageAssembler assembler(1000);
  // The first piece of a 200 MB frame: refused at once, nothing kept.
  EXPECT_EQ(assembler.add(std::string(100, 'x'), 200u << 20, true),
            MessageAssembler::Result::kTooBig);
  EXPECT_EQ(assembler.buffered(), 0u);
  // Frames that add up past the cap: refused at the piece that would cross it.
  EXPECT_EQ(assembler.add(std::string(600, 'x'), 0, false), MessageAssembler::Result::kMore);
  EXPECT_EQ(assembler.add(std::string(300, 'x'), 200, false), MessageAssembler::Result::kTooBig);
  EXPECT_EQ(assembler.buffered(), 0u);
  // Exactly the cap is fine.
  EXPECT_EQ(assembler.add(std::string(400, 'x'), 600, false), MessageAssembler::Result::kMore);
  EXPECT_EQ(assembler.add(std::string(600, 'x'), 0, true), MessageAssembler::Result::kComplete);
  EXPECT_EQ(assembler.message().size(), 1000u);
}

runtime::HandleKey key(std::uint64_t session, std::uint64_t handle) {
  return {session, handle};
}

TEST(EdgeBoundsTest, CandidatesUpToTheCapAreAdmittedAndNotOneMore) {
  CandidateGuard guard({.max_ice_candidates = 50, .scope = runtime::CapScope::kAll});
  EXPECT_TRUE(guard.reserve(key(1, 2), 20).admitted);
  EXPECT_TRUE(guard.reserve(key(1, 2), 30).admitted);
  const auto refused = guard.reserve(key(1, 2), 1);
  EXPECT_FALSE(refused.admitted);
  EXPECT_TRUE(refused.first_refusal);
  EXPECT_EQ(refused.counted, 50u);
  EXPECT_FALSE(guard.reserve(key(1, 2), 1).first_refusal);  // told once
  EXPECT_TRUE(guard.reserve(key(1, 3), 50).admitted);       // handles are apart
}

TEST(EdgeBoundsTest, ATrickleOverTheCapAloneIsRefusedWhole) {
  CandidateGuard guard({.max_ice_candidates = 50, .scope = runtime::CapScope::kAll});
  const auto refused = guard.reserve(key(1, 2), 20000);
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(refused.counted, 0u);
  EXPECT_TRUE(guard.reserve(key(1, 2), 50).admitted);  // nothing of it was counted
}

TEST(EdgeBoundsTest, ANewPeerConnectionStartsFromZero) {
  CandidateGuard guard({.max_ice_candidates = 10, .scope = runtime::CapScope::kAll});
  EXPECT_TRUE(guard.reserve(key(1, 2), 10).admitted);
  EXPECT_FALSE(guard.reserve(key(1, 2), 1).admitted);
  guard.peerconnection_closed(key(1, 2));
  EXPECT_TRUE(guard.reserve(key(1, 2), 10).admitted);
  const auto refused = guard.reserve(key(1, 2), 1);
  EXPECT_TRUE(refused.first_refusal);  // a new PeerConnection: told again
}

TEST(EdgeBoundsTest, CandidatesTheCoreRefusedAreGivenBack) {
  CandidateGuard guard({.max_ice_candidates = 10, .scope = runtime::CapScope::kAll});
  guard.attached(key(1, 2), "janus.plugin.echotest");
  EXPECT_TRUE(guard.reserve(key(1, 2), 8).admitted);
  guard.release(key(1, 2), 8);
  EXPECT_TRUE(guard.reserve(key(1, 2), 10).admitted);
  // A handle only requests created (never attached here) is forgotten once back at zero.
  EXPECT_TRUE(guard.reserve(key(9, 9), 3).admitted);
  EXPECT_EQ(guard.tracked(), 2u);
  guard.release(key(9, 9), 3);
  EXPECT_EQ(guard.tracked(), 1u);
}

TEST(EdgeBoundsTest, ScopeMediaCapsOnlyTheMediaPluginsHandles) {
  CandidateGuard guard({.max_ice_candidates = 5, .scope = runtime::CapScope::kMedia});
  guard.attached(key(1, 1), "janus.plugin.media");
  guard.attached(key(1, 2), "janus.plugin.echotest");
  EXPECT_FALSE(guard.reserve(key(1, 1), 6).admitted);
  EXPECT_TRUE(guard.reserve(key(1, 2), 6).admitted);
  EXPECT_TRUE(guard.reserve(key(1, 3), 600).admitted);  // unknown plugin: not capped
}

TEST(EdgeBoundsTest, DetachedHandlesAndGoneSessionsAreForgotten) {
  CandidateGuard guard({.max_ice_candidates = 5, .scope = runtime::CapScope::kAll});
  guard.attached(key(1, 1), "a");
  guard.attached(key(1, 2), "a");
  guard.attached(key(2, 1), "a");
  EXPECT_EQ(guard.tracked(), 3u);
  guard.detached(key(1, 1));
  EXPECT_EQ(guard.tracked(), 2u);
  guard.session_gone(1);
  EXPECT_EQ(guard.tracked(), 1u);
  EXPECT_TRUE(guard.reserve(key(2, 1), 5).admitted);
}

TEST(EdgeBoundsTest, NoCapCountsNothing) {
  CandidateGuard guard({.max_ice_candidates = 0, .scope = runtime::CapScope::kAll});
  EXPECT_TRUE(guard.reserve(key(1, 1), 1000000).admitted);
  EXPECT_EQ(guard.tracked(), 0u);
}

}  // namespace
}  // namespace jmedia::edge
