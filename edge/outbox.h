// A client's outgoing queue: the serialized messages the core sent to one WebSocket connection,
// or to one HTTP session's long polls, waiting to be written. Bounded by count, bytes and the
// age of its oldest message; the push that would cross a bound drops everything queued and
// closes the box (the client is a slow consumer). Pushed from any core thread (a short lock,
// never a wait), popped by the thread that writes to the client.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "limits.h"

namespace jmedia::edge {

struct OutboxLimits {
  std::uint32_t max_messages = 256;
  std::uint64_t max_bytes = std::uint64_t{1} << 20;
  std::chrono::milliseconds send_timeout{1000};
};

struct Outgoing {
  std::string text;
  Clock::time_point queued{};
};

class Outbox {
 public:
  enum class Push : std::uint8_t {
    kQueued,       // behind others: the writer knows already
    kQueuedFirst,  // into an empty box: wake the writer
    kOverflow,     // over a bound: everything dropped, the box is closed now
    kClosed,       // closed before: dropped
  };

  // queued_bytes: the process-wide sum over every box (janus_edge_queued_bytes), or null.
  Outbox(OutboxLimits limits, std::atomic<std::int64_t>* queued_bytes)
      : limits_(limits), queued_bytes_(queued_bytes) {}
  ~Outbox() { close(); }
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // A message larger than max_bytes is taken when the box is empty (it is then the only one).
  Push push(std::string text, Clock::time_point now);
  // The oldest message; false when there is none.
  bool pop(Outgoing& out);
  // Up to max messages, oldest first.
  std::size_t pop_some(std::vector<Outgoing>& out, std::size_t max);
  // Whether the oldest message has waited send_timeout (a stuck reader).
  bool expired(Clock::time_point now) const;
  // Drops everything and refuses later pushes. Returns whether it was open.
  bool close();

  bool closed() const;
  std::size_t size() const;
  std::uint64_t bytes() const;

 private:
  void account(std::int64_t delta) {
    if (queued_bytes_ != nullptr) queued_bytes_->fetch_add(delta, std::memory_order_relaxed);
  }

  // The queue: items_[head_..] (a vector, not a deque: an empty box allocates nothing, which
  // idle connections are).
  std::size_t count() const { return items_.size() - head_; }
  Outgoing& front() { return items_[head_]; }
  // Advances past the front slot (already moved out and accounted for).
  void pop_front();
  void drop_all(std::vector<Outgoing>& into);

  const OutboxLimits limits_;
  std::atomic<std::int64_t>* const queued_bytes_;
  mutable std::mutex mutex_;
  std::vector<Outgoing> items_;
  std::size_t head_ = 0;
  std::uint64_t bytes_ = 0;
  bool closed_ = false;
};

}  // namespace jmedia::edge
