#include "json.h"

#include <charconv>
#include <cstdlib>
#include <system_error>

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

namespace {

// The bytes of a JSON string, escaped as jansson's compact output escapes them: '"', '\\' and
// the control characters (\b \f \n \r \t by name, the rest as \u00XX); every other byte as
// it is (jansson checked that strings are UTF-8 when they were made).
void append_string(std::string& out, const char* text, std::size_t length) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out.push_back('"');
  std::size_t run = 0;  // where the bytes copied as they are begin
  for (std::size_t i = 0; i < length; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
    }
  }
  out.append(text + run, length - run);
  out.push_back('"');
}

// Values nested deeper than this (none of ours) go to jansson, which guards against cycles.
constexpr int kMaxDepth = 64;

// Appends value; false when it is one for jansson to write (a real, or too deep).
bool append(std::string& out, const json_t* value, int depth) {
  if (depth > kMaxDepth) return false;
  switch (json_typeof(value)) {
    case JSON_OBJECT: {
      out.push_back('{');
      bool first = true;
      for (void* it = json_object_iter(const_cast<json_t*>(value)); it != nullptr;
           it = json_object_iter_next(const_cast<json_t*>(value), it)) {
        if (!first) out.push_back(',');
        first = false;
        append_string(out, json_object_iter_key(it), json_object_iter_key_len(it));
        out.push_back(':');
        if (!append(out, json_object_iter_value(it), depth + 1)) return false;
      }
      out.push_back('}');
      return true;
    }
    case JSON_ARRAY: {
      out.push_back('[');
      const std::size_t size = json_array_size(value);
      for (std::size_t i = 0; i < size; ++i) {
        if (i != 0) out.push_back(',');
        if (!append(out, json_array_get(value, i), depth + 1)) return false;
      }
      out.push_back(']');
      return true;
    }
    case JSON_STRING:
      append_string(out, json_string_value(value), json_string_length(value));
      return true;
    case JSON_INTEGER: {
      char digits[24];
      const auto [end, error] = std::to_chars(digits, digits + sizeof digits,
                                              static_cast<long long>(json_integer_value(value)));
      out.append(digits, static_cast<std::size_t>(end - digits));
      return error == std::errc();
    }
    case JSON_TRUE:
      out += "true";
      return true;
    case JSON_FALSE:
      out += "false";
      return true;
    case JSON_NULL:
      out += "null";
      return true;
    case JSON_REAL:
      break;
  }
  return false;
}

std::string jansson_dump(const json_t* value) {
  char* text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
  if (text == nullptr) return "null";
  std::string out(text);
  std::free(text);
  return out;
}

}  // namespace

std::string dump(const json_t* value) {
  if (value == nullptr) return "null";
  std::string out;
  out.reserve(512);
  if (append(out, value, 0)) return out;
  return jansson_dump(value);  // reals (jansson's own formatting), or a deep value
}

}  // namespace jmedia
