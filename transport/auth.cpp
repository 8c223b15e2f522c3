#include "auth.h"

#include <strings.h>

#include <array>
#include <cstdint>

namespace jmedia::transport {
namespace {

constexpr const char* kRealm = "janus metrics";

// Splits "<scheme> <credentials>" when scheme matches (case-insensitively, RFC 7235).
std::optional<std::string_view> credentials_for(std::string_view header, std::string_view scheme) {
  if (header.size() <= scheme.size() ||
      strncasecmp(header.data(), scheme.data(), scheme.size()) != 0 ||
      header[scheme.size()] != ' ') {
    return std::nullopt;
  }
  std::string_view rest = header.substr(scheme.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
  return rest;
}

constexpr std::array<std::int8_t, 256> base64_table() {
  std::array<std::int8_t, 256> table{};
  for (auto& entry : table) entry = -1;
  constexpr std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  }
  return table;
}

}  // namespace

std::string describe(const AuthConfig& config) {
  const bool bearer = !config.bearer_token.empty();
  const bool basic = !config.basic_user.empty() && !config.basic_password.empty();
  if (bearer && basic) return "bearer+basic";
  if (bearer) return "bearer";
  if (basic) return "basic";
  return "none";
}

bool constant_time_equals(std::string_view expected, std::string_view given) noexcept {
  if (expected.empty()) return false;
  // Every byte of given is compared (against expected, cyclically); a length mismatch is folded
  // into the result instead of returning early.
  const std::size_t length_diff = expected.size() ^ given.size();
  volatile unsigned char byte_diff = 0;
  for (std::size_t i = 0; i < given.size(); ++i) {
    byte_diff = byte_diff | static_cast<unsigned char>(
                                static_cast<unsigned char>(given[i]) ^
                                static_cast<unsigned char>(expected[i % expected.size()]));
  }
  return (length_diff | byte_diff) == 0;
}

std::optional<std::string> decode_base64(std::string_view text) {
  static constexpr auto table = base64_table();
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  std::uint32_t bits = 0;
  int count = 0;
  for (std::size_t i = 0; i < text.size() - padding; ++i) {
    const std::int8_t value = table[static_cast<unsigned char>(text[i])];
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
  if (count == 3) {  // one '=': 18 bits, the last 2 must be zero
    if ((bits & 0x3) != 0) return std::nullopt;
    out.push_back(static_cast<char>((bits >> 10) & 0xff));
    out.push_back(static_cast<char>((bits >> 2) & 0xff));
  } else if (count == 2) {  // two '=': 12 bits, the last 4 must be zero
    if ((bits & 0xf) != 0) return std::nullopt;
    out.push_back(static_cast<char>((bits >> 4) & 0xff));
  } else if (count != 0) {
    return std::nullopt;
  }
  return out;
}

Authenticator::Authenticator(AuthConfig config)
    : config_(std::move(config)),
      bearer_(!config_.bearer_token.empty()),
      basic_(!config_.basic_user.empty() && !config_.basic_password.empty()) {
  if (bearer_) challenges_.push_back(std::string("Bearer realm=\"") + kRealm + "\"");
  if (basic_) {
    challenges_.push_back(std::string("Basic realm=\"") + kRealm + "\", charset=\"UTF-8\"");
  }
}

bool Authenticator::allows(const char* authorization) const {
  if (!required()) return true;
  if (authorization == nullptr) return false;
  const std::string_view header(authorization);
  if (bearer_) {
    if (auto token = credentials_for(header, "Bearer")) {
      return constant_time_equals(config_.bearer_token, *token);
    }
  }
  if (basic_) {
    if (auto encoded = credentials_for(header, "Basic")) {
      const std::optional<std::string> decoded = decode_base64(*encoded);
      if (!decoded) return false;
      const std::size_t colon = decoded->find(':');
      if (colon == std::string::npos) return false;
      const std::string_view pair(*decoded);
      // Both compared, always: & rather than &&.
      const bool user_ok = constant_time_equals(config_.basic_user, pair.substr(0, colon));
      const bool password_ok = constant_time_equals(config_.basic_password, pair.substr(colon + 1));
      return user_ok & password_ok;
    }
  }
  return false;
}

}  // namespace jmedia::transport
