// ModuleSlot (common/module_slot.h): the state of a module between init() and destroy(), freed
// only once no callback is inside, and left allocated (never freed under a callback) when one
// stays inside longer than the bound.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include "../../common/module_slot.h"
#include "log_capture.h"

namespace jmedia {
namespace {

using namespace std::chrono_literals;
using testing::LogCapture;

struct State {
  explicit State(std::atomic<int>* freed_counter) : freed(freed_counter) {}
  ~State() {
    alive = false;
    ++*freed;
  }
  std::atomic<int>* freed;
  std::atomic<bool> alive{true};
  std::atomic<std::uint64_t> uses{0};
};

TEST(ModuleSlot, EmptyUntilInstalledAndAfterRetired) {
  std::atomic<int> freed{0};
  ModuleSlot<State> slot;
  EXPECT_FALSE(slot.enter());
  EXPECT_FALSE(slot.retire(1s)) << "nothing to retire";
  ASSERT_TRUE(slot.install(std::make_unique<State>(&freed)));
  EXPECT_FALSE(slot.install(std::make_unique<State>(&freed))) << "one state at a time";
  EXPECT_EQ(freed.load(), 1) << "the refused one is freed";
  {
    auto entry = slot.enter();
    ASSERT_TRUE(entry);
    EXPECT_TRUE(entry->alive.load());
    EXPECT_EQ(slot.inside(), 1u);
  }
  EXPECT_EQ(slot.inside(), 0u);
  EXPECT_TRUE(slot.retire(1s));
  EXPECT_EQ(freed.load(), 2);
  EXPECT_FALSE(slot.enter());
  EXPECT_EQ(slot.inside(), 0u);
  // A new state after retire (init after destroy).
  ASSERT_TRUE(slot.install(std::make_unique<State>(&freed)));
  EXPECT_TRUE(slot.enter());
  EXPECT_TRUE(slot.retire(1s));
  EXPECT_EQ(freed.load(), 3);
}

TEST(ModuleSlot, RetireWaitsForTheCallbackInside) {
  LogCapture log;
  std::atomic<int> freed{0};
  ModuleSlot<State> slot;
  ASSERT_TRUE(slot.install(std::make_unique<State>(&freed)));
  std::promise<void> entered;
  std::promise<void> leave;
  std::atomic<bool> alive_at_leave{false};
  std::thread callback([&] {
    auto entry = slot.enter();
    entered.set_value();
    leave.get_future().wait_for(20s);
    alive_at_leave = entry->alive.load();
    ++entry->uses;
  });
  entered.get_future().wait();
  std::atomic<bool> retired{false};
  std::thread destroy([&] { retired = slot.retire(10s); });
  ASSERT_TRUE(log.wait_for("destroy: waiting for 1 callbacks still running"));
  EXPECT_FALSE(slot.enter()) << "new callbacks find nothing once retire() began";
  EXPECT_EQ(freed.load(), 0) << "freed under the callback inside";
  leave.set_value();
  callback.join();
  destroy.join();
  EXPECT_TRUE(alive_at_leave.load());
  EXPECT_TRUE(retired.load());
  EXPECT_EQ(freed.load(), 1);
}

TEST(ModuleSlot, AfterTheBoundTheStateIsLeftNotFreed) {
  LogCapture log;
  std::atomic<int> freed{0};
  {
    ModuleSlot<State> slot;
    ASSERT_TRUE(slot.install(std::make_unique<State>(&freed)));
    {
      auto stuck = slot.enter();
      EXPECT_FALSE(slot.retire(50ms));
      EXPECT_TRUE(log.contains("destroy: callbacks still running after 50 ms"));
      EXPECT_EQ(freed.load(), 0);
      EXPECT_TRUE(stuck->alive.load()) << "the late callback still has its state";
      ++stuck->uses;
    }
    EXPECT_EQ(freed.load(), 0);
    // The slot frees what it left once nothing is inside (here: when it goes).
  }
  EXPECT_EQ(freed.load(), 1);
}

// Callbacks on many threads while the state is installed and retired over and over: a callback
// never sees a freed state (ASan/TSan builds check the memory too).
TEST(ModuleSlot, CallbacksOnManyThreadsNeverSeeAFreedState) {
  std::atomic<int> freed{0};
  ModuleSlot<State> slot;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> reached{0};
  std::atomic<std::uint64_t> dead{0};
  std::vector<std::thread> threads;
  threads.reserve(3);
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        if (auto entry = slot.enter()) {
          if (!entry->alive.load()) ++dead;
          entry->uses.fetch_add(1, std::memory_order_relaxed);
          ++reached;
        }
      }
    });
  }
  int rounds = 0;
  for (; rounds < 50; ++rounds) {
    ASSERT_TRUE(slot.install(std::make_unique<State>(&freed)));
    const std::uint64_t before = reached.load();
    for (int i = 0; i < 100000 && reached.load() == before; ++i) std::this_thread::yield();
    ASSERT_TRUE(slot.retire(10s));
  }
  stop = true;
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(dead.load(), 0u);
  EXPECT_EQ(freed.load(), rounds);
  EXPECT_GE(reached.load(), static_cast<std::uint64_t>(rounds));
  EXPECT_EQ(slot.inside(), 0u);
}

TEST(ModuleSlot, ThreadsGetTheirOwnStripes) {
  // Round robin: threads that ask one after another get different stripes.
  std::vector<std::size_t> stripes(8);
  std::vector<std::thread> threads;
  threads.reserve(stripes.size());
  for (std::size_t& stripe : stripes) {
    threads.emplace_back([&stripe] { stripe = thread_stripe(1u << 20); });
  }
  for (auto& thread : threads) thread.join();
  std::sort(stripes.begin(), stripes.end());
  EXPECT_EQ(std::adjacent_find(stripes.begin(), stripes.end()), stripes.end());
  EXPECT_EQ(thread_stripe(1u << 20), thread_stripe(1u << 20)) << "a thread keeps its stripe";
}

}  // namespace
}  // namespace jmedia
