// janus.transport.prometheus settings (conf/janus.transport.prometheus.jcfg documents each one).
#pragma once

#include <cstddef>
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
  // The listener: libmicrohttpd's threads for every path (0 = one per core) and connections.
  std::uint32_t api_threads = 0;
  std::uint32_t connection_limit = 256;
  // The session REST API (media_api.h): whether to serve it, and its bearer tokens ("" = none:
  // then only loopback clients are served).
  bool api = true;
  std::string api_token;
  std::string api_admin_token;
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
inline constexpr std::uint32_t kMaxApiThreads = 64;
inline constexpr std::uint32_t kMaxConnectionLimit = 65536;
// A token shorter than this is accepted with a warning (guessable).
inline constexpr std::size_t kShortTokenLength = 16;

// api_threads as configured, or the machine's cores for 0.
unsigned listener_threads(const TransportConfig& config);

// Reads general.* from values; every bad value is logged and replaced by its default.
TransportConfig load_transport_config(ConfigValues& values);

}  // namespace jmedia::transport
