// The sender's retransmission history: the last packets of each SSRC of a relay, bounded by
// count and age, in memory allocated once (a byte arena shared by the streams, an index per
// stream), so that storing a packet on the media path never allocates.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace jmedia::cluster {

struct HistoryOptions {
  std::size_t streams = 4;               // SSRCs kept at once (audio, video, ...)
  std::size_t packets_per_stream = 512;  // rounded up to a power of two
  std::size_t arena_bytes = 1 << 20;     // shared by the streams
  std::chrono::milliseconds max_age{1000};
};

class RetransmissionHistory {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RetransmissionHistory(const HistoryOptions& options);

  // Keeps a copy of the plain RTP packet (its SSRC and sequence number are read from it). A
  // new SSRC with every stream slot taken replaces the stream stored to least recently.
  void store(const std::uint8_t* rtp, std::size_t len, Clock::time_point now);
  // Copies the packet (ssrc, seq) into out when it is still held (not older than max_age, not
  // overwritten): its length; 0 otherwise (or when cap is too small).
  std::size_t find(std::uint32_t ssrc, std::uint16_t seq, Clock::time_point now, std::uint8_t* out,
                   std::size_t cap) const;

 private:
  struct Entry {
    std::uint64_t position = 0;  // in the arena, counted from its start since creation
    Clock::time_point stored{};
    std::uint32_t length = 0;
    std::uint16_t seq = 0;
    bool valid = false;
  };
  struct Stream {
    std::uint32_t ssrc = 0;
    bool used = false;
    std::uint64_t last_store = 0;  // stores_ when last written: for replacement
    std::vector<Entry> entries;    // packets_per_stream, indexed by seq & mask_
  };

  const std::chrono::milliseconds max_age_;
  const std::size_t mask_;
  std::vector<std::uint8_t> arena_;
  std::uint64_t write_ = 0;  // where the next packet goes (absolute position)
  std::uint64_t stores_ = 0;
  std::vector<Stream> streams_;
};

}  // namespace jmedia::cluster
