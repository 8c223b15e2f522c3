#include "relay_history.h"

#include <algorithm>
#include <cstring>

namespace jmedia::cluster {
namespace {

std::size_t power_of_two_at_least(std::size_t n) {
  std::size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

std::uint32_t read_ssrc(const std::uint8_t* rtp) {
  return (static_cast<std::uint32_t>(rtp[8]) << 24) | (static_cast<std::uint32_t>(rtp[9]) << 16) |
         (static_cast<std::uint32_t>(rtp[10]) << 8) | rtp[11];
}

}  // namespace

RetransmissionHistory::RetransmissionHistory(const HistoryOptions& options)
    : max_age_(options.max_age),
      mask_(power_of_two_at_least(std::max<std::size_t>(options.packets_per_stream, 1)) - 1),
      arena_(std::max<std::size_t>(options.arena_bytes, 4096)),
      streams_(std::max<std::size_t>(options.streams, 1)) {
  for (Stream& stream : streams_) stream.entries.resize(mask_ + 1);
}

void RetransmissionHistory::store(const std::uint8_t* rtp, std::size_t len, Clock::time_point now) {
  // A packet bigger than a quarter of the arena would push out too much of the others.
  if (len < 12 || len > arena_.size() / 4) return;
  const std::uint32_t ssrc = read_ssrc(rtp);
  const auto seq = static_cast<std::uint16_t>((rtp[2] << 8) | rtp[3]);
  Stream* stream = nullptr;
  for (Stream& candidate : streams_) {
    if (candidate.used && candidate.ssrc == ssrc) {
      stream = &candidate;
      break;
    }
  }
  if (stream == nullptr) {
    stream =
        &*std::min_element(streams_.begin(), streams_.end(), [](const Stream& a, const Stream& b) {
          return (a.used ? a.last_store + 1 : 0) < (b.used ? b.last_store + 1 : 0);
        });
    stream->ssrc = ssrc;
    stream->used = true;
    for (Entry& entry : stream->entries) entry.valid = false;
  }
  const std::size_t size = arena_.size();
  auto offset = static_cast<std::size_t>(write_ % size);
  if (offset + len > size) {  // packets never wrap: the tail of the arena is skipped
    write_ += size - offset;
    offset = 0;
  }
  std::memcpy(arena_.data() + offset, rtp, len);
  Entry& entry = stream->entries[seq & mask_];
  entry.position = write_;
  entry.stored = now;
  entry.length = static_cast<std::uint32_t>(len);
  entry.seq = seq;
  entry.valid = true;
  write_ += len;
  stream->last_store = ++stores_;
}

std::size_t RetransmissionHistory::find(std::uint32_t ssrc, std::uint16_t seq,
                                        Clock::time_point now, std::uint8_t* out,
                                        std::size_t cap) const {
  for (const Stream& stream : streams_) {
    if (!stream.used || stream.ssrc != ssrc) continue;
    const Entry& entry = stream.entries[seq & mask_];
    if (!entry.valid || entry.seq != seq || entry.length > cap) return 0;
    if (now - entry.stored > max_age_) return 0;
    // Overwritten once the writer went a whole arena past its start.
    if (write_ > entry.position + arena_.size()) return 0;
    std::memcpy(out, arena_.data() + entry.position % arena_.size(), entry.length);
    return entry.length;
  }
  return 0;
}

}  // namespace jmedia::cluster
