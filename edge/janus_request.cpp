#include "janus_request.h"

namespace jmedia::edge {
namespace {

constexpr std::size_t kDumpFlags = JSON_COMPACT | JSON_PRESERVE_ORDER;
// Most answers and events (not JSEPs) fit.
constexpr std::size_t kTypicalMessageBytes = 496;

// A trickle entry that only says gathering is over: {"completed": true}.
bool is_completed_marker(const json_t* candidate) {
  return json_is_object(candidate) && json_is_true(json_object_get(candidate, "completed"));
}

std::uint64_t id_member(const json_t* object, const char* key) {
  const json_t* value = json_object_get(object, key);
  return json_is_integer(value) && json_integer_value(value) > 0
             ? static_cast<std::uint64_t>(json_integer_value(value))
             : 0;
}

std::uint32_t saturating_add(std::uint32_t a, std::size_t b) {
  const std::uint64_t sum = std::uint64_t{a} + b;
  return sum > UINT32_MAX ? UINT32_MAX : static_cast<std::uint32_t>(sum);
}

}  // namespace

Verb verb_of(std::string_view janus) {
  for (std::size_t i = 0; i + 1 < kVerbs; ++i) {
    if (janus == kVerbNames[i]) return static_cast<Verb>(i);
  }
  return Verb::kOther;
}

std::uint32_t count_sdp_candidates(std::string_view sdp) {
  constexpr std::string_view kLine = "a=candidate:";
  std::uint32_t count = 0;
  std::size_t line = 0;
  while (line < sdp.size()) {
    if (sdp.compare(line, kLine.size(), kLine) == 0 && count < UINT32_MAX) ++count;
    const std::size_t end = sdp.find('\n', line);
    if (end == std::string_view::npos) break;
    line = end + 1;
  }
  return count;
}

std::uint32_t count_trickle_candidates(const json_t* request) {
  std::uint32_t count = 0;
  const json_t* candidate = json_object_get(request, "candidate");
  if (candidate != nullptr && !json_is_null(candidate) && !is_completed_marker(candidate)) {
    count = 1;
  }
  const json_t* candidates = json_object_get(request, "candidates");
  if (json_is_array(candidates)) {
    std::size_t index = 0;
    const json_t* entry = nullptr;
    std::size_t entries = 0;
    json_array_foreach(candidates, index, entry) {
      if (!is_completed_marker(entry)) ++entries;
    }
    count = saturating_add(count, entries);
  }
  return count;
}

void inspect(ClientRequest& request) {
  const json_t* json = request.json.get();
  const std::optional<std::string_view> janus = string_member(json, "janus");
  request.verb = janus ? verb_of(*janus) : Verb::kOther;
  const std::optional<std::string_view> transaction = string_member(json, "transaction");
  request.transaction = transaction ? std::string(*transaction) : std::string();
  request.session_id = id_member(json, "session_id");
  request.handle_id = id_member(json, "handle_id");
  request.candidates = 0;
  request.plugin.clear();
  request.jsep = false;
  switch (request.verb) {
    case Verb::kTrickle:
      request.candidates = count_trickle_candidates(json);
      break;
    case Verb::kMessage:
      request.jsep = json_is_object(member(json, "jsep"));
      if (const std::optional<std::string_view> sdp = string_member(member(json, "jsep"), "sdp")) {
        request.candidates = count_sdp_candidates(*sdp);
      }
      break;
    case Verb::kAttach:
      if (const std::optional<std::string_view> plugin = string_member(json, "plugin")) {
        request.plugin = std::string(*plugin);
      }
      break;
    default:
      break;
  }
}

std::variant<ClientRequest, RequestError> parse_request(std::string_view text) {
  json_error_t error{};
  // No JSON_DISABLE_EOF_CHECK: a second document (or anything but white space) after the first
  // makes the whole message an error, never several requests.
  JsonPtr json = adopt(json_loadb(text.data(), text.size(), JSON_DECODE_ANY, &error));
  if (json == nullptr) {
    return RequestError{kErrorInvalidJson,
                        "JSON error: on line " + std::to_string(error.line) + ": " + error.text};
  }
  if (!json_is_object(json.get())) {
    return RequestError{kErrorInvalidJsonObject, "JSON error: not an object"};
  }
  ClientRequest request;
  request.json = std::move(json);
  inspect(request);
  return request;
}

std::optional<std::uint64_t> parse_id(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  if (value == 0) return std::nullopt;
  return value;
}

std::variant<ApiPath, RequestError> parse_api_path(std::string_view base, std::string_view url) {
  const RequestError no_such_path{kErrorInvalidPath, "no such path: " + std::string(url)};
  if (url.substr(0, base.size()) != base || (url.size() > base.size() && url[base.size()] != '/')) {
    return no_such_path;
  }
  std::string_view parts[2];
  std::size_t count = 0;
  std::string_view rest = url.substr(base.size());
  while (!rest.empty()) {
    rest.remove_prefix(1);  // '/'
    const std::size_t slash = rest.find('/');
    const std::string_view part = rest.substr(0, slash);
    if (!part.empty()) {
      if (count == 2) return no_such_path;
      parts[count++] = part;
    }
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash);
  }
  ApiPath path;
  if (count == 1 && parts[0] == "info") {
    path.info = true;
    return path;
  }
  if (count >= 1) {
    path.session_id = parse_id(parts[0]);
    if (!path.session_id) {
      return RequestError{kErrorSessionNotFound, "invalid session '" + std::string(parts[0]) + "'"};
    }
  }
  if (count == 2) {
    path.handle_id = parse_id(parts[1]);
    if (!path.handle_id) {
      return RequestError{kErrorInvalidPath, "invalid handle '" + std::string(parts[1]) + "'"};
    }
  }
  return path;
}

std::string error_reply(int code, std::string_view reason, std::string_view transaction,
                        std::uint64_t session_id) {
  JsonPtr reply = adopt(json_object());
  set_unchecked(reply.get(), "janus", "error");
  if (session_id != 0) set_unchecked(reply.get(), "session_id", session_id);
  if (!transaction.empty()) set(reply.get(), "transaction", transaction);
  JsonPtr body = adopt(json_object());
  set_unchecked(body.get(), "code", static_cast<std::int64_t>(code));
  set(body.get(), "reason", reason);
  set_unchecked(reply.get(), "error", std::move(body));
  return serialize(reply.get());
}

std::string serialize(const json_t* message, std::size_t headroom) {
  // One pass straight into the string (json_dumps would need jansson's free function), whose
  // first allocation holds most messages whole.
  std::string text;
  text.reserve(headroom + kTypicalMessageBytes);
  text.assign(headroom, ' ');
  const auto append = [](const char* buffer, std::size_t size, void* data) noexcept -> int {
    try {
      static_cast<std::string*>(data)->append(buffer, size);
      return 0;
    } catch (...) {
      return -1;  // never unwind through jansson
    }
  };
  if (json_dump_callback(message, append, &text, kDumpFlags) != 0) {
    return std::string(headroom, ' ') + "{}";
  }
  return text;
}

}  // namespace jmedia::edge
