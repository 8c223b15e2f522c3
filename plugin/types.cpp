#include "types.h"

#include <chrono>

namespace jmedia {

std::int64_t unix_ms_now() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::int64_t monotonic_ms_now() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

const char* end_reason_label(EndReason reason) {
  switch (reason) {
    case EndReason::kRequest:
      return "request";
    case EndReason::kKicked:
      return "kicked";
    case EndReason::kPeerConnectionClosed:
      return "peerconnection_closed";
    case EndReason::kNegotiationEnded:
      return "negotiation_ended";
    case EndReason::kDetached:
      return "detached";
    case EndReason::kShutdown:
      return "shutdown";
    case EndReason::kNegotiationTimeout:
      return "negotiation_timeout";
    case EndReason::kDeviceBusy:
      return "device_busy";
  }
  return "unknown";
}

const char* end_reason_text(EndReason reason) {
  switch (reason) {
    case EndReason::kPeerConnectionClosed:
      return "peerconnection closed";
    case EndReason::kNegotiationEnded:
      return "negotiation ended";
    case EndReason::kNegotiationTimeout:
      return "negotiation timeout";
    case EndReason::kDeviceBusy:
      return "device busy";
    default:
      return end_reason_label(reason);
  }
}

const char* role_name(Role role) {
  switch (role) {
    case Role::kNone:
      return "none";
    case Role::kEcho:
      return "echo";
    case Role::kPublisher:
      return "publisher";
    case Role::kViewer:
      return "viewer";
  }
  return "unknown";
}

std::optional<Role> role_from_name(std::string_view name) {
  if (name == "publisher") return Role::kPublisher;
  if (name == "viewer") return Role::kViewer;
  if (name == "echo") return Role::kEcho;
  return std::nullopt;
}

const char* state_name(SessionState state) {
  switch (state) {
    case SessionState::kIdle:
      return "idle";
    case SessionState::kNegotiating:
      return "negotiating";
    case SessionState::kUp:
      return "up";
    case SessionState::kClosed:
      return "closed";
  }
  return "unknown";
}

}  // namespace jmedia
