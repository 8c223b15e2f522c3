// Helpers shared by the libFuzzer harnesses: input splitting, JSON, and invariant checks that
// abort (libFuzzer then saves the input as a crash).
#pragma once

#include <jansson.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "../common/json.h"

namespace jmedia::fuzz {

// Prints "invariant broken: ..." and aborts.
[[noreturn]] void fail(const char* format, ...) __attribute__((format(printf, 1, 2)));

#define FUZZ_CHECK(condition, ...)                          \
  do {                                                      \
    if (!(condition)) ::jmedia::fuzz::fail("" __VA_ARGS__); \
  } while (0)

// Our modules log through jmedia::log; the harnesses format every message (the formatting
// is code under test) and drop it, so that a run is not dominated by stderr.
void quiet_logs();

// At most max_lines lines of input ('\n' separated; a trailing '\r' is kept).
std::vector<std::string_view> split_lines(std::string_view input, std::size_t max_lines);

// Parses text with jansson (JSON_DECODE_ANY | extra_flags); null when it is not JSON.
JsonPtr parse_json(std::string_view text, std::size_t extra_flags = 0);

// A reply or event body of janus.plugin.media: an object that is either an error
// ({"media":"event","error_code":int,"error":string}) or has a string "media".
// Returns the error code, 0 for a non-error body. Aborts on anything else.
long check_plugin_body(const json_t* body, const char* what);
// A JSEP the plugin pushes: null, or {"type":"offer"|"answer","sdp":string}.
void check_plugin_jsep(const json_t* jsep, const char* what);

}  // namespace jmedia::fuzz
