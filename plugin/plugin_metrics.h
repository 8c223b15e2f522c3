// janus.plugin.media's Prometheus metrics (janus_media_*). Updated on the request and media
// paths with striped atomics (no lock), summed at scrape time by Collect(). Every labelled
// series is known up front: roles, request names, error codes, reasons and limits are closed
// sets, so a scrape's size does not grow with sessions or devices.
#pragma once

#include <prometheus/collectable.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "../cluster/node_channel.h"
#include "../common/metrics.h"
#include "access_metrics.h"
#include "errors.h"
#include "types.h"

namespace jmedia {

enum class LimitKind : int { kMaxSessions, kMaxViewersPerDevice, kQueueSize };
inline constexpr int kLimitKindCount = 3;

// Request names as labels: client requests, admin requests, and "invalid" for bodies that
// name no request.
inline constexpr std::array<std::string_view, 16> kRequestLabels = {
    "echo",       "publish",     "watch",        "start",      "configure",  "hangup",
    "list",       "info",        "devices",      "admin_list", "admin_info", "admin_devices",
    "admin_kick", "admin_drain", "admin_limits", "invalid"};
std::size_t request_label_index(std::string_view name, bool admin);

// One direction's relays between nodes (README, "Scale-out"), summed at scrape: outbound on
// the origin (relay_origin.cpp), inbound on the viewers' node (remote_devices.cpp).
struct RelayTotals {
  std::size_t relays = 0;
  std::uint64_t packets = 0;        // RTP sent (out) or received (in), retransmissions aside
  std::uint64_t bytes = 0;          // on the wire, RTP and RTCP
  std::uint64_t lost = 0;           // in: gaps never filled
  std::uint64_t nacked = 0;         // sequence numbers asked for (in) or asked of us (out)
  std::uint64_t retransmitted = 0;  // out: resent from the history
  std::uint64_t recovered = 0;      // in: NACKed, then arrived
  // out: relay requests and events the origin's full queue turned away (the asker resends);
  // in: RTP of a payload type the origin did not announce, or with no device to go to.
  std::uint64_t dropped = 0;
};

class PluginMetrics final : public prometheus::Collectable {
 public:
  // Point-in-time values read at scrape.
  struct Snapshot {
    std::vector<std::size_t> device_viewers;  // by device slot, then "other" last
    std::array<std::size_t, kRoleCount> active{};
    std::size_t handles = 0;
    std::size_t orphaned = 0;  // MediaPlugin::sweep_orphans
    std::size_t devices = 0;
    std::size_t queue_depth = 0;
    std::size_t queue_capacity = 0;
    bool draining = false;
    // cluster.redis set: the directory's state (no cluster series on a single node).
    bool cluster = false;
    std::size_t cluster_nodes = 0;  // live nodes seen at the last heartbeat (this one included)
    bool redis_up = false;
    std::uint64_t directory_errors = 0;
    bool inbox_up = false;  // this node's inbox (node_channel.h) is subscribed
    std::array<std::uint64_t, cluster::kMessageTypeCount> messages_sent{};
    std::array<std::uint64_t, cluster::kMessageTypeCount> messages_received{};
    std::array<std::uint64_t, cluster::NodeChannel::kDropCount> messages_dropped{};
    RelayTotals relays_out;
    RelayTotals relays_in;
  };
  using SnapshotSource = std::function<Snapshot()>;

  // max_device_series: how many devices get their own series (first come); the rest share
  // device="other". 0 turns the per-device breakdown off.
  explicit PluginMetrics(std::size_t max_device_series = 0);

  // The series slot of a device (assigned on first call, capped), or kOtherDevice. Not for
  // hot paths: called when a device gets a publisher.
  static constexpr int kOtherDevice = -1;
  int device_slot(const std::string& device_id);
  // copies: how many viewers got this packet (one addition per packet, not per copy).
  void device_relayed(int slot, std::size_t bytes, std::uint64_t copies = 1) {
    if (device_series_cap_ == 0) return;
    const std::size_t index = slot < 0 ? device_series_cap_ : static_cast<std::size_t>(slot);
    device_packets_[index].add(copies);
    device_bytes_[index].add(bytes * copies);
  }
  // Set by the plugin at start, cleared (nullptr) before it goes away.
  void set_snapshot_source(SnapshotSource source);

  void session_created(Role role) { created_[index(role)].add(); }
  void session_ended(Role role, EndReason reason) {
    ended_[index(role)][static_cast<int>(reason)].add();
  }
  void request_done(std::size_t request, bool ok, double seconds);
  void request_error(ErrorCode code);
  void peerconnection_up(Role role, double setup_seconds);
  void peerconnection_failed(Role role, EndReason reason) {
    failed_[index(role)][static_cast<int>(reason)].add();
  }
  void rtp_relayed(bool video, std::size_t bytes, std::uint64_t copies = 1) {
    rtp_packets_[video ? 1 : 0].add(copies);
    rtp_bytes_[video ? 1 : 0].add(bytes * copies);
  }
  void data_relayed(std::size_t bytes, std::uint64_t copies = 1) {
    data_messages_.add(copies);
    data_bytes_.add(bytes * copies);
  }
  void keyframe_requested() { keyframe_requests_.add(); }
  void limit_rejected(LimitKind limit) { limit_rejections_[static_cast<int>(limit)].add(); }
  AccessMetrics& access() { return access_; }

  std::vector<prometheus::MetricFamily> Collect() const override;

  // For tests: the value of a counter series as Collect() would expose it.
  std::uint64_t requests(std::size_t request, bool ok) const {
    return requests_[request][ok ? 0 : 1].value();
  }

 private:
  static std::size_t index(Role role) { return static_cast<std::size_t>(role); }

  mutable std::mutex source_mutex_;
  SnapshotSource source_;
  std::array<metrics::Counter, kRoleCount> created_;
  std::array<std::array<metrics::Counter, kEndReasonCount>, kRoleCount> ended_;
  std::array<std::array<metrics::Counter, 2>, kRequestLabels.size()> requests_;
  std::vector<std::unique_ptr<metrics::Histogram>> request_seconds_;  // one per request label
  std::array<metrics::Counter, 24> errors_;  // parallel to kAllErrors (plugin_metrics.cpp)
  std::array<metrics::Counter, kRoleCount> up_;
  std::array<std::array<metrics::Counter, kEndReasonCount>, kRoleCount> failed_;
  std::vector<std::unique_ptr<metrics::Histogram>> setup_seconds_;  // one per role
  std::array<metrics::Counter, 2> rtp_packets_;                     // audio, video
  std::array<metrics::Counter, 2> rtp_bytes_;
  metrics::Counter data_messages_;
  metrics::Counter data_bytes_;
  metrics::Counter keyframe_requests_;
  std::array<metrics::Counter, kLimitKindCount> limit_rejections_;
  AccessMetrics access_;
  const std::size_t device_series_cap_;
  mutable std::mutex device_mutex_;                     // guards device_ids_
  std::vector<std::string> device_ids_;                 // slot -> device_id
  std::unique_ptr<metrics::Counter[]> device_packets_;  // cap + 1 ("other")
  std::unique_ptr<metrics::Counter[]> device_bytes_;

 public:
  // Device ids that have a series (for the snapshot source).
  std::vector<std::string> device_series_ids() const;
};

}  // namespace jmedia
