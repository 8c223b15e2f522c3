// The edge's metrics (janus_edge_*), served from the process registry of libjmedia_runtime by
// janus.transport.prometheus. Every label set is closed and known at start; the counters are
// striped atomics (common/metrics.h) summed at scrape time, so the request path adds to one
// cache line of its own and takes no lock.
#pragma once

#include <prometheus/collectable.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "../common/metrics.h"
#include "janus_request.h"

namespace jmedia::edge {

enum class Transport : std::uint8_t { kWebSocket = 0, kHttp = 1 };
inline constexpr std::array<std::string_view, 2> kTransportNames = {"websocket", "http"};

// The core's synchronous answer to a forwarded request, or the edge's refusal.
enum class Result : std::uint8_t { kSuccess = 0, kAck, kError, kRefused };
inline constexpr std::array<std::string_view, 4> kResultNames = {"success", "ack", "error",
                                                                 "refused"};

// Why a connection ended (janus_edge_disconnections_total{reason}); for HTTP, why a session's
// long-poll queue was dropped or a connection closed by the edge.
enum class Disconnect : std::uint8_t {
  kClient = 0,
  kSlowConsumer,
  kMessageTooBig,
  kRateLimited,
  kPongTimeout,
  kLimit,
};
inline constexpr std::array<std::string_view, 6> kDisconnectNames = {
    "client", "slow_consumer", "message_too_big", "rate_limited", "pong_timeout", "limit"};

// Why the edge answered a request itself instead of forwarding it.
enum class Refusal : std::uint8_t {
  kRateLimited = 0,
  kMessageTooBig,
  kTooManyCandidates,
  kConnectionLimit,
  kInvalid,   // not one JSON object, or a path the API does not have
  kHoldFull,  // held behind a negotiating handle, over max_held_per_handle / max_held_requests
};
inline constexpr std::array<std::string_view, 6> kRefusalNames = {
    "rate_limited",     "message_too_big", "too_many_candidates",
    "connection_limit", "invalid",         "hold_full"};

class EdgeMetrics final : public prometheus::Collectable {
 public:
  EdgeMetrics();

  void connection_opened(Transport t) {
    connections_[index(t)].fetch_add(1, std::memory_order_relaxed);
    connections_total_[index(t)].add();
  }
  void connection_closed(Transport t, Disconnect reason) {
    connections_[index(t)].fetch_sub(1, std::memory_order_relaxed);
    disconnections_[index(t)][static_cast<std::size_t>(reason)].add();
  }
  // A disconnection-like end that is not a connection's: an HTTP session dropped.
  void dropped(Transport t, Disconnect reason) {
    disconnections_[index(t)][static_cast<std::size_t>(reason)].add();
  }
  void request(Transport t, Verb verb, Result result) {
    requests_[index(t)][static_cast<std::size_t>(verb)][static_cast<std::size_t>(result)].add();
  }
  void duration(Transport t, Verb verb, double seconds) {
    durations_[index(t) * kVerbs + static_cast<std::size_t>(verb)]->observe(seconds);
  }
  void refused(Refusal reason) { refused_[static_cast<std::size_t>(reason)].add(); }
  // A request held while its handle's PeerConnection negotiated (hold_queue.h); one that was
  // forwarded at the timeout rather than once the handle settled.
  void held(Verb verb) { held_[static_cast<std::size_t>(verb)].add(); }
  void hold_timeout() { hold_timeouts_.add(); }
  std::atomic<std::int64_t>& held_now() { return held_now_; }
  void received(Transport t, std::uint64_t bytes) { received_[index(t)].add(bytes); }
  void sent(Transport t, std::uint64_t bytes) { sent_[index(t)].add(bytes); }
  std::atomic<std::int64_t>& queued_bytes() { return queued_bytes_; }

  std::vector<prometheus::MetricFamily> Collect() const override;

  // Tests and query_transport.
  std::uint64_t requests(Transport t, Verb verb, Result result) const {
    return requests_[index(t)][static_cast<std::size_t>(verb)][static_cast<std::size_t>(result)]
        .value();
  }
  std::uint64_t refusals(Refusal reason) const {
    return refused_[static_cast<std::size_t>(reason)].value();
  }
  std::uint64_t held_requests(Verb verb) const {
    return held_[static_cast<std::size_t>(verb)].value();
  }
  std::uint64_t disconnections(Transport t, Disconnect reason) const {
    return disconnections_[index(t)][static_cast<std::size_t>(reason)].value();
  }
  std::int64_t connections(Transport t) const {
    return connections_[index(t)].load(std::memory_order_relaxed);
  }

 private:
  static std::size_t index(Transport t) { return static_cast<std::size_t>(t); }
  static constexpr std::size_t kTransports = kTransportNames.size();

  std::array<std::atomic<std::int64_t>, kTransports> connections_{};
  std::array<metrics::Counter, kTransports> connections_total_;
  std::array<std::array<metrics::Counter, kDisconnectNames.size()>, kTransports> disconnections_;
  std::array<std::array<std::array<metrics::Counter, kResultNames.size()>, kVerbs>, kTransports>
      requests_;
  std::vector<std::unique_ptr<metrics::Histogram>> durations_;  // transport * kVerbs + verb
  std::array<metrics::Counter, kRefusalNames.size()> refused_;
  std::array<metrics::Counter, kTransports> received_;
  std::array<metrics::Counter, kTransports> sent_;
  std::atomic<std::int64_t> queued_bytes_{0};
  std::array<metrics::Counter, kVerbs> held_;
  metrics::Counter hold_timeouts_;
  std::atomic<std::int64_t> held_now_{0};
};

}  // namespace jmedia::edge
