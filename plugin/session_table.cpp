#include "session_table.h"

namespace jmedia {

bool SessionTable::reserve_slot(std::size_t limit) {
  std::size_t current = count_.load(std::memory_order_acquire);
  while (current < limit) {
    if (count_.compare_exchange_weak(current, current + 1, std::memory_order_acq_rel)) {
      return true;
    }
  }
  return false;
}

bool SessionTable::add(const std::shared_ptr<MediaSession>& session) {
  if (!by_id_.insert(session->id(), session)) return false;
  if (!by_handle_.insert(session->handle(), session)) {
    by_id_.erase(session->id());
    return false;
  }
  return true;
}

std::shared_ptr<MediaSession> SessionTable::find(const janus_plugin_session* handle) const {
  auto found = by_handle_.find(handle);
  return found ? std::move(*found) : nullptr;
}

std::shared_ptr<MediaSession> SessionTable::find(const std::string& id) const {
  auto found = by_id_.find(id);
  return found ? std::move(*found) : nullptr;
}

std::shared_ptr<MediaSession> SessionTable::remove(const janus_plugin_session* handle) {
  auto removed = by_handle_.erase(handle);
  if (!removed) return nullptr;
  by_id_.erase((*removed)->id());
  release_slot();
  return std::move(*removed);
}

std::vector<std::shared_ptr<MediaSession>> SessionTable::remove_all() {
  auto sessions = by_handle_.drain();
  by_id_.drain();
  count_.fetch_sub(sessions.size(), std::memory_order_acq_rel);
  return sessions;
}

}  // namespace jmedia
