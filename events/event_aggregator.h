// Turns the core's events (json_t, shapes in event_shapes.h) into the janus_core_* metrics of
// CoreMetrics. Pure: no symbol of the janus executable, so unit tests feed it real event JSON.
//
// Gauges (sessions, handles, PeerConnections) are kept live from the events: +1/-1 on
// created/destroyed/timeout, attached/detached, webrtcup/hangup. Which source wins:
//  - Janus 1.1.2 never reports its own counts (the periodic "status":"update" core event
//    arrived in 1.2.0), so there the events are the only source.
//  - When a core status update does arrive (Janus >= 1.2, every 15 s), its counts are the
//    core's own and are authoritative: they replace the gauges, and the events move them
//    between updates. (A count may be off by one for up to one period when an update and a
//    session/handle event race in the core's queue.)
// Gaps in the events that are filled here:
//  - a WebSocket that closes with reclaim_session_timeout = 0 takes its sessions with it and
//    the core sends no session event: the transport's "disconnected" event is matched to the
//    sessions created over that connection (same transport id) and they are counted as ended
//    (reason transport_gone). reclaim_session_timeout comes from the core's startup event;
//    with reclaim enabled those sessions end later with a "timeout" event instead.
//  - a handle detached while its PeerConnection is up gets no hangup event: counted as a
//    hangup with reason "detach".
// State kept per live session (its transport) and per live handle (plugin slot, whether its
// PeerConnection is up, the last cumulative loss/NACK counts per media stream, to turn them
// into counter increments). Both maps shrink with the sessions and handles: nothing is kept
// per session or handle once it is gone, and nothing per session/handle is ever a label.
//
// The ICE-candidate cap: when given a ledger (runtime/candidate_ledger.h) and the cap is enabled
// (config.cap_enabled()), the aggregator feeds it from the same events: handle attached (with
// its plugin) and detached, remote candidates, remote/local JSEP (negotiated), PeerConnection
// hangups. It starts feeding on construction and stops on destruction. Handles that go over
// max_ice_candidates are logged once each; without an enforcer (janus.transport.prometheus) the
// ledger only counts, which is logged once.
//
// The PeerConnection watch (runtime/pc_watch.h): when given one and the events list has handles,
// jsep and webrtc, the aggregator reports each handle's SDPs, first selected pair, ICE failure,
// hangup and detach, for janus.transport.edge to hold hangups and detaches until the first pair
// (Janus 1.1.2 loses them before it). Fed from construction to destruction.
//
// Threads: consume() on the core's events thread only (one thread). summary() and
// handle_request() from any thread: they read atomics (and the ledger's stats, under its lock).
#pragma once

#include <jansson.h>
#include <prometheus/registry.h>

#include <atomic>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "../common/json.h"
#include "candidate_ledger.h"
#include "pc_watch.h"
#include "core_metrics.h"
#include "evh_config.h"

namespace jmedia::events {

class EventAggregator {
 public:
  // ledger may be null (no cap); it must outlive the aggregator.
  EventAggregator(prometheus::Registry& registry, const EventHandlerConfig& config,
                  runtime::CandidateLedger* ledger = nullptr, runtime::PcWatch* watch = nullptr);
  ~EventAggregator();
  EventAggregator(const EventAggregator&) = delete;
  EventAggregator& operator=(const EventAggregator&) = delete;

  // One event from the core, borrowed: neither kept nor released here.
  void consume(const json_t* event);

  // The answer to admin "query_eventhandler": request may be null (no "request" member) or
  // {"request":"summary"}; anything else gets {"error": "..."}.
  JsonPtr handle_request(const json_t* request) const;
  JsonPtr summary() const;

  // What the core last told us (0 until its startup event), for tests and the summary.
  std::int64_t reclaim_session_timeout() const noexcept {
    return reclaim_session_timeout_.load(std::memory_order_relaxed);
  }

  CoreMetrics& metrics() { return metrics_; }

 private:
  struct MediaBaseline {
    std::int64_t mindex = 0;
    int substream = 0;
    std::uint64_t lost_inbound = 0;
    std::uint64_t lost_outbound = 0;
    std::uint64_t nacks_received = 0;
    std::uint64_t nacks_sent = 0;
  };
  struct HandleState {
    std::uint16_t plugin_slot = PluginSeries::kOtherSlot;
    bool peerconnection_up = false;
    std::vector<MediaBaseline> media;
  };

  bool on_session(const json_t* event, const json_t* body);
  bool on_handle(const json_t* event, const json_t* body);
  bool on_webrtc(const json_t* event, int subtype, const json_t* body);
  bool on_media(const json_t* event, int subtype, const json_t* body);
  bool on_jsep(const json_t* event, const json_t* body);
  bool on_transport(const json_t* body);
  void count_candidate(const json_t* event);
  void closed_peerconnection(const json_t* event);
  bool on_core(int subtype, const json_t* body);
  bool on_stats_entry(HandleState* handle, const json_t* entry);

  bool forget_session(std::uint64_t session_id);
  HandleState* find_handle(const json_t* event);
  void peerconnection_down(HandleState& handle);
  static void add_gauge(std::int64_t& count, prometheus::Gauge& gauge, std::int64_t delta);
  static void set_gauge(std::int64_t& count, prometheus::Gauge& gauge, std::int64_t value);
  void update_tracked();

  const EventHandlerConfig config_;
  CoreMetrics metrics_;
  runtime::CandidateLedger* const ledger_;  // null when the cap is off
  runtime::PcWatch* const watch_;           // null without one, or when the events list lacks
                                            // handles, jsep or webrtc

  // Events thread only.
  std::int64_t sessions_ = 0;
  std::int64_t handles_ = 0;
  std::int64_t peerconnections_ = 0;
  std::unordered_map<std::uint64_t, std::uint64_t> session_transport_;  // session -> transport
  std::unordered_map<std::uint64_t, std::vector<std::uint64_t>> transport_sessions_;
  std::unordered_map<std::uint64_t, HandleState> handle_state_;
  bool warned_no_enforcer_ = false;
  bool warned_untracked_ = false;

  // Any thread.
  std::atomic<std::int64_t> reclaim_session_timeout_{0};
  std::atomic<std::size_t> tracked_sessions_{0};
  std::atomic<std::size_t> tracked_handles_{0};
};

}  // namespace jmedia::events
