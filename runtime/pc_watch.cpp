#include "pc_watch.h"

namespace jmedia::runtime {

void PcWatch::start_feeding() {
  std::lock_guard lock(mutex_);
  fed_ = true;
}

void PcWatch::stop_feeding() {
  std::lock_guard lock(mutex_);
  fed_ = false;
  phases_.clear();
}

void PcWatch::sdp(const HandleKey& key) {
  std::lock_guard lock(mutex_);
  if (!fed_) return;
  auto it = phases_.find(key);
  if (it == phases_.end()) {
    if (phases_.size() < max_tracked_) phases_.emplace(key, Entry{});
  } else if (it->second.phase == Phase::kClosed) {
    it->second = Entry{};
  }
}

void PcWatch::ice_active(const HandleKey& key) {
  std::lock_guard lock(mutex_);
  if (!fed_) return;
  auto it = phases_.find(key);
  if (it == phases_.end()) {
    if (phases_.size() >= max_tracked_) return;
    it = phases_.emplace(key, Entry{}).first;
  }
  it->second.active = true;
}

void PcWatch::settled(const HandleKey& key) {
  {
    std::lock_guard lock(mutex_);
    if (!fed_) return;
    auto it = phases_.find(key);
    if (it == phases_.end()) {
      if (phases_.size() >= max_tracked_) return;
      it = phases_.emplace(key, Entry{}).first;
    } else if (it->second.phase == Phase::kSettled) {
      return;  // a later pair (trickling) or a second component: told already
    }
    it->second.phase = Phase::kSettled;
  }
  tell(key);
}

void PcWatch::closed(const HandleKey& key) {
  {
    std::lock_guard lock(mutex_);
    if (!fed_) return;
    // Told even when untracked (its SDP not seen, or max_tracked): no PeerConnection is left.
    if (auto it = phases_.find(key); it != phases_.end()) {
      it->second.phase = Phase::kClosed;
      it->second.active = false;
    }
  }
  tell(key);
}

void PcWatch::detached(const HandleKey& key) {
  {
    std::lock_guard lock(mutex_);
    if (!fed_) return;
    phases_.erase(key);
  }
  tell(key);
}

bool PcWatch::set_listener(PcListener* listener) {
  std::lock_guard lock(listener_mutex_);
  if (listener_ != nullptr && listener_ != listener) return false;
  listener_ = listener;
  return true;
}

void PcWatch::clear_listener(PcListener* listener) {
  std::lock_guard lock(listener_mutex_);
  if (listener_ == listener) listener_ = nullptr;
}

bool PcWatch::fed() const {
  std::lock_guard lock(mutex_);
  return fed_;
}

bool PcWatch::is_settled(const HandleKey& key) const {
  std::lock_guard lock(mutex_);
  auto it = phases_.find(key);
  return it != phases_.end() && it->second.phase == Phase::kSettled;
}

bool PcWatch::is_quiet(const HandleKey& key) const {
  std::lock_guard lock(mutex_);
  if (!fed_) return false;
  auto it = phases_.find(key);
  return it != phases_.end() && it->second.phase == Phase::kNegotiating && !it->second.active;
}

std::size_t PcWatch::tracked() const {
  std::lock_guard lock(mutex_);
  return phases_.size();
}

void PcWatch::tell(const HandleKey& key) {
  std::lock_guard lock(listener_mutex_);
  if (listener_ != nullptr) listener_->settled(key);
}

PcWatch& pc_watch() {
  static auto* watch = new PcWatch();  // never destroyed (see runtime.h)
  return *watch;
}

}  // namespace jmedia::runtime
