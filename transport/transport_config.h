// janus.transport.prometheus settings (conf/janus.transport.prometheus.jcfg documents each one).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "../common/config_values.h"
#include "auth.h"

namespace jmedia::transport {

struct TransportConfig {
  bool enabled = true;
  std::string ip = "127.0.0.1";  // numeric IPv4 or IPv6 address to listen on
  std::uint16_t port = 30006;
  AuthConfig auth;  // no credentials configured: no authentication
  // Settings that make starting unsafe (an incomplete credential pair): the transport refuses
  // to start rather than serve without the protection the operator asked for. Already logged.
  std::vector<std::string> fatal;
};

// Reads general.* from values; every bad value is logged and replaced by its default.
TransportConfig load_transport_config(ConfigValues& values);

}  // namespace jmedia::transport
