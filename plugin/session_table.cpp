#include "session_table.h"

namespace jmedia {

std::size_t SessionIdOrder::operator()(std::string_view id) const noexcept {
  std::uint64_t value = 0;
  int fill = -1;  // once a character is not a hex digit: the digit every later place gets
  for (std::size_t i = 0; i < 16; ++i) {
    int digit = fill;
    if (fill < 0) {
      const auto c = static_cast<unsigned char>(i < id.size() ? id[i] : '\0');
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        digit = c - 'a' + 10;
      } else if (c < '0') {  // sorts before every id going on with a digit here
        digit = fill = 0;
      } else if (c < 'a') {  // between the ids going on with '9' and those with 'a'
        digit = 10;
        fill = 0;
      } else {  // after every id with this prefix
        digit = fill = 15;
      }
    }
    value = value << 4 | static_cast<std::uint64_t>(digit);
  }
  return static_cast<std::size_t>(value);
}

SessionTable::SessionTable(std::size_t shards) : by_handle_(shards), by_id_(shards) {
  for (auto& index : by_role_) index = std::make_unique<Ordered>(shards);
}

bool SessionTable::add(const SessionPtr& session) {
  if (!by_id_.insert(session->id(), session)) return false;
  if (!by_handle_.insert(session->handle(), session)) {
    by_id_.erase(session->id());
    return false;
  }
  count_.fetch_add(1, std::memory_order_acq_rel);
  return true;
}

SessionTable::SessionPtr SessionTable::find(const janus_plugin_session* handle) const {
  auto found = by_handle_.find(handle);
  return found ? std::move(*found) : nullptr;
}

SessionTable::SessionPtr SessionTable::find(const std::string& id) const {
  auto found = by_id_.find(id);
  return found ? std::move(*found) : nullptr;
}

SessionTable::SessionPtr SessionTable::remove(const janus_plugin_session* handle) {
  auto removed = by_handle_.erase(handle);
  if (!removed) return nullptr;
  SessionPtr session = std::move(*removed);
  by_id_.erase(session->id());
  for (auto& index : by_role_) index->erase(session->id());
  count_.fetch_sub(1, std::memory_order_acq_rel);
  return session;
}

std::vector<SessionTable::SessionPtr> SessionTable::snapshot() const {
  std::vector<SessionPtr> sessions;
  by_handle_.for_each(
      [&](const auto& /*handle*/, const SessionPtr& session) { sessions.push_back(session); });
  return sessions;
}

std::vector<SessionTable::SessionPtr> SessionTable::remove_all() {
  auto sessions = by_handle_.drain();
  by_id_.drain();
  for (auto& index : by_role_) index->drain();
  count_.fetch_sub(sessions.size(), std::memory_order_acq_rel);
  return sessions;
}

bool SessionTable::reserve_active(std::size_t limit) {
  std::size_t current = active_.load(std::memory_order_acquire);
  while (current < limit) {
    if (active_.compare_exchange_weak(current, current + 1, std::memory_order_acq_rel)) return true;
  }
  return false;
}

void SessionTable::index_role(const SessionPtr& session, Role from, Role to) {
  if (from == to) return;
  by_role_[static_cast<int>(from)]->erase(session->id());
  // destroy_session marks the session destroyed under the same transition mutex before it
  // removes it, so a destroyed session is never indexed again.
  if (to != Role::kNone && !session->destroyed()) {
    by_role_[static_cast<int>(to)]->insert(session->id(), session);
  }
}

std::pair<std::vector<SessionTable::SessionPtr>, bool> SessionTable::page(
    const std::string& after, std::size_t limit, std::optional<Role> role) const {
  const Ordered& index = role ? *by_role_[static_cast<int>(*role)] : by_id_;
  auto [entries, more] = index.page(after, limit);
  std::vector<SessionPtr> sessions;
  sessions.reserve(entries.size());
  for (auto& entry : entries) sessions.push_back(std::move(entry.second));
  return {std::move(sessions), more};
}

}  // namespace jmedia
