// The small cryptographic helpers the modules share: HMAC-SHA256 (GLib's) and a comparison whose
// time does not depend on the contents (for secrets, tokens and signatures).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace jmedia {

using Sha256Digest = std::array<std::uint8_t, 32>;

// HMAC-SHA256 of the concatenation of parts, keyed with key.
Sha256Digest hmac_sha256(std::string_view key, std::initializer_list<std::string_view> parts);
// Lower-case hex of a digest (64 characters).
std::string to_hex(const Sha256Digest& digest);

// True when both are equal. The time taken depends on given.size() only, never on the contents
// of either string or on where they differ. expected must not be empty.
bool constant_time_equals(std::string_view expected, std::string_view given) noexcept;

}  // namespace jmedia
