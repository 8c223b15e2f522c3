// What the edge reads in a client's Janus API request, before the core sees it: which request
// it is, its ids and transaction, and how many ICE candidates it carries. Pure code over
// jansson, fuzzed (fuzz/edge_fuzzer.cpp).
#pragma once

#include <jansson.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "../common/json.h"

namespace jmedia::edge {

// The "janus" label of janus_edge_requests_total: the requests of Janus 1.1.2's API.
enum class Verb : std::uint8_t {
  kCreate,
  kAttach,
  kMessage,
  kTrickle,
  kKeepalive,
  kDetach,
  kHangup,
  kDestroy,
  kClaim,
  kInfo,
  kPing,
  kOther,
};
inline constexpr std::array<std::string_view, 12> kVerbNames = {
    "create", "attach",  "message", "trickle", "keepalive", "detach",
    "hangup", "destroy", "claim",   "info",    "ping",      "other"};
inline constexpr std::size_t kVerbs = kVerbNames.size();
Verb verb_of(std::string_view janus);

// Errors the edge answers itself (Janus's own codes where one fits, 480-483 for the bounds).
inline constexpr int kErrorTransportSpecific = 450;  // JANUS_ERROR_TRANSPORT_SPECIFIC
inline constexpr int kErrorInvalidJson = 454;        // JANUS_ERROR_INVALID_JSON
inline constexpr int kErrorInvalidJsonObject = 455;  // JANUS_ERROR_INVALID_JSON_OBJECT
inline constexpr int kErrorInvalidPath = 457;        // JANUS_ERROR_INVALID_REQUEST_PATH
inline constexpr int kErrorSessionNotFound = 458;    // JANUS_ERROR_SESSION_NOT_FOUND
inline constexpr int kErrorTooManyRequests = 480;
inline constexpr int kErrorMessageTooBig = 481;
inline constexpr int kErrorTooManyCandidates = 482;
inline constexpr int kErrorTooManyConnections = 483;

struct ClientRequest {
  JsonPtr json;  // the request, an object (owned; handed to the core when forwarded)
  Verb verb = Verb::kOther;
  std::string transaction;  // empty when absent
  std::uint64_t session_id = 0;
  std::uint64_t handle_id = 0;
  // ICE candidates it carries: a trickle's "candidate" (1, 0 for {"completed": true}) or
  // "candidates" (each entry but completed markers), or the a=candidate lines of a message's
  // jsep.sdp.
  std::uint32_t candidates = 0;
  std::string plugin;  // attach: the plugin asked for
  bool jsep = false;   // a message with a jsep object (an offer or answer for the core)
};

struct RequestError {
  int code = kErrorInvalidJson;
  std::string reason;
};

// One client message: exactly one JSON object, else an error (several documents in one
// message, trailing bytes, or a value that is not an object).
std::variant<ClientRequest, RequestError> parse_request(std::string_view text);

// (Re)reads verb, ids, transaction, candidates and plugin from request.json.
void inspect(ClientRequest& request);

std::uint32_t count_sdp_candidates(std::string_view sdp);
std::uint32_t count_trickle_candidates(const json_t* request);

// Where an HTTP request of the Janus REST API goes: <base>, <base>/info, <base>/<session>,
// <base>/<session>/<handle> (empty components are skipped, as Janus's HTTP transport does).
struct ApiPath {
  bool info = false;
  std::optional<std::uint64_t> session_id;
  std::optional<std::uint64_t> handle_id;
};
// An error (kErrorInvalidPath, or kErrorSessionNotFound for a session that is not a number)
// for any other path.
std::variant<ApiPath, RequestError> parse_api_path(std::string_view base, std::string_view url);
// A positive decimal id that fits 64 bits, nothing else.
std::optional<std::uint64_t> parse_id(std::string_view text);

// A Janus-style error, serialized: {"janus":"error","session_id":S (when not 0),
// "transaction":T (when not empty),"error":{"code":C,"reason":R}}.
std::string error_reply(int code, std::string_view reason, std::string_view transaction,
                        std::uint64_t session_id);

// How the edge serializes what it sends (compact, keys in the core's order), after headroom
// spaces (room a writer needs in front, as lws's LWS_PRE).
std::string serialize(const json_t* message, std::size_t headroom = 0);

}  // namespace jmedia::edge
