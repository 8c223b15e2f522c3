#include "hold_queue.h"

#include <vector>

#include "../common/abi_guard.h"

namespace jmedia::edge {
namespace {

bool hold_worthy(Verb verb) {
  return verb == Verb::kHangup || verb == Verb::kDetach;
}

}  // namespace

HoldQueue::HoldQueue(HoldOptions options, runtime::PcWatch* watch)
    // A watch that tells another listener would never tell this one: as without one.
    : options_(options), watch_(watch != nullptr && watch->set_listener(this) ? watch : nullptr) {}

HoldQueue::~HoldQueue() {
  if (watch_ != nullptr) watch_->clear_listener(this);
  stop();
}

void HoldQueue::negotiating(const runtime::HandleKey& key) {
  if (options_.timeout.count() == 0 || key.handle_id == 0) return;
  // A new offer on a PeerConnection whose first pair is selected already: nothing to lose.
  if (watch_ != nullptr && watch_->fed() && watch_->is_settled(key)) return;
  Shard& s = shard(key.session_id);
  std::lock_guard lock(s.mutex);
  auto it = s.entries.find(key);
  if (it == s.entries.end()) {
    if (tracked_.load(std::memory_order_relaxed) >= options_.max_tracked) return;
    it = s.entries.emplace(key, Entry{}).first;
    tracked_.fetch_add(1, std::memory_order_relaxed);
  }
  if (!it->second.negotiating) {
    it->second.since = Clock::now();
    it->second.client_candidates = false;
  }
  it->second.negotiating = true;
  it->second.ready_at = Clock::time_point::max();
}

void HoldQueue::client_candidates(const runtime::HandleKey& key) {
  if (tracked_.load(std::memory_order_acquire) == 0) return;
  Shard& s = shard(key.session_id);
  std::lock_guard lock(s.mutex);
  auto it = s.entries.find(key);
  if (it != s.entries.end() && it->second.negotiating) it->second.client_candidates = true;
}

void HoldQueue::settle(Shard& s, const runtime::HandleKey& key, Clock::time_point now) {
  auto it = s.entries.find(key);
  if (it == s.entries.end()) return;
  Entry& entry = it->second;
  entry.negotiating = false;
  if (entry.items.empty() && !entry.releasing) {
    erase_if_idle(s, key);
    return;
  }
  if (entry.ready_at == Clock::time_point::max()) entry.ready_at = now + options_.grace;
  wake();
}

void HoldQueue::erase_if_idle(Shard& s, const runtime::HandleKey& key) {
  auto it = s.entries.find(key);
  if (it == s.entries.end()) return;
  const Entry& entry = it->second;
  if (entry.negotiating || entry.releasing || !entry.items.empty()) return;
  s.entries.erase(it);
  tracked_.fetch_sub(1, std::memory_order_relaxed);
}

void HoldQueue::signal(const runtime::HandleKey& key, PcSignal what) {
  if (held_.load(std::memory_order_acquire) == 0 && tracked_.load(std::memory_order_acquire) == 0) {
    return;
  }
  (void)what;  // each of them ends the danger: a pair was selected, or no PeerConnection is left
  Shard& s = shard(key.session_id);
  std::lock_guard lock(s.mutex);
  settle(s, key, Clock::now());
}

void HoldQueue::settled(const runtime::HandleKey& key) noexcept {
  guarded_void("edge hold: settled", [&] {
    Shard& s = shard(key.session_id);
    std::lock_guard lock(s.mutex);
    settle(s, key, Clock::now());
  });
}

void HoldQueue::session_gone(std::uint64_t session_id) {
  if (tracked_.load(std::memory_order_acquire) == 0) return;
  Shard& s = shard(session_id);
  std::lock_guard lock(s.mutex);
  const Clock::time_point now = Clock::now();
  std::vector<runtime::HandleKey> keys;
  for (const auto& [key, entry] : s.entries) {
    if (key.session_id == session_id) keys.push_back(key);
  }
  // Whatever is held goes now (the core answers it with an error): nothing is left to protect.
  for (const runtime::HandleKey& key : keys) {
    auto it = s.entries.find(key);
    if (it == s.entries.end()) continue;
    it->second.negotiating = false;
    if (!it->second.items.empty()) {
      it->second.ready_at = now;
      it->second.deadline = now;
      wake();
    }
    erase_if_idle(s, key);
  }
}

HoldQueue::Verdict HoldQueue::admit(const runtime::HandleKey& key, Verb verb, Clock::time_point now,
                                    Forward& forward) {
  if (options_.timeout.count() == 0 || key.session_id == 0) return Verdict::kForward;
  const bool destroy = verb == Verb::kDestroy && key.handle_id == 0;
  if (!hold_worthy(verb) && !destroy && held_.load(std::memory_order_acquire) == 0) {
    return Verdict::kForward;
  }
  if (key.handle_id == 0 && !destroy) return Verdict::kForward;
  Shard& s = shard(key.session_id);
  std::lock_guard lock(s.mutex);
  auto it = s.entries.find(key);
  const bool queued = it != s.entries.end() && (it->second.releasing || !it->second.items.empty());
  if (!queued) {
    if (destroy) {
      auto held = s.sessions_held.find(key.session_id);
      if (held == s.sessions_held.end() || held->second == 0) return Verdict::kForward;
    } else {
      if (it == s.entries.end() || !it->second.negotiating || !hold_worthy(verb)) {
        return Verdict::kForward;
      }
      // Without the event handler, nothing reports the first pair of a PeerConnection that the
      // hangup ends: the hangup goes, the detach waits for its hangup event.
      const bool fed = this->fed();
      if (!fed && (verb != Verb::kDetach || !it->second.client_candidates)) {
        return Verdict::kForward;
      }
      if (fed && watch_->is_settled(key)) {
        it->second.negotiating = false;
        return Verdict::kForward;
      }
      // No ICE activity reported since the SDP (events thread lag: `grace` after the offer).
      if (fed && !it->second.client_candidates && watch_->is_quiet(key) &&
          now >= it->second.since + options_.grace) {
        return Verdict::kForward;
      }
    }
  }
  if (queued && it->second.items.size() >= options_.max_per_handle) return Verdict::kFull;
  if (held_.load(std::memory_order_relaxed) >= options_.max_total) return Verdict::kFull;
  if (it == s.entries.end()) {
    // A destroy's entry: not counted as a tracked negotiation (bounded by max_total).
    it = s.entries.emplace(key, Entry{}).first;
    tracked_.fetch_add(1, std::memory_order_relaxed);
  }
  Entry& entry = it->second;
  if (entry.items.empty()) {
    entry.deadline = now + options_.timeout;
    entry.quiet = key.handle_id != 0 && !entry.client_candidates && fed() && watch_->is_quiet(key);
    if (key.handle_id != 0 && !entry.releasing) ++s.sessions_held[key.session_id];
  }
  entry.items.push_back(Held{verb, std::move(forward)});
  held_.fetch_add(1, std::memory_order_release);
  wake();
  return Verdict::kHeld;
}

bool HoldQueue::due(const Shard& s, const runtime::HandleKey& key, Entry& entry,
                    Clock::time_point now) {
  if (entry.items.empty() || entry.releasing) return false;
  if (now >= entry.deadline) return true;
  if (key.handle_id == 0) {
    // A session's destroy: once none of its handles holds anything.
    auto held = s.sessions_held.find(key.session_id);
    return held == s.sessions_held.end() || held->second == 0;
  }
  if (entry.negotiating && entry.quiet && now >= entry.since + options_.grace) {
    // Still no ICE activity: nothing will select a pair (under the shard's mutex: the watch's
    // own mutex comes after it). Activity meanwhile: held until the pair or the timeout.
    entry.quiet = false;
    if (watch_->is_quiet(key)) return true;
  }
  return !entry.negotiating && now >= entry.ready_at;
}

std::size_t HoldQueue::drain(const runtime::HandleKey& key, bool timed_out) {
  Shard& s = shard(key.session_id);
  std::size_t forwarded = 0;
  bool first = true;
  for (;;) {
    Held held;
    {
      std::lock_guard lock(s.mutex);
      auto it = s.entries.find(key);
      if (it == s.entries.end()) return forwarded;
      Entry& entry = it->second;
      if (entry.items.empty()) {
        entry.releasing = false;
        // Forwarded the lot: the handle's negotiation is over for the edge either way (the
        // timeout, or it settled).
        entry.negotiating = false;
        entry.ready_at = Clock::time_point::max();
        if (key.handle_id != 0) {
          auto count = s.sessions_held.find(key.session_id);
          if (count != s.sessions_held.end() && --count->second == 0) {
            s.sessions_held.erase(count);
            wake();  // a destroy may wait for it
          }
        }
        erase_if_idle(s, key);
        return forwarded;
      }
      held = std::move(entry.items.front());
      entry.items.pop_front();
    }
    held_.fetch_sub(1, std::memory_order_release);
    if (first && timed_out) {
      const std::uint64_t total = timeouts_.fetch_add(1, std::memory_order_relaxed) + 1;
      if (timeout_log_) timeout_log_(key, held.verb, total);
    }
    first = false;
    guarded_void("edge hold: forward", [&] { held.forward(); });
    ++forwarded;
  }
}

std::size_t HoldQueue::release_due(Clock::time_point now) {
  if (held_.load(std::memory_order_acquire) == 0) return 0;
  std::size_t forwarded = 0;
  // Handles first, then the destroys that waited for them (a second pass sees them due).
  for (int pass = 0; pass < 2; ++pass) {
    for (Shard& s : shards_) {
      std::vector<std::pair<runtime::HandleKey, bool>> ready;
      {
        std::lock_guard lock(s.mutex);
        for (auto& [key, entry] : s.entries) {
          if (!due(s, key, entry, now)) continue;
          const bool timed_out =
              now >= entry.deadline && (key.handle_id == 0 ? false : entry.negotiating);
          entry.releasing = true;
          ready.emplace_back(key, timed_out);
        }
      }
      for (const auto& [key, timed_out] : ready) forwarded += drain(key, timed_out);
    }
  }
  return forwarded;
}

std::size_t HoldQueue::release_all() {
  return release_due(Clock::time_point::max());
}

bool HoldQueue::is_negotiating(const runtime::HandleKey& key) {
  Shard& s = shard(key.session_id);
  std::lock_guard lock(s.mutex);
  auto it = s.entries.find(key);
  return it != s.entries.end() && it->second.negotiating;
}

void HoldQueue::wake() {
  {
    std::lock_guard lock(wake_mutex_);
    woken_ = true;
  }
  wake_cv_.notify_one();
}

void HoldQueue::start() {
  std::lock_guard lock(wake_mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = guarded_thread("edge hold", "jm-edge-hold", [this] { run(); });
}

void HoldQueue::stop() noexcept {
  {
    std::lock_guard lock(wake_mutex_);
    if (!thread_.joinable()) return;
    stopping_ = true;
  }
  wake_cv_.notify_one();
  thread_.join();
}

void HoldQueue::run() noexcept {
  // Polls while something is held (a grace or a timeout runs out without a wake-up), sleeps
  // otherwise. 20 ms: a small share of the 50 ms grace and of the 3 s timeout.
  constexpr auto kPoll = std::chrono::milliseconds(20);
  std::unique_lock lock(wake_mutex_);
  while (!stopping_) {
    if (held_.load(std::memory_order_acquire) == 0) {
      wake_cv_.wait(lock, [this] { return stopping_ || woken_; });
    } else {
      wake_cv_.wait_for(lock, kPoll, [this] { return stopping_ || woken_; });
    }
    woken_ = false;
    if (stopping_) break;
    lock.unlock();
    guarded_void("edge hold", [this] { release_due(Clock::now()); });
    lock.lock();
  }
}

}  // namespace jmedia::edge
