// RwSpinLock and ShardedMap under threads (run under ThreadSanitizer in CI): the lock excludes
// writers from readers and from each other, and pages stay ordered while entries come and go.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "../../plugin/rw_spin_lock.h"
#include "../../plugin/sharded_map.h"

namespace jmedia {
namespace {

TEST(RwSpinLock, WritersExcludeReadersAndEachOther) {
  RwSpinLock lock;
  long a = 0, b = 0;  // plain: only the lock orders them (TSan checks it)
  std::atomic<long> torn{0}, reads{0};
  std::vector<std::thread> threads;
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
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&, w] {
      for (int round = 0; round < 20; ++round) {
        for (int i = 1 + 2 * w; i < 2000; i += 4) map.insert(key(i), i);
        for (int i = 1 + 2 * w; i < 2000; i += 4) map.erase(key(i));
      }
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&] {
      int pages = 0;
      while (!stop.load() && pages < 100000) {
        std::string cursor;
        bool more = true;
        int evens = 0;
        for (int guard = 0; more && guard < 3000; ++guard, ++pages) {
          auto [entries, has_more] = map.page(cursor, 16);
          for (const auto& [k, value] : entries) {
            if (!cursor.empty() && !(cursor < k)) ++bad;  // out of order
            if (k != key(value)) ++bad;                   // value of another key
            if (value % 2 == 0) ++evens;
            cursor = k;
          }
          more = has_more;
        }
        if (evens != 1000) ++bad;  // an entry present all along was skipped or repeated
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
