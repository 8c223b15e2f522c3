// Keeps one outgoing RTP stream continuous for a viewer while its source changes (a new
// publisher for the device, or the publisher's SSRC changing): the viewer always sees one
// SSRC, one payload type, and sequence numbers and timestamps that carry on from the last
// packet it got. Works on the raw header bytes; touched by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>

namespace jmedia {

// A random SSRC for a new outgoing stream (never 0).
std::uint32_t random_ssrc();

class RtpRewriter {
 public:
  // timestamp_step: how far the timestamp moves across a source change (one frame).
  RtpRewriter(std::uint32_t out_ssrc, std::uint32_t timestamp_step)
      : out_ssrc_(out_ssrc), timestamp_step_(timestamp_step) {}

  void set_payload_type(int payload_type) { out_payload_type_ = payload_type; }
  std::uint32_t ssrc() const { return out_ssrc_; }

  // Rewrites seq, timestamp, SSRC (and payload type when set) in place. False (packet left
  // untouched) when it is too short to be RTP.
  bool rewrite(char* packet, std::size_t length);

  // Saved and restored around a rewrite so that the source's own packet stays intact for
  // the next viewer and for the core's statistics.
  struct Header {
    unsigned char bytes[12];
  };
  static bool save(const char* packet, std::size_t length, Header& header);
  static void restore(char* packet, const Header& header);

 private:
  const std::uint32_t out_ssrc_;
  const std::uint32_t timestamp_step_;
  int out_payload_type_ = -1;
  bool started_ = false;
  std::uint32_t source_ssrc_ = 0;
  std::uint16_t seq_offset_ = 0;
  std::uint32_t timestamp_offset_ = 0;
  std::uint16_t last_seq_ = 0;
  std::uint32_t last_timestamp_ = 0;
};

}  // namespace jmedia
