// One media session: the plugin's state for one Janus handle attached to janus.plugin.media.
// Shared between the core's threads (pool, handle loop, sessions thread) and our workers:
// fields read on the media path are atomic; role changes are serialised by a per-session
// mutex. The lifecycle follows Janus's rules (destroyed flag set once, hangup once per
// negotiation, the core's handle reference released when the last owner lets go).
// Ownership flows down: SessionTable -> MediaSession -> its device and its role's endpoint (a
// LocalPublisher or LocalViewer, which the device also holds while the session has the role);
// nothing below holds the session.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "../common/janus_api.h"
#include "../common/json.h"
#include "device.h"
#include "host.h"
#include "keyframe_gate.h"
#include "local_publisher.h"
#include "local_viewer.h"
#include "types.h"

namespace jmedia {

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
  bool mark_destroyed() { return !destroyed_.exchange(true, std::memory_order_acq_rel); }
  // True only for the first caller after each (re)negotiation.
  bool begin_hangup() { return !hanging_up_.exchange(true, std::memory_order_acq_rel); }

  // When the orphan sweep first saw the handle's stopped flag set (monotonic ms, 0: not yet);
  // the sweeper's thread only.
  std::int64_t stopped_seen_ms() const { return stopped_seen_ms_.load(std::memory_order_relaxed); }
  void set_stopped_seen_ms(std::int64_t ms) {
    stopped_seen_ms_.store(ms, std::memory_order_relaxed);
  }

  // Serialises role changes (worker: publish/watch/echo; loop thread: hangup; admin: kick).
  std::mutex& transition_mutex() { return transition_mutex_; }

  // A new offer/answer exchange began in this role with these kinds.
  void start_negotiation(Role role, const MediaFlags& accepted);
  void media_up();
  // A renegotiation of a live PeerConnection: new kinds, same state.
  void renegotiated(const MediaFlags& accepted);
  // The role ended (hangup, kick): back to no role, state closed.
  void end_role();

  Role role() const { return role_.load(std::memory_order_acquire); }
  SessionState state() const { return state_.load(std::memory_order_acquire); }
  bool audio_enabled() const { return audio_.load(std::memory_order_relaxed); }
  bool video_enabled() const { return video_.load(std::memory_order_relaxed); }
  bool data_enabled() const { return data_.load(std::memory_order_relaxed); }
  bool kind_enabled(bool video) const { return video ? video_enabled() : audio_enabled(); }
  // Also what its viewer endpoint receives (a viewer pauses and resumes kinds here).
  void set_audio(bool on);
  void set_video(bool on);
  std::uint32_t bitrate() const { return bitrate_.load(std::memory_order_relaxed); }
  void set_bitrate(std::uint32_t bps) { bitrate_.store(bps, std::memory_order_relaxed); }

  // The device this session publishes or watches: set once, kept for the session's life.
  void bind_device(std::shared_ptr<Device> device);
  Device* device() const { return device_raw_.load(std::memory_order_acquire); }
  std::shared_ptr<Device> device_ptr() const;

  // Its endpoints on that device: the producer it is as a publisher, the consumer it is as a
  // viewer. Each is made at the first publish or watch (transition mutex held) and kept for
  // the session's life, so that the media path may use the raw pointers without a lock; the
  // device holds one only while the session has that role. Each holds its own reference on
  // the handle.
  std::shared_ptr<LocalPublisher> publisher_endpoint(const std::shared_ptr<PluginMetrics>& metrics);
  LocalPublisher* publisher() const { return publisher_raw_.load(std::memory_order_acquire); }
  std::shared_ptr<LocalViewer> viewer_endpoint();
  LocalViewer* viewer() const { return viewer_raw_.load(std::memory_order_acquire); }

  void count_in(std::size_t bytes) {
    packets_in_.fetch_add(1, std::memory_order_relaxed);
    bytes_in_.fetch_add(bytes, std::memory_order_relaxed);
  }
  void count_out(std::size_t bytes) {
    packets_out_.fetch_add(1, std::memory_order_relaxed);
    bytes_out_.fetch_add(bytes, std::memory_order_relaxed);
  }

  // An echo's own keyframe requests (configure): at most one per interval. A publisher's go
  // through its LocalPublisher, with the device's consumers' requests.
  KeyframeGate& echo_keyframes() { return echo_keyframes_; }

  // Why the next hangup happens, when we know better than the core (request, kick). Cleared
  // by start_negotiation: it is about the PeerConnection it was set for.
  void set_pending_end(EndReason reason) { pending_end_.store(static_cast<int>(reason)); }
  std::optional<EndReason> take_pending_end() {
    const int reason = pending_end_.exchange(-1);
    if (reason < 0) return std::nullopt;
    return static_cast<EndReason>(reason);
  }

  // When the request now being processed arrived (monotonic ms): a negotiation it starts
  // is timed from there (setup latency).
  void set_request_received_ms(std::int64_t ms) {
    request_received_ms_.store(ms, std::memory_order_relaxed);
  }
  std::int64_t negotiation_started_ms() const {
    return negotiation_started_ms_.load(std::memory_order_relaxed);
  }

  // The session object of the API: kFull for info, query_session and list with "detail";
  // kSummary (media_session, device_id, role, state: the fields that identify it) for list.
  enum class JsonDetail { kSummary, kFull };
  JsonPtr to_json(JsonDetail detail = JsonDetail::kFull) const;

 private:
  Host& host_;
  janus_plugin_session* const handle_;
  bool owns_handle_reference_ = true;
  const std::string id_;
  const std::int64_t created_at_ms_;
  std::mutex transition_mutex_;
  mutable std::mutex links_mutex_;  // guards device_, publisher_ and viewer_ (a leaf)
  std::shared_ptr<Device> device_;
  std::shared_ptr<LocalPublisher> publisher_;
  std::shared_ptr<LocalViewer> viewer_;
  std::atomic<Device*> device_raw_{nullptr};
  std::atomic<LocalPublisher*> publisher_raw_{nullptr};
  std::atomic<LocalViewer*> viewer_raw_{nullptr};
  std::atomic<std::int64_t> up_at_ms_{0};
  KeyframeGate echo_keyframes_;
  std::atomic<bool> destroyed_{false};
  std::atomic<bool> hanging_up_{false};
  std::atomic<Role> role_{Role::kNone};
  std::atomic<SessionState> state_{SessionState::kIdle};
  std::atomic<bool> audio_{false};
  std::atomic<bool> video_{false};
  std::atomic<bool> data_{false};
  std::atomic<std::uint32_t> bitrate_{0};
  std::atomic<std::uint64_t> packets_in_{0};
  std::atomic<std::uint64_t> bytes_in_{0};
  std::atomic<std::uint64_t> packets_out_{0};
  std::atomic<std::uint64_t> bytes_out_{0};
  std::atomic<int> pending_end_{-1};  // an EndReason, -1 when none
  std::atomic<std::int64_t> request_received_ms_{0};
  std::atomic<std::int64_t> negotiation_started_ms_{0};
  std::atomic<std::int64_t> stopped_seen_ms_{0};

  JsonPtr identity_json(Device* device, Role role, SessionState state) const;
  void mirror_kinds() const;  // the session's kinds to its viewer endpoint, if it has one
};

}  // namespace jmedia
