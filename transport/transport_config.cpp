#include "transport_config.h"

#include <arpa/inet.h>

#include "../common/log.h"

namespace jmedia::transport {
namespace {

bool is_numeric_ip(const std::string& text) {
  unsigned char buffer[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

void fail(TransportConfig& config, std::string line) {
  log_error("%s", line.c_str());
  config.fatal.push_back(std::move(line));
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

  for (const auto& key : values.unread_keys()) {
    log_warn("config: unknown setting '%s' ignored", key.c_str());
  }
  log_info("config: enabled=%s listen=%s port=%u auth=%s", config.enabled ? "true" : "false",
           config.ip.c_str(), static_cast<unsigned>(config.port), describe(config.auth).c_str());
  return config;
}

}  // namespace jmedia::transport
