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

// The same setters without jansson's UTF-8 checks of the key and the text, for replies built
// per request in bulk (list pages): `key` must be an ASCII literal and `text` known to be
// valid UTF-8 (our hex ids, validated device ids, enum names). Anything a client or the core
// sent, unvalidated, goes through set().
inline void set_unchecked(json_t* object, const char* key, JsonPtr value) {
  json_object_set_new_nocheck(object, key, value.release());
}
inline void set_unchecked(json_t* object, const char* key, std::string_view text) {
  json_object_set_new_nocheck(object, key, json_stringn_nocheck(text.data(), text.size()));
}
inline void set_unchecked(json_t* object, const char* key, const char* text) {
  json_object_set_new_nocheck(object, key, json_string_nocheck(text));
}
inline void set_unchecked(json_t* object, const char* key, bool flag) {
  json_object_set_new_nocheck(object, key, json_boolean(flag));
}
inline void set_unchecked(json_t* object, const char* key, std::int64_t number) {
  json_object_set_new_nocheck(object, key, json_integer(number));
}
inline void set_unchecked(json_t* object, const char* key, std::uint64_t number) {
  set_unchecked(object, key, static_cast<std::int64_t>(number));
}
inline void set_null_unchecked(json_t* object, const char* key) {
  json_object_set_new_nocheck(object, key, json_null());
}

// A value made once and shared by every object that holds it, e.g. the few enum names of a
// reply built per request: no allocation each time. It is immortal, as jansson's own true,
// false and null are (reference count (size_t)-1): json_incref and json_decref leave such a
// value alone, so objects built on many threads at once share it without writing to it
// (jansson's inline incref reads the count before its atomic add: counting a shared value
// from several threads is a data race, which ThreadSanitizer reports). Nothing mutates a
// string value. Never freed: it lives as long as the process.
class SharedJson {
 public:
  // Before any other thread sees it (a function-local static's initialiser).
  explicit SharedJson(json_t* owned) noexcept : value_(owned) {
    if (value_ != nullptr) value_->refcount = static_cast<size_t>(-1);
  }
  // Adds it to object under key (an ASCII literal).
  void set_in(json_t* object, const char* key) const {
    json_object_set_nocheck(object, key, value_);
  }

 private:
  json_t* value_;
};

// Typed reads of an object's members: null / nullopt when object is not an object, has no
// such member, or the member has another type.
inline const json_t* member(const json_t* object, const char* key) {
  return json_is_object(object) ? json_object_get(object, key) : nullptr;
}
std::optional<std::string_view> string_member(const json_t* object, const char* key);
std::optional<std::int64_t> integer_member(const json_t* object, const char* key);

// Serialises compactly, byte for byte as json_dumps(JSON_COMPACT | JSON_ENCODE_ANY) does (keys
// in insertion order, the same escapes), in a fraction of its time: replies sent as they are
// (the REST API) are serialised here. Never throws on a null value (returns "null").
std::string dump(const json_t* value);

}  // namespace jmedia
