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
  // The ICE-candidate cap (candidate_enforcer.h): whether to enforce what
  // janus.eventhandler.media counts, and the pending-trickles check.
  bool candidate_cap = true;
  std::uint32_t pending_trickles_check_ms = 1000;  // 0 = off
  std::uint32_t pending_trickles_checks_per_round = 500;
  std::uint32_t pending_trickles_sweep_mb = 16;  // memory growth that checks every handle; 0 off
  // Settings that make starting unsafe (an incomplete credential pair): the transport refuses
  // to start rather than serve without the protection the operator asked for. Already logged.
  std::vector<std::string> fatal;
};

inline constexpr std::uint32_t kMinPendingTricklesCheckMs = 50;
inline constexpr std::uint32_t kMaxPendingTricklesCheckMs = 3600000;
inline constexpr std::uint32_t kMaxChecksPerRound = 100000;
inline constexpr std::uint32_t kMaxSweepMb = 65536;

// Reads general.* from values; every bad value is logged and replaced by its default.
TransportConfig load_transport_config(ConfigValues& values);

}  // namespace jmedia::transport
