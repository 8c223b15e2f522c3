#include "transport_config.h"

#include <algorithm>
#include <thread>

#include "../common/log.h"
#include "mhd_server.h"

namespace jmedia::transport {
namespace {

void fail(TransportConfig& config, std::string line) {
  log_error("%s", line.c_str());
  config.fatal.push_back(std::move(line));
}

// A bearer token as a client can send it: visible ASCII, no space (the header is trimmed).
void check_token(TransportConfig& config, const char* key, const std::string& token) {
  if (token.empty()) return;
  for (const char c : token) {
    if (c < 0x21 || c > 0x7e) {
      fail(config, std::string("config: 'general.") + key +
                       "' must be visible ASCII without spaces (no client could send it)");
      return;
    }
  }
  if (token.size() < kShortTokenLength) {
    log_warn("config: 'general.%s' is shorter than %zu characters: easy to guess", key,
             kShortTokenLength);
  }
}

}  // namespace

TransportConfig load_transport_config(ConfigValues& values) {
  TransportConfig config;
  config.enabled = values.boolean("general.enabled", config.enabled);

  const std::string ip = values.text("general.ip", config.ip);
  if (is_numeric_ip(ip)) {
    config.ip = ip;
  } else {
    log_warn(
        "config: invalid value '%s' for 'general.ip' (expected a numeric IPv4 or IPv6 "
        "address); using default %s",
        ip.c_str(), config.ip.c_str());
  }
  config.port = static_cast<std::uint16_t>(values.integer("general.port", config.port, 1, 65535));

  config.auth.bearer_token = values.text("general.bearer_token", "");
  config.auth.basic_user = values.text("general.basic_user", "");
  config.auth.basic_password = values.text("general.basic_password", "");
  const bool has_user = !config.auth.basic_user.empty();
  const bool has_password = !config.auth.basic_password.empty();
  if (has_user != has_password) {
    fail(config, std::string("config: 'general.") + (has_user ? "basic_user" : "basic_password") +
                     "' is set but 'general." + (has_user ? "basic_password" : "basic_user") +
                     "' is not; set both for basic auth or neither");
  }
  if (config.auth.basic_user.find(':') != std::string::npos) {
    fail(config, "config: 'general.basic_user' must not contain ':' (RFC 7617)");
  }

  config.api_threads = static_cast<std::uint32_t>(
      values.integer("general.api_threads", config.api_threads, 0, kMaxApiThreads));
  config.connection_limit = static_cast<std::uint32_t>(
      values.integer("general.connection_limit", config.connection_limit, 1, kMaxConnectionLimit));
  config.api = values.boolean("general.api", config.api);
  config.api_token = values.text("general.api_token", "");
  config.api_admin_token = values.text("general.api_admin_token", "");
  check_token(config, "api_token", config.api_token);
  check_token(config, "api_admin_token", config.api_admin_token);
  if (!config.api_token.empty() && config.api_token == config.api_admin_token) {
    fail(config,
         "config: 'general.api_token' and 'general.api_admin_token' are the same: a reader could "
         "kick and drain (api_admin_token alone lets reads in too)");
  }

  config.candidate_cap = values.boolean("general.candidate_cap", config.candidate_cap);
  config.pending_trickles_check_ms = static_cast<std::uint32_t>(
      values.integer("general.pending_trickles_check_ms", config.pending_trickles_check_ms, 0,
                     kMaxPendingTricklesCheckMs));
  if (config.pending_trickles_check_ms > 0 &&
      config.pending_trickles_check_ms < kMinPendingTricklesCheckMs) {
    log_warn(
        "config: invalid value '%u' for 'general.pending_trickles_check_ms' (expected 0 or "
        "an integer from %u to %u); using %u",
        config.pending_trickles_check_ms, kMinPendingTricklesCheckMs, kMaxPendingTricklesCheckMs,
        kMinPendingTricklesCheckMs);
    config.pending_trickles_check_ms = kMinPendingTricklesCheckMs;
  }
  config.pending_trickles_checks_per_round = static_cast<std::uint32_t>(
      values.integer("general.pending_trickles_checks_per_round",
                     config.pending_trickles_checks_per_round, 1, kMaxChecksPerRound));

  config.pending_trickles_sweep_mb = static_cast<std::uint32_t>(values.integer(
      "general.pending_trickles_sweep_mb", config.pending_trickles_sweep_mb, 0, kMaxSweepMb));

  for (const auto& key : values.unread_keys()) {
    log_warn("config: unknown setting '%s' ignored", key.c_str());
  }
  log_info(
      "config: enabled=%s listen=%s port=%u auth=%s api_threads=%u connection_limit=%u api=%s "
      "api_token=%s api_admin_token=%s candidate_cap=%s "
      "pending_trickles_check_ms=%u pending_trickles_checks_per_round=%u "
      "pending_trickles_sweep_mb=%u",
      config.enabled ? "true" : "false", config.ip.c_str(), static_cast<unsigned>(config.port),
      describe(config.auth).c_str(), config.api_threads, config.connection_limit,
      config.api ? "true" : "false", config.api_token.empty() ? "none" : "set",
      config.api_admin_token.empty() ? "none" : "set", config.candidate_cap ? "true" : "false",
      config.pending_trickles_check_ms, config.pending_trickles_checks_per_round,
      config.pending_trickles_sweep_mb);
  return config;
}

unsigned listener_threads(const TransportConfig& config) {
  if (config.api_threads != 0) return config.api_threads;
  const unsigned cores = std::thread::hardware_concurrency();
  return std::clamp(cores, 1u, kMaxApiThreads);
}

}  // namespace jmedia::transport
