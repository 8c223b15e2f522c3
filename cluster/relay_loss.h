// The receiver's loss tracking for one SSRC of a relay: gaps in the sequence numbers become
// missing packets, NACKed at most max_nacks times each, max_missing at once; a packet that
// arrives late or retransmitted fills its gap; a gap not filled in time is lost. Fixed memory
// (allocated at construction); used by the relay thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace jmedia::cluster {

struct LossOptions {
  std::size_t max_missing = 512;                // gaps tracked at once; a larger jump is a restart
  unsigned max_nacks = 3;                       // NACKs per missing packet
  std::chrono::milliseconds nack_delay{0};      // before the first NACK (reordering)
  std::chrono::milliseconds nack_interval{40};  // between NACKs of one packet
  std::chrono::milliseconds give_up{1000};      // the sender's history holds no older packet
};

class LossTracker {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Arrival {
    kInOrder,    // the next one, or ahead of it (the gap becomes missing)
    kRecovered,  // was missing and NACKed
    kReordered,  // was missing, not NACKed yet
    kOld,        // older than what is tracked, or a duplicate
    kRestart,    // a jump beyond max_missing: tracking starts again from it
  };

  explicit LossTracker(const LossOptions& options);

  // Forgets everything (for another SSRC), keeping its memory.
  void reset();
  Arrival on_packet(std::uint16_t seq, Clock::time_point now);
  // The missing packets due for a NACK at now (extended sequence numbers, ascending, at most
  // cap), each counted as NACKed once more; packets out of NACKs or time are dropped as lost.
  std::size_t due(Clock::time_point now, std::uint64_t* out, std::size_t cap);
  // When due() next has something to do; Clock::time_point::max() when nothing is missing.
  Clock::time_point next_due() const;

  bool started() const { return started_; }
  std::uint64_t highest() const { return highest_; }  // extended
  std::size_t missing() const { return count_; }
  std::uint64_t lost() const { return lost_; }
  // Packets expected since the first (highest - first + 1) and received (in order or filling a
  // gap), for receiver reports.
  std::uint64_t expected() const { return started_ ? highest_ - first_ + 1 : 0; }
  std::uint64_t received() const { return received_; }

 private:
  struct Missing {
    std::uint64_t seq = 0;  // extended
    Clock::time_point first_seen{};
    Clock::time_point next{};
    unsigned nacks = 0;
  };
  void add_missing(std::uint64_t seq, Clock::time_point now);
  void remove_at(std::size_t index);

  const LossOptions options_;
  std::vector<Missing> missing_;  // [0, count_) ascending by seq
  std::size_t count_ = 0;
  bool started_ = false;
  std::uint64_t first_ = 0;
  std::uint64_t highest_ = 0;
  std::uint64_t lost_ = 0;
  std::uint64_t received_ = 0;
};

}  // namespace jmedia::cluster
