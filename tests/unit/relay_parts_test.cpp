// The relays' pure parts: RTCP reading and writing, the sender's retransmission history, the
// receiver's loss tracking.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "../../cluster/relay_history.h"
#include "../../cluster/relay_loss.h"
#include "../../cluster/relay_rtcp.h"

namespace jmedia::cluster {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Seen final : RtcpVisitor {
  void on_nack(std::uint32_t sender, std::uint32_t media, std::uint16_t pid,
               std::uint16_t blp) override {
    senders.insert(sender);
    medias.insert(media);
    seqs.insert(pid);
    for (unsigned bit = 0; bit < 16; ++bit) {
      if ((blp >> bit) & 1u) seqs.insert(static_cast<std::uint16_t>(pid + bit + 1));
    }
  }
  void on_keyframe_request(std::uint32_t, std::uint32_t media, bool full_intra) override {
    keyframes.push_back(media);
    full_intras.push_back(full_intra);
  }
  void on_sender_report(std::uint32_t ssrc, std::uint64_t ntp, std::uint32_t) override {
    sr_ssrc = ssrc;
    sr_ntp = ntp;
  }
  void on_receiver_report(std::uint32_t ssrc) override { rr_ssrc = ssrc; }
  std::set<std::uint32_t> senders, medias;
  std::set<std::uint16_t> seqs;
  std::vector<std::uint32_t> keyframes;
  std::vector<bool> full_intras;
  std::uint32_t sr_ssrc = 0, rr_ssrc = 0;
  std::uint64_t sr_ntp = 0;
};

TEST(ClusterRelayRtcp, NackRoundTripAcrossTheWrap) {
  // 65534, 65535, 0, 1 and 40: extended numbers over a wrap, two FCI entries.
  const std::vector<std::uint64_t> ext = {0x1fffe, 0x1ffff, 0x20000, 0x20001, 0x20028};
  std::uint8_t out[200];
  std::size_t covered = 0;
  const std::size_t len = write_nack(out, sizeof out, 7, 9, ext.data(), ext.size(), 64, covered);
  ASSERT_EQ(covered, ext.size());
  EXPECT_EQ(len, 12u + 2 * 4);
  Seen seen;
  ASSERT_TRUE(parse_rtcp(out, len, seen));
  EXPECT_EQ(seen.seqs, (std::set<std::uint16_t>{65534, 65535, 0, 1, 40}));
  EXPECT_EQ(seen.senders, std::set<std::uint32_t>{7});
  EXPECT_EQ(seen.medias, std::set<std::uint32_t>{9});
}

TEST(ClusterRelayRtcp, NackEntriesAreBounded) {
  std::vector<std::uint64_t> ext;
  for (std::uint64_t s = 0; s < 100; ++s) ext.push_back(1000 + s * 20);  // one entry each
  std::uint8_t out[1500];
  std::size_t covered = 0;
  const std::size_t len = write_nack(out, sizeof out, 1, 2, ext.data(), ext.size(), 64, covered);
  EXPECT_EQ(covered, 64u);
  EXPECT_EQ(len, 12u + 64 * 4);
}

TEST(ClusterRelayRtcp, CompoundOfReportsAndFeedback) {
  std::uint8_t out[300];
  ReportBlock block;
  block.ssrc = 0x1234;
  std::size_t len = write_receiver_report(out, sizeof out, 0x55, &block, 1);
  ASSERT_EQ(len, 32u);
  len += write_pli(out + len, sizeof out - len, 0x55, 0x1234);
  Seen seen;
  ASSERT_TRUE(parse_rtcp(out, len, seen));
  EXPECT_EQ(seen.rr_ssrc, 0x55u);
  EXPECT_EQ(seen.keyframes, std::vector<std::uint32_t>{0x1234});
}

TEST(ClusterRelayRtcp, AFirIsAFullIntraRequestAndAPliIsNot) {
  std::uint8_t out[64];
  std::size_t len = write_fir(out, sizeof out, 0x55, 0x1234, 7);
  ASSERT_EQ(len, 20u);  // RFC 5104 4.3.1: header, sender SSRC, media SSRC 0, one FCI entry
  EXPECT_EQ(out[0], 0x84);
  EXPECT_EQ(out[1], 206);
  EXPECT_EQ(out[16], 7);  // the FCI's command sequence number
  len += write_pli(out + len, sizeof out - len, 0x55, 0x9999);
  Seen seen;
  ASSERT_TRUE(parse_rtcp(out, len, seen));
  EXPECT_EQ(seen.keyframes, (std::vector<std::uint32_t>{0x1234, 0x9999}));
  EXPECT_EQ(seen.full_intras, (std::vector<bool>{true, false}));
  EXPECT_EQ(write_fir(out, 19, 1, 2, 0), 0u);
}

TEST(ClusterRelayRtcp, BogusLengthsAreRefusedWithoutVisiting) {
  std::uint8_t pli[12];
  ASSERT_EQ(write_pli(pli, sizeof pli, 1, 2), 12u);
  Seen seen;
  // Length beyond the buffer.
  std::uint8_t longer[12];
  std::copy(pli, pli + 12, longer);
  longer[3] = 9;
  EXPECT_FALSE(parse_rtcp(longer, sizeof longer, seen));
  // A PLI too short for its fixed part, a tail of 2 bytes, version 1, nothing at all.
  std::uint8_t shorter[8] = {0x81, 206, 0, 1, 0, 0, 0, 1};
  EXPECT_FALSE(parse_rtcp(shorter, sizeof shorter, seen));
  std::uint8_t tail[14] = {};
  std::copy(pli, pli + 12, tail);
  EXPECT_FALSE(parse_rtcp(tail, sizeof tail, seen));
  std::uint8_t version1[12];
  std::copy(pli, pli + 12, version1);
  version1[0] = 0x41;
  EXPECT_FALSE(parse_rtcp(version1, sizeof version1, seen));
  EXPECT_FALSE(parse_rtcp(pli, 0, seen));
  // A NACK without any FCI entry.
  std::uint8_t empty_nack[12] = {0x81, 205, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2};
  EXPECT_FALSE(parse_rtcp(empty_nack, sizeof empty_nack, seen));
  EXPECT_TRUE(seen.keyframes.empty());
  EXPECT_TRUE(seen.seqs.empty());
  // A good first packet followed by a bad one: nothing is visited either.
  std::uint8_t both[24];
  std::copy(pli, pli + 12, both);
  std::copy(longer, longer + 12, both + 12);
  EXPECT_FALSE(parse_rtcp(both, sizeof both, seen));
  EXPECT_TRUE(seen.keyframes.empty());
}

TEST(ClusterRelayRtcp, DemultiplexingRule) {
  const std::uint8_t rtcp[2] = {0x80, 200};
  const std::uint8_t rtp[2] = {0x80, 96};
  const std::uint8_t rtp_marker[2] = {0x80, 0x80 | 111};
  EXPECT_TRUE(is_rtcp(rtcp, 2));
  EXPECT_FALSE(is_rtcp(rtp, 2));
  EXPECT_FALSE(is_rtcp(rtp_marker, 2));
  EXPECT_FALSE(is_rtcp(rtcp, 1));
}

std::vector<std::uint8_t> rtp(std::uint32_t ssrc, std::uint16_t seq, std::size_t size) {
  std::vector<std::uint8_t> p(size, static_cast<std::uint8_t>(seq));
  p[0] = 0x80;
  p[1] = 96;
  p[2] = static_cast<std::uint8_t>(seq >> 8);
  p[3] = static_cast<std::uint8_t>(seq);
  p[8] = static_cast<std::uint8_t>(ssrc >> 24);
  p[9] = static_cast<std::uint8_t>(ssrc >> 16);
  p[10] = static_cast<std::uint8_t>(ssrc >> 8);
  p[11] = static_cast<std::uint8_t>(ssrc);
  return p;
}

TEST(ClusterRelayHistory, FindsWhatItHoldsAndForgetsByCountAgeAndBytes) {
  HistoryOptions options;
  options.streams = 2;
  options.packets_per_stream = 8;
  options.arena_bytes = 4096;
  options.max_age = milliseconds(1000);
  RetransmissionHistory history(options);
  const auto t0 = Clock::now();
  for (std::uint16_t seq = 0; seq < 10; ++seq) history.store(rtp(1, seq, 100).data(), 100, t0);
  std::uint8_t out[1500];
  ASSERT_EQ(history.find(1, 9, t0, out, sizeof out), 100u);
  EXPECT_EQ(out[3], 9);
  EXPECT_EQ(out[99], 9);
  EXPECT_EQ(history.find(1, 1, t0, out, sizeof out), 0u);                       // slot reused by 9
  EXPECT_EQ(history.find(2, 9, t0, out, sizeof out), 0u);                       // another SSRC
  EXPECT_EQ(history.find(1, 9, t0 + milliseconds(1001), out, sizeof out), 0u);  // too old
  // 4096 bytes of arena: 1000-byte packets of SSRC 2 overwrite SSRC 1's.
  for (std::uint16_t seq = 0; seq < 5; ++seq) history.store(rtp(2, seq, 1000).data(), 1000, t0);
  EXPECT_EQ(history.find(2, 4, t0, out, sizeof out), 1000u);
  EXPECT_EQ(history.find(1, 9, t0, out, sizeof out), 0u);
  // A third SSRC takes the least recent stream (1).
  history.store(rtp(3, 0, 50).data(), 50, t0);
  EXPECT_EQ(history.find(3, 0, t0, out, sizeof out), 50u);
  EXPECT_EQ(history.find(2, 4, t0, out, sizeof out), 1000u);
}

TEST(ClusterRelayLoss, GapsAreNackedThenRecoveredOrLost) {
  LossOptions options;
  options.max_nacks = 2;
  options.nack_interval = milliseconds(10);
  LossTracker tracker(options);
  auto now = Clock::now();
  EXPECT_EQ(tracker.on_packet(100, now), LossTracker::Arrival::kInOrder);
  EXPECT_EQ(tracker.on_packet(104, now), LossTracker::Arrival::kInOrder);  // 101-103 missing
  EXPECT_EQ(tracker.missing(), 3u);
  std::uint64_t due[16];
  ASSERT_EQ(tracker.due(now, due, 16), 3u);
  EXPECT_EQ(due[0] & 0xffff, 101u);
  EXPECT_EQ(due[2] & 0xffff, 103u);
  EXPECT_EQ(tracker.due(now, due, 16), 0u);  // not again before the interval
  EXPECT_EQ(tracker.on_packet(102, now), LossTracker::Arrival::kRecovered);
  EXPECT_EQ(tracker.on_packet(102, now), LossTracker::Arrival::kOld);
  now += milliseconds(10);
  ASSERT_EQ(tracker.due(now, due, 16), 2u);  // second NACK of 101 and 103
  now += milliseconds(10);
  EXPECT_EQ(tracker.due(now, due, 16), 0u);  // out of NACKs: lost
  EXPECT_EQ(tracker.lost(), 2u);
  EXPECT_EQ(tracker.missing(), 0u);
  EXPECT_EQ(tracker.next_due(), Clock::time_point::max());
}

TEST(ClusterRelayLoss, WrapReorderingAndRestart) {
  LossOptions options;
  options.max_missing = 4;
  LossTracker tracker(options);
  const auto now = Clock::now();
  tracker.on_packet(65534, now);
  tracker.on_packet(1, now);  // 65535 and 0 missing, across the wrap
  EXPECT_EQ(tracker.missing(), 2u);
  EXPECT_EQ(tracker.on_packet(0, now), LossTracker::Arrival::kReordered);  // not NACKed yet
  tracker.on_packet(4, now);                                               // 2, 3 missing: 3 in all
  tracker.on_packet(7, now);  // 5, 6: 5 > max_missing 4, the oldest (65535) given up
  EXPECT_EQ(tracker.missing(), 4u);
  EXPECT_EQ(tracker.lost(), 1u);
  EXPECT_EQ(tracker.on_packet(1000, now), LossTracker::Arrival::kRestart);
  EXPECT_EQ(tracker.missing(), 0u);
  EXPECT_EQ(tracker.lost(), 5u);
  EXPECT_EQ(tracker.on_packet(1001, now), LossTracker::Arrival::kInOrder);
}

}  // namespace
}  // namespace jmedia::cluster
