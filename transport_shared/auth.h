// Optional authentication of scrapes: a bearer token and/or HTTP basic credentials. Secrets are
// compared in constant time. Pure code (no HTTP library), so it is unit-tested directly.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../common/crypto.h"

namespace jmedia::transport {

struct AuthConfig {
  std::string bearer_token;  // empty: bearer auth off
  std::string basic_user;    // both empty: basic auth off
  std::string basic_password;
};

// "none", "bearer", "basic" or "bearer+basic" (for logs; never the secrets).
std::string describe(const AuthConfig& config);

class Authenticator {
 public:
  explicit Authenticator(AuthConfig config);

  bool required() const { return bearer_ || basic_; }
  // authorization: the request's Authorization header, nullptr when absent. With both schemes
  // configured, either one is accepted.
  bool allows(const char* authorization) const;
  // WWW-Authenticate values for a 401, one per configured scheme.
  const std::vector<std::string>& challenges() const { return challenges_; }

 private:
  AuthConfig config_;
  bool bearer_;
  bool basic_;
  std::string basic_credentials_;  // base64 of "user:password", as clients send it
  std::vector<std::string> challenges_;
};

}  // namespace jmedia::transport
