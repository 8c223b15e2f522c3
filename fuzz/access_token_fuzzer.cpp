// Access control: TokenVerifier (JWT structure, header, libjwt's signature check, claims) and
// device patterns. The first byte of an input picks what the rest is:
//   T<token>                  verified as is by an HS256, an RS256 and an ES256 verifier
//   S<header JSON>\n<payload> signed here with the HS256 secret, so that the claims are
//                             reached (a mutated token never passes the signature), then
//                             verified; signed again with the RS256 and ES256 public keys' PEM
//                             text as HMAC secret (key confusion), which must always be refused
//   P<lines>                  "+pattern" lines build a PatternSet; other lines are device ids:
//                             matches(), the normalised ranges and visit_in_ranges() paging
//                             are checked against the definition
// anything else is read as T. The clock is fixed at 1,700,000,000 (seeds: fuzz/make_seeds.py).
// Invariants: every refusal has a reason that does not quote the token; verifying twice gives
// the same answer; an accepted token's grants hold only valid patterns and, for S inputs,
// exp/nbf/alg are what the header and payload say; key-confused tokens are refused.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "../plugin/grants.h"
#include "../plugin/token_verifier.h"
#include "../tests/unit/jwt_mint.h"
#include "fuzz_util.h"

namespace {

using jmedia::AccessConfig;
using jmedia::Grants;
using jmedia::JwtAlgorithm;
using jmedia::TokenRefused;
using jmedia::TokenResult;
using jmedia::TokenVerifier;

constexpr std::int64_t kNow = 1'700'000'000;
constexpr std::int64_t kLeeway = 30;
// The secret the seeds are signed with (make_seeds.py has the same).
constexpr std::string_view kSecret = "fuzz-secret-0123456789abcdef0123456789";

struct Verifiers {
  jmedia::testing::KeyPair rsa = jmedia::testing::KeyPair::rsa(2048);
  jmedia::testing::KeyPair ec = jmedia::testing::KeyPair::ec("P-256");
  std::unique_ptr<TokenVerifier> hs256;
  std::unique_ptr<TokenVerifier> hs256_checked;  // with issuer and audience
  std::unique_ptr<TokenVerifier> rs256;
  std::unique_ptr<TokenVerifier> es256;
};
Verifiers* verifiers = nullptr;

AccessConfig config(JwtAlgorithm algorithm, std::string key) {
  AccessConfig c;
  c.mode = jmedia::AccessMode::kToken;
  c.algorithm = algorithm;
  c.key = std::move(key);
  c.leeway_s = kLeeway;
  return c;
}

const TokenVerifier::Clock::time_point kAt{std::chrono::seconds(kNow)};

// The checks every answer meets; returns the grants when accepted.
const Grants* check(const TokenResult& result, std::string_view token, const char* who) {
  if (const auto* refused = std::get_if<TokenRefused>(&result)) {
    FUZZ_CHECK(!refused->reason.empty(), "%s: refusal without a reason", who);
    // No part of the token long enough to be recognised appears in the reason. Only base64url
    // parts count: the reasons are fixed texts, and a part with other bytes (spaces) can be a
    // piece of one of them (libFuzzer's comparison tracing builds such tokens from the reason
    // itself: "eader is not a base64url JSON obje" is no token material).
    const auto base64url = [](std::string_view part) {
      return std::all_of(part.begin(), part.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
      });
    };
    std::size_t start = 0;
    while (start < token.size()) {
      const std::size_t dot = std::min(token.find('.', start), token.size());
      if (dot - start >= 16 && base64url(token.substr(start, dot - start))) {
        FUZZ_CHECK(refused->reason.find(token.substr(start, dot - start)) == std::string::npos,
                   "%s: the reason quotes the token: %s", who, refused->reason.c_str());
      }
      start = dot + 1;
    }
    return nullptr;
  }
  const Grants& grants = std::get<Grants>(result);
  FUZZ_CHECK(token.size() <= jmedia::kMaxTokenLength, "%s: accepted a token over the cap", who);
  FUZZ_CHECK(std::count(token.begin(), token.end(), '.') == 2, "%s: accepted a non-JWS", who);
  for (const auto* set : {&grants.publish, &grants.watch}) {
    FUZZ_CHECK(set->patterns().size() <= jmedia::kMaxPatternsPerList, "%s: too many patterns", who);
    for (const std::string& p : set->patterns()) {
      FUZZ_CHECK(jmedia::valid_pattern(p), "%s: accepted a bad pattern", who);
      const std::string id = p.back() == '*' ? p.substr(0, p.size() - 1) + "x" : p;
      FUZZ_CHECK(set->matches(id), "%s: a pattern does not match its own device", who);
    }
  }
  for (char c : grants.sub) FUZZ_CHECK(c >= 0x20 && c < 0x7f, "%s: sub not loggable", who);
  // What a listing pages through is exactly what shows() says, on every pattern's edges.
  const jmedia::KeyRanges shown = grants.shown_ranges();
  for (const auto* set : {&grants.publish, &grants.watch}) {
    for (const std::string& p : set->patterns()) {
      const std::string stem = p.back() == '*' ? p.substr(0, p.size() - 1) : p;
      for (const std::string& id :
           {stem, stem + "0", stem + "~", stem.substr(0, stem.size() / 2)}) {
        FUZZ_CHECK(jmedia::contains(shown, id) == grants.shows(id), "%s: shown_ranges != shows",
                   who);
        FUZZ_CHECK(grants.allows(jmedia::AccessRequest::kPublish, id) == grants.publish.matches(id),
                   "%s: allows(publish) != publish patterns", who);
      }
    }
  }
  FUZZ_CHECK(grants.allows(jmedia::AccessRequest::kDevices) == grants.list, "%s: list", who);
  return &grants;
}

const Grants* verify(const TokenVerifier& verifier, std::string_view token, const char* who) {
  const TokenResult first = verifier.verify(token, kAt);
  const TokenResult again = verifier.verify(token, kAt);
  FUZZ_CHECK(first.index() == again.index(), "%s: two answers for one token", who);
  if (first.index() == 1) {
    FUZZ_CHECK(std::get<TokenRefused>(first).reason == std::get<TokenRefused>(again).reason,
               "%s: two reasons for one token", who);
  }
  return check(first, token, who);
}

void fuzz_token(std::string_view token) {
  verify(*verifiers->hs256, token, "hs256");
  verify(*verifiers->hs256_checked, token, "hs256+iss/aud");
  verify(*verifiers->rs256, token, "rs256");
  verify(*verifiers->es256, token, "es256");
}

void fuzz_signed(std::string_view input) {
  const std::size_t newline = input.find('\n');
  const std::string_view header = input.substr(0, newline);
  const std::string_view payload =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  const std::string token = jmedia::testing::mint_hs256(header, payload, kSecret);
  if (const Grants* grants = verify(*verifiers->hs256, token, "signed")) {
    (void)grants;
    // What made it acceptable must be in the texts that were signed.
    const jmedia::JsonPtr h = jmedia::fuzz::parse_json(header, JSON_REJECT_DUPLICATES);
    const jmedia::JsonPtr p = jmedia::fuzz::parse_json(payload, JSON_REJECT_DUPLICATES);
    FUZZ_CHECK(json_is_object(h.get()) && json_is_object(p.get()), "accepted a non-object");
    const json_t* alg = json_object_get(h.get(), "alg");
    FUZZ_CHECK(json_is_string(alg) && std::string_view(json_string_value(alg)) == "HS256",
               "accepted alg other than HS256");
    const json_t* exp = json_object_get(p.get(), "exp");
    FUZZ_CHECK(json_is_number(exp) && static_cast<double>(kNow) < json_number_value(exp) + kLeeway,
               "accepted without a live exp");
    const json_t* nbf = json_object_get(p.get(), "nbf");
    FUZZ_CHECK(nbf == nullptr || (json_is_number(nbf) &&
                                  json_number_value(nbf) <= static_cast<double>(kNow + kLeeway)),
               "accepted before nbf");
    FUZZ_CHECK(json_is_object(json_object_get(p.get(), "media")), "accepted without media");
    FUZZ_CHECK(json_object_get(p.get(), "aud") == nullptr, "accepted aud with no audience");
  }
  verify(*verifiers->hs256_checked, token, "signed+iss/aud");
  // Key confusion: the public keys are public. Whatever the header says, an HMAC made with
  // their PEM text must not pass the verifier that holds them.
  const std::string with_rsa =
      jmedia::testing::mint_hs256(header, payload, verifiers->rsa.public_pem());
  FUZZ_CHECK(verify(*verifiers->rs256, with_rsa, "confused rs256") == nullptr,
             "RS256 verifier accepted an HMAC made with its public key");
  const std::string with_ec =
      jmedia::testing::mint_hs256(header, payload, verifiers->ec.public_pem());
  FUZZ_CHECK(verify(*verifiers->es256, with_ec, "confused es256") == nullptr,
             "ES256 verifier accepted an HMAC made with its public key");
}

bool naive_match(const std::vector<std::string>& patterns, std::string_view id) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) {
    if (p.back() == '*')
      return id.substr(0, p.size() - 1) == std::string_view(p).substr(0, p.size() - 1);
    return id == p;
  });
}

void fuzz_patterns(std::string_view input) {
  jmedia::PatternSet set;
  std::vector<std::string> patterns;
  std::set<std::string> ids;
  for (std::string_view line : jmedia::fuzz::split_lines(input, 64)) {
    if (!line.empty() && line[0] == '+') {
      const std::string_view pattern = line.substr(1);
      const bool added = set.add(pattern);
      FUZZ_CHECK(added == jmedia::valid_pattern(pattern), "add() disagrees with valid_pattern");
      if (added) patterns.emplace_back(pattern);
    } else {
      ids.emplace(line);
    }
  }
  for (const std::string& p : patterns) {
    // Each pattern's own boundary keys, as probes: the id, the prefix, one past it.
    const std::string stem = p.back() == '*' ? p.substr(0, p.size() - 1) : p;
    ids.insert(stem);
    ids.insert(stem + '0');
    if (!stem.empty()) ids.insert(stem.substr(0, stem.size() - 1));
  }
  const jmedia::KeyRanges& ranges = set.ranges();
  for (std::size_t i = 1; i < ranges.size(); ++i) {
    FUZZ_CHECK(ranges[i - 1].end && *ranges[i - 1].end < ranges[i].begin, "ranges not normalised");
  }
  std::map<std::string, int> index;
  for (const std::string& id : ids) {
    FUZZ_CHECK(set.matches(id) == naive_match(patterns, id), "matches() disagrees on an id");
    index.emplace(id, 0);
  }
  // Paging through the ranges from every cursor gives the covered ids after it, in order.
  std::vector<std::string> covered;
  for (const std::string& id : ids) {
    if (naive_match(patterns, id)) covered.push_back(id);
  }
  std::vector<std::string> cursors = {""};
  cursors.insert(cursors.end(), ids.begin(), ids.end());
  for (const std::string& cursor : cursors) {
    std::vector<std::string> seen;
    jmedia::visit_in_ranges(index, ranges, cursor, [&](const std::string& key, int) {
      seen.push_back(key);
      return true;
    });
    std::vector<std::string> expected;
    for (const std::string& id : covered) {
      if (cursor.empty() || id > cursor) expected.push_back(id);
    }
    FUZZ_CHECK(seen == expected, "visit_in_ranges: %zu keys after a cursor, expected %zu",
               seen.size(), expected.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  jmedia::fuzz::quiet_logs();
  verifiers = new Verifiers();
  verifiers->hs256 =
      std::make_unique<TokenVerifier>(config(JwtAlgorithm::kHS256, std::string(kSecret)));
  AccessConfig checked = config(JwtAlgorithm::kHS256, std::string(kSecret));
  checked.issuer = "app.example";
  checked.audience = "janus-media";
  verifiers->hs256_checked = std::make_unique<TokenVerifier>(checked);
  verifiers->rs256 =
      std::make_unique<TokenVerifier>(config(JwtAlgorithm::kRS256, verifiers->rsa.public_pem()));
  verifiers->es256 =
      std::make_unique<TokenVerifier>(config(JwtAlgorithm::kES256, verifiers->ec.public_pem()));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (input.empty()) return 0;
  switch (input[0]) {
    case 'S':
      fuzz_signed(input.substr(1));
      break;
    case 'P':
      fuzz_patterns(input.substr(1));
      break;
    case 'T':
      fuzz_token(input.substr(1));
      break;
    default:
      fuzz_token(input);
      break;
  }
  return 0;
}
