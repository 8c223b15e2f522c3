#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <vector>

#include "../../plugin/work_queue.h"
#include "log_capture.h"

namespace jmedia {
namespace {

using namespace std::chrono_literals;

// A gate that holds workers until opened, so the queue can be filled deterministically.
struct Gate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  void wait() {
    std::unique_lock lock(mutex);
    cv.wait_for(lock, 10s, [&] { return open; });
  }
  void release() {
    {
      std::lock_guard lock(mutex);
      open = true;
    }
    cv.notify_all();
  }
};

TEST(WorkQueue, RunsJobsInOrderPerAffinity) {
  WorkQueue queue(2, 100);
  std::mutex mutex;
  std::vector<int> seen;
  std::promise<void> done;
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(queue.push(7,
                         [&, i] {
                           std::lock_guard lock(mutex);
                           seen.push_back(i);
                           if (i == 49) done.set_value();
                         }),
              WorkQueue::PushResult::kQueued);
  }
  ASSERT_EQ(done.get_future().wait_for(10s), std::future_status::ready);
  std::lock_guard lock(mutex);
  ASSERT_EQ(seen.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(seen[i], i);
}

TEST(WorkQueue, RefusesWhenFullAndAcceptsAgainAfter) {
  WorkQueue queue(1, 3);
  Gate gate;
  std::atomic<int> ran{0};
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(queue.push(0,
                         [&] {
                           gate.wait();
                           ++ran;
                         }),
              WorkQueue::PushResult::kQueued);
  }
  EXPECT_EQ(queue.depth(), 3u);
  EXPECT_EQ(queue.push(0, [&] { ++ran; }), WorkQueue::PushResult::kFull);
  gate.release();
  for (int i = 0; i < 10000 && queue.depth() != 0; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(ran.load(), 3);
  EXPECT_EQ(queue.depth(), 0u);
  std::promise<void> done;
  EXPECT_EQ(queue.push(0, [&] { done.set_value(); }), WorkQueue::PushResult::kQueued);
  EXPECT_EQ(done.get_future().wait_for(10s), std::future_status::ready);
}

TEST(WorkQueue, StopDropsPendingJobsAndReleasesWhatTheyHold) {
  auto queue = std::make_unique<WorkQueue>(1, 10);
  Gate gate;
  auto held = std::make_shared<int>(1);
  std::weak_ptr<int> watch = held;
  std::promise<void> started;
  ASSERT_EQ(queue->push(0,
                        [&] {
                          started.set_value();
                          gate.wait();
                        }),
            WorkQueue::PushResult::kQueued);
  ASSERT_EQ(started.get_future().wait_for(10s), std::future_status::ready);
  ASSERT_EQ(queue->push(0, [held] { FAIL() << "a dropped job ran"; }),
            WorkQueue::PushResult::kQueued);
  held.reset();
  EXPECT_FALSE(watch.expired());
  std::thread opener([&] {
    std::this_thread::sleep_for(20ms);
    gate.release();
  });
  queue->stop();
  opener.join();
  EXPECT_TRUE(watch.expired());
  EXPECT_EQ(queue->depth(), 0u);
  EXPECT_EQ(queue->push(0, [] {}), WorkQueue::PushResult::kStopped);
}

TEST(WorkQueue, AJobThatThrowsDoesNotKillTheWorker) {
  testing::LogCapture log;
  WorkQueue queue(1, 10);
  ASSERT_EQ(queue.push(0, [] { throw std::runtime_error("boom"); }),
            WorkQueue::PushResult::kQueued);
  std::promise<void> done;
  ASSERT_EQ(queue.push(0, [&] { done.set_value(); }), WorkQueue::PushResult::kQueued);
  EXPECT_EQ(done.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(log.contains("worker: job: unexpected exception: boom"));
}

}  // namespace
}  // namespace jmedia
