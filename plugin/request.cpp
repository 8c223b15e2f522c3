#include "request.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "../common/json.h"

namespace jmedia {
namespace {

constexpr const char* kDeviceIdRule = "1-128 characters of A-Z a-z 0-9 . _ : -";
constexpr const char* kSessionCursorRule =
    "must be a media_session id (16 lower-case hex digits), or in token mode "
    "<device_id>/<media_session>: pass the next_cursor of the previous page";
constexpr const char* kDeviceCursorRule =
    "must be a device_id (1-128 characters of A-Z a-z 0-9 . _ : -): pass the next_cursor of "
    "the previous page";

// Reads typed fields of a request body, remembering the first problem.
class Fields {
 public:
  explicit Fields(const json_t* body) : body_(body) {}
  const std::optional<Error>& error() const { return error_; }

  std::optional<bool> boolean(const char* name) {
    const json_t* value = get(name);
    if (value == nullptr) return std::nullopt;
    if (!json_is_boolean(value)) return fail(name, "must be a boolean"), std::nullopt;
    return json_is_true(value);
  }
  std::optional<std::int64_t> integer(const char* name, std::int64_t min, std::int64_t max) {
    const json_t* value = get(name);
    if (value == nullptr) return std::nullopt;
    if (!json_is_integer(value)) return fail(name, "must be an integer"), std::nullopt;
    const json_int_t number = json_integer_value(value);
    if (number < min || number > max) {
      fail(name, "must be from " + std::to_string(min) + " to " + std::to_string(max));
      return std::nullopt;
    }
    return number;
  }
  std::optional<std::string> string(const char* name, std::size_t max_length) {
    const json_t* value = get(name);
    if (value == nullptr) return std::nullopt;
    if (!json_is_string(value)) return fail(name, "must be a string"), std::nullopt;
    if (json_string_length(value) > max_length) {
      fail(name, "is longer than " + std::to_string(max_length) + " bytes");
      return std::nullopt;
    }
    return std::string(json_string_value(value), json_string_length(value));
  }
  std::optional<std::string> device_id(bool required) {
    auto id = string("device_id", kMaxDeviceIdLength);
    if (error_) return std::nullopt;
    if (!id) {
      if (required) fail("device_id", "is required");
      return std::nullopt;
    }
    if (!valid_device_id(*id)) {
      fail("device_id", std::string("must be ") + kDeviceIdRule);
      return std::nullopt;
    }
    return id;
  }
  std::optional<std::string> media_session(bool required) {
    auto id = string("media_session", 64);
    if (!error_ && !id && required) fail("media_session", "is required");
    return id;
  }
  MediaFlags flags() {
    MediaFlags flags;
    if (auto v = boolean("audio")) flags.audio = *v;
    if (auto v = boolean("video")) flags.video = *v;
    if (auto v = boolean("data")) flags.data = *v;
    return flags;
  }
  std::size_t limit() {
    auto v = integer("limit", 1, static_cast<std::int64_t>(kMaxPageLimit));
    return v ? static_cast<std::size_t>(*v) : kDefaultPageLimit;
  }
  // A page's cursor is the last key of the page before. Anything else could never have come
  // from the server. A devices cursor: a device_id.
  std::string device_cursor() {
    auto cursor = string("cursor", 256);
    if (!cursor || error_) return "";
    if (!valid_device_id(*cursor)) {
      fail("cursor", kDeviceCursorRule);
      return "";
    }
    return std::move(*cursor);
  }
  // A list cursor: a media_session id, or "<device_id>/<media_session>" (token mode).
  void list_cursor(ListRequest& list) {
    auto cursor = string("cursor", 256);
    if (!cursor || error_) return;
    const std::size_t separator = cursor->find(kCursorSeparator);
    if (separator == std::string::npos) {
      if (!valid_session_id(*cursor)) return fail("cursor", kSessionCursorRule);
      list.cursor = std::move(*cursor);
      return;
    }
    std::string device = cursor->substr(0, separator);
    std::string session = cursor->substr(separator + 1);
    if (!valid_device_id(device) || !valid_session_id(session)) {
      return fail("cursor", kSessionCursorRule);
    }
    list.cursor = std::move(session);
    list.cursor_device = std::move(device);
  }

 private:
  const json_t* get(const char* name) const { return member(body_, name); }
  void fail(const char* name, const std::string& what) {
    if (!error_) error_ = Error{ErrorCode::kInvalidField, std::string("'") + name + "' " + what};
  }

  const json_t* body_;
  std::optional<Error> error_;
};

bool has_jsep(const json_t* jsep) {
  return jsep != nullptr && !json_is_null(jsep);
}

// The SDP of a JSEP of the expected type, or why the JSEP is unusable.
std::variant<std::string, Error> read_jsep(const json_t* jsep, const char* expected_type) {
  if (!has_jsep(jsep)) {
    return Error{ErrorCode::kMissingJsep,
                 std::string("this request needs a JSEP ") + expected_type};
  }
  if (!json_is_object(jsep)) return Error{ErrorCode::kWrongJsepType, "jsep must be an object"};
  const json_t* type = member(jsep, "type");
  if (!json_is_string(type)) return Error{ErrorCode::kWrongJsepType, "jsep.type must be a string"};
  if (std::strcmp(json_string_value(type), expected_type) != 0) {
    std::string got(json_string_value(type));
    if (got.size() > 32) got = "?";
    return Error{ErrorCode::kWrongJsepType,
                 std::string("expected a JSEP ") + expected_type + ", got '" + got + "'"};
  }
  const json_t* sdp = member(jsep, "sdp");
  if (!json_is_string(sdp) || json_string_length(sdp) == 0) {
    return Error{ErrorCode::kInvalidSdp, "jsep.sdp must be a non-empty string"};
  }
  return std::string(json_string_value(sdp), json_string_length(sdp));
}

template <typename Request>
Parsed<Request> fail(std::string name, ErrorCode code, std::string reason) {
  return Parsed<Request>{std::nullopt, Error{code, std::move(reason)}, std::move(name)};
}

template <typename Request, typename Value>
Parsed<Request> done(const char* name, Fields& fields, Value value) {
  if (fields.error()) return Parsed<Request>{std::nullopt, fields.error(), name};
  return Parsed<Request>{Request{std::move(value)}, std::nullopt, name};
}

std::string shown_name(std::string name) {
  if (name.size() > 64) {
    std::size_t cut = 64;  // back off to a UTF-8 boundary so the reason stays valid JSON text
    while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
    name = name.substr(0, cut) + "...";
  }
  return name;
}

// The request name, or the error for a body that has none.
std::variant<std::string, Error> request_name(const json_t* body) {
  if (body == nullptr || !json_is_object(body)) {
    return Error{ErrorCode::kInvalidBody, "the message body must be a JSON object"};
  }
  const json_t* request = member(body, "request");
  if (!json_is_string(request))
    return Error{ErrorCode::kMissingRequest, "'request' must be a string"};
  return std::string(json_string_value(request), json_string_length(request));
}

// Requests valid for both clients and operators.
template <typename Request>
std::optional<Parsed<Request>> parse_query(const std::string& name, Fields& fields) {
  if (name == "list") {
    ListRequest list;
    list.device_id = fields.device_id(false);
    if (auto role = fields.string("role", 16)) {
      list.role = role_from_name(*role);
      if (!list.role && !fields.error()) {
        return fail<Request>(name, ErrorCode::kInvalidField,
                             "'role' must be publisher, viewer or echo");
      }
    }
    list.limit = fields.limit();
    fields.list_cursor(list);
    list.detail = fields.boolean("detail").value_or(false);
    return done<Request>("list", fields, std::move(list));
  }
  if (name == "info") {
    InfoRequest info;
    info.media_session = fields.media_session(true).value_or("");
    return done<Request>("info", fields, std::move(info));
  }
  if (name == "devices") {
    DevicesRequest devices;
    devices.limit = fields.limit();
    devices.cursor = fields.device_cursor();
    if (auto scope = fields.string("scope", 16)) {
      if (*scope == "cluster") {
        devices.cluster = true;
      } else if (*scope != "local" && !fields.error()) {
        return fail<Request>(name, ErrorCode::kInvalidField,
                             R"('scope' must be "local" or "cluster")");
      }
    }
    return done<Request>("devices", fields, std::move(devices));
  }
  return std::nullopt;
}

}  // namespace

bool valid_device_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxDeviceIdLength) return false;
  return std::ranges::all_of(id, [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
  });
}

bool valid_session_id(std::string_view id) {
  return id.size() == kSessionIdLength && std::ranges::all_of(id, [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool is_sync_request(std::string_view name) {
  return name == "list" || name == "info" || name == "devices";
}

Parsed<ClientRequest> parse_client_request(const json_t* body, const json_t* jsep) {
  using P = Parsed<ClientRequest>;
  auto named = request_name(body);
  if (auto* error = std::get_if<Error>(&named))
    return fail<ClientRequest>("", error->code, error->reason);
  const std::string name = std::move(std::get<std::string>(named));
  Fields fields(body);

  auto no_jsep = [&](const char* request) -> std::optional<P> {
    if (has_jsep(jsep)) {
      return fail<ClientRequest>(request, ErrorCode::kUnexpectedJsep,
                                 std::string(request) + " takes no JSEP");
    }
    return std::nullopt;
  };

  if (name == "echo") {
    EchoRequest echo;
    echo.flags = fields.flags();
    if (fields.error()) return done<ClientRequest>("echo", fields, std::move(echo));
    auto offer = read_jsep(jsep, "offer");
    if (auto* error = std::get_if<Error>(&offer))
      return fail<ClientRequest>(name, error->code, error->reason);
    echo.offer_sdp = std::move(std::get<std::string>(offer));
    return done<ClientRequest>("echo", fields, std::move(echo));
  }
  if (name == "publish") {
    PublishRequest publish;
    publish.device_id = fields.device_id(true).value_or("");
    publish.flags = fields.flags();
    if (fields.error()) return done<ClientRequest>("publish", fields, std::move(publish));
    auto offer = read_jsep(jsep, "offer");
    if (auto* error = std::get_if<Error>(&offer))
      return fail<ClientRequest>(name, error->code, error->reason);
    publish.offer_sdp = std::move(std::get<std::string>(offer));
    return done<ClientRequest>("publish", fields, std::move(publish));
  }
  if (name == "watch") {
    WatchRequest watch;
    watch.device_id = fields.device_id(true).value_or("");
    if (fields.error()) return done<ClientRequest>("watch", fields, std::move(watch));
    if (auto error = no_jsep("watch")) return *error;
    return done<ClientRequest>("watch", fields, std::move(watch));
  }
  if (name == "start") {
    auto answer = read_jsep(jsep, "answer");
    if (auto* error = std::get_if<Error>(&answer))
      return fail<ClientRequest>(name, error->code, error->reason);
    return done<ClientRequest>("start", fields,
                               StartRequest{std::move(std::get<std::string>(answer))});
  }
  if (name == "configure") {
    ConfigureRequest configure;
    configure.audio = fields.boolean("audio");
    configure.video = fields.boolean("video");
    if (auto bitrate = fields.integer("bitrate", 0, 100000000)) {
      configure.bitrate = static_cast<std::uint32_t>(*bitrate);
    }
    configure.keyframe = fields.boolean("keyframe").value_or(false);
    if (fields.error()) return done<ClientRequest>("configure", fields, std::move(configure));
    if (has_jsep(jsep)) {
      auto offer = read_jsep(jsep, "offer");
      if (auto* error = std::get_if<Error>(&offer))
        return fail<ClientRequest>(name, error->code, error->reason);
      configure.offer_sdp = std::move(std::get<std::string>(offer));
    }
    return done<ClientRequest>("configure", fields, std::move(configure));
  }
  if (name == "hangup") {
    if (auto error = no_jsep("hangup")) return *error;
    return done<ClientRequest>("hangup", fields, HangupRequest{});
  }
  if (auto query = parse_query<ClientRequest>(name, fields)) {
    if (!query->error) {
      if (auto error = no_jsep(query->name.c_str())) return *error;
    }
    return std::move(*query);
  }
  return fail<ClientRequest>("", ErrorCode::kUnknownRequest,
                             "unknown request '" + shown_name(name) + "'");
}

Parsed<AdminRequest> parse_admin_request(const json_t* body) {
  auto named = request_name(body);
  if (auto* error = std::get_if<Error>(&named))
    return fail<AdminRequest>("", error->code, error->reason);
  const std::string name = std::move(std::get<std::string>(named));
  Fields fields(body);
  if (auto query = parse_query<AdminRequest>(name, fields)) return std::move(*query);
  if (name == "kick") {
    KickRequest kick;
    kick.media_session = fields.media_session(false);
    kick.device_id = fields.device_id(false);
    if (auto reason = fields.string("reason", 32)) {
      if (*reason == "too_many_candidates") {
        kick.reason = KickRequest::Reason::kTooManyCandidates;
      } else if (*reason != "operator" && !fields.error()) {
        return fail<AdminRequest>(name, ErrorCode::kInvalidField,
                                  "'reason' must be operator or too_many_candidates");
      }
    }
    if (!fields.error() && kick.media_session.has_value() == kick.device_id.has_value()) {
      return fail<AdminRequest>(name, ErrorCode::kInvalidField,
                                "kick needs exactly one of 'media_session' and 'device_id'");
    }
    return done<AdminRequest>("kick", fields, std::move(kick));
  }
  if (name == "drain") {
    auto enabled = fields.boolean("enabled");
    if (!enabled && !fields.error()) {
      return fail<AdminRequest>(name, ErrorCode::kInvalidField, "'enabled' (boolean) is required");
    }
    return done<AdminRequest>("drain", fields, DrainRequest{enabled.value_or(false)});
  }
  if (name == "limits") {
    LimitsRequest limits;
    if (auto v = fields.integer("max_sessions", 1, 10000000)) limits.max_sessions = *v;
    if (auto v = fields.integer("max_viewers_per_device", 1, 100000))
      limits.max_viewers_per_device = *v;
    if (auto v = fields.integer("queue_size", 1, 1000000)) limits.queue_size = *v;
    return done<AdminRequest>("limits", fields, limits);
  }
  return fail<AdminRequest>("", ErrorCode::kUnknownRequest,
                            "unknown request '" + shown_name(name) + "'");
}

}  // namespace jmedia
