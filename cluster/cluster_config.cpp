#include "cluster_config.h"

#include <algorithm>
#include <cstdlib>

#include "../common/log.h"

namespace jmedia::cluster {
namespace {

bool parse_port(const std::string& text, int& port) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const long value = std::strtol(text.c_str(), nullptr, 10);
  if (value < 1 || value > 65535) return false;
  port = static_cast<int>(value);
  return true;
}

bool parse_port_range(const std::string& text, int& min, int& max) {
  const auto dash = text.find('-');
  if (dash == std::string::npos) return false;
  return parse_port(text.substr(0, dash), min) && parse_port(text.substr(dash + 1), max) &&
         min <= max;
}

bool valid_host(const std::string& host) {
  return !host.empty() && host.size() <= 253 && std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == ':';
  });
}

// config by reference: the reason is often built from it in the same call.
ClusterConfigResult failed(const ClusterConfig& config, std::string why) {
  log_error("config: cluster: %s: the cluster part cannot start", why.c_str());
  return ClusterConfigResult{config, std::move(why)};
}

}  // namespace

std::string Endpoint::text() const {
  if (unix_socket()) return host;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

bool parse_endpoint(const std::string& text, Endpoint& out) {
  if (text.empty()) return false;
  if (text.front() == '/') {
    if (text.size() > 107) return false;  // sockaddr_un.sun_path
    out = Endpoint{text, 0};
    return true;
  }
  std::string host;
  std::string port;
  if (text.front() == '[') {
    const auto close = text.find("]:");
    if (close == std::string::npos) return false;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) return false;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) return false;  // a bare IPv6 address: use [..]
  }
  Endpoint parsed;
  if (!valid_host(host) || !parse_port(port, parsed.port)) return false;
  parsed.host = std::move(host);
  out = std::move(parsed);
  return true;
}

bool valid_node_id(const std::string& id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

ClusterConfigResult load_cluster_config(ConfigValues& values) {
  ClusterConfig config;
  // Every key first, so that none is reported as unknown whatever is set.
  const std::string redis = values.text("cluster.redis", "");
  config.redis_password = values.text("cluster.redis_password", "");
  config.node_id = values.text("cluster.node_id", "");
  config.api_url = values.text("cluster.api_url", "");
  config.advertise_host = values.text("cluster.advertise_host", "");
  const std::string relay_ports = values.text("cluster.relay_ports", "");
  config.secret = values.text("cluster.secret", "");
  config.heartbeat_ms = values.integer("cluster.heartbeat_ms", config.heartbeat_ms, 50, 60000);
  config.node_ttl_ms = values.integer("cluster.node_ttl_ms", config.node_ttl_ms, 150, 600000);
  config.relay_linger_s = values.integer("cluster.relay_linger_s", config.relay_linger_s, 0, 3600);
  config.test_relay_drop_percent =
      static_cast<int>(values.integer("cluster.test_relay_drop_percent", 0, 0, 100));

  if (redis.empty()) {
    if (!config.node_id.empty() || !config.secret.empty()) {
      log_warn("config: cluster: node_id or secret set without cluster.redis: single node");
    }
    log_info("config: cluster: off (no cluster.redis): a single node");
    return ClusterConfigResult{std::move(config), ""};
  }
  config.enabled = true;
  if (!parse_endpoint(redis, config.redis)) {
    return failed(config, "cluster.redis '" + redis.substr(0, 120) +
                              "' is neither host:port nor a unix socket path");
  }
  if (!valid_node_id(config.node_id)) {
    return failed(config, config.node_id.empty()
                              ? std::string("cluster.node_id is not set")
                              : "cluster.node_id '" + config.node_id.substr(0, 80) +
                                    "' must be 1-64 of A-Z a-z 0-9 . _ -");
  }
  if (config.secret.size() < kMinSecretBytes) {
    return failed(config, config.secret.empty()
                              ? std::string("cluster.secret is not set")
                              : "cluster.secret has " + std::to_string(config.secret.size()) +
                                    " bytes; at least " + std::to_string(kMinSecretBytes) +
                                    " are needed");
  }
  if (!config.advertise_host.empty() && !valid_host(config.advertise_host)) {
    return failed(config, "cluster.advertise_host '" + config.advertise_host.substr(0, 80) +
                              "' is not a host name or address");
  }
  if (!relay_ports.empty() &&
      !parse_port_range(relay_ports, config.relay_port_min, config.relay_port_max)) {
    return failed(config, "cluster.relay_ports '" + relay_ports.substr(0, 40) +
                              "' must look like 21000-21999");
  }
  if (config.node_ttl_ms < 2 * config.heartbeat_ms) {
    return failed(config, "cluster.node_ttl_ms (" + std::to_string(config.node_ttl_ms) +
                              ") must be at least twice cluster.heartbeat_ms (" +
                              std::to_string(config.heartbeat_ms) +
                              "): a claim would expire between two refreshes");
  }
  if (config.test_relay_drop_percent != 0) {
    log_warn(
        "config: cluster: test_relay_drop_percent=%d: TEST ONLY, this node's relays drop "
        "that share of the packets they send",
        config.test_relay_drop_percent);
  }
  log_info(
      "config: cluster: node '%s', directory redis %s%s, heartbeat_ms=%lld node_ttl_ms=%lld, "
      "advertise_host=%s relay_ports=%s relay_linger_s=%lld",
      config.node_id.c_str(), config.redis.text().c_str(),
      config.redis_password.empty() ? "" : " (AUTH)", static_cast<long long>(config.heartbeat_ms),
      static_cast<long long>(config.node_ttl_ms),
      config.advertise_host.empty() ? "(unset)" : config.advertise_host.c_str(),
      relay_ports.empty() ? "(unset)" : relay_ports.c_str(),
      static_cast<long long>(config.relay_linger_s));
  return ClusterConfigResult{std::move(config), ""};
}

}  // namespace jmedia::cluster
