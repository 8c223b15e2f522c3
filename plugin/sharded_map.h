// A hash map split into independently locked shards, so that operations on different keys
// rarely contend. shards = 1 is the single-lock baseline the benchmarks compare against.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <algorithm>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

namespace jmedia {

template <typename Key, typename Value, typename Hash = std::hash<Key>,
          typename Map = std::unordered_map<Key, Value, Hash>>
class ShardedMap {
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
  // key order across shards, plus whether more follow. Costs O(shards * limit * log n).
  std::pair<std::vector<std::pair<Key, Value>>, bool> page(const Key& after,
                                                           std::size_t limit) const {
    std::vector<std::pair<Key, Value>> merged;
    for (std::size_t i = 0; i < count_; ++i) {
      std::shared_lock lock(shards_[i].mutex);
      const Map& map = shards_[i].map;
      auto it = after == Key{} ? map.begin() : map.upper_bound(after);
      for (std::size_t taken = 0; it != map.end() && taken <= limit; ++it, ++taken) {
        merged.emplace_back(it->first, it->second);
      }
    }
    std::sort(merged.begin(), merged.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    const bool more = merged.size() > limit;
    if (more) merged.resize(limit);
    return {std::move(merged), more};
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
  // Cache-line aligned so that neighbouring shard locks do not false-share.
  struct alignas(64) Shard {
    mutable std::shared_mutex mutex;
    Map map;
  };

  Shard& shard_for(const Key& key) { return shards_[index_for(key)]; }
  const Shard& shard_for(const Key& key) const { return shards_[index_for(key)]; }
  std::size_t index_for(const Key& key) const {
    // Mix the hash: std::hash of a pointer is the address, whose low bits are alignment.
    std::size_t h = Hash{}(key);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h % count_;
  }

  std::size_t count_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace jmedia
