// Admin API requests (message_plugin to janus.plugin.media): list, info, devices, kick,
// drain, limits. Answered synchronously on the caller's thread.
#include <chrono>

#include "../common/log.h"
#include "../runtime/runtime.h"
#include "media_plugin.h"

namespace jmedia {

JsonPtr MediaPlugin::handle_admin_message(const json_t* message) {
  const auto received = std::chrono::steady_clock::now();
  Parsed<AdminRequest> parsed = parse_admin_request(message);
  const std::size_t label = request_label_index(parsed.name, !parsed.name.empty());
  JsonPtr reply = stopping_.load()
                      ? error_reply(Error{ErrorCode::kShuttingDown, "the plugin is stopping"})
                  : parsed.error ? error_reply(*parsed.error)
                                 : answer_admin(*parsed.request);
  const bool ok = json_object_get(reply.get(), "error_code") == nullptr;
  metrics_->request_done(
      label, ok,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - received).count());
  return reply;
}

JsonPtr MediaPlugin::answer_admin(const AdminRequest& request) {
  return std::visit(
      [&](const auto& r) -> JsonPtr {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, ListRequest>) return list(r, nullptr);
        if constexpr (std::is_same_v<T, InfoRequest>) return info(r, nullptr);
        if constexpr (std::is_same_v<T, DevicesRequest>) return devices_page(r, nullptr);
        if constexpr (std::is_same_v<T, KickRequest>) return kick(r);
        if constexpr (std::is_same_v<T, DrainRequest>) return drain(r);
        if constexpr (std::is_same_v<T, LimitsRequest>) return limits(r);
      },
      request);
}

std::size_t MediaPlugin::kick_session(const SessionPtr& session, KickRequest::Reason reason) {
  if (session->destroyed()) return 0;
  const bool candidates = reason == KickRequest::Reason::kTooManyCandidates;
  log_info("admin: kicking session %s (%s)%s", session->id().c_str(), role_name(session->role()),
           candidates ? ": too many ICE candidates" : "");
  if (candidates) {
    push_error(session, "",
               Error{ErrorCode::kTooManyCandidates,
                     "this handle sent more ICE candidates than the server allows "
                     "(max_ice_candidates); it is being hung up and detached"});
  }
  JsonPtr event = result_event("kicked");
  set(event.get(), "media_session", session->id());
  push(session, "", std::move(event));
  const SessionState state = session->state();
  if (state == SessionState::kUp || state == SessionState::kNegotiating) {
    session->set_pending_end(EndReason::kKicked);
    host_.close_pc(session->handle());
  }
  if (state != SessionState::kUp) end_role_and_tell(session, EndReason::kKicked);
  return 1;
}

JsonPtr MediaPlugin::kick(const KickRequest& request) {
  std::size_t kicked = 0;
  if (request.media_session) {
    SessionPtr session = sessions_.find(*request.media_session);
    if (!session) {
      return error_reply(Error{ErrorCode::kSessionNotFound,
                               "no media session '" + request.media_session->substr(0, 64) + "'"});
    }
    kicked = kick_session(session, request.reason);
  } else {
    auto device = devices_.find(*request.device_id);
    if (!device) {
      return error_reply(Error{ErrorCode::kNoSuchDevice, "no device '" + *request.device_id + "'"});
    }
    for (const auto& member : local_sessions_of(*device)) {
      kicked += kick_session(member, request.reason);
    }
  }
  JsonPtr reply = adopt(json_object());
  set(reply.get(), "media", "kick");
  set(reply.get(), "kicked", static_cast<std::uint64_t>(kicked));
  return reply;
}

JsonPtr MediaPlugin::drain(const DrainRequest& request) {
  const bool before = draining_.exchange(request.enabled);
  runtime::set_plugin_draining(request.enabled);  // /readyz of janus.transport.prometheus
  if (before != request.enabled) {
    log_info("admin: drain %s", request.enabled ? "on: new media sessions are refused" : "off");
  }
  JsonPtr reply = adopt(json_object());
  set(reply.get(), "media", "drain");
  set(reply.get(), "enabled", request.enabled);
  set(reply.get(), "active_sessions", static_cast<std::uint64_t>(sessions_.active()));
  return reply;
}

JsonPtr MediaPlugin::limits(const LimitsRequest& request) {
  if (request.max_sessions) limits_.max_sessions.store(*request.max_sessions);
  if (request.max_viewers_per_device) {
    limits_.max_viewers_per_device.store(*request.max_viewers_per_device);
  }
  if (request.queue_size) queue_.set_capacity(*request.queue_size);
  if (request.max_sessions || request.max_viewers_per_device || request.queue_size) {
    log_info("admin: limits now max_sessions=%zu max_viewers_per_device=%zu queue_size=%zu",
             limits_.max_sessions.load(), limits_.max_viewers_per_device.load(), queue_.capacity());
  }
  JsonPtr reply = adopt(json_object());
  set(reply.get(), "media", "limits");
  set(reply.get(), "max_sessions", static_cast<std::uint64_t>(limits_.max_sessions.load()));
  set(reply.get(), "max_viewers_per_device",
      static_cast<std::uint64_t>(limits_.max_viewers_per_device.load()));
  set(reply.get(), "queue_size", static_cast<std::uint64_t>(queue_.capacity()));
  return reply;
}

}  // namespace jmedia
