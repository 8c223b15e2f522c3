#include "relay_loss.h"

#include <algorithm>

namespace jmedia::cluster {

LossTracker::LossTracker(const LossOptions& options)
    : options_(options), missing_(std::max<std::size_t>(options.max_missing, 1)) {}

void LossTracker::reset() {
  count_ = 0;
  started_ = false;
  first_ = highest_ = lost_ = received_ = 0;
}

void LossTracker::add_missing(std::uint64_t seq, Clock::time_point now) {
  if (count_ == missing_.size()) {  // the oldest gives way
    remove_at(0);
    ++lost_;
  }
  missing_[count_++] = Missing{seq, now, now + options_.nack_delay, 0};
}

void LossTracker::remove_at(std::size_t index) {
  std::move(missing_.begin() + static_cast<std::ptrdiff_t>(index) + 1,
            missing_.begin() + static_cast<std::ptrdiff_t>(count_),
            missing_.begin() + static_cast<std::ptrdiff_t>(index));
  --count_;
}

LossTracker::Arrival LossTracker::on_packet(std::uint16_t seq, Clock::time_point now) {
  if (!started_) {
    started_ = true;
    // One cycle up, so that packets from just before the first one still have an index.
    highest_ = first_ = (std::uint64_t{1} << 16) + seq;
    received_ = 1;
    return Arrival::kInOrder;
  }
  const auto delta = static_cast<std::int16_t>(static_cast<std::uint16_t>(seq - highest_));
  if (delta > 0) {
    const std::uint64_t ext = highest_ + static_cast<std::uint64_t>(delta);
    if (static_cast<std::size_t>(delta) - 1 > missing_.size()) {
      lost_ += count_;
      count_ = 0;
      first_ = highest_ = ext;
      received_ = 1;
      return Arrival::kRestart;
    }
    for (std::uint64_t gap = highest_ + 1; gap < ext; ++gap) add_missing(gap, now);
    highest_ = ext;
    ++received_;
    return Arrival::kInOrder;
  }
  const auto back = static_cast<std::uint64_t>(-static_cast<std::int32_t>(delta));
  if (back > highest_) return Arrival::kOld;
  const std::uint64_t ext = highest_ - back;
  const auto end = missing_.begin() + static_cast<std::ptrdiff_t>(count_);
  const auto found = std::lower_bound(missing_.begin(), end, ext,
                                      [](const Missing& m, std::uint64_t s) { return m.seq < s; });
  if (found == end || found->seq != ext) return Arrival::kOld;
  const bool nacked = found->nacks > 0;
  remove_at(static_cast<std::size_t>(found - missing_.begin()));
  ++received_;
  return nacked ? Arrival::kRecovered : Arrival::kReordered;
}

std::size_t LossTracker::due(Clock::time_point now, std::uint64_t* out, std::size_t cap) {
  std::size_t written = 0;
  std::size_t kept = 0;
  for (std::size_t i = 0; i < count_; ++i) {
    Missing entry = missing_[i];
    if (entry.next <= now) {
      if (entry.nacks >= options_.max_nacks || now - entry.first_seen >= options_.give_up) {
        ++lost_;
        continue;  // dropped
      }
      if (written < cap) {
        out[written++] = entry.seq;
        ++entry.nacks;
        entry.next = now + options_.nack_interval;
      }
    }
    missing_[kept++] = entry;
  }
  count_ = kept;
  return written;
}

LossTracker::Clock::time_point LossTracker::next_due() const {
  Clock::time_point next = Clock::time_point::max();
  for (std::size_t i = 0; i < count_; ++i) next = std::min(next, missing_[i].next);
  return next;
}

}  // namespace jmedia::cluster
