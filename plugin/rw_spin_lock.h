// A reader-writer spin lock for the shards of ShardedMap: one atomic word, a read lock is one
// atomic add. Critical sections there are a hash lookup or a node insert, far shorter than the
// futex round trip and the bookkeeping of pthread's rwlock (std::shared_mutex), which the
// session table benchmark showed costing more than the lookup itself. Waiters spin briefly,
// then yield, so a holder preempted on a busy machine is not fought for the CPU. Writers win:
// a waiting writer turns new readers away until it is done.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

namespace jmedia {

class RwSpinLock {
 public:
  RwSpinLock() = default;
  RwSpinLock(const RwSpinLock&) = delete;
  RwSpinLock& operator=(const RwSpinLock&) = delete;

  void lock_shared() noexcept {
    Backoff backoff;
    while (true) {
      if ((state_.fetch_add(kReader, std::memory_order_acquire) & kWriter) == 0) return;
      state_.fetch_sub(kReader, std::memory_order_relaxed);
      while ((state_.load(std::memory_order_relaxed) & kWriter) != 0) backoff.wait();
    }
  }
  void unlock_shared() noexcept { state_.fetch_sub(kReader, std::memory_order_release); }

  void lock() noexcept {
    Backoff backoff;
    std::uint32_t seen = state_.load(std::memory_order_relaxed);
    while (true) {
      if ((seen & kWriter) == 0 &&
          state_.compare_exchange_weak(seen, seen | kWriter, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        break;
      }
      backoff.wait();
      seen = state_.load(std::memory_order_relaxed);
    }
    // The writer bit is ours: no new reader gets in; wait for those inside to leave.
    while (state_.load(std::memory_order_acquire) != kWriter) backoff.wait();
  }
  void unlock() noexcept { state_.fetch_and(~kWriter, std::memory_order_release); }

 private:
  static constexpr std::uint32_t kWriter = 1;
  static constexpr std::uint32_t kReader = 2;

  class Backoff {
   public:
    void wait() noexcept {
      if (spins_ < kSpinLimit) {
        for (std::uint32_t i = 0; i < spins_; ++i) relax();
        spins_ *= 2;
      } else {
        std::this_thread::yield();
      }
    }

   private:
    static constexpr std::uint32_t kSpinLimit = 64;
    static void relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#elif defined(__aarch64__)
      asm volatile("yield");
#endif
    }
    std::uint32_t spins_ = 1;
  };

  std::atomic<std::uint32_t> state_{0};
};

}  // namespace jmedia
