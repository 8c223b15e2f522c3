// Small value types shared by requests, sessions and devices.
#pragma once

#include <optional>
#include <string_view>

namespace jmedia {

struct MediaFlags {
  bool audio = true;
  bool video = true;
  bool data = true;
};

enum class Role : int { kNone = 0, kEcho = 1, kPublisher = 2, kViewer = 3 };
inline constexpr int kRoleCount = 4;
enum class SessionState : int { kIdle, kNegotiating, kUp, kClosed };

const char* role_name(Role role);
std::optional<Role> role_from_name(std::string_view name);  // publisher/viewer/echo only
const char* state_name(SessionState state);

}  // namespace jmedia
