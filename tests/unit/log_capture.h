// Collects what the code under test logs (common/log.h), for tests that assert a message.
// One at a time: the sink is process-wide.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "../../common/log.h"

namespace jmedia::testing {

class LogCapture {
 public:
  LogCapture() {
    std::lock_guard lock(mutex());
    lines().clear();
    set_log_sink(&sink);
  }
  ~LogCapture() { set_log_sink(nullptr); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  bool contains(std::string_view text) const {
    std::lock_guard lock(mutex());
    for (const auto& line : lines()) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  }
  // Waits, at most timeout, until a line containing text was logged.
  bool wait_for(std::string_view text,
                std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!contains(text)) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }
  std::vector<std::string> all() const {
    std::lock_guard lock(mutex());
    return lines();
  }

 private:
  static void sink(LogLevel /*level*/, const char* message) {
    std::lock_guard lock(mutex());
    lines().emplace_back(message);
  }
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static std::vector<std::string>& lines() {
    static std::vector<std::string> v;
    return v;
  }
};

}  // namespace jmedia::testing
