#include "access_config.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <system_error>

#include "../common/log.h"

namespace jmedia {
namespace {

struct BioFree {
  void operator()(BIO* bio) const noexcept { BIO_free(bio); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
struct FileClose {
  void operator()(std::FILE* file) const noexcept { std::fclose(file); }
};

// The file's bytes, or why not ("" and error set).
std::string read_key_file(const std::string& path, std::string& error) {
  std::unique_ptr<std::FILE, FileClose> file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    error = "cannot read access.jwt_public_key '" + path +
            "': " + std::generic_category().message(errno);
    return "";
  }
  std::string text;
  char buffer[4096];
  std::size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) {
    text.append(buffer, got);
    if (text.size() > kMaxKeyFileBytes) {
      error = "access.jwt_public_key '" + path + "' is larger than " +
              std::to_string(kMaxKeyFileBytes) + " bytes: not a public key";
      return "";
    }
  }
  if (std::ferror(file.get())) {
    error = "cannot read access.jwt_public_key '" + path +
            "': " + std::generic_category().message(errno);
    return "";
  }
  return text;
}

// The algorithm a PEM public key is for (what libjwt will verify with it), or why none.
std::optional<JwtAlgorithm> key_algorithm(const std::string& pem, const std::string& path,
                                          std::string& error) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  const std::string where = "access.jwt_public_key '" + path + "'";
  if (!key) {
    error = where + " holds no PEM public key (expected -----BEGIN PUBLIC KEY-----)";
    return std::nullopt;
  }
  switch (EVP_PKEY_get_base_id(key.get())) {
    case EVP_PKEY_RSA: {
      const int bits = EVP_PKEY_get_bits(key.get());
      if (bits < kMinRsaBits) {
        error = where + " is an RSA key of " + std::to_string(bits) + " bits (at least " +
                std::to_string(kMinRsaBits) + " needed)";
        return std::nullopt;
      }
      return JwtAlgorithm::kRS256;
    }
    case EVP_PKEY_EC: {
      char group[64] = {};
      std::size_t length = 0;
      if (EVP_PKEY_get_group_name(key.get(), group, sizeof group, &length) != 1 ||
          (OBJ_sn2nid(group) != NID_X9_62_prime256v1 &&
           EC_curve_nist2nid(group) != NID_X9_62_prime256v1)) {
        error = where + " is an EC key not on P-256 (ES256 needs P-256, alias prime256v1)";
        return std::nullopt;
      }
      return JwtAlgorithm::kES256;
    }
    default:
      error = where + " is neither an RSA nor an EC P-256 key (RS256 or ES256)";
      return std::nullopt;
  }
}

AccessConfigResult failed(AccessConfig config, std::string error) {
  log_error("config: access: %s; janus.plugin.media will not start", error.c_str());
  return AccessConfigResult{std::move(config), std::move(error)};
}

}  // namespace

const char* algorithm_name(JwtAlgorithm algorithm) {
  switch (algorithm) {
    case JwtAlgorithm::kHS256:
      return "HS256";
    case JwtAlgorithm::kRS256:
      return "RS256";
    case JwtAlgorithm::kES256:
      return "ES256";
  }
  return "?";
}

AccessConfigResult load_access_config(ConfigValues& values) {
  AccessConfig config;
  // Read every key first, so that none is reported as unknown whatever the mode.
  const std::string mode = values.text("access.mode", "open");
  const std::string secret = values.text("access.jwt_secret", "");
  const std::string key_file = values.text("access.jwt_public_key", "");
  const std::string issuer = values.text("access.issuer", "");
  const std::string audience = values.text("access.audience", "");
  config.leeway_s = values.integer("access.leeway_s", config.leeway_s, 0, kMaxLeewaySeconds);
  if (!issuer.empty()) config.issuer = issuer;
  if (!audience.empty()) config.audience = audience;

  if (mode == "open") {
    if (!secret.empty() || !key_file.empty()) {
      log_warn("config: access: a JWT key is set but access.mode is \"open\": it is not used");
    }
    log_warn(
        "config: access mode=open: any client may publish and watch any device and list every "
        "device and session (set access.mode = \"token\" to require tokens)");
    return AccessConfigResult{std::move(config), ""};
  }
  if (mode != "token") {
    return failed(std::move(config), R"(access.mode must be "open" or "token")");
  }
  config.mode = AccessMode::kToken;
  if (!secret.empty() && !key_file.empty()) {
    return failed(std::move(config),
                  "access.mode is \"token\" with both access.jwt_secret and "
                  "access.jwt_public_key: set only one (the node accepts one algorithm)");
  }
  if (secret.empty() && key_file.empty()) {
    return failed(std::move(config),
                  "access.mode is \"token\" but neither access.jwt_secret (HS256) nor "
                  "access.jwt_public_key (RS256/ES256) is set");
  }
  std::string described;
  if (!secret.empty()) {
    if (secret.size() < kMinSecretBytes) {
      return failed(std::move(config), "access.jwt_secret has " + std::to_string(secret.size()) +
                                           " bytes: HS256 needs at least " +
                                           std::to_string(kMinSecretBytes));
    }
    config.algorithm = JwtAlgorithm::kHS256;
    config.key = secret;
    described = "key=jwt_secret (" + std::to_string(secret.size()) + " bytes)";
  } else {
    std::string error;
    std::string pem = read_key_file(key_file, error);
    if (!error.empty()) return failed(std::move(config), error);
    const std::optional<JwtAlgorithm> algorithm = key_algorithm(pem, key_file, error);
    if (!algorithm) return failed(std::move(config), error);
    config.algorithm = *algorithm;
    config.key = std::move(pem);
    config.key_file = key_file;
    described = "key=" + key_file;
  }
  log_info("config: access mode=token algorithm=%s %s issuer=%s audience=%s leeway_s=%lld",
           algorithm_name(config.algorithm), described.c_str(),
           config.issuer ? config.issuer->c_str() : "(any)",
           config.audience ? config.audience->c_str() : "(none: a token with aud is refused)",
           static_cast<long long>(config.leeway_s));
  return AccessConfigResult{std::move(config), ""};
}

}  // namespace jmedia
