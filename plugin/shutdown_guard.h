// Graceful stop on SIGTERM/SIGINT. Janus closes its transports first when it stops, so a
// plugin that waits for destroy() can no longer tell its clients anything. This guard sits
// in front of Janus's own signal handlers (installed before plugins load): the signal
// wakes a thread that runs the plugin's graceful stop (tell clients, close PeerConnections,
// bounded by shutdown_timeout) while the transports still work, then hands the signal to
// Janus's handler. A second signal goes to Janus at once.
#pragma once

#include <csignal>
#include <functional>
#include <thread>

namespace jmedia {

class ShutdownGuard {
 public:
  using GracefulStop = std::function<void(int signal)>;

  // Installs the handlers; false (and nothing installed) when it cannot.
  bool install(GracefulStop stop);
  // Restores the previous handlers and joins the thread. Idempotent.
  void uninstall();
  ~ShutdownGuard() { uninstall(); }

 private:
  static void on_signal(int signal);
  void run();

  GracefulStop stop_;
  std::thread thread_;
  struct sigaction previous_term_ {};
  struct sigaction previous_int_ {};
  bool installed_ = false;
};

}  // namespace jmedia
