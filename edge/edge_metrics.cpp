#include "edge_metrics.h"

#include <string>

namespace jmedia::edge {

using prometheus::MetricType;

EdgeMetrics::EdgeMetrics() {
  durations_.reserve(kTransports * kVerbs);
  for (std::size_t i = 0; i < kTransports * kVerbs; ++i) {
    durations_.push_back(std::make_unique<metrics::Histogram>(metrics::latency_buckets()));
  }
}

std::vector<prometheus::MetricFamily> EdgeMetrics::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  auto connections = metrics::family("janus_edge_connections",
                                     "Client connections open now on janus.transport.edge "
                                     "(WebSocket connections; HTTP keep-alive connections).",
                                     MetricType::Gauge);
  auto opened =
      metrics::family("janus_edge_connections_total",
                      "Client connections accepted by janus.transport.edge.", MetricType::Counter);
  auto closed = metrics::family(
      "janus_edge_disconnections_total",
      "Client connections that ended, by reason: client (the client left), slow_consumer (its "
      "outgoing queue went over max_queued_messages or max_queued_bytes, or its oldest message "
      "waited send_timeout_ms; for HTTP the session's long-poll queue is dropped), "
      "message_too_big, rate_limited (over max_requests_per_s for abuse_window_s), "
      "pong_timeout, limit (max_connections or max_connections_per_ip).",
      MetricType::Counter);
  auto received =
      metrics::family("janus_edge_received_bytes_total",
                      "Bytes of Janus API messages received from clients.", MetricType::Counter);
  auto sent =
      metrics::family("janus_edge_sent_bytes_total",
                      "Bytes of Janus API messages written to clients.", MetricType::Counter);
  for (std::size_t t = 0; t < kTransports; ++t) {
    const std::string transport(kTransportNames[t]);
    metrics::add_gauge(connections, {{"transport", transport}},
                       static_cast<double>(connections_[t].load(std::memory_order_relaxed)));
    metrics::add_counter(opened, {{"transport", transport}},
                         static_cast<double>(connections_total_[t].value()));
    for (std::size_t r = 0; r < kDisconnectNames.size(); ++r) {
      metrics::add_counter(closed,
                           {{"transport", transport}, {"reason", std::string(kDisconnectNames[r])}},
                           static_cast<double>(disconnections_[t][r].value()));
    }
    metrics::add_counter(received, {{"transport", transport}},
                         static_cast<double>(received_[t].value()));
    metrics::add_counter(sent, {{"transport", transport}}, static_cast<double>(sent_[t].value()));
  }

  auto requests = metrics::family(
      "janus_edge_requests_total",
      "Janus API requests from clients, by request and by result: success, ack (the core's "
      "synchronous answer), error (an error answer, the core's or the edge's for a malformed "
      "request), refused (answered by the edge, never forwarded: over a bound).",
      MetricType::Counter);
  auto durations = metrics::family(
      "janus_edge_request_duration_seconds",
      "From a request's arrival at the edge to the core's synchronous answer (success, ack or "
      "error), by request.",
      MetricType::Histogram);
  for (std::size_t t = 0; t < kTransports; ++t) {
    const std::string transport(kTransportNames[t]);
    for (std::size_t v = 0; v < kVerbs; ++v) {
      const std::string verb(kVerbNames[v]);
      for (std::size_t r = 0; r < kResultNames.size(); ++r) {
        metrics::add_counter(
            requests,
            {{"transport", transport}, {"janus", verb}, {"result", std::string(kResultNames[r])}},
            static_cast<double>(requests_[t][v][r].value()));
      }
      metrics::add_histogram(durations, {{"transport", transport}, {"janus", verb}},
                             *durations_[t * kVerbs + v]);
    }
  }

  auto refused = metrics::family(
      "janus_edge_refused_total",
      "Requests the edge answered itself instead of forwarding them to the core, by reason: "
      "rate_limited (over max_requests_per_s / request_burst), message_too_big (over "
      "max_message_bytes), too_many_candidates (would take a handle over max_ice_candidates), "
      "connection_limit (a connection over max_connections / max_connections_per_ip), invalid "
      "(not one JSON object, or no such path), hold_full (to be held behind a negotiating "
      "handle, over max_held_per_handle or max_held_requests).",
      MetricType::Counter);
  for (std::size_t r = 0; r < kRefusalNames.size(); ++r) {
    metrics::add_counter(refused, {{"reason", std::string(kRefusalNames[r])}},
                         static_cast<double>(refused_[r].value()));
  }
  auto queued = metrics::family(
      "janus_edge_queued_bytes",
      "Bytes of messages waiting in the edge's outgoing queues, summed over every connection and "
      "HTTP session.",
      MetricType::Gauge);
  metrics::add_gauge(queued, {},
                     static_cast<double>(queued_bytes_.load(std::memory_order_relaxed)));

  auto held = metrics::family(
      "janus_edge_held_requests_total",
      "Requests the edge held before forwarding them, by request: a hangup or detach sent while "
      "its handle's PeerConnection was between its offer/answer and its first selected pair "
      "(Janus 1.1.2 loses those, and never frees the handle), and what the client sent on that "
      "handle after it (a session's destroy behind its held handles).",
      MetricType::Counter);
  for (std::size_t v = 0; v < kVerbs; ++v) {
    metrics::add_counter(held, {{"janus", std::string(kVerbNames[v])}},
                         static_cast<double>(held_[v].value()));
  }
  auto hold_timeouts = metrics::family(
      "janus_edge_hold_timeouts_total",
      "Handles whose held requests were forwarded after hold_timeout_ms, before the handle's "
      "PeerConnection reported its first selected pair, ICE failure or end.",
      MetricType::Counter);
  metrics::add_counter(hold_timeouts, {}, static_cast<double>(hold_timeouts_.value()));
  auto held_now = metrics::family(
      "janus_edge_held_requests",
      "Requests held by the edge now (see janus_edge_held_requests_total).", MetricType::Gauge);
  metrics::add_gauge(held_now, {}, static_cast<double>(held_now_.load(std::memory_order_relaxed)));

  out.push_back(std::move(connections));
  out.push_back(std::move(opened));
  out.push_back(std::move(closed));
  out.push_back(std::move(requests));
  out.push_back(std::move(durations));
  out.push_back(std::move(refused));
  out.push_back(std::move(queued));
  out.push_back(std::move(held));
  out.push_back(std::move(hold_timeouts));
  out.push_back(std::move(held_now));
  out.push_back(std::move(received));
  out.push_back(std::move(sent));
  return out;
}

}  // namespace jmedia::edge
