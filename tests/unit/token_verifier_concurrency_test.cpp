// TokenVerifier is shared by the plugin's request threads: one const verifier, many threads
// verifying at once (HS256 and RS256, accepted and refused tokens) must each get the answer a
// lone thread gets. Run under ThreadSanitizer by scripts/test (table_tests).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "../../plugin/token_verifier.h"
#include "jwt_mint.h"

namespace jmedia {
namespace {

TEST(TokenVerifierConcurrency, ThreadsShareOneVerifier) {
  const TokenVerifier::Clock::time_point now{std::chrono::seconds(1'700'000'000)};
  const std::string secret = "concurrency-secret-0123456789abcdef";
  const std::string claims = R"({"exp":1700000060,"media":{"watch":["cam-*"]}})";
  const std::string expired = R"({"exp":1699990000,"media":{}})";
  const testing::KeyPair rsa = testing::KeyPair::rsa(2048);

  AccessConfig hs;
  hs.mode = AccessMode::kToken;
  hs.key = secret;
  AccessConfig rs = hs;
  rs.algorithm = JwtAlgorithm::kRS256;
  rs.key = rsa.public_pem();
  const TokenVerifier hs256(hs);
  const TokenVerifier rs256(rs);
  const std::string good_hs = testing::mint_hs256(R"({"alg":"HS256"})", claims, secret);
  const std::string old_hs = testing::mint_hs256(R"({"alg":"HS256"})", expired, secret);
  const std::string good_rs = rsa.mint(R"({"alg":"RS256"})", claims);
  const std::string forged = testing::mint_hs256(R"({"alg":"HS256"})", claims, rsa.public_pem());

  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        const TokenResult a = hs256.verify(good_hs, now);
        const TokenResult b = hs256.verify(old_hs, now);
        const TokenResult c = rs256.verify(good_rs, now);
        const TokenResult d = rs256.verify(forged, now);
        const bool ok = std::holds_alternative<Grants>(a) &&
                        std::get<Grants>(a).allows(AccessRequest::kWatch, "cam-9") &&
                        std::holds_alternative<TokenRefused>(b) &&
                        std::get<TokenRefused>(b).refusal == Refusal::kExpired &&
                        std::holds_alternative<Grants>(c) &&
                        std::holds_alternative<TokenRefused>(d);
        if (!ok) wrong.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace jmedia
