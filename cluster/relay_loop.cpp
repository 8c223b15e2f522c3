#include "relay_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "../common/abi_guard.h"
#include "../common/log.h"
#include "relay_socket.h"

namespace jmedia::cluster {
namespace {

constexpr std::uint64_t kWakeId = 0;
constexpr int kEventsPerWait = 64;

}  // namespace

RelayLoop::RelayLoop(std::chrono::milliseconds tick) : tick_(tick) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kWakeId;
  if (epoll_fd_ < 0 || wake_fd_ < 0 || epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &event) != 0) {
    const int error = errno;
    if (epoll_fd_ >= 0) close(epoll_fd_);
    if (wake_fd_ >= 0) close(wake_fd_);
    throw std::system_error(error, std::generic_category(), "relay loop: epoll");
  }
  tick_list_.reserve(64);
  next_tick_ = Clock::now() + tick_;
  thread_ = guarded_thread("cluster relay loop", "jm-relay", [this] { run(); });
}

RelayLoop::~RelayLoop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    if (!entries_.empty()) {
      log_error("cluster relay loop: stopped with %zu relays still attached", entries_.size());
    }
  }
  wake();
  if (thread_.joinable()) thread_.join();
  close(wake_fd_);
  close(epoll_fd_);
}

void RelayLoop::wake() const {
  const std::uint64_t one = 1;
  // A full counter already wakes the loop.
  [[maybe_unused]] const ssize_t written = write(wake_fd_, &one, sizeof one);
}

std::uint64_t RelayLoop::attach(int fd, Endpoint& endpoint) {
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mutex_);
    id = next_id_++;
    entries_.emplace(id, Entry{&endpoint, fd});
  }
  epoll_event event{};
  event.events = EPOLLIN;  // level-triggered: what one pass leaves is seen by the next
  event.data.u64 = id;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    log_error("cluster relay loop: epoll_ctl add: %s", errno_text(errno).c_str());
    std::lock_guard lock(mutex_);
    entries_.erase(id);
    return 0;
  }
  return id;
}

void RelayLoop::detach(std::uint64_t id) {
  if (id == 0) return;
  int fd = -1;
  {
    std::lock_guard lock(mutex_);
    const auto found = entries_.find(id);
    if (found == entries_.end()) return;
    fd = found->second.fd;
    entries_.erase(found);
  }
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  if (on_loop_thread()) {
    // Its listener destroyed it from a callback: the caller breaks the contract above.
    log_error("cluster relay loop: a relay was destroyed on the relay thread");
    return;
  }
  // Once held, the loop thread is between passes and the next one cannot see the entry.
  std::lock_guard wait(dispatch_mutex_);
}

std::size_t RelayLoop::endpoints() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void RelayLoop::run() {
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    // One failed pass (a throwing listener) is logged; the next one runs.
    guarded_void("cluster relay loop: pass", [this] { pass(); });
  }
}

void RelayLoop::pass() {
  epoll_event events[kEventsPerWait];
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_tick_ - Clock::now());
  const int timeout = static_cast<int>(std::max<std::int64_t>(0, wait.count()));
  const int ready = epoll_wait(epoll_fd_, events, kEventsPerWait, timeout);
  if (ready < 0 && errno != EINTR) {
    log_error("cluster relay loop: epoll_wait: %s", errno_text(errno).c_str());
  }
  std::lock_guard dispatch(dispatch_mutex_);
  const Clock::time_point now = Clock::now();
  for (int i = 0; i < ready; ++i) {
    const std::uint64_t id = events[i].data.u64;
    if (id == kWakeId) {
      std::uint64_t count = 0;
      [[maybe_unused]] const ssize_t got = read(wake_fd_, &count, sizeof count);
      continue;
    }
    Endpoint* endpoint = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      const auto found = entries_.find(id);
      if (found == entries_.end()) continue;  // detached after epoll_wait returned
      endpoint = found->second.endpoint;
    }
    guarded_void("cluster relay: read", [endpoint, now] {
      endpoint->on_readable(now);
      endpoint->on_tick(now);
    });
  }
  if (now < next_tick_) return;
  next_tick_ = now + tick_;
  tick_list_.clear();
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, entry] : entries_) tick_list_.push_back(entry.endpoint);
  }
  for (Endpoint* endpoint : tick_list_) {
    guarded_void("cluster relay: tick", [endpoint, now] { endpoint->on_tick(now); });
  }
}

}  // namespace jmedia::cluster
