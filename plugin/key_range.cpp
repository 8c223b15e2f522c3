#include "key_range.h"

#include <algorithm>

namespace jmedia {

KeyRange exact_range(std::string_view key) {
  std::string end(key);
  end.push_back('\0');  // the smallest string greater than key
  return KeyRange{std::string(key), std::move(end)};
}

KeyRange prefix_range(std::string_view prefix) {
  // The first string after every one that starts with prefix: drop trailing 0xff bytes, then
  // add one to the last byte (std::string compares bytes as unsigned char). Nothing left: no
  // end.
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (end.empty()) return KeyRange{std::string(prefix), std::nullopt};
  end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return KeyRange{std::string(prefix), std::move(end)};
}

KeyRanges normalise(KeyRanges ranges) {
  std::erase_if(ranges, [](const KeyRange& r) { return r.end && *r.end <= r.begin; });
  std::sort(ranges.begin(), ranges.end(),
            [](const KeyRange& a, const KeyRange& b) { return a.begin < b.begin; });
  KeyRanges merged;
  for (KeyRange& range : ranges) {
    if (!merged.empty()) {
      KeyRange& last = merged.back();
      if (!last.end) continue;  // the last one runs to the end: it holds this one
      if (range.begin <= *last.end) {
        if (!range.end || *range.end > *last.end) last.end = std::move(range.end);
        continue;
      }
    }
    merged.push_back(std::move(range));
  }
  return merged;
}

bool contains(const KeyRanges& ranges, std::string_view key) {
  // The last range that begins at or before key is the only one that can hold it.
  auto it = std::upper_bound(ranges.begin(), ranges.end(), key,
                             [](std::string_view k, const KeyRange& r) { return k < r.begin; });
  return it != ranges.begin() && std::prev(it)->contains(key);
}

}  // namespace jmedia
