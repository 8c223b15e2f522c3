// Every media session, reachable by its Janus handle (request and media paths) and by its
// media_session id (admin and client lookups), plus one index per role for filtered paging.
// All indexes are sharded; the id and role indexes are ordered within a shard so that a
// page after a cursor costs O(shards * page), not O(sessions). Counters kept apart from the
// maps enforce max_sessions without a global lock.
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "media_session.h"
#include "sharded_map.h"

namespace jmedia {

// The order-preserving placement of media_session ids (16 lower-case hex digits, uniformly
// random) in the table's ordered indexes: an id's value as a number, so that the shards hold
// consecutive id ranges of equal expected size and a page reads one or two of them. Any other
// string (a lookup of an unknown id) gets a value that keeps the order: the first character
// that is not a hex digit ends the number, rounded to stay between its neighbours.
struct SessionIdOrder {
  static constexpr bool kOrderPreserving = true;
  std::size_t operator()(std::string_view id) const noexcept;
};

class SessionTable {
 public:
  using SessionPtr = std::shared_ptr<MediaSession>;

  explicit SessionTable(std::size_t shards);

  // Adds a session; false when its handle or id is present already.
  bool add(const SessionPtr& session);
  SessionPtr find(const janus_plugin_session* handle) const;
  SessionPtr find(const std::string& id) const;
  bool contains_id(const std::string& id) const { return by_id_.find(id).has_value(); }
  // Removes the session of handle from every index.
  SessionPtr remove(const janus_plugin_session* handle);
  std::vector<SessionPtr> remove_all();
  // Every session now (shutdown, not hot paths).
  std::vector<SessionPtr> snapshot() const;

  // A session takes one of max_sessions slots while it has a role (echo, publisher, viewer).
  bool reserve_active(std::size_t limit);
  void release_active() { active_.fetch_sub(1, std::memory_order_acq_rel); }
  std::size_t active() const { return active_.load(std::memory_order_acquire); }
  // Moves the session between role indexes (call with its transition mutex held).
  void index_role(const SessionPtr& session, Role from, Role to);

  // Sessions after cursor in id order, all or those of one role; more = another page exists.
  std::pair<std::vector<SessionPtr>, bool> page(const std::string& after, std::size_t limit,
                                                std::optional<Role> role) const;

  std::size_t size() const { return count_.load(std::memory_order_acquire); }
  // Sessions in one role (O(shards): for scrapes, not hot paths).
  std::size_t role_count(Role role) const { return by_role_[static_cast<int>(role)]->size(); }
  std::size_t shard_count() const { return by_id_.shard_count(); }

 private:
  using Ordered =
      ShardedMap<std::string, SessionPtr, SessionIdOrder, std::map<std::string, SessionPtr>>;
  ShardedMap<const janus_plugin_session*, SessionPtr> by_handle_;
  Ordered by_id_;
  std::array<std::unique_ptr<Ordered>, kRoleCount> by_role_;
  std::atomic<std::size_t> count_{0};
  std::atomic<std::size_t> active_{0};
};

}  // namespace jmedia
