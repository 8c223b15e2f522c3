#include "janus_log_sink.h"

#include <atomic>

#include "janus_api.h"
#include "log.h"

namespace jmedia {
namespace {

std::atomic<const char*> module_name{"jmedia"};

void janus_sink(LogLevel level, const char* message) {
  const int numeric = static_cast<int>(level);
  if (numeric > janus_log_level) return;
  const char* tag = numeric <= LOG_ERR ? "[ERR] " : numeric == LOG_WARN ? "[WARN] " : "";
  janus_vprintf("%s[%s] %s\n", tag, module_name.load(), message);
}

}  // namespace

void use_janus_log(const char* module) noexcept {
  module_name.store(module);
  set_log_sink(&janus_sink);
}

}  // namespace jmedia
