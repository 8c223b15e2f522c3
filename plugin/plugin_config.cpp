#include "plugin_config.h"

#include "../common/log.h"

namespace jmedia {
namespace {

std::size_t read_size(ConfigValues& values, const char* key, std::size_t fallback, std::int64_t min,
                      std::int64_t max) {
  return static_cast<std::size_t>(
      values.integer(key, static_cast<std::int64_t>(fallback), min, max));
}

}  // namespace

PluginConfig load_plugin_config(ConfigValues& values) {
  PluginConfig config;
  config.shards = read_size(values, "general.shards", config.shards, 1, 4096);
  config.max_sessions = read_size(values, "general.max_sessions", config.max_sessions, 1, 10000000);
  config.max_viewers_per_device =
      read_size(values, "general.max_viewers_per_device", config.max_viewers_per_device, 1, 100000);
  config.queue_size = read_size(values, "general.queue_size", config.queue_size, 1, 1000000);
  config.worker_threads = read_size(values, "general.worker_threads", config.worker_threads, 1, 64);
  config.shutdown_timeout_s =
      read_size(values, "general.shutdown_timeout", config.shutdown_timeout_s, 1, 600);
  config.negotiation_timeout_s =
      read_size(values, "general.negotiation_timeout", config.negotiation_timeout_s, 0, 86400);
  config.max_device_series =
      read_size(values, "general.max_device_series", config.max_device_series, 0, 1000);
  AccessConfigResult access = load_access_config(values);
  config.access = std::move(access.config);
  config.access_error = std::move(access.error);
  cluster::ClusterConfigResult cluster = cluster::load_cluster_config(values);
  config.cluster = std::move(cluster.config);
  config.cluster_error = std::move(cluster.error);
  for (const auto& key : values.unread_keys()) {
    log_warn("config: unknown setting '%s' ignored", key.c_str());
  }
  log_info(
      "config: shards=%zu max_sessions=%zu max_viewers_per_device=%zu queue_size=%zu "
      "worker_threads=%zu shutdown_timeout=%zus negotiation_timeout=%zus%s max_device_series=%zu",
      config.shards, config.max_sessions, config.max_viewers_per_device, config.queue_size,
      config.worker_threads, config.shutdown_timeout_s, config.negotiation_timeout_s,
      config.negotiation_timeout_s == 0 ? " (off)" : "", config.max_device_series);
  return config;
}

}  // namespace jmedia
