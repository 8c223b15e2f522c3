// RAII and typed access for Jansson values. Ownership is explicit: adopt() takes a reference
// the caller already owns (json_object(), json_pack()), retain() adds one (a borrowed value).
#pragma once

#include <jansson.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace jmedia {

struct JsonDecref {
  void operator()(json_t* value) const noexcept { json_decref(value); }
};
using JsonPtr = std::unique_ptr<json_t, JsonDecref>;

inline JsonPtr adopt(json_t* owned) noexcept {
  return JsonPtr(owned);
}
inline JsonPtr retain(json_t* borrowed) noexcept {
  return JsonPtr(json_incref(borrowed));
}

// Sets key to a new value, taking ownership of it.
inline void set(json_t* object, const char* key, JsonPtr value) {
  json_object_set_new(object, key, value.release());
}
inline void set(json_t* object, const char* key, std::string_view text) {
  json_object_set_new(object, key, json_stringn(text.data(), text.size()));
}
inline void set(json_t* object, const char* key, const char* text) {
  json_object_set_new(object, key, json_string(text));
}
inline void set(json_t* object, const char* key, bool flag) {
  json_object_set_new(object, key, json_boolean(flag));
}
inline void set(json_t* object, const char* key, std::int64_t number) {
  json_object_set_new(object, key, json_integer(number));
}
inline void set(json_t* object, const char* key, int number) {
  set(object, key, static_cast<std::int64_t>(number));
}
inline void set(json_t* object, const char* key, std::uint64_t number) {
  set(object, key, static_cast<std::int64_t>(number));
}
inline void set_null(json_t* object, const char* key) {
  json_object_set_new(object, key, json_null());
}

// Serialises compactly; never throws on a null value (returns "null").
std::string dump(const json_t* value);

}  // namespace jmedia
