// Logging that does not depend on the Janus executable, so that unit tests link without it.
// Modules install a sink that forwards to Janus's logger (see janus_log_sink.h); the default
// sink writes to stderr.
#pragma once

#include <cstdarg>

namespace jmedia {

// Same numbering as Janus's LOG_FATAL..LOG_HUGE.
enum class LogLevel : int { kFatal = 1, kError = 2, kWarn = 3, kInfo = 4, kVerbose = 5, kHuge = 6 };

using LogSink = void (*)(LogLevel level, const char* message);
// The most detailed level the sink shows now; asked on every call (Janus's level can change
// while it runs).
using LogLevelSource = LogLevel (*)();

// Replaces the sink; nullptr restores the stderr sink (errors and warnings). A message above
// level() is dropped before it is formatted (logging runs on Janus's request and media
// threads); no level source passes every message to the sink. Set once at module init.
void set_log_sink(LogSink sink, LogLevelSource level = nullptr) noexcept;

void log(LogLevel level, const char* format, ...) noexcept __attribute__((format(printf, 2, 3)));
void vlog(LogLevel level, const char* format, std::va_list args) noexcept;

#define JMEDIA_LOG_FN(name, level)                                                          \
  inline void name(const char* format, ...) noexcept __attribute__((format(printf, 1, 2))); \
  inline void name(const char* format, ...) noexcept {                                      \
    std::va_list args;                                                                      \
    va_start(args, format);                                                                 \
    vlog(level, format, args);                                                              \
    va_end(args);                                                                           \
  }
JMEDIA_LOG_FN(log_error, LogLevel::kError)
JMEDIA_LOG_FN(log_warn, LogLevel::kWarn)
JMEDIA_LOG_FN(log_info, LogLevel::kInfo)
JMEDIA_LOG_FN(log_verbose, LogLevel::kVerbose)
#undef JMEDIA_LOG_FN

}  // namespace jmedia
