// The ICE-candidate cap before the core: how many remote candidates each handle's current
// PeerConnection has been sent through the edge, and whether a request may add more.
//
// The edge counts what a client sends (trickles, and the a=candidate lines of the SDP of every
// message with a jsep) and refuses a request that would take the handle over the cap, whole:
// nothing of it reaches the core, whose own count (the ledger of janus.eventhandler.media)
// therefore never crosses it either. Counting restarts with a new PeerConnection: the edge resets
// a handle when the core tells the client it was hung up (its "hangup" event) or answers the
// client's own hangup. A request the core then refuses gives its candidates back (release()).
// Handles are learnt from the attach replies (their plugin, for cap_scope = media) and forgotten
// on detach and when their session goes.
//
// Threads: requests come from the WebSocket and HTTP threads, answers and events from the core's
// threads. Sharded by session id (a session's handles share a shard, so forgetting a session is
// one shard's scan); each shard's mutex is held for one hash lookup. Memory: one small entry per
// handle, at most max_tracked (beyond, requests are admitted uncounted, and it is logged).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include "candidate_ledger.h"

namespace jmedia::edge {

struct CandidatePolicy {
  std::uint32_t max_ice_candidates = 0;  // per handle and PeerConnection; 0: no cap
  runtime::CapScope scope = runtime::CapScope::kAll;
};

class CandidateGuard {
 public:
  static constexpr std::size_t kDefaultMaxTracked = std::size_t{1} << 20;

  explicit CandidateGuard(CandidatePolicy policy, std::size_t max_tracked = kDefaultMaxTracked);

  const CandidatePolicy& policy() const { return policy_; }

  struct Admission {
    bool admitted = true;
    bool first_refusal = false;  // the first refusal for this handle's PeerConnection
    std::uint32_t counted = 0;   // the handle's count after admission (before, when refused)
  };
  // Adds count candidates to the handle unless that takes it over the cap.
  Admission reserve(const runtime::HandleKey& key, std::uint32_t count);
  // The core refused a request whose candidates were reserved.
  void release(const runtime::HandleKey& key, std::uint32_t count);

  void attached(const runtime::HandleKey& key, std::string_view plugin);
  void peerconnection_closed(const runtime::HandleKey& key);
  void detached(const runtime::HandleKey& key);
  void session_gone(std::uint64_t session_id);

  std::size_t tracked() const { return tracked_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    std::uint32_t count = 0;
    bool attached = false;  // learnt from an attach reply (else created by a first request)
    bool media = false;
    bool refused = false;  // refused once on this PeerConnection
  };
  struct alignas(64) Shard {
    std::mutex mutex;
    std::unordered_map<runtime::HandleKey, Entry, runtime::HandleKeyHash> entries;
  };
  static constexpr std::size_t kShards = 16;
  Shard& shard(std::uint64_t session_id) {
    return shards_[(session_id * 0x9E3779B97F4A7C15ull) >> 60];
  }
  bool capped(const Entry& entry) const;

  const CandidatePolicy policy_;
  const std::size_t max_tracked_;
  std::atomic<std::size_t> tracked_{0};
  std::atomic<bool> full_logged_{false};
  std::array<Shard, kShards> shards_;
};

}  // namespace jmedia::edge
