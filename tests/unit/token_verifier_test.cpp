// TokenVerifier: every way a token is refused, and what a good one grants. Tokens are minted
// here with OpenSSL (jwt_mint.h), the clock is an argument: nothing sleeps.
#include <gtest/gtest.h>
#include <jwt.h>

#include <chrono>
#include <string>

#include "../../common/json.h"
#include "../../plugin/token_verifier.h"
#include "jwt_mint.h"
#include "plugin_test_support.h"

namespace jmedia {
namespace {

using testing::KeyPair;
using testing::mint_hs256;
using Clock = TokenVerifier::Clock;

constexpr std::int64_t kNow = 1'700'000'000;
const Clock::time_point kAt = Clock::time_point(std::chrono::seconds(kNow));
const std::string kVerifierSecret = "0123456789abcdef0123456789abcdef-unit";
const std::string kHeader = R"({"alg":"HS256","typ":"JWT"})";

std::string claims(const std::string& extra = "",
                   const std::string& media = R"({"publish":["cam-1"],"watch":["cam-*"]})",
                   std::int64_t exp = kNow + 60) {
  return R"({"exp":)" + std::to_string(exp) + R"(,"media":)" + media +
         (extra.empty() ? "" : "," + extra) + "}";
}

AccessConfig hs256(std::optional<std::string> issuer = std::nullopt,
                   std::optional<std::string> audience = std::nullopt) {
  return testing::hs256_access(kVerifierSecret, std::move(issuer), std::move(audience));
}

AccessConfig pem(JwtAlgorithm algorithm, const KeyPair& key) {
  AccessConfig config;
  config.mode = AccessMode::kToken;
  config.algorithm = algorithm;
  config.key = key.public_pem();
  return config;
}

const KeyPair& rsa_key() {
  static const KeyPair key = KeyPair::rsa(2048);
  return key;
}
const KeyPair& other_rsa_key() {
  static const KeyPair key = KeyPair::rsa(2048);
  return key;
}
const KeyPair& ec_key() {
  static const KeyPair key = KeyPair::ec("P-256");
  return key;
}

// The refusal, or a test failure if the token was accepted.
TokenRefused refused(const TokenResult& result) {
  if (const auto* refusal = std::get_if<TokenRefused>(&result)) return *refusal;
  ADD_FAILURE() << "token accepted";
  return TokenRefused{Refusal::kMissing, "(accepted)"};
}

Grants granted(const TokenResult& result) {
  if (const auto* grants = std::get_if<Grants>(&result)) return *grants;
  const auto& refusal = std::get<TokenRefused>(result);
  ADD_FAILURE() << "token refused (" << refusal_label(refusal.refusal) << "): " << refusal.reason;
  return Grants{};
}

void expect_invalid(const TokenVerifier& verifier, const std::string& token,
                    const std::string& reason_part) {
  const TokenRefused r = refused(verifier.verify(token, kAt));
  EXPECT_EQ(r.refusal, Refusal::kInvalid) << r.reason;
  EXPECT_NE(r.reason.find(reason_part), std::string::npos)
      << "reason '" << r.reason << "' lacks '" << reason_part << "'";
  // Never the token, nor any of its parts (those long enough to tell).
  std::size_t start = 0;
  while (start < token.size()) {
    const std::size_t dot = std::min(token.find('.', start), token.size());
    if (dot - start >= 8) {
      EXPECT_EQ(r.reason.find(token.substr(start, dot - start)), std::string::npos) << r.reason;
    }
    start = dot + 1;
  }
}

TEST(TokenVerifier, GoodHs256TokenGrantsWhatItSays) {
  const TokenVerifier verifier(hs256());
  const Grants g = granted(verifier.verify(
      mint_hs256(
          kHeader,
          claims(R"("sub":"viewer 7")",
                 R"({"publish":["cam-1"],"watch":["cam-*","door-1"],"echo":true,"list":true})"),
          kVerifierSecret),
      kAt));
  EXPECT_TRUE(g.allows(AccessRequest::kPublish, "cam-1"));
  EXPECT_FALSE(g.allows(AccessRequest::kPublish, "cam-2"));
  EXPECT_TRUE(g.allows(AccessRequest::kWatch, "cam-2"));
  EXPECT_TRUE(g.allows(AccessRequest::kWatch, "door-1"));
  EXPECT_FALSE(g.allows(AccessRequest::kWatch, "door-2"));
  EXPECT_TRUE(g.allows(AccessRequest::kEcho));
  EXPECT_TRUE(g.allows(AccessRequest::kDevices));
  EXPECT_EQ(g.sub, "viewer 7");
}

TEST(TokenVerifier, EmptyMediaGrantsNothing) {
  const TokenVerifier verifier(hs256());
  const Grants g =
      granted(verifier.verify(mint_hs256(kHeader, claims("", "{}"), kVerifierSecret), kAt));
  EXPECT_FALSE(g.allows(AccessRequest::kPublish, "cam-1"));
  EXPECT_FALSE(g.allows(AccessRequest::kWatch, "cam-1"));
  EXPECT_FALSE(g.allows(AccessRequest::kEcho));
  EXPECT_FALSE(g.allows(AccessRequest::kList));
  EXPECT_TRUE(g.sub.empty());
}

TEST(TokenVerifier, NoTokenIsMissing) {
  const TokenVerifier verifier(hs256());
  EXPECT_EQ(refused(verifier.verify("", kAt)).refusal, Refusal::kMissing);
  const JsonPtr body = adopt(json_pack("{s:s, s:s}", "request", "watch", "device_id", "cam-1"));
  EXPECT_EQ(refused(verifier.verify_member(body.get(), kAt)).refusal, Refusal::kMissing);
  const JsonPtr number = adopt(json_pack("{s:s, s:i}", "request", "watch", "token", 5));
  EXPECT_EQ(refused(verifier.verify_member(number.get(), kAt)).refusal, Refusal::kInvalid);
  const JsonPtr good = adopt(json_pack("{s:s, s:s}", "request", "watch", "token",
                                       mint_hs256(kHeader, claims(), kVerifierSecret).c_str()));
  granted(verifier.verify_member(good.get(), kAt));
}

TEST(TokenVerifier, LengthIsCappedBeforeParsing) {
  const TokenVerifier verifier(hs256());
  // A good token of exactly kMaxTokenLength bytes passes; one byte more is refused unread.
  const std::string base = mint_hs256(kHeader, claims(R"("sub":"")"), kVerifierSecret);
  std::string sub;
  std::string token;
  for (std::size_t n = (kMaxTokenLength - base.size()) * 3 / 4; n > 0; --n) {
    sub.assign(n, 'x');
    token = mint_hs256(kHeader, claims(R"("sub":")" + sub + "\""), kVerifierSecret);
    if (token.size() <= kMaxTokenLength) break;
  }
  ASSERT_GE(token.size(), kMaxTokenLength - 3);
  granted(verifier.verify(token, kAt));
  const std::string longer =
      mint_hs256(kHeader, claims(R"("sub":")" + sub + "xxxx\""), kVerifierSecret);
  ASSERT_GT(longer.size(), kMaxTokenLength);
  expect_invalid(verifier, longer, "longer than 8192 bytes");
}

TEST(TokenVerifier, NotThreeBase64urlParts) {
  const TokenVerifier verifier(hs256());
  const std::string good = mint_hs256(kHeader, claims(), kVerifierSecret);
  expect_invalid(verifier, "abc", "not a JWT");
  expect_invalid(verifier, good.substr(0, good.rfind('.')), "not a JWT");
  expect_invalid(verifier, good + ".e30", "not a JWT");  // five parts or more: JWE, no
  expect_invalid(verifier, good + "=", "signature is not base64url");
  expect_invalid(verifier, " " + good, "header is not");
  expect_invalid(verifier, "..", "header is not");
  // The header and payload as standard base64 with padding: not base64url.
  std::string padded = good;
  padded.insert(good.find('.'), "==");
  expect_invalid(verifier, padded, "header is not");
  // Non-canonical: the header's last character with one of its unused low bits set (the
  // header is 28 bytes: its last character carries 2 bits and 4 unused ones).
  const std::string header_json = R"({"alg":"HS256","typ":"JWT" })";
  const std::string header = testing::base64url(header_json);
  ASSERT_EQ(header.size() % 4, 2u);
  std::string noncanonical = mint_hs256(header_json, claims(), kVerifierSecret);
  granted(verifier.verify(noncanonical, kAt));
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const std::size_t value = std::string_view(kAlphabet).find(header.back());
  ASSERT_EQ(value & 0xf, 0u);
  noncanonical[header.size() - 1] = kAlphabet[value | 1];
  expect_invalid(verifier, noncanonical, "header is not");
}

TEST(TokenVerifier, AlgNoneIsRefused) {
  const TokenVerifier verifier(hs256());
  for (const char* alg : {"none", "None", "NONE"}) {
    const std::string header = std::string(R"({"alg":")") + alg + R"(","typ":"JWT"})";
    const std::string input = testing::signing_input(header, claims());
    expect_invalid(verifier, input + ".", "alg none");
    expect_invalid(verifier, input + ".c2lnbmF0dXJl", "alg none");
  }
}

// What the pre-check above protects against is not libjwt 1.10's alg none handling: with a
// key given, jwt_decode refuses alg none itself (jwt_verify_head: "If alg is NONE, there
// should not be a key"). Pinned here so that a libjwt change shows.
TEST(TokenVerifier, LibjwtWithAKeyRefusesAlgNoneToo) {
  const std::string token = testing::signing_input(R"({"alg":"none"})", claims()) + ".";
  jwt_t* jwt = nullptr;
  EXPECT_NE(jwt_decode(&jwt, token.c_str(),
                       reinterpret_cast<const unsigned char*>(kVerifierSecret.data()),
                       static_cast<int>(kVerifierSecret.size())),
            0);
  EXPECT_EQ(jwt, nullptr);
  jwt_free(jwt);
  // Without a key it parses (no verification at all): the verifier always passes the key.
  EXPECT_EQ(jwt_decode(&jwt, token.c_str(), nullptr, 0), 0);
  jwt_free(jwt);
}

TEST(TokenVerifier, OnlyTheConfiguredAlgorithm) {
  const TokenVerifier verifier(hs256());
  // HS384 header over an HS256 signature with the right secret: refused for the header.
  expect_invalid(verifier, mint_hs256(R"({"alg":"HS384"})", claims(), kVerifierSecret),
                 "alg is not HS256");
  // Case matters (libjwt itself reads "hs256" as HS256).
  expect_invalid(verifier, mint_hs256(R"({"alg":"hs256"})", claims(), kVerifierSecret),
                 "alg is not HS256");
  expect_invalid(verifier, rsa_key().mint(R"({"alg":"RS256"})", claims()), "alg is not HS256");
  expect_invalid(verifier, mint_hs256(R"({"typ":"JWT"})", claims(), kVerifierSecret), "no alg");
  expect_invalid(verifier, mint_hs256(R"({"alg":256})", claims(), kVerifierSecret), "no alg");

  const TokenVerifier rs256(pem(JwtAlgorithm::kRS256, rsa_key()));
  expect_invalid(rs256, ec_key().mint(R"({"alg":"ES256"})", claims()), "alg is not RS256");
  expect_invalid(rs256, rsa_key().mint(R"({"alg":"RS512"})", claims()), "alg is not RS256");
  const TokenVerifier es256(pem(JwtAlgorithm::kES256, ec_key()));
  expect_invalid(es256, rsa_key().mint(R"({"alg":"RS256"})", claims()), "alg is not ES256");
}

// The key-confusion attack: the public key is public, so anyone can HMAC a token with its PEM
// text as the secret and claim alg HS256. Bare libjwt 1.10 accepts that token (it verifies
// with whatever the header names); the verifier does not.
TEST(TokenVerifier, PublicKeyUsedAsAnHs256SecretIsRefused) {
  for (const auto& [algorithm, key] :
       {std::pair{JwtAlgorithm::kRS256, &rsa_key()}, std::pair{JwtAlgorithm::kES256, &ec_key()}}) {
    const std::string forged = mint_hs256(kHeader, claims(), key->public_pem());
    jwt_t* jwt = nullptr;
    ASSERT_EQ(jwt_decode(&jwt, forged.c_str(),
                         reinterpret_cast<const unsigned char*>(key->public_pem().data()),
                         static_cast<int>(key->public_pem().size())),
              0)
        << "libjwt no longer falls for key confusion: the pre-check stays anyway";
    jwt_free(jwt);
    const TokenVerifier verifier(pem(algorithm, *key));
    expect_invalid(verifier, forged, std::string("alg is not ") + algorithm_name(algorithm));
  }
}

TEST(TokenVerifier, BadSignatures) {
  const TokenVerifier verifier(hs256());
  const std::string good = mint_hs256(kHeader, claims(), kVerifierSecret);
  expect_invalid(verifier, mint_hs256(kHeader, claims(), kVerifierSecret + "x"), "bad signature");
  std::string flipped = good;
  flipped.back() = flipped.back() == 'A' ? 'Q' : 'A';
  expect_invalid(verifier, flipped, "");
  // The payload swapped for another one (more grants), the signature kept.
  const std::string wider =
      testing::signing_input(kHeader, claims("", R"({"publish":["*"],"watch":["*"],"list":true})"));
  expect_invalid(verifier, wider + good.substr(good.rfind('.')), "bad signature");

  const TokenVerifier rs256(pem(JwtAlgorithm::kRS256, rsa_key()));
  granted(rs256.verify(rsa_key().mint(R"({"alg":"RS256","typ":"JWT"})", claims()), kAt));
  expect_invalid(rs256, other_rsa_key().mint(R"({"alg":"RS256"})", claims()), "bad signature");
  const std::string rs = rsa_key().mint(R"({"alg":"RS256"})", claims());
  expect_invalid(
      rs256, rs.substr(0, rs.find('.')) + wider.substr(wider.find('.')) + rs.substr(rs.rfind('.')),
      "bad signature");

  const TokenVerifier es256(pem(JwtAlgorithm::kES256, ec_key()));
  const std::string es = ec_key().mint(R"({"alg":"ES256"})", claims());
  granted(es256.verify(es, kAt));
  // A signature of the wrong size for P-256 (R || S is 64 bytes).
  expect_invalid(es256, es.substr(0, es.rfind('.') + 1) + testing::base64url(std::string(63, 'x')),
                 "bad signature");
  expect_invalid(es256, KeyPair::ec("P-256").mint(R"({"alg":"ES256"})", claims()), "bad signature");
}

TEST(TokenVerifier, HeaderRules) {
  const TokenVerifier verifier(hs256());
  granted(verifier.verify(
      mint_hs256(R"({"alg":"HS256","typ":"jwt","kid":"k1"})", claims(), kVerifierSecret), kAt));
  expect_invalid(verifier,
                 mint_hs256(R"({"alg":"HS256","typ":"JOSE+JSON"})", claims(), kVerifierSecret),
                 "typ is not JWT");
  expect_invalid(verifier, mint_hs256(R"({"alg":"HS256","typ":1})", claims(), kVerifierSecret),
                 "typ is not JWT");
  expect_invalid(verifier,
                 mint_hs256(R"({"alg":"HS256","crit":["exp"],"exp":1})", claims(), kVerifierSecret),
                 "crit");
  expect_invalid(verifier, mint_hs256(R"(["HS256"])", claims(), kVerifierSecret), "header is not");
  expect_invalid(verifier, mint_hs256(R"({"alg":"HS256","alg":"none"})", claims(), kVerifierSecret),
                 "header is not");
}

TEST(TokenVerifier, ExpIsRequiredAndChecked) {
  const TokenVerifier verifier(hs256());  // leeway 30 s
  const auto token = [](const std::string& payload) {
    return mint_hs256(kHeader, payload, kVerifierSecret);
  };
  expect_invalid(verifier, token(R"({"media":{}})"), "no exp");
  expect_invalid(verifier, token(R"({"exp":"soon","media":{}})"), "exp is not a number");
  expect_invalid(verifier, token(R"({"exp":null,"media":{}})"), "exp is not a number");
  const std::string at_29 = token(claims("", "{}", kNow - 29));
  const std::string at_30 = token(claims("", "{}", kNow - 30));
  granted(verifier.verify(at_29, kAt));
  const TokenRefused expired = refused(verifier.verify(at_30, kAt));
  EXPECT_EQ(expired.refusal, Refusal::kExpired);
  EXPECT_EQ(expired.reason, "token expired");
  // The same token, earlier and later: the clock is the caller's.
  const std::string hour = token(claims("", "{}", kNow + 3600));
  granted(verifier.verify(hour, kAt + std::chrono::seconds(3629)));
  EXPECT_EQ(refused(verifier.verify(hour, kAt + std::chrono::seconds(3630))).refusal,
            Refusal::kExpired);
  // NumericDate may have a fraction.
  granted(
      verifier.verify(token(R"({"exp":1700000000.5,"media":{}})"), kAt + std::chrono::seconds(30)));
  EXPECT_EQ(refused(verifier.verify(token(R"({"exp":1699999969.9,"media":{}})"), kAt)).refusal,
            Refusal::kExpired);

  AccessConfig strict = hs256();
  strict.leeway_s = 0;
  const TokenVerifier no_leeway(strict);
  EXPECT_EQ(refused(no_leeway.verify(token(claims("", "{}", kNow)), kAt)).refusal,
            Refusal::kExpired);
  granted(no_leeway.verify(token(claims("", "{}", kNow + 1)), kAt));
}

TEST(TokenVerifier, NbfInTheFutureIsRefused) {
  const TokenVerifier verifier(hs256());
  const auto token = [](std::int64_t nbf) {
    return mint_hs256(kHeader, claims(R"("nbf":)" + std::to_string(nbf)), kVerifierSecret);
  };
  granted(verifier.verify(token(kNow + 30), kAt));  // within the leeway
  expect_invalid(verifier, token(kNow + 31), "not valid yet");
  granted(verifier.verify(token(kNow + 31), kAt + std::chrono::seconds(1)));
  expect_invalid(verifier, mint_hs256(kHeader, claims(R"("nbf":"now")"), kVerifierSecret),
                 "nbf is not a number");
}

TEST(TokenVerifier, Issuer) {
  const auto token = [](const std::string& extra) {
    return mint_hs256(kHeader, claims(extra), kVerifierSecret);
  };
  const TokenVerifier any(hs256());
  granted(any.verify(token(R"("iss":"whoever")"), kAt));
  expect_invalid(any, token(R"("iss":5)"), "iss is not a string");
  const TokenVerifier app(hs256("app.example"));
  granted(app.verify(token(R"("iss":"app.example")"), kAt));
  expect_invalid(app, token(""), "no iss");
  expect_invalid(app, token(R"("iss":"app.example.evil")"), "not the configured issuer");
  expect_invalid(app, token(R"("iss":"APP.EXAMPLE")"), "not the configured issuer");
}

TEST(TokenVerifier, Audience) {
  const auto token = [](const std::string& extra) {
    return mint_hs256(kHeader, claims(extra), kVerifierSecret);
  };
  const TokenVerifier none(hs256());
  granted(none.verify(token(""), kAt));
  expect_invalid(none, token(R"("aud":"janus")"), "no audience");
  const TokenVerifier janus(hs256(std::nullopt, "janus-media"));
  granted(janus.verify(token(R"("aud":"janus-media")"), kAt));
  granted(janus.verify(token(R"("aud":["other","janus-media"])"), kAt));
  expect_invalid(janus, token(""), "no aud");
  expect_invalid(janus, token(R"("aud":"other")"), "does not name");
  expect_invalid(janus, token(R"("aud":[])"), "does not name");
  expect_invalid(janus, token(R"("aud":["janus-media",7])"), "not a string or strings");
  expect_invalid(janus, token(R"("aud":{"janus-media":true})"), "not a string or strings");
}

TEST(TokenVerifier, BadClaims) {
  const TokenVerifier verifier(hs256());
  const auto media = [](const std::string& value) {
    return mint_hs256(kHeader, claims("", value), kVerifierSecret);
  };
  expect_invalid(verifier, mint_hs256(kHeader, R"({"exp":1700000060})", kVerifierSecret),
                 "no media");
  expect_invalid(verifier, media("[]"), "media is not an object");
  expect_invalid(verifier, media("true"), "media is not an object");
  expect_invalid(verifier, media(R"({"publish":"cam-1"})"), "media.publish is not an array");
  expect_invalid(verifier, media(R"({"watch":["cam-1",3]})"), "media.watch[1] is not a string");
  for (const char* bad : {"", "*cam", "c*m", "**", "cam-*-1", "cam 1", "cam/1", "caméra"}) {
    expect_invalid(verifier, media(std::string(R"({"watch":["ok",")") + bad + "\"]}"),
                   "media.watch[1] is not a pattern");
  }
  expect_invalid(verifier, media(R"({"echo":"yes"})"), "media.echo is not a boolean");
  expect_invalid(verifier, media(R"({"list":1})"), "media.list is not a boolean");
  expect_invalid(verifier, media(R"({"publsh":["cam-1"]})"), "a member other than");
  expect_invalid(verifier, mint_hs256(kHeader, claims(R"("sub":["a"])"), kVerifierSecret),
                 "sub is not a string");
  expect_invalid(verifier, mint_hs256(kHeader, "[1]", kVerifierSecret), "payload is not");
  expect_invalid(verifier, mint_hs256(kHeader, "{\"exp\":1,", kVerifierSecret), "payload is not");
  // Two exps: readers that take the first and the last would disagree.
  expect_invalid(verifier,
                 mint_hs256(kHeader, R"({"exp":1,"exp":1700000060,"media":{}})", kVerifierSecret),
                 "payload is not");
}

TEST(TokenVerifier, PatternCountIsBounded) {
  const TokenVerifier verifier(hs256());
  const auto with = [](std::size_t n) {
    std::string list;
    for (std::size_t i = 0; i < n; ++i)
      list += (i ? ",\"cam-" : "\"cam-") + std::to_string(i) + "\"";
    return mint_hs256(kHeader, claims("", R"({"publish":[)" + list + "]}"), kVerifierSecret);
  };
  const Grants g = granted(verifier.verify(with(kMaxPatternsPerList), kAt));
  EXPECT_EQ(g.publish.patterns().size(), kMaxPatternsPerList);
  EXPECT_TRUE(g.allows(AccessRequest::kPublish, "cam-63"));
  expect_invalid(verifier, with(kMaxPatternsPerList + 1), "more than 64 patterns");
}

TEST(TokenVerifier, SubIsMadeSafeForLogs) {
  const TokenVerifier verifier(hs256());
  const Grants g = granted(verifier.verify(
      mint_hs256(kHeader, claims(R"("sub":"a\nb\u0001c)" + std::string(80, 'x') + "\""),
                 kVerifierSecret),
      kAt));
  EXPECT_EQ(g.sub.substr(0, 5), "a?b?c");
  EXPECT_EQ(g.sub.size(), 64u + 3u);
  EXPECT_EQ(g.sub.substr(64), "...");
}

TEST(TokenVerifier, UnauthorizedIs1020) {
  const Error error = unauthorized(TokenRefused{Refusal::kExpired, "token expired"});
  EXPECT_EQ(numeric(error.code), 1020);
  EXPECT_EQ(error.reason, "unauthorized: token expired");
  EXPECT_EQ(refusal_label(Refusal::kMissing), "missing");
  EXPECT_EQ(refusal_label(Refusal::kInvalid), "invalid");
  EXPECT_EQ(refusal_label(Refusal::kExpired), "expired");
}

}  // namespace
}  // namespace jmedia
