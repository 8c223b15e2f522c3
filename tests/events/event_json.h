// The start of a Janus 1.1.2 event as the core emits it (ids from a captured session), for
// the event handler's tests to build their events from.
#pragma once

#include <cstdint>
#include <string>

namespace jmedia::events::testing {

inline constexpr std::uint64_t kSession = 5888816369177318;
inline constexpr std::uint64_t kHandle = 3201782540682339;

// {"emitter":..,"type":..[,"subtype":..],"timestamp":..  (no session or handle)
inline std::string event_head(int type, int subtype) {
  std::string text = R"({"emitter":"MyJanusInstance","type":)" + std::to_string(type);
  if (subtype > 0) text += R"(,"subtype":)" + std::to_string(subtype);
  return text + R"(,"timestamp":1795638264602984)";
}

// The same, of a handle of kSession.
inline std::string handle_head(int type, int subtype, std::uint64_t handle = kHandle) {
  return event_head(type, subtype) + R"(,"session_id":)" + std::to_string(kSession) +
         R"(,"handle_id":)" + std::to_string(handle);
}

}  // namespace jmedia::events::testing
