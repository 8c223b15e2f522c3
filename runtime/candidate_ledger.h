// The ICE-candidate ledger: how many remote candidates the core has reported for each handle,
// and which handles went over max_ice_candidates and must be cut (hung up and detached).
//
// Janus 1.1.2 has no per-handle cap on remote ICE candidates (../docs: "ICE candidates: what
// the stock core does") and plugins never see candidates. Two of our modules cooperate instead,
// through this ledger in libjmedia_runtime (one copy per process):
//  - the feeder, janus.eventhandler.media, reports on the core's events thread: handle attached
//    (with its plugin), remote candidate parsed (SDP or trickle), remote/local SDP (the handle
//    negotiated), PeerConnection hung up (its candidates are gone with it), handle detached;
//  - the enforcer, janus.transport.prometheus, waits for cut orders (next_cut) and injects
//    admin requests that hang the handle up and detach it; it also asks the core for the
//    pending-trickles count of the handles that have not negotiated yet (unnegotiated()) and
//    queues those over the cap itself (queue_cut), since no event reports pre-offer trickles.
//
// Counting: every remote-candidate event of a handle in scope counts, SDP and trickled alike,
// as the core reports them. The count is per PeerConnection: a hangup resets it, because the
// core frees the PeerConnection's candidates with it. The candidate that takes a handle over
// max_ice_candidates queues it for cutting, once; it and every later one of that handle are
// "rejected" (janus_core_candidates_rejected_total): the core accepted them before the cut.
//
// Scope: CapScope::kAll caps every plugin's handles; kMedia only janus.plugin.media's.
//
// Threads and cost: one mutex guards everything. Its users are the core's events thread (one
// hash lookup per event) and the enforcer thread (a pop per cut; the unnegotiated handles of a
// check round or a sweep, listed at most kMaxSlice per lock hold, with the enforcer's requests
// for each slice in between), plus rare stats() calls from admin requests: no contention worth
// sharding for, and the events thread never waits behind a listing of every handle. Counters and
// the gauge are prometheus atomics, read by scrapes without the mutex. Memory: one small entry per
// attached handle, erased on detach, bounded by max_tracked; the cut queue is bounded by max_queue.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <array>
#include <chrono>
#include <compare>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runtime.h"

namespace jmedia::runtime {

inline constexpr std::string_view kMediaPluginPackage = "janus.plugin.media";

enum class CapScope : std::uint8_t { kAll = 0, kMedia = 1 };
inline constexpr std::array<std::string_view, 2> kCapScopeNames = {"all", "media"};

// Why a handle is cut: the "reason" label of janus_core_handles_cut_total.
enum class CutReason : std::uint8_t { kTooManyCandidates = 0, kPendingTrickles = 1 };
inline constexpr std::array<std::string_view, 2> kCutReasonLabels = {"too_many_candidates",
                                                                     "pending_trickles"};

struct HandleKey {
  std::uint64_t session_id = 0;
  std::uint64_t handle_id = 0;
  friend bool operator==(const HandleKey&, const HandleKey&) = default;
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>
  friend auto operator<=>(const HandleKey&, const HandleKey&) = default;
};

struct HandleKeyHash {
  std::size_t operator()(const HandleKey& key) const noexcept {
    // Janus ids are random: mixing the two is enough.
    return static_cast<std::size_t>(key.handle_id ^ (key.session_id * 0x9E3779B97F4A7C15ull));
  }
};

struct LedgerConfig {
  std::uint32_t max_ice_candidates = 50;  // per handle and PeerConnection; 0: no cap
  CapScope scope = CapScope::kAll;
};

// What one remote-candidate event did.
enum class CandidateOutcome : std::uint8_t {
  kUntracked,       // unknown handle (its attach was not seen): ignored
  kNotCapped,       // out of scope, or max_ice_candidates = 0: counted only
  kCounted,         // within the cap
  kQueued,          // beyond the cap and now queued for cutting (once per handle)
  kOverNoEnforcer,  // this one crossed the cap, but no enforcer runs: counted only
  kOverQueueFull,   // this one crossed the cap, the cut queue is full: retried next time
  kRejected,        // beyond the cap, handle queued already (or no enforcer)
};

struct CutOrder {
  HandleKey key;
  CutReason reason = CutReason::kTooManyCandidates;
  bool media = false;       // a handle of janus.plugin.media: its client can be told why
  std::uint64_t count = 0;  // candidates (or pending trickles) seen when it was queued
  std::chrono::steady_clock::time_point queued_at;
};

struct CheckTarget {
  HandleKey key;
  bool media = false;
};

// Where a check round stands: the next slice continues after `last`; once the listing wrapped
// round the end, it stops before `first`, so a round lists each handle once at most.
struct CheckRound {
  std::size_t left = 0;  // handles still to list
  bool started = false;
  bool wrapped = false;
  HandleKey first;
  HandleKey last;
};

struct LedgerStats {
  LedgerConfig config;
  bool fed = false;
  bool enforced = false;
  std::size_t tracked = 0;
  std::size_t unnegotiated = 0;
  std::size_t queued = 0;
  // The most handles one lock hold listed since construction (at most kMaxSlice): what bounds
  // the events thread's wait behind a check round or a sweep.
  std::size_t longest_slice = 0;
  std::uint64_t rejected = 0;
  std::array<std::uint64_t, kCutReasonLabels.size()> cut{};
};

class JMEDIA_RUNTIME_API CandidateLedger {
 public:
  static constexpr std::size_t kDefaultMaxQueue = 4096;
  static constexpr std::size_t kDefaultMaxTracked = std::size_t{1} << 20;

  // Registers janus_core_candidates_rejected_total, janus_core_handles_cut_total{reason} and
  // janus_core_candidate_ledger_handles in registry; removes them on destruction.
  explicit CandidateLedger(prometheus::Registry& registry, std::size_t max_queue = kDefaultMaxQueue,
                           std::size_t max_tracked = kDefaultMaxTracked);
  ~CandidateLedger();
  CandidateLedger(const CandidateLedger&) = delete;
  CandidateLedger& operator=(const CandidateLedger&) = delete;

  // --- the feeder (janus.eventhandler.media, on the core's events thread) ---------------------
  // Starts counting with config. Until then, and after stop_feeding(), every report is ignored.
  void start_feeding(const LedgerConfig& config);
  // Forgets every handle and drops the queued cuts.
  void stop_feeding();
  // A handle attached to plugin. False when it is not tracked (not fed, or max_tracked handles).
  bool attached(const HandleKey& key, std::string_view plugin);
  void detached(const HandleKey& key);
  CandidateOutcome remote_candidate(const HandleKey& key);
  // The core processed an SDP of the peer (offer or answer) / sent one of ours. A handle with
  // both has negotiated: its trickles are parsed, and reported, as they arrive.
  void remote_sdp(const HandleKey& key);
  void local_sdp(const HandleKey& key);
  // Its PeerConnection was hung up: the count restarts, and it has not negotiated any more.
  void peerconnection_closed(const HandleKey& key);

  // --- the enforcer (janus.transport.prometheus, its own thread) -------------------------------
  // One enforcer at a time: false when another one is attached.
  bool attach_enforcer();
  // Drops the queued cuts and wakes next_cut(), which returns nullopt from now on.
  void detach_enforcer();
  // The next handle to cut, waiting up to wait; nullopt on timeout or without an enforcer.
  // Orders of handles detached meanwhile are skipped.
  std::optional<CutOrder> next_cut(std::chrono::milliseconds wait);
  // The most handles one lock hold lists.
  static constexpr std::size_t kMaxSlice = 64;
  // A round of up to `handles` handles that attached, are in scope, have not negotiated and are
  // not being cut (SIZE_MAX: each of them once, a sweep), in round-robin order across rounds
  // (each round starts after the last handle the previous one listed).
  static CheckRound start_round(std::size_t handles) { return CheckRound{.left = handles}; }
  // The round's next handles, at most min(max, kMaxSlice), under one short lock hold; empty
  // once the round is over. Handles that attach, negotiate or go meanwhile are listed or not
  // according to where they fall in the listing order.
  std::vector<CheckTarget> next_slice(CheckRound& round, std::size_t max);
  // A whole round of up to max handles in one call, slice by slice (tests, small rounds).
  std::vector<CheckTarget> unnegotiated(std::size_t max);
  // Waits up to wait until the core has reported the hangup of key's PeerConnection (at once
  // when it has none, or is forgotten, or without an enforcer). True when no PeerConnection is
  // left. The enforcer detaches only after it: a detach before the core's handle loop ran the
  // hangup suppresses the client's "hangup" event (ice.c: no notification once stopping).
  bool wait_hangup(const HandleKey& key, std::chrono::milliseconds wait);
  // Queues a tracked handle for cutting unless it is queued already; true when queued now.
  bool queue_cut(const HandleKey& key, CutReason reason, std::uint64_t count);
  // The enforcer cut a handle (its detach succeeded).
  void count_cut(CutReason reason) noexcept;

  // --- any thread ------------------------------------------------------------------------------
  LedgerConfig config() const;
  bool fed() const;
  bool enforced() const;
  LedgerStats stats() const;

 private:
  struct Entry {
    std::uint32_t candidates = 0;
    bool media = false;
    bool remote_sdp = false;
    bool local_sdp = false;
    bool pc = false;    // has a PeerConnection (an SDP or a candidate since the last hangup)
    bool over = false;  // went beyond the cap on this PeerConnection
    bool cut = false;   // queued for cutting (stays until detached)
  };

  bool in_scope(const Entry& entry) const;
  // Keeps unnegotiated_ in step with entry (call after every change, under mutex_).
  void refresh(const HandleKey& key, const Entry& entry);
  bool push_order(const HandleKey& key, Entry& entry, CutReason reason, std::uint64_t count);
  void update_gauge();

  prometheus::Registry& registry_;
  prometheus::Family<prometheus::Counter>& rejected_family_;
  prometheus::Family<prometheus::Counter>& cut_family_;
  prometheus::Family<prometheus::Gauge>& tracked_family_;
  prometheus::Counter& rejected_;
  std::array<prometheus::Counter*, kCutReasonLabels.size()> cut_{};
  prometheus::Gauge& tracked_gauge_;

  const std::size_t max_queue_;
  const std::size_t max_tracked_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;  // a cut queued, a hangup, a detach, the enforcer gone
  LedgerConfig config_;
  bool fed_ = false;
  bool enforcer_ = false;
  std::unordered_map<HandleKey, Entry, HandleKeyHash> entries_;
  std::set<HandleKey> unnegotiated_;
  HandleKey cursor_;  // the last handle a round listed: where the next round starts
  std::size_t longest_slice_ = 0;
  std::deque<CutOrder> queue_;
};

// The process-wide ledger, registered in registry(). Never destroyed.
JMEDIA_RUNTIME_API CandidateLedger& candidate_ledger();

}  // namespace jmedia::runtime
