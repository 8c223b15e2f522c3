#include "media_session.h"

#include <array>

namespace jmedia {

MediaSession::MediaSession(Host& host, janus_plugin_session* handle, std::string id)
    : host_(host), handle_(handle), id_(std::move(id)), created_at_ms_(unix_ms_now()) {}

MediaSession::~MediaSession() {
  if (owns_handle_reference_) host_.release_handle(handle_);
}

void MediaSession::start_negotiation(Role role, const MediaFlags& accepted) {
  audio_.store(accepted.audio, std::memory_order_relaxed);
  video_.store(accepted.video, std::memory_order_relaxed);
  data_.store(accepted.data, std::memory_order_relaxed);
  mirror_kinds();
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
  mirror_kinds();
}

void MediaSession::set_audio(bool on) {
  audio_.store(on, std::memory_order_relaxed);
  mirror_kinds();
}

void MediaSession::set_video(bool on) {
  video_.store(on, std::memory_order_relaxed);
  mirror_kinds();
}

void MediaSession::mirror_kinds() const {
  if (LocalViewer* viewer = this->viewer()) {
    viewer->set_kinds(MediaFlags{audio_enabled(), video_enabled(), data_enabled()});
  }
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

std::shared_ptr<LocalPublisher> MediaSession::publisher_endpoint(
    const std::shared_ptr<PluginMetrics>& metrics) {
  std::lock_guard lock(links_mutex_);
  if (!publisher_) {
    publisher_ = std::make_shared<LocalPublisher>(host_, handle_, metrics);
    publisher_raw_.store(publisher_.get(), std::memory_order_release);
  }
  return publisher_;
}

std::shared_ptr<LocalViewer> MediaSession::viewer_endpoint() {
  std::shared_ptr<LocalViewer> viewer;
  {
    std::lock_guard lock(links_mutex_);
    if (!viewer_) {
      viewer_ = std::make_shared<LocalViewer>(host_, handle_);
      viewer_raw_.store(viewer_.get(), std::memory_order_release);
    }
    viewer = viewer_;
  }
  mirror_kinds();
  return viewer;
}

namespace {

// The names of roles and states, made once (list builds these fields for every session).
const SharedJson& role_json(Role role) {
  static const std::array<SharedJson, kRoleCount> names{
      SharedJson(json_string(role_name(Role::kNone))),
      SharedJson(json_string(role_name(Role::kEcho))),
      SharedJson(json_string(role_name(Role::kPublisher))),
      SharedJson(json_string(role_name(Role::kViewer)))};
  return names[static_cast<std::size_t>(role)];
}

const SharedJson& state_json(SessionState state) {
  static const std::array<SharedJson, 4> names{
      SharedJson(json_string(state_name(SessionState::kIdle))),
      SharedJson(json_string(state_name(SessionState::kNegotiating))),
      SharedJson(json_string(state_name(SessionState::kUp))),
      SharedJson(json_string(state_name(SessionState::kClosed)))};
  return names[static_cast<std::size_t>(state)];
}

}  // namespace

JsonPtr MediaSession::identity_json(Device* device, Role role, SessionState state) const {
  // Every key is a literal of ours and every text a hex id, a validated device id or an enum
  // name: valid UTF-8, so jansson's checks are skipped.
  JsonPtr object = adopt(json_object());
  json_t* o = object.get();
  set_unchecked(o, "media_session", id_);
  if (device != nullptr) {
    set_unchecked(o, "device_id", device->id());
  } else {
    set_null_unchecked(o, "device_id");
  }
  role_json(role).set_in(o, "role");
  state_json(state).set_in(o, "state");
  return object;
}

JsonPtr MediaSession::to_json(JsonDetail detail) const {
  Device* const d = device();
  const Role r = role();
  const SessionState st = state();
  if (detail == JsonDetail::kSummary) return identity_json(d, r, st);
  JsonPtr object = identity_json(d, r, st);
  json_t* o = object.get();
  set_unchecked(o, "created_at", created_at_ms_);
  const std::int64_t up_at = up_at_ms_.load(std::memory_order_relaxed);
  if (up_at != 0) {
    set_unchecked(o, "up_at", up_at);
  } else {
    set_null_unchecked(o, "up_at");
  }
  set_unchecked(o, "audio", audio_enabled());
  set_unchecked(o, "video", video_enabled());
  set_unchecked(o, "data", data_enabled());
  set_unchecked(o, "packets_in", packets_in_.load(std::memory_order_relaxed));
  set_unchecked(o, "bytes_in", bytes_in_.load(std::memory_order_relaxed));
  // An echo counts its own; what a viewer was sent, its consumer counts.
  const LocalViewer* viewer = this->viewer();
  set_unchecked(o, "packets_out",
                packets_out_.load(std::memory_order_relaxed) +
                    (viewer != nullptr ? viewer->packets_out() : 0));
  set_unchecked(
      o, "bytes_out",
      bytes_out_.load(std::memory_order_relaxed) + (viewer != nullptr ? viewer->bytes_out() : 0));
  return object;
}

}  // namespace jmedia
