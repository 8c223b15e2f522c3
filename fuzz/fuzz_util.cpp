#include "fuzz_util.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "../common/log.h"

namespace jmedia::fuzz {

void fail(const char* format, ...) {
  std::fputs("invariant broken: ", stderr);
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fputc('\n', stderr);
  std::abort();
}

void quiet_logs() {
  set_log_sink([](LogLevel, const char* message) {
    // The message is formatted already; touch it so that a bad one is noticed by ASan.
    volatile std::size_t length = std::strlen(message);
    (void)length;
  });
}

std::vector<std::string_view> split_lines(std::string_view input, std::size_t max_lines) {
  std::vector<std::string_view> lines;
  while (!input.empty() && lines.size() < max_lines) {
    const std::size_t end = input.find('\n');
    lines.push_back(input.substr(0, end));
    if (end == std::string_view::npos) break;
    input.remove_prefix(end + 1);
  }
  return lines;
}

JsonPtr parse_json(std::string_view text, std::size_t extra_flags) {
  json_error_t error;
  return adopt(json_loadb(text.data(), text.size(), JSON_DECODE_ANY | extra_flags, &error));
}

long check_plugin_body(const json_t* body, const char* what) {
  FUZZ_CHECK(json_is_object(body), "%s: not a JSON object: %s", what, dump(body).c_str());
  const json_t* code = json_object_get(body, "error_code");
  if (code != nullptr) {
    FUZZ_CHECK(json_is_integer(code), "%s: error_code not an integer: %s", what,
               dump(body).c_str());
    FUZZ_CHECK(json_is_string(json_object_get(body, "error")), "%s: error without a reason: %s",
               what, dump(body).c_str());
    const long value = static_cast<long>(json_integer_value(code));
    FUZZ_CHECK(value >= 1000 && value < 1100, "%s: error_code %ld out of range", what, value);
    return value;
  }
  FUZZ_CHECK(json_is_string(json_object_get(body, "media")), "%s: no \"media\": %s", what,
             dump(body).c_str());
  return 0;
}

void check_plugin_jsep(const json_t* jsep, const char* what) {
  if (jsep == nullptr || json_is_null(jsep)) return;
  FUZZ_CHECK(json_is_object(jsep), "%s: jsep not an object", what);
  const json_t* type = json_object_get(jsep, "type");
  FUZZ_CHECK(json_is_string(type), "%s: jsep without a type: %s", what, dump(jsep).c_str());
  const std::string_view text = json_string_value(type);
  FUZZ_CHECK(text == "offer" || text == "answer", "%s: jsep type '%s'", what,
             std::string(text).c_str());
  FUZZ_CHECK(json_is_string(json_object_get(jsep, "sdp")), "%s: jsep without an sdp: %s", what,
             dump(jsep).c_str());
}

}  // namespace jmedia::fuzz
