// Small value types shared by requests, sessions and devices.
#pragma once

#include <cstdint>
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

// Why a media session's role ended.
enum class EndReason : int {
  kRequest,
  kKicked,
  kPeerConnectionClosed,
  kNegotiationEnded,
  kDetached,
  kShutdown,
  kNegotiationTimeout,  // no WebRTC within negotiation_timeout
  kDeviceBusy           // the cluster directory holds the device for another node
};
inline constexpr int kEndReasonCount = 8;
// As a metric label ("peerconnection_closed") and as event text ("peerconnection closed").
const char* end_reason_label(EndReason reason);
const char* end_reason_text(EndReason reason);

const char* role_name(Role role);
std::optional<Role> role_from_name(std::string_view name);  // publisher/viewer/echo only
const char* state_name(SessionState state);

std::int64_t unix_ms_now();
std::int64_t monotonic_ms_now();

}  // namespace jmedia
