// Holds one thread inside a callback, at a jansson allocation, while the test does something
// else (e.g. destroy()): installs jansson allocation functions that, once armed for a thread,
// stop that thread at its next allocation (of a given size, or any) until released.
#pragma once

#include <jansson.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <thread>

namespace jmedia::testing {

class JsonAllocGate {
 public:
  static constexpr std::size_t kAnySize = 0;

  JsonAllocGate() {
    current() = this;
    json_set_alloc_funcs(&gated_malloc, &std::free);
  }
  ~JsonAllocGate() {
    json_set_alloc_funcs(&std::malloc, &std::free);
    current() = nullptr;
  }
  JsonAllocGate(const JsonAllocGate&) = delete;
  JsonAllocGate& operator=(const JsonAllocGate&) = delete;

  // The calling thread stops at its next jansson allocation of `size` bytes (or any).
  void arm_this_thread(std::size_t size = kAnySize) {
    size_.store(size);
    thread_.store(std::this_thread::get_id());
  }
  bool wait_held(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return held_future_.wait_for(timeout) == std::future_status::ready;
  }
  void release() { release_.set_value(); }

 private:
  static JsonAllocGate*& current() {
    static JsonAllocGate* gate = nullptr;
    return gate;
  }
  static void* gated_malloc(std::size_t size) {
    JsonAllocGate* gate = current();
    if (gate != nullptr && gate->thread_.load() == std::this_thread::get_id() &&
        (gate->size_.load() == kAnySize || gate->size_.load() == size)) {
      gate->thread_.store(std::thread::id());
      gate->held_.set_value();
      gate->released_.wait_for(std::chrono::seconds(20));
    }
    return std::malloc(size);
  }

  std::atomic<std::thread::id> thread_{};
  std::atomic<std::size_t> size_{kAnySize};
  std::promise<void> held_;
  std::future<void> held_future_ = held_.get_future();
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
};

}  // namespace jmedia::testing
