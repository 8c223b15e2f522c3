// Verifies the JWT a client sends in token mode (RFC 7519, signed with the node's one
// algorithm) and turns it into Grants. The signature is checked by libjwt; before it this
// code refuses what libjwt 1.10 would let through or leave to the caller: a header whose alg
// is not the configured one (alg "none"; HS256 signed with an RS256/ES256 public key's PEM
// as the secret, the key-confusion attack), an unknown "crit" header, a non-canonical
// encoding. After it: exp (required), nbf, iss, aud and the media claim. Reasons never
// quote the token. Thread-safe: verify() is const and shares nothing between calls.
#pragma once

#include <jansson.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

#include "access_config.h"
#include "errors.h"
#include "grants.h"

namespace jmedia {

// Longer tokens are refused before any decoding (libjwt copies a token on the stack).
inline constexpr std::size_t kMaxTokenLength = 8192;

// Why a token was refused; also the reason label of janus_media_access_denied_total.
enum class Refusal : int { kMissing, kInvalid, kExpired };
inline constexpr std::array<std::string_view, 3> kRefusalLabels = {"missing", "invalid", "expired"};
inline std::string_view refusal_label(Refusal refusal) {
  return kRefusalLabels[static_cast<std::size_t>(refusal)];
}

struct TokenRefused {
  Refusal refusal;
  std::string reason;  // for the client and the log; never contains the token
};
// Error 1020 for a refused token: "unauthorized: " + the reason.
Error unauthorized(const TokenRefused& refused);

using TokenResult = std::variant<Grants, TokenRefused>;

class TokenVerifier {
 public:
  using Clock = std::chrono::system_clock;

  // config: token mode, as load_access_config() accepted it (the key already validated).
  explicit TokenVerifier(AccessConfig config);

  // token: the compact JWS ("" = none sent); now: the time to check exp and nbf against.
  TokenResult verify(std::string_view token, Clock::time_point now) const;
  // The "token" member of a request body: absent is kMissing, not a string kInvalid.
  TokenResult verify_member(const json_t* body, Clock::time_point now) const;

  JwtAlgorithm algorithm() const { return config_.algorithm; }

 private:
  TokenResult check_claims(const json_t* claims, double now_s) const;

  AccessConfig config_;
};

}  // namespace jmedia
