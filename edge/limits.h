// Per-client admission: the request-rate token bucket with its abuse window, and the count of
// open connections per client address. Pure code; the clock is passed in, so tests drive it.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace jmedia::edge {

using Clock = std::chrono::steady_clock;

// A token bucket: `rate` requests per second on average, `burst` at once. One connection's
// (used by one thread at a time: the WebSocket service thread, or the HTTP thread).
class TokenBucket {
 public:
  TokenBucket(std::uint32_t rate, std::uint32_t burst, Clock::time_point now)
      : rate_(rate), burst_(burst), tokens_(burst), last_(now) {}

  // Takes one token; false when none is left (the request is over the rate).
  bool take(Clock::time_point now) {
    refill(now);
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }
  // Whether the bucket has refilled to its burst: the client has stayed under the rate long
  // enough to have its whole burst again.
  bool full(Clock::time_point now) {
    refill(now);
    return tokens_ >= static_cast<double>(burst_);
  }

 private:
  void refill(Clock::time_point now) {
    if (now <= last_) return;
    tokens_ += std::chrono::duration<double>(now - last_).count() * rate_;
    if (tokens_ > burst_) tokens_ = burst_;
    last_ = now;
  }

  double rate_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

// A client "stays over the rate" from its first refused request until its bucket has refilled
// to the full burst. One that is still refused abuse_window after that first refusal is
// closed.
class RateGuard {
 public:
  enum class Verdict : std::uint8_t { kAdmit, kRefuse, kClose };

  RateGuard(std::uint32_t rate, std::uint32_t burst, std::chrono::seconds abuse_window,
            Clock::time_point now)
      : bucket_(rate, burst, now), abuse_window_(abuse_window) {}

  Verdict admit(Clock::time_point now) {
    if (over_ && bucket_.full(now)) over_ = false;
    if (bucket_.take(now)) return Verdict::kAdmit;
    if (!over_) {
      over_ = true;
      over_since_ = now;
    }
    return now - over_since_ >= abuse_window_ ? Verdict::kClose : Verdict::kRefuse;
  }

 private:
  TokenBucket bucket_;
  std::chrono::seconds abuse_window_;
  bool over_ = false;
  Clock::time_point over_since_{};
};

// Open connections, in all and per client address, against max_connections and
// max_connections_per_ip. Shared by the WebSocket and HTTP threads (one short lock per
// connection opened or closed).
class ConnectionCounter {
 public:
  ConnectionCounter(std::uint32_t max_total, std::uint32_t max_per_ip)
      : max_total_(max_total), max_per_ip_(max_per_ip) {}

  // Counts a new connection from ip; false (and nothing counted) when it would exceed a limit.
  bool open(const std::string& ip);
  // A connection that open() counted has closed.
  void close(const std::string& ip);

  std::uint32_t total() const;
  std::uint32_t from(const std::string& ip) const;

 private:
  const std::uint32_t max_total_;
  const std::uint32_t max_per_ip_;
  mutable std::mutex mutex_;
  std::uint32_t total_ = 0;
  std::unordered_map<std::string, std::uint32_t> per_ip_;
};

}  // namespace jmedia::edge
