#include "candidate_ledger.h"

#include <algorithm>
#include <limits>
#include <string>

namespace jmedia::runtime {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;

}  // namespace

CandidateLedger::CandidateLedger(prometheus::Registry& registry, std::size_t max_queue,
                                 std::size_t max_tracked)
    : registry_(registry),
      rejected_family_(BuildCounter()
                           .Name("janus_core_candidates_rejected_total")
                           .Help("Remote ICE candidates the core reported for a handle beyond "
                                 "max_ice_candidates (it accepted them before the handle was "
                                 "cut).")
                           .Register(registry)),
      cut_family_(BuildCounter()
                      .Name("janus_core_handles_cut_total")
                      .Help("Handles hung up and detached by the ICE-candidate cap, by reason: "
                            "too_many_candidates (remote candidates reported) or "
                            "pending_trickles (trickles queued before an offer).")
                      .Register(registry)),
      tracked_family_(BuildGauge()
                          .Name("janus_core_candidate_ledger_handles")
                          .Help("Handles whose remote ICE candidates are counted now.")
                          .Register(registry)),
      rejected_(rejected_family_.Add({})),
      tracked_gauge_(tracked_family_.Add({})),
      max_queue_(std::max<std::size_t>(1, max_queue)),
      max_tracked_(std::max<std::size_t>(1, max_tracked)) {
  for (std::size_t i = 0; i < kCutReasonLabels.size(); ++i) {
    cut_[i] = &cut_family_.Add({{"reason", std::string(kCutReasonLabels[i])}});
  }
}

CandidateLedger::~CandidateLedger() {
  registry_.Remove(rejected_family_);
  registry_.Remove(cut_family_);
  registry_.Remove(tracked_family_);
}

// ---------------------------------------------------------------------------------------------
// feeder

void CandidateLedger::start_feeding(const LedgerConfig& config) {
  std::lock_guard lock(mutex_);
  config_ = config;
  fed_ = true;
  unnegotiated_.clear();
  for (const auto& [key, entry] : entries_) refresh(key, entry);
}

void CandidateLedger::stop_feeding() {
  std::lock_guard lock(mutex_);
  fed_ = false;
  entries_.clear();
  unnegotiated_.clear();
  queue_.clear();
  cursor_ = {};
  update_gauge();
}

bool CandidateLedger::attached(const HandleKey& key, std::string_view plugin) {
  std::lock_guard lock(mutex_);
  if (!fed_) return false;
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= max_tracked_) return false;
    it = entries_.emplace(key, Entry{}).first;
  }
  it->second.media = plugin == kMediaPluginPackage;
  refresh(key, it->second);
  update_gauge();
  return true;
}

void CandidateLedger::detached(const HandleKey& key) {
  {
    std::lock_guard lock(mutex_);
    if (entries_.erase(key) == 0) return;
    unnegotiated_.erase(key);
    update_gauge();
    // A queued order of this handle is skipped by next_cut().
  }
  changed_.notify_all();
}

CandidateOutcome CandidateLedger::remote_candidate(const HandleKey& key) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (!fed_ || it == entries_.end()) return CandidateOutcome::kUntracked;
  Entry& entry = it->second;
  entry.pc = true;
  if (entry.candidates < std::numeric_limits<std::uint32_t>::max()) ++entry.candidates;
  if (config_.max_ice_candidates == 0 || !in_scope(entry)) return CandidateOutcome::kNotCapped;
  if (entry.candidates <= config_.max_ice_candidates) return CandidateOutcome::kCounted;

  rejected_.Increment();
  const bool crossing = !entry.over;
  entry.over = true;
  if (entry.cut) return CandidateOutcome::kRejected;
  if (!enforcer_) return crossing ? CandidateOutcome::kOverNoEnforcer : CandidateOutcome::kRejected;
  if (!push_order(key, entry, CutReason::kTooManyCandidates, entry.candidates)) {
    return crossing ? CandidateOutcome::kOverQueueFull : CandidateOutcome::kRejected;
  }
  return CandidateOutcome::kQueued;
}

void CandidateLedger::remote_sdp(const HandleKey& key) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  it->second.remote_sdp = true;
  it->second.pc = true;
  refresh(key, it->second);
}

void CandidateLedger::local_sdp(const HandleKey& key) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  it->second.local_sdp = true;
  it->second.pc = true;
  refresh(key, it->second);
}

void CandidateLedger::peerconnection_closed(const HandleKey& key) {
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    Entry& entry = it->second;
    entry.candidates = 0;
    entry.pc = false;
    entry.over = false;
    entry.remote_sdp = false;
    entry.local_sdp = false;
    refresh(key, entry);
  }
  changed_.notify_all();
}

// ---------------------------------------------------------------------------------------------
// enforcer

bool CandidateLedger::attach_enforcer() {
  std::lock_guard lock(mutex_);
  if (enforcer_) return false;
  enforcer_ = true;
  return true;
}

void CandidateLedger::detach_enforcer() {
  {
    std::lock_guard lock(mutex_);
    enforcer_ = false;
    queue_.clear();
  }
  changed_.notify_all();
}

std::optional<CutOrder> CandidateLedger::next_cut(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, wait, [this] { return !queue_.empty() || !enforcer_; });
  while (enforcer_ && !queue_.empty()) {
    CutOrder order = queue_.front();
    queue_.pop_front();
    auto it = entries_.find(order.key);
    if (it != entries_.end() && it->second.cut) return order;
  }
  return std::nullopt;
}

std::vector<CheckTarget> CandidateLedger::next_slice(CheckRound& round, std::size_t max) {
  std::vector<CheckTarget> out;
  max = std::min({max, round.left, kMaxSlice});
  if (max == 0) return out;
  out.reserve(max);  // outside the lock
  std::lock_guard lock(mutex_);
  if (unnegotiated_.empty()) {
    round.left = 0;
    return out;
  }
  auto it = unnegotiated_.upper_bound(round.started ? round.last : cursor_);
  if (!round.started) {
    if (it == unnegotiated_.end()) it = unnegotiated_.begin();
    round.started = true;
    round.first = *it;
  }
  while (out.size() < max) {
    if (it == unnegotiated_.end()) {
      if (round.wrapped) {  // `first` went meanwhile, and everything before it is listed
        round.left = 0;
        break;
      }
      round.wrapped = true;
      it = unnegotiated_.begin();
    }
    if (round.wrapped && !(*it < round.first)) {
      round.left = 0;  // back where the round began
      break;
    }
    const auto entry = entries_.find(*it);
    out.push_back({*it, entry != entries_.end() && entry->second.media});
    round.last = *it;
    ++it;
  }
  if (round.left != 0) round.left -= out.size();
  if (!out.empty()) cursor_ = round.last;
  longest_slice_ = std::max(longest_slice_, out.size());
  return out;
}

std::vector<CheckTarget> CandidateLedger::unnegotiated(std::size_t max) {
  std::vector<CheckTarget> out;
  CheckRound round = start_round(max);
  for (;;) {
    std::vector<CheckTarget> slice = next_slice(round, kMaxSlice);
    if (slice.empty()) return out;
    out.insert(out.end(), slice.begin(), slice.end());
  }
}

bool CandidateLedger::wait_hangup(const HandleKey& key, std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, wait, [&] {
    auto it = entries_.find(key);
    return it == entries_.end() || !it->second.pc || !enforcer_;
  });
}

bool CandidateLedger::queue_cut(const HandleKey& key, CutReason reason, std::uint64_t count) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.cut || !enforcer_) return false;
  return push_order(key, it->second, reason, count);
}

void CandidateLedger::count_cut(CutReason reason) noexcept {
  cut_[static_cast<std::size_t>(reason)]->Increment();
}

// ---------------------------------------------------------------------------------------------
// any thread

LedgerConfig CandidateLedger::config() const {
  std::lock_guard lock(mutex_);
  return config_;
}

bool CandidateLedger::fed() const {
  std::lock_guard lock(mutex_);
  return fed_;
}

bool CandidateLedger::enforced() const {
  std::lock_guard lock(mutex_);
  return enforcer_;
}

LedgerStats CandidateLedger::stats() const {
  LedgerStats stats;
  {
    std::lock_guard lock(mutex_);
    stats.config = config_;
    stats.fed = fed_;
    stats.enforced = enforcer_;
    stats.tracked = entries_.size();
    stats.unnegotiated = unnegotiated_.size();
    stats.queued = queue_.size();
    stats.longest_slice = longest_slice_;
  }
  stats.rejected = static_cast<std::uint64_t>(rejected_.Value());
  for (std::size_t i = 0; i < cut_.size(); ++i) {
    stats.cut[i] = static_cast<std::uint64_t>(cut_[i]->Value());
  }
  return stats;
}

// ---------------------------------------------------------------------------------------------
// under mutex_

bool CandidateLedger::in_scope(const Entry& entry) const {
  return config_.scope == CapScope::kAll || entry.media;
}

void CandidateLedger::refresh(const HandleKey& key, const Entry& entry) {
  const bool negotiated = entry.remote_sdp && entry.local_sdp;
  if (fed_ && config_.max_ice_candidates > 0 && in_scope(entry) && !negotiated && !entry.cut) {
    unnegotiated_.insert(key);
  } else {
    unnegotiated_.erase(key);
  }
}

bool CandidateLedger::push_order(const HandleKey& key, Entry& entry, CutReason reason,
                                 std::uint64_t count) {
  if (queue_.size() >= max_queue_) return false;
  queue_.push_back(CutOrder{.key = key,
                            .reason = reason,
                            .media = entry.media,
                            .count = count,
                            .queued_at = std::chrono::steady_clock::now()});
  entry.cut = true;
  refresh(key, entry);
  changed_.notify_all();
  return true;
}

void CandidateLedger::update_gauge() {
  tracked_gauge_.Set(static_cast<double>(entries_.size()));
}

CandidateLedger& candidate_ledger() {
  // Never destroyed, like registry(): a module thread may still use it during exit().
  static auto* const instance = new CandidateLedger(registry());
  return *instance;
}

}  // namespace jmedia::runtime
