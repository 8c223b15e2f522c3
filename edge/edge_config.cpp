#include "edge_config.h"

#include <cinttypes>

#include "../common/log.h"
#include "mhd_server.h"

namespace jmedia::edge {
namespace {

void read_listener(ConfigValues& values, const std::string& section, Listener& listener) {
  listener.enabled = values.boolean(section + ".enabled", listener.enabled);
  const std::string ip = values.text(section + ".ip", listener.ip);
  if (transport::is_numeric_ip(ip)) {
    listener.ip = ip;
  } else {
    log_warn(
        "config: invalid value '%s' for '%s.ip' (expected a numeric IPv4 or IPv6 address); "
        "using default %s",
        ip.c_str(), section.c_str(), listener.ip.c_str());
  }
  listener.port =
      static_cast<std::uint16_t>(values.integer(section + ".port", listener.port, 1, 65535));
}

template <typename T>
T bounded(ConfigValues& values, const char* key, T fallback, std::int64_t min, std::int64_t max) {
  return static_cast<T>(values.integer(key, static_cast<std::int64_t>(fallback), min, max));
}

}  // namespace

EdgeConfig load_edge_config(ConfigValues& values) {
  EdgeConfig config;
  config.enabled = values.boolean("general.enabled", config.enabled);
  read_listener(values, "ws", config.ws);
  read_listener(values, "http", config.http);
  const std::string base = values.text("http.base_path", config.http_base_path);
  if (base.size() >= 2 && base.front() == '/' && base.back() != '/' &&
      base.find_first_of("?#% ") == std::string::npos) {
    config.http_base_path = base;
  } else {
    log_warn(
        "config: invalid value '%s' for 'http.base_path' (expected a path such as /janus: "
        "a leading '/', no trailing '/'); using default %s",
        base.c_str(), config.http_base_path.c_str());
  }
  config.allow_origin = values.text("http.allow_origin", config.allow_origin);

  config.max_queued_messages = bounded(values, "limits.max_queued_messages",
                                       config.max_queued_messages, 1, kMaxQueuedMessagesLimit);
  config.max_queued_bytes = bounded(values, "limits.max_queued_bytes", config.max_queued_bytes,
                                    1024, static_cast<std::int64_t>(kMaxQueuedBytesLimit));
  config.send_timeout_ms =
      bounded(values, "limits.send_timeout_ms", config.send_timeout_ms, 10, 3600000);
  config.max_message_bytes = bounded(values, "limits.max_message_bytes", config.max_message_bytes,
                                     1024, static_cast<std::int64_t>(kMaxMessageBytesLimit));
  config.max_requests_per_s =
      bounded(values, "limits.max_requests_per_s", config.max_requests_per_s, 1, kMaxRateLimit);
  config.request_burst =
      bounded(values, "limits.request_burst", config.request_burst, 1, kMaxRateLimit);
  config.abuse_window_s = bounded(values, "limits.abuse_window_s", config.abuse_window_s, 1, 3600);
  config.max_connections =
      bounded(values, "limits.max_connections", config.max_connections, 1, 1000000);
  config.max_connections_per_ip =
      bounded(values, "limits.max_connections_per_ip", config.max_connections_per_ip, 1, 1000000);
  config.handshake_timeout_s =
      bounded(values, "limits.handshake_timeout_s", config.handshake_timeout_s, 1, 300);
  config.max_pending_handshakes =
      bounded(values, "limits.max_pending_handshakes", config.max_pending_handshakes, 1, 65535);
  config.ping_interval_s =
      bounded(values, "limits.ping_interval_s", config.ping_interval_s, 0, 3600);
  config.pong_timeout_s = bounded(values, "limits.pong_timeout_s", config.pong_timeout_s, 1, 3600);
  config.longpoll_timeout_s =
      bounded(values, "limits.longpoll_timeout_s", config.longpoll_timeout_s, 1, 300);
  config.request_timeout_s =
      bounded(values, "limits.request_timeout_s", config.request_timeout_s, 1, 300);

  config.hold_timeout_ms =
      bounded(values, "limits.hold_timeout_ms", config.hold_timeout_ms, 0, 30000);
  config.max_held_per_handle =
      bounded(values, "limits.max_held_per_handle", config.max_held_per_handle, 1, 10000);
  config.max_held_requests =
      bounded(values, "limits.max_held_requests", config.max_held_requests, 1, 1000000);
  if (config.hold_timeout_ms != 0 && config.hold_timeout_ms >= config.request_timeout_s * 1000) {
    const std::uint32_t fixed = config.request_timeout_s * 1000 / 2;
    log_warn(
        "config: 'limits.hold_timeout_ms' (%u) is not below 'limits.request_timeout_s' (%u s): "
        "an HTTP request held that long would time out first; using %u",
        config.hold_timeout_ms, config.request_timeout_s, fixed);
    config.hold_timeout_ms = fixed;
  }
  if (config.max_held_per_handle > config.max_held_requests) {
    log_warn(
        "config: 'limits.max_held_per_handle' (%u) is above 'limits.max_held_requests' (%u); "
        "using %u",
        config.max_held_per_handle, config.max_held_requests, config.max_held_requests);
    config.max_held_per_handle = config.max_held_requests;
  }
  if (config.request_burst < config.max_requests_per_s) {
    log_warn(
        "config: 'limits.request_burst' (%u) is below 'limits.max_requests_per_s' (%u): a client "
        "can never send a whole second's worth at once; using %u",
        config.request_burst, config.max_requests_per_s, config.max_requests_per_s);
    config.request_burst = config.max_requests_per_s;
  }
  if (config.max_connections_per_ip > config.max_connections) {
    log_warn(
        "config: 'limits.max_connections_per_ip' (%u) is above 'limits.max_connections' (%u); "
        "using %u",
        config.max_connections_per_ip, config.max_connections, config.max_connections);
    config.max_connections_per_ip = config.max_connections;
  }
  if (config.enabled && !config.ws.enabled && !config.http.enabled) {
    const std::string line =
        "config: 'ws.enabled' and 'http.enabled' are both false: nothing to serve";
    log_error("%s", line.c_str());
    config.fatal.push_back(line);
  }
  if (config.ws.enabled && config.http.enabled && config.ws.port == config.http.port &&
      config.ws.ip == config.http.ip) {
    const std::string line = "config: 'ws.port' and 'http.port' are the same (" +
                             std::to_string(config.ws.port) + ") on the same address";
    log_error("%s", line.c_str());
    config.fatal.push_back(line);
  }

  for (const auto& key : values.unread_keys()) {
    log_warn("config: unknown setting '%s' ignored", key.c_str());
  }
  log_info(
      "config: enabled=%s ws=%s http=%s%s max_queued_messages=%u max_queued_bytes=%" PRIu64
      " send_timeout_ms=%u max_message_bytes=%" PRIu64
      " max_requests_per_s=%u request_burst=%u abuse_window_s=%u max_connections=%u "
      "max_connections_per_ip=%u handshake_timeout_s=%u max_pending_handshakes=%u "
      "ping_interval_s=%u pong_timeout_s=%u "
      "longpoll_timeout_s=%u request_timeout_s=%u hold_timeout_ms=%u max_held_per_handle=%u "
      "max_held_requests=%u",
      config.enabled ? "true" : "false",
      config.ws.enabled ? transport::endpoint(config.ws.ip, config.ws.port).c_str() : "off",
      config.http.enabled ? transport::endpoint(config.http.ip, config.http.port).c_str() : "off",
      config.http.enabled ? config.http_base_path.c_str() : "", config.max_queued_messages,
      config.max_queued_bytes, config.send_timeout_ms, config.max_message_bytes,
      config.max_requests_per_s, config.request_burst, config.abuse_window_s,
      config.max_connections, config.max_connections_per_ip, config.handshake_timeout_s,
      config.max_pending_handshakes, config.ping_interval_s, config.pong_timeout_s,
      config.longpoll_timeout_s, config.request_timeout_s, config.hold_timeout_ms,
      config.max_held_per_handle, config.max_held_requests);
  return config;
}

}  // namespace jmedia::edge
