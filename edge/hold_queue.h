// Holding a client's hangup or detach while its handle's PeerConnection is between its
// offer/answer and its first selected pair, so Janus 1.1.2 does not lose it.
//
// Why: when ICE selects its first pair, Janus's handle loop clears its queue (src/ice.c,
// janus_ice_cb_new_selected_pair, "FIXME Clear the queue"), which drops the static hangup and
// detach items a request queued just before: hangup_media and destroy_session never come, the
// handle's loop thread, ICE agent and DTLS context stay for good (README, "Handles Janus never
// frees"). A hangup or detach sent after the first pair, ICE failure or the PeerConnection's end
// is safe.
//
// What: a handle is negotiating from the moment the edge forwards a message with a jsep (or
// delivers an event with one) until it settles: the event handler reports the first selected
// pair, ICE failure, the hangup or the detach through the runtime (runtime::PcWatch), or the
// edge delivers the handle's webrtcup, media, hangup or detached event. A hangup or detach of a
// negotiating handle is held, and so is everything the client sends on that handle after it, in
// order; a session's destroy waits for its held handles. Held requests are forwarded once the
// handle settles (after `grace`, so the core's loop is past the clearing) or `timeout` after the
// first of them. A handle whose ICE the watch reports quiet (its SDP seen, no remote candidate,
// never connecting: nothing can select a pair) is not held past `grace` after its negotiation
// began (a client that offers without ICE and leaves). Without the event handler feeding the
// watch, only a detach is held, and only when the client sent ICE candidates in this negotiation
// (without any, the edge sees nothing that could select a pair), until the handle's hangup event
// has passed through the edge (or the timeout): the hangup goes first.
//
// Bounds: at most max_per_handle requests held per handle and max_total in all (beyond, the
// caller refuses the request); at most max_tracked negotiating handles (beyond, not held).
//
// Threads: requests from the edge's WebSocket and HTTP threads, events from the core's threads,
// the watch's reports from the core's events thread, release_due() from the hold thread (start)
// or a test. Sharded by session id, each shard's mutex held for a lookup or a few pops; forwards
// run outside every lock. A request with no hold in force costs one atomic load (and, for a
// hangup, detach or destroy, one shard lookup). Lock order: runtime::PcWatch's listener mutex,
// then a shard's mutex, then wake_mutex_.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "janus_request.h"
#include "limits.h"
#include "pc_watch.h"

namespace jmedia::edge {

struct HoldOptions {
  std::chrono::milliseconds timeout{3000};  // 0: nothing is held
  std::chrono::milliseconds grace{50};
  std::size_t max_per_handle = 32;
  std::size_t max_total = 4096;
  std::size_t max_tracked = std::size_t{1} << 20;
};

// What the edge delivered to a client that tells where a handle's PeerConnection stands.
enum class PcSignal : std::uint8_t { kUp, kHangup, kDetached };

class HoldQueue final : public runtime::PcListener {
 public:
  // The held request, handed to the core (on the releasing thread, outside every lock).
  using Forward = std::function<void()>;
  // A held request was forwarded after the timeout rather than a settled handle.
  using TimeoutLog = std::function<void(const runtime::HandleKey&, Verb, std::uint64_t total)>;

  // watch may be null (tests of the fallback); listens to it while alive.
  HoldQueue(HoldOptions options, runtime::PcWatch* watch);
  ~HoldQueue() override;
  HoldQueue(const HoldQueue&) = delete;
  HoldQueue& operator=(const HoldQueue&) = delete;

  const HoldOptions& options() const { return options_; }
  void on_timeout(TimeoutLog log) { timeout_log_ = std::move(log); }

  // The edge forwarded a message with a jsep on key, or delivered an event with one.
  void negotiating(const runtime::HandleKey& key);
  // The edge forwarded ICE candidates of the client's for key (a jsep's a=candidate lines, a
  // trickle) while it negotiates: its ICE can select a pair.
  void client_candidates(const runtime::HandleKey& key);
  // The edge delivered one of key's events.
  void signal(const runtime::HandleKey& key, PcSignal what);
  void session_gone(std::uint64_t session_id);

  enum class Verdict : std::uint8_t { kForward, kHeld, kFull };
  // Whether admit() could hold such a request (cheap: a closure is built only then).
  bool may_hold(const runtime::HandleKey& key, Verb verb) const {
    if (options_.timeout.count() == 0 || key.session_id == 0) return false;
    return verb == Verb::kHangup || verb == Verb::kDetach || verb == Verb::kDestroy ||
           (key.handle_id != 0 && held_.load(std::memory_order_acquire) != 0);
  }
  // kHeld: forward was taken and runs later; kForward: the caller forwards now; kFull: over a
  // bound, the caller refuses the request.
  Verdict admit(const runtime::HandleKey& key, Verb verb, Clock::time_point now, Forward& forward);

  // Forwards what is due at now, in order per handle; the number forwarded.
  std::size_t release_due(Clock::time_point now);
  // Forwards everything held (shutdown).
  std::size_t release_all();

  // A thread that runs release_due() when something may be due; stop() joins it.
  void start();
  void stop() noexcept;

  std::size_t held() const { return held_.load(std::memory_order_relaxed); }
  std::size_t tracked() const { return tracked_.load(std::memory_order_relaxed); }
  std::uint64_t timeouts() const { return timeouts_.load(std::memory_order_relaxed); }
  // The handle is negotiating (tests).
  bool is_negotiating(const runtime::HandleKey& key);

  // runtime::PcListener
  void settled(const runtime::HandleKey& key) noexcept override;

 private:
  struct Held {
    Verb verb;
    Forward forward;
  };
  struct Entry {
    bool negotiating = false;
    bool releasing = false;  // a thread is forwarding its items
    std::deque<Held> items;
    Clock::time_point since{};                             // negotiating from
    Clock::time_point deadline{};                          // of the first item held
    Clock::time_point ready_at{Clock::time_point::max()};  // settled (+ grace)
    bool quiet = false;  // held while the watch saw no ICE activity: re-checked at since + grace
    bool client_candidates = false;  // the client sent candidates in this negotiation
  };
  struct alignas(64) Shard {
    std::mutex mutex;
    std::unordered_map<runtime::HandleKey, Entry, runtime::HandleKeyHash> entries;
    // Handles (handle_id != 0) of a session with requests held: what its destroy waits for.
    std::unordered_map<std::uint64_t, std::size_t> sessions_held;
  };
  static constexpr std::size_t kShards = 16;
  Shard& shard(std::uint64_t session_id) {
    return shards_[(session_id * 0x9E3779B97F4A7C15ull) >> 60];
  }
  // The handle stopped negotiating (under its shard's mutex).
  void settle(Shard& s, const runtime::HandleKey& key, Clock::time_point now);
  void erase_if_idle(Shard& s, const runtime::HandleKey& key);
  bool due(const Shard& s, const runtime::HandleKey& key, Entry& entry, Clock::time_point now);
  bool fed() const { return watch_ != nullptr && watch_->fed(); }
  // Forwards key's items until none is left.
  std::size_t drain(const runtime::HandleKey& key, bool timed_out);
  void wake();
  void run() noexcept;

  const HoldOptions options_;
  runtime::PcWatch* const watch_;
  TimeoutLog timeout_log_;
  std::atomic<std::size_t> held_{0};
  std::atomic<std::size_t> tracked_{0};
  std::atomic<std::uint64_t> timeouts_{0};
  std::array<Shard, kShards> shards_;

  std::mutex wake_mutex_;
  std::condition_variable wake_cv_;
  bool woken_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace jmedia::edge
