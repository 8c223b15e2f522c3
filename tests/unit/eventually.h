// Polls a condition in tests: bounded in time and count, never sleep-and-hope.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace jmedia::testing {

// Polls cond every 10 ms for at most timeout; true once it holds.
inline bool eventually(const std::function<bool()>& cond,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (int i = 0; i < 1000000 && std::chrono::steady_clock::now() < deadline; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

}  // namespace jmedia::testing
