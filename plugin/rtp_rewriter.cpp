#include "rtp_rewriter.h"

#include <cstring>
#include <random>

namespace jmedia {

std::uint32_t random_ssrc() {
  thread_local std::mt19937 generator{std::random_device{}()};
  std::uint32_t ssrc = 0;
  while (ssrc == 0) ssrc = generator();
  return ssrc;
}

namespace {

constexpr std::size_t kHeaderBytes = 12;

std::uint16_t read16(const char* p) {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(p[0]) << 8) |
                                    static_cast<unsigned char>(p[1]));
}
std::uint32_t read32(const char* p) {
  return (std::uint32_t{static_cast<unsigned char>(p[0])} << 24) |
         (std::uint32_t{static_cast<unsigned char>(p[1])} << 16) |
         (std::uint32_t{static_cast<unsigned char>(p[2])} << 8) |
         std::uint32_t{static_cast<unsigned char>(p[3])};
}
void write16(char* p, std::uint16_t v) {
  p[0] = static_cast<char>(v >> 8);
  p[1] = static_cast<char>(v & 0xff);
}
void write32(char* p, std::uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>((v >> 16) & 0xff);
  p[2] = static_cast<char>((v >> 8) & 0xff);
  p[3] = static_cast<char>(v & 0xff);
}

}  // namespace

bool RtpRewriter::rewrite(char* packet, std::size_t length) {
  if (packet == nullptr || length < kHeaderBytes) return false;
  const std::uint16_t seq = read16(packet + 2);
  const std::uint32_t timestamp = read32(packet + 4);
  const std::uint32_t ssrc = read32(packet + 8);
  const bool first = !started_;
  if (first) {
    // The first source maps onto itself: no offsets to apply.
    started_ = true;
    source_ssrc_ = ssrc;
  } else if (ssrc != source_ssrc_) {
    // A new source: continue right after the last packet we sent.
    source_ssrc_ = ssrc;
    seq_offset_ = static_cast<std::uint16_t>(last_seq_ + 1 - seq);
    timestamp_offset_ = last_timestamp_ + timestamp_step_ - timestamp;
  }
  const auto out_seq = static_cast<std::uint16_t>(seq + seq_offset_);
  const std::uint32_t out_timestamp = timestamp + timestamp_offset_;
  // Track the newest packet sent (modulo arithmetic: "newer" within half the space).
  if (first || static_cast<std::int16_t>(out_seq - last_seq_) > 0) {
    last_seq_ = out_seq;
    last_timestamp_ = out_timestamp;
  }
  write16(packet + 2, out_seq);
  write32(packet + 4, out_timestamp);
  write32(packet + 8, out_ssrc_);
  if (out_payload_type_ >= 0) {
    packet[1] = static_cast<char>((static_cast<unsigned char>(packet[1]) & 0x80) |
                                  (out_payload_type_ & 0x7f));
  }
  return true;
}

bool RtpRewriter::save(const char* packet, std::size_t length, Header& header) {
  if (packet == nullptr || length < kHeaderBytes) return false;
  std::memcpy(header.bytes, packet, kHeaderBytes);
  return true;
}

void RtpRewriter::restore(char* packet, const Header& header) {
  std::memcpy(packet, header.bytes, kHeaderBytes);
}

}  // namespace jmedia
