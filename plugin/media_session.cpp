#include "media_session.h"

#include <chrono>

namespace jmedia {

std::int64_t unix_ms_now() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::int64_t monotonic_ms_now() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

MediaSession::MediaSession(Host& host, janus_plugin_session* handle, std::string id)
    : host_(host), handle_(handle), id_(std::move(id)), created_at_ms_(unix_ms_now()) {}

MediaSession::~MediaSession() {
  if (owns_handle_reference_) host_.release_handle(handle_);
}

void MediaSession::start_negotiation(Role role, const MediaFlags& accepted) {
  audio_.store(accepted.audio, std::memory_order_relaxed);
  video_.store(accepted.video, std::memory_order_relaxed);
  data_.store(accepted.data, std::memory_order_relaxed);
  role_.store(role, std::memory_order_release);
  // A reason set for the last negotiation's close_pc (hangup, kick, timeout, shutdown) is
  // stale: the core may never have answered it, and this negotiation ends for its own reason.
  pending_end_.store(-1);
  hanging_up_.store(false, std::memory_order_release);
  up_at_ms_.store(0, std::memory_order_relaxed);
  const std::int64_t received = request_received_ms_.load(std::memory_order_relaxed);
  negotiation_started_ms_.store(received != 0 ? received : monotonic_ms_now(),
                                std::memory_order_relaxed);
  state_.store(SessionState::kNegotiating, std::memory_order_release);
}

void MediaSession::renegotiated(const MediaFlags& accepted) {
  audio_.store(accepted.audio, std::memory_order_relaxed);
  video_.store(accepted.video, std::memory_order_relaxed);
  data_.store(accepted.data, std::memory_order_relaxed);
}

void MediaSession::media_up() {
  up_at_ms_.store(unix_ms_now(), std::memory_order_relaxed);
  state_.store(SessionState::kUp, std::memory_order_release);
}

void MediaSession::end_role() {
  role_.store(Role::kNone, std::memory_order_release);
  state_.store(SessionState::kClosed, std::memory_order_release);
}

void MediaSession::bind_device(std::shared_ptr<Device> device) {
  std::lock_guard lock(links_mutex_);
  device_raw_.store(device.get(), std::memory_order_release);
  device_ = std::move(device);
}

std::shared_ptr<Device> MediaSession::device_ptr() const {
  std::lock_guard lock(links_mutex_);
  return device_;
}

std::shared_ptr<ViewerLink> MediaSession::viewer_link() const {
  std::lock_guard lock(links_mutex_);
  return viewer_link_;
}

void MediaSession::set_viewer_link(std::shared_ptr<ViewerLink> link) {
  std::lock_guard lock(links_mutex_);
  viewer_link_ = std::move(link);
}

bool MediaSession::keyframe_request_due(std::int64_t now_ms, std::int64_t interval_ms) {
  std::int64_t last = last_keyframe_request_ms_.load(std::memory_order_relaxed);
  if (last != 0 && now_ms - last < interval_ms) return false;
  return last_keyframe_request_ms_.compare_exchange_strong(last, now_ms);
}

JsonPtr MediaSession::to_json() const {
  JsonPtr object = adopt(json_object());
  json_t* o = object.get();
  set(o, "media_session", id_);
  if (Device* d = device(); d != nullptr) {
    set(o, "device_id", d->id());
  } else {
    set_null(o, "device_id");
  }
  set(o, "role", role_name(role()));
  set(o, "state", state_name(state()));
  set(o, "created_at", created_at_ms_);
  const std::int64_t up_at = up_at_ms_.load(std::memory_order_relaxed);
  if (up_at != 0) {
    set(o, "up_at", up_at);
  } else {
    set_null(o, "up_at");
  }
  set(o, "audio", audio_enabled());
  set(o, "video", video_enabled());
  set(o, "data", data_enabled());
  set(o, "packets_in", packets_in_.load(std::memory_order_relaxed));
  set(o, "bytes_in", bytes_in_.load(std::memory_order_relaxed));
  set(o, "packets_out", packets_out_.load(std::memory_order_relaxed));
  set(o, "bytes_out", bytes_out_.load(std::memory_order_relaxed));
  return object;
}

}  // namespace jmedia
