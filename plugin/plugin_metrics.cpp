#include "plugin_metrics.h"

#include <string>

namespace jmedia {
namespace {

using prometheus::MetricType;

constexpr std::array<ErrorCode, 24> kAllErrors = {
    ErrorCode::kInvalidBody,       ErrorCode::kMissingRequest,
    ErrorCode::kUnknownRequest,    ErrorCode::kInvalidField,
    ErrorCode::kMissingJsep,       ErrorCode::kWrongJsepType,
    ErrorCode::kInvalidSdp,        ErrorCode::kBusy,
    ErrorCode::kNoSession,         ErrorCode::kShuttingDown,
    ErrorCode::kTooManySessions,   ErrorCode::kWrongState,
    ErrorCode::kUnexpectedJsep,    ErrorCode::kDeviceBusy,
    ErrorCode::kNoSuchDevice,      ErrorCode::kTooManyViewers,
    ErrorCode::kDraining,          ErrorCode::kSessionNotFound,
    ErrorCode::kTooManyCandidates, ErrorCode::kUnauthorized,
    ErrorCode::kForbidden,         ErrorCode::kClusterUnavailable,
    ErrorCode::kRemoteDevice,      ErrorCode::kInternal};

constexpr std::array<const char*, kLimitKindCount> kLimitNames = {
    "max_sessions", "max_viewers_per_device", "queue_size"};

// Roles that take part in media (kNone never negotiates).
constexpr std::array<Role, 3> kMediaRoles = {Role::kEcho, Role::kPublisher, Role::kViewer};

// The relays between nodes, both directions (README, "Scale-out").
void collect_relays(const PluginMetrics::Snapshot& snapshot,
                    std::vector<prometheus::MetricFamily>& out) {
  using metrics::add_counter;
  using metrics::add_gauge;
  using metrics::family;
  const RelayTotals& sent = snapshot.relays_out;
  const RelayTotals& got = snapshot.relays_in;
  auto by_direction = [&](const char* name, const char* help, MetricType type, double out_value,
                          double in_value) {
    auto f = family(name, help, type);
    if (type == MetricType::Gauge) {
      add_gauge(f, {{"direction", "out"}}, out_value);
      add_gauge(f, {{"direction", "in"}}, in_value);
    } else {
      add_counter(f, {{"direction", "out"}}, out_value);
      add_counter(f, {{"direction", "in"}}, in_value);
    }
    out.push_back(std::move(f));
  };
  auto single = [&](const char* name, const char* help, double value) {
    auto f = family(name, help, MetricType::Counter);
    add_counter(f, {}, value);
    out.push_back(std::move(f));
  };
  by_direction("janus_media_relays",
               "Relays between nodes: out, of devices published here to other nodes; in, of "
               "other nodes' devices watched here.",
               MetricType::Gauge, static_cast<double>(sent.relays),
               static_cast<double>(got.relays));
  by_direction("janus_media_relay_packets_total",
               "RTP packets sent (out) or received (in) on relays, retransmissions not included "
               "out.",
               MetricType::Counter, static_cast<double>(sent.packets),
               static_cast<double>(got.packets));
  by_direction("janus_media_relay_bytes_total",
               "Bytes on the wire of relays (SRTP and SRTCP), sent (out) or received (in).",
               MetricType::Counter, static_cast<double>(sent.bytes),
               static_cast<double>(got.bytes));
  single("janus_media_relay_lost_total",
         "RTP packets of inbound relays lost for good (gaps no retransmission filled).",
         static_cast<double>(got.lost));
  by_direction("janus_media_relay_nacked_total",
               "Sequence numbers NACKed on relays: asked of this node (out) or asked by it (in).",
               MetricType::Counter, static_cast<double>(sent.nacked),
               static_cast<double>(got.nacked));
  single("janus_media_relay_retransmitted_total",
         "RTP packets outbound relays resent from their retransmission history.",
         static_cast<double>(sent.retransmitted));
  single("janus_media_relay_recovered_total",
         "RTP packets of inbound relays NACKed, then received.",
         static_cast<double>(got.recovered));
  single("janus_media_relay_requests_dropped_total",
         "Relay requests and relay events this node's origin side turned away, its queue full "
         "(the asking node resends).",
         static_cast<double>(sent.dropped));
  single("janus_media_relay_unrouted_total",
         "RTP packets of inbound relays dropped on arrival: a payload type the origin did not "
         "announce, or no device to route them to.",
         static_cast<double>(got.dropped));
}

}  // namespace

std::size_t request_label_index(std::string_view name, bool admin) {
  for (std::size_t i = 0; i < kRequestLabels.size(); ++i) {
    std::string_view label = kRequestLabels[i];
    const bool is_admin_label = label.substr(0, 6) == "admin_";
    if (admin != is_admin_label) continue;
    if ((admin ? label.substr(6) : label) == name) return i;
  }
  return kRequestLabels.size() - 1;  // "invalid"
}

PluginMetrics::PluginMetrics(std::size_t max_device_series)
    : device_series_cap_(max_device_series),
      device_packets_(std::make_unique<metrics::Counter[]>(max_device_series + 1)),
      device_bytes_(std::make_unique<metrics::Counter[]>(max_device_series + 1)) {
  for (std::size_t i = 0; i < kRequestLabels.size(); ++i) {
    request_seconds_.push_back(std::make_unique<metrics::Histogram>(metrics::latency_buckets()));
  }
  for (int role = 0; role < kRoleCount; ++role) {
    setup_seconds_.push_back(std::make_unique<metrics::Histogram>(
        std::vector<double>{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30}));
  }
}

int PluginMetrics::device_slot(const std::string& device_id) {
  if (device_series_cap_ == 0) return kOtherDevice;
  std::lock_guard lock(device_mutex_);
  for (std::size_t i = 0; i < device_ids_.size(); ++i) {
    if (device_ids_[i] == device_id) return static_cast<int>(i);
  }
  if (device_ids_.size() == device_series_cap_) return kOtherDevice;
  device_ids_.push_back(device_id);
  return static_cast<int>(device_ids_.size() - 1);
}

std::vector<std::string> PluginMetrics::device_series_ids() const {
  std::lock_guard lock(device_mutex_);
  return device_ids_;
}

void PluginMetrics::set_snapshot_source(SnapshotSource source) {
  std::lock_guard lock(source_mutex_);
  source_ = std::move(source);
}

void PluginMetrics::request_done(std::size_t request, bool ok, double seconds) {
  if (request >= kRequestLabels.size()) request = kRequestLabels.size() - 1;
  requests_[request][ok ? 0 : 1].add();
  request_seconds_[request]->observe(seconds);
}

void PluginMetrics::request_error(ErrorCode code) {
  for (std::size_t i = 0; i < kAllErrors.size(); ++i) {
    if (kAllErrors[i] == code) return errors_[i].add();
  }
}

void PluginMetrics::peerconnection_up(Role role, double setup_seconds) {
  up_[index(role)].add();
  setup_seconds_[index(role)]->observe(setup_seconds);
}

std::vector<prometheus::MetricFamily> PluginMetrics::Collect() const {
  using namespace metrics;
  std::vector<prometheus::MetricFamily> out;

  Snapshot snapshot;
  bool have_snapshot = false;
  {
    std::lock_guard lock(source_mutex_);
    if (source_) {
      snapshot = source_();
      have_snapshot = true;
    }
  }
  if (have_snapshot) {
    auto active = family("janus_media_sessions_active", "Media sessions with a role, by role.",
                         MetricType::Gauge);
    for (Role role : kMediaRoles) {
      add_gauge(active, {{"role", role_name(role)}},
                static_cast<double>(snapshot.active[index(role)]));
    }
    out.push_back(std::move(active));
    auto handles = family("janus_media_handles", "Janus handles attached to janus.plugin.media.",
                          MetricType::Gauge);
    add_gauge(handles, {}, static_cast<double>(snapshot.handles));
    out.push_back(std::move(handles));
    auto orphaned = family(
        "janus_media_orphaned_handles",
        "Handles Janus stopped but never destroyed (a detach it lost) for 10 s, whose media "
        "sessions the plugin freed itself; Janus keeps its own part of each (loop thread, ICE "
        "agent).",
        MetricType::Gauge);
    add_gauge(orphaned, {}, static_cast<double>(snapshot.orphaned));
    out.push_back(std::move(orphaned));
    auto devices =
        family("janus_media_devices", "Devices with a publisher or viewers.", MetricType::Gauge);
    add_gauge(devices, {}, static_cast<double>(snapshot.devices));
    out.push_back(std::move(devices));
    auto depth =
        family("janus_media_queue_depth", "Async requests waiting or running.", MetricType::Gauge);
    add_gauge(depth, {}, static_cast<double>(snapshot.queue_depth));
    out.push_back(std::move(depth));
    auto capacity = family("janus_media_queue_capacity",
                           "Async requests allowed at once (queue_size).", MetricType::Gauge);
    add_gauge(capacity, {}, static_cast<double>(snapshot.queue_capacity));
    out.push_back(std::move(capacity));
    auto draining =
        family("janus_media_draining", "1 while drain is on (new media sessions refused), else 0.",
               MetricType::Gauge);
    add_gauge(draining, {}, snapshot.draining ? 1 : 0);
    out.push_back(std::move(draining));
    if (snapshot.cluster) {
      auto nodes = family("janus_media_cluster_nodes",
                          "Live nodes in the cluster directory at the last heartbeat, this one "
                          "included (0 while Redis is unreachable).",
                          MetricType::Gauge);
      add_gauge(nodes, {}, static_cast<double>(snapshot.cluster_nodes));
      out.push_back(std::move(nodes));
      auto up =
          family("janus_media_cluster_redis_up",
                 "1 while the cluster directory (Redis) is reachable, else 0.", MetricType::Gauge);
      add_gauge(up, {}, snapshot.redis_up ? 1 : 0);
      out.push_back(std::move(up));
      auto errors = family("janus_media_cluster_directory_errors_total",
                           "Failed directory operations: connection attempts, broken links, "
                           "error replies.",
                           MetricType::Counter);
      add_counter(errors, {}, static_cast<double>(snapshot.directory_errors));
      out.push_back(std::move(errors));
      auto inbox = family("janus_media_cluster_inbox_up",
                          "1 while this node is subscribed to its inbox (the Redis pub/sub "
                          "channel other nodes send it messages on), else 0.",
                          MetricType::Gauge);
      add_gauge(inbox, {}, snapshot.inbox_up ? 1 : 0);
      out.push_back(std::move(inbox));
      auto messages = family("janus_media_cluster_messages_total",
                             "Messages between nodes (relay control), by type and direction "
                             "(sent, or received valid and delivered).",
                             MetricType::Counter);
      for (int t = 0; t < cluster::kMessageTypeCount; ++t) {
        add_counter(messages, {{"type", cluster::kMessageTypeNames[t]}, {"direction", "sent"}},
                    static_cast<double>(snapshot.messages_sent[t]));
        add_counter(messages, {{"type", cluster::kMessageTypeNames[t]}, {"direction", "received"}},
                    static_cast<double>(snapshot.messages_received[t]));
      }
      out.push_back(std::move(messages));
      auto dropped = family("janus_media_cluster_messages_dropped_total",
                            "Messages between nodes dropped, by reason: received oversized, "
                            "malformed, with a bad signature, or answering no pending request; "
                            "or unsent (Redis unreachable).",
                            MetricType::Counter);
      for (int d = 0; d < cluster::NodeChannel::kDropCount; ++d) {
        add_counter(dropped, {{"reason", cluster::NodeChannel::kDropNames[d]}},
                    static_cast<double>(snapshot.messages_dropped[d]));
      }
      out.push_back(std::move(dropped));
      collect_relays(snapshot, out);
    }
  }

  auto created = family("janus_media_sessions_created_total",
                        "Media sessions that took a role, by role.", MetricType::Counter);
  for (Role role : kMediaRoles) {
    add_counter(created, {{"role", role_name(role)}},
                static_cast<double>(created_[index(role)].value()));
  }
  out.push_back(std::move(created));

  auto ended = family("janus_media_sessions_ended_total",
                      "Media sessions whose role ended, by role and reason.", MetricType::Counter);
  for (Role role : kMediaRoles) {
    for (int r = 0; r < kEndReasonCount; ++r) {
      add_counter(
          ended,
          {{"role", role_name(role)}, {"reason", end_reason_label(static_cast<EndReason>(r))}},
          static_cast<double>(ended_[index(role)][r].value()));
    }
  }
  out.push_back(std::move(ended));

  auto requests =
      family("janus_media_requests_total", "Requests handled, by request and result (ok or error).",
             MetricType::Counter);
  auto seconds =
      family("janus_media_request_duration_seconds",
             "Time from a request's arrival to its answer, by request.", MetricType::Histogram);
  for (std::size_t i = 0; i < kRequestLabels.size(); ++i) {
    const std::string name(kRequestLabels[i]);
    add_counter(requests, {{"request", name}, {"result", "ok"}},
                static_cast<double>(requests_[i][0].value()));
    add_counter(requests, {{"request", name}, {"result", "error"}},
                static_cast<double>(requests_[i][1].value()));
    add_histogram(seconds, {{"request", name}}, *request_seconds_[i]);
  }
  out.push_back(std::move(requests));
  out.push_back(std::move(seconds));

  auto errors = family("janus_media_request_errors_total",
                       "Error answers, by error code (see docs/API.md).", MetricType::Counter);
  for (std::size_t i = 0; i < kAllErrors.size(); ++i) {
    add_counter(errors, {{"code", std::to_string(numeric(kAllErrors[i]))}},
                static_cast<double>(errors_[i].value()));
  }
  out.push_back(std::move(errors));

  auto up =
      family("janus_media_peerconnections_up_total",
             "PeerConnections that came up (WebRTC media flowing), by role.", MetricType::Counter);
  auto failed = family("janus_media_peerconnections_failed_total",
                       "Negotiations that ended before media came up, by role and reason.",
                       MetricType::Counter);
  auto setup =
      family("janus_media_setup_duration_seconds",
             "Time from the offer's arrival to WebRTC up, by role.", MetricType::Histogram);
  for (Role role : kMediaRoles) {
    add_counter(up, {{"role", role_name(role)}}, static_cast<double>(up_[index(role)].value()));
    for (int r = 0; r < kEndReasonCount; ++r) {
      add_counter(
          failed,
          {{"role", role_name(role)}, {"reason", end_reason_label(static_cast<EndReason>(r))}},
          static_cast<double>(failed_[index(role)][r].value()));
    }
    add_histogram(setup, {{"role", role_name(role)}}, *setup_seconds_[index(role)]);
  }
  out.push_back(std::move(up));
  out.push_back(std::move(failed));
  out.push_back(std::move(setup));

  auto packets = family("janus_media_rtp_relayed_packets_total",
                        "RTP packets sent on to viewers or back to echo clients, by kind.",
                        MetricType::Counter);
  auto bytes =
      family("janus_media_rtp_relayed_bytes_total",
             "RTP bytes sent on to viewers or back to echo clients, by kind.", MetricType::Counter);
  for (int kind = 0; kind < 2; ++kind) {
    const char* name = kind == 0 ? "audio" : "video";
    add_counter(packets, {{"kind", name}}, static_cast<double>(rtp_packets_[kind].value()));
    add_counter(bytes, {{"kind", name}}, static_cast<double>(rtp_bytes_[kind].value()));
  }
  out.push_back(std::move(packets));
  out.push_back(std::move(bytes));

  auto data_messages = family("janus_media_data_relayed_messages_total",
                              "Data channel messages sent on or back.", MetricType::Counter);
  add_counter(data_messages, {}, static_cast<double>(data_messages_.value()));
  out.push_back(std::move(data_messages));
  auto data_bytes = family("janus_media_data_relayed_bytes_total",
                           "Data channel bytes sent on or back.", MetricType::Counter);
  add_counter(data_bytes, {}, static_cast<double>(data_bytes_.value()));
  out.push_back(std::move(data_bytes));

  auto keyframes =
      family("janus_media_keyframe_requests_total",
             "Keyframe requests (PLI) sent to publishers and echo clients.", MetricType::Counter);
  add_counter(keyframes, {}, static_cast<double>(keyframe_requests_.value()));
  out.push_back(std::move(keyframes));

  if (device_series_cap_ > 0) {
    const std::vector<std::string> ids = device_series_ids();
    auto packets_by_device = family("janus_media_device_relayed_packets_total",
                                    "RTP packets relayed to viewers, by device (opt-in: "
                                    "max_device_series; the rest \"other\").",
                                    MetricType::Counter);
    auto bytes_by_device =
        family("janus_media_device_relayed_bytes_total",
               "RTP bytes relayed to viewers, by device (opt-in).", MetricType::Counter);
    auto viewers_by_device =
        family("janus_media_device_viewers", "Viewers of a device now, by device (opt-in).",
               MetricType::Gauge);
    for (std::size_t i = 0; i <= ids.size(); ++i) {
      const bool other = i == ids.size();
      const std::size_t index = other ? device_series_cap_ : i;
      const std::string label = other ? "other" : ids[i];
      add_counter(packets_by_device, {{"device", label}},
                  static_cast<double>(device_packets_[index].value()));
      add_counter(bytes_by_device, {{"device", label}},
                  static_cast<double>(device_bytes_[index].value()));
      if (have_snapshot && i < snapshot.device_viewers.size()) {
        add_gauge(viewers_by_device, {{"device", label}},
                  static_cast<double>(snapshot.device_viewers[i]));
      }
    }
    out.push_back(std::move(packets_by_device));
    out.push_back(std::move(bytes_by_device));
    if (!viewers_by_device.metric.empty()) out.push_back(std::move(viewers_by_device));
  }

  auto limits =
      family("janus_media_limit_rejections_total",
             "Requests refused because a limit was reached, by limit.", MetricType::Counter);
  for (int l = 0; l < kLimitKindCount; ++l) {
    add_counter(limits, {{"limit", kLimitNames[l]}},
                static_cast<double>(limit_rejections_[l].value()));
  }
  out.push_back(std::move(limits));
  access_.collect(out);
  return out;
}

}  // namespace jmedia
