// The relay's two ends on loopback, with real sockets, real libsrtp2 and the relay thread:
// media both kinds, keys per relay, SRTP on the wire, loss repair by NACK, the PLI rate limit,
// the peer's silence, bad input.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "../../cluster/relay_receiver.h"
#include "../../cluster/relay_rtcp.h"
#include "../../cluster/relay_sender.h"
#include "eventually.h"

namespace jmedia::cluster {
namespace {

using jmedia::testing::eventually;
using std::chrono::milliseconds;

const std::string kRelaySecret = "0123456789abcdef0123456789abcdef-cluster";
constexpr std::uint32_t kAudio = 0x11111111;
constexpr std::uint32_t kVideo = 0x22222222;
const char kPattern[] = "PLAIN-PAYLOAD-MARKER-";

std::vector<std::uint8_t> rtp(std::uint32_t ssrc, std::uint16_t seq, std::uint8_t pt,
                              std::size_t payload) {
  std::vector<std::uint8_t> p(12 + payload);
  p[0] = 0x80;
  p[1] = pt;
  p[2] = static_cast<std::uint8_t>(seq >> 8);
  p[3] = static_cast<std::uint8_t>(seq);
  const std::uint32_t ts = seq * 3000u;
  for (int i = 0; i < 4; ++i) {
    p[4 + i] = static_cast<std::uint8_t>(ts >> (24 - 8 * i));
    p[8 + i] = static_cast<std::uint8_t>(ssrc >> (24 - 8 * i));
  }
  for (std::size_t i = 0; i < payload; ++i) {
    p[12 + i] = static_cast<std::uint8_t>(kPattern[i % (sizeof kPattern - 1)]);
  }
  return p;
}

std::vector<std::uint8_t> sender_report(std::uint32_t ssrc) {
  std::vector<std::uint8_t> p(28, 0);
  p[0] = 0x80;
  p[1] = 200;
  p[3] = 6;
  for (int i = 0; i < 4; ++i) p[4 + i] = static_cast<std::uint8_t>(ssrc >> (24 - 8 * i));
  const char ntp[] = "NTPTIMEX";  // recognisable on the wire
  std::memcpy(p.data() + 8, ntp, 8);
  return p;
}

std::uint32_t ssrc_of(const std::uint8_t* p) {
  return (std::uint32_t{p[8]} << 24) | (std::uint32_t{p[9]} << 16) | (std::uint32_t{p[10]} << 8) |
         p[11];
}

class Received final : public RelayReceiverListener {
 public:
  void on_rtp(const std::uint8_t* packet, std::size_t len) override {
    std::lock_guard lock(mutex_);
    const std::uint16_t seq = static_cast<std::uint16_t>((packet[2] << 8) | packet[3]);
    packets_[ssrc_of(packet)][seq] = std::vector<std::uint8_t>(packet, packet + len);
    ++deliveries_;
  }
  void on_rtcp(const std::uint8_t* packet, std::size_t len) override {
    std::lock_guard lock(mutex_);
    rtcp_.emplace_back(packet, packet + len);
  }
  std::size_t unique(std::uint32_t ssrc, std::uint16_t below = 0xffff) const {
    std::lock_guard lock(mutex_);
    const auto found = packets_.find(ssrc);
    if (found == packets_.end()) return 0;
    return static_cast<std::size_t>(
        std::count_if(found->second.begin(), found->second.end(),
                      [below](const auto& e) { return e.first < below; }));
  }
  std::vector<std::uint8_t> packet_of(std::uint32_t ssrc, std::uint16_t seq) const {
    std::lock_guard lock(mutex_);
    const auto found = packets_.find(ssrc);
    if (found == packets_.end() || !found->second.count(seq)) return {};
    return found->second.at(seq);
  }
  std::size_t deliveries() const {
    std::lock_guard lock(mutex_);
    return deliveries_;
  }
  std::vector<std::vector<std::uint8_t>> rtcp() const {
    std::lock_guard lock(mutex_);
    return rtcp_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::uint32_t, std::map<std::uint16_t, std::vector<std::uint8_t>>> packets_;
  std::vector<std::vector<std::uint8_t>> rtcp_;
  std::size_t deliveries_ = 0;
};

class Origin final : public RelaySenderListener {
 public:
  void keyframe_requested(std::uint32_t media_ssrc, bool full_intra) override {
    last_keyframe_ssrc = media_ssrc;
    keyframes.fetch_add(1);
    if (full_intra) full_intras.fetch_add(1);
  }
  void peer_lost(milliseconds silent) override {
    silent_ms = silent.count();
    lost.fetch_add(1);
  }
  std::atomic<int> keyframes{0};
  std::atomic<int> full_intras{0};
  std::atomic<std::uint32_t> last_keyframe_ssrc{0};
  std::atomic<int> lost{0};
  std::atomic<long long> silent_ms{0};
};

RelaySocketOptions loopback() {
  RelaySocketOptions options;
  options.host = "127.0.0.1";
  return options;
}

// A plain UDP socket on loopback: what anyone on the network could send and see.
class RawPeer {
 public:
  RawPeer() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    std::string error;
    socklen_t length = sizeof address;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    EXPECT_TRUE(RelayAddress::resolve("127.0.0.1", ntohs(address.sin_port), address_, error));
  }
  ~RawPeer() { close(fd_); }
  const RelayAddress& address() const { return address_; }
  // One datagram within timeout, empty when none came.
  std::vector<std::uint8_t> receive(milliseconds timeout = milliseconds(3000)) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) return {};
    std::vector<std::uint8_t> buffer(4096);
    const ssize_t got = recv(fd_, buffer.data(), buffer.size(), 0);
    buffer.resize(got > 0 ? static_cast<std::size_t>(got) : 0);
    return buffer;
  }
  void send(const std::vector<std::uint8_t>& data, const RelayAddress& to) {
    ASSERT_GE(sendto(fd_, data.data(), data.size(), 0,
                     reinterpret_cast<const sockaddr*>(&to.storage), to.length),
              0);
  }

 private:
  int fd_ = -1;
  RelayAddress address_;
};

class ClusterRelay : public ::testing::Test {
 protected:
  std::unique_ptr<RelayReceiver> make_receiver(const std::string& relay_id,
                                               RelayReceiverOptions options = {}) {
    options.relay_id = relay_id;
    options.secret = kRelaySecret;
    options.socket = loopback();
    std::string error;
    auto receiver = RelayReceiver::create(loop_, options, received_, error);
    EXPECT_TRUE(receiver) << error;
    return receiver;
  }
  std::unique_ptr<RelaySender> make_sender(const std::string& relay_id, const RelayAddress& peer,
                                           RelaySenderOptions options = {}) {
    options.relay_id = relay_id;
    options.secret = kRelaySecret;
    options.socket.host = "127.0.0.1";
    options.peer = peer;
    std::string error;
    auto sender = RelaySender::create(loop_, options, origin_, error);
    EXPECT_TRUE(sender) << error;
    return sender;
  }

  RelayLoop loop_;
  Received received_;
  Origin origin_;
};

TEST_F(ClusterRelay, AudioVideoAndSenderReportsRoundTrip) {
  auto receiver = make_receiver("relay-1");
  ASSERT_TRUE(receiver);
  auto sender = make_sender("relay-1", receiver->local());
  ASSERT_TRUE(sender);
  for (std::uint16_t seq = 0; seq < 50; ++seq) {
    ASSERT_TRUE(sender->send_rtp(rtp(kAudio, seq, 111, 160).data(), 172));
    ASSERT_TRUE(sender->send_rtp(rtp(kVideo, 1000 + seq, 96, 1100).data(), 1112));
  }
  const auto sr = sender_report(kVideo);
  ASSERT_TRUE(sender->send_rtcp(sr.data(), sr.size()));
  ASSERT_TRUE(eventually([&] {
    return received_.unique(kAudio) == 50 && received_.unique(kVideo) == 50 &&
           !received_.rtcp().empty();
  }));
  EXPECT_EQ(received_.packet_of(kAudio, 7), rtp(kAudio, 7, 111, 160));
  EXPECT_EQ(received_.packet_of(kVideo, 1049), rtp(kVideo, 1049, 96, 1100));
  EXPECT_EQ(received_.rtcp().front(), sr);
  // Feedback flows back: the receiver's reports reach the sender (its latched address).
  ASSERT_TRUE(eventually([&] { return sender->stats().rtcp_received > 0; }));
  EXPECT_LT(sender->peer_silent_for(), milliseconds(2000));
  const auto s = sender->stats();
  EXPECT_EQ(s.packets_sent, 100u);
  EXPECT_EQ(s.rtcp_sent, 1u);
  const auto r = receiver->stats();
  EXPECT_EQ(r.packets_received, 100u);
  EXPECT_EQ(r.lost, 0u);
  EXPECT_EQ(r.auth_failures, 0u);
}

TEST_F(ClusterRelay, AnotherRelayIdCannotUnprotect) {
  auto receiver = make_receiver("relay-b");
  ASSERT_TRUE(receiver);
  auto sender = make_sender("relay-a", receiver->local());
  ASSERT_TRUE(sender);
  for (std::uint16_t seq = 0; seq < 20; ++seq) {
    ASSERT_TRUE(sender->send_rtp(rtp(kVideo, seq, 96, 500).data(), 512));
  }
  const auto sr = sender_report(kVideo);
  ASSERT_TRUE(sender->send_rtcp(sr.data(), sr.size()));
  // Every packet was looked at (21 refusals) and none was delivered.
  ASSERT_TRUE(eventually([&] { return receiver->stats().auth_failures == 21; }))
      << receiver->stats().auth_failures;
  EXPECT_EQ(received_.deliveries(), 0u);
  EXPECT_TRUE(received_.rtcp().empty());
  EXPECT_EQ(receiver->stats().packets_received, 0u);
}

TEST_F(ClusterRelay, PacketsOnTheWireAreSrtpNotPlainRtp) {
  RawPeer wire;
  auto sender = make_sender("relay-wire", wire.address());
  ASSERT_TRUE(sender);
  const auto plain = rtp(kVideo, 4242, 96, 600);
  ASSERT_TRUE(sender->send_rtp(plain.data(), plain.size()));
  const auto seen = wire.receive();
  ASSERT_EQ(seen.size(), plain.size() + kSrtpTag);
  // The header travels in clear (SRTP), the payload does not.
  EXPECT_TRUE(std::equal(plain.begin(), plain.begin() + 12, seen.begin()));
  const std::string text(seen.begin(), seen.end());
  EXPECT_EQ(text.find("PLAIN-PAYLOAD"), std::string::npos);
  EXPECT_FALSE(std::equal(plain.begin() + 12, plain.end(), seen.begin() + 12));

  const auto sr = sender_report(kVideo);
  ASSERT_TRUE(sender->send_rtcp(sr.data(), sr.size()));
  const auto seen_sr = wire.receive();
  ASSERT_EQ(seen_sr.size(), sr.size() + kSrtcpTrailer);
  EXPECT_EQ(std::string(seen_sr.begin(), seen_sr.end()).find("NTPTIMEX"), std::string::npos);
  // The E bit of the SRTCP index, after the tag with AEAD (RFC 7714): the payload is encrypted.
  EXPECT_NE(seen_sr[sr.size() + kSrtpTag] & 0x80, 0);
}

TEST_F(ClusterRelay, FivePercentLossIsRepairedByNack) {
  auto receiver = make_receiver("relay-loss");
  ASSERT_TRUE(receiver);
  RelaySenderOptions options;
  options.socket.test_drop_percent = 5;
  options.socket.test_drop_seed = 42;
  auto sender = make_sender("relay-loss", receiver->local(), options);
  ASSERT_TRUE(sender);
  constexpr std::uint16_t kCount = 1000;  // per SSRC: 2000 in all
  // Audio and video from two threads at once, as two Janus loop threads could; paced so
  // that the kernel's socket buffer, not part of the test, drops nothing.
  auto send = [&](std::uint32_t ssrc, std::uint8_t pt, std::size_t payload) {
    for (std::uint16_t seq = 0; seq < kCount + 20; ++seq) {  // 20 more: the last gaps show
      const auto p = rtp(ssrc, seq, pt, payload);
      sender->send_rtp(p.data(), p.size());
      if (seq % 10 == 9) std::this_thread::sleep_for(milliseconds(1));
    }
  };
  std::thread audio(send, kAudio, 111, 160);
  std::thread video(send, kVideo, 96, 1000);
  audio.join();
  video.join();
  eventually([&] {
    return received_.unique(kAudio, kCount) == kCount && received_.unique(kVideo, kCount) == kCount;
  });
  const std::size_t missing =
      2 * kCount - received_.unique(kAudio, kCount) - received_.unique(kVideo, kCount);
  const auto s = sender->stats();
  const auto r = receiver->stats();
  std::printf(
      "relay loss: dropped %llu of %llu sent, nacked %llu, retransmitted %llu, "
      "recovered %llu, lost %llu, unrecovered of %u: %zu\n",
      static_cast<unsigned long long>(s.test_dropped),
      static_cast<unsigned long long>(s.packets_sent + s.retransmitted),
      static_cast<unsigned long long>(r.nacked), static_cast<unsigned long long>(s.retransmitted),
      static_cast<unsigned long long>(r.recovered), static_cast<unsigned long long>(r.lost),
      2 * kCount, missing);
  EXPECT_GT(s.test_dropped, 60u);        // about 5 % of 2040 and retransmissions
  EXPECT_LT(missing, 2 * kCount / 200);  // < 0.5 % unrecovered
  EXPECT_GT(r.nacks_sent, 0u);
  EXPECT_GT(s.nacks_received, 0u);
  EXPECT_GT(s.retransmitted, 60u);
  EXPECT_GT(r.recovered, 60u);
  EXPECT_EQ(received_.packet_of(kVideo, 500), rtp(kVideo, 500, 96, 1000));
}

TEST_F(ClusterRelay, AFullIntraRequestIsNotHeldBackByThePliInterval) {
  RelayReceiverOptions options;
  options.keyframe_interval = milliseconds(60000);
  auto receiver = make_receiver("relay-fir", options);
  ASSERT_TRUE(receiver);
  auto sender = make_sender("relay-fir", receiver->local());
  ASSERT_TRUE(sender);
  ASSERT_TRUE(sender->send_rtp(rtp(kVideo, 1, 96, 100).data(), 112));
  ASSERT_TRUE(eventually([&] { return receiver->stats().packets_received == 1; }));
  EXPECT_TRUE(receiver->request_keyframe(kVideo));
  EXPECT_FALSE(receiver->request_keyframe(kVideo)) << "a PLI within the interval";
  // A decoder starting now (a new viewer) cannot wait for the interval: an FIR goes. Two FIRs
  // in a row are spaced a little (one keyframe serves both): the second goes once it may.
  EXPECT_TRUE(receiver->request_keyframe(kVideo, true));
  EXPECT_TRUE(eventually([&] { return receiver->request_keyframe(kVideo, true); }));
  ASSERT_TRUE(eventually([&] { return origin_.keyframes.load() == 3; }));
  EXPECT_EQ(origin_.full_intras.load(), 2);
  EXPECT_EQ(origin_.last_keyframe_ssrc.load(), kVideo);
  EXPECT_EQ(receiver->stats().keyframe_requests_sent, 3u);
}

TEST_F(ClusterRelay, KeyframeRequestsAreRateLimited) {
  RelayReceiverOptions options;
  options.keyframe_interval = milliseconds(60000);  // the burst is well inside it
  options.report_interval = milliseconds(50);
  auto receiver = make_receiver("relay-pli", options);
  ASSERT_TRUE(receiver);
  auto sender = make_sender("relay-pli", receiver->local());
  ASSERT_TRUE(sender);
  ASSERT_TRUE(sender->send_rtp(rtp(kVideo, 1, 96, 100).data(), 112));
  ASSERT_TRUE(eventually([&] { return receiver->stats().packets_received == 1; }));
  EXPECT_TRUE(receiver->request_keyframe(kVideo));
  EXPECT_FALSE(receiver->request_keyframe(kVideo));
  EXPECT_FALSE(receiver->request_keyframe(kVideo));
  ASSERT_TRUE(eventually([&] { return origin_.keyframes.load() >= 1; }));
  EXPECT_EQ(origin_.last_keyframe_ssrc.load(), kVideo);
  // Two more receiver reports, sent after the burst, have arrived: no second PLI came.
  const auto rtcp_then = sender->stats().rtcp_received;
  ASSERT_TRUE(eventually([&] { return sender->stats().rtcp_received >= rtcp_then + 2; }));
  EXPECT_EQ(origin_.keyframes.load(), 1);
  EXPECT_EQ(receiver->stats().keyframe_requests_sent, 1u);
  EXPECT_EQ(receiver->stats().keyframe_requests_limited, 2u);
}

TEST_F(ClusterRelay, SenderSeesItsPeerSilentOnceTheReceiverIsGone) {
  RelayReceiverOptions receiver_options;
  receiver_options.report_interval = milliseconds(50);
  auto receiver = make_receiver("relay-gone", receiver_options);
  ASSERT_TRUE(receiver);
  RelaySenderOptions options;
  options.peer_timeout = milliseconds(400);
  auto sender = make_sender("relay-gone", receiver->local(), options);
  ASSERT_TRUE(sender);
  ASSERT_TRUE(sender->send_rtp(rtp(kVideo, 1, 96, 100).data(), 112));
  ASSERT_TRUE(eventually([&] { return sender->stats().rtcp_received >= 3; }));
  EXPECT_LT(sender->peer_silent_for(), milliseconds(400));
  EXPECT_EQ(origin_.lost.load(), 0);
  receiver.reset();
  ASSERT_TRUE(eventually([&] { return origin_.lost.load() == 1; }, milliseconds(5000)));
  EXPECT_GE(origin_.silent_ms.load(), 400);
  EXPECT_GE(sender->peer_silent_for(), milliseconds(400));
}

TEST_F(ClusterRelay, ReceiverReportsFlowBeforeAnyMediaOnceThePeerIsSet) {
  RelayReceiverOptions receiver_options;
  receiver_options.report_interval = milliseconds(50);
  auto receiver = make_receiver("relay-idle", receiver_options);
  ASSERT_TRUE(receiver);
  RelaySenderOptions options;
  options.peer_timeout = milliseconds(400);
  auto sender = make_sender("relay-idle", receiver->local(), options);
  ASSERT_TRUE(sender);
  receiver->set_peer(sender->local());  // what the origin's answer carries
  ASSERT_TRUE(eventually([&] { return sender->stats().rtcp_received >= 3; }));
  EXPECT_EQ(receiver->stats().packets_received, 0u);
  EXPECT_EQ(origin_.lost.load(), 0);
}

TEST_F(ClusterRelay, BadInputIsCountedAndDropped) {
  auto receiver = make_receiver("relay-bad");
  ASSERT_TRUE(receiver);
  RawPeer attacker;
  const std::vector<std::vector<std::uint8_t>> junk = {
      {0x80},                                 // 1 byte
      {0x80, 96, 0, 1, 0},                    // truncated RTP
      std::vector<std::uint8_t>(13, 0x80),    // an RTP header and a byte
      {0x80, 200, 0xff, 0xff, 1, 2, 3, 4},    // RTCP, bogus length
      std::vector<std::uint8_t>(2000, 0x55),  // too big: truncated
      std::vector<std::uint8_t>(200, 0x00),   // version 0
  };
  for (const auto& datagram : junk) attacker.send(datagram, receiver->local());
  // RTP-shaped garbage of the right size fails authentication.
  attacker.send(rtp(kVideo, 5, 96, 100), receiver->local());
  // Well protected (the attacker has the key here) but bogus RTCP inside: malformed.
  std::string error;
  auto forged = SrtpSession::create(
      derive_relay_key(kRelaySecret, "relay-bad", RelayDirection::kOriginToViewer),
      SrtpSession::Role::kOutbound, error);
  ASSERT_TRUE(forged) << error;
  const std::uint8_t bogus[12] = {0x80, 200, 0, 40, 0, 0, 0, 1, 0, 0, 0, 0};  // says 164 bytes
  std::uint8_t wire[1600];
  std::size_t len = 0;
  ASSERT_EQ(forged->protect_rtcp(bogus, sizeof bogus, wire, sizeof wire, len), SrtpResult::kOk);
  attacker.send(std::vector<std::uint8_t>(wire, wire + len), receiver->local());
  ASSERT_TRUE(eventually([&] {
    const auto s = receiver->stats();
    return s.malformed + s.auth_failures == junk.size() + 2;
  })) << receiver->stats().malformed
      << " " << receiver->stats().auth_failures;
  EXPECT_EQ(received_.deliveries(), 0u);
  EXPECT_TRUE(received_.rtcp().empty());

  // The sender's side: feedback that is garbage, unauthenticated, or authenticated nonsense.
  auto sender = make_sender("relay-bad", receiver->local());
  ASSERT_TRUE(sender);
  attacker.send({0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3}, sender->local());  // RTP
  attacker.send({0x81, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1, 0xff, 0xff, 9, 9,
                 9,    9,   9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,    9,    9, 9},
                sender->local());  // unauthenticated NACK
  auto feedback = SrtpSession::create(
      derive_relay_key(kRelaySecret, "relay-bad", RelayDirection::kViewerToOrigin),
      SrtpSession::Role::kOutbound, error);
  ASSERT_TRUE(feedback) << error;
  ASSERT_EQ(feedback->protect_rtcp(bogus, sizeof bogus, wire, sizeof wire, len), SrtpResult::kOk);
  attacker.send(std::vector<std::uint8_t>(wire, wire + len), sender->local());
  // An authenticated NACK of everything for an SSRC never sent: nothing resent, bounded.
  std::vector<std::uint64_t> all;
  for (std::uint64_t s = 0; s < 64 * 17; ++s) all.push_back(100000 + s);
  std::uint8_t nack[12 + 4 * 64];
  std::size_t covered = 0;
  const std::size_t nack_len =
      write_nack(nack, sizeof nack, 1, 0xdead, all.data(), all.size(), 64, covered);
  ASSERT_EQ(feedback->protect_rtcp(nack, nack_len, wire, sizeof wire, len), SrtpResult::kOk);
  attacker.send(std::vector<std::uint8_t>(wire, wire + len), sender->local());
  ASSERT_TRUE(eventually([&] {
    const auto s = sender->stats();
    return s.malformed >= 2 && s.auth_failures >= 1 && s.nacks_received >= 64 * 17;
  })) << sender->stats().malformed
      << " " << sender->stats().auth_failures;
  EXPECT_EQ(sender->stats().retransmitted, 0u);
  EXPECT_EQ(sender->stats().not_in_history, 256u);  // max_resends_per_rtcp

  // Both still work.
  ASSERT_TRUE(sender->send_rtp(rtp(kAudio, 1, 111, 100).data(), 112));
  ASSERT_TRUE(eventually([&] { return received_.unique(kAudio) == 1; }));
  // The media path refuses what is not plain RTP.
  const std::uint8_t tiny[4] = {0x80, 96, 0, 1};
  EXPECT_FALSE(sender->send_rtp(tiny, sizeof tiny));
  const auto looks_like_rtcp = rtp(kAudio, 2, 0x80 | 72, 100);  // marker + PT 72 = 200
  EXPECT_FALSE(sender->send_rtp(looks_like_rtcp.data(), looks_like_rtcp.size()));
  const std::vector<std::uint8_t> huge = rtp(kAudio, 3, 111, 1590);
  EXPECT_FALSE(sender->send_rtp(huge.data(), huge.size()));
  EXPECT_EQ(sender->stats().rejected, 3u);
}

TEST_F(ClusterRelay, RelaysComeAndGoWhileTheRelayThreadServesTheirFeedback) {
  // Each round: feedback (NACKs, reports, a PLI) in flight while both ends are destroyed on
  // this thread and the relay thread is busy with them (ThreadSanitizer checks the handover).
  for (int round = 0; round < 20; ++round) {
    RelayReceiverOptions receiver_options;
    receiver_options.report_interval = milliseconds(1);
    receiver_options.keyframe_interval = milliseconds(0);
    auto receiver = make_receiver("relay-churn", receiver_options);
    ASSERT_TRUE(receiver);
    RelaySenderOptions options;
    options.socket.test_drop_percent = 20;
    options.socket.test_drop_seed = static_cast<std::uint64_t>(round);
    auto sender = make_sender("relay-churn", receiver->local(), options);
    ASSERT_TRUE(sender);
    receiver->set_peer(sender->local());
    for (std::uint16_t seq = 0; seq < 200; ++seq) {
      sender->send_rtp(rtp(kVideo, seq, 96, 300).data(), 312);
      if (seq % 50 == 0) receiver->request_keyframe(kVideo);
    }
    ASSERT_TRUE(eventually([&] { return sender->stats().nacks_received > 0; }));
    if (round % 2 == 0) {
      sender.reset();
      receiver.reset();
    } else {
      receiver.reset();
      sender.reset();
    }
  }
  EXPECT_EQ(loop_.endpoints(), 0u);
}

TEST_F(ClusterRelay, CreationFailsClosedWithAReason) {
  std::string error;
  RelayReceiverOptions bad_id;
  bad_id.relay_id = "not valid";
  bad_id.secret = kRelaySecret;
  bad_id.socket = loopback();
  EXPECT_FALSE(RelayReceiver::create(loop_, bad_id, received_, error));
  EXPECT_NE(error.find("not valid"), std::string::npos) << error;

  // A range whose only port is taken fails; a wider one skips the taken port.
  RelayReceiverOptions ranged;
  ranged.relay_id = "relay-port";
  ranged.secret = kRelaySecret;
  ranged.socket = loopback();
  ranged.socket.port_min = 40000 + static_cast<int>(getpid() % 20000);
  ranged.socket.port_max = ranged.socket.port_min + 100;
  auto first = RelayReceiver::create(loop_, ranged, received_, error);
  ASSERT_TRUE(first) << error;
  const int taken_port = first->local().port();
  RelayReceiverOptions taken = ranged;
  taken.relay_id = "relay-port-2";
  taken.socket.port_min = taken.socket.port_max = taken_port;
  error.clear();
  EXPECT_FALSE(RelayReceiver::create(loop_, taken, received_, error));
  EXPECT_NE(error.find("cannot bind"), std::string::npos) << error;
  taken.socket.port_max = taken_port + 100;
  auto second = RelayReceiver::create(loop_, taken, received_, error);
  ASSERT_TRUE(second) << error;
  EXPECT_GT(second->local().port(), taken_port);
  EXPECT_LE(second->local().port(), taken_port + 100);

  RelaySenderOptions no_peer;
  no_peer.relay_id = "relay-x";
  no_peer.secret = kRelaySecret;
  no_peer.socket = loopback();
  error.clear();
  EXPECT_FALSE(RelaySender::create(loop_, no_peer, origin_, error));
  EXPECT_NE(error.find("no peer"), std::string::npos) << error;
}

}  // namespace
}  // namespace jmedia::cluster
