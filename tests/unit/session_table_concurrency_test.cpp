// The session table under concurrent insert/lookup/erase (run under ThreadSanitizer in CI).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "../../plugin/session_table.h"
#include "fake_host.h"

namespace jmedia {
namespace {

using testing::FakeHost;

TEST(SessionTableConcurrency, ManyThreadsInsertLookupErase) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 2000;
  FakeHost host;
  SessionTable table(32);
  std::vector<janus_plugin_session*> handles;
  for (int i = 0; i < kThreads * kPerThread; ++i) handles.push_back(host.new_handle());

  std::atomic<int> found{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        janus_plugin_session* handle = handles[t * kPerThread + i];
        auto session = std::make_shared<MediaSession>(host, handle,
                                                      std::to_string(t) + ":" + std::to_string(i));
        ASSERT_TRUE(table.add(session));
        // Look up our own and a neighbour's (which may or may not exist yet).
        if (table.find(handle) == session) ++found;
        (void)table.find(handles[((t + 1) % kThreads) * kPerThread + i]);
        (void)table.size();
        if (i % 2 == 0) {
          ASSERT_EQ(table.remove(handle), session);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(refused.load(), 0);
  EXPECT_EQ(found.load(), kThreads * kPerThread);
  EXPECT_EQ(table.size(), static_cast<std::size_t>(kThreads * kPerThread / 2));
  auto rest = table.remove_all();
  EXPECT_EQ(rest.size(), static_cast<std::size_t>(kThreads * kPerThread / 2));
  rest.clear();
  for (auto* handle : handles) EXPECT_EQ(host.references(handle), 0);
}

TEST(SessionTableConcurrency, LimitHoldsUnderContention) {
  constexpr std::size_t kLimit = 100;
  SessionTable table(8);
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (table.reserve_active(kLimit)) ++granted;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(granted.load(), static_cast<int>(kLimit));
  EXPECT_EQ(table.active(), kLimit);
}

}  // namespace
}  // namespace jmedia
