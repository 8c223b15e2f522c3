// The relays' statistics counters: read by any thread at scrape, so relaxed atomics that only
// grow, bumped on the relay thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace jmedia::cluster {

inline void add(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) {
  counter.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace jmedia::cluster
