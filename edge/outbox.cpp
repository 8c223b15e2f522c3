#include "outbox.h"

namespace jmedia::edge {
namespace {

// A drained queue keeps at most this many slots' worth of storage.
constexpr std::size_t kKeptSlots = 16;

}  // namespace

void Outbox::pop_front() {
  items_[head_] = Outgoing{};
  if (++head_ == items_.size()) {
    items_.clear();
    head_ = 0;
    if (items_.capacity() > kKeptSlots) std::vector<Outgoing>().swap(items_);
  } else if (head_ >= 64 && head_ * 2 >= items_.size()) {
    items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

void Outbox::drop_all(std::vector<Outgoing>& into) {
  account(-static_cast<std::int64_t>(bytes_));
  bytes_ = 0;
  head_ = 0;
  into.swap(items_);
}

Outbox::Push Outbox::push(std::string text, Clock::time_point now) {
  std::vector<Outgoing> dropped;  // freed outside the lock
  {
    std::lock_guard lock(mutex_);
    if (closed_) return Push::kClosed;
    const bool empty = count() == 0;
    const bool over =
        !empty && (count() >= limits_.max_messages || bytes_ + text.size() > limits_.max_bytes ||
                   now - front().queued >= limits_.send_timeout);
    if (!over) {
      bytes_ += text.size();
      account(static_cast<std::int64_t>(text.size()));
      items_.push_back(Outgoing{std::move(text), now});
      return empty ? Push::kQueuedFirst : Push::kQueued;
    }
    closed_ = true;
    drop_all(dropped);
  }
  return Push::kOverflow;
}

bool Outbox::pop(Outgoing& out) {
  std::lock_guard lock(mutex_);
  if (count() == 0) return false;
  const std::size_t size = front().text.size();
  out = std::move(front());
  bytes_ -= size;
  account(-static_cast<std::int64_t>(size));
  pop_front();
  return true;
}

std::size_t Outbox::pop_some(std::vector<Outgoing>& out, std::size_t max) {
  std::lock_guard lock(mutex_);
  std::size_t taken = 0;
  while (taken < max && count() != 0) {
    const std::size_t size = front().text.size();
    out.push_back(std::move(front()));
    bytes_ -= size;
    account(-static_cast<std::int64_t>(size));
    pop_front();
    ++taken;
  }
  return taken;
}

bool Outbox::expired(Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  return count() != 0 && now - items_[head_].queued >= limits_.send_timeout;
}

bool Outbox::close() {
  std::vector<Outgoing> dropped;
  std::lock_guard lock(mutex_);
  const bool was_open = !closed_;
  closed_ = true;
  drop_all(dropped);
  return was_open;
}

bool Outbox::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

std::size_t Outbox::size() const {
  std::lock_guard lock(mutex_);
  return count();
}

std::uint64_t Outbox::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

}  // namespace jmedia::edge
