// A hash map split into independently locked shards, so that operations on different keys
// rarely contend. shards = 1 is the single-lock baseline the benchmarks compare against.
//
// A Hash that declares `static constexpr bool kOrderPreserving = true` places keys by its value
// unmixed, and must never give a key a smaller value than a smaller key's: then the shards of
// an ordered Map hold consecutive key ranges, and a page after a cursor reads the cursor's
// shard and the next ones only, instead of merging every shard.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "key_range.h"
#include "rw_lock.h"

namespace jmedia {

// Entries the page walks of this thread have read (ShardedMap's pages, and the plugin's
// listings of device members): the counting hook with which tests pin what a page costs.
// One add per page.
inline thread_local std::uint64_t page_entries_read = 0;

template <typename Hash>
concept OrderPreservingHash = Hash::kOrderPreserving;

template <typename Key, typename Value, typename Hash = std::hash<Key>,
          typename Map = std::unordered_map<Key, Value, Hash>>
class ShardedMap {
  static constexpr bool kOrdered = OrderPreservingHash<Hash>;

 public:
  explicit ShardedMap(std::size_t shards)
      : count_(shards == 0 ? 1 : shards), shards_(std::make_unique<Shard[]>(count_)) {}

  std::size_t shard_count() const { return count_; }

  // False (and nothing changes) when the key is present already.
  bool insert(const Key& key, Value value) {
    Shard& shard = shard_for(key);
    std::unique_lock lock(shard.mutex);
    return shard.map.emplace(key, std::move(value)).second;
  }

  std::optional<Value> find(const Key& key) const {
    const Shard& shard = shard_for(key);
    std::shared_lock lock(shard.mutex);
    auto it = shard.map.find(key);
    if (it == shard.map.end()) return std::nullopt;
    return it->second;
  }

  std::optional<Value> erase(const Key& key) {
    Shard& shard = shard_for(key);
    std::unique_lock lock(shard.mutex);
    auto it = shard.map.find(key);
    if (it == shard.map.end()) return std::nullopt;
    std::optional<Value> value(std::move(it->second));
    shard.map.erase(it);
    return value;
  }

  std::size_t size() const {
    std::size_t total = 0;
    for (std::size_t i = 0; i < count_; ++i) {
      std::shared_lock lock(shards_[i].mutex);
      total += shards_[i].map.size();
    }
    return total;
  }

  // Visits every entry, one shard lock at a time; visit must not touch this map.
  template <typename Visit>
  void for_each(Visit&& visit) const {
    for (std::size_t i = 0; i < count_; ++i) {
      std::shared_lock lock(shards_[i].mutex);
      for (const auto& [key, value] : shards_[i].map) visit(key, value);
    }
  }

  // Runs fn(value-or-null) on key's slot under the shard's exclusive lock: the one way to
  // make a check and a change atomic. fn gets a reference to the map of the shard.
  template <typename Fn>
  auto with_shard(const Key& key, Fn&& fn) {
    Shard& shard = shard_for(key);
    std::unique_lock lock(shard.mutex);
    return fn(shard.map);
  }

  // Ordered maps only: up to limit entries with keys after `after` ("" = from the start), in
  // key order across shards, plus whether more follow. A bounded merge (merge_page).
  std::pair<std::vector<std::pair<Key, Value>>, bool> page(const Key& after,
                                                           std::size_t limit) const {
    if constexpr (kOrdered) return page_in_order(after, limit);
    return merge_page(limit, [&after](const Map& map, auto&& visit) {
      for (auto it = after == Key{} ? map.begin() : map.upper_bound(after); it != map.end(); ++it) {
        if (!visit(it->first, it->second)) return;
      }
    });
  }

  // page() limited to the keys in a normalised set of ranges (key_range.h; string keys): each
  // shard seeks each range once and reads only the keys inside, so a page costs the same
  // however many keys lie outside the ranges.
  std::pair<std::vector<std::pair<Key, Value>>, bool> page_in_ranges(
      const Key& after, std::size_t limit, const KeyRanges& ranges) const {
    return merge_page(
        limit, [&](const Map& map, auto&& visit) { visit_in_ranges(map, ranges, after, visit); });
  }

  // page() of an order-preserving map: the entries after `after` in its shard, then in the
  // following shards, until limit + 1 are read; the shards before it hold only smaller keys.
  std::pair<std::vector<std::pair<Key, Value>>, bool> page_in_order(const Key& after,
                                                                    std::size_t limit) const {
    std::vector<std::pair<Key, Value>> entries;
    entries.reserve(std::min<std::size_t>(limit, 1024));
    bool more = false;
    std::uint64_t read = 0;
    for (std::size_t i = after == Key{} ? 0 : index_for(after); i < count_ && !more; ++i) {
      std::shared_lock lock(shards_[i].mutex);
      const Map& map = shards_[i].map;
      for (auto it = after == Key{} ? map.begin() : map.upper_bound(after); it != map.end(); ++it) {
        ++read;
        if (entries.size() == limit) {
          more = true;
          break;
        }
        entries.emplace_back(it->first, it->second);
      }
    }
    page_entries_read += read;
    return {std::move(entries), more};
  }

  // Removes and returns every value (shutdown).
  std::vector<Value> drain() {
    std::vector<Value> values;
    for (std::size_t i = 0; i < count_; ++i) {
      std::unique_lock lock(shards_[i].mutex);
      for (auto& [key, value] : shards_[i].map) values.push_back(std::move(value));
      shards_[i].map.clear();
    }
    return values;
  }

 private:
  // The pages of a hashed placement: walk(map, visit) calls visit(key, value) on one shard's
  // entries in key order (under its lock) until visit returns false. The merge keeps the
  // limit + 1 smallest keys seen so far, stops a shard's walk once its keys can no longer
  // enter them and copies an entry only when it does, so a page costs about
  // (limit + 1) * (1 + ln shards) copies instead of shards * (limit + 1) and a sort. The kept
  // entries stay in their slots (an entry pushed out leaves its slot, and its key's buffer, to
  // the next one); only a vector of slot numbers is kept in key order, so an insertion moves
  // small integers.
  template <typename Walk>
  std::pair<std::vector<std::pair<Key, Value>>, bool> merge_page(std::size_t limit,
                                                                 Walk&& walk) const {
    const std::size_t keep = limit + 1;  // one more than asked: whether more follow
    std::vector<std::pair<Key, Value>> slots;
    std::vector<std::uint32_t> order;  // slot numbers, by key
    slots.reserve(std::min<std::size_t>(keep, 1024));
    order.reserve(std::min<std::size_t>(keep, 1024));
    const auto key_less = [&slots](const Key& key, std::uint32_t slot) {
      return key < slots[slot].first;
    };
    std::uint64_t read = 0;
    const auto visit = [&](const Key& key, const Value& value) {
      ++read;
      const bool full = order.size() == keep;
      if (full && !(key < slots[order.back()].first)) return false;  // the rest is bigger
      const auto at = std::upper_bound(order.begin(), order.end(), key, key_less);
      if (full) {
        const std::uint32_t slot = order.back();  // the biggest kept key makes room
        slots[slot].first = key;
        slots[slot].second = value;
        std::move_backward(at, order.end() - 1, order.end());
        *at = slot;
      } else {
        const auto slot = static_cast<std::uint32_t>(slots.size());
        slots.emplace_back(key, value);
        order.insert(at, slot);
      }
      return true;
    };
    for (std::size_t i = 0; i < count_; ++i) {
      std::shared_lock lock(shards_[i].mutex);
      walk(shards_[i].map, visit);
    }
    page_entries_read += read;
    const bool more = order.size() > limit;
    if (more) order.pop_back();
    std::vector<std::pair<Key, Value>> entries;
    entries.reserve(order.size());
    for (std::uint32_t slot : order) entries.push_back(std::move(slots[slot]));
    return {std::move(entries), more};
  }

  // Cache-line aligned so that neighbouring shard locks do not false-share.
  struct alignas(64) Shard {
    // Held while with_shard's fn takes a value's own locks (a Device's): the lock order is
    // written down in device.h.
    mutable RwLock mutex;
    Map map;
  };

  Shard& shard_for(const Key& key) { return shards_[index_for(key)]; }
  const Shard& shard_for(const Key& key) const { return shards_[index_for(key)]; }
  std::size_t index_for(const Key& key) const {
    std::size_t h = Hash{}(key);
    if constexpr (!kOrdered) {
      // Mix the hash: std::hash of a pointer is the address, whose low bits are alignment.
      h ^= h >> 33;
      h *= 0xff51afd7ed558ccdULL;
      h ^= h >> 33;
    }
    // Multiply-shift maps h onto [0, count_) without a division (slower than the rest of a
    // lookup): the high bits of the mixed hash decide.
    __extension__ using Wide = unsigned __int128;
    return static_cast<std::size_t>((static_cast<Wide>(h) * count_) >> 64);
  }

  std::size_t count_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace jmedia
