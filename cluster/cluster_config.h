// The cluster.* section of janus.plugin.media.jcfg (conf/janus.plugin.media.jcfg documents each
// key). Without cluster.redis the plugin is a single node. With it, a node that cannot take part
// safely (no valid node_id or secret, a bad endpoint) is an error that makes init fail: a node
// running alone would accept publishes the cluster holds elsewhere (README, "Scale-out").
#pragma once

#include <cstdint>
#include <string>

#include "../common/config_values.h"

namespace jmedia::cluster {

// Where Redis listens: host:port, or a unix socket path (starts with '/').
struct Endpoint {
  std::string host;  // TCP host, or the socket path when unix
  int port = 0;      // 0 for a unix socket
  bool unix_socket() const { return port == 0; }
  std::string text() const;
};
// Parses "host:port" (port 1-65535; "[v6]:port" too) or "/path"; false for anything else.
bool parse_endpoint(const std::string& text, Endpoint& out);

// node_id: 1-64 of [A-Za-z0-9._-] (it is part of Redis keys and of replies).
bool valid_node_id(const std::string& id);

inline constexpr std::size_t kMinSecretBytes = 32;

struct ClusterConfig {
  bool enabled = false;  // cluster.redis is set
  Endpoint redis;
  std::string redis_password;  // AUTH when non-empty
  std::string node_id;
  std::string api_url;  // advertised in this node's record when set (informative)
  // For the relays between nodes (cluster/relay_*): where this node's relay sockets bind and
  // what the other nodes send to.
  std::string advertise_host;
  int relay_port_min = 0;
  int relay_port_max = 0;
  std::string secret;  // shared by every node, at least kMinSecretBytes
  // TEST ONLY: the share of relay packets the sending socket drops (RelaySocketOptions), so
  // that tests can show loss repaired. 0 in production.
  int test_relay_drop_percent = 0;
  std::int64_t heartbeat_ms = 1000;
  std::int64_t node_ttl_ms = 5000;
  // How long this node keeps a relay from another node after its last viewer here left (a
  // viewer coming back meanwhile reuses it): 0-3600.
  std::int64_t relay_linger_s = 10;
};

struct ClusterConfigResult {
  ClusterConfig config;
  std::string error;  // non-empty: the cluster part cannot start (init fails; never single-node)
};

// Reads every cluster.* key (so none is reported as unknown) and validates them; logs the
// outcome (never the password or the secret).
ClusterConfigResult load_cluster_config(ConfigValues& values);

}  // namespace jmedia::cluster
