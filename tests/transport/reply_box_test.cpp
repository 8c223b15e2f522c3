// ReplyBox: where the core's answers to injected admin requests arrive (send_message).
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <initializer_list>
#include <thread>
#include <vector>

#include "../../transport_shared/reply_box.h"

namespace jmedia::transport {
namespace {

using std::chrono::milliseconds;
using Clock = ReplyBox::Clock;

json_t* answer(int n) {
  return json_pack("{s:s,s:i}", "janus", "success", "n", n);
}

TEST(ReplyBox, AnAnswerReachesItsWaiter) {
  ReplyBox box;
  const std::uint64_t id = box.expect();
  EXPECT_NE(id, 0u);
  box.deliver(id, answer(1));
  JsonPtr reply = box.wait(id, Clock::now());
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(json_integer_value(json_object_get(reply.get(), "n")), 1);
  EXPECT_EQ(box.expected(), 0u);
}

TEST(ReplyBox, AnswersFromAnotherThreadWakeTheWaiter) {
  ReplyBox box;
  const std::uint64_t id = box.expect();
  std::thread core([&] {
    std::this_thread::sleep_for(milliseconds{20});
    box.deliver(id, answer(2));
  });
  JsonPtr reply = box.wait(id, Clock::now() + milliseconds{5000});
  core.join();
  ASSERT_NE(reply, nullptr);
}

// The box owns what it is given: a test keeps a reference of its own to each answer and sees
// the box's go (refcount back to 1) in every build, not only under LeakSanitizer.
class Watched {
 public:
  explicit Watched(int n) : reply_(answer(n)) {}
  ~Watched() { json_decref(reply_); }
  Watched(const Watched&) = delete;
  Watched& operator=(const Watched&) = delete;
  json_t* give() { return json_incref(reply_); }  // the box's reference
  std::size_t refs() const { return reply_->refcount; }

 private:
  json_t* reply_;
};

TEST(ReplyBox, UnexpectedLateAndDuplicateAnswersAreFreed) {
  ReplyBox box;
  Watched unexpected(0);
  Watched late(1);
  Watched duplicate(3);
  Watched forgotten_answer(4);
  box.deliver(12345, unexpected.give());  // never expected
  const std::uint64_t id = box.expect();
  EXPECT_EQ(box.wait(id, Clock::now() + milliseconds{10}), nullptr);  // timed out
  box.deliver(id, late.give());                                       // late
  const std::uint64_t other = box.expect();
  box.deliver(other, answer(2));
  box.deliver(other, duplicate.give());  // a second answer to the same id
  EXPECT_NE(box.wait(other, Clock::now()), nullptr);
  const std::uint64_t forgotten = box.expect();
  box.forget(forgotten);
  box.deliver(forgotten, forgotten_answer.give());
  box.deliver(99, nullptr);  // a null answer is ignored
  EXPECT_EQ(box.discarded(), 4u);
  EXPECT_EQ(box.expected(), 0u);
  for (const Watched* w : {&unexpected, &late, &duplicate, &forgotten_answer}) {
    EXPECT_EQ(w->refs(), 1u) << "a discarded answer was not released";
  }
}

TEST(ReplyBox, InterruptWakesEveryWaitUntilResumed) {
  ReplyBox box;
  const std::uint64_t id = box.expect();
  std::thread stopper([&] {
    std::this_thread::sleep_for(milliseconds{20});
    box.interrupt();
  });
  const auto t0 = Clock::now();
  EXPECT_EQ(box.wait(id, Clock::now() + milliseconds{10000}), nullptr);
  stopper.join();
  EXPECT_LT(Clock::now() - t0, milliseconds{5000});
  const std::uint64_t next = box.expect();
  EXPECT_EQ(box.wait(next, Clock::now() + milliseconds{10000}), nullptr) << "still interrupted";
  box.resume();
  const std::uint64_t after = box.expect();
  box.deliver(after, answer(5));
  EXPECT_NE(box.wait(after, Clock::now()), nullptr);
}

TEST(ReplyBox, StoredAnswersAreFreedWithTheBox) {
  Watched stored(6);
  auto box = std::make_unique<ReplyBox>();
  const std::uint64_t id = box->expect();
  box->deliver(id, stored.give());
  EXPECT_EQ(stored.refs(), 2u) << "kept until someone waits for it";
  box.reset();
  EXPECT_EQ(stored.refs(), 1u) << "the stored answer was not released with the box";
}

TEST(ReplyBox, ManyCoreThreadsDeliverConcurrently) {
  ReplyBox box;
  constexpr int kRequests = 400;
  std::vector<std::uint64_t> ids;
  for (int i = 0; i < kRequests; ++i) ids.push_back(box.expect());
  std::vector<std::thread> core;
  for (int t = 0; t < 4; ++t) {
    core.emplace_back([&, t] {
      for (int i = t; i < kRequests; i += 4) box.deliver(ids[i], answer(i));
    });
  }
  int got = 0;
  for (int i = 0; i < kRequests; ++i) {
    JsonPtr reply = box.wait(ids[i], Clock::now() + milliseconds{5000});
    if (reply && json_integer_value(json_object_get(reply.get(), "n")) == i) ++got;
  }
  for (auto& thread : core) thread.join();
  EXPECT_EQ(got, kRequests);
}

}  // namespace
}  // namespace jmedia::transport
