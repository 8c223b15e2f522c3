#include "plugin_config.h"

#include "../common/log.h"

namespace jmedia {

PluginConfig load_plugin_config(ConfigValues& values) {
  PluginConfig config;
  config.shards = static_cast<std::size_t>(
      values.integer("general.shards", static_cast<std::int64_t>(config.shards), 1, 4096));
  config.max_sessions = static_cast<std::size_t>(values.integer(
      "general.max_sessions", static_cast<std::int64_t>(config.max_sessions), 1, 10000000));
  config.queue_size = static_cast<std::size_t>(values.integer(
      "general.queue_size", static_cast<std::int64_t>(config.queue_size), 1, 1000000));
  config.worker_threads = static_cast<std::size_t>(values.integer(
      "general.worker_threads", static_cast<std::int64_t>(config.worker_threads), 1, 64));
  for (const auto& key : values.unread_keys()) {
    log_warn("config: unknown setting '%s' ignored", key.c_str());
  }
  log_info("config: shards=%zu max_sessions=%zu queue_size=%zu worker_threads=%zu",
           config.shards, config.max_sessions, config.queue_size, config.worker_threads);
  return config;
}

}  // namespace jmedia
