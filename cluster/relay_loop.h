// The relays' thread: one per process (the plugin's), serving every relay socket of the node
// through one epoll set, so that the number of threads does not grow with devices and nodes.
// It reads what arrives, and every tick (10 ms) runs each relay's timers (NACK retries,
// receiver reports, the peer's silence). Sending media is not its job: RelaySender::send_rtp
// sends on the caller's thread.
//
// Locks (order: dispatch_mutex_ before mutex_): the loop thread holds dispatch_mutex_ while it
// calls into relays (and so into their listeners); detach() takes it after the relay is out of
// the set, to wait until the loop thread is out of that relay. So a relay must not be
// destroyed on the loop thread (from its listener), nor by a thread holding a lock that a
// listener callback takes.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace jmedia::cluster {

class RelayLoop {
 public:
  using Clock = std::chrono::steady_clock;

  class Endpoint {
   public:
    // The loop thread: the endpoint's socket is readable.
    virtual void on_readable(Clock::time_point now) = 0;
    // The loop thread: after on_readable and at every tick.
    virtual void on_tick(Clock::time_point now) = 0;

   protected:
    ~Endpoint() = default;
  };

  // Starts the thread ("jm-relay"). Throws std::system_error when it cannot.
  explicit RelayLoop(std::chrono::milliseconds tick = std::chrono::milliseconds(10));
  // Stops and joins the thread: every endpoint must have been detached.
  ~RelayLoop();
  RelayLoop(const RelayLoop&) = delete;
  RelayLoop& operator=(const RelayLoop&) = delete;

  // Any thread. 0 when epoll refuses the fd.
  std::uint64_t attach(int fd, Endpoint& endpoint);
  // Any thread but the loop's: on return the loop never calls the endpoint again.
  void detach(std::uint64_t id);
  bool on_loop_thread() const { return std::this_thread::get_id() == thread_.get_id(); }
  std::size_t endpoints() const;

 private:
  struct Entry {
    Endpoint* endpoint;
    int fd;
  };
  void run();
  void pass();
  void wake() const;

  const std::chrono::milliseconds tick_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;

  std::mutex dispatch_mutex_;  // held by the loop thread while it calls endpoints
  mutable std::mutex mutex_;   // guards entries_, next_id_, stopping_
  std::unordered_map<std::uint64_t, Entry> entries_;
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;

  // The loop thread's only.
  Clock::time_point next_tick_{};
  std::vector<Endpoint*> tick_list_;

  std::thread thread_;  // last: started once everything above is built
};

}  // namespace jmedia::cluster
