#include "limits.h"

namespace jmedia::edge {

bool ConnectionCounter::open(const std::string& ip) {
  std::lock_guard lock(mutex_);
  if (total_ >= max_total_) return false;
  std::uint32_t& mine = per_ip_[ip];
  if (mine >= max_per_ip_) {
    if (mine == 0) per_ip_.erase(ip);
    return false;
  }
  ++mine;
  ++total_;
  return true;
}

void ConnectionCounter::close(const std::string& ip) {
  std::lock_guard lock(mutex_);
  auto it = per_ip_.find(ip);
  if (it == per_ip_.end() || it->second == 0) return;
  if (--it->second == 0) per_ip_.erase(it);
  if (total_ > 0) --total_;
}

std::uint32_t ConnectionCounter::total() const {
  std::lock_guard lock(mutex_);
  return total_;
}

std::uint32_t ConnectionCounter::from(const std::string& ip) const {
  std::lock_guard lock(mutex_);
  auto it = per_ip_.find(ip);
  return it == per_ip_.end() ? 0 : it->second;
}

}  // namespace jmedia::edge
