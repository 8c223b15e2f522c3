// Async request work: a few worker threads, each with its own FIFO, fed with a bounded total.
// Work for one session always goes to the same worker (by affinity), so its requests run in
// order; different sessions do not share a lock. A full queue refuses at once: the caller
// answers "busy" instead of waiting or dropping silently.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace jmedia {

class WorkQueue {
 public:
  using Job = std::function<void()>;
  enum class PushResult { kQueued, kFull, kStopped };

  WorkQueue(std::size_t workers, std::size_t capacity);
  ~WorkQueue();  // stop()
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  PushResult push(std::size_t affinity, Job job);
  // Jobs waiting or running.
  std::size_t depth() const { return pending_.load(std::memory_order_relaxed); }
  std::size_t capacity() const { return capacity_.load(std::memory_order_relaxed); }
  void set_capacity(std::size_t capacity) { capacity_.store(capacity); }

  // Refuses new work, lets each worker finish the job in hand, drops the rest (their
  // destructors run, releasing what they hold) and joins. Idempotent.
  void stop();

 private:
  struct Worker {
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<Job> jobs;
    bool stopping = false;
    std::thread thread;
  };
  void run(Worker& worker);

  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<std::size_t> capacity_;
  std::atomic<std::size_t> pending_{0};
  std::atomic<bool> stopped_{false};
};

}  // namespace jmedia
