#include "event_aggregator.h"

#include <algorithm>
#include <cinttypes>
#include <charconv>
#include <string>

#include "../common/log.h"

namespace jmedia::events {
namespace {

// A cumulative RTCP count that jumps by more than this in one stats period is a reset or a
// bogus report (RFC 3550's cumulative loss is a 24-bit field): re-based, not counted.
constexpr std::uint64_t kMaxPlausibleDelta = std::uint64_t{1} << 23;
// Media streams remembered per handle (m-lines x simulcast substreams); more are not counted.
constexpr std::size_t kMaxMediaPerHandle = 64;

constexpr std::size_t kInbound = 0;
constexpr std::size_t kOutbound = 1;
constexpr std::size_t kNackReceived = 0;
constexpr std::size_t kNackSent = 1;

// The transport instance id of a session "created" event ("transport":{"id":"<decimal>"});
// 0 when absent.
std::uint64_t transport_id(const json_t* transport) {
  auto text = string_member(transport, "id");
  if (!text) return 0;
  std::uint64_t id = 0;
  auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), id);
  if (error != std::errc() || end != text->data() + text->size()) return 0;
  return id;
}

std::uint64_t count_member(const json_t* entry, const char* key) {
  return static_cast<std::uint64_t>(
      std::max<std::int64_t>(0, integer_member(entry, key).value_or(0)));
}

// Adds the growth of a cumulative count to counter and moves the baseline.
void add_growth(Counter& counter, std::uint64_t& baseline, std::uint64_t value) {
  if (value > baseline && value - baseline <= kMaxPlausibleDelta) {
    counter.Increment(static_cast<double>(value - baseline));
  }
  baseline = value;
}

std::string key_label(std::string_view value) {
  return std::string(value);
}

// The (session_id, handle_id) of a handle-scoped event; nullopt when either is missing.
std::optional<runtime::HandleKey> handle_key(const json_t* event) {
  const auto session = integer_member(event, "session_id");
  const auto handle = integer_member(event, "handle_id");
  if (!session || !handle) return std::nullopt;
  return runtime::HandleKey{static_cast<std::uint64_t>(*session),
                            static_cast<std::uint64_t>(*handle)};
}

// What the PeerConnection watch is fed from: handle detaches, SDPs, selected pairs and states.
constexpr std::uint32_t kWatchNeeds = kTypeHandle | kTypeJsep | kTypeWebrtc;

}  // namespace

EventAggregator::EventAggregator(prometheus::Registry& registry, const EventHandlerConfig& config,
                                 runtime::CandidateLedger* ledger, runtime::PcWatch* watch)
    : config_(config),
      metrics_(registry, config.max_plugin_series),
      ledger_(config.cap_enabled() ? ledger : nullptr),
      watch_(config.enabled && (config.events_mask & kWatchNeeds) == kWatchNeeds ? watch
                                                                                 : nullptr) {
  if (watch_ != nullptr) watch_->start_feeding();
  if (ledger_ != nullptr) {
    ledger_->start_feeding(runtime::LedgerConfig{.max_ice_candidates = config.max_ice_candidates,
                                                 .scope = config.cap_scope});
  }
}

EventAggregator::~EventAggregator() {
  if (ledger_ != nullptr) ledger_->stop_feeding();
  if (watch_ != nullptr) watch_->stop_feeding();
}

void EventAggregator::consume(const json_t* event) {
  const std::optional<std::int64_t> type = integer_member(event, "type");
  metrics_.events(type ? event_type_index(*type) : CoreMetrics::kOtherType).Increment();
  if (!type) {
    metrics_.unrecognized().Increment();
    return;
  }
  const json_t* body = json_object_get(event, "event");
  const int subtype = static_cast<int>(integer_member(event, "subtype").value_or(0));
  bool recognized = true;
  switch (*type) {
    case kTypeSession:
      recognized = on_session(event, body);
      break;
    case kTypeHandle:
      recognized = on_handle(event, body);
      break;
    case kTypeWebrtc:
      recognized = on_webrtc(event, subtype, body);
      break;
    case kTypeMedia:
      recognized = on_media(event, subtype, body);
      break;
    case kTypeTransport:
      recognized = on_transport(body);
      break;
    case kTypeCore:
      recognized = on_core(subtype, body);
      break;
    case kTypeJsep:
      recognized = on_jsep(event, body);
      break;
    case kTypePlugin:
    case kTypeExternal:
      break;  // counted only
    default:
      recognized = false;  // a type this Janus version does not send
      break;
  }
  if (!recognized) metrics_.unrecognized().Increment();
}

// ---------------------------------------------------------------------------------------------
// sessions

bool EventAggregator::on_session(const json_t* event, const json_t* body) {
  const auto id = integer_member(event, "session_id");
  const auto name = string_member(body, "name");
  if (!id || !name) return false;
  const auto session_id = static_cast<std::uint64_t>(*id);
  if (*name == "created") {
    metrics_.sessions_created().Increment();
    const std::uint64_t transport = transport_id(json_object_get(body, "transport"));
    if (session_transport_.emplace(session_id, transport).second) {
      if (transport != 0) transport_sessions_[transport].push_back(session_id);
      add_gauge(sessions_, metrics_.sessions(), +1);
      update_tracked();
    }
    return true;
  }
  if (*name == "destroyed" || *name == "timeout") {
    metrics_.sessions_destroyed(*name == "timeout" ? SessionEnd::kTimeout : SessionEnd::kRequest)
        .Increment();
    forget_session(session_id);
    return true;
  }
  return false;
}

bool EventAggregator::forget_session(std::uint64_t session_id) {
  auto it = session_transport_.find(session_id);
  if (it == session_transport_.end()) return false;
  if (it->second != 0) {
    auto by_transport = transport_sessions_.find(it->second);
    if (by_transport != transport_sessions_.end()) {
      std::erase(by_transport->second, session_id);
      if (by_transport->second.empty()) transport_sessions_.erase(by_transport);
    }
  }
  session_transport_.erase(it);
  add_gauge(sessions_, metrics_.sessions(), -1);
  update_tracked();
  return true;
}

bool EventAggregator::on_transport(const json_t* body) {
  const json_t* data = member(body, "data");
  const auto what = string_member(data, "event");
  if (!what) return false;
  if (*what != "disconnected" || reclaim_session_timeout() > 0) return true;
  // janus_transport_gone(): with reclaim disabled, the sessions created over this connection
  // are destroyed now, without a session event.
  const std::uint64_t transport = transport_id(body);
  auto it = transport_sessions_.find(transport);
  if (transport == 0 || it == transport_sessions_.end()) return true;
  const std::vector<std::uint64_t> gone = std::move(it->second);
  transport_sessions_.erase(it);
  for (std::uint64_t session_id : gone) {
    if (session_transport_.erase(session_id) == 0) continue;
    metrics_.sessions_destroyed(SessionEnd::kTransportGone).Increment();
    add_gauge(sessions_, metrics_.sessions(), -1);
  }
  update_tracked();
  return true;
}

// ---------------------------------------------------------------------------------------------
// handles and PeerConnections

EventAggregator::HandleState* EventAggregator::find_handle(const json_t* event) {
  const auto id = integer_member(event, "handle_id");
  if (!id) return nullptr;
  auto it = handle_state_.find(static_cast<std::uint64_t>(*id));
  return it == handle_state_.end() ? nullptr : &it->second;
}

bool EventAggregator::on_handle(const json_t* event, const json_t* body) {
  const auto id = integer_member(event, "handle_id");
  const auto name = string_member(body, "name");
  if (!id || !name) return false;
  const auto handle_id = static_cast<std::uint64_t>(*id);
  const auto plugin = string_member(body, "plugin");
  PluginSeries& plugins = metrics_.plugins();
  if (*name == "attached") {
    const std::uint16_t slot = plugins.resolve(plugin.value_or(kOther));
    plugins.attached(slot).Increment();
    if (handle_state_.try_emplace(handle_id, HandleState{.plugin_slot = slot}).second) {
      add_gauge(handles_, metrics_.handles(), +1);
      update_tracked();
    }
    if (ledger_ != nullptr) {
      if (auto key = handle_key(event);
          key && !ledger_->attached(*key, plugin.value_or(kOther)) && !warned_untracked_) {
        warned_untracked_ = true;
        log_warn("candidate cap: the ledger tracks %zu handles already; handle %" PRIu64
                 " is not "
                 "capped (logged once)",
                 ledger_->stats().tracked, handle_id);
      }
    }
    return true;
  }
  if (*name == "detached") {
    auto it = handle_state_.find(handle_id);
    std::uint16_t slot = PluginSeries::kOtherSlot;
    if (plugin) {
      slot = plugins.resolve(*plugin);
    } else if (it != handle_state_.end()) {
      slot = it->second.plugin_slot;
    }
    plugins.detached(slot).Increment();
    if (ledger_ != nullptr) {
      if (auto key = handle_key(event)) ledger_->detached(*key);
    }
    if (watch_ != nullptr) {
      if (auto key = handle_key(event)) watch_->detached(*key);
    }
    if (it != handle_state_.end()) {
      if (it->second.peerconnection_up) {
        // Detached with its PeerConnection up: the core sends no hangup event for it.
        metrics_.hangups(hangup_reason_index("Detach")).Increment();
        peerconnection_down(it->second);
      }
      handle_state_.erase(it);
      add_gauge(handles_, metrics_.handles(), -1);
      update_tracked();
    }
    return true;
  }
  return false;
}

void EventAggregator::peerconnection_down(HandleState& handle) {
  if (handle.peerconnection_up) {
    handle.peerconnection_up = false;
    add_gauge(peerconnections_, metrics_.peerconnections(), -1);
  }
  // A new PeerConnection on this handle starts its RTCP counts from zero.
  handle.media.clear();
}

bool EventAggregator::on_webrtc(const json_t* event, int subtype, const json_t* body) {
  switch (subtype) {
    case kWebrtcIce: {
      const auto state = string_member(body, "ice");
      if (!state) return false;
      metrics_.ice_state(index_of(kIceStates, *state)).Increment();
      if (watch_ != nullptr) {
        if (auto key = handle_key(event)) {
          if (*state == "failed") {
            watch_->settled(*key);
          } else if (*state == "connecting" || *state == "connected" || *state == "ready") {
            watch_->ice_active(*key);
          }
        }
      }
      return true;
    }
    case kWebrtcLocalCandidate:
      return string_member(body, "local-candidate").has_value();
    case kWebrtcRemoteCandidate: {
      const auto candidate = string_member(body, "remote-candidate");
      if (!candidate) return false;
      const auto type = candidate_type(*candidate);
      metrics_
          .remote_candidates(type ? index_of(kCandidateTypes, *type) : CoreMetrics::kOtherCandidate)
          .Increment();
      count_candidate(event);
      if (watch_ != nullptr) {
        if (auto key = handle_key(event)) watch_->ice_active(*key);
      }
      return true;
    }
    case kWebrtcSelectedPair: {
      if (!string_member(body, "selected-pair")) return false;
      // Janus clears the handle loop's queue right after this event (ice.c): what the edge held
      // goes a grace later.
      if (watch_ != nullptr) {
        if (auto key = handle_key(event)) watch_->settled(*key);
      }
      const auto pair = selected_pair(body);
      if (pair) {
        metrics_
            .selected_pair(index_of(kCandidateTypes, pair->local_type),
                           index_of(kCandidateTypes, pair->remote_type),
                           index_of(kTransports, pair->transport))
            .Increment();
      } else {
        // libnice without TCP support names foundations only: the types are unknown.
        metrics_
            .selected_pair(CoreMetrics::kOtherCandidate, CoreMetrics::kOtherCandidate,
                           CoreMetrics::kOtherTransport)
            .Increment();
      }
      return true;
    }
    case kWebrtcDtls: {
      const auto state = string_member(body, "dtls");
      if (!state) return false;
      metrics_.dtls_state(index_of(kDtlsStates, *state)).Increment();
      return true;
    }
    case kWebrtcState: {
      const auto connection = string_member(body, "connection");
      if (!connection) return false;
      HandleState* handle = find_handle(event);
      if (*connection == "webrtcup") {
        metrics_.peerconnections_established().Increment();
        if (handle != nullptr && !handle->peerconnection_up) {
          handle->peerconnection_up = true;
          handle->media.clear();
          add_gauge(peerconnections_, metrics_.peerconnections(), +1);
        }
        return true;
      }
      if (*connection == "hangup") {
        const auto reason = string_member(body, "reason");
        metrics_.hangups(reason ? hangup_reason_index(*reason) : CoreMetrics::kOtherReason)
            .Increment();
        if (handle != nullptr) peerconnection_down(*handle);
        closed_peerconnection(event);
        if (watch_ != nullptr) {
          if (auto key = handle_key(event)) watch_->closed(*key);
        }
        return true;
      }
      return false;
    }
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// the ICE-candidate cap

bool EventAggregator::on_jsep(const json_t* event, const json_t* body) {
  // {"owner":"remote"|"local","jsep":{"type":"offer"|"answer","sdp":"..."}}
  const auto owner = string_member(body, "owner");
  const json_t* jsep = member(body, "jsep");
  const auto type = string_member(jsep, "type");
  if (!owner || !type || (*owner != "remote" && *owner != "local")) return false;
  if (watch_ != nullptr) {
    if (auto key = handle_key(event)) watch_->sdp(*key);
  }
  if (ledger_ != nullptr) {
    if (auto key = handle_key(event)) {
      if (*owner == "remote") {
        ledger_->remote_sdp(*key);
      } else {
        ledger_->local_sdp(*key);
      }
    }
  }
  return true;
}

void EventAggregator::count_candidate(const json_t* event) {
  if (ledger_ == nullptr) return;
  const auto key = handle_key(event);
  if (!key) return;
  const std::uint32_t max = config_.max_ice_candidates;
  switch (ledger_->remote_candidate(*key)) {
    case runtime::CandidateOutcome::kQueued:
      log_info("candidate cap: handle %" PRIu64 " (session %" PRIu64
               ") sent more than max_ice_candidates = %u "
               "remote candidates: queued to be hung up and detached",
               key->handle_id, key->session_id, max);
      break;
    case runtime::CandidateOutcome::kOverNoEnforcer:
      if (!warned_no_enforcer_) {
        warned_no_enforcer_ = true;
        log_warn("candidate cap: handle %" PRIu64 " (session %" PRIu64
                 ") went over max_ice_candidates = %u, "
                 "but nothing enforces the cap (janus.transport.prometheus is not loaded, has "
                 "candidate_cap = false, or has no admin_secret): candidates are only counted "
                 "(janus_core_candidates_rejected_total); logged once",
                 key->handle_id, key->session_id, max);
      }
      break;
    case runtime::CandidateOutcome::kOverQueueFull:
      log_warn("candidate cap: handle %" PRIu64 " (session %" PRIu64
               ") went over max_ice_candidates = %u, but "
               "the cut queue is full: retried at its next candidate",
               key->handle_id, key->session_id, max);
      break;
    case runtime::CandidateOutcome::kUntracked:
    case runtime::CandidateOutcome::kNotCapped:
    case runtime::CandidateOutcome::kCounted:
    case runtime::CandidateOutcome::kRejected:
      break;
  }
}

void EventAggregator::closed_peerconnection(const json_t* event) {
  if (ledger_ == nullptr) return;
  if (auto key = handle_key(event)) ledger_->peerconnection_closed(*key);
}

// ---------------------------------------------------------------------------------------------
// media

bool EventAggregator::on_media(const json_t* event, int subtype, const json_t* body) {
  switch (subtype) {
    case kMediaState:
      return string_member(body, "media").has_value();
    case kMediaSlowLink: {
      const auto media = string_member(body, "media");
      const auto link = string_member(body, "slow_link");
      if (!media || !link) return false;
      const auto kind = media_kind(*media);
      const std::size_t link_index = index_of(kLinks, *link);
      if (!kind || link_index == kLinks.size()) return false;
      metrics_.slow_links(*kind, link_index).Increment();
      return true;
    }
    case kMediaStats: {
      HandleState* handle = find_handle(event);
      if (json_is_array(body)) {  // events.combine_media_stats = true
        bool all = true;
        std::size_t index;
        const json_t* entry;
        json_array_foreach(body, index, entry) {
          all = on_stats_entry(handle, entry) && all;
        }
        return all;
      }
      return on_stats_entry(handle, body);
    }
    default:
      return false;
  }
}

bool EventAggregator::on_stats_entry(HandleState* handle, const json_t* entry) {
  const auto media = string_member(entry, "media");
  if (!media) return false;
  const auto kind = media_kind(*media);
  if (!kind) return true;  // "data": packets and bytes only
  const int sub = substream(*media);

  // Samples: RTT only on the main stream (Janus reports it there), 0 meaning not measured;
  // jitter for a direction that has carried packets.
  const auto rtt_ms = integer_member(entry, "rtt");
  if (sub == 0 && rtt_ms && *rtt_ms > 0) {
    metrics_.rtt(*kind).Observe(static_cast<double>(*rtt_ms) / 1000.0);
  }
  const auto jitter_local = integer_member(entry, "jitter-local");
  if (jitter_local && *jitter_local >= 0 && count_member(entry, "packets-received") > 0) {
    metrics_.jitter(*kind, kInbound).Observe(static_cast<double>(*jitter_local) / 1000.0);
  }
  const auto jitter_remote = integer_member(entry, "jitter-remote");
  if (jitter_remote && *jitter_remote >= 0 && count_member(entry, "packets-sent") > 0) {
    metrics_.jitter(*kind, kOutbound).Observe(static_cast<double>(*jitter_remote) / 1000.0);
  }

  // Counters: growth of the cumulative counts since this stream's previous stats event.
  if (handle == nullptr) return true;  // handle events not subscribed: no baseline to compare
  const std::int64_t mindex = integer_member(entry, "mindex").value_or(-1);
  auto baseline = std::find_if(
      handle->media.begin(), handle->media.end(),
      [&](const MediaBaseline& b) { return b.mindex == mindex && b.substream == sub; });
  if (baseline == handle->media.end()) {
    if (handle->media.size() >= kMaxMediaPerHandle) return true;
    handle->media.push_back({.mindex = mindex, .substream = sub});
    baseline = handle->media.end() - 1;
  }
  add_growth(metrics_.lost_packets(*kind, kInbound), baseline->lost_inbound,
             count_member(entry, "lost"));
  add_growth(metrics_.lost_packets(*kind, kOutbound), baseline->lost_outbound,
             count_member(entry, "lost-by-remote"));
  add_growth(metrics_.nacks(*kind, kNackReceived), baseline->nacks_received,
             count_member(entry, "nacks-received"));
  add_growth(metrics_.nacks(*kind, kNackSent), baseline->nacks_sent,
             count_member(entry, "nacks-sent"));
  return true;
}

// ---------------------------------------------------------------------------------------------
// core

bool EventAggregator::on_core(int subtype, const json_t* body) {
  const auto status = string_member(body, "status");
  if (!status) return false;
  const json_t* info = json_object_get(body, "info");
  if (subtype == kCoreStartup && *status == "started") {
    const auto reclaim = integer_member(info, "reclaim-session-timeout");
    if (reclaim) reclaim_session_timeout_.store(*reclaim, std::memory_order_relaxed);
    return true;
  }
  if (subtype == kCoreStartup && *status == "update") {
    // Janus >= 1.2: the core's own counts replace ours (see the header).
    const auto sessions = integer_member(info, "sessions");
    const auto handles = integer_member(info, "handles");
    const auto peerconnections = integer_member(info, "peerconnections");
    if (!sessions || !handles || !peerconnections) return false;
    set_gauge(sessions_, metrics_.sessions(), *sessions);
    set_gauge(handles_, metrics_.handles(), *handles);
    set_gauge(peerconnections_, metrics_.peerconnections(), *peerconnections);
    return true;
  }
  return subtype == kCoreShutdown && *status == "shutdown";
}

// ---------------------------------------------------------------------------------------------
// gauges and the admin summary

// Gauges hold at most 2^53: exact as a double, and far beyond any real count, so a forged
// status event (sessions = INT64_MAX) can neither overflow count + delta nor the summary's cast.
constexpr std::int64_t kMaxGaugeCount = std::int64_t{1} << 53;

void EventAggregator::add_gauge(std::int64_t& count, prometheus::Gauge& gauge, std::int64_t delta) {
  // Both are within [-2^53, 2^53] here (delta is +-1 from events): no overflow.
  set_gauge(count, gauge, count + std::clamp(delta, -kMaxGaugeCount, kMaxGaugeCount));
}

void EventAggregator::set_gauge(std::int64_t& count, prometheus::Gauge& gauge, std::int64_t value) {
  count = std::clamp<std::int64_t>(value, 0, kMaxGaugeCount);
  gauge.Set(static_cast<double>(count));
}

void EventAggregator::update_tracked() {
  tracked_sessions_.store(session_transport_.size(), std::memory_order_relaxed);
  tracked_handles_.store(handle_state_.size(), std::memory_order_relaxed);
}

JsonPtr EventAggregator::handle_request(const json_t* request) const {
  const auto what = string_member(request, "request");
  if (request == nullptr || !what || *what == "summary") return summary();
  JsonPtr error = adopt(json_object());
  set(error.get(), "error", "unknown request '" + std::string(*what) + "' (known: summary)");
  return error;
}

JsonPtr EventAggregator::summary() const {
  // Counter and Gauge reads are atomic: safe from any thread.
  const CoreMetrics& m = metrics_;
  auto number = [](double value) {
    // Counters could pass 2^63 only in theory; the cast must not overflow even then.
    constexpr double kMax = 9007199254740992.0;  // 2^53
    return adopt(json_integer(static_cast<json_int_t>(std::clamp(value, 0.0, kMax))));
  };

  JsonPtr out = adopt(json_object());
  set(out.get(), "enabled", true);
  set(out.get(), "events_mask", describe_events_mask(config_.events_mask));
  set(out.get(), "sessions", number(m.sessions().Value()));
  set(out.get(), "handles", number(m.handles().Value()));
  set(out.get(), "peerconnections", number(m.peerconnections().Value()));
  set(out.get(), "sessions_created", number(m.sessions_created().Value()));

  JsonPtr destroyed = adopt(json_object());
  for (std::size_t i = 0; i < kSessionEndLabels.size(); ++i) {
    set(destroyed.get(), key_label(kSessionEndLabels[i]).c_str(),
        number(m.sessions_destroyed(static_cast<SessionEnd>(i)).Value()));
  }
  set(out.get(), "sessions_destroyed", std::move(destroyed));

  JsonPtr attached = adopt(json_object());
  JsonPtr detached = adopt(json_object());
  const PluginSeries& plugins = m.plugins();
  for (std::size_t slot = 0, n = plugins.size(); slot < n; ++slot) {
    set(attached.get(), plugins.name(slot).c_str(), number(plugins.attached_value(slot)));
    set(detached.get(), plugins.name(slot).c_str(), number(plugins.detached_value(slot)));
  }
  set(out.get(), "handles_attached", std::move(attached));
  set(out.get(), "handles_detached", std::move(detached));
  set(out.get(), "peerconnections_established", number(m.peerconnections_established().Value()));

  JsonPtr hangups = adopt(json_object());
  for (std::size_t i = 0; i <= kHangupReasons.size(); ++i) {
    const std::string_view name = i < kHangupReasons.size() ? kHangupReasons[i].label : kOther;
    set(hangups.get(), key_label(name).c_str(), number(m.hangups(i).Value()));
  }
  set(out.get(), "peerconnection_hangups", std::move(hangups));

  JsonPtr ice = adopt(json_object());
  for (std::size_t i = 0; i <= kIceStates.size(); ++i) {
    const std::string_view name = i < kIceStates.size() ? kIceStates[i] : kOther;
    set(ice.get(), key_label(name).c_str(), number(m.ice_state(i).Value()));
  }
  set(out.get(), "ice_state_transitions", std::move(ice));

  JsonPtr dtls = adopt(json_object());
  for (std::size_t i = 0; i <= kDtlsStates.size(); ++i) {
    const std::string_view name = i < kDtlsStates.size() ? kDtlsStates[i] : kOther;
    set(dtls.get(), key_label(name).c_str(), number(m.dtls_state(i).Value()));
  }
  set(out.get(), "dtls_state_transitions", std::move(dtls));

  // Only the pairs seen: "local_type/remote_type/transport" -> count.
  JsonPtr pairs = adopt(json_object());
  auto type_name = [](std::size_t i) {
    return i < kCandidateTypes.size() ? kCandidateTypes[i] : kOther;
  };
  for (std::size_t l = 0; l <= kCandidateTypes.size(); ++l) {
    for (std::size_t r = 0; r <= kCandidateTypes.size(); ++r) {
      for (std::size_t t = 0; t <= kTransports.size(); ++t) {
        const double value = m.selected_pair_value(l, r, t);
        if (value <= 0) continue;
        const std::string key = key_label(type_name(l)) + "/" + key_label(type_name(r)) + "/" +
                                key_label(t < kTransports.size() ? kTransports[t] : kOther);
        set(pairs.get(), key.c_str(), number(value));
      }
    }
  }
  set(out.get(), "selected_pairs", std::move(pairs));

  JsonPtr candidates = adopt(json_object());
  for (std::size_t i = 0; i <= kCandidateTypes.size(); ++i) {
    set(candidates.get(), key_label(type_name(i)).c_str(), number(m.remote_candidates(i).Value()));
  }
  set(out.get(), "remote_candidates", std::move(candidates));

  double slow_links = 0;
  for (std::size_t k = 0; k < kMediaKinds.size(); ++k) {
    for (std::size_t l = 0; l < kLinks.size(); ++l) slow_links += m.slow_links(k, l).Value();
  }
  set(out.get(), "slow_link_events", number(slow_links));

  JsonPtr events = adopt(json_object());
  for (std::size_t i = 0; i <= kTypeLabels.size(); ++i) {
    const std::string_view name = i < kTypeLabels.size() ? kTypeLabels[i] : kOther;
    set(events.get(), key_label(name).c_str(), number(m.events(i).Value()));
  }
  set(out.get(), "events", std::move(events));
  set(out.get(), "events_unrecognized", number(m.unrecognized().Value()));
  set(out.get(), "reclaim_session_timeout", static_cast<std::int64_t>(reclaim_session_timeout()));

  JsonPtr tracked = adopt(json_object());
  set(tracked.get(), "sessions",
      static_cast<std::uint64_t>(tracked_sessions_.load(std::memory_order_relaxed)));
  set(tracked.get(), "handles",
      static_cast<std::uint64_t>(tracked_handles_.load(std::memory_order_relaxed)));
  set(out.get(), "tracked", std::move(tracked));

  JsonPtr cap = adopt(json_object());
  set(cap.get(), "enabled", ledger_ != nullptr);
  set(cap.get(), "max_ice_candidates", static_cast<std::int64_t>(config_.max_ice_candidates));
  set(cap.get(), "cap_scope", runtime::kCapScopeNames[static_cast<std::size_t>(config_.cap_scope)]);
  if (ledger_ != nullptr) {
    const runtime::LedgerStats stats = ledger_->stats();
    set(cap.get(), "enforced", stats.enforced);
    set(cap.get(), "handles", static_cast<std::uint64_t>(stats.tracked));
    set(cap.get(), "unnegotiated", static_cast<std::uint64_t>(stats.unnegotiated));
    set(cap.get(), "queued", static_cast<std::uint64_t>(stats.queued));
    set(cap.get(), "candidates_rejected", stats.rejected);
    JsonPtr cut = adopt(json_object());
    for (std::size_t i = 0; i < runtime::kCutReasonLabels.size(); ++i) {
      set(cut.get(), key_label(runtime::kCutReasonLabels[i]).c_str(), stats.cut[i]);
    }
    set(cap.get(), "handles_cut", std::move(cut));
  }
  set(out.get(), "candidate_cap", std::move(cap));
  return out;
}

}  // namespace jmedia::events
