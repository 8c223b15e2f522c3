// At most one keyframe request per interval reaches a source (viewers ask in bursts); a
// request that must get through (a viewer whose media just came up) opens a new interval.
#pragma once

#include <atomic>
#include <cstdint>

namespace jmedia {

class KeyframeGate {
 public:
  // True for one caller per interval_ms; any thread.
  bool due(std::int64_t now_ms, std::int64_t interval_ms) {
    std::int64_t last = last_ms_.load(std::memory_order_relaxed);
    if (last != 0 && now_ms - last < interval_ms) return false;
    return last_ms_.compare_exchange_strong(last, now_ms);
  }
  void requested_at(std::int64_t now_ms) { last_ms_.store(now_ms); }

 private:
  std::atomic<std::int64_t> last_ms_{0};
};

}  // namespace jmedia
