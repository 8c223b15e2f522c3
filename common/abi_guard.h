// The exception barrier for every function that Janus calls and every thread we start. A C++
// exception that unwound into the (C) core, or out of a thread's body, would abort the whole
// gateway (std::terminate), so each callback and thread runs its body here: exceptions are
// logged and the callback returns a safe fallback instead.
#pragma once

#include <pthread.h>

#include <cstddef>
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
// name (at most 15 characters, the kernel's limit) is what top -H and /proc show for it, so
// that an operator can tell our threads from Janus's. Throws std::system_error, as std::thread
// does, when no thread can be started.
struct ThreadName {
  template <std::size_t N>
  constexpr ThreadName(const char (&literal)[N]) noexcept : value(literal) {  // NOLINT
    static_assert(N <= 16, "the kernel keeps 15 characters of a thread's name");
  }
  const char* value;
};

template <typename Body>
std::thread guarded_thread(const char* where, ThreadName name, Body&& body) {
  return std::thread([where, name, body = std::forward<Body>(body)]() mutable noexcept {
    pthread_setname_np(pthread_self(), name.value);
    guarded_void(where, body);
  });
}

}  // namespace jmedia
