// The exception barrier for every function that Janus calls and every thread we start. A C++
// exception that unwound into the (C) core, or out of a thread's body, would abort the whole
// gateway (std::terminate), so each callback and thread runs its body here: exceptions are
// logged and the callback returns a safe fallback instead.
#pragma once

#include <exception>
#include <thread>
#include <type_traits>
#include <utility>

#include "log.h"

namespace jmedia {

template <typename Fallback, typename Body>
auto guarded(const char* where, Fallback fallback, Body&& body) noexcept -> Fallback {
  try {
    return std::forward<Body>(body)();
  } catch (const std::exception& e) {
    log_error("%s: unexpected exception: %s", where, e.what());
  } catch (...) {
    log_error("%s: unexpected non-standard exception", where);
  }
  return fallback;
}

template <typename Body>
void guarded_void(const char* where, Body&& body) noexcept {
  try {
    std::forward<Body>(body)();
  } catch (const std::exception& e) {
    log_error("%s: unexpected exception: %s", where, e.what());
  } catch (...) {
    log_error("%s: unexpected non-standard exception", where);
  }
}

// Starts a thread whose body runs behind guarded_void: a throw is logged and ends the body. A
// loop that must go on after one failed pass guards each pass as well (guarded_void inside).
// Throws std::system_error, as std::thread does, when no thread can be started.
template <typename Body>
std::thread guarded_thread(const char* where, Body&& body) {
  return std::thread(
      [where, body = std::forward<Body>(body)]() mutable noexcept { guarded_void(where, body); });
}

}  // namespace jmedia
