#include "work_queue.h"

#include "../common/abi_guard.h"

namespace jmedia {

WorkQueue::WorkQueue(std::size_t workers, std::size_t capacity) : capacity_(capacity) {
  if (workers == 0) workers = 1;
  for (std::size_t i = 0; i < workers; ++i) workers_.push_back(std::make_unique<Worker>());
  for (auto& worker : workers_) {
    Worker* w = worker.get();
    w->thread = guarded_thread("worker", "jm-worker", [this, w] { run(*w); });
  }
}

WorkQueue::~WorkQueue() {
  stop();
}

WorkQueue::PushResult WorkQueue::push(std::size_t affinity, Job job) {
  if (stopped_.load(std::memory_order_acquire)) return PushResult::kStopped;
  // Claim a slot first so that the bound holds across workers without a shared lock.
  std::size_t current = pending_.load(std::memory_order_relaxed);
  do {
    if (current >= capacity_.load(std::memory_order_relaxed)) return PushResult::kFull;
  } while (!pending_.compare_exchange_weak(current, current + 1, std::memory_order_acq_rel));
  Worker& worker = *workers_[affinity % workers_.size()];
  {
    std::lock_guard lock(worker.mutex);
    if (worker.stopping) {
      pending_.fetch_sub(1, std::memory_order_acq_rel);
      return PushResult::kStopped;
    }
    worker.jobs.push_back(std::move(job));
  }
  worker.wake.notify_one();
  return PushResult::kQueued;
}

void WorkQueue::run(Worker& worker) {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(worker.mutex);
      worker.wake.wait(lock, [&] { return worker.stopping || !worker.jobs.empty(); });
      if (worker.stopping) return;
      job = std::move(worker.jobs.front());
      worker.jobs.pop_front();
    }
    guarded_void("worker: job", job);  // one failed job is logged; the worker goes on
    job = nullptr;  // release what the job captured before the slot is given back
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void WorkQueue::stop() {
  if (stopped_.exchange(true)) return;
  for (auto& worker : workers_) {
    std::lock_guard lock(worker->mutex);
    worker->stopping = true;
  }
  for (auto& worker : workers_) {
    worker->wake.notify_all();
    if (worker->thread.joinable()) worker->thread.join();
    std::deque<Job> dropped;
    {
      std::lock_guard lock(worker->mutex);
      dropped.swap(worker->jobs);
    }
    pending_.fetch_sub(dropped.size(), std::memory_order_acq_rel);
  }
}

}  // namespace jmedia
