// janus.plugin.media settings (conf/janus.plugin.media.jcfg documents each one).
#pragma once

#include <cstddef>

#include "../cluster/cluster_config.h"
#include "../common/config_values.h"
#include "access_config.h"

namespace jmedia {

struct PluginConfig {
  std::size_t shards = 32;                   // table shards; 1 = single-lock baseline
  std::size_t max_sessions = 10000;          // media sessions with a role at once
  std::size_t max_viewers_per_device = 100;  // viewers of one device
  std::size_t queue_size = 256;              // async requests waiting or running
  std::size_t worker_threads = 2;            // threads that process async requests
  std::size_t shutdown_timeout_s = 30;       // graceful stop on SIGTERM/SIGINT, at most
  std::size_t negotiation_timeout_s = 60;    // a role without WebRTC up this long ends; 0 = off
  std::size_t max_device_series = 0;         // per-device metric series (0 = none)
  AccessConfig access;                       // access.*: open, or token with its key
  std::string access_error;                  // non-empty: token mode cannot start; init fails
  cluster::ClusterConfig cluster;            // cluster.*: enabled when cluster.redis is set
  std::string cluster_error;                 // non-empty: the cluster part cannot start; init fails
};

// Reads general.* and access.* from values; every bad general value is logged and replaced by
// its default. A token mode that cannot start sets access_error (never a fallback to open), a
// cluster that cannot start cluster_error (never a fallback to a single node).
PluginConfig load_plugin_config(ConfigValues& values);

}  // namespace jmedia
