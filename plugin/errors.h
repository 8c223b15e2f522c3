// Stable error codes of janus.plugin.media. Clients switch on the number, so a code never
// changes meaning; new ones are appended. README's error table lists them all.
#pragma once

#include <string>

namespace jmedia {

enum class ErrorCode : int {
  kInvalidBody = 1001,         // body is not a JSON object
  kMissingRequest = 1002,      // "request" missing or not a string
  kUnknownRequest = 1003,      // "request" names nothing this plugin knows
  kInvalidField = 1004,        // a field is missing, has the wrong type or an out-of-range value
  kMissingJsep = 1005,         // the request needs a JSEP (offer or answer) and has none
  kWrongJsepType = 1006,       // JSEP present but of the wrong type (answer instead of offer...)
  kInvalidSdp = 1007,          // the SDP could not be parsed or answered
  kBusy = 1008,                // the async work queue is full (queue_size); retry later
  kNoSession = 1009,           // no media session is bound to this handle (detached?)
  kShuttingDown = 1010,        // the plugin is stopping
  kTooManySessions = 1011,     // max_sessions reached
  kWrongState = 1012,          // request not valid in the session's current state
  kUnexpectedJsep = 1013,      // the request takes no JSEP but one was sent
  kDeviceBusy = 1014,          // the device has a publisher already
  kNoSuchDevice = 1015,        // no publisher for this device
  kTooManyViewers = 1016,      // max_viewers_per_device reached
  kDraining = 1017,            // drain is on: no new publish/watch/echo
  kSessionNotFound = 1018,     // no media session with this id
  kTooManyCandidates = 1019,   // more ICE candidates than max_ice_candidates
  kUnauthorized = 1020,        // token mode: no token, or an invalid or expired one
  kForbidden = 1021,           // token mode: a valid token that does not grant this request
  kClusterUnavailable = 1022,  // the cluster directory (Redis) cannot be reached, or no cluster
  kRemoteDevice = 1023,        // no longer sent (remote devices are relayed): number kept
  kInternal = 1099,            // a bug: logged with details
};

struct Error {
  ErrorCode code;
  std::string reason;
};

inline int numeric(ErrorCode code) {
  return static_cast<int>(code);
}

}  // namespace jmedia
