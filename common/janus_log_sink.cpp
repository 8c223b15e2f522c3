#include "janus_log_sink.h"

#include <atomic>

#include "janus_api.h"
#include "log.h"

namespace jmedia {
namespace {

std::atomic<const char*> module_name{"jmedia"};

void janus_sink(LogLevel level, const char* message) {
  // Janus's own macro: its timestamps, colours and [ERR]/[WARN] tags.
  const int numeric = static_cast<int>(level);
  JANUS_LOG(numeric, "[%s] %s\n", module_name.load(), message);
}

// Janus's global debug level (-d, or the admin API's set_log_level), read on every message.
LogLevel janus_level() {
  return static_cast<LogLevel>(janus_log_level);
}

}  // namespace

void use_janus_log(const char* module) noexcept {
  module_name.store(module);
  set_log_sink(&janus_sink, &janus_level);
}

}  // namespace jmedia
