// janus.transport.edge, what it does with the bytes a client sends before the core sees them:
// WebSocket message assembly (MessageAssembler, pieces as libwebsockets hands them), the HTTP
// API's routing (parse_api_path and the ids a path adds to a body), request parsing and
// inspection (parse_request, inspect: one JSON object per message, the verb, ids, and the ICE
// candidates of trickles and SDPs), the candidate cap (Edge::admit / CandidateGuard, with the
// core's answers and events that reset or forget handles) and the errors the edge answers with.
//
// Input: records [op][len lo][len hi][len bytes], up to 256 of them:
//   op % 4 == 0  a WebSocket piece: its first byte's bits are final (1) and, in bits 1-7, a
//                claim of what is left of the frame (in 2 KiB units); the rest is the piece.
//                A complete message is parsed and admitted as a request.
//   op % 4 == 1  an HTTP request: "<url>\n<body>" (POST); the path's ids are merged into the
//                body as the HTTP API does, then it is parsed and admitted.
//   op % 4 == 2  an event from the core (JSON): hangups, detaches, timeouts.
//   op % 4 == 3  the core's answer (JSON) to the oldest request admitted and not answered.
//
// Invariants: the assembler never holds more than its cap, and a complete message is never
// longer; parse_request gives a JSON object or an error, never both; the counted candidates
// equal an independent count of the request; a handle's count under the cap never exceeds it
// (a model of the guard follows every admission, answer and event); every error the edge
// answers with is a Janus error with its code; a path's ids round-trip through the body.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>

#include "../edge/edge.h"
#include "../edge/message_assembler.h"
#include "fuzz_util.h"

namespace {

using namespace jmedia;
using namespace jmedia::edge;
using fuzz::fail;

constexpr std::size_t kMaxMessage = 64 * 1024;
constexpr std::uint32_t kCap = 50;

class NoCore final : public CoreLink {
 public:
  janus_transport_session* create_session(void*, void (*)(void*)) override { return nullptr; }
  void destroy_session(janus_transport_session*) override {}
  void hold(janus_transport_session*) override {}
  void release(janus_transport_session*) override {}
  void incoming_request(janus_transport_session*, std::uint64_t, json_t* request) override {
    json_decref(request);
  }
  void transport_gone(janus_transport_session*) override {}
  void notify(janus_transport_session*, json_t* event) override { json_decref(event); }
  bool api_secret_needed() override { return false; }
  bool api_secret_valid(const char*) override { return true; }
  bool auth_token_needed() override { return false; }
  bool auth_token_valid(const char*) override { return true; }
};

// What the guard must hold: per handle, the candidates admitted on its PeerConnection.
using Model = std::map<std::pair<std::uint64_t, std::uint64_t>, std::uint64_t>;

std::uint32_t recount(const json_t* request) {
  const json_t* janus = json_object_get(request, "janus");
  const char* verb = json_is_string(janus) ? json_string_value(janus) : "";
  std::uint64_t count = 0;
  const auto completed = [](const json_t* c) {
    return json_is_object(c) && json_object_get(c, "completed") == json_true();
  };
  if (std::string_view(verb) == "trickle") {
    const json_t* one = json_object_get(request, "candidate");
    if (one != nullptr && !json_is_null(one) && !completed(one)) ++count;
    const json_t* many = json_object_get(request, "candidates");
    for (std::size_t i = 0; json_is_array(many) && i < json_array_size(many); ++i) {
      if (!completed(json_array_get(many, i))) ++count;
    }
  } else if (std::string_view(verb) == "message") {
    const json_t* jsep = json_object_get(request, "jsep");
    const json_t* sdp = json_is_object(jsep) ? json_object_get(jsep, "sdp") : nullptr;
    if (json_is_string(sdp)) {
      const std::string_view text(json_string_value(sdp), json_string_length(sdp));
      // Line by line from the end this time.
      std::size_t end = text.size();
      for (;;) {
        const std::size_t start = end == 0 ? std::string_view::npos : text.rfind('\n', end - 1);
        const std::string_view line = start == std::string_view::npos
                                          ? text.substr(0, end)
                                          : text.substr(start + 1, end - start - 1);
        if (line.substr(0, 12) == "a=candidate:") ++count;
        if (start == std::string_view::npos) break;
        end = start;
      }
    }
  }
  return count > UINT32_MAX ? UINT32_MAX : static_cast<std::uint32_t>(count);
}

void check_error(const std::string& text, int code, const char* what) {
  JsonPtr reply = fuzz::parse_json(text);
  FUZZ_CHECK(reply != nullptr && json_is_object(reply.get()), "%s: not JSON: %s", what,
             text.c_str());
  FUZZ_CHECK(string_member(reply.get(), "janus") == "error", "%s: not an error", what);
  FUZZ_CHECK(integer_member(member(reply.get(), "error"), "code") == code, "%s: code", what);
}

struct Harness {
  EdgeConfig config;
  NoCore core;
  EdgeMetrics metrics;
  Edge edge{config, core, metrics, CandidatePolicy{.max_ice_candidates = kCap}, nullptr};
  MessageAssembler assembler{kMaxMessage};
  std::deque<Pending> pending;
  Model model;

  void admit(ClientRequest request) {
    FUZZ_CHECK(json_is_object(request.json.get()), "a request that is not an object");
    const std::uint32_t expected = recount(request.json.get());
    FUZZ_CHECK(request.candidates == expected, "counted %u candidates, %u by recount",
               request.candidates, expected);
    std::optional<std::string> refusal = edge.admit(Transport::kWebSocket, request);
    const bool counted =
        request.candidates != 0 && request.session_id != 0 && request.handle_id != 0;
    auto& admitted = model[{request.session_id, request.handle_id}];
    if (refusal) {
      FUZZ_CHECK(counted, "refused a request that carries no counted candidates");
      FUZZ_CHECK(admitted + request.candidates > kCap, "refused under the cap");
      check_error(*refusal, kErrorTooManyCandidates, "candidate refusal");
      return;
    }
    if (counted) {
      admitted += request.candidates;
      FUZZ_CHECK(admitted <= kCap, "a handle over the cap: %llu",
                 static_cast<unsigned long long>(admitted));
    }
    if (pending.size() < 64) pending.push_back(edge.pending_for(request, Clock::now()));
  }

  void message(std::string_view text) {
    auto parsed = parse_request(text);
    if (auto* error = std::get_if<RequestError>(&parsed)) {
      FUZZ_CHECK(error->code == kErrorInvalidJson || error->code == kErrorInvalidJsonObject,
                 "parse error code %d", error->code);
      check_error(edge.invalid(Transport::kWebSocket, *error), error->code, "invalid");
      return;
    }
    admit(std::move(std::get<ClientRequest>(parsed)));
  }

  void piece(std::string_view bytes) {
    if (bytes.empty()) return;
    const auto flags = static_cast<unsigned char>(bytes[0]);
    const std::size_t remaining = static_cast<std::size_t>(flags >> 1) * 2048;
    switch (assembler.add(bytes.substr(1), remaining, (flags & 1) != 0)) {
      case MessageAssembler::Result::kMore:
        FUZZ_CHECK(assembler.buffered() <= kMaxMessage, "assembler holds %zu",
                   assembler.buffered());
        break;
      case MessageAssembler::Result::kTooBig:
        FUZZ_CHECK(assembler.buffered() == 0, "a refused message left bytes behind");
        break;
      case MessageAssembler::Result::kComplete:
        FUZZ_CHECK(assembler.message().size() <= kMaxMessage, "a message over the cap");
        message(assembler.message());
        break;
    }
  }

  void http(std::string_view input) {
    const std::size_t newline = input.find('\n');
    const std::string_view url = input.substr(0, newline);
    const std::string_view body =
        newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
    auto routed = parse_api_path("/janus", url);
    if (auto* error = std::get_if<RequestError>(&routed)) {
      FUZZ_CHECK(error->code == kErrorInvalidPath || error->code == kErrorSessionNotFound,
                 "path error code %d", error->code);
      return;
    }
    const ApiPath& path = std::get<ApiPath>(routed);
    FUZZ_CHECK(!(path.info && path.session_id), "info with a session");
    FUZZ_CHECK(!path.handle_id || path.session_id, "a handle without a session");
    auto parsed = parse_request(body);
    if (!std::holds_alternative<ClientRequest>(parsed)) return;
    ClientRequest request = std::move(std::get<ClientRequest>(parsed));
    if (path.session_id) {
      if (request.session_id != 0 && request.session_id != *path.session_id) return;  // 457
      set_unchecked(request.json.get(), "session_id", *path.session_id);
    }
    if (path.handle_id) {
      if (request.handle_id != 0 && request.handle_id != *path.handle_id) return;
      set_unchecked(request.json.get(), "handle_id", *path.handle_id);
    }
    inspect(request);
    if (path.session_id) {
      // An id above INT64_MAX does not survive jansson's integers: the core would not find it.
      if (*path.session_id <= static_cast<std::uint64_t>(INT64_MAX)) {
        FUZZ_CHECK(request.session_id == *path.session_id, "the path's session lost");
      }
    }
    admit(std::move(request));
  }

  void event(std::string_view text) {
    JsonPtr json = fuzz::parse_json(text);
    if (!json_is_object(json.get())) return;
    edge.event(json.get());
    const auto janus = string_member(json.get(), "janus");
    const auto session = integer_member(json.get(), "session_id").value_or(0);
    const auto sender = integer_member(json.get(), "sender").value_or(0);
    if (janus == "hangup" || janus == "detached") {
      if (session > 0 && sender > 0) {
        model.erase({static_cast<std::uint64_t>(session), static_cast<std::uint64_t>(sender)});
      }
    } else if (janus == "timeout" && session > 0) {
      std::erase_if(model, [&](const auto& entry) {
        return entry.first.first == static_cast<std::uint64_t>(session);
      });
    }
  }

  void answer(std::string_view text) {
    if (pending.empty()) return;
    JsonPtr json = fuzz::parse_json(text);
    if (!json_is_object(json.get())) return;
    const Pending request = pending.front();
    pending.pop_front();
    edge.answered(Transport::kWebSocket, request, json.get());
    const auto janus = string_member(json.get(), "janus");
    const auto key = std::make_pair(request.key.session_id, request.key.handle_id);
    if (janus == "error" || !janus) {
      if (request.candidates != 0) {
        auto it = model.find(key);
        if (it != model.end())
          it->second -= std::min<std::uint64_t>(it->second, request.candidates);
      }
    } else if (request.verb == Verb::kHangup || request.verb == Verb::kDetach) {
      model.erase(key);
    } else if (request.verb == Verb::kDestroy) {
      std::erase_if(model,
                    [&](const auto& entry) { return entry.first.first == request.key.session_id; });
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Harness harness;
  std::size_t offset = 0;
  for (int record = 0; record < 256 && offset + 3 <= size; ++record) {
    const std::uint8_t op = data[offset];
    const std::size_t length = std::min<std::size_t>(
        data[offset + 1] | (std::size_t{data[offset + 2]} << 8), size - offset - 3);
    const std::string_view bytes(reinterpret_cast<const char*>(data + offset + 3), length);
    offset += 3 + length;
    switch (op % 4) {
      case 0:
        harness.piece(bytes);
        break;
      case 1:
        harness.http(bytes);
        break;
      case 2:
        harness.event(bytes);
        break;
      default:
        harness.answer(bytes);
        break;
    }
  }
  return 0;
}
