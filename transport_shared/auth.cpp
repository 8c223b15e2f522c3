#include "auth.h"

#include <strings.h>

#include "../common/glib_ptr.h"

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

}  // namespace

std::string describe(const AuthConfig& config) {
  const bool bearer = !config.bearer_token.empty();
  const bool basic = !config.basic_user.empty() && !config.basic_password.empty();
  if (bearer && basic) return "bearer+basic";
  if (bearer) return "bearer";
  if (basic) return "basic";
  return "none";
}

Authenticator::Authenticator(AuthConfig config)
    : config_(std::move(config)),
      bearer_(!config_.bearer_token.empty()),
      basic_(!config_.basic_user.empty() && !config_.basic_password.empty()) {
  if (basic_) {
    // What a client sends for these credentials: compared whole, so nothing it sends is decoded.
    const std::string pair = config_.basic_user + ":" + config_.basic_password;
    GCharPtr encoded(g_base64_encode(reinterpret_cast<const guchar*>(pair.data()), pair.size()));
    basic_credentials_ = encoded.get();
  }
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
      return constant_time_equals(basic_credentials_, *encoded);
    }
  }
  return false;
}

}  // namespace jmedia::transport
