// Mints JWTs for the access-control tests and the token fuzzer, with OpenSSL directly (not
// with libjwt, the library under test): HS256, RS256 and ES256 signatures over any header and
// payload text, and keys generated on the spot (nothing secret is committed).
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace jmedia::testing {

// Unpadded base64url (RFC 7515).
std::string base64url(std::string_view bytes);

// header.payload for the JSON texts given (any bytes: the tests also mint malformed ones).
std::string signing_input(std::string_view header_json, std::string_view payload_json);

// signing_input + "." + base64url(HMAC-SHA256(secret, signing_input)).
std::string mint_hs256(std::string_view header_json, std::string_view payload_json,
                       std::string_view secret);

// An asymmetric key pair, generated when constructed; PEM texts of both halves.
class KeyPair {
 public:
  static KeyPair rsa(int bits);
  static KeyPair ec(const char* curve);  // "P-256", "P-384"
  static KeyPair ed25519();

  const std::string& public_pem() const { return public_pem_; }
  const std::string& private_pem() const { return private_pem_; }
  // RS256 (RSA) or ES256 (EC: the raw 64-byte R || S of RFC 7518, not DER) over
  // signing_input(header, payload), appended as the third part.
  std::string mint(std::string_view header_json, std::string_view payload_json) const;

 private:
  struct Key;
  explicit KeyPair(std::shared_ptr<Key> key);
  std::shared_ptr<Key> key_;
  std::string public_pem_;
  std::string private_pem_;
};

}  // namespace jmedia::testing
