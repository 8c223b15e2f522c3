// The stripe a thread uses in striped counters (common/metrics.h, common/module_slot.h):
// picked once per thread, round robin, so that threads share a stripe (a cache line) only
// when there are more threads than stripes.
#pragma once

#include <atomic>
#include <cstddef>

namespace jmedia {

inline std::size_t thread_stripe(std::size_t stripes) noexcept {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t mine = next.fetch_add(1, std::memory_order_relaxed);
  return mine % stripes;
}

}  // namespace jmedia
