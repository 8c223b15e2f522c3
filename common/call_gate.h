// A published pointer and the callers in flight behind it: "callbacks still running vs the
// owner going away". enter() finds the target (or nothing) and keeps it valid while the Entry
// lives; close() unpublishes it, and wait_until_drained() returns once every caller that found
// it has left, or at a deadline. The gate owns nothing and logs nothing: ModuleSlot (module
// state that a Janus module's destroy() frees) and libjmedia_runtime's registry of published
// views (runtime/media_view.h) build on it.
//
// Callers count themselves in and out on striped counters, one cache line per stripe, each
// thread on its own stripe (thread_stripe.h): the RTP path of many loop threads does not
// bounce one shared line between cores.
//
// Why a caller that found the target cannot still be inside when wait_until_drained()
// returns true: enter() increments its stripe, then loads the pointer; close() stores null,
// then the wait reads the stripes; all four are seq_cst, so they are in one total order. If a
// caller's load comes before the store, its increment does too, and the wait's later reads of
// that stripe see it until that caller's decrement (release, paired with the wait's loads:
// everything the caller did happens before what the owner does next). If its load comes after
// the store, it reads null and touches nothing.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "thread_stripe.h"

namespace jmedia {

template <typename Target>
class CallGate {
  struct alignas(64) Stripe {
    std::atomic<std::uint64_t> inside{0};
  };

 public:
  // A caller in flight: the target (null when none is published), valid while it lives.
  class Entry {
   public:
    Entry() = default;
    Entry(Entry&& other) noexcept : stripe_(other.stripe_), target_(other.target_) {
      other.stripe_ = nullptr;
      other.target_ = nullptr;
    }
    Entry& operator=(Entry&&) = delete;
    Entry(const Entry&) = delete;
    ~Entry() {
      if (stripe_ != nullptr) stripe_->inside.fetch_sub(1, std::memory_order_release);
    }
    Target* get() const noexcept { return target_; }
    Target* operator->() const noexcept { return target_; }
    explicit operator bool() const noexcept { return target_ != nullptr; }

   private:
    friend class CallGate;
    Entry(Stripe* stripe, Target* target) : stripe_(stripe), target_(target) {}
    Stripe* stripe_ = nullptr;
    Target* target_ = nullptr;
  };

  constexpr CallGate() = default;
  CallGate(const CallGate&) = delete;
  CallGate& operator=(const CallGate&) = delete;

  Entry enter() noexcept {
    Stripe& stripe = stripes_[thread_stripe(kStripes)];
    stripe.inside.fetch_add(1, std::memory_order_seq_cst);
    Target* target = active_.load(std::memory_order_seq_cst);
    if (target == nullptr) {
      stripe.inside.fetch_sub(1, std::memory_order_release);
      return Entry();
    }
    return Entry(&stripe, target);
  }

  // Publishes target. False when one is published already (nothing changes then).
  bool open(Target* target) noexcept {
    Target* expected = nullptr;
    return active_.compare_exchange_strong(expected, target, std::memory_order_seq_cst);
  }

  // Unpublishes whatever is published; returns it (null when nothing was).
  Target* close() noexcept { return active_.exchange(nullptr, std::memory_order_seq_cst); }
  // Unpublishes target only if it is the one published; returns whether it was.
  bool close(Target* target) noexcept {
    Target* expected = target;
    return active_.compare_exchange_strong(expected, nullptr, std::memory_order_seq_cst);
  }

  // After close(): waits until every caller that found the closed target has left, polling
  // every millisecond until deadline. Must not be called by a caller holding an Entry of this
  // gate (it would wait for itself). Returns false at the deadline with callers still inside.
  bool wait_until_drained(std::chrono::steady_clock::time_point deadline) const noexcept {
    // Each stripe seen at zero once is enough: the callers that found the target are counted
    // on their stripe until they leave, and no caller can find it any more. (Waiting for all
    // stripes at zero at once could wait long while callers that find nothing come and go.)
    std::array<bool, kStripes> drained{};
    for (;;) {
      std::size_t left = 0;
      for (std::size_t i = 0; i < kStripes; ++i) {
        if (!drained[i]) drained[i] = stripes_[i].inside.load(std::memory_order_seq_cst) == 0;
        if (!drained[i]) ++left;
      }
      if (left == 0) return true;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  // Callers inside the gate now (those that found nothing included, briefly).
  std::uint64_t inside() const noexcept {
    std::uint64_t total = 0;
    for (const Stripe& stripe : stripes_) total += stripe.inside.load(std::memory_order_seq_cst);
    return total;
  }

 private:
  static constexpr std::size_t kStripes = 32;

  std::array<Stripe, kStripes> stripes_{};
  std::atomic<Target*> active_{nullptr};
};

}  // namespace jmedia
