// The access.* section of janus.plugin.media.jcfg: who may publish, watch and list devices.
// "open" lets any client do anything (as before access control existed); "token" needs a JWT
// with grants on every request that reaches or lists a device (conf/janus.plugin.media.jcfg
// documents each key). A token mode that cannot verify tokens is an error that makes init
// fail: it never falls back to open.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "../common/config_values.h"

namespace jmedia {

enum class AccessMode { kOpen, kToken };

// The one algorithm a node accepts, told by its key: jwt_secret is HS256; jwt_public_key is
// RS256 for an RSA key and ES256 for an EC P-256 key.
enum class JwtAlgorithm { kHS256, kRS256, kES256 };
const char* algorithm_name(JwtAlgorithm algorithm);  // "HS256", as in a token's alg

// HS256 secrets shorter than the hash (RFC 7518 section 3.2) are refused, as RSA keys under
// 2048 bits; a public key file is read only up to this size.
inline constexpr std::size_t kMinSecretBytes = 32;
inline constexpr int kMinRsaBits = 2048;
inline constexpr std::size_t kMaxKeyFileBytes = std::size_t{64} * 1024;
inline constexpr std::int64_t kMaxLeewaySeconds = 600;

struct AccessConfig {
  AccessMode mode = AccessMode::kOpen;
  JwtAlgorithm algorithm = JwtAlgorithm::kHS256;
  std::string key;       // HS256: the secret; RS256/ES256: the PEM text of the public key
  std::string key_file;  // where an RS256/ES256 key came from (logs); "" for a secret
  std::optional<std::string> issuer;    // iss must be this when set
  std::optional<std::string> audience;  // aud must be or contain this when set
  std::int64_t leeway_s = 30;           // clock skew allowed on exp and nbf
};

struct AccessConfigResult {
  AccessConfig config;
  std::string error;  // non-empty: token mode cannot start (logged); init must fail
  bool ok() const { return error.empty(); }
};

// Reads access.* from values (every key read, so none is reported as unknown), validates the
// key (a public key is parsed with OpenSSL) and logs the outcome: the mode and algorithm,
// never the secret; in open mode a warning that anyone may publish and watch anything.
AccessConfigResult load_access_config(ConfigValues& values);

}  // namespace jmedia
