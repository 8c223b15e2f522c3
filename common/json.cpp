#include "json.h"

#include <cstdlib>

namespace jmedia {

std::optional<std::string_view> string_member(const json_t* object, const char* key) {
  const json_t* value = member(object, key);
  if (!json_is_string(value)) return std::nullopt;
  return std::string_view(json_string_value(value), json_string_length(value));
}

std::optional<std::int64_t> integer_member(const json_t* object, const char* key) {
  const json_t* value = member(object, key);
  if (!json_is_integer(value)) return std::nullopt;
  return static_cast<std::int64_t>(json_integer_value(value));
}

std::string dump(const json_t* value) {
  if (value == nullptr) return "null";
  char* text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
  if (text == nullptr) return "null";
  std::string out(text);
  std::free(text);
  return out;
}

}  // namespace jmedia
