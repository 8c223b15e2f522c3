// RwLock and ShardedMap under threads (run under ThreadSanitizer in CI): the lock excludes
// writers from readers and from each other, and pages stay ordered while entries come and go.
#include <gtest/gtest.h>

#include <ctime>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "../../plugin/rw_lock.h"
#include "../../plugin/sharded_map.h"

namespace jmedia {
namespace {

TEST(RwLock, WritersExcludeReadersAndEachOther) {
  RwLock lock;
  long a = 0;  // plain: only the lock orders them (TSan checks it)
  long b = 0;
  std::atomic<long> torn{0};
  std::atomic<long> reads{0};
  std::vector<std::thread> threads;
  threads.reserve(6);
  for (int w = 0; w < 3; ++w) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        std::unique_lock guard(lock);
        ++a;
        ++b;
      }
    });
  }
  for (int r = 0; r < 3; ++r) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        std::shared_lock guard(lock);
        if (a != b) ++torn;
        ++reads;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(reads.load(), 60000);
  EXPECT_EQ(a, 60000);
  EXPECT_EQ(b, 60000);
}

// CPU time the calling thread has used.
std::chrono::nanoseconds thread_cpu_time() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
}

// Runs hold() while it holds the lock as the holder (exclusive or shared), with `waiters`
// threads (every other one a writer) queued on it; returns the CPU time those waiters used
// until each got the lock. The holder sleeps inside the lock: what a holder preempted on a
// busy machine looks like to the waiters.
template <typename Hold>
std::chrono::nanoseconds waiters_cpu_time(RwLock& lock, int waiters, Hold hold) {
  std::atomic<int> queued{0};
  std::atomic<int> got{0};
  std::atomic<long long> cpu_ns{0};
  std::vector<std::thread> threads;
  std::promise<void> holding;
  std::thread holder([&] {
    hold([&] { holding.set_value(); },
         [&] {
           // Sleep inside the lock until every waiter is about to wait, then some more.
           for (int i = 0; i < 5000 && queued.load() < waiters; ++i) {
             std::this_thread::sleep_for(std::chrono::milliseconds(1));
           }
           std::this_thread::sleep_for(std::chrono::milliseconds(300));
         });
  });
  holding.get_future().wait();
  threads.reserve(waiters);
  for (int w = 0; w < waiters; ++w) {
    threads.emplace_back([&, w] {
      const auto before = thread_cpu_time();
      ++queued;
      if (w % 2 == 0) {
        std::unique_lock guard(lock);
        cpu_ns += (thread_cpu_time() - before).count();
      } else {
        std::shared_lock guard(lock);
        cpu_ns += (thread_cpu_time() - before).count();
      }
      ++got;
    });
  }
  holder.join();
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(got.load(), waiters);
  return std::chrono::nanoseconds(cpu_ns.load());
}

// A waiter must not burn CPU while the holder is off the CPU: spinning briefly is fine, a
// yield loop is not (it keeps every waiter runnable and fighting the holder for the CPU).
constexpr auto kWaitersCpuBound = std::chrono::milliseconds(30);  // of 4 x 300 ms waited

TEST(RwLock, WaitersSleepWhileAWriterHoldsIt) {
  RwLock lock;
  const auto cpu = waiters_cpu_time(lock, 4, [&](auto held, auto inside) {
    std::unique_lock guard(lock);
    held();
    inside();
  });
  EXPECT_LT(cpu, kWaitersCpuBound) << "4 waiters used " << cpu.count() / 1000 << " us of CPU";
}

TEST(RwLock, AWriterWaitingForReadersSleepsAndSoDoReadersBehindIt) {
  RwLock lock;
  const auto cpu = waiters_cpu_time(lock, 4, [&](auto held, auto inside) {
    std::shared_lock guard(lock);
    held();
    inside();
  });
  EXPECT_LT(cpu, kWaitersCpuBound) << "4 waiters used " << cpu.count() / 1000 << " us of CPU";
}

// Waiters that park must all be woken: holders that sleep inside the lock now and then send
// the others to the slow path over and over. A lost wake-up hangs; the bound turns that into
// a failure.
TEST(RwLock, NoWakeUpIsLostWhenWaitersPark) {
  RwLock lock;
  long value = 0;
  std::atomic<long> reads{0};
  auto run = std::async(std::launch::async, [&] {
    std::vector<std::thread> threads;
    threads.reserve(6);
    for (int t = 0; t < 6; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 300; ++i) {
          if (t % 3 == 0) {
            std::unique_lock guard(lock);
            ++value;
            if (i % 16 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
          } else {
            std::shared_lock guard(lock);
            if (value >= 0) ++reads;
            if (i % 32 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
          }
        }
      });
    }
    for (auto& thread : threads) thread.join();
  });
  if (run.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    ADD_FAILURE() << "lock waiters still blocked after 60 s: a wake-up was lost";
    std::abort();  // the threads cannot be joined
  }
  EXPECT_EQ(value, 600);
  EXPECT_EQ(reads.load(), 1200);
}

TEST(ShardedMapConcurrency, PagesStayOrderedWhileEntriesComeAndGo) {
  using Ordered = ShardedMap<std::string, int, std::hash<std::string>, std::map<std::string, int>>;
  Ordered map(32);
  auto key = [](int n) {
    char text[17];
    std::snprintf(text, sizeof text, "%016x", static_cast<unsigned>(n) * 2654435761u);
    return std::string(text);
  };
  for (int i = 0; i < 2000; i += 2) map.insert(key(i), i);  // the even ones stay throughout
  std::atomic<bool> stop{false};
  std::atomic<long> bad{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      for (int round = 0; round < 20; ++round) {
        for (int i = 1 + 2 * w; i < 2000; i += 4) map.insert(key(i), i);
        for (int i = 1 + 2 * w; i < 2000; i += 4) map.erase(key(i));
      }
    });
  }
  // One reader pages everything, the other only the keys in a token's ranges ("0*".."7*").
  const KeyRanges ranges =
      normalise({prefix_range("0"), prefix_range("1"), prefix_range("2"), prefix_range("3"),
                 prefix_range("4"), prefix_range("5"), prefix_range("6"), prefix_range("7")});
  int evens_in_ranges = 0;
  for (int i = 0; i < 2000; i += 2) evens_in_ranges += contains(ranges, key(i)) ? 1 : 0;
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      const bool ranged = r == 1;
      int pages = 0;
      while (!stop.load() && pages < 100000) {
        std::string cursor;
        bool more = true;
        int evens = 0;
        for (int guard = 0; more && guard < 3000; ++guard, ++pages) {
          auto [entries, has_more] =
              ranged ? map.page_in_ranges(cursor, 16, ranges) : map.page(cursor, 16);
          for (const auto& [k, value] : entries) {
            if (!cursor.empty() && !(cursor < k)) ++bad;  // out of order
            if (k != key(value)) ++bad;                   // value of another key
            if (ranged && !contains(ranges, k)) ++bad;    // outside the ranges
            if (value % 2 == 0) ++evens;
            cursor = k;
          }
          more = has_more;
        }
        // An entry present all along was skipped or repeated.
        if (evens != (ranged ? evens_in_ranges : 1000)) ++bad;
        if (map.find(key(0)) != 0) ++bad;
      }
    });
  }
  threads[0].join();
  threads[1].join();
  stop = true;
  threads[2].join();
  threads[3].join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(map.size(), 1000u);
}

}  // namespace
}  // namespace jmedia
