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
// The gate itself (striped counters of the callbacks inside, and why one that found the state
// cannot still be inside when it is freed) is CallGate (call_gate.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "call_gate.h"
#include "log.h"

namespace jmedia {

template <typename State>
class ModuleSlot {
 public:
  // A callback in flight: the state (null before init() and once destroy() began), valid
  // while the Entry lives.
  using Entry = typename CallGate<State>::Entry;

  constexpr ModuleSlot() = default;
  ModuleSlot(const ModuleSlot&) = delete;
  ModuleSlot& operator=(const ModuleSlot&) = delete;
  // A state that retire() had to leave is freed here if nothing is inside any more. A state
  // never retired (exit() without destroy()) is left to the process's end: threads may run.
  ~ModuleSlot() { free_left_state(); }

  Entry enter() noexcept { return gate_.enter(); }

  // init(): publishes the state. False (and the state freed) if one is published already.
  bool install(std::unique_ptr<State> state) noexcept {
    if (!gate_.open(state.get())) return false;
    static_cast<void>(state.release());  // the slot owns it now (freed by retire())
    return true;
  }

  // destroy(): unpublishes the state, waits at most `timeout` for the callbacks inside to
  // leave, then frees it (its destructor stops what it runs). Must not be called from inside
  // a callback that holds an Entry (it would wait for itself). Returns whether a state was
  // freed; false when there was none or the wait timed out (logged; the state is left).
  bool retire(std::chrono::milliseconds timeout) noexcept {
    State* state = gate_.close();
    if (state == nullptr) return false;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    if (const std::uint64_t now_inside = gate_.inside(); now_inside != 0) {
      log_info("destroy: waiting for %llu callbacks still running (at most %lld ms)",
               static_cast<unsigned long long>(now_inside),
               static_cast<long long>(timeout.count()));
    }
    if (!gate_.wait_until_drained(deadline)) {
      log_error(
          "destroy: callbacks still running after %lld ms: the module's state is left "
          "allocated (not freed under them)",
          static_cast<long long>(timeout.count()));
      free_left_state();  // an earlier one, if nothing is inside now
      left_ = state;
      return false;
    }
    delete state;
    return true;
  }

  // Callbacks inside the gate now (those that found no state included, briefly).
  std::uint64_t inside() const noexcept { return gate_.inside(); }

 private:
  void free_left_state() noexcept {
    if (left_ != nullptr && inside() == 0) {
      delete left_;
      left_ = nullptr;
    }
  }

  CallGate<State> gate_;
  State* left_ = nullptr;  // left by a timed-out retire(); init/destroy's thread only
};

}  // namespace jmedia
