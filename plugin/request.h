// Client requests (the "body" of a Janus message to janus.plugin.media), parsed and validated
// before anything else happens. Parsing is pure: no session, no Janus, so every error path is
// unit-tested.
#pragma once

#include <jansson.h>

#include <optional>
#include <string>
#include <variant>

#include "errors.h"

namespace jmedia {

struct MediaFlags {
  bool audio = true;
  bool video = true;
  bool data = true;
};

// {"request":"echo","audio":bool,"video":bool,"data":bool} + JSEP offer.
struct EchoRequest {
  MediaFlags flags;
  std::string offer_sdp;
};

// {"request":"hangup"}
struct HangupRequest {};

using ClientRequest = std::variant<EchoRequest, HangupRequest>;

struct ParsedRequest {
  std::optional<ClientRequest> request;  // set when valid
  std::optional<Error> error;            // set when not
  std::string name;                      // the request name, "" when unreadable
};

ParsedRequest parse_client_request(const json_t* body, const json_t* jsep);

}  // namespace jmedia
