#include "jwt_mint.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

namespace jmedia::testing {

struct KeyPair::Key {
  explicit Key(EVP_PKEY* owned) : pkey(owned) {}
  ~Key() { EVP_PKEY_free(pkey); }
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
  EVP_PKEY* pkey;
};

namespace {

void require(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("OpenSSL: ") + what + " failed");
}

template <typename Write>
std::string pem_of(Write&& write) {
  BIO* bio = BIO_new(BIO_s_mem());
  require(bio != nullptr, "BIO_new");
  const bool ok = write(bio) == 1;
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string text(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  require(ok, "PEM_write");
  return text;
}

}  // namespace

std::string base64url(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  const auto byte = [&](std::size_t at) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at]));
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(v >> shift) & 63];
  }
  if (bytes.size() - i == 1) {
    const std::uint32_t v = byte(i) << 16;
    out += {kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63]};
  } else if (bytes.size() - i == 2) {
    const std::uint32_t v = byte(i) << 16 | byte(i + 1) << 8;
    out += {kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63]};
  }
  return out;
}

std::string signing_input(std::string_view header_json, std::string_view payload_json) {
  return base64url(header_json) + "." + base64url(payload_json);
}

std::string mint_hs256(std::string_view header_json, std::string_view payload_json,
                       std::string_view secret) {
  const std::string input = signing_input(header_json, payload_json);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  require(HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
               reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac,
               &length) != nullptr,
          "HMAC");
  return input + "." + base64url(std::string_view(reinterpret_cast<char*>(mac), length));
}

KeyPair::KeyPair(std::shared_ptr<Key> key) : key_(std::move(key)) {
  public_pem_ = pem_of([&](BIO* bio) { return PEM_write_bio_PUBKEY(bio, key_->pkey); });
  private_pem_ = pem_of([&](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key_->pkey, nullptr, nullptr, 0, nullptr, nullptr);
  });
}

KeyPair KeyPair::rsa(int bits) {
  EVP_PKEY* pkey = EVP_RSA_gen(static_cast<unsigned int>(bits));
  require(pkey != nullptr, "EVP_RSA_gen");
  return KeyPair(std::make_shared<Key>(pkey));
}

KeyPair KeyPair::ec(const char* curve) {
  EVP_PKEY* pkey = EVP_EC_gen(curve);
  require(pkey != nullptr, "EVP_EC_gen");
  return KeyPair(std::make_shared<Key>(pkey));
}

KeyPair KeyPair::ed25519() {
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  require(pkey != nullptr, "EVP_PKEY_Q_keygen(ED25519)");
  return KeyPair(std::make_shared<Key>(pkey));
}

std::string KeyPair::mint(std::string_view header_json, std::string_view payload_json) const {
  const std::string input = signing_input(header_json, payload_json);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  require(ctx != nullptr, "EVP_MD_CTX_new");
  std::size_t length = 0;
  bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_->pkey) == 1 &&
            EVP_DigestSign(ctx, nullptr, &length,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  std::vector<unsigned char> signature(length);
  ok =
      ok && EVP_DigestSign(ctx, signature.data(), &length,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  require(ok, "EVP_DigestSign");
  signature.resize(length);
  if (EVP_PKEY_get_base_id(key_->pkey) == EVP_PKEY_EC) {
    // DER ECDSA-Sig-Value -> the fixed-size R || S that JWS uses.
    const unsigned char* der = signature.data();
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(signature.size()));
    require(sig != nullptr, "d2i_ECDSA_SIG");
    const int size = (EVP_PKEY_get_bits(key_->pkey) + 7) / 8;
    std::vector<unsigned char> raw(static_cast<std::size_t>(size) * 2);
    ok = BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw.data(), size) == size &&
         BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw.data() + size, size) == size;
    ECDSA_SIG_free(sig);
    require(ok, "BN_bn2binpad");
    signature = std::move(raw);
  }
  return input + "." +
         base64url(std::string_view(reinterpret_cast<char*>(signature.data()), signature.size()));
}

}  // namespace jmedia::testing
