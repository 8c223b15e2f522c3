// Half-open ranges of an ordered string index. A set of device patterns becomes a few ranges
// (an exact id covers one key, a prefix "cam-" covers ["cam-", "cam.")), so that a listing
// limited to what a token grants seeks to each range in the ordered map and visits only the
// keys inside, instead of filtering every device or session.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jmedia {

struct KeyRange {
  std::string begin;               // the first key in the range
  std::optional<std::string> end;  // the first key after it; nullopt: to the end of the index

  bool contains(std::string_view key) const { return key >= begin && (!end || key < *end); }
  friend bool operator==(const KeyRange&, const KeyRange&) = default;
};

// Normalised: sorted by begin, disjoint and not touching (what normalise() returns).
using KeyRanges = std::vector<KeyRange>;

// [key, key + '\0'): key and nothing else.
KeyRange exact_range(std::string_view key);
// Every key that starts with prefix; "" covers every key.
KeyRange prefix_range(std::string_view prefix);
// Sorts and merges overlapping or touching ranges; drops empty ones.
KeyRanges normalise(KeyRanges ranges);
// Whether a normalised set holds key (a binary search).
bool contains(const KeyRanges& ranges, std::string_view key);

// Visits, in key order, the entries of an ordered map keyed by std::string (std::map, or
// one shard of a ShardedMap under its lock) that lie in a normalised set of ranges and come
// after `after` ("" = from the start), until visit(key, value) returns false. Costs one seek
// per range (those wholly before the cursor are skipped) plus the entries visited.
template <typename Map, typename Visit>
void visit_in_ranges(const Map& map, const KeyRanges& ranges, const std::string& after,
                     Visit&& visit) {
  for (const KeyRange& range : ranges) {
    if (!after.empty() && range.end && *range.end <= after) continue;
    auto it = after.empty() || after < range.begin ? map.lower_bound(range.begin)
                                                   : map.upper_bound(after);
    for (; it != map.end() && (!range.end || it->first < *range.end); ++it) {
      if (!visit(it->first, it->second)) return;
    }
  }
}

}  // namespace jmedia
