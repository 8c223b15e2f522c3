#include "crypto.h"

#include <glib.h>

namespace jmedia {

Sha256Digest hmac_sha256(std::string_view key, std::initializer_list<std::string_view> parts) {
  GHmac* hmac =
      g_hmac_new(G_CHECKSUM_SHA256, reinterpret_cast<const guchar*>(key.data()), key.size());
  for (const std::string_view part : parts) {
    g_hmac_update(hmac, reinterpret_cast<const guchar*>(part.data()),
                  static_cast<gssize>(part.size()));
  }
  Sha256Digest digest{};
  gsize length = digest.size();
  g_hmac_get_digest(hmac, digest.data(), &length);
  g_hmac_unref(hmac);
  return digest;
}

std::string to_hex(const Sha256Digest& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * digest.size());
  for (const std::uint8_t byte : digest) {
    hex.push_back(kHex[byte >> 4]);
    hex.push_back(kHex[byte & 0xf]);
  }
  return hex;
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

}  // namespace jmedia
