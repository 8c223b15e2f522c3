#include "shutdown_guard.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "../common/abi_guard.h"

namespace jmedia {
namespace {

// Written by the signal handler (async-signal-safe), read by the guard's thread.
int wake_pipe[2] = {-1, -1};
std::atomic<int> signals_seen{0};
struct sigaction janus_term {};
struct sigaction janus_int {};

void forward_to_janus(int signal) {
  const struct sigaction& previous = signal == SIGINT ? janus_int : janus_term;
  if (previous.sa_handler != SIG_IGN && previous.sa_handler != SIG_DFL &&
      previous.sa_handler != nullptr) {
    previous.sa_handler(signal);
  } else if (previous.sa_handler == SIG_DFL) {
    ::signal(signal, SIG_DFL);
    ::raise(signal);
  }
}

}  // namespace

void ShutdownGuard::on_signal(int signal) {
  // Only async-signal-safe calls here.
  if (signals_seen.fetch_add(1) > 0) {
    forward_to_janus(signal);  // impatient: a second signal stops Janus right away
    return;
  }
  const auto byte = static_cast<unsigned char>(signal);
  const int saved_errno = errno;
  (void)!::write(wake_pipe[1], &byte, 1);
  errno = saved_errno;
}

bool ShutdownGuard::install(GracefulStop stop) {
  if (installed_) return true;
  if (::pipe2(wake_pipe, O_CLOEXEC) != 0) {
    log_warn("shutdown: no pipe (%d): SIGTERM stops Janus without a graceful phase", errno);
    return false;
  }
  stop_ = std::move(stop);
  signals_seen = 0;
  struct sigaction ours {};
  ours.sa_handler = &ShutdownGuard::on_signal;
  sigemptyset(&ours.sa_mask);
  ours.sa_flags = SA_RESTART;
  ::sigaction(SIGTERM, &ours, &previous_term_);
  ::sigaction(SIGINT, &ours, &previous_int_);
  janus_term = previous_term_;
  janus_int = previous_int_;
  installed_ = true;
  thread_ = guarded_thread("shutdown guard", "jm-shutdown", [this] { run(); });
  return true;
}

void ShutdownGuard::run() {
  unsigned char byte = 0;
  for (;;) {
    const ssize_t n = ::read(wake_pipe[0], &byte, 1);
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  if (byte == 0) return;  // uninstall() closed the pipe: no signal came
  const int signal = byte;
  log_info("shutdown: signal %d: stopping media sessions before Janus stops", signal);
  // A failed graceful stop is logged; Janus gets the signal either way.
  guarded_void("shutdown: graceful stop", [this, signal] { stop_(signal); });
  forward_to_janus(signal);
}

void ShutdownGuard::uninstall() {
  if (!installed_) return;
  installed_ = false;
  ::sigaction(SIGTERM, &previous_term_, nullptr);
  ::sigaction(SIGINT, &previous_int_, nullptr);
  ::close(wake_pipe[1]);  // wakes the thread with EOF if no signal came
  if (thread_.joinable()) {
    if (thread_.get_id() == std::this_thread::get_id()) {
      thread_.detach();  // destroy() reached from the graceful stop itself: cannot join
    } else {
      thread_.join();
    }
  }
  ::close(wake_pipe[0]);
  wake_pipe[0] = wake_pipe[1] = -1;
}

}  // namespace jmedia
