// Where each handle's PeerConnection stands between its offer/answer and its first selected
// pair, for janus.transport.edge to hold a client's hangup or detach meanwhile.
//
// Why: Janus 1.1.2 (src/ice.c, janus_ice_cb_new_selected_pair) clears the handle loop's queue
// when ICE selects its first pair, and the clearing drops the static hangup and detach items a
// request queued just before: the handle is never freed (README, "Handles Janus never frees").
// A hangup or detach that reaches the core after the first pair (or after ICE failed, or the
// PeerConnection ended) is safe.
//
// The feeder, janus.eventhandler.media, reports on the core's events thread what it sees per
// handle (an SDP, the selected pair, ICE failed, the hangup, the detach); the listener, the
// edge, is told of every handle whose PeerConnection settles or ends, and may ask settled().
//
// Threads: any. mutex_ guards the phases; listener_mutex_ is held while the listener runs
// (never together with mutex_), so clear_listener() returns once no call is inside. Lock order:
// listener_mutex_ before whatever the listener takes; the listener must not call back into the
// watch. Memory: one entry per handle that sent or got an SDP, erased on detach, at most
// max_tracked (beyond, handles are not tracked: settled() answers false).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "candidate_ledger.h"
#include "runtime.h"

namespace jmedia::runtime {

class JMEDIA_RUNTIME_API PcListener {
 public:
  virtual ~PcListener() = default;
  // key's PeerConnection selected its first pair, failed ICE, was hung up, or the handle went.
  // On the feeder's thread; must not block.
  virtual void settled(const HandleKey& key) noexcept = 0;
};

class JMEDIA_RUNTIME_API PcWatch {
 public:
  static constexpr std::size_t kDefaultMaxTracked = std::size_t{1} << 20;
  explicit PcWatch(std::size_t max_tracked = kDefaultMaxTracked) : max_tracked_(max_tracked) {}
  PcWatch(const PcWatch&) = delete;
  PcWatch& operator=(const PcWatch&) = delete;

  // --- the feeder ------------------------------------------------------------------------------
  // Until start_feeding() (and after stop_feeding(), which forgets every handle) reports are
  // ignored and fed() is false: the listener then relies on what it sees itself.
  void start_feeding();
  void stop_feeding();
  // An SDP of either side: negotiating, unless its PeerConnection is settled already.
  void sdp(const HandleKey& key);
  // ICE is at work on the current PeerConnection: a remote candidate was reported, or ICE
  // reached connecting (a pair may be selected any moment from now).
  void ice_active(const HandleKey& key);
  // The first selected pair, or ICE failed: settled.
  void settled(const HandleKey& key);
  // The PeerConnection was hung up: a later SDP starts a new one.
  void closed(const HandleKey& key);
  void detached(const HandleKey& key);

  // --- the listener ----------------------------------------------------------------------------
  // One listener at a time: false when another one is set.
  bool set_listener(PcListener* listener);
  void clear_listener(PcListener* listener);

  // --- any thread ------------------------------------------------------------------------------
  bool fed() const;
  // key's current PeerConnection selected a pair (or failed ICE) and was not hung up since.
  bool is_settled(const HandleKey& key) const;
  // key negotiates (its SDP was reported) and ICE has shown no activity yet: no remote
  // candidate, never connecting. No pair can be selected before some activity is reported.
  bool is_quiet(const HandleKey& key) const;
  std::size_t tracked() const;

 private:
  enum class Phase : std::uint8_t { kNegotiating, kSettled, kClosed };
  struct Entry {
    Phase phase = Phase::kNegotiating;
    bool active = false;  // ICE activity on this PeerConnection
  };
  void tell(const HandleKey& key);

  const std::size_t max_tracked_;
  mutable std::mutex mutex_;
  bool fed_ = false;
  std::unordered_map<HandleKey, Entry, HandleKeyHash> phases_;

  std::mutex listener_mutex_;
  PcListener* listener_ = nullptr;
};

// The process-wide watch. Never destroyed.
JMEDIA_RUNTIME_API PcWatch& pc_watch();

}  // namespace jmedia::runtime
