// The exception barrier for every function that Janus calls. A C++ exception that unwound
// into the (C) core would abort the whole gateway, so each callback runs its body here:
// exceptions are logged and the callback returns a safe fallback instead.
#pragma once

#include <exception>
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

}  // namespace jmedia
