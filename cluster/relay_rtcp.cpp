#include "relay_rtcp.h"

#include <algorithm>

namespace jmedia::cluster {
namespace {

std::uint16_t read16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t read32(const std::uint8_t* p) {
  return (static_cast<std::uint32_t>(p[0]) << 24) | (static_cast<std::uint32_t>(p[1]) << 16) |
         (static_cast<std::uint32_t>(p[2]) << 8) | p[3];
}
void write16(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
void write32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}
// Header of one RTCP packet of size bytes (a multiple of 4).
void write_header(std::uint8_t* p, std::uint8_t count_or_fmt, std::uint8_t type, std::size_t size) {
  p[0] = static_cast<std::uint8_t>(0x80 | (count_or_fmt & 0x1f));
  p[1] = type;
  write16(p + 2, static_cast<std::uint32_t>(size / 4 - 1));
}

// The smallest valid size of a packet of this type and count/FMT (0: skipped, any size).
std::size_t minimum_size(std::uint8_t type, std::uint8_t count) {
  switch (type) {
    case kRtcpSenderReport:
      return 28 + 24u * count;
    case kRtcpReceiverReport:
      return 8 + 24u * count;
    case kRtcpTransportFeedback:
      return count == 1 ? 16 : 0;  // a NACK has at least one FCI entry
    case kRtcpPayloadFeedback:
      if (count == 1) return 12;
      if (count == 4) return 20;
      return 0;
    default:
      return 0;
  }
}

void visit(const std::uint8_t* p, std::size_t size, RtcpVisitor& visitor) {
  const std::uint8_t count = p[0] & 0x1f;
  const std::uint8_t type = p[1];
  switch (type) {
    case kRtcpSenderReport: {
      const std::uint64_t ntp = (static_cast<std::uint64_t>(read32(p + 8)) << 32) | read32(p + 12);
      visitor.on_sender_report(read32(p + 4), ntp, read32(p + 16));
      break;
    }
    case kRtcpReceiverReport:
      visitor.on_receiver_report(read32(p + 4));
      break;
    case kRtcpTransportFeedback:
      if (count == 1) {
        for (std::size_t at = 12; at + 4 <= size; at += 4) {
          visitor.on_nack(read32(p + 4), read32(p + 8), read16(p + at), read16(p + at + 2));
        }
      }
      break;
    case kRtcpPayloadFeedback:
      if (count == 1) {
        visitor.on_keyframe_request(read32(p + 4), read32(p + 8), false);
      } else if (count == 4) {
        for (std::size_t at = 12; at + 8 <= size; at += 8) {
          visitor.on_keyframe_request(read32(p + 4), read32(p + at), true);
        }
      }
      break;
    default:
      break;
  }
}

}  // namespace

bool parse_rtcp(const std::uint8_t* data, std::size_t len, RtcpVisitor& visitor) {
  if (data == nullptr || len < 4) return false;
  for (std::size_t at = 0; at < len;) {
    if (len - at < 4) return false;
    const std::uint8_t* p = data + at;
    if ((p[0] >> 6) != 2) return false;
    const std::size_t size = (static_cast<std::size_t>(read16(p + 2)) + 1) * 4;
    if (size > len - at) return false;
    const std::uint8_t count = p[0] & 0x1f;
    if (size < minimum_size(p[1], count)) return false;
    // Padding is allowed on the last packet only (RFC 3550 6.4.1).
    if ((p[0] & 0x20) != 0 && at + size != len) return false;
    at += size;
  }
  for (std::size_t at = 0; at < len;) {
    const std::size_t size = (static_cast<std::size_t>(read16(data + at + 2)) + 1) * 4;
    visit(data + at, size, visitor);
    at += size;
  }
  return true;
}

std::size_t write_pli(std::uint8_t* out, std::size_t cap, std::uint32_t sender_ssrc,
                      std::uint32_t media_ssrc) {
  constexpr std::size_t kSize = 12;
  if (out == nullptr || cap < kSize) return 0;
  write_header(out, 1, kRtcpPayloadFeedback, kSize);
  write32(out + 4, sender_ssrc);
  write32(out + 8, media_ssrc);
  return kSize;
}

std::size_t write_fir(std::uint8_t* out, std::size_t cap, std::uint32_t sender_ssrc,
                      std::uint32_t media_ssrc, std::uint8_t sequence) {
  constexpr std::size_t kSize = 20;
  if (out == nullptr || cap < kSize) return 0;
  write_header(out, 4, kRtcpPayloadFeedback, kSize);
  write32(out + 4, sender_ssrc);
  write32(out + 8, 0);  // RFC 5104: the media source SSRC is unused; the FCI names it
  write32(out + 12, media_ssrc);
  write32(out + 16, static_cast<std::uint32_t>(sequence) << 24);
  return kSize;
}

std::size_t write_nack(std::uint8_t* out, std::size_t cap, std::uint32_t sender_ssrc,
                       std::uint32_t media_ssrc, const std::uint64_t* ext_seqs, std::size_t count,
                       std::size_t max_entries, std::size_t& covered) {
  covered = 0;
  if (out == nullptr || count == 0 || max_entries == 0 || cap < 16) return 0;
  const std::size_t entries_fit =
      std::min(max_entries, (std::min<std::size_t>(cap, 1024) - 12) / 4);
  std::size_t size = 12;
  std::size_t i = 0;
  for (std::size_t entries = 0; i < count && entries < entries_fit; ++entries) {
    const std::uint64_t pid = ext_seqs[i++];
    std::uint16_t blp = 0;
    while (i < count && ext_seqs[i] > pid && ext_seqs[i] - pid <= 16) {
      blp = static_cast<std::uint16_t>(blp | (1u << (ext_seqs[i] - pid - 1)));
      ++i;
    }
    write16(out + size, static_cast<std::uint32_t>(pid & 0xffff));
    write16(out + size + 2, blp);
    size += 4;
  }
  write_header(out, 1, kRtcpTransportFeedback, size);
  write32(out + 4, sender_ssrc);
  write32(out + 8, media_ssrc);
  covered = i;
  return size;
}

std::size_t write_receiver_report(std::uint8_t* out, std::size_t cap, std::uint32_t sender_ssrc,
                                  const ReportBlock* blocks, std::size_t count) {
  if (count > 31) return 0;
  const std::size_t size = 8 + 24 * count;
  if (out == nullptr || cap < size) return 0;
  write_header(out, static_cast<std::uint8_t>(count), kRtcpReceiverReport, size);
  write32(out + 4, sender_ssrc);
  for (std::size_t i = 0; i < count; ++i) {
    std::uint8_t* b = out + 8 + 24 * i;
    const ReportBlock& block = blocks[i];
    write32(b, block.ssrc);
    write32(b + 4, (static_cast<std::uint32_t>(block.fraction_lost) << 24) |
                       std::min<std::uint32_t>(block.cumulative_lost, 0x7fffff));
    write32(b + 8, block.highest_seq);
    write32(b + 12, block.jitter);
    write32(b + 16, block.last_sr);
    write32(b + 20, block.delay_since_sr);
  }
  return size;
}

}  // namespace jmedia::cluster
