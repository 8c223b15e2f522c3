// The janus_core_* metric families of janus.eventhandler.media, registered in a given registry
// (the process-wide runtime::registry() in the module, a private one in tests). Every child
// whose label set is known is created here, at start, so counting an event is an atomic add
// through a stored pointer, never a map lookup. The one open label set, "plugin", is capped
// (PluginSeries). The families are removed from the registry on destruction.
//
// Threads: the events thread (the only writer) calls everything; the accessors marked "any
// thread" are also read by the admin thread (query_eventhandler) and by scrapes.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "event_shapes.h"

namespace jmedia::events {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

// Why a session ended: the "reason" label of janus_core_sessions_destroyed_total.
enum class SessionEnd : std::size_t { kRequest = 0, kTimeout = 1, kTransportGone = 2 };
inline constexpr std::array<std::string_view, 3> kSessionEndLabels = {"request", "timeout",
                                                                      "transport_gone"};
// "direction" of the lost-packet counters and the jitter histogram.
inline constexpr std::array<std::string_view, 2> kDirections = {"inbound", "outbound"};
// "direction" of the NACK counter: NACKs Janus received from the peer / sent to it.
inline constexpr std::array<std::string_view, 2> kNackDirections = {"received", "sent"};
// "link" of the slow-link counter, as Janus names it.
inline constexpr std::array<std::string_view, 2> kLinks = {"uplink", "downlink"};

// Bucket upper bounds, in seconds.
const prometheus::Histogram::BucketBoundaries& rtt_buckets();
const prometheus::Histogram::BucketBoundaries& jitter_buckets();

// Per-plugin children of the attached/detached counters: slot 0 is "other", then one slot per
// plugin package in the order first seen, up to capacity. Slots are published with release
// semantics and never change afterwards, so any thread may read the published ones.
class PluginSeries {
 public:
  PluginSeries(Family<Counter>& attached, Family<Counter>& detached, std::size_t capacity);

  static constexpr std::uint16_t kOtherSlot = 0;

  // Events thread only. The slot for a plugin package; kOtherSlot when the name is not a
  // plausible package name or every slot is taken.
  std::uint16_t resolve(std::string_view plugin);
  Counter& attached(std::uint16_t slot) const { return *slots_[slot].attached; }
  Counter& detached(std::uint16_t slot) const { return *slots_[slot].detached; }

  // Any thread.
  std::size_t size() const noexcept { return published_.load(std::memory_order_acquire); }
  const std::string& name(std::size_t slot) const { return slots_[slot].name; }
  double attached_value(std::size_t slot) const { return slots_[slot].attached->Value(); }
  double detached_value(std::size_t slot) const { return slots_[slot].detached->Value(); }

 private:
  struct Slot {
    std::string name;
    Counter* attached = nullptr;
    Counter* detached = nullptr;
  };
  void publish(std::string name);

  Family<Counter>& attached_family_;
  Family<Counter>& detached_family_;
  std::size_t slot_count_;  // capacity + 1 ("other")
  std::unique_ptr<Slot[]> slots_;
  std::atomic<std::size_t> published_{0};
};

class CoreMetrics {
 public:
  CoreMetrics(prometheus::Registry& registry, std::size_t max_plugin_series);
  ~CoreMetrics();
  CoreMetrics(const CoreMetrics&) = delete;
  CoreMetrics& operator=(const CoreMetrics&) = delete;

  static constexpr std::size_t kOtherType = kTypeLabels.size();
  static constexpr std::size_t kOtherIce = kIceStates.size();
  static constexpr std::size_t kOtherDtls = kDtlsStates.size();
  static constexpr std::size_t kOtherCandidate = kCandidateTypes.size();
  static constexpr std::size_t kOtherTransport = kTransports.size();
  static constexpr std::size_t kOtherReason = kHangupReasons.size();

  // Gauges (any thread may read them).
  Gauge& sessions() const { return *sessions_; }
  Gauge& handles() const { return *handles_; }
  Gauge& peerconnections() const { return *peerconnections_; }

  Counter& events(std::size_t type_index) const { return *events_[type_index]; }
  Counter& unrecognized() const { return *unrecognized_; }
  Counter& sessions_created() const { return *sessions_created_; }
  Counter& sessions_destroyed(SessionEnd why) const {
    return *sessions_destroyed_[static_cast<std::size_t>(why)];
  }
  PluginSeries& plugins() const { return *plugins_; }
  Counter& peerconnections_established() const { return *established_; }
  Counter& hangups(std::size_t reason_index) const { return *hangups_[reason_index]; }
  Counter& ice_state(std::size_t state_index) const { return *ice_states_[state_index]; }
  Counter& dtls_state(std::size_t state_index) const { return *dtls_states_[state_index]; }
  // Events thread only: children with an "other" label value are created on first use.
  Counter& selected_pair(std::size_t local_type, std::size_t remote_type, std::size_t transport);
  Counter& remote_candidates(std::size_t type_index) const {
    return *remote_candidates_[type_index];
  }
  Counter& slow_links(std::size_t media, std::size_t link) const {
    return *slow_links_[media][link];
  }
  Counter& lost_packets(std::size_t media, std::size_t direction) const {
    return *lost_[media][direction];
  }
  Counter& nacks(std::size_t media, std::size_t nack_direction) const {
    return *nacks_[media][nack_direction];
  }
  Histogram& rtt(std::size_t media) const { return *rtt_[media]; }
  Histogram& jitter(std::size_t media, std::size_t direction) const {
    return *jitter_[media][direction];
  }

  // Any thread: the value of a selected-pair child (0 when not created).
  double selected_pair_value(std::size_t local_type, std::size_t remote_type,
                             std::size_t transport) const;

 private:
  static constexpr std::size_t kTypesWithOther = kCandidateTypes.size() + 1;
  static constexpr std::size_t kTransportsWithOther = kTransports.size() + 1;
  static constexpr std::size_t pair_index(std::size_t l, std::size_t r, std::size_t t) {
    return (l * kTypesWithOther + r) * kTransportsWithOther + t;
  }

  prometheus::Registry& registry_;
  Family<Gauge>& sessions_family_;
  Family<Gauge>& handles_family_;
  Family<Gauge>& peerconnections_family_;
  Family<Counter>& events_family_;
  Family<Counter>& unrecognized_family_;
  Family<Counter>& sessions_created_family_;
  Family<Counter>& sessions_destroyed_family_;
  Family<Counter>& attached_family_;
  Family<Counter>& detached_family_;
  Family<Counter>& established_family_;
  Family<Counter>& hangups_family_;
  Family<Counter>& ice_family_;
  Family<Counter>& dtls_family_;
  Family<Counter>& pairs_family_;
  Family<Counter>& candidates_family_;
  Family<Counter>& slow_link_family_;
  Family<Counter>& lost_family_;
  Family<Counter>& nacks_family_;
  Family<Histogram>& rtt_family_;
  Family<Histogram>& jitter_family_;

  Gauge* sessions_ = nullptr;
  Gauge* handles_ = nullptr;
  Gauge* peerconnections_ = nullptr;
  std::array<Counter*, kTypeLabels.size() + 1> events_{};
  Counter* unrecognized_ = nullptr;
  Counter* sessions_created_ = nullptr;
  std::array<Counter*, kSessionEndLabels.size()> sessions_destroyed_{};
  std::unique_ptr<PluginSeries> plugins_;
  Counter* established_ = nullptr;
  std::array<Counter*, kHangupReasons.size() + 1> hangups_{};
  std::array<Counter*, kIceStates.size() + 1> ice_states_{};
  std::array<Counter*, kDtlsStates.size() + 1> dtls_states_{};
  // Written by the events thread only; read elsewhere through selected_pair_value().
  std::array<std::atomic<Counter*>, kTypesWithOther * kTypesWithOther * kTransportsWithOther>
      pairs_{};
  std::array<Counter*, kCandidateTypes.size() + 1> remote_candidates_{};
  std::array<std::array<Counter*, kLinks.size()>, kMediaKinds.size()> slow_links_{};
  std::array<std::array<Counter*, kDirections.size()>, kMediaKinds.size()> lost_{};
  std::array<std::array<Counter*, kNackDirections.size()>, kMediaKinds.size()> nacks_{};
  std::array<Histogram*, kMediaKinds.size()> rtt_{};
  std::array<std::array<Histogram*, kDirections.size()>, kMediaKinds.size()> jitter_{};
};

}  // namespace jmedia::events
