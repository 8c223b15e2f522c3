// The relays' keys (HKDF-SHA256, RFC 5869) and their SRTP sessions (libsrtp2, AEAD_AES_128_GCM).
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "../../cluster/relay_keys.h"
#include "../../cluster/relay_srtp.h"

namespace jmedia::cluster {
namespace {

std::string unhex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

std::string hex(const std::uint8_t* data, std::size_t len) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < len; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

const std::string kCryptoSecret = "0123456789abcdef0123456789abcdef-cluster";

TEST(ClusterRelayKeys, HkdfSha256Rfc5869TestCase1) {
  const std::string ikm(22, '\x0b');
  const std::string salt = unhex("000102030405060708090a0b0c");
  const std::string info = unhex("f0f1f2f3f4f5f6f7f8f9");
  std::uint8_t okm[42];
  ASSERT_TRUE(hkdf_sha256(salt, ikm, info, okm, sizeof okm));
  EXPECT_EQ(hex(okm, sizeof okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

TEST(ClusterRelayKeys, HkdfSha256Rfc5869TestCase3EmptySaltAndInfo) {
  const std::string ikm(22, '\x0b');
  std::uint8_t okm[42];
  ASSERT_TRUE(hkdf_sha256("", ikm, "", okm, sizeof okm));
  EXPECT_EQ(hex(okm, sizeof okm),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST(ClusterRelayKeys, HkdfRefusesLengthsOutOfRange) {
  std::vector<std::uint8_t> out(255 * 32 + 1, 0xAA);
  EXPECT_FALSE(hkdf_sha256("s", "k", "i", out.data(), 0));
  EXPECT_FALSE(hkdf_sha256("s", "k", "i", out.data(), out.size()));
  EXPECT_EQ(out[0], 0xAA);
  EXPECT_TRUE(hkdf_sha256("s", "k", "i", out.data(), out.size() - 1));
}

TEST(ClusterRelayKeys, KeysDifferPerRelayIdDirectionAndSecret) {
  std::set<std::string> keys;
  for (const char* id : {"relay-a", "relay-b"}) {
    for (const auto direction :
         {RelayDirection::kOriginToViewer, RelayDirection::kViewerToOrigin}) {
      for (const std::string& secret : {kCryptoSecret, kCryptoSecret + "x"}) {
        const RelayKey key = derive_relay_key(secret, id, direction);
        keys.insert(hex(key.data(), key.size()));
        // Deterministic: both nodes derive the same key.
        EXPECT_EQ(key, derive_relay_key(secret, id, direction));
      }
    }
  }
  EXPECT_EQ(keys.size(), 8u);
}

TEST(ClusterRelayKeys, RelayIds) {
  EXPECT_TRUE(valid_relay_id("cam-1.node-a.node-b:0f"));
  EXPECT_TRUE(valid_relay_id(std::string(256, 'a')));
  EXPECT_FALSE(valid_relay_id(""));
  EXPECT_FALSE(valid_relay_id("a b"));
  EXPECT_FALSE(valid_relay_id(std::string("a\0b", 3)));
  EXPECT_FALSE(valid_relay_id(std::string(257, 'a')));
  const std::string one = new_relay_id("cam-1.");
  const std::string two = new_relay_id("cam-1.");
  EXPECT_TRUE(valid_relay_id(one)) << one;
  EXPECT_EQ(one.size(), 6u + 32u);
  EXPECT_NE(one, two);
}

std::vector<std::uint8_t> rtp_packet(std::uint32_t ssrc, std::uint16_t seq, std::size_t payload) {
  std::vector<std::uint8_t> p(12 + payload);
  p[0] = 0x80;
  p[1] = 96;
  p[2] = static_cast<std::uint8_t>(seq >> 8);
  p[3] = static_cast<std::uint8_t>(seq);
  p[8] = static_cast<std::uint8_t>(ssrc >> 24);
  p[9] = static_cast<std::uint8_t>(ssrc >> 16);
  p[10] = static_cast<std::uint8_t>(ssrc >> 8);
  p[11] = static_cast<std::uint8_t>(ssrc);
  for (std::size_t i = 0; i < payload; ++i) p[12 + i] = static_cast<std::uint8_t>('A' + i % 26);
  return p;
}

struct Pair {
  std::unique_ptr<SrtpSession> out;
  std::unique_ptr<SrtpSession> in;
};
Pair sessions(const RelayKey& out_key, const RelayKey& in_key) {
  std::string error;
  Pair pair{SrtpSession::create(out_key, SrtpSession::Role::kOutbound, error),
            SrtpSession::create(in_key, SrtpSession::Role::kInbound, error)};
  EXPECT_TRUE(pair.out && pair.in) << error;
  return pair;
}

TEST(ClusterRelaySrtp, RtpAndRtcpRoundTripWithGcm) {
  const RelayKey key = derive_relay_key(kCryptoSecret, "relay-a", RelayDirection::kOriginToViewer);
  Pair pair = sessions(key, key);
  ASSERT_TRUE(pair.out && pair.in);
  const auto plain = rtp_packet(0x1234, 7, 200);
  std::uint8_t wire[1600];
  std::size_t len = 0;
  ASSERT_EQ(pair.out->protect_rtp(plain.data(), plain.size(), wire, sizeof wire, len),
            SrtpResult::kOk);
  EXPECT_EQ(len, plain.size() + kSrtpTag);
  EXPECT_NE(std::memcmp(wire + 12, plain.data() + 12, plain.size() - 12), 0);
  ASSERT_EQ(pair.in->unprotect_rtp(wire, len), SrtpResult::kOk);
  ASSERT_EQ(len, plain.size());
  EXPECT_EQ(std::memcmp(wire, plain.data(), len), 0);
  // The same packet again is a replay.
  std::size_t again_len = 0;
  std::uint8_t again[1600];
  ASSERT_EQ(pair.out->protect_rtp(plain.data(), plain.size(), again, sizeof again, again_len),
            SrtpResult::kOk);  // allow_repeat_tx: a retransmission
  EXPECT_EQ(pair.in->unprotect_rtp(again, again_len), SrtpResult::kReplayed);

  const std::uint8_t rr[8] = {0x80, 201, 0, 1, 0, 0, 0, 9};
  ASSERT_EQ(pair.out->protect_rtcp(rr, sizeof rr, wire, sizeof wire, len), SrtpResult::kOk);
  EXPECT_EQ(len, sizeof rr + kSrtcpTrailer);
  ASSERT_EQ(pair.in->unprotect_rtcp(wire, len), SrtpResult::kOk);
  EXPECT_EQ(len, sizeof rr);
  EXPECT_EQ(std::memcmp(wire, rr, len), 0);
}

TEST(ClusterRelaySrtp, OtherDirectionOrRelayCannotUnprotect) {
  const RelayKey forward =
      derive_relay_key(kCryptoSecret, "relay-a", RelayDirection::kOriginToViewer);
  for (const RelayKey& wrong :
       {derive_relay_key(kCryptoSecret, "relay-a", RelayDirection::kViewerToOrigin),
        derive_relay_key(kCryptoSecret, "relay-b", RelayDirection::kOriginToViewer)}) {
    Pair pair = sessions(forward, wrong);
    ASSERT_TRUE(pair.out && pair.in);
    const auto plain = rtp_packet(0x1234, 7, 100);
    std::uint8_t wire[1600];
    std::size_t len = 0;
    ASSERT_EQ(pair.out->protect_rtp(plain.data(), plain.size(), wire, sizeof wire, len),
              SrtpResult::kOk);
    EXPECT_EQ(pair.in->unprotect_rtp(wire, len), SrtpResult::kAuthFailed);
  }
}

TEST(ClusterRelaySrtp, AlteredOrShortPacketsAreRefused) {
  const RelayKey key = derive_relay_key(kCryptoSecret, "relay-a", RelayDirection::kOriginToViewer);
  Pair pair = sessions(key, key);
  ASSERT_TRUE(pair.out && pair.in);
  const auto plain = rtp_packet(0x1234, 9, 100);
  std::uint8_t wire[1600];
  std::size_t len = 0;
  ASSERT_EQ(pair.out->protect_rtp(plain.data(), plain.size(), wire, sizeof wire, len),
            SrtpResult::kOk);
  wire[40] ^= 1;
  EXPECT_EQ(pair.in->unprotect_rtp(wire, len), SrtpResult::kAuthFailed);
  std::size_t short_len = 20;
  EXPECT_EQ(pair.in->unprotect_rtp(wire, short_len), SrtpResult::kMalformed);
  std::size_t rtcp_len = 12;
  EXPECT_EQ(pair.in->unprotect_rtcp(wire, rtcp_len), SrtpResult::kMalformed);
  // Output too small for libsrtp's worst-case trailer: refused before libsrtp writes.
  EXPECT_EQ(pair.out->protect_rtp(plain.data(), plain.size(), wire, plain.size() + 16, len),
            SrtpResult::kFailed);
}

}  // namespace
}  // namespace jmedia::cluster
