// ShardedMap's own contract: point operations, and page() against a std::map reference for
// many shard counts, cursors and limits (the bounded merge must return exactly what one
// ordered map would).
#include "../../plugin/sharded_map.h"

#include "../../plugin/session_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace jmedia {
namespace {

using Ordered = ShardedMap<std::string, int, std::hash<std::string>, std::map<std::string, int>>;
// As SessionTable's id indexes: consecutive key ranges per shard.
using InOrder = ShardedMap<std::string, int, SessionIdOrder, std::map<std::string, int>>;

template <typename Map>
class OrderedPages : public ::testing::Test {};
using PagedMaps = ::testing::Types<Ordered, InOrder>;
TYPED_TEST_SUITE(OrderedPages, PagedMaps);

TEST(ShardedMap, InsertFindEraseAcrossShards) {
  ShardedMap<int, int> map(7);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(map.insert(i, i * 2));
  EXPECT_FALSE(map.insert(5, 0));
  EXPECT_EQ(map.size(), 1000u);
  EXPECT_EQ(map.find(5), 10);
  EXPECT_EQ(map.erase(5), 10);
  EXPECT_EQ(map.find(5), std::nullopt);
  EXPECT_EQ(map.erase(5), std::nullopt);
  EXPECT_EQ(map.size(), 999u);
  EXPECT_EQ(map.drain().size(), 999u);
  EXPECT_EQ(map.size(), 0u);
}

TEST(ShardedMap, ZeroShardsMeansOne) {
  ShardedMap<int, int> map(0);
  EXPECT_EQ(map.shard_count(), 1u);
  EXPECT_TRUE(map.insert(1, 1));
  EXPECT_EQ(map.find(1), 1);
}

std::string id_of(std::uint64_t n) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(n));
  return text;
}

// Expected page from the reference: up to limit keys after `after`, and whether more follow.
std::pair<std::vector<std::string>, bool> reference_page(const std::map<std::string, int>& ref,
                                                         const std::string& after,
                                                         std::size_t limit) {
  std::vector<std::string> keys;
  auto it = after.empty() ? ref.begin() : ref.upper_bound(after);
  for (; it != ref.end() && keys.size() < limit; ++it) keys.push_back(it->first);
  return {keys, it != ref.end()};
}

TYPED_TEST(OrderedPages, PagesEqualOneOrderedMapForAnyShardCountCursorAndLimit) {
  std::mt19937_64 random(7);
  for (std::size_t shards : {1u, 2u, 3u, 32u, 100u}) {
    TypeParam map(shards);
    std::map<std::string, int> ref;
    for (int i = 0; i < 500; ++i) {
      const std::string key = id_of(random());
      map.insert(key, i);
      ref.emplace(key, i);
    }
    std::vector<std::string> cursors = {"",
                                        "0",
                                        "zzzz",
                                        "8",
                                        "8:",
                                        "8G",
                                        "8~",
                                        "\xff",
                                        "a!",
                                        "ffffffffffffffff0",
                                        ref.begin()->first,
                                        ref.rbegin()->first};
    for (int i = 0; i < 40; ++i) cursors.push_back(id_of(random()));  // mostly absent keys
    for (int i = 0; i < 40; ++i) {
      auto it = ref.begin();
      std::advance(it, static_cast<long>(random() % ref.size()));
      cursors.push_back(it->first);  // present keys
    }
    for (const std::string& cursor : cursors) {
      for (std::size_t limit : {0u, 1u, 2u, 10u, 100u, 499u, 500u, 1000u}) {
        const auto [entries, more] = map.page(cursor, limit);
        const auto [want, want_more] = reference_page(ref, cursor, limit);
        std::vector<std::string> got;
        for (const auto& [key, value] : entries) {
          got.push_back(key);
          EXPECT_EQ(value, ref.at(key));
        }
        ASSERT_EQ(got, want) << "shards " << shards << " cursor '" << cursor << "' limit " << limit;
        ASSERT_EQ(more, want_more)
            << "shards " << shards << " cursor '" << cursor << "' limit " << limit;
      }
    }
  }
}

TYPED_TEST(OrderedPages, WalkingPagesVisitsEveryKeyOnceInOrder) {
  TypeParam map(32);
  std::map<std::string, int> ref;
  for (int i = 0; i < 1000; ++i) {
    map.insert(id_of(static_cast<std::uint64_t>(i) * 7919), i);
    ref.emplace(id_of(static_cast<std::uint64_t>(i) * 7919), i);
  }
  std::vector<std::string> walked;
  std::string cursor;
  for (int pages = 0; pages < 200; ++pages) {
    const auto [entries, more] = map.page(cursor, 9);
    for (const auto& entry : entries) walked.push_back(entry.first);
    if (!more) break;
    cursor = entries.back().first;
  }
  std::vector<std::string> want;
  want.reserve(ref.size());
  for (const auto& entry : ref) want.push_back(entry.first);
  EXPECT_EQ(walked, want);
}

// The placement of the session indexes never puts a key before a smaller one, for ids and for
// any other string a lookup or a cursor may bring; ids themselves spread over the whole range.
TEST(SessionIdOrder, NeverPlacesAKeyBeforeASmallerOne) {
  std::mt19937_64 random(11);
  std::vector<std::string> keys;
  const std::string alphabet = std::string("0123456789abcdef09af:AGz~!\x7f\x80\xff", 36);
  for (int i = 0; i < 20000; ++i) {
    std::string key;
    const std::size_t length = random() % 19;
    for (std::size_t j = 0; j < length; ++j) key += alphabet[random() % alphabet.size()];
    keys.push_back(key);
  }
  for (int i = 0; i < 2000; ++i) keys.push_back(id_of(random()));
  std::sort(keys.begin(), keys.end());
  const SessionIdOrder order;
  for (std::size_t i = 1; i < keys.size(); ++i) {
    ASSERT_LE(order(keys[i - 1]), order(keys[i]))
        << "'" << keys[i - 1] << "' < '" << keys[i] << "'";
  }
  EXPECT_EQ(order(id_of(0x0123456789abcdefULL)), 0x0123456789abcdefULL);
  EXPECT_EQ(order(id_of(~0ULL)), ~0ULL);
  EXPECT_EQ(order(""), 0u);
}

TEST(SessionIdOrder, RandomIdsFillEveryShardAlike) {
  InOrder map(32);
  std::mt19937_64 random(3);
  for (int i = 0; i < 32000; ++i) map.insert(id_of(random()), i);
  // Every shard holds about 1,000 ids: count each shard's by paging through it.
  std::vector<std::size_t> per_shard(32, 0);
  const SessionIdOrder order;
  std::string cursor;
  for (;;) {
    const auto [entries, more] = map.page(cursor, 1000);
    for (const auto& entry : entries) {
      ++per_shard[order(entry.first) >> 59];  // the shard of 32 its value falls in
    }
    if (!more) break;
    cursor = entries.back().first;
  }
  for (std::size_t count : per_shard) {
    EXPECT_GT(count, 800u);
    EXPECT_LT(count, 1200u);
  }
}

}  // namespace
}  // namespace jmedia
