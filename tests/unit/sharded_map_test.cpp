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

// Keys such as device ids: a few prefixes, so that ranges of patterns hold some of them.
std::string device_key(std::mt19937_64& random) {
  static const char* const kPrefixes[] = {"cam-", "cam", "cam-1", "door-", "d", "lobby", "z"};
  std::string key = kPrefixes[random() % 7];
  const std::size_t length = random() % 4;
  for (std::size_t i = 0; i < length; ++i) key += "0123456789-ab"[random() % 13];
  return key.empty() ? "x" : key;
}

// page_in_ranges(after, limit, ranges) is the page of one ordered map holding only the keys in
// the ranges, for any shard count, set of ranges, cursor and limit.
TYPED_TEST(OrderedPages, RangedPagesEqualOneOrderedMapOfTheKeysInTheRanges) {
  std::mt19937_64 random(5);
  const std::vector<KeyRanges> range_sets = {
      {},
      normalise({prefix_range("")}),
      normalise({prefix_range("cam-")}),
      normalise({exact_range("cam"), prefix_range("door-"), exact_range("lobby")}),
      normalise({prefix_range("cam"), prefix_range("cam-1"), exact_range("z")}),
      normalise({exact_range("nothing-here"), prefix_range("y")}),
  };
  for (std::size_t shards : {1u, 3u, 32u}) {
    TypeParam map(shards);
    std::map<std::string, int> all;
    for (int i = 0; i < 400; ++i) {
      const std::string key = device_key(random);
      if (map.insert(key, i)) all.emplace(key, i);
    }
    for (const KeyRanges& ranges : range_sets) {
      std::map<std::string, int> ref;
      for (const auto& [key, value] : all) {
        if (contains(ranges, key)) ref.emplace(key, value);
      }
      std::vector<std::string> cursors = {"", "cam", "cam-", "cam-1", "cam-5", "door-", "e", "zz"};
      for (int i = 0; i < 10; ++i) cursors.push_back(device_key(random));
      for (const std::string& cursor : cursors) {
        for (std::size_t limit : {0u, 1u, 2u, 7u, 400u}) {
          const auto [entries, more] = map.page_in_ranges(cursor, limit, ranges);
          const auto [want, want_more] = reference_page(ref, cursor, limit);
          std::vector<std::string> got;
          for (const auto& [key, value] : entries) {
            got.push_back(key);
            EXPECT_EQ(value, all.at(key));
          }
          ASSERT_EQ(got, want) << "shards " << shards << " cursor '" << cursor << "' limit "
                               << limit << " ranges " << ranges.size();
          ASSERT_EQ(more, want_more) << "shards " << shards << " cursor '" << cursor << "'";
        }
      }
    }
  }
}

// What a ranged page reads (page_entries_read) does not depend on the keys outside the ranges:
// 20,000 of them around and between the ranges change nothing.
TEST(ShardedMap, ARangedPageReadsNoKeyOutsideItsRanges) {
  const KeyRanges ranges = normalise({exact_range("cam-1"), prefix_range("cam-3")});
  std::vector<std::string> inside = {"cam-1", "cam-3", "cam-30", "cam-3a", "cam-3b", "cam-3z"};
  Ordered map(32);
  for (const auto& key : inside) map.insert(key, 1);
  auto costs = [&] {
    std::vector<std::uint64_t> out;
    std::string cursor;
    for (int pages = 0; pages < 100; ++pages) {
      const std::uint64_t before = page_entries_read;
      const auto [entries, more] = map.page_in_ranges(cursor, 2, ranges);
      out.push_back(page_entries_read - before);
      if (!more) break;
      cursor = entries.back().first;
    }
    return out;
  };
  const std::vector<std::uint64_t> alone = costs();
  for (int i = 0; i < 20000; ++i) {
    static const char* const kOutside[] = {"cam-0", "cam-1x", "cam-2", "cam-4", "a", "z"};
    map.insert(kOutside[i % 6] + std::to_string(i), 0);
  }
  EXPECT_EQ(costs(), alone);
  EXPECT_EQ(alone.size(), 3u);  // 6 keys, 2 a page
  // Each page reads at most its keys, one more per shard to see the end, and one per shard
  // and range to stop: a merge's cost, not the map's size.
  for (std::uint64_t cost : alone) EXPECT_LE(cost, 2u + 1u + 32u * ranges.size());
  // The unranged page reads keys the ranges leave out.
  const std::uint64_t before = page_entries_read;
  map.page("", 2);
  EXPECT_GT(page_entries_read - before, 32u);
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
