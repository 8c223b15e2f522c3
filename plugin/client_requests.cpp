// The async client requests (echo, publish, watch, start, configure, hangup), run on a
// worker in the order each session sent them.
#include <algorithm>

#include "../common/log.h"
#include "media_plugin.h"
#include "outbound_relay.h"
#include "relay_origin.h"

namespace jmedia {

bool MediaPlugin::run(const SessionPtr& session, const std::string& tx, ClientRequest request) {
  if (session->destroyed()) return false;
  return std::visit(
      [&](auto& r) -> bool {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, EchoRequest>) {
          return run_echo(session, tx, r);
        } else if constexpr (std::is_same_v<T, PublishRequest>) {
          return run_publish(session, tx, r);
        } else if constexpr (std::is_same_v<T, WatchRequest>) {
          return run_watch(session, tx, r);
        } else if constexpr (std::is_same_v<T, StartRequest>) {
          return run_start(session, tx);
        } else if constexpr (std::is_same_v<T, ConfigureRequest>) {
          return run_configure(session, tx, r);
        } else if constexpr (std::is_same_v<T, HangupRequest>) {
          return run_hangup(session, tx);
        } else {
          return push_error(session, tx, Error{ErrorCode::kInternal, "sync request queued"});
        }
      },
      request);
}

std::optional<Error> MediaPlugin::claim_role_slot(const SessionPtr& session) {
  if (session->destroyed()) {
    return Error{ErrorCode::kNoSession, "the handle was detached meanwhile"};
  }
  if (session->role() != Role::kNone) {
    return Error{ErrorCode::kWrongState, std::string("the session is already a ") +
                                             role_name(session->role()) + "; hang up first"};
  }
  if (draining_.load()) {
    return Error{ErrorCode::kDraining, "the server is draining: no new media sessions"};
  }
  const std::size_t limit = limits_.max_sessions.load();
  if (!sessions_.reserve_active(limit)) {
    metrics_->limit_rejected(LimitKind::kMaxSessions);
    return Error{ErrorCode::kTooManySessions,
                 "max_sessions (" + std::to_string(limit) + ") media sessions are active"};
  }
  return std::nullopt;
}

void MediaPlugin::enter_role(const SessionPtr& session, Role role, const MediaFlags& accepted) {
  const Role before = session->role();
  session->start_negotiation(role, accepted);
  sessions_.index_role(session, before, role);
  if (before == Role::kNone) metrics_->session_created(role);
}

Role MediaPlugin::leave_role(const SessionPtr& session, EndReason reason) {
  std::lock_guard lock(session->transition_mutex());
  const Role role = session->role();
  if (role == Role::kNone) return role;
  auto device = session->device_ptr();
  if (role == Role::kPublisher && device) {
    // Viewers left behind hear of it through the device's listener (device_has_news).
    if (LocalPublisher* producer = session->publisher())
      devices_.release_producer(device, producer);
    // Only if still this node's, and not published here again meanwhile; never waits.
    if (directory_) directory_->release(device->id());
  } else if (role == Role::kViewer && device) {
    if (LocalViewer* consumer = session->viewer()) {
      consumer->stop();
      devices_.remove_consumer(device, consumer);
    }
  }
  if (session->state() != SessionState::kUp) metrics_->peerconnection_failed(role, reason);
  metrics_->session_ended(role, reason);
  session->end_role();
  sessions_.index_role(session, role, Role::kNone);
  sessions_.release_active();
  return role;
}

Role MediaPlugin::end_role_and_tell(const SessionPtr& session, EndReason reason) {
  const Role role = leave_role(session, reason);
  if (role == Role::kNone) return role;
  JsonPtr event = result_event("hangup");
  set(event.get(), "media_session", session->id());
  set(event.get(), "role", role_name(role));
  set(event.get(), "reason", end_reason_text(reason));
  push(session, "", std::move(event));
  return role;
}

void MediaPlugin::device_has_news(const std::shared_ptr<Device>& device) {
  notifier_.notify(device);
}

void MediaPlugin::tell_viewers(const std::shared_ptr<Device>& device) {
  DeviceNews news = device->take_news();
  std::optional<std::string> offer;  // one for every viewer that renegotiates
  if (std::any_of(news.consumers.begin(), news.consumers.end(), [](const ConsumerNews& item) {
        return item.joined == ConsumerNews::Joined::kNewOffer;
      })) {
    auto made = sdp_.viewer_offer(news.media);
    if (auto* sdp = std::get_if<std::string>(&made)) {
      offer = std::move(*sdp);
    } else {
      log_warn("device %s: no offer for its viewers: %s", device->id().c_str(),
               std::get<Error>(made).reason.c_str());
    }
  }
  for (const auto& item : news.consumers) {
    // A relay to another node: that node is told (relay_origin.cpp), not a session here.
    if (auto* relay = dynamic_cast<OutboundRelay*>(item.consumer.get())) {
      if (origin_) origin_->tell(*device, *relay, item);
      continue;
    }
    // A local viewer's session, found by the handle its consumer holds; one gone meanwhile
    // has nobody to tell.
    const SessionPtr session = session_of(item.consumer->session_handle());
    if (!session) continue;
    if (item.producer_left) {
      JsonPtr event = result_event("publisher_left");
      set(event.get(), "device_id", device->id());
      push(session, "", std::move(event));
    }
    if (item.joined == ConsumerNews::Joined::kNone) continue;
    const bool renegotiate = item.joined == ConsumerNews::Joined::kNewOffer;
    JsonPtr event = result_event(renegotiate ? "offer" : "publisher_joined");
    set(event.get(), "device_id", device->id());
    set(event.get(), "media_session", session->id());
    JsonPtr jsep;
    if (renegotiate && offer) {
      // Different codecs: the viewer renegotiates and answers with "start" again.
      jsep = adopt(json_object());
      set(jsep.get(), "type", "offer");
      set(jsep.get(), "sdp", std::string_view(*offer));
    }
    push(session, "", std::move(event), std::move(jsep));
  }
}

namespace {

JsonPtr answer_jsep(const std::string& sdp, const char* type = "answer") {
  JsonPtr jsep = adopt(json_object());
  set(jsep.get(), "type", type);
  set(jsep.get(), "sdp", std::string_view(sdp));
  return jsep;
}

}  // namespace

bool MediaPlugin::run_echo(const SessionPtr& session, const std::string& tx,
                           const EchoRequest& request) {
  if (session->role() == Role::kEcho) {
    // Renegotiation of an existing echo: same role, new answer.
    auto answered = sdp_.echo_answer(request.offer_sdp, request.flags);
    if (auto* error = std::get_if<Error>(&answered)) return refuse_offer(session, tx, *error);
    auto& answer = std::get<Answer>(answered);
    // The PeerConnection stays up (the core calls setup_media only once): only the kinds
    // may change.
    session->renegotiated(MediaFlags{answer.audio, answer.video, answer.data});
    JsonPtr event = result_event("echoing");
    set(event.get(), "media_session", session->id());
    push(session, tx, std::move(event), answer_jsep(answer.sdp));
    return true;
  }
  auto answered = sdp_.echo_answer(request.offer_sdp, request.flags);
  if (auto* error = std::get_if<Error>(&answered)) return refuse_offer(session, tx, *error);
  auto& answer = std::get<Answer>(answered);
  {
    std::lock_guard lock(session->transition_mutex());
    if (auto error = claim_role_slot(session)) return refuse_offer(session, tx, *error);
    enter_role(session, Role::kEcho, MediaFlags{answer.audio, answer.video, answer.data});
  }
  JsonPtr event = result_event("echoing");
  set(event.get(), "media_session", session->id());
  push(session, tx, std::move(event), answer_jsep(answer.sdp));
  end_if_stopping(session);
  return true;
}

bool MediaPlugin::run_publish(const SessionPtr& session, const std::string& tx,
                              const PublishRequest& request) {
  auto answered = sdp_.publisher_answer(request.offer_sdp, request.flags);
  if (auto* error = std::get_if<Error>(&answered)) return refuse_offer(session, tx, *error);
  auto& answer = std::get<Answer>(answered);
  // Cluster: claimed in the directory first, outside the transition mutex (a bounded wait for
  // the directory thread); what the local part then refuses gives the claim back.
  auto cluster_claim = claim_in_cluster(request.device_id);
  if (auto* error = std::get_if<Error>(&cluster_claim)) return refuse_offer(session, tx, *error);
  struct GiveBack {
    cluster::Directory* directory;
    const std::string& device_id;
    bool keep = false;
    ~GiveBack() {
      if (directory != nullptr && !keep) directory->release(device_id);
    }
  } give_back{std::get<bool>(cluster_claim) ? directory_.get() : nullptr, request.device_id};
  std::shared_ptr<Device> device;
  {
    std::lock_guard lock(session->transition_mutex());
    if (Device* bound = session->device(); bound != nullptr && bound->id() != request.device_id) {
      return refuse_offer(
          session, tx,
          Error{ErrorCode::kWrongState,
                "this handle belongs to device '" + bound->id() + "'; attach a new handle"});
    }
    if (auto error = claim_role_slot(session)) return refuse_offer(session, tx, *error);
    auto claimed = devices_.claim_producer(request.device_id, session->publisher_endpoint(metrics_),
                                           answer.media);
    if (auto* error = std::get_if<Error>(&claimed)) {
      sessions_.release_active();
      return refuse_offer(session, tx, *error);
    }
    device = std::get<std::shared_ptr<Device>>(claimed);
    device->set_series_slot(metrics_->device_slot(request.device_id));
    session->bind_device(device);
    enter_role(session, Role::kPublisher, MediaFlags{answer.audio, answer.video, answer.data});
    give_back.keep = true;
  }
  JsonPtr event = result_event("publishing");
  set(event.get(), "media_session", session->id());
  set(event.get(), "device_id", request.device_id);
  push(session, tx, std::move(event), answer_jsep(answer.sdp));
  end_if_stopping(session);
  return true;
}

bool MediaPlugin::run_watch(const SessionPtr& session, const std::string& tx,
                            const WatchRequest& request) {
  std::string offer;
  // Held while the viewer is added to a device relayed from another node just set up: it
  // keeps the relay from lingering out before the viewer is in.
  std::shared_ptr<void> remote_hold;
  for (int attempt = 0;; ++attempt) {
    bool elsewhere = false;  // no local producer: the cluster directory is asked, unlocked
    {
      std::lock_guard lock(session->transition_mutex());
      if (Device* bound = session->device(); bound != nullptr && bound->id() != request.device_id) {
        return push_error(
            session, tx,
            Error{ErrorCode::kWrongState,
                  "this handle belongs to device '" + bound->id() + "'; attach a new handle"});
      }
      if (auto error = claim_role_slot(session)) return push_error(session, tx, *error);
      auto consumer = session->viewer_endpoint();
      auto added =
          devices_.add_consumer(request.device_id, consumer, limits_.max_viewers_per_device.load());
      if (auto* error = std::get_if<Error>(&added)) {
        if (error->code == ErrorCode::kTooManyViewers) {
          metrics_->limit_rejected(LimitKind::kMaxViewersPerDevice);
        }
        sessions_.release_active();
        if (error->code != ErrorCode::kNoSuchDevice || !directory_ || attempt != 0) {
          return push_error(session, tx, *error);
        }
        elsewhere = true;
      } else {
        auto [device, media] = std::get<DeviceRegistry::Watched>(std::move(added));
        auto offered = sdp_.viewer_offer(media);
        if (auto* refused = std::get_if<Error>(&offered)) {
          devices_.remove_consumer(device, consumer.get());
          sessions_.release_active();
          return push_error(session, tx, *refused);
        }
        offer = std::move(std::get<std::string>(offered));
        session->bind_device(device);
        enter_role(session, Role::kViewer,
                   MediaFlags{!media.audio_codec.empty(), !media.video_codec.empty(), media.data});
      }
    }
    if (!elsewhere) break;
    // Asked without the transition mutex (bounded waits for the directory thread and for the
    // origin's answer): the device is then relayed here (added again, once), or the error.
    if (auto remote = watch_elsewhere(request.device_id, remote_hold)) {
      return push_error(session, tx, *remote);
    }
  }
  JsonPtr event = result_event("offer");
  set(event.get(), "media_session", session->id());
  set(event.get(), "device_id", request.device_id);
  push(session, tx, std::move(event), answer_jsep(offer, "offer"));
  end_if_stopping(session);
  return true;
}

bool MediaPlugin::run_start(const SessionPtr& session, const std::string& tx) {
  LocalViewer* consumer = session->viewer();
  Device* device = session->device();
  if (session->role() != Role::kViewer || consumer == nullptr || device == nullptr) {
    return push_error(session, tx, Error{ErrorCode::kWrongState, "start needs a watch first"});
  }
  device->start_consumer(*consumer);
  push(session, tx, result_event("watching"));
  // A keyframe asked for now would reach a viewer whose media is not up yet and be lost:
  // setup_media asks when it is. Only a viewer that is up already (after a renegotiation)
  // needs one here.
  if (session->state() == SessionState::kUp) device->request_keyframe(true);
  return true;
}

bool MediaPlugin::run_configure(const SessionPtr& session, const std::string& tx,
                                const ConfigureRequest& request) {
  const Role role = session->role();
  if (role == Role::kNone) {
    return push_error(session, tx, Error{ErrorCode::kWrongState, "nothing to configure yet"});
  }
  if (request.bitrate && role == Role::kViewer) {
    return push_error(session, tx,
                      Error{ErrorCode::kWrongState,
                            "bitrate caps a publisher or an echo; a viewer cannot set it"});
  }
  if (request.offer_sdp && role == Role::kViewer) {
    return push_error(
        session, tx,
        Error{ErrorCode::kUnexpectedJsep, "a viewer renegotiates with watch/start, not configure"});
  }
  JsonPtr jsep;
  if (request.offer_sdp) {
    // A new negotiation, as echo and publish: every kind offered unless switched off here.
    MediaFlags wanted{request.audio.value_or(true), request.video.value_or(true), true};
    auto answered = role == Role::kEcho ? sdp_.echo_answer(*request.offer_sdp, wanted)
                                        : sdp_.publisher_answer(*request.offer_sdp, wanted);
    if (auto* error = std::get_if<Error>(&answered)) return refuse_offer(session, tx, *error);
    auto& answer = std::get<Answer>(answered);
    jsep = answer_jsep(answer.sdp);
    // The kinds relayed are those the new answer accepted: a client that adds a camera gets
    // its video through.
    session->renegotiated(MediaFlags{answer.audio, answer.video, answer.data});
    // Viewers offered other codecs stop now and get a new offer (the device's listener queues
    // them on the notifier), as when a publisher with other codecs takes over; later viewers
    // are offered what the publisher sends now.
    if (Device* device = session->device(); device != nullptr && role == Role::kPublisher) {
      device->update_media(session->publisher(), answer.media);
    }
  }
  if (!request.offer_sdp) {
    if (request.audio) session->set_audio(*request.audio);
    if (request.video) session->set_video(*request.video);
  }
  if (request.bitrate) {
    session->set_bitrate(*request.bitrate);
    // 0 lifts the cap (Janus's convention: a very high REMB).
    host_.send_remb(session->handle(), *request.bitrate ? *request.bitrate : 10000000);
  }
  const bool video_resumed = request.video.value_or(false);
  if (request.keyframe || video_resumed) {
    if (role == Role::kViewer) {
      if (Device* device = session->device()) device->request_keyframe(false);
    } else {
      request_own_keyframe(*session);
    }
  }
  push(session, tx, result_event("configured"), std::move(jsep));
  return true;
}

bool MediaPlugin::run_hangup(const SessionPtr& session, const std::string& tx) {
  const SessionState state = session->state();
  if (state == SessionState::kNegotiating || state == SessionState::kUp) {
    session->set_pending_end(EndReason::kRequest);
    host_.close_pc(session->handle());
  }
  push(session, tx, result_event("hangingup"));
  if (state != SessionState::kUp) {
    // No PeerConnection may ever report back: end the role here.
    end_role_and_tell(session, EndReason::kRequest);
  }
  return true;
}

}  // namespace jmedia
