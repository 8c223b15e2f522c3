#include "reply_box.h"

namespace jmedia::transport {

ReplyBox::~ReplyBox() {
  for (auto& [id, reply] : slots_) json_decref(reply);
}

std::uint64_t ReplyBox::expect() {
  std::lock_guard lock(mutex_);
  const std::uint64_t id = next_id_++;
  if (next_id_ == 0) next_id_ = 1;
  slots_.emplace(id, nullptr);
  return id;
}

void ReplyBox::deliver(std::uint64_t id, json_t* reply) noexcept {
  json_t* unwanted = reply;
  {
    std::lock_guard lock(mutex_);
    auto it = slots_.find(id);
    if (it != slots_.end() && it->second == nullptr) {
      it->second = reply;
      unwanted = nullptr;
    } else if (reply != nullptr) {
      ++discarded_;
    }
  }
  if (unwanted == nullptr) {
    arrived_.notify_all();
  } else {
    json_decref(unwanted);  // outside the lock
  }
}

JsonPtr ReplyBox::wait(std::uint64_t id, Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  arrived_.wait_until(lock, deadline, [&] {
    if (interrupted_) return true;
    auto it = slots_.find(id);
    return it == slots_.end() || it->second != nullptr;
  });
  auto it = slots_.find(id);
  if (it == slots_.end()) return nullptr;
  JsonPtr reply(it->second);
  slots_.erase(it);
  return reply;
}

void ReplyBox::forget(std::uint64_t id) noexcept {
  json_t* reply = nullptr;
  {
    std::lock_guard lock(mutex_);
    auto it = slots_.find(id);
    if (it == slots_.end()) return;
    reply = it->second;
    slots_.erase(it);
  }
  json_decref(reply);
}

void ReplyBox::interrupt() {
  {
    std::lock_guard lock(mutex_);
    interrupted_ = true;
  }
  arrived_.notify_all();
}

void ReplyBox::resume() {
  std::lock_guard lock(mutex_);
  interrupted_ = false;
}

std::size_t ReplyBox::expected() const {
  std::lock_guard lock(mutex_);
  return slots_.size();
}

std::uint64_t ReplyBox::discarded() const {
  std::lock_guard lock(mutex_);
  return discarded_;
}

}  // namespace jmedia::transport
