#include "relay_keys.h"

#include "../common/crypto.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace jmedia::cluster {
namespace {

constexpr std::size_t kHashBytes = 32;
// Changing either changes every relay key: all nodes of a cluster must agree.
constexpr std::string_view kSalt = "jmedia cluster relay v1";
constexpr std::string_view kLabel = "jmedia relay srtp aead_aes_128_gcm";

using Digest = Sha256Digest;

std::string_view as_text(const std::uint8_t* bytes, std::size_t length) {
  return {reinterpret_cast<const char*>(bytes), length};
}

bool id_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

}  // namespace

bool hkdf_sha256(std::string_view salt, std::string_view ikm, std::string_view info,
                 std::uint8_t* out, std::size_t out_len) {
  if (out_len == 0 || out_len > 255 * kHashBytes) return false;
  static constexpr std::uint8_t kZeros[kHashBytes] = {};
  const Digest prk = hmac_sha256(salt.empty() ? as_text(kZeros, sizeof kZeros) : salt, {ikm});
  Digest block{};
  std::size_t done = 0;
  for (std::uint8_t counter = 1; done < out_len; ++counter) {
    const std::string_view previous =
        counter == 1 ? std::string_view() : as_text(block.data(), block.size());
    block = hmac_sha256(as_text(prk.data(), prk.size()), {previous, info, as_text(&counter, 1)});
    const std::size_t take = std::min(kHashBytes, out_len - done);
    std::memcpy(out + done, block.data(), take);
    done += take;
  }
  return true;
}

const char* direction_name(RelayDirection direction) {
  return direction == RelayDirection::kOriginToViewer ? "origin->viewer" : "viewer->origin";
}

bool valid_relay_id(std::string_view id) {
  return !id.empty() && id.size() <= 256 && std::all_of(id.begin(), id.end(), id_char);
}

std::string new_relay_id(std::string_view prefix) {
  std::uint8_t random[16];
  std::size_t got = 0;
  while (got < sizeof random) {
    const ssize_t n = getrandom(random + got, sizeof random - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("new_relay_id: getrandom failed");
    got += static_cast<std::size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(prefix);
  for (const std::uint8_t byte : random) {
    id += kHex[byte >> 4];
    id += kHex[byte & 0x0f];
  }
  return id;
}

RelayKey derive_relay_key(std::string_view secret, std::string_view relay_id,
                          RelayDirection direction) {
  // NUL separators: neither the label, an id nor a direction name holds one, so no two
  // (id, direction) pairs give the same info.
  std::string info(kLabel);
  info += '\0';
  info += relay_id;
  info += '\0';
  info += direction_name(direction);
  RelayKey key{};
  hkdf_sha256(kSalt, secret, info, key.data(), key.size());
  return key;
}

}  // namespace jmedia::cluster
