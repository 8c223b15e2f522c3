#include "candidate_guard.h"

#include <algorithm>

#include "../common/log.h"

namespace jmedia::edge {

CandidateGuard::CandidateGuard(CandidatePolicy policy, std::size_t max_tracked)
    : policy_(policy), max_tracked_(max_tracked) {}

bool CandidateGuard::capped(const Entry& entry) const {
  return policy_.scope == runtime::CapScope::kAll || entry.media;
}

CandidateGuard::Admission CandidateGuard::reserve(const runtime::HandleKey& key,
                                                  std::uint32_t count) {
  Admission admission;
  if (count == 0 || policy_.max_ice_candidates == 0) return admission;
  Shard& s = shard(key.session_id);
  std::lock_guard lock(s.mutex);
  auto it = s.entries.find(key);
  if (it == s.entries.end()) {
    // A handle attached elsewhere (another transport, a claimed session) or not attached at
    // all: with scope "media" its plugin is unknown, so it is not capped.
    if (policy_.scope != runtime::CapScope::kAll) return admission;
    if (tracked_.load(std::memory_order_relaxed) >= max_tracked_) {
      if (!full_logged_.exchange(true)) {
        log_warn("ICE-candidate cap: %zu handles tracked already; further ones are not counted",
                 max_tracked_);
      }
      return admission;
    }
    it = s.entries.emplace(key, Entry{}).first;
    tracked_.fetch_add(1, std::memory_order_relaxed);
  }
  Entry& entry = it->second;
  if (!capped(entry)) return admission;
  if (count > policy_.max_ice_candidates || entry.count > policy_.max_ice_candidates - count) {
    admission.admitted = false;
    admission.first_refusal = !entry.refused;
    admission.counted = entry.count;
    entry.refused = true;
    return admission;
  }
  entry.count += count;
  admission.counted = entry.count;
  return admission;
}

void CandidateGuard::release(const runtime::HandleKey& key, std::uint32_t count) {
  if (count == 0) return;
  Shard& s = shard(key.session_id);
  std::lock_guard lock(s.mutex);
  auto it = s.entries.find(key);
  if (it == s.entries.end()) return;
  it->second.count -= std::min(it->second.count, count);
  if (it->second.count == 0 && !it->second.attached) {
    // Created by a request the core refused (often: no such handle): not worth keeping.
    s.entries.erase(it);
    tracked_.fetch_sub(1, std::memory_order_relaxed);
  }
}

void CandidateGuard::attached(const runtime::HandleKey& key, std::string_view plugin) {
  Shard& s = shard(key.session_id);
  std::lock_guard lock(s.mutex);
  auto it = s.entries.find(key);
  if (it == s.entries.end()) {
    if (tracked_.load(std::memory_order_relaxed) >= max_tracked_) return;
    it = s.entries.emplace(key, Entry{}).first;
    tracked_.fetch_add(1, std::memory_order_relaxed);
  }
  it->second.attached = true;
  it->second.media = plugin == runtime::kMediaPluginPackage;
}

void CandidateGuard::peerconnection_closed(const runtime::HandleKey& key) {
  Shard& s = shard(key.session_id);
  std::lock_guard lock(s.mutex);
  auto it = s.entries.find(key);
  if (it == s.entries.end()) return;
  it->second.count = 0;
  it->second.refused = false;
}

void CandidateGuard::detached(const runtime::HandleKey& key) {
  Shard& s = shard(key.session_id);
  std::lock_guard lock(s.mutex);
  if (s.entries.erase(key) != 0) tracked_.fetch_sub(1, std::memory_order_relaxed);
}

void CandidateGuard::session_gone(std::uint64_t session_id) {
  Shard& s = shard(session_id);
  std::lock_guard lock(s.mutex);
  std::size_t erased = 0;
  for (auto it = s.entries.begin(); it != s.entries.end();) {
    if (it->first.session_id == session_id) {
      it = s.entries.erase(it);
      ++erased;
    } else {
      ++it;
    }
  }
  if (erased != 0) tracked_.fetch_sub(erased, std::memory_order_relaxed);
}

}  // namespace jmedia::edge
