// The RTCP that travels on a relay, read and written without Janus (whose RTCP helpers live in
// the janus executable): sender reports one way; generic NACK (RFC 4585), PLI, FIR and
// receiver reports the other. RTP and RTCP share the relay's port (RFC 5761).
#pragma once

#include <cstddef>
#include <cstdint>

namespace jmedia::cluster {

inline constexpr std::uint8_t kRtcpSenderReport = 200;
inline constexpr std::uint8_t kRtcpReceiverReport = 201;
inline constexpr std::uint8_t kRtcpTransportFeedback = 205;  // FMT 1: generic NACK
inline constexpr std::uint8_t kRtcpPayloadFeedback = 206;    // FMT 1: PLI, FMT 4: FIR

// RFC 5761 demultiplexing: the second byte (RTCP's packet type, or RTP's marker and payload
// type) in 192..223 is RTCP. Needs at least 2 bytes.
inline bool is_rtcp(const std::uint8_t* packet, std::size_t len) {
  return len >= 2 && packet[1] >= 192 && packet[1] <= 223;
}

// What parse_rtcp found, packet by packet of a compound.
class RtcpVisitor {
 public:
  // One FCI entry: pid and the bitmask of the 16 sequence numbers after it.
  virtual void on_nack(std::uint32_t sender_ssrc, std::uint32_t media_ssrc, std::uint16_t pid,
                       std::uint16_t blp) = 0;
  // A PLI (full_intra false: a decoder lost its way), or one FIR entry (true: a decoder starts
  // now, as a new viewer does, and must not be held back by a PLI rate limit).
  virtual void on_keyframe_request(std::uint32_t sender_ssrc, std::uint32_t media_ssrc,
                                   bool full_intra) = 0;
  // ntp: the 64-bit NTP timestamp.
  virtual void on_sender_report(std::uint32_t ssrc, std::uint64_t ntp, std::uint32_t rtp_ts) = 0;
  virtual void on_receiver_report(std::uint32_t ssrc) = 0;

 protected:
  ~RtcpVisitor() = default;
};

// Checks a whole compound first (version 2, every length within the buffer and a multiple of
// 4 bytes, the fixed part of each type read), then visits it. false, visiting nothing, when
// anything is wrong. Types not listed above are skipped.
bool parse_rtcp(const std::uint8_t* data, std::size_t len, RtcpVisitor& visitor);

// Writers: each returns the bytes written, 0 when cap is too small.
std::size_t write_pli(std::uint8_t* out, std::size_t cap, std::uint32_t sender_ssrc,
                      std::uint32_t media_ssrc);
// An FIR (RFC 5104 4.3.1) for media_ssrc; sequence: its command number, one more per request.
std::size_t write_fir(std::uint8_t* out, std::size_t cap, std::uint32_t sender_ssrc,
                      std::uint32_t media_ssrc, std::uint8_t sequence);

// A generic NACK for ext_seqs[0..count) (extended sequence numbers, ascending, no duplicates),
// with at most max_entries FCI entries; covered says how many of ext_seqs it names (a prefix).
std::size_t write_nack(std::uint8_t* out, std::size_t cap, std::uint32_t sender_ssrc,
                       std::uint32_t media_ssrc, const std::uint64_t* ext_seqs, std::size_t count,
                       std::size_t max_entries, std::size_t& covered);

struct ReportBlock {
  std::uint32_t ssrc = 0;
  std::uint8_t fraction_lost = 0;
  std::uint32_t cumulative_lost = 0;  // 24 bits are sent (saturated)
  std::uint32_t highest_seq = 0;      // extended
  std::uint32_t jitter = 0;
  std::uint32_t last_sr = 0;         // middle 32 bits of the last SR's NTP timestamp
  std::uint32_t delay_since_sr = 0;  // in 1/65536 s
};
// A receiver report with count blocks (at most 31).
std::size_t write_receiver_report(std::uint8_t* out, std::size_t cap, std::uint32_t sender_ssrc,
                                  const ReportBlock* blocks, std::size_t count);

}  // namespace jmedia::cluster
