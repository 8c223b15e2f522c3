#include "media_plugin.h"

#include <cinttypes>
#include <cstdio>
#include <random>

#include "../common/log.h"

namespace jmedia {

JsonPtr error_event(const Error& error) {
  JsonPtr event = adopt(json_object());
  set(event.get(), "media", "event");
  set(event.get(), "error_code", numeric(error.code));
  set(event.get(), "error", std::string_view(error.reason));
  return event;
}

JsonPtr result_event(const char* result) {
  JsonPtr event = adopt(json_object());
  set(event.get(), "media", "event");
  set(event.get(), "result", result);
  return event;
}

MediaPlugin::MediaPlugin(Host& host, SdpEngine& sdp, const PluginConfig& config)
    : host_(host),
      sdp_(sdp),
      config_(config),
      sessions_(config.shards),
      queue_(config.worker_threads, config.queue_size) {}

MediaPlugin::~MediaPlugin() { shutdown(); }

void MediaPlugin::shutdown() {
  if (stopping_.exchange(true)) return;
  queue_.stop();
  for (auto& session : sessions_.remove_all()) session->mark_destroyed();
}

std::string MediaPlugin::new_session_id() const {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  for (;;) {
    std::uint64_t value = generator();
    if (value == 0) continue;
    char text[17];
    std::snprintf(text, sizeof text, "%016" PRIx64, value);
    if (!sessions_.contains_id(text)) return text;
  }
}

void MediaPlugin::create_session(janus_plugin_session* handle, int* error) {
  if (stopping_.load()) {
    *error = -1;
    return;
  }
  if (!sessions_.reserve_slot(config_.max_sessions)) {
    log_warn("create_session: max_sessions (%zu) reached, refusing a new handle",
             config_.max_sessions);
    *error = -2;
    return;
  }
  auto session = std::make_shared<MediaSession>(host_, handle, new_session_id());
  handle->plugin_handle = session.get();
  if (!sessions_.add(session)) {
    // The same handle twice would be a core bug; keep the first and refuse this one.
    handle->plugin_handle = nullptr;
    sessions_.release_slot();
    session->disown_handle();
    *error = -3;
    return;
  }
  *error = 0;
  log_verbose("session %s created", session->id().c_str());
}

Reply MediaPlugin::handle_message(janus_plugin_session* handle, const char* transaction,
                                  JsonPtr message, JsonPtr jsep) {
  auto sync_error = [](ErrorCode code, std::string reason) {
    return Reply{Reply::Kind::kSync, error_event(Error{code, std::move(reason)})};
  };
  if (stopping_.load()) return sync_error(ErrorCode::kShuttingDown, "the plugin is stopping");
  SessionPtr session = sessions_.find(handle);
  if (!session || session->destroyed()) {
    return sync_error(ErrorCode::kNoSession, "no media session for this handle");
  }
  ParsedRequest parsed = parse_client_request(message.get(), jsep.get());
  if (parsed.error && parsed.name.empty()) {
    // Not even a known request: nothing tells us whether it was meant sync or async.
    return Reply{Reply::Kind::kSync, error_event(*parsed.error)};
  }
  // Every request so far is async; its errors arrive as events, like its results.
  std::string tx = transaction ? transaction : "";
  if (parsed.error) {
    push_error(session, tx, *parsed.error);
    return Reply{Reply::Kind::kAsync, nullptr};
  }
  WorkQueue::Job job;
  if (auto* echo = std::get_if<EchoRequest>(&*parsed.request)) {
    job = [this, session, tx, request = std::move(*echo)]() mutable {
      run_echo(session, tx, std::move(request));
    };
  } else {
    job = [this, session, tx] { run_hangup(session, tx); };
  }
  const std::size_t affinity = std::hash<std::string>{}(session->id());
  switch (queue_.push(affinity, std::move(job))) {
    case WorkQueue::PushResult::kQueued:
      break;
    case WorkQueue::PushResult::kFull:
      push_error(session, tx,
                 Error{ErrorCode::kBusy, "too many pending requests (queue_size " +
                                             std::to_string(queue_.capacity()) + "); retry"});
      break;
    case WorkQueue::PushResult::kStopped:
      push_error(session, tx, Error{ErrorCode::kShuttingDown, "the plugin is stopping"});
      break;
  }
  return Reply{Reply::Kind::kAsync, nullptr};
}

void MediaPlugin::run_echo(const SessionPtr& session, const std::string& transaction,
                           EchoRequest request) {
  if (session->destroyed()) return;
  auto answered = sdp_.echo_answer(request.offer_sdp, request.flags);
  if (auto* error = std::get_if<Error>(&answered)) {
    push_error(session, transaction, *error);
    return;
  }
  auto& answer = std::get<EchoAnswer>(answered);
  session->start_negotiation(Role::kEcho, MediaFlags{answer.audio, answer.video, answer.data});
  JsonPtr event = result_event("echoing");
  set(event.get(), "media_session", session->id());
  JsonPtr jsep = adopt(json_object());
  set(jsep.get(), "type", "answer");
  set(jsep.get(), "sdp", std::string_view(answer.sdp));
  push(session, transaction, std::move(event), std::move(jsep));
}

void MediaPlugin::run_hangup(const SessionPtr& session, const std::string& transaction) {
  if (session->destroyed()) return;
  const SessionState state = session->state();
  if (state == SessionState::kNegotiating || state == SessionState::kUp) {
    session->set_hangup_reason("request");
    host_.close_pc(session->handle());
  }
  push(session, transaction, result_event("hangingup"));
}

void MediaPlugin::push(const SessionPtr& session, const std::string& transaction, JsonPtr event,
                       JsonPtr jsep) {
  if (session->destroyed()) return;
  const int result = host_.push_event(session->handle(),
                                      transaction.empty() ? nullptr : transaction.c_str(),
                                      event.get(), jsep.get());
  if (result != 0) {
    log_verbose("session %s: push_event refused (%d)", session->id().c_str(), result);
  }
}

void MediaPlugin::push_error(const SessionPtr& session, const std::string& transaction,
                             const Error& error) {
  log_verbose("session %s: error %d: %s", session->id().c_str(), numeric(error.code),
              error.reason.c_str());
  push(session, transaction, error_event(error));
}

JsonPtr MediaPlugin::handle_admin_message(const json_t* message) {
  (void)message;
  return error_event(Error{ErrorCode::kUnknownRequest, "no admin requests yet"});
}

MediaSession* MediaPlugin::live_session(janus_plugin_session* handle) const {
  // Media callbacks and destroy_session share the handle's loop thread, so the pointer the
  // handle carries stays valid for the duration of the callback.
  if (handle == nullptr || g_atomic_int_get(&handle->stopped) || stopping_.load()) return nullptr;
  auto* session = static_cast<MediaSession*>(handle->plugin_handle);
  if (session == nullptr || session->destroyed()) return nullptr;
  return session;
}

void MediaPlugin::setup_media(janus_plugin_session* handle) {
  MediaSession* session = live_session(handle);
  if (session == nullptr) return;
  session->media_up();
  log_verbose("session %s: WebRTC up", session->id().c_str());
}

void MediaPlugin::incoming_rtp(janus_plugin_session* handle, janus_plugin_rtp* packet) {
  MediaSession* session = live_session(handle);
  if (session == nullptr || packet == nullptr) return;
  session->count_in(packet->length);
  if (session->role() != Role::kEcho) return;
  const bool enabled = packet->video ? session->video_enabled() : session->audio_enabled();
  if (!enabled) return;
  host_.relay_rtp(handle, packet);
  session->count_out(packet->length);
}

void MediaPlugin::incoming_rtcp(janus_plugin_session* handle, janus_plugin_rtcp* packet) {
  MediaSession* session = live_session(handle);
  if (session == nullptr || packet == nullptr) return;
  if (session->role() != Role::kEcho) return;
  // Echo: the peer's feedback is about the stream we send back, which is its own.
  host_.relay_rtcp(handle, packet);
}

void MediaPlugin::incoming_data(janus_plugin_session* handle, janus_plugin_data* packet) {
  MediaSession* session = live_session(handle);
  if (session == nullptr || packet == nullptr || packet->buffer == nullptr) return;
  session->count_in(packet->length);
  if (session->role() != Role::kEcho || !session->data_enabled()) return;
  host_.relay_data(handle, packet);
  session->count_out(packet->length);
}

void MediaPlugin::slow_link(janus_plugin_session* handle, int mindex, bool video, bool uplink) {
  MediaSession* session = live_session(handle);
  if (session == nullptr) return;
  log_verbose("session %s: slow %s on %s (m-line %d)", session->id().c_str(),
              uplink ? "uplink" : "downlink", video ? "video" : "audio", mindex);
}

void MediaPlugin::hangup_media(janus_plugin_session* handle) {
  MediaSession* session = live_session(handle);
  if (session == nullptr || !session->begin_hangup()) return;
  const SessionState before = session->state();
  session->closed();
  const char* reason = session->take_hangup_reason();
  if (reason == nullptr) reason = before == SessionState::kUp ? "peerconnection closed" : "negotiation ended";
  JsonPtr event = result_event("hangup");
  set(event.get(), "media_session", session->id());
  set(event.get(), "reason", reason);
  host_.push_event(handle, nullptr, event.get(), nullptr);
}

void MediaPlugin::destroy_session(janus_plugin_session* handle, int* error) {
  SessionPtr session = sessions_.remove(handle);
  if (!session) {
    *error = -2;
    return;
  }
  session->mark_destroyed();
  session->closed();
  handle->plugin_handle = nullptr;
  *error = 0;
  log_verbose("session %s destroyed", session->id().c_str());
}

JsonPtr MediaPlugin::query_session(janus_plugin_session* handle) {
  SessionPtr session = sessions_.find(handle);
  if (!session) return nullptr;
  return session->to_json();
}

}  // namespace jmedia
