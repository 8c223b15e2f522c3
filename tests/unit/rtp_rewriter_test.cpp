#include <gtest/gtest.h>

#include <array>
#include <cstdint>

#include "../../plugin/rtp_rewriter.h"

namespace jmedia {
namespace {

struct Packet {
  std::array<char, 20> bytes{};
  Packet(std::uint16_t seq, std::uint32_t ts, std::uint32_t ssrc, int pt = 96) {
    bytes[0] = static_cast<char>(0x80);
    bytes[1] = static_cast<char>(pt);
    bytes[2] = static_cast<char>(seq >> 8);
    bytes[3] = static_cast<char>(seq & 0xff);
    for (int i = 0; i < 4; ++i) bytes[4 + i] = static_cast<char>(ts >> (24 - 8 * i));
    for (int i = 0; i < 4; ++i) bytes[8 + i] = static_cast<char>(ssrc >> (24 - 8 * i));
  }
  std::uint16_t seq() const {
    return static_cast<std::uint16_t>((static_cast<unsigned char>(bytes[2]) << 8) |
                                      static_cast<unsigned char>(bytes[3]));
  }
  std::uint32_t u32(int at) const {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
    return v;
  }
  std::uint32_t ts() const { return u32(4); }
  std::uint32_t ssrc() const { return u32(8); }
  int pt() const { return static_cast<unsigned char>(bytes[1]) & 0x7f; }
  bool marker() const { return (static_cast<unsigned char>(bytes[1]) & 0x80) != 0; }
};

TEST(RtpRewriter, FirstSourcePassesThroughWithOurSsrc) {
  RtpRewriter rewriter(0xABCD, 3000);
  Packet p(100, 5000, 0x1111);
  ASSERT_TRUE(rewriter.rewrite(p.bytes.data(), p.bytes.size()));
  EXPECT_EQ(p.seq(), 100);
  EXPECT_EQ(p.ts(), 5000u);
  EXPECT_EQ(p.ssrc(), 0xABCDu);
}

TEST(RtpRewriter, NewSourceContinuesSequenceAndTimestamp) {
  RtpRewriter rewriter(42, 3000);
  for (std::uint16_t i = 0; i < 10; ++i) {
    Packet p(static_cast<std::uint16_t>(65530 + i), 1000 + i * 3000u, 7);
    rewriter.rewrite(p.bytes.data(), p.bytes.size());
  }
  // Last sent: seq 65530+9 wraps to 3, ts 28000. A new publisher starts elsewhere entirely.
  Packet next(20000, 900000, 8);
  rewriter.rewrite(next.bytes.data(), next.bytes.size());
  EXPECT_EQ(next.seq(), 4);
  EXPECT_EQ(next.ts(), 28000u + 3000u);
  EXPECT_EQ(next.ssrc(), 42u);
  Packet after(20001, 903000, 8);
  rewriter.rewrite(after.bytes.data(), after.bytes.size());
  EXPECT_EQ(after.seq(), 5);
  EXPECT_EQ(after.ts(), 34000u);
}

TEST(RtpRewriter, ReorderedPacketsDoNotMoveTheBase) {
  RtpRewriter rewriter(1, 960);
  Packet a(10, 100, 5), b(12, 300, 5), late(11, 200, 5);
  rewriter.rewrite(a.bytes.data(), a.bytes.size());
  rewriter.rewrite(b.bytes.data(), b.bytes.size());
  rewriter.rewrite(late.bytes.data(), late.bytes.size());
  Packet other(500, 7, 6);
  rewriter.rewrite(other.bytes.data(), other.bytes.size());
  EXPECT_EQ(other.seq(), 13);
  EXPECT_EQ(other.ts(), 300u + 960u);
}

TEST(RtpRewriter, PayloadTypeIsMappedAndMarkerKept) {
  RtpRewriter rewriter(1, 3000);
  rewriter.set_payload_type(100);
  Packet p(1, 1, 1, 96 | 0x80);
  rewriter.rewrite(p.bytes.data(), p.bytes.size());
  EXPECT_EQ(p.pt(), 100);
  EXPECT_TRUE(p.marker());
}

TEST(RtpRewriter, ShortPacketsAreLeftAlone) {
  RtpRewriter rewriter(1, 3000);
  char tiny[11] = {};
  EXPECT_FALSE(rewriter.rewrite(tiny, sizeof tiny));
  RtpRewriter::Header header;
  EXPECT_FALSE(RtpRewriter::save(tiny, sizeof tiny, header));
}

TEST(RtpRewriter, SaveAndRestoreKeepTheSourcePacketIntact) {
  RtpRewriter rewriter(99, 3000);
  Packet p(7, 8, 9);
  const auto original = p.bytes;
  RtpRewriter::Header header;
  ASSERT_TRUE(RtpRewriter::save(p.bytes.data(), p.bytes.size(), header));
  rewriter.rewrite(p.bytes.data(), p.bytes.size());
  EXPECT_NE(p.bytes, original);
  RtpRewriter::restore(p.bytes.data(), header);
  EXPECT_EQ(p.bytes, original);
}

}  // namespace
}  // namespace jmedia
