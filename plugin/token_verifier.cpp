#include "token_verifier.h"

#include <jwt.h>
#include <strings.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>

#include "../common/json.h"

namespace jmedia {
namespace {

struct JwtFree {
  void operator()(jwt_t* jwt) const noexcept { jwt_free(jwt); }
};

constexpr std::array<std::int8_t, 256> base64url_table() {
  std::array<std::int8_t, 256> table{};
  for (auto& value : table) value = -1;
  constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (int i = 0; i < 64; ++i)
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return table;
}

// Strict unpadded base64url (RFC 7515 section 2): only the alphabet, no '=', and the unused
// low bits of the last character zero, so that one text has one encoding.
std::optional<std::string> decode_base64url(std::string_view text) {
  static constexpr auto table = base64url_table();
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    const std::int8_t value = table[static_cast<unsigned char>(c)];
    if (value < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(value);
    if (++count == 4) {
      out.push_back(static_cast<char>((bits >> 16) & 0xff));
      out.push_back(static_cast<char>((bits >> 8) & 0xff));
      out.push_back(static_cast<char>(bits & 0xff));
      bits = 0;
      count = 0;
    }
  }
  if (count == 3) {  // 18 bits: two bytes, the last 2 bits unused
    if ((bits & 0x3) != 0) return std::nullopt;
    out.push_back(static_cast<char>((bits >> 10) & 0xff));
    out.push_back(static_cast<char>((bits >> 2) & 0xff));
  } else if (count == 2) {  // 12 bits: one byte, the last 4 bits unused
    if ((bits & 0xf) != 0) return std::nullopt;
    out.push_back(static_cast<char>((bits >> 4) & 0xff));
  }
  return out;
}

// A JSON object from a base64url segment, duplicate members refused (two "exp" would let two
// readers of one token disagree); null when it is not one.
JsonPtr decode_object(std::string_view segment) {
  const std::optional<std::string> text = decode_base64url(segment);
  if (!text) return nullptr;
  json_error_t error;
  JsonPtr value = adopt(json_loadb(text->data(), text->size(), JSON_REJECT_DUPLICATES, &error));
  if (!value || !json_is_object(value.get())) return nullptr;
  return value;
}

TokenRefused refuse(Refusal refusal, std::string reason) {
  return TokenRefused{refusal, std::move(reason)};
}

TokenRefused invalid(std::string reason) {
  return refuse(Refusal::kInvalid, std::move(reason));
}

// The subject as it may appear in a log line: printable ASCII, at most 64 characters.
std::string loggable(std::string_view text) {
  constexpr std::size_t kMax = 64;
  std::string out;
  for (char c : text.substr(0, kMax)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (text.size() > kMax) out += "...";
  return out;
}

jwt_alg_t libjwt_algorithm(JwtAlgorithm algorithm) {
  switch (algorithm) {
    case JwtAlgorithm::kHS256:
      return JWT_ALG_HS256;
    case JwtAlgorithm::kRS256:
      return JWT_ALG_RS256;
    case JwtAlgorithm::kES256:
      return JWT_ALG_ES256;
  }
  return JWT_ALG_INVAL;
}

}  // namespace

Error unauthorized(const TokenRefused& refused) {
  return Error{ErrorCode::kUnauthorized, "unauthorized: " + refused.reason};
}

TokenVerifier::TokenVerifier(AccessConfig config) : config_(std::move(config)) {}

TokenResult TokenVerifier::verify_member(const json_t* body, Clock::time_point now) const {
  const json_t* token = json_is_object(body) ? json_object_get(body, "token") : nullptr;
  if (token == nullptr) return refuse(Refusal::kMissing, "no token in the request");
  if (!json_is_string(token)) return invalid("token is not a string");
  return verify(std::string_view(json_string_value(token), json_string_length(token)), now);
}

TokenResult TokenVerifier::verify(std::string_view token, Clock::time_point now) const {
  if (token.empty()) return refuse(Refusal::kMissing, "no token in the request");
  if (token.size() > kMaxTokenLength) {
    return invalid("token longer than " + std::to_string(kMaxTokenLength) + " bytes");
  }
  // header.payload.signature, each base64url: a JWE (five parts) or a JWS without a
  // signature has no place here.
  const std::size_t first = token.find('.');
  const std::size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return invalid("token is not a JWT (header.payload.signature)");
  }
  const std::string_view header_part = token.substr(0, first);
  const std::string_view payload_part = token.substr(first + 1, second - first - 1);
  const std::string_view signature_part = token.substr(second + 1);
  const JsonPtr header = decode_object(header_part);
  if (!header) return invalid("token header is not a base64url JSON object");

  // The algorithm: exactly the configured one, decided here rather than by the token.
  const char* expected = algorithm_name(config_.algorithm);
  const json_t* alg = json_object_get(header.get(), "alg");
  if (!json_is_string(alg)) return invalid("token header has no alg");
  if (strcasecmp(json_string_value(alg), "none") == 0) return invalid("alg none is refused");
  if (std::string_view(json_string_value(alg), json_string_length(alg)) != expected) {
    return invalid(std::string("token alg is not ") + expected +
                   ", the only algorithm this node accepts");
  }
  const json_t* typ = json_object_get(header.get(), "typ");
  if (typ != nullptr && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0)) {
    return invalid("token typ is not JWT");
  }
  if (json_object_get(header.get(), "crit") != nullptr) {
    return invalid("token header has crit extensions, none of which this node understands");
  }
  if (signature_part.empty() || !decode_base64url(signature_part)) {
    return invalid("token signature is not base64url");
  }
  // The claims, decoded strictly here (not taken from libjwt's copy); read once signed.
  const JsonPtr claims = decode_object(payload_part);
  if (!claims) return invalid("token payload is not a base64url JSON object");

  // The signature, by libjwt. It decodes the header itself and verifies with the algorithm
  // the header names, which is why that was pinned above; checked again after.
  const std::string text(token);
  jwt_t* decoded = nullptr;
  const int status =
      jwt_decode(&decoded, text.c_str(), reinterpret_cast<const unsigned char*>(config_.key.data()),
                 static_cast<int>(config_.key.size()));
  const std::unique_ptr<jwt_t, JwtFree> jwt(decoded);
  if (status != 0 || !jwt) return invalid("bad signature");
  if (jwt_get_alg(jwt.get()) != libjwt_algorithm(config_.algorithm)) {
    return invalid(std::string("token alg is not ") + expected);
  }

  const double now_s = std::chrono::duration<double>(now.time_since_epoch()).count();
  return check_claims(claims.get(), now_s);
}

TokenResult TokenVerifier::check_claims(const json_t* claims, double now_s) const {
  const auto leeway = static_cast<double>(config_.leeway_s);
  const json_t* exp = json_object_get(claims, "exp");
  if (exp == nullptr) return invalid("token has no exp");
  if (!json_is_number(exp)) return invalid("token exp is not a number");
  const json_t* nbf = json_object_get(claims, "nbf");
  if (nbf != nullptr && !json_is_number(nbf)) return invalid("token nbf is not a number");

  const json_t* iss = json_object_get(claims, "iss");
  if (iss != nullptr && !json_is_string(iss)) return invalid("token iss is not a string");
  if (config_.issuer) {
    if (iss == nullptr) return invalid("token has no iss");
    if (std::string_view(json_string_value(iss), json_string_length(iss)) != *config_.issuer) {
      return invalid("token iss is not the configured issuer");
    }
  }
  // RFC 7519 section 4.1.3: a token meant for an audience is refused by whoever is not it,
  // so a token with aud is refused where no audience is configured.
  const json_t* aud = json_object_get(claims, "aud");
  if (aud != nullptr) {
    if (!config_.audience) return invalid("token has aud but this node has no audience");
    bool found = false;
    const auto is_ours = [&](const json_t* value) {
      return std::string_view(json_string_value(value), json_string_length(value)) ==
             *config_.audience;
    };
    if (json_is_string(aud)) {
      found = is_ours(aud);
    } else if (json_is_array(aud)) {
      for (std::size_t i = 0; i < json_array_size(aud); ++i) {
        const json_t* item = json_array_get(aud, i);
        if (!json_is_string(item)) return invalid("token aud is not a string or strings");
        found = found || is_ours(item);
      }
    } else {
      return invalid("token aud is not a string or strings");
    }
    if (!found) return invalid("token aud does not name the configured audience");
  } else if (config_.audience) {
    return invalid("token has no aud");
  }
  const json_t* sub = json_object_get(claims, "sub");
  if (sub != nullptr && !json_is_string(sub)) return invalid("token sub is not a string");

  std::variant<Grants, std::string> media = parse_media_claim(json_object_get(claims, "media"));
  if (auto* problem = std::get_if<std::string>(&media)) return invalid(std::move(*problem));

  // Time last: a token that is wrong in any other way is told so even when also expired.
  if (now_s >= json_number_value(exp) + leeway) return refuse(Refusal::kExpired, "token expired");
  if (nbf != nullptr && now_s + leeway < json_number_value(nbf)) {
    return invalid("token not valid yet (nbf)");
  }
  Grants grants = std::move(std::get<Grants>(media));
  if (sub != nullptr) grants.sub = loggable(json_string_value(sub));
  return grants;
}

}  // namespace jmedia
