// Stand-ins for what our ABI files (plugin_abi.cpp, transport_abi.cpp, eventhandler_abi.cpp
// and the adapters they link: janus_host.cpp, janus_admin.cpp, common/janus_*.cpp) take from
// the janus executable, for tests that drive the real trampolines without Janus: exactly the
// symbols that link, each as simple as the tests allow (janus_stubs.cpp says what each does).
// Process-wide, like the executable's own.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace jmedia::testing::stubs {

// What janus_config_parse returns for any file that exists: "category.key" -> value (a key
// without a dot is a top-level item). Empty by default.
void set_config(std::map<std::string, std::string> values);

// Lines printed through JANUS_LOG (janus_vprintf), oldest first. janus_log_level is 7 (all).
std::vector<std::string> log_lines();
void clear_log();
bool log_contains(std::string_view text);
// Waits, at most timeout, until a line containing text was logged.
bool wait_for_log(std::string_view text,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace jmedia::testing::stubs
