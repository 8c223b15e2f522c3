// Device patterns, what they match, the key ranges they cover, and paging an ordered index
// through those ranges (what a listing in token mode does).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "../../common/json.h"
#include "../../plugin/grants.h"
#include "../../plugin/request.h"

namespace jmedia {
namespace {

// The definition, written the slow way: what PatternSet::matches must agree with.
bool naive_match(const std::vector<std::string>& patterns, const std::string& id) {
  return std::ranges::any_of(patterns, [&](const std::string& p) {
    if (!p.empty() && p.back() == '*') return id.compare(0, p.size() - 1, p, 0, p.size() - 1) == 0;
    return p == id;
  });
}

PatternSet set_of(std::initializer_list<const char*> patterns) {
  PatternSet set;
  for (const char* p : patterns) EXPECT_TRUE(set.add(p)) << p;
  return set;
}

TEST(Patterns, WhatIsAPattern) {
  for (const char* good : {"cam-1", "cam-*", "*", "cam*", "a", "A.b_c:d-9", "x*"}) {
    EXPECT_TRUE(valid_pattern(good)) << good;
  }
  for (const char* bad :
       {"", "**", "*cam", "c*m", "cam-*-1", "cam-**", "cam 1", "cam/1", "cam\n", "*\n", "é*"}) {
    EXPECT_FALSE(valid_pattern(bad)) << bad;
  }
  const std::string longest(kMaxDeviceIdLength, 'd');
  EXPECT_TRUE(valid_pattern(longest));
  EXPECT_TRUE(valid_pattern(longest + "*"));
  EXPECT_FALSE(valid_pattern(longest + "d"));
  EXPECT_FALSE(valid_pattern(longest + "d*"));
  EXPECT_FALSE(valid_pattern(std::string("ca\0m", 4)));
  PatternSet set;
  EXPECT_FALSE(set.add("c*m"));
  EXPECT_TRUE(set.empty());
}

TEST(Patterns, ExactAndPrefix) {
  const PatternSet exact = set_of({"cam-1"});
  EXPECT_TRUE(exact.matches("cam-1"));
  EXPECT_FALSE(exact.matches("cam-10"));
  EXPECT_FALSE(exact.matches("cam-"));
  EXPECT_FALSE(exact.matches(""));

  const PatternSet prefix = set_of({"cam-*"});
  for (const char* yes : {"cam-", "cam-1", "cam-10", "cam-zzz", "cam-~"}) {
    EXPECT_TRUE(prefix.matches(yes)) << yes;
  }
  for (const char* no : {"cam", "camera", "cam.", "cam_1", "door-1", "CAM-1", ""}) {
    EXPECT_FALSE(prefix.matches(no)) << no;
  }

  const PatternSet every = set_of({"*"});
  for (const char* yes : {"a", "cam-1", "zzz", "~"}) EXPECT_TRUE(every.matches(yes)) << yes;
  EXPECT_EQ(every.ranges(), (KeyRanges{KeyRange{"", std::nullopt}}));
}

TEST(Patterns, MatchingAgreesWithTheDefinition) {
  // Random pattern sets over a small alphabet (so that prefixes overlap often) against
  // random ids: the binary search over normalised ranges must say what the slow scan says.
  std::mt19937 random(12);
  const std::string alphabet = "ab-*";
  const auto word = [&](std::size_t max) {
    std::string w;
    const std::size_t n = 1 + random() % max;
    for (std::size_t i = 0; i < n; ++i) w += alphabet[random() % 3];  // no '*' inside
    return w;
  };
  for (int round = 0; round < 300; ++round) {
    PatternSet set;
    std::vector<std::string> patterns;
    const std::size_t count = 1 + random() % 8;
    for (std::size_t i = 0; i < count; ++i) {
      std::string p = random() % 4 == 0 ? std::string() : word(4);
      if (p.empty() || random() % 2) p += '*';
      ASSERT_TRUE(set.add(p)) << p;
      patterns.push_back(p);
    }
    for (int probe = 0; probe < 50; ++probe) {
      const std::string id = word(6);
      ASSERT_EQ(set.matches(id), naive_match(patterns, id)) << "id " << id << " round " << round;
    }
    // Normalised: sorted, disjoint, not touching.
    const KeyRanges& ranges = set.ranges();
    for (std::size_t i = 1; i < ranges.size(); ++i) {
      ASSERT_TRUE(ranges[i - 1].end.has_value());
      ASSERT_LT(*ranges[i - 1].end, ranges[i].begin);
    }
  }
}

TEST(KeyRanges, RangesOfPatterns) {
  EXPECT_EQ(exact_range("cam-1"), (KeyRange{"cam-1", std::string("cam-1\0", 6)}));
  EXPECT_EQ(prefix_range("cam-"), (KeyRange{"cam-", "cam."}));
  EXPECT_EQ(prefix_range(""), (KeyRange{"", std::nullopt}));
  EXPECT_EQ(prefix_range("a\xff\xff"), (KeyRange{"a\xff\xff", "b"}));
  EXPECT_EQ(prefix_range("\xff"), (KeyRange{"\xff", std::nullopt}));
  // cam-1 lies inside cam-*: one range is left; door-1 stays apart, in order.
  EXPECT_EQ(set_of({"door-1", "cam-1", "cam-*"}).ranges(),
            (KeyRanges{KeyRange{"cam-", "cam."}, exact_range("door-1")}));
  EXPECT_EQ(set_of({"cam-1", "*", "door-1"}).ranges(), (KeyRanges{KeyRange{"", std::nullopt}}));
}

TEST(KeyRanges, NormaliseMergesAndSorts) {
  EXPECT_EQ(normalise({{"c", "d"}, {"a", "b"}, {"b", "c"}}), (KeyRanges{{"a", "d"}}));
  EXPECT_EQ(normalise({{"a", "c"}, {"b", "bb"}}), (KeyRanges{{"a", "c"}}));
  EXPECT_EQ(normalise({{"x", std::nullopt}, {"a", "b"}, {"y", "z"}}),
            (KeyRanges{{"a", "b"}, {"x", std::nullopt}}));
  EXPECT_EQ(normalise({{"b", "a"}, {"c", "c"}}), KeyRanges{});
  EXPECT_TRUE(contains(KeyRanges{{"a", "b"}, {"x", std::nullopt}}, "zz"));
  EXPECT_FALSE(contains(KeyRanges{{"a", "b"}, {"x", std::nullopt}}, "b"));
  EXPECT_FALSE(contains(KeyRanges{}, "a"));
}

// Pages an ordered map through ranges, limit at a time, as a listing would: the cursor is the
// last key of the previous page.
template <typename Map>
std::vector<std::vector<std::string>> pages(const Map& map, const KeyRanges& ranges,
                                            std::size_t limit, std::size_t* visited = nullptr) {
  std::vector<std::vector<std::string>> out;
  std::string cursor;
  for (;;) {
    std::vector<std::string> page;
    bool more = false;
    visit_in_ranges(map, ranges, cursor, [&](const std::string& key, int) {
      if (visited) ++*visited;
      if (page.size() == limit) {
        more = true;
        return false;
      }
      page.push_back(key);
      return true;
    });
    if (!page.empty()) out.push_back(page);
    if (!more) return out;
    cursor = page.back();
  }
}

TEST(KeyRanges, PagingThroughWhatATokenShows) {
  std::map<std::string, int> devices;
  for (const char* id : {"alpha", "cam", "cam-1", "cam-10", "cam-2", "cam.", "camera", "door-1",
                         "door-10", "door-2", "zulu"}) {
    devices[id] = 0;
  }
  Grants grants;
  ASSERT_TRUE(grants.watch.add("cam-*"));
  ASSERT_TRUE(grants.publish.add("door-1"));
  ASSERT_TRUE(grants.publish.add("cam-2"));
  const KeyRanges shown = grants.shown_ranges();
  ASSERT_EQ(shown.size(), 2u);
  using Pages = std::vector<std::vector<std::string>>;
  EXPECT_EQ(pages(devices, shown, 2), (Pages{{"cam-1", "cam-10"}, {"cam-2", "door-1"}}));
  EXPECT_EQ(pages(devices, shown, 3), (Pages{{"cam-1", "cam-10", "cam-2"}, {"door-1"}}));
  EXPECT_EQ(pages(devices, shown, 100), (Pages{{"cam-1", "cam-10", "cam-2", "door-1"}}));
  for (const auto& key : {"cam-1", "cam-10", "cam-2", "door-1"}) EXPECT_TRUE(grants.shows(key));
  for (const auto& key : {"cam", "camera", "door-10", "zulu"}) EXPECT_FALSE(grants.shows(key));

  // A cursor before, inside, between and after the ranges (a client may send any cursor).
  std::vector<std::string> seen;
  const auto collect = [&](const std::string& key, int) {
    seen.push_back(key);
    return true;
  };
  for (const auto& [cursor, expected] :
       std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"a", {"cam-1", "cam-10", "cam-2", "door-1"}},
           {"cam-10", {"cam-2", "door-1"}},
           {"cam-1000", {"cam-2", "door-1"}},
           {"cam.", {"door-1"}},
           {"door-1", {}},
           {"zzz", {}}}) {
    seen.clear();
    visit_in_ranges(devices, shown, cursor, collect);
    EXPECT_EQ(seen, expected) << "after " << cursor;
  }
}

// Counts the comparisons an ordered map makes: what seeking costs.
struct CountingLess {
  std::size_t* count;
  bool operator()(const std::string& a, const std::string& b) const {
    ++*count;
    return a < b;
  }
};

TEST(KeyRanges, PagingCostIsTheCoveredKeysOnly) {
  // 20,000 devices around the 5 a token covers: paging through them costs a few seeks
  // (O(log n) comparisons each) and the covered keys, not a pass over the index.
  std::size_t comparisons = 0;
  std::map<std::string, int, CountingLess> devices(CountingLess{&comparisons});
  for (int i = 0; i < 10000; ++i) {
    devices["a-" + std::to_string(i)] = i;
    devices["z-" + std::to_string(i)] = i;
  }
  for (int i = 0; i < 5; ++i) devices["cam-" + std::to_string(i)] = i;
  Grants grants;
  ASSERT_TRUE(grants.watch.add("cam-*"));
  comparisons = 0;
  std::size_t visited = 0;
  const auto all = pages(devices, grants.shown_ranges(), 2, &visited);
  using Pages = std::vector<std::vector<std::string>>;
  EXPECT_EQ(all, (Pages{{"cam-0", "cam-1"}, {"cam-2", "cam-3"}, {"cam-4"}}));
  // Each page stops on the first key past its limit: 5 keys, plus 2 looked at for "more".
  EXPECT_EQ(visited, 7u);
  // Three seeks into 20,005 keys: about 3 * log2(20005) = 43 comparisons.
  EXPECT_LT(comparisons, 100u);
}

TEST(Grants, AllowsAndForbidden) {
  Grants grants;
  ASSERT_TRUE(grants.publish.add("cam-1"));
  ASSERT_TRUE(grants.watch.add("door-*"));
  EXPECT_TRUE(grants.allows(AccessRequest::kPublish, "cam-1"));
  EXPECT_FALSE(grants.allows(AccessRequest::kWatch, "cam-1"));  // publish does not imply watch
  EXPECT_TRUE(grants.allows(AccessRequest::kWatch, "door-9"));
  EXPECT_FALSE(grants.allows(AccessRequest::kPublish, "door-9"));
  for (AccessRequest r : {AccessRequest::kEcho, AccessRequest::kList, AccessRequest::kInfo,
                          AccessRequest::kDevices}) {
    EXPECT_FALSE(grants.allows(r));
  }
  grants.echo = true;
  grants.list = true;
  for (AccessRequest r : {AccessRequest::kEcho, AccessRequest::kList, AccessRequest::kInfo,
                          AccessRequest::kDevices}) {
    EXPECT_TRUE(grants.allows(r));
  }
  const Error error = forbidden(AccessRequest::kWatch);
  EXPECT_EQ(numeric(error.code), 1021);
  EXPECT_EQ(error.reason, "forbidden: the token does not grant watching this device");
  EXPECT_EQ(forbidden(AccessRequest::kDevices).reason,
            "forbidden: the token does not grant devices (list)");
  EXPECT_EQ(access_request_label(AccessRequest::kInfo), "info");
}

TEST(Grants, MediaClaim) {
  const auto parse = [](const char* text) {
    json_error_t error;
    const JsonPtr media = adopt(json_loads(text, JSON_DECODE_ANY, &error));
    return parse_media_claim(media.get());
  };
  const auto good = parse(R"({"publish":["cam-1"],"watch":["*"],"echo":false,"list":true})");
  ASSERT_TRUE(std::holds_alternative<Grants>(good));
  const auto& g = std::get<Grants>(good);
  EXPECT_EQ(g.publish.patterns(), std::vector<std::string>{"cam-1"});
  EXPECT_TRUE(g.watch.matches("anything"));
  EXPECT_FALSE(g.echo);
  EXPECT_TRUE(g.list);
  EXPECT_EQ(std::get<std::string>(parse_media_claim(nullptr)), "the token has no media claim");
  EXPECT_EQ(std::get<std::string>(parse(R"({"publish":[],"watch":["ok","bad pattern"]})")),
            "media.watch[1] is not a pattern (a device_id, or a prefix of one ending in '*')");
  EXPECT_EQ(std::get<std::string>(parse(R"({"echo":null})")), "media.echo is not a boolean");
}

}  // namespace
}  // namespace jmedia
