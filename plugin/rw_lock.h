// The reader-writer lock of each ShardedMap shard: one atomic word. Taking and releasing a
// read lock is one atomic add each, cheaper than pthread's rwlock (std::shared_mutex), whose
// bookkeeping cost more than the hash lookup it guards (bench/table_bench, README). A waiter
// spins briefly and then parks on a futex (Linux), so a holder that blocks or is preempted
// costs the waiters no CPU: holding it across an allocation or a nested mutex is allowed,
// within the lock order written down in device.h. Writers win: a waiting writer turns new
// readers away until it is done.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdint>

namespace jmedia {

class RwLock {
 public:
  RwLock() = default;
  RwLock(const RwLock&) = delete;
  RwLock& operator=(const RwLock&) = delete;

  void lock_shared() noexcept {
    if ((state_.fetch_add(kReader, std::memory_order_acquire) & kWriter) == 0) return;
    lock_shared_slow();
  }
  void unlock_shared() noexcept {
    // The last reader out while a writer waits for the readers to leave, parked: wake it.
    if (state_.fetch_sub(kReader, std::memory_order_release) == (kReader | kWriter | kParked)) {
      wake_all();
    }
  }

  void lock() noexcept {
    std::uint32_t free = 0;
    if (state_.compare_exchange_strong(free, kWriter, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      return;
    }
    lock_slow();
  }
  void unlock() noexcept {
    if (state_.fetch_sub(kWriter, std::memory_order_release) & kParked) unpark_all();
  }

 private:
  // Bit 0: a writer holds the lock or waits for the readers inside to leave. Bit 1: a thread
  // may be parked on the word; whoever clears it wakes every parked thread afterwards. The
  // rest counts readers inside (or about to back out).
  static constexpr std::uint32_t kWriter = 1;
  static constexpr std::uint32_t kParked = 2;
  static constexpr std::uint32_t kReader = 4;
  static constexpr std::uint32_t readers(std::uint32_t state) { return state / kReader; }

  // The slow paths stay out of line, so that the fast paths inline as small as before.
  [[gnu::noinline, gnu::cold]] void lock_shared_slow() noexcept {
    // Back out (waking a writer that waits for the readers to leave), then wait for no
    // writer before trying again: retrying the add while a writer holds the lock would wake
    // that writer, and the other parked waiters, every time.
    unlock_shared();
    while (true) {
      wait_while([](std::uint32_t state) { return (state & kWriter) != 0; });
      if ((state_.fetch_add(kReader, std::memory_order_acquire) & kWriter) == 0) return;
      unlock_shared();
    }
  }

  [[gnu::noinline, gnu::cold]] void lock_slow() noexcept {
    while (true) {
      std::uint32_t seen = state_.load(std::memory_order_relaxed);
      if ((seen & kWriter) == 0) {
        if (state_.compare_exchange_weak(seen, seen | kWriter, std::memory_order_acquire,
                                         std::memory_order_relaxed)) {
          break;
        }
        continue;
      }
      wait_while([](std::uint32_t state) { return (state & kWriter) != 0; });
    }
    // The writer bit is ours: no new reader gets in; wait for those inside to leave.
    wait_while([](std::uint32_t state) { return readers(state) != 0; });
  }

  // Returns once blocked(state) is false: spins a little first (the usual critical section is
  // a hash lookup), then parks until an unlock wakes it. Acquire loads: a writer that sees the
  // last reader gone must also see what that reader did.
  template <typename Blocked>
  void wait_while(Blocked blocked) noexcept {
    for (std::uint32_t spins = 1; spins <= kSpinLimit; spins *= 2) {
      if (!blocked(state_.load(std::memory_order_acquire))) return;
      for (std::uint32_t i = 0; i < spins; ++i) relax();
    }
    while (true) {
      std::uint32_t seen = state_.load(std::memory_order_acquire);
      if (!blocked(seen)) return;
      if ((seen & kParked) == 0 &&
          !state_.compare_exchange_weak(seen, seen | kParked, std::memory_order_relaxed)) {
        continue;
      }
      // Sleeps only while the word still reads seen | kParked: a change in between (an
      // unlock, a reader backing out) returns at once and the state is read again.
      futex(FUTEX_WAIT_PRIVATE, seen | kParked);
    }
  }

  // A writer leaving with threads parked: they all wake and compete again (one that must
  // wait longer parks again).
  [[gnu::noinline, gnu::cold]] void unpark_all() noexcept {
    state_.fetch_and(~kParked, std::memory_order_relaxed);
    wake_all();
  }
  [[gnu::noinline, gnu::cold]] void wake_all() noexcept { futex(FUTEX_WAKE_PRIVATE, INT_MAX); }
  void futex(int op, std::uint32_t value) noexcept {
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&state_), op, value, nullptr, nullptr, 0);
  }

  static constexpr std::uint32_t kSpinLimit = 64;
  static void relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }

  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
                std::atomic<std::uint32_t>::is_always_lock_free);
  std::atomic<std::uint32_t> state_{0};
};

}  // namespace jmedia
