// Relay keys: both ends of a relay derive its SRTP master keys from the cluster secret and the
// relay's id, so that no key ever travels (README, "Scale-out"). HKDF-SHA256 (RFC 5869) with a
// fixed salt; info names the relay and the direction, so that each relay and each direction
// of it has its own key.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace jmedia::cluster {

// RFC 5869: PRK = HMAC-SHA256(salt, ikm), OKM = T(1) | T(2) | ... truncated to out_len. An empty
// salt is HashLen zeros. false (out untouched) when out_len is 0 or over 255 * 32.
bool hkdf_sha256(std::string_view salt, std::string_view ikm, std::string_view info,
                 std::uint8_t* out, std::size_t out_len);

enum class RelayDirection {
  kOriginToViewer,  // media and sender reports, from the node that publishes the device
  kViewerToOrigin,  // feedback (NACK, PLI, receiver reports), from the viewers' node
};
const char* direction_name(RelayDirection direction);

// An AEAD_AES_128_GCM master key (16 bytes) then its master salt (12 bytes), as libsrtp takes
// them.
inline constexpr std::size_t kRelayKeyBytes = 28;
using RelayKey = std::array<std::uint8_t, kRelayKeyBytes>;

// A relay id: 1-256 of A-Z a-z 0-9 . _ : - (room for a device id, a node id and
// new_relay_id()'s random part). It must be new for every relay ever created with
// the same secret: AES-GCM's nonce is made of the SSRC and the packet index, so a relay id
// used again with the same SSRC and sequence numbers would repeat nonces under one key.
// new_relay_id() gives such an id.
bool valid_relay_id(std::string_view id);
// prefix (may be empty; only valid id characters) + 32 hex digits from the kernel's random
// source. Throws std::runtime_error when no random bytes can be had.
std::string new_relay_id(std::string_view prefix);

// The key of one direction of a relay. secret is the cluster secret (at least
// kMinSecretBytes in a valid configuration), relay_id must be valid.
RelayKey derive_relay_key(std::string_view secret, std::string_view relay_id,
                          RelayDirection direction);

}  // namespace jmedia::cluster
