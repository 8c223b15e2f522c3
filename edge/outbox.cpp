#include "outbox.h"

namespace jmedia::edge {

Outbox::Push Outbox::push(std::string text, Clock::time_point now) {
  std::deque<Outgoing> dropped;  // freed outside the lock
  {
    std::lock_guard lock(mutex_);
    if (closed_) return Push::kClosed;
    const bool empty = items_.empty();
    const bool over = !empty && (items_.size() >= limits_.max_messages ||
                                 bytes_ + text.size() > limits_.max_bytes ||
                                 now - items_.front().queued >= limits_.send_timeout);
    if (!over) {
      bytes_ += text.size();
      account(static_cast<std::int64_t>(text.size()));
      items_.push_back(Outgoing{std::move(text), now});
      return empty ? Push::kQueuedFirst : Push::kQueued;
    }
    closed_ = true;
    account(-static_cast<std::int64_t>(bytes_));
    bytes_ = 0;
    dropped.swap(items_);
  }
  return Push::kOverflow;
}

bool Outbox::pop(Outgoing& out) {
  std::lock_guard lock(mutex_);
  if (items_.empty()) return false;
  out = std::move(items_.front());
  items_.pop_front();
  bytes_ -= out.text.size();
  account(-static_cast<std::int64_t>(out.text.size()));
  return true;
}

std::size_t Outbox::pop_some(std::vector<Outgoing>& out, std::size_t max) {
  std::lock_guard lock(mutex_);
  std::size_t taken = 0;
  while (taken < max && !items_.empty()) {
    bytes_ -= items_.front().text.size();
    account(-static_cast<std::int64_t>(items_.front().text.size()));
    out.push_back(std::move(items_.front()));
    items_.pop_front();
    ++taken;
  }
  return taken;
}

bool Outbox::expired(Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  return !items_.empty() && now - items_.front().queued >= limits_.send_timeout;
}

bool Outbox::close() {
  std::deque<Outgoing> dropped;
  std::lock_guard lock(mutex_);
  const bool was_open = !closed_;
  closed_ = true;
  account(-static_cast<std::int64_t>(bytes_));
  bytes_ = 0;
  dropped.swap(items_);
  return was_open;
}

bool Outbox::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

std::size_t Outbox::size() const {
  std::lock_guard lock(mutex_);
  return items_.size();
}

std::uint64_t Outbox::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

}  // namespace jmedia::edge
