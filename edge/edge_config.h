// janus.transport.edge settings (conf/janus.transport.edge.jcfg documents each one).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "../common/config_values.h"

namespace jmedia::edge {

struct Listener {
  bool enabled = true;
  std::string ip = "127.0.0.1";  // numeric IPv4 or IPv6 address
  std::uint16_t port = 0;
};

struct EdgeConfig {
  bool enabled = true;
  Listener ws{.enabled = true, .ip = "127.0.0.1", .port = 8188};
  Listener http{.enabled = true, .ip = "127.0.0.1", .port = 8088};
  std::string http_base_path = "/janus";
  std::string allow_origin;  // CORS: empty answers "*", as Janus's HTTP transport does

  // Outgoing queue of a WebSocket connection / of an HTTP session's long polls.
  std::uint32_t max_queued_messages = 256;
  std::uint64_t max_queued_bytes = std::uint64_t{1} << 20;
  std::uint32_t send_timeout_ms = 1000;
  // One incoming WebSocket message or HTTP body.
  std::uint64_t max_message_bytes = 256 * 1024;
  // Requests per connection: a token bucket; abuse_window_s over it closes the connection.
  std::uint32_t max_requests_per_s = 100;
  std::uint32_t request_burst = 200;
  std::uint32_t abuse_window_s = 10;
  // Connections (WebSocket and HTTP together).
  std::uint32_t max_connections = 10000;
  std::uint32_t max_connections_per_ip = 100;
  std::uint32_t handshake_timeout_s = 10;
  // WebSocket handshakes in progress at once; beyond, connections wait in the listen backlog
  // (each handshake holds a header buffer until it is done).
  std::uint32_t max_pending_handshakes = 256;
  // WebSocket liveness: a ping every ping_interval_s (0: none), closed pong_timeout_s without
  // the pong.
  std::uint32_t ping_interval_s = 30;
  std::uint32_t pong_timeout_s = 10;
  // HTTP long polls: answered with a keepalive after longpoll_timeout_s without events, as
  // Janus's HTTP transport does after 30 s; a request the core has not answered in
  // request_timeout_s gets an error.
  std::uint32_t longpoll_timeout_s = 30;
  std::uint32_t request_timeout_s = 10;
  // A hangup or detach of a handle whose PeerConnection negotiates is held until its first
  // selected pair (hold_queue.h), at most hold_timeout_ms (0: never held); at most
  // max_held_per_handle requests per handle and max_held_requests in all.
  std::uint32_t hold_timeout_ms = 3000;
  std::uint32_t max_held_per_handle = 32;
  std::uint32_t max_held_requests = 4096;

  // Settings that make starting impossible (no listener at all). Already logged.
  std::vector<std::string> fatal;
};

inline constexpr std::uint32_t kMaxQueuedMessagesLimit = 1000000;
inline constexpr std::uint64_t kMaxQueuedBytesLimit = std::uint64_t{1} << 30;
inline constexpr std::uint64_t kMaxMessageBytesLimit = std::uint64_t{64} << 20;
inline constexpr std::uint32_t kMaxRateLimit = 1000000;

// Reads every section of values; every bad value is logged and replaced by its default, and
// one line with the values in force is logged at the end.
EdgeConfig load_edge_config(ConfigValues& values);

}  // namespace jmedia::edge
