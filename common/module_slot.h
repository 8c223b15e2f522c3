// What a Janus module's init() creates and its destroy() frees, and the gate through which
// every other callback reaches it.
//
// Janus may still be inside a callback when it calls destroy(): 1.1.2 destroys plugins after
// freeing its task pool without waiting for running tasks (handle_message) while handle loops
// may still deliver media (incoming_rtp), and destroys transports while its requests thread
// still serves admin queries (query_transport). So destroy() cannot just free: retire()
// unpublishes the state, waits (bounded) until every callback that reached it has left, and
// only then frees it. When the bound expires it logs and leaves the state allocated (its
// threads too): a leak, never a use-after-free.
//
// Callbacks count themselves in and out on striped counters, one cache line per stripe, each
// thread on its own stripe (thread_stripe.h): the RTP path of many loop threads does not
// bounce one shared line between cores.
//
// Why a callback that found the state cannot still be inside when retire() frees it: enter()
// increments its stripe, then loads the pointer; retire() stores null, then reads the stripes;
// all four are seq_cst, so they are in one total order. If a callback's load comes before the
// store, its increment does too, and retire()'s later reads of that stripe see it until that
// callback's decrement (release, paired with retire()'s loads: everything the callback did
// happens before the delete). If its load comes after the store, it reads null and touches
// nothing.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>

#include "log.h"
#include "thread_stripe.h"

namespace jmedia {

template <typename State>
class ModuleSlot {
  struct alignas(64) Stripe {
    std::atomic<std::uint64_t> inside{0};
  };

 public:
  // A callback in flight: the state (null before init() and once destroy() began), valid
  // while the Entry lives.
  class Entry {
   public:
    Entry() = default;
    Entry(Entry&& other) noexcept : stripe_(other.stripe_), state_(other.state_) {
      other.stripe_ = nullptr;
      other.state_ = nullptr;
    }
    Entry& operator=(Entry&&) = delete;
    Entry(const Entry&) = delete;
    ~Entry() {
      if (stripe_ != nullptr) stripe_->inside.fetch_sub(1, std::memory_order_release);
    }
    State* get() const noexcept { return state_; }
    State* operator->() const noexcept { return state_; }
    explicit operator bool() const noexcept { return state_ != nullptr; }

   private:
    friend class ModuleSlot;
    Entry(Stripe* stripe, State* state) : stripe_(stripe), state_(state) {}
    Stripe* stripe_ = nullptr;
    State* state_ = nullptr;
  };

  constexpr ModuleSlot() = default;
  ModuleSlot(const ModuleSlot&) = delete;
  ModuleSlot& operator=(const ModuleSlot&) = delete;
  // A state that retire() had to leave is freed here if nothing is inside any more. A state
  // never retired (exit() without destroy()) is left to the process's end: threads may run.
  ~ModuleSlot() { free_left_state(); }

  Entry enter() noexcept {
    Stripe& stripe = stripes_[thread_stripe(kStripes)];
    stripe.inside.fetch_add(1, std::memory_order_seq_cst);
    State* state = active_.load(std::memory_order_seq_cst);
    if (state == nullptr) {
      stripe.inside.fetch_sub(1, std::memory_order_release);
      return Entry();
    }
    return Entry(&stripe, state);
  }

  // init(): publishes the state. False (and the state freed) if one is published already.
  bool install(std::unique_ptr<State> state) noexcept {
    State* expected = nullptr;
    if (!active_.compare_exchange_strong(expected, state.get(), std::memory_order_seq_cst)) {
      return false;
    }
    static_cast<void>(state.release());  // the slot owns it now (freed by retire())
    return true;
  }

  // destroy(): unpublishes the state, waits at most `timeout` for the callbacks inside to
  // leave, then frees it (its destructor stops what it runs). Must not be called from inside
  // a callback that holds an Entry (it would wait for itself). Returns whether a state was
  // freed; false when there was none or the wait timed out (logged; the state is left).
  bool retire(std::chrono::milliseconds timeout) noexcept {
    State* state = active_.exchange(nullptr, std::memory_order_seq_cst);
    if (state == nullptr) return false;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    if (const std::uint64_t now_inside = inside(); now_inside != 0) {
      log_info("destroy: waiting for %llu callbacks still running (at most %lld ms)",
               static_cast<unsigned long long>(now_inside),
               static_cast<long long>(timeout.count()));
    }
    // Each stripe seen at zero once is enough: the callbacks that found the state are counted
    // on their stripe until they leave, and no callback can find it any more. (Waiting for all
    // stripes at zero at once could wait long while callbacks that find nothing come and go.)
    std::array<bool, kStripes> drained{};
    for (;;) {
      std::size_t left = 0;
      for (std::size_t i = 0; i < kStripes; ++i) {
        if (!drained[i]) drained[i] = stripes_[i].inside.load(std::memory_order_seq_cst) == 0;
        if (!drained[i]) ++left;
      }
      if (left == 0) break;
      if (std::chrono::steady_clock::now() >= deadline) {
        log_error(
            "destroy: callbacks still running after %lld ms: the module's state is left "
            "allocated (not freed under them)",
            static_cast<long long>(timeout.count()));
        free_left_state();  // an earlier one, if nothing is inside now
        left_ = state;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    delete state;
    return true;
  }

  // Callbacks inside the gate now (those that found no state included, briefly).
  std::uint64_t inside() const noexcept {
    std::uint64_t total = 0;
    for (const Stripe& stripe : stripes_) total += stripe.inside.load(std::memory_order_seq_cst);
    return total;
  }

 private:
  static constexpr std::size_t kStripes = 32;

  void free_left_state() noexcept {
    if (left_ != nullptr && inside() == 0) {
      delete left_;
      left_ = nullptr;
    }
  }

  std::array<Stripe, kStripes> stripes_{};
  std::atomic<State*> active_{nullptr};
  State* left_ = nullptr;  // left by a timed-out retire(); init/destroy's thread only
};

}  // namespace jmedia
