// Client and admin requests, parsed and validated before anything else happens. Parsing is
// pure (no session, no Janus), so every error path is unit-tested.
#pragma once

#include <jansson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "errors.h"
#include "types.h"

namespace jmedia {

inline constexpr std::size_t kMaxDeviceIdLength = 128;
inline constexpr std::size_t kSessionIdLength = 16;
inline constexpr std::size_t kDefaultPageLimit = 100;
inline constexpr std::size_t kMaxPageLimit = 1000;

// {"request":"echo","audio":bool,"video":bool,"data":bool} + JSEP offer.
struct EchoRequest {
  MediaFlags flags;
  std::string offer_sdp;
};
// {"request":"publish","device_id":D,"audio":..,"video":..,"data":..} + JSEP offer.
struct PublishRequest {
  std::string device_id;
  MediaFlags flags;
  std::string offer_sdp;
};
// {"request":"watch","device_id":D}
struct WatchRequest {
  std::string device_id;
};
// {"request":"start"} + JSEP answer.
struct StartRequest {
  std::string answer_sdp;
};
// {"request":"configure","audio":..,"video":..,"bitrate":N,"keyframe":bool} [+ JSEP offer]
struct ConfigureRequest {
  std::optional<bool> audio;
  std::optional<bool> video;
  std::optional<std::uint32_t> bitrate;
  bool keyframe = false;
  std::optional<std::string> offer_sdp;  // renegotiation (publisher and echo)
};
struct HangupRequest {};
// {"request":"list","device_id":D,"role":R,"limit":N,"cursor":C,"detail":bool}
struct ListRequest {
  std::optional<std::string> device_id;
  std::optional<Role> role;
  std::size_t limit = kDefaultPageLimit;
  // A cursor is a media_session id, or (token mode, whose pages are in device order)
  // "<device_id>/<media_session>": then cursor holds the id and cursor_device the device.
  std::string cursor;
  std::optional<std::string> cursor_device;
  bool detail = false;  // the whole session object (as info) instead of the summary
};
// {"request":"info","media_session":S}
struct InfoRequest {
  std::string media_session;
};
// {"request":"devices","limit":N,"cursor":C}
struct DevicesRequest {
  std::size_t limit = kDefaultPageLimit;
  std::string cursor;
  bool cluster = false;  // "scope": "cluster" (every node's, from the directory) or "local"
};
// Admin only: {"request":"kick","media_session":S} or {"request":"kick","device_id":D}
struct KickRequest {
  enum class Reason { kOperator, kTooManyCandidates };
  std::optional<std::string> media_session;
  std::optional<std::string> device_id;
  // "operator" (default) or "too_many_candidates" (sent by the ICE-candidate cap, which
  // also detaches the handle): the latter tells the client with error 1019 first.
  Reason reason = Reason::kOperator;
};
// Admin only: {"request":"drain","enabled":bool}
struct DrainRequest {
  bool enabled = false;
};
// Admin only: {"request":"limits", optional new values}
struct LimitsRequest {
  std::optional<std::size_t> max_sessions;
  std::optional<std::size_t> max_viewers_per_device;
  std::optional<std::size_t> queue_size;
};

using ClientRequest =
    std::variant<EchoRequest, PublishRequest, WatchRequest, StartRequest, ConfigureRequest,
                 HangupRequest, ListRequest, InfoRequest, DevicesRequest>;
using AdminRequest = std::variant<ListRequest, InfoRequest, DevicesRequest, KickRequest,
                                  DrainRequest, LimitsRequest>;

// The requests answered in the reply (list, info, devices), by name: valid or not, since a
// malformed one is answered the way a valid one would be. Every other request is answered by
// events.
bool is_sync_request(std::string_view name);

template <typename Request>
struct Parsed {
  std::optional<Request> request;  // set when valid
  std::optional<Error> error;      // set when not
  std::string name;                // the request name when known, "" otherwise
};

Parsed<ClientRequest> parse_client_request(const json_t* body, const json_t* jsep);
Parsed<AdminRequest> parse_admin_request(const json_t* body);

bool valid_device_id(std::string_view id);
// Separates the device from the media_session in a token-mode list cursor (no device_id
// holds it).
inline constexpr char kCursorSeparator = '/';
// What MediaPlugin::new_session_id() makes: 16 lower-case hex digits.
bool valid_session_id(std::string_view id);

}  // namespace jmedia
