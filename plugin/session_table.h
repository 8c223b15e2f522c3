// Every media session, reachable by its Janus handle (the request and media paths) and by its
// media_session id (admin and client lookups). Both indexes are sharded; a session count kept
// apart from them enforces max_sessions without a global lock.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "media_session.h"
#include "sharded_map.h"

namespace jmedia {

class SessionTable {
 public:
  explicit SessionTable(std::size_t shards) : by_handle_(shards), by_id_(shards) {}

  // Claims a slot under limit; false when the table is full. Pair with add() or release_slot().
  bool reserve_slot(std::size_t limit);
  void release_slot() { count_.fetch_sub(1, std::memory_order_acq_rel); }

  // Adds a session whose slot is reserved. False when its handle or id is present already.
  bool add(const std::shared_ptr<MediaSession>& session);
  std::shared_ptr<MediaSession> find(const janus_plugin_session* handle) const;
  std::shared_ptr<MediaSession> find(const std::string& id) const;
  bool contains_id(const std::string& id) const { return by_id_.find(id).has_value(); }
  // Removes the session of handle from both indexes and frees its slot.
  std::shared_ptr<MediaSession> remove(const janus_plugin_session* handle);
  std::vector<std::shared_ptr<MediaSession>> remove_all();

  std::size_t size() const { return count_.load(std::memory_order_acquire); }
  std::size_t shard_count() const { return by_id_.shard_count(); }

 private:
  ShardedMap<const janus_plugin_session*, std::shared_ptr<MediaSession>> by_handle_;
  ShardedMap<std::string, std::shared_ptr<MediaSession>> by_id_;
  std::atomic<std::size_t> count_{0};
};

}  // namespace jmedia
