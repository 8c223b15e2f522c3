#include "core_metrics.h"

#include <prometheus/counter.h>

namespace jmedia::events {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

std::string label(std::string_view value) {
  return std::string(value);
}

// Plugin packages are short dotted names ("janus.plugin.echotest"); anything else is "other".
bool plausible_package(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return name != kOther;
}

}  // namespace

const prometheus::Histogram::BucketBoundaries& rtt_buckets() {
  // Janus reports RTT in whole milliseconds, from RTCP receiver reports.
  static const prometheus::Histogram::BucketBoundaries buckets = {
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0};
  return buckets;
}

const prometheus::Histogram::BucketBoundaries& jitter_buckets() {
  // Interarrival jitter in whole milliseconds (RFC 3550), ours and the peer's.
  static const prometheus::Histogram::BucketBoundaries buckets = {
      0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0};
  return buckets;
}

PluginSeries::PluginSeries(Family<Counter>& attached, Family<Counter>& detached,
                           std::size_t capacity)
    : attached_family_(attached),
      detached_family_(detached),
      slot_count_(capacity + 1),
      slots_(std::make_unique<Slot[]>(capacity + 1)) {
  publish(std::string(kOther));
}

void PluginSeries::publish(std::string name) {
  const std::size_t slot = published_.load(std::memory_order_relaxed);
  Slot& s = slots_[slot];
  s.attached = &attached_family_.Add({{"plugin", name}});
  s.detached = &detached_family_.Add({{"plugin", name}});
  s.name = std::move(name);
  published_.store(slot + 1, std::memory_order_release);
}

std::uint16_t PluginSeries::resolve(std::string_view plugin) {
  if (!plausible_package(plugin)) return kOtherSlot;
  const std::size_t count = published_.load(std::memory_order_relaxed);
  for (std::size_t i = 1; i < count; ++i) {
    if (slots_[i].name == plugin) return static_cast<std::uint16_t>(i);
  }
  if (count >= slot_count_) return kOtherSlot;
  publish(std::string(plugin));
  return static_cast<std::uint16_t>(count);
}

CoreMetrics::CoreMetrics(prometheus::Registry& registry, std::size_t max_plugin_series)
    : registry_(registry),
      sessions_family_(BuildGauge()
                           .Name("janus_core_sessions")
                           .Help("Janus sessions that exist now, all transports.")
                           .Register(registry)),
      handles_family_(BuildGauge()
                          .Name("janus_core_handles")
                          .Help("Handles attached now, to any plugin.")
                          .Register(registry)),
      peerconnections_family_(BuildGauge()
                                  .Name("janus_core_peerconnections")
                                  .Help("PeerConnections up now (webrtcup seen, no hangup or "
                                        "detach since).")
                                  .Register(registry)),
      events_family_(BuildCounter()
                         .Name("janus_core_events_total")
                         .Help("Events received from the Janus core, by event type.")
                         .Register(registry)),
      unrecognized_family_(BuildCounter()
                               .Name("janus_core_events_unrecognized_total")
                               .Help("Events of a subscribed type whose shape this handler does "
                                     "not know (missing or mistyped fields): none expected.")
                               .Register(registry)),
      sessions_created_family_(BuildCounter()
                                   .Name("janus_core_sessions_created_total")
                                   .Help("Janus sessions created.")
                                   .Register(registry)),
      sessions_destroyed_family_(
          BuildCounter()
              .Name("janus_core_sessions_destroyed_total")
              .Help("Janus sessions ended: request (destroy by API or admin), timeout (no "
                    "keepalive), transport_gone (their WebSocket closed, reclaim disabled).")
              .Register(registry)),
      attached_family_(BuildCounter()
                           .Name("janus_core_handles_attached_total")
                           .Help("Handles attached, by plugin package (capped; the rest under "
                                 "\"other\").")
                           .Register(registry)),
      detached_family_(BuildCounter()
                           .Name("janus_core_handles_detached_total")
                           .Help("Handles detached, by plugin package (capped; the rest under "
                                 "\"other\").")
                           .Register(registry)),
      established_family_(BuildCounter()
                              .Name("janus_core_peerconnections_established_total")
                              .Help("PeerConnections that came up (webrtcup).")
                              .Register(registry)),
      hangups_family_(BuildCounter()
                          .Name("janus_core_peerconnection_hangups_total")
                          .Help("PeerConnections closed, by the core's reason; detach counts a "
                                "PeerConnection that was up when its handle went away.")
                          .Register(registry)),
      ice_family_(BuildCounter()
                      .Name("janus_core_ice_state_transitions_total")
                      .Help("ICE component state changes, by the state entered.")
                      .Register(registry)),
      dtls_family_(BuildCounter()
                       .Name("janus_core_dtls_state_transitions_total")
                       .Help("DTLS state changes, by the state entered.")
                       .Register(registry)),
      pairs_family_(BuildCounter()
                        .Name("janus_core_selected_pairs_total")
                        .Help("ICE candidate pairs selected, by local and remote candidate type "
                              "and the local candidate's transport.")
                        .Register(registry)),
      candidates_family_(BuildCounter()
                             .Name("janus_core_remote_candidates_total")
                             .Help("Remote ICE candidates accepted (from SDP or trickle), by "
                                   "candidate type.")
                             .Register(registry)),
      slow_link_family_(BuildCounter()
                            .Name("janus_core_slow_link_events_total")
                            .Help("Slow-link events (many packets lost within a second), by "
                                  "media and by the link Janus names.")
                            .Register(registry)),
      lost_family_(BuildCounter()
                       .Name("janus_core_lost_packets_total")
                       .Help("RTP packets lost: inbound = peer to Janus (Janus's count), "
                             "outbound = Janus to peer (the peer's receiver reports).")
                       .Register(registry)),
      nacks_family_(BuildCounter()
                        .Name("janus_core_nacks_total")
                        .Help("RTP packets asked for again by NACK: received = the peer asked "
                              "Janus, sent = Janus asked the peer.")
                        .Register(registry)),
      rtt_family_(BuildHistogram()
                      .Name("janus_core_rtt_seconds")
                      .Help("Round-trip time to the peer from RTCP, one sample per media stream "
                            "and stats period (0 ms samples, meaning not measured, are left "
                            "out).")
                      .Register(registry)),
      jitter_family_(BuildHistogram()
                         .Name("janus_core_jitter_seconds")
                         .Help("RTP interarrival jitter, one sample per media stream and stats "
                               "period: inbound = measured by Janus, outbound = reported by the "
                               "peer.")
                         .Register(registry)) {
  sessions_ = &sessions_family_.Add({});
  handles_ = &handles_family_.Add({});
  peerconnections_ = &peerconnections_family_.Add({});
  for (std::size_t i = 0; i < kTypeLabels.size(); ++i) {
    events_[i] = &events_family_.Add({{"type", label(kTypeLabels[i])}});
  }
  events_[kOtherType] = &events_family_.Add({{"type", label(kOther)}});
  unrecognized_ = &unrecognized_family_.Add({});
  sessions_created_ = &sessions_created_family_.Add({});
  for (std::size_t i = 0; i < kSessionEndLabels.size(); ++i) {
    sessions_destroyed_[i] =
        &sessions_destroyed_family_.Add({{"reason", label(kSessionEndLabels[i])}});
  }
  plugins_ = std::make_unique<PluginSeries>(attached_family_, detached_family_, max_plugin_series);
  established_ = &established_family_.Add({});
  for (std::size_t i = 0; i < kHangupReasons.size(); ++i) {
    hangups_[i] = &hangups_family_.Add({{"reason", label(kHangupReasons[i].label)}});
  }
  hangups_[kOtherReason] = &hangups_family_.Add({{"reason", label(kOther)}});
  for (std::size_t i = 0; i <= kIceStates.size(); ++i) {
    ice_states_[i] =
        &ice_family_.Add({{"state", label(i < kIceStates.size() ? kIceStates[i] : kOther)}});
  }
  for (std::size_t i = 0; i <= kDtlsStates.size(); ++i) {
    dtls_states_[i] =
        &dtls_family_.Add({{"state", label(i < kDtlsStates.size() ? kDtlsStates[i] : kOther)}});
  }
  for (auto& pair : pairs_) pair.store(nullptr, std::memory_order_relaxed);
  for (std::size_t l = 0; l < kCandidateTypes.size(); ++l) {
    for (std::size_t r = 0; r < kCandidateTypes.size(); ++r) {
      for (std::size_t t = 0; t < kTransports.size(); ++t) selected_pair(l, r, t);
    }
  }
  for (std::size_t i = 0; i <= kCandidateTypes.size(); ++i) {
    remote_candidates_[i] = &candidates_family_.Add(
        {{"type", label(i < kCandidateTypes.size() ? kCandidateTypes[i] : kOther)}});
  }
  for (std::size_t m = 0; m < kMediaKinds.size(); ++m) {
    const std::string media = label(kMediaKinds[m]);
    for (std::size_t l = 0; l < kLinks.size(); ++l) {
      slow_links_[m][l] = &slow_link_family_.Add({{"media", media}, {"link", label(kLinks[l])}});
    }
    for (std::size_t d = 0; d < kDirections.size(); ++d) {
      lost_[m][d] = &lost_family_.Add({{"media", media}, {"direction", label(kDirections[d])}});
      jitter_[m][d] = &jitter_family_.Add({{"media", media}, {"direction", label(kDirections[d])}},
                                          jitter_buckets());
    }
    for (std::size_t d = 0; d < kNackDirections.size(); ++d) {
      nacks_[m][d] =
          &nacks_family_.Add({{"media", media}, {"direction", label(kNackDirections[d])}});
    }
    rtt_[m] = &rtt_family_.Add({{"media", media}}, rtt_buckets());
  }
}

CoreMetrics::~CoreMetrics() {
  registry_.Remove(jitter_family_);
  registry_.Remove(rtt_family_);
  registry_.Remove(nacks_family_);
  registry_.Remove(lost_family_);
  registry_.Remove(slow_link_family_);
  registry_.Remove(candidates_family_);
  registry_.Remove(pairs_family_);
  registry_.Remove(dtls_family_);
  registry_.Remove(ice_family_);
  registry_.Remove(hangups_family_);
  registry_.Remove(established_family_);
  registry_.Remove(detached_family_);
  registry_.Remove(attached_family_);
  registry_.Remove(sessions_destroyed_family_);
  registry_.Remove(sessions_created_family_);
  registry_.Remove(unrecognized_family_);
  registry_.Remove(events_family_);
  registry_.Remove(peerconnections_family_);
  registry_.Remove(handles_family_);
  registry_.Remove(sessions_family_);
}

Counter& CoreMetrics::selected_pair(std::size_t local_type, std::size_t remote_type,
                                    std::size_t transport) {
  std::atomic<Counter*>& slot = pairs_[pair_index(local_type, remote_type, transport)];
  Counter* counter = slot.load(std::memory_order_acquire);
  if (counter == nullptr) {
    auto name = [](std::size_t i) {
      return label(i < kCandidateTypes.size() ? kCandidateTypes[i] : kOther);
    };
    counter = &pairs_family_.Add(
        {{"local_type", name(local_type)},
         {"remote_type", name(remote_type)},
         {"transport", label(transport < kTransports.size() ? kTransports[transport] : kOther)}});
    slot.store(counter, std::memory_order_release);
  }
  return *counter;
}

double CoreMetrics::selected_pair_value(std::size_t local_type, std::size_t remote_type,
                                        std::size_t transport) const {
  const Counter* counter =
      pairs_[pair_index(local_type, remote_type, transport)].load(std::memory_order_acquire);
  return counter != nullptr ? counter->Value() : 0.0;
}

}  // namespace jmedia::events
