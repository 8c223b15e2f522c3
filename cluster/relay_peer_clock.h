// When a relay end last heard its peer: written on the relay thread, read on any thread. What
// both ends' liveness (the sender's peer timeout, peer_silent_for) is measured from.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace jmedia::cluster {

class RelayPeerClock {
 public:
  using Clock = std::chrono::steady_clock;

  // start: what silence counts from until the peer is first heard.
  explicit RelayPeerClock(Clock::time_point start) : start_(start) {}

  void heard(Clock::time_point now) {
    last_ns_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
  }
  Clock::duration silent_for(Clock::time_point now) const {
    const auto last = last_ns_.load(std::memory_order_relaxed);
    return now - (last == 0 ? start_ : Clock::time_point(Clock::duration(last)));
  }

 private:
  const Clock::time_point start_;
  std::atomic<Clock::rep> last_ns_{0};  // 0: never heard
};

}  // namespace jmedia::cluster
