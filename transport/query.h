// Request-target helpers for routes that read their own parameters: percent-decoding and the
// query string's name=value pairs. Pure code (no HTTP library), so unit-tested and fuzzed
// directly.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jmedia::transport {

// Decodes %XX escapes (and '+' as a space when plus_is_space, as in a query string). nullopt
// for a '%' not followed by two hex digits. The result may hold any byte, NUL included.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

struct QueryParam {
  std::string name;
  std::string value;  // "" for a bare name ("?detail")
};

// "a=1&b=x%20y" -> {{"a","1"},{"b","x y"}}, in order, duplicates kept; empty pieces ("a=1&&b=2",
// a trailing '&') are skipped. nullopt when a name or value has a bad escape.
std::optional<std::vector<QueryParam>> parse_query(std::string_view query);

}  // namespace jmedia::transport
