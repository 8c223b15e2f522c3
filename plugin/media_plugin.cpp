#include "media_plugin.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <chrono>
#include <random>
#include <stdexcept>

#include <thread>

#include "../common/abi_guard.h"
#include "../common/log.h"
#include "../runtime/runtime.h"
#include "cluster_link.h"
#include "relay_origin.h"
#include "remote_relays.h"

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

namespace {

std::unique_ptr<const TokenVerifier> make_verifier(const PluginConfig& config) {
  if (!config.access_error.empty()) {
    throw std::invalid_argument("token mode cannot start: " + config.access_error);
  }
  if (config.access.mode != AccessMode::kToken) return nullptr;
  return std::make_unique<const TokenVerifier>(config.access);
}

}  // namespace

MediaPlugin::MediaPlugin(Host& host, SdpEngine& sdp, const PluginConfig& config, AccessClock clock)
    : host_(host),
      sdp_(sdp),
      config_(config),
      verifier_(make_verifier(config)),
      clock_(clock ? std::move(clock) : AccessClock([] { return TokenVerifier::Clock::now(); })),
      metrics_(std::make_shared<PluginMetrics>(config.max_device_series)),
      limits_{config.max_sessions, config.max_viewers_per_device},
      sessions_(config.shards),
      devices_(config.shards, this),
      queue_(config.worker_threads, config.queue_size),
      notifier_([this](const std::shared_ptr<Device>& device) { tell_viewers(device); }) {
  metrics_->set_snapshot_source([this] {
    PluginMetrics::Snapshot snapshot;
    if (const auto* directory = directory_.get()) {
      snapshot.cluster = true;
      snapshot.cluster_nodes = directory->live_nodes();
      snapshot.redis_up = directory->redis_up();
      snapshot.directory_errors = directory->errors();
      if (const auto* channel = directory->channel()) {
        snapshot.inbox_up = channel->subscribed();
        for (int t = 0; t < cluster::kMessageTypeCount; ++t) {
          snapshot.messages_sent[t] = channel->sent(static_cast<cluster::MessageType>(t));
          snapshot.messages_received[t] = channel->received(static_cast<cluster::MessageType>(t));
        }
        for (int d = 0; d < cluster::NodeChannel::kDropCount; ++d) {
          snapshot.messages_dropped[d] =
              channel->dropped(static_cast<cluster::NodeChannel::Drop>(d));
        }
      }
      snapshot.relays_out = origin_relay_totals();
      snapshot.relays_in = remote_relay_totals();
    }
    for (int role = 1; role < kRoleCount; ++role) {
      snapshot.active[role] = sessions_.role_count(static_cast<Role>(role));
    }
    snapshot.handles = sessions_.size();
    snapshot.orphaned = orphaned();
    snapshot.devices = devices_.size();
    snapshot.queue_depth = queue_.depth();
    snapshot.queue_capacity = queue_.capacity();
    snapshot.draining = draining_.load();
    if (config_.max_device_series > 0) {
      // Viewers per device with a series, then the rest ("other"): O(max_device_series).
      std::size_t named = 0;
      for (const auto& id : metrics_->device_series_ids()) {
        auto device = devices_.find(id);
        const std::size_t viewers = device ? device->viewer_count() : 0;
        snapshot.device_viewers.push_back(viewers);
        named += viewers;
      }
      const std::size_t all = sessions_.role_count(Role::kViewer);
      snapshot.device_viewers.push_back(all > named ? all - named : 0);
    }
    return snapshot;
  });
  {
    // A quarter of the negotiation timeout, at most a second: a role ends at most that late;
    // every second without one (the orphan sweep).
    const auto period = std::chrono::milliseconds(
        config_.negotiation_timeout_s > 0
            ? std::clamp<std::int64_t>(
                  static_cast<std::int64_t>(config_.negotiation_timeout_s) * 250, 100, 1000)
            : 1000);
    sweeper_ = guarded_thread("negotiation sweeper", "jm-sweeper", [this, period] {
      std::unique_lock lock(sweeper_mutex_);
      while (!sweeper_wake_.wait_for(lock, period, [this] { return stopping_.load(); })) {
        lock.unlock();
        // One failed sweep (a throwing core call, bad_alloc) is logged; the next one runs.
        guarded_void("negotiation sweeper", [this] { expire_negotiations(monotonic_ms_now()); });
        guarded_void("orphan sweeper", [this] { sweep_orphans(monotonic_ms_now()); });
        lock.lock();
      }
    });
  }
  if (config_.cluster.enabled) start_cluster();
}

MediaPlugin::~MediaPlugin() {
  shutdown();
}

namespace {

// After graceful_stop ended every role: time for the transports to write the last events.
constexpr std::chrono::milliseconds kShutdownLinger{500};

}  // namespace

bool MediaPlugin::graceful_stop(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  draining_ = true;
  runtime::set_plugin_draining(true);
  // A worker that passed claim_role_slot before draining_ was set enters its role while this
  // pass runs, or after it. It reads this flag after it entered the role (end_if_stopping),
  // with a read-modify-write as this one: either the pass below sees that role or the worker
  // sees the flag (or both: ending a role twice is harmless, see end_for_shutdown).
  stopping_gracefully_.exchange(1, std::memory_order_acq_rel);
  std::size_t closing = 0;
  for (const auto& session : sessions_.snapshot()) {
    if (end_for_shutdown(session)) ++closing;
  }
  log_info("shutdown: closing %zu PeerConnections, %zu media sessions active", closing,
           sessions_.active());
  while (sessions_.active() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const bool done = sessions_.active() == 0;
  if (!done) {
    log_warn("shutdown: %zu media sessions still active at the timeout", sessions_.active());
  } else if (closing != 0) {
    // The last hangup events were handed to the core just now (a role ends, then its client
    // is told), and nothing says when a transport has written them out: Janus's WebSocket
    // transport writes from its own service thread, and Janus destroys its transports as soon
    // as we hand it the signal, dropping what they still queue. Linger briefly for them.
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    std::this_thread::sleep_for(std::clamp(left, std::chrono::milliseconds(0), kShutdownLinger));
  }
  return done;
}

bool MediaPlugin::end_for_shutdown(const SessionPtr& session) {
  if (session->destroyed() || session->role() == Role::kNone) return false;
  const SessionState state = session->state();
  bool closing = false;
  if (state == SessionState::kUp || state == SessionState::kNegotiating) {
    session->set_pending_end(EndReason::kShutdown);
    host_.close_pc(session->handle());
    closing = true;
  }
  if (state != SessionState::kUp) {
    // No PeerConnection may report back: end the role and tell the client here. The transition
    // mutex makes a second caller (the pass and a worker) find no role and tell nobody.
    end_role_and_tell(session, EndReason::kShutdown);
  }
  return closing;
}

void MediaPlugin::end_if_stopping(const SessionPtr& session) {
  // Both sides are read-modify-writes of one atomic, so one comes first in its modification
  // order. This one first: graceful_stop's exchange reads what it wrote (release -> acquire),
  // so the role entered before it is visible to its pass. Its exchange first: this reads 1.
  if (stopping_gracefully_.fetch_add(0, std::memory_order_acq_rel) != 0) end_for_shutdown(session);
}

std::size_t MediaPlugin::expire_negotiations(std::int64_t now_ms) {
  if (config_.negotiation_timeout_s == 0) return 0;
  const auto timeout_ms = static_cast<std::int64_t>(config_.negotiation_timeout_s) * 1000;
  std::size_t ended = 0;
  for (const auto& session : sessions_.snapshot()) {
    if (session->destroyed() || session->role() == Role::kNone ||
        session->state() != SessionState::kNegotiating ||
        now_ms - session->negotiation_started_ms() < timeout_ms) {
      continue;
    }
    log_info("session %s: WebRTC not up %zu s after the %s began: ending it", session->id().c_str(),
             config_.negotiation_timeout_s, role_name(session->role()));
    // As a kick: the core may still report the hangup (then with this reason), or may never
    // (a client gone silent, a hangup the core dropped): the role ends here either way.
    session->set_pending_end(EndReason::kNegotiationTimeout);
    host_.close_pc(session->handle());
    if (end_role_and_tell(session, EndReason::kNegotiationTimeout) != Role::kNone) ++ended;
  }
  return ended;
}

std::size_t MediaPlugin::sweep_orphans(std::int64_t now_ms) {
  std::size_t found = 0;
  for (const auto& session : sessions_.snapshot()) {
    if (session->destroyed()) continue;
    // The core sets stopped (janus_ice_handle_destroy) before it queues the detach that ends in
    // destroy_session; a public field of janus_plugin_session, read as the core writes it.
    if (g_atomic_int_get(&session->handle()->stopped) == 0) continue;
    if (session->stopped_seen_ms() == 0) {
      session->set_stopped_seen_ms(now_ms);
      continue;
    }
    if (now_ms - session->stopped_seen_ms() < kOrphanAfterMs) continue;
    janus_plugin_session* handle = session->handle();
    {
      std::lock_guard lock(session->transition_mutex());
      if (!session->mark_destroyed()) continue;  // destroy_session came meanwhile
    }
    const Role role = session->role();
    leave_role(session, EndReason::kDetached);
    sessions_.remove(handle);
    std::size_t orphans = 0;
    {
      std::lock_guard lock(orphans_mutex_);
      orphans_.insert(handle);
      orphans = orphans_.size();
    }
    ++found;
    log_warn(
        "session %s (%s): its handle was stopped %lld s ago and Janus never destroyed it "
        "(a lost detach, README: \"Handles Janus never frees\"): orphaned, freed here "
        "(%zu orphaned handles; Janus keeps its own part of each)",
        session->id().c_str(), role_name(role),
        static_cast<long long>((now_ms - session->stopped_seen_ms()) / 1000), orphans);
  }
  return found;
}

std::size_t MediaPlugin::orphaned() const {
  std::lock_guard lock(orphans_mutex_);
  return orphans_.size();
}

void MediaPlugin::shutdown() {
  {
    // Under the sweeper's mutex, so that its wait cannot miss the wake-up.
    std::lock_guard lock(sweeper_mutex_);
    if (stopping_.exchange(true)) return;
  }
  sweeper_wake_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
  metrics_->set_snapshot_source(nullptr);  // a scrape must not reach a plugin going away
  // The remote relays' thread before the directory: their relay_stop's still go out.
  if (remote_) remote_->stop();
  // Then this node's record and claims are withdrawn while its devices are still known;
  // workers that still claim or release find it stopped (answered at once).
  if (directory_) directory_->stop();
  // Then the relays to other nodes: nothing asks for one any more.
  if (origin_) origin_->stop();
  queue_.stop();
  notifier_.stop();  // after the workers, which notify; what still waits is dropped
  // Nothing below a session holds it (ownership flows one way): dropping the table and the
  // registry frees everything, each handle reference with the object that took it.
  for (auto& session : sessions_.remove_all()) {
    std::lock_guard lock(session->transition_mutex());
    session->mark_destroyed();
    if (session->role() != Role::kNone)
      metrics_->session_ended(session->role(), EndReason::kShutdown);
  }
  devices_.clear();
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
  auto session = std::make_shared<MediaSession>(host_, handle, new_session_id());
  if (!sessions_.add(session)) {
    // The same handle twice would be a core bug: refuse, and touch nothing of the handle.
    session->disown_handle();
    *error = -3;
    return;
  }
  handle->plugin_handle = session.get();
  *error = 0;
  log_verbose("session %s created", session->id().c_str());
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Reply MediaPlugin::handle_message(janus_plugin_session* handle, const char* transaction,
                                  JsonPtr message, JsonPtr jsep) {
  const auto received = std::chrono::steady_clock::now();
  const std::size_t invalid = request_label_index("", false);
  auto sync_error = [&](std::size_t label, const Error& error) {
    metrics_->request_done(label, false, seconds_since(received));
    return Reply{Reply::Kind::kSync, error_reply(error)};
  };
  if (stopping_.load()) {
    return sync_error(invalid, Error{ErrorCode::kShuttingDown, "the plugin is stopping"});
  }
  SessionPtr session = sessions_.find(handle);
  if (!session || session->destroyed()) {
    return sync_error(invalid, Error{ErrorCode::kNoSession, "no media session for this handle"});
  }
  Parsed<ClientRequest> parsed = parse_client_request(message.get(), jsep.get());
  if (parsed.error && parsed.name.empty()) {
    // Not even a known request: nothing tells us whether it was meant sync or async.
    return sync_error(invalid, *parsed.error);
  }
  const std::size_t label = request_label_index(parsed.name, false);
  const bool async = !is_sync_request(parsed.name);
  // Async requests: results and errors alike arrive as events with the transaction.
  std::string tx = transaction ? transaction : "";
  auto async_error = [&](const Error& error, bool offer) {
    if (offer) {
      refuse_offer(session, tx, error);
    } else {
      push_error(session, tx, error);
    }
    metrics_->request_done(label, false, seconds_since(received));
    return Reply{Reply::Kind::kAsync, nullptr};
  };
  // An error answer in the request's own kind; a refused offer also resets the handle's
  // PeerConnection, so that the client may offer again on it.
  auto refuse = [&](const Error& error) {
    if (!async) return sync_error(label, error);
    return async_error(error, string_member(jsep.get(), "type") == "offer");
  };
  std::optional<Grants> grants;  // token mode: what the request's token grants
  if (verifier_ != nullptr) {
    if (const auto access = access_request_named(parsed.name)) {
      auto authorized = authorize(*access, message.get(), parsed.request);
      if (auto* error = std::get_if<Error>(&authorized)) return refuse(*error);
      grants = std::move(std::get<Grants>(authorized));
    }
  }
  if (parsed.error) return refuse(*parsed.error);
  const Grants* covered = grants ? &*grants : nullptr;
  if (!async) {
    JsonPtr body;
    if (auto* list_request = std::get_if<ListRequest>(&*parsed.request)) {
      body = list(*list_request, covered);
    } else if (auto* info_request = std::get_if<InfoRequest>(&*parsed.request)) {
      body = info(*info_request, covered);
    } else {
      body = devices_page(std::get<DevicesRequest>(*parsed.request), covered);
    }
    const bool ok = json_object_get(body.get(), "error_code") == nullptr;
    metrics_->request_done(label, ok, seconds_since(received));
    return Reply{Reply::Kind::kSync, std::move(body)};
  }
  const std::int64_t received_ms = monotonic_ms_now();
  WorkQueue::Job job = [this, session, tx, label, received, received_ms,
                        request = std::move(*parsed.request)]() mutable {
    session->set_request_received_ms(received_ms);
    const bool ok = run(session, tx, std::move(request));
    metrics_->request_done(label, ok, seconds_since(received));
  };
  const std::size_t affinity = std::hash<std::string>{}(session->id());
  switch (queue_.push(affinity, std::move(job))) {
    case WorkQueue::PushResult::kQueued:
      break;
    case WorkQueue::PushResult::kFull:
      metrics_->limit_rejected(LimitKind::kQueueSize);
      return async_error(
          Error{ErrorCode::kBusy, "too many pending requests (queue_size " +
                                      std::to_string(queue_.capacity()) + "); retry"},
          false);
    case WorkQueue::PushResult::kStopped:
      return async_error(Error{ErrorCode::kShuttingDown, "the plugin is stopping"}, false);
  }
  return Reply{Reply::Kind::kAsync, nullptr};
}

namespace {

// The device a publish or watch is for ("" for the others).
std::string_view device_of(const ClientRequest& request) {
  if (const auto* publish = std::get_if<PublishRequest>(&request)) return publish->device_id;
  if (const auto* watch = std::get_if<WatchRequest>(&request)) return watch->device_id;
  return {};
}

}  // namespace

std::variant<Grants, Error> MediaPlugin::authorize(AccessRequest access, const json_t* body,
                                                   const std::optional<ClientRequest>& request) {
  const std::string_view name = access_request_label(access);
  TokenResult verified = verifier_->verify_member(body, clock_());
  if (auto* refused = std::get_if<TokenRefused>(&verified)) {
    metrics_->access().refused(refused->refusal);
    log_verbose("access: %.*s refused (%s): %s", static_cast<int>(name.size()), name.data(),
                refusal_label(refused->refusal).data(), refused->reason.c_str());
    return unauthorized(*refused);
  }
  Grants grants = std::move(std::get<Grants>(verified));
  if (!request) return grants;  // the request's own error answers it
  const std::string_view device = device_of(*request);
  if (!grants.allows(access, device)) {
    metrics_->access().forbidden();
    log_verbose("access: %.*s refused (forbidden) to sub '%s'", static_cast<int>(name.size()),
                name.data(), grants.sub.c_str());
    return forbidden(access);
  }
  metrics_->access().granted(access);
  log_verbose("access: %.*s%s%.*s granted to sub '%s'", static_cast<int>(name.size()), name.data(),
              device.empty() ? "" : " of ", static_cast<int>(device.size()), device.data(),
              grants.sub.c_str());
  return grants;
}

void MediaPlugin::push(const SessionPtr& session, const std::string& tx, JsonPtr event,
                       JsonPtr jsep) {
  if (session->destroyed()) return;
  const int result = host_.push_event(session->handle(), tx.empty() ? nullptr : tx.c_str(),
                                      event.get(), jsep.get());
  if (result != 0)
    log_verbose("session %s: push_event refused (%d)", session->id().c_str(), result);
}

JsonPtr MediaPlugin::error_reply(const Error& error) const {
  metrics_->request_error(error.code);
  return error_event(error);
}

bool MediaPlugin::push_error(const SessionPtr& session, const std::string& tx, const Error& error) {
  log_verbose("session %s: error %d: %s", session->id().c_str(), numeric(error.code),
              error.reason.c_str());
  push(session, tx, error_reply(error));
  return false;
}

bool MediaPlugin::refuse_offer(const SessionPtr& session, const std::string& tx,
                               const Error& error) {
  push_error(session, tx, error);
  if (session->state() != SessionState::kUp) host_.close_pc(session->handle());
  return false;
}

MediaSession* MediaPlugin::live_session(janus_plugin_session* handle) const {
  // Media callbacks and destroy_session share the handle's loop thread, so the pointer the
  // handle carries stays valid for the duration of the callback.
  if (handle == nullptr || g_atomic_int_get(&handle->stopped) || stopping_.load()) return nullptr;
  auto* session = static_cast<MediaSession*>(handle->plugin_handle);
  if (session == nullptr || session->destroyed()) return nullptr;
  return session;
}

MediaPlugin::SessionPtr MediaPlugin::shared_session(const MediaSession* session) const {
  return session == nullptr ? nullptr : sessions_.find(session->handle());
}

MediaPlugin::SessionPtr MediaPlugin::session_of(const janus_plugin_session* handle) const {
  return handle == nullptr ? nullptr : sessions_.find(handle);
}

std::vector<MediaPlugin::SessionPtr> MediaPlugin::local_sessions_of(const Device& device) const {
  std::vector<SessionPtr> members;
  if (auto producer = device.producer()) {
    if (auto session = session_of(producer->session_handle()))
      members.push_back(std::move(session));
  }
  const auto consumers = device.consumers();
  members.reserve(members.size() + consumers->size());
  for (const auto& consumer : *consumers) {
    if (auto session = session_of(consumer->session_handle()))
      members.push_back(std::move(session));
  }
  return members;
}

void MediaPlugin::setup_media(janus_plugin_session* handle) {
  MediaSession* session = live_session(handle);
  if (session == nullptr) return;
  const std::int64_t started = session->negotiation_started_ms();
  if (session->state() == SessionState::kNegotiating && session->role() != Role::kNone) {
    metrics_->peerconnection_up(session->role(),
                                static_cast<double>(monotonic_ms_now() - started) / 1000.0);
  }
  session->media_up();
  log_verbose("session %s: WebRTC up as %s", session->id().c_str(), role_name(session->role()));
  if (session->role() == Role::kViewer) {
    // A viewer decodes nothing until the next keyframe: ask for one now, whatever was asked
    // for before (that keyframe went to other viewers, or to none).
    if (Device* device = session->device()) device->request_keyframe(true);
  } else if (session->role() == Role::kPublisher) {
    Device* device = session->device();
    if (device != nullptr && device->consumer_count() != 0) request_own_keyframe(*session);
  }
}

void MediaPlugin::request_own_keyframe(MediaSession& session) {
  // A publisher's requests share its producer's rate limit with its viewers' requests.
  if (session.role() == Role::kPublisher) {
    if (LocalPublisher* producer = session.publisher()) producer->request_keyframe(false);
    return;
  }
  if (!session.echo_keyframes().due(monotonic_ms_now(), 100)) return;
  host_.send_pli(session.handle());
  metrics_->keyframe_requested();
}

void MediaPlugin::slow_link(janus_plugin_session* handle, int mindex, bool video, bool uplink) {
  MediaSession* session = live_session(handle);
  if (session == nullptr) return;
  log_verbose("session %s: slow %s on %s (m-line %d)", session->id().c_str(),
              uplink ? "uplink" : "downlink", video ? "video" : "audio", mindex);
}

void MediaPlugin::hangup_media(janus_plugin_session* handle) {
  MediaSession* raw = live_session(handle);
  if (raw == nullptr || !raw->begin_hangup()) return;
  SessionPtr session = shared_session(raw);
  if (!session) return;
  const SessionState before = session->state();
  const EndReason reason = session->take_pending_end().value_or(
      before == SessionState::kUp ? EndReason::kPeerConnectionClosed
                                  : EndReason::kNegotiationEnded);
  // No role left means a hangup request or a kick ended it and told the client already.
  end_role_and_tell(session, reason);
}

void MediaPlugin::destroy_session(janus_plugin_session* handle, int* error) {
  SessionPtr session = sessions_.find(handle);
  if (!session) {
    std::lock_guard lock(orphans_mutex_);
    // Orphaned too early (the core was only slow): freed already, no longer an orphan.
    *error = orphans_.erase(handle) != 0 ? 0 : -2;
    return;
  }
  // Destroyed first, under the transition mutex: a worker that is still answering an offer
  // for this session then refuses to give it a role (claim_role_slot), or gave it one
  // already, which leave_role below takes back. The other order leaked a max_sessions slot
  // and a claimed device (found by fuzz/plugin_requests).
  {
    std::lock_guard lock(session->transition_mutex());
    session->mark_destroyed();
  }
  leave_role(session, EndReason::kDetached);
  sessions_.remove(handle);
  handle->plugin_handle = nullptr;
  *error = 0;
  log_verbose("session %s destroyed", session->id().c_str());
}

JsonPtr MediaPlugin::query_session(janus_plugin_session* handle) {
  SessionPtr session = sessions_.find(handle);
  if (!session) return nullptr;
  return session->to_json();
}

namespace {

// `last` is a media_session id, a validated device_id or both: valid UTF-8.
JsonPtr next_cursor(bool more, const std::string& last) {
  return more ? adopt(json_stringn_nocheck(last.data(), last.size())) : adopt(json_null());
}

// The local publisher and viewers of a device in media_session order: at most
// 1 + max_viewers_per_device, counted as page reads.
std::vector<std::shared_ptr<MediaSession>> by_id(
    std::vector<std::shared_ptr<MediaSession>> members) {
  page_entries_read += members.size();
  std::sort(members.begin(), members.end(),
            [](const auto& a, const auto& b) { return a->id() < b->id(); });
  return members;
}

// Whether a listing for these grants shows the session: a publisher or viewer of a device
// the token's publish or watch patterns cover (echo and idle sessions have no device).
bool shown_to(const Grants& grants, const MediaSession& session) {
  const Role role = session.role();
  const Device* device = session.device();
  return (role == Role::kPublisher || role == Role::kViewer) && device != nullptr &&
         grants.shows(device->id());
}

}  // namespace

JsonPtr MediaPlugin::list_reply(const std::vector<SessionPtr>& page, bool detail, bool more,
                                const std::string& last) const {
  const auto form = detail ? MediaSession::JsonDetail::kFull : MediaSession::JsonDetail::kSummary;
  JsonPtr reply = adopt(json_object());
  set_unchecked(reply.get(), "media", "list");
  JsonPtr array = adopt(json_array());
  for (const auto& session : page) {
    json_array_append_new(array.get(), session->to_json(form).release());
  }
  set_unchecked(reply.get(), "sessions", std::move(array));
  set_unchecked(reply.get(), "next_cursor", next_cursor(more, last));
  return reply;
}

JsonPtr MediaPlugin::list(const ListRequest& request, const Grants* grants) const {
  if (grants != nullptr) return list_covered(request, *grants);
  if (request.cursor_device) {
    return error_reply(Error{ErrorCode::kInvalidField,
                             "'cursor' must be a media_session id (16 lower-case hex digits): "
                             "<device_id>/<media_session> cursors are token mode's"});
  }
  std::vector<SessionPtr> page;
  bool more = false;
  if (request.device_id) {
    // A device has at most one publisher and max_viewers_per_device viewers: small.
    if (auto device = devices_.find(*request.device_id)) {
      for (auto& member : by_id(local_sessions_of(*device))) {
        if (!request.cursor.empty() && member->id() <= request.cursor) continue;
        if (request.role && member->role() != *request.role) continue;
        if (page.size() == request.limit) {
          more = true;
          break;
        }
        page.push_back(std::move(member));
      }
    }
  } else {
    std::tie(page, more) = sessions_.page(request.cursor, request.limit, request.role);
  }
  return list_reply(page, request.detail, more, page.empty() ? "" : page.back()->id());
}

JsonPtr MediaPlugin::list_covered(const ListRequest& request, const Grants& grants) const {
  // Sessions are indexed by id, not device: a token's page walks the devices it covers in
  // device_id order (a ranged page of the device registry) and each one's members in id
  // order, so the cursor names both. A cursor of another form, or of a device this token does
  // not cover (or not the one asked for), could not have come from the server to this token.
  if (!request.cursor.empty() &&
      (!request.cursor_device || !grants.shows(*request.cursor_device) ||
       (request.device_id && *request.device_id != *request.cursor_device))) {
    return error_reply(Error{ErrorCode::kInvalidField,
                             "'cursor' must be the next_cursor of the previous page: in token mode "
                             "<device_id>/<media_session>, of a device the token covers"});
  }
  std::vector<SessionPtr> page;
  std::string last_device;
  bool more = false;
  // Takes the members of device after the session id `after` ("" = all) until the page is
  // full; false once it is and another member was there (more follow).
  auto take = [&](const Device& device, const std::string& after) {
    for (auto& member : by_id(local_sessions_of(device))) {
      if (!after.empty() && member->id() <= after) continue;
      if (request.role && member->role() != *request.role) continue;
      if (page.size() == request.limit) {
        more = true;
        return false;
      }
      page.push_back(std::move(member));
      last_device = device.id();
    }
    return true;
  };
  // Decided before anything is looked up: echo sessions (no device) are never listed to a
  // token, and a device it does not cover lists as one without sessions.
  const bool nothing =
      request.role == Role::kEcho || (request.device_id && !grants.shows(*request.device_id));
  if (nothing) {
    // An empty page.
  } else if (request.device_id) {
    if (auto device = devices_.find(*request.device_id)) take(*device, request.cursor);
  } else {
    bool go_on = true;
    if (request.cursor_device) {
      if (auto device = devices_.find(*request.cursor_device))
        go_on = take(*device, request.cursor);
    }
    const KeyRanges ranges = grants.shown_ranges();
    std::string after = request.cursor_device.value_or("");
    while (go_on) {
      // Every device holds a publisher or a viewer: without a role filter, the devices still
      // to read fill the page (and tell whether more follow) in one batch.
      auto [devices, devices_more] =
          devices_.page_devices(after, request.limit - page.size() + 1, &ranges);
      for (const auto& device : devices) {
        if (!(go_on = take(*device, ""))) break;
      }
      if (!devices_more || devices.empty()) break;
      after = devices.back()->id();
    }
  }
  std::string last;
  if (more) last = last_device + kCursorSeparator + page.back()->id();
  return list_reply(page, request.detail, more, last);
}

JsonPtr MediaPlugin::info(const InfoRequest& request, const Grants* grants) {
  SessionPtr session = sessions_.find(request.media_session);
  // A session the token does not cover is answered as one that does not exist.
  if (!session || (grants != nullptr && !shown_to(*grants, *session))) {
    return error_reply(Error{ErrorCode::kSessionNotFound,
                             "no media session '" + request.media_session.substr(0, 64) + "'"});
  }
  JsonPtr reply = adopt(json_object());
  set(reply.get(), "media", "info");
  JsonPtr described = session->to_json();
  // A viewer of a device relayed from another node: which node its producer is on.
  if (session->role() == Role::kViewer) {
    if (const auto device = session->device_ptr()) {
      if (const auto producer = device->producer()) {
        if (const std::string* node = producer->origin_node()) {
          set(described.get(), "producer_node", *node);
        }
      }
    }
  }
  set(reply.get(), "session", std::move(described));
  return reply;
}

JsonPtr MediaPlugin::devices_page(const DevicesRequest& request, const Grants* grants) const {
  if (request.cluster) return cluster_devices_page(request, grants);
  std::optional<KeyRanges> ranges;
  if (grants != nullptr) {
    // Only the devices the token's publish and watch patterns cover; a cursor of another
    // device could not have come from the server to this token.
    if (!request.cursor.empty() && !grants->shows(request.cursor)) {
      return error_reply(
          Error{ErrorCode::kInvalidField,
                "'cursor' must be the next_cursor of the previous page: a device the token "
                "covers"});
    }
    ranges = grants->shown_ranges();
  }
  auto [page, more] = devices_.page(request.cursor, request.limit, ranges ? &*ranges : nullptr);
  JsonPtr reply = adopt(json_object());
  set_unchecked(reply.get(), "media", "devices");
  JsonPtr array = adopt(json_array());
  for (const auto& summary : page) {
    JsonPtr device = adopt(json_object());
    set_unchecked(device.get(), "device_id", summary.device_id);  // validated
    set_unchecked(device.get(), "publishing", summary.publishing);
    set_unchecked(device.get(), "viewers", static_cast<std::uint64_t>(summary.viewers));
    // A device relayed from another node: that node (node ids are validated at load and in
    // the directory's messages).
    if (!summary.node_id.empty()) set(device.get(), "node_id", summary.node_id);
    json_array_append_new(array.get(), device.release());
  }
  set_unchecked(reply.get(), "devices", std::move(array));
  set_unchecked(reply.get(), "next_cursor",
                next_cursor(more, page.empty() ? "" : page.back().device_id));
  return reply;
}

}  // namespace jmedia
