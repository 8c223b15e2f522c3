// One media session: the plugin's state for one Janus handle attached to janus.plugin.media.
// Shared between the core's threads (pool, handle loop, sessions thread) and our workers, so
// every mutable field is atomic; the lifecycle follows Janus's rules (destroyed flag set once,
// hangup once via compare-and-swap, the core's handle reference released when the last owner
// lets go).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "../common/janus_api.h"
#include "../common/json.h"
#include "host.h"

namespace jmedia {

enum class Role : int { kNone, kEcho };
enum class SessionState : int { kIdle, kNegotiating, kUp, kClosed };

const char* role_name(Role role);
const char* state_name(SessionState state);

std::int64_t unix_ms_now();

class MediaSession {
 public:
  // Adopts the reference that the core took on handle for us; released in the destructor.
  MediaSession(Host& host, janus_plugin_session* handle, std::string id);
  ~MediaSession();
  MediaSession(const MediaSession&) = delete;
  MediaSession& operator=(const MediaSession&) = delete;

  janus_plugin_session* handle() const { return handle_; }
  // For a session that never reached the core: the core initialises the handle's reference
  // count only after create_session succeeds, so there is nothing to release then.
  void disown_handle() { owns_handle_reference_ = false; }
  const std::string& id() const { return id_; }
  std::int64_t created_at_ms() const { return created_at_ms_; }

  bool destroyed() const { return destroyed_.load(std::memory_order_acquire); }
  // True only for the first caller.
  bool mark_destroyed() { return !destroyed_.exchange(true, std::memory_order_acq_rel); }
  // True only for the first caller after each (re)negotiation.
  bool begin_hangup() { return !hanging_up_.exchange(true, std::memory_order_acq_rel); }

  // A new offer was answered: the session negotiates with these accepted kinds.
  void start_negotiation(Role role, const MediaFlags& accepted);
  void media_up();
  void closed() { state_.store(SessionState::kClosed, std::memory_order_release); }

  Role role() const { return role_.load(std::memory_order_acquire); }
  SessionState state() const { return state_.load(std::memory_order_acquire); }
  bool audio_enabled() const { return audio_.load(std::memory_order_relaxed); }
  bool video_enabled() const { return video_.load(std::memory_order_relaxed); }
  bool data_enabled() const { return data_.load(std::memory_order_relaxed); }

  void count_in(std::size_t bytes) {
    packets_in_.fetch_add(1, std::memory_order_relaxed);
    bytes_in_.fetch_add(bytes, std::memory_order_relaxed);
  }
  void count_out(std::size_t bytes) {
    packets_out_.fetch_add(1, std::memory_order_relaxed);
    bytes_out_.fetch_add(bytes, std::memory_order_relaxed);
  }

  // Why the next hangup happens, when we know better than the core (e.g. "request").
  void set_hangup_reason(const char* reason) { hangup_reason_.store(reason); }
  const char* take_hangup_reason() { return hangup_reason_.exchange(nullptr); }

  // The session object of the API (info, list, query_session).
  JsonPtr to_json() const;

 private:
  Host& host_;
  janus_plugin_session* const handle_;
  bool owns_handle_reference_ = true;
  const std::string id_;
  const std::int64_t created_at_ms_;
  std::atomic<std::int64_t> up_at_ms_{0};
  std::atomic<bool> destroyed_{false};
  std::atomic<bool> hanging_up_{false};
  std::atomic<Role> role_{Role::kNone};
  std::atomic<SessionState> state_{SessionState::kIdle};
  std::atomic<bool> audio_{false};
  std::atomic<bool> video_{false};
  std::atomic<bool> data_{false};
  std::atomic<std::uint64_t> packets_in_{0};
  std::atomic<std::uint64_t> bytes_in_{0};
  std::atomic<std::uint64_t> packets_out_{0};
  std::atomic<std::uint64_t> bytes_out_{0};
  std::atomic<const char*> hangup_reason_{nullptr};  // static strings only
};

}  // namespace jmedia
