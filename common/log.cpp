#include "log.h"

#include <atomic>
#include <cstdio>

namespace jmedia {
namespace {

// Without Janus (unit tests, tools): warnings and errors only.
void stderr_sink(LogLevel level, const char* message) {
  std::fprintf(stderr, "[jmedia %d] %s\n", static_cast<int>(level), message);
}
LogLevel stderr_level() {
  return LogLevel::kWarn;
}
LogLevel every_level() {
  return LogLevel::kHuge;
}

// Two words, set once at init: a message racing a registration may meet the old level.
std::atomic<LogSink> current_sink{&stderr_sink};
std::atomic<LogLevelSource> current_level{&stderr_level};

}  // namespace

void set_log_sink(LogSink sink, LogLevelSource level) noexcept {
  current_level.store(sink ? (level ? level : &every_level) : &stderr_level);
  current_sink.store(sink ? sink : &stderr_sink);
}

void vlog(LogLevel level, const char* format, std::va_list args) noexcept {
  if (level > current_level.load()()) return;
  char message[1024];
  std::vsnprintf(message, sizeof message, format, args);
  current_sink.load()(level, message);
}

void log(LogLevel level, const char* format, ...) noexcept {
  std::va_list args;
  va_start(args, format);
  vlog(level, format, args);
  va_end(args);
}

}  // namespace jmedia
