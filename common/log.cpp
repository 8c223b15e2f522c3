#include "log.h"

#include <atomic>
#include <cstdio>

namespace jmedia {
namespace {

// Without Janus (unit tests, tools): warnings and errors only.
void stderr_sink(LogLevel level, const char* message) {
  if (level > LogLevel::kWarn) return;
  std::fprintf(stderr, "[jmedia %d] %s\n", static_cast<int>(level), message);
}

std::atomic<LogSink> current_sink{&stderr_sink};

}  // namespace

void set_log_sink(LogSink sink) noexcept {
  current_sink.store(sink ? sink : &stderr_sink);
}

void vlog(LogLevel level, const char* format, std::va_list args) noexcept {
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
