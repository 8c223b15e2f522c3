#include "request.h"

#include <cstring>

namespace jmedia {
namespace {

ParsedRequest fail(std::string name, ErrorCode code, std::string reason) {
  return ParsedRequest{std::nullopt, Error{code, std::move(reason)}, std::move(name)};
}

// Reads an optional boolean field; a present non-boolean is an error.
std::optional<Error> read_flag(const json_t* body, const char* field, bool& out) {
  const json_t* value = json_object_get(body, field);
  if (value == nullptr) return std::nullopt;
  if (!json_is_boolean(value)) {
    return Error{ErrorCode::kInvalidField, std::string("'") + field + "' must be a boolean"};
  }
  out = json_is_true(value);
  return std::nullopt;
}

// The offer SDP, or why the JSEP is unusable.
std::variant<std::string, Error> read_offer(const json_t* jsep) {
  if (jsep == nullptr || json_is_null(jsep)) {
    return Error{ErrorCode::kMissingOffer, "this request needs a JSEP offer"};
  }
  if (!json_is_object(jsep)) return Error{ErrorCode::kWrongJsepType, "jsep must be an object"};
  const json_t* type = json_object_get(jsep, "type");
  if (!json_is_string(type)) {
    return Error{ErrorCode::kWrongJsepType, "jsep.type must be a string"};
  }
  if (std::strcmp(json_string_value(type), "offer") != 0) {
    return Error{ErrorCode::kWrongJsepType,
                 std::string("expected a JSEP offer, got '") + json_string_value(type) + "'"};
  }
  const json_t* sdp = json_object_get(jsep, "sdp");
  if (!json_is_string(sdp) || json_string_length(sdp) == 0) {
    return Error{ErrorCode::kInvalidSdp, "jsep.sdp must be a non-empty string"};
  }
  return std::string(json_string_value(sdp), json_string_length(sdp));
}

ParsedRequest parse_echo(const json_t* body, const json_t* jsep) {
  EchoRequest echo;
  for (auto [field, target] : {std::pair{"audio", &echo.flags.audio},
                               std::pair{"video", &echo.flags.video},
                               std::pair{"data", &echo.flags.data}}) {
    if (auto error = read_flag(body, field, *target)) {
      return fail("echo", error->code, error->reason);
    }
  }
  auto offer = read_offer(jsep);
  if (auto* error = std::get_if<Error>(&offer)) return fail("echo", error->code, error->reason);
  echo.offer_sdp = std::move(std::get<std::string>(offer));
  return ParsedRequest{ClientRequest{std::move(echo)}, std::nullopt, "echo"};
}

ParsedRequest parse_hangup(const json_t* jsep) {
  if (jsep != nullptr && !json_is_null(jsep)) {
    return fail("hangup", ErrorCode::kUnexpectedJsep, "hangup takes no JSEP");
  }
  return ParsedRequest{ClientRequest{HangupRequest{}}, std::nullopt, "hangup"};
}

}  // namespace

ParsedRequest parse_client_request(const json_t* body, const json_t* jsep) {
  if (body == nullptr || !json_is_object(body)) {
    return fail("", ErrorCode::kInvalidBody, "the message body must be a JSON object");
  }
  const json_t* request = json_object_get(body, "request");
  if (!json_is_string(request)) {
    return fail("", ErrorCode::kMissingRequest, "'request' must be a string");
  }
  const std::string name(json_string_value(request), json_string_length(request));
  if (name == "echo") return parse_echo(body, jsep);
  if (name == "hangup") return parse_hangup(jsep);
  std::string shown = name;
  if (shown.size() > 64) {
    std::size_t cut = 64;  // back off to a UTF-8 boundary so the reason stays valid JSON text
    while (cut > 0 && (static_cast<unsigned char>(shown[cut]) & 0xC0) == 0x80) --cut;
    shown = shown.substr(0, cut) + "...";
  }
  return fail("", ErrorCode::kUnknownRequest, "unknown request '" + shown + "'");
}

}  // namespace jmedia
