#include "media_api.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <strings.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <span>
#include <variant>

#include "../common/json.h"
#include "media_view.h"
#include "query.h"

namespace jmedia::transport {
namespace {

namespace codes = runtime::media_errors;

constexpr std::string_view kPrefix = "/api/media/";
constexpr const char* kRealm = "Bearer realm=\"janus media api\"";
constexpr const char* kJson = "application/json";

struct Route {
  ApiRoute route = ApiRoute::kUnknown;
  std::string_view id;  // the {media_session} or {device_id} segment, as sent
};

Route parse_route(std::string_view path) {
  if (path.substr(0, kPrefix.size()) != kPrefix) return {};
  const std::string_view rest = path.substr(kPrefix.size());
  if (rest == "sessions") return {ApiRoute::kSessions, {}};
  if (rest == "devices") return {ApiRoute::kDevices, {}};
  if (rest == "drain") return {ApiRoute::kDrain, {}};
  for (const auto& [collection, route] :
       {std::pair{std::string_view("sessions/"), ApiRoute::kSession},
        std::pair{std::string_view("devices/"), ApiRoute::kDevice}}) {
    if (rest.substr(0, collection.size()) != collection) continue;
    const std::string_view id = rest.substr(collection.size());
    if (id.empty() || id.find('/') != std::string_view::npos) return {};
    return {route, id};
  }
  return {};
}

std::string allow_header(ApiRoute route) {
  std::string allow;
  for (std::size_t m = 0; m < kApiMethodNames.size(); ++m) {
    if (!api_route_allows(route, static_cast<ApiMethod>(m))) continue;
    if (!allow.empty()) allow += ", ";
    allow += kApiMethodNames[m];
  }
  return allow;
}

Response json_response(unsigned status, const json_t* body) {
  Response response;
  response.status = status;
  response.content_type = kJson;
  response.body = dump(body);
  return response;
}

// {"error": message}: the API's own answers (no plugin code applies). message is ours (ASCII).
Response error_response(unsigned status, const std::string& message) {
  JsonPtr body = adopt(json_object());
  set(body.get(), "error", std::string_view(message));
  return json_response(status, body.get());
}

// {"media":"event","error_code":N,"error":message}: the plugin's error shape, for what the API
// refuses before the plugin sees it (400 only).
Response plugin_error(int code, const std::string& message) {
  JsonPtr body = adopt(json_object());
  set(body.get(), "media", "event");
  set(body.get(), "error_code", code);
  set(body.get(), "error", std::string_view(message));
  return json_response(400, body.get());
}

// A parameter name fit to be quoted in an error: client text, so only a short plain one.
std::string shown(std::string_view name) {
  const bool plain = !name.empty() && name.size() <= 32 && std::ranges::all_of(name, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
  return plain ? "'" + std::string(name) + "'" : std::string("(not shown)");
}

// A decimal integer as JSON would write it (what the plugin's integer fields take): digits
// after an optional '-', no leading zero, at most 18 digits (fits in json_int_t).
bool is_integer_text(std::string_view text) {
  if (!text.empty() && text.front() == '-') text.remove_prefix(1);
  if (text.empty() || text.size() > 18) return false;
  if (text.size() > 1 && text.front() == '0') return false;
  return std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; });
}

struct QueryField {
  const char* name;
  enum class Type { kString, kInteger, kBoolean } type;
};
using Type = QueryField::Type;
constexpr std::array<QueryField, 5> kListFields = {{{"device_id", Type::kString},
                                                    {"role", Type::kString},
                                                    {"limit", Type::kInteger},
                                                    {"cursor", Type::kString},
                                                    {"detail", Type::kBoolean}}};
constexpr std::array<QueryField, 3> kDevicesFields = {
    {{"limit", Type::kInteger}, {"cursor", Type::kString}, {"scope", Type::kString}}};

// Adds the query's parameters to request as the plugin's fields, typed so that the plugin's
// validation decides (a limit that is not an integer stays a string: "must be an integer").
// Returns the 400 for what the plugin cannot see: unknown, repeated or undecodable parameters.
std::optional<Response> add_query(json_t* request, std::string_view query,
                                  std::span<const QueryField> fields) {
  auto params = parse_query(query);
  if (!params) {
    return plugin_error(codes::kInvalidField, "bad percent-encoding in the query string");
  }
  for (const auto& param : *params) {
    const auto field =
        std::ranges::find_if(fields, [&](const QueryField& f) { return param.name == f.name; });
    if (field == fields.end()) {
      std::string expected;
      for (const auto& f : fields) expected += (expected.empty() ? "" : ", ") + std::string(f.name);
      return plugin_error(
          codes::kInvalidField,
          "unknown parameter " + shown(param.name) +
              (expected.empty() ? " (this route takes none)" : " (expected " + expected + ")"));
    }
    if (json_object_get(request, field->name) != nullptr) {
      return plugin_error(codes::kInvalidField,
                          std::string("parameter '") + field->name + "' is given twice");
    }
    JsonPtr value;
    if (field->type == Type::kInteger && is_integer_text(param.value)) {
      value = adopt(json_integer(std::stoll(param.value)));
    } else if (field->type == Type::kBoolean && (param.value == "true" || param.value == "false")) {
      value = adopt(json_boolean(param.value == "true"));
    } else {
      value = adopt(json_stringn(param.value.data(), param.value.size()));
      if (!value) {
        return plugin_error(codes::kInvalidField,
                            std::string("'") + field->name + "' is not valid UTF-8");
      }
    }
    set(request, field->name, std::move(value));
  }
  return std::nullopt;
}

// The id of /sessions/{id} or /devices/{id}, percent-decoded, as a JSON string.
std::variant<JsonPtr, Response> path_id(std::string_view id, const char* what) {
  auto decoded = percent_decode(id, false);
  if (!decoded) {
    return plugin_error(codes::kInvalidField,
                        std::string("bad percent-encoding in the ") + what + " of the path");
  }
  JsonPtr value = adopt(json_stringn(decoded->data(), decoded->size()));
  if (!value) {
    return plugin_error(codes::kInvalidField,
                        std::string("the ") + what + " in the path is not valid UTF-8");
  }
  return value;
}

// Whether the Content-Type is application/json (parameters, e.g. a charset, allowed).
bool is_json_type(const char* content_type) {
  if (content_type == nullptr) return false;
  std::string_view type(content_type);
  type = type.substr(0, type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  return type.size() == 16 && strncasecmp(type.data(), "application/json", 16) == 0;
}

// drain's body, {"enabled":bool}, into request; the 400 for anything else than an object with
// only that member (the plugin checks the member).
std::optional<Response> add_drain_body(json_t* request, std::string_view body) {
  json_error_t error;
  JsonPtr parsed = adopt(json_loadb(body.data(), body.size(), JSON_REJECT_DUPLICATES, &error));
  if (!parsed || !json_is_object(parsed.get())) {
    return plugin_error(codes::kInvalidBody,
                        "the body must be a JSON object: {\"enabled\": true} or "
                        "{\"enabled\": false}");
  }
  const char* key = nullptr;
  json_t* value = nullptr;
  json_object_foreach(parsed.get(), key, value) {
    if (std::string_view(key) != "enabled") {
      return plugin_error(codes::kInvalidField,
                          "unknown member " + shown(key) + " (expected enabled)");
    }
    set(request, "enabled", retain(value));
  }
  return std::nullopt;
}

unsigned status_for(const json_t* reply) {
  const auto code = integer_member(reply, "error_code");
  if (!code) return 200;
  switch (*code) {
    case codes::kSessionNotFound:
    case codes::kNoSuchDevice:
      return 404;
    case codes::kShuttingDown:
    case codes::kClusterUnavailable:  // the cluster directory cannot be reached: retry later
      return 503;
    case codes::kInternal:
      return 500;
    default:
      // Every other code the plugin answers these requests with is about the request itself.
      return *code >= codes::kInvalidBody && *code < codes::kInternal ? 400 : 500;
  }
}

std::string_view strip_port(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const std::size_t close = host.find(']');
    return close == std::string_view::npos ? std::string_view() : host.substr(0, close + 1);
  }
  const std::size_t colon = host.find(':');
  return host.substr(0, colon);
}

}  // namespace

bool host_is_address(std::string_view host) noexcept {
  const std::string_view name = strip_port(host);
  if (name.empty() || name.size() > 64) return false;
  if (name.size() == 9 && strncasecmp(name.data(), "localhost", 9) == 0) return true;
  char text[65];
  unsigned char address[sizeof(in6_addr)];
  if (name.front() == '[') {
    const std::string_view inner = name.substr(1, name.size() - 2);
    inner.copy(text, inner.size());
    text[inner.size()] = '\0';
    return inet_pton(AF_INET6, text, address) == 1;
  }
  name.copy(text, name.size());
  text[name.size()] = '\0';
  return inet_pton(AF_INET, text, address) == 1;
}

struct MediaApi::Access {
  unsigned status;  // 0: let in; else 401 or 403
  std::string reason;
};

MediaApi::MediaApi(const MediaApiOptions& options, ApiMetrics& metrics)
    : metrics_auth_(options.metrics_auth),
      read_token_(AuthConfig{.bearer_token = options.api_token}),
      admin_token_(AuthConfig{.bearer_token = options.api_admin_token}),
      metrics_(metrics) {}

bool MediaApi::owns(std::string_view path) const {
  return path == "/api" || path.substr(0, 5) == "/api/";
}

bool MediaApi::takes_body(std::string_view method, std::string_view path) const {
  return method == "POST" && parse_route(path).route == ApiRoute::kDrain;
}

MediaApi::Access MediaApi::decide(bool write, const Request& request, bool token_mode) const {
  const char* authorization = request.authorization;
  auto presented = [&](const Authenticator& auth) {
    return auth.required() && authorization != nullptr && auth.allows(authorization);
  };
  const bool admin = presented(admin_token_);
  if (write) {
    if (admin) return {0, ""};
    if (admin_token_.required()) {
      const bool reader = presented(read_token_) || presented(metrics_auth_);
      return reader ? Access{403, "this needs api_admin_token (a read credential was given)"}
                    : Access{401, "this needs the bearer token api_admin_token"};
    }
  } else {
    if (admin || presented(read_token_) || presented(metrics_auth_)) return {0, ""};
    if (read_token_.required() || metrics_auth_.required()) {
      return {401, "this needs the metrics credentials or the bearer token api_token"};
    }
  }
  // No credential of this kind is configured.
  const char* token = write ? "api_admin_token" : "api_token";
  if (token_mode) {
    return {403, std::string("janus.plugin.media runs in token access mode: the REST API is for "
                             "operators with a token (configure ") +
                     token + ")"};
  }
  if (!request.peer_loopback) {
    return {403, std::string("only loopback clients are served without a token (configure ") +
                     token + ")"};
  }
  if (request.host != nullptr && !host_is_address(request.host)) {
    return {403,
            "without a token the Host header must be an IP address or localhost (a rebound "
            "DNS name is refused)"};
  }
  return {0, ""};
}

Response MediaApi::handle(const Request& request) {
  const auto started = std::chrono::steady_clock::now();
  const Route route = parse_route(request.path);
  const ApiMethod method = api_method(request.method);
  auto done = [&](Response response) {
    metrics_.count(
        route.route, method, response.status,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return response;
  };

  if (route.route == ApiRoute::kUnknown) {
    return done(error_response(404,
                               "no such path: the API is /api/media/sessions, "
                               "/api/media/sessions/{media_session}, /api/media/devices, "
                               "/api/media/devices/{device_id}, /api/media/drain"));
  }
  if (!api_route_allows(route.route, method)) {
    const std::string allow = allow_header(route.route);
    Response response = error_response(405, "method not allowed here; allowed: " + allow);
    response.headers.emplace_back(MHD_HTTP_HEADER_ALLOW, allow);
    return done(std::move(response));
  }

  const bool write = method == ApiMethod::kPost || method == ApiMethod::kDelete;
  runtime::MediaViewLease view = runtime::media_view();
  const Access access = decide(write, request, view && view->token_access());
  if (access.status != 0) {
    Response response = error_response(access.status, access.reason);
    if (access.status == 401) {
      if (!write) {
        for (const auto& challenge : metrics_auth_.challenges()) {
          response.headers.emplace_back(MHD_HTTP_HEADER_WWW_AUTHENTICATE, challenge);
        }
      }
      if (write || read_token_.required() || admin_token_.required()) {
        response.headers.emplace_back(MHD_HTTP_HEADER_WWW_AUTHENTICATE, kRealm);
      }
    }
    return done(std::move(response));
  }
  if (!view) return done(error_response(503, "janus.plugin.media is not running in this Janus"));

  JsonPtr plugin_request = adopt(json_object());
  json_t* r = plugin_request.get();
  std::optional<Response> refused;
  switch (route.route) {
    case ApiRoute::kSessions:
      set(r, "request", "list");
      refused = add_query(r, request.query, kListFields);
      break;
    case ApiRoute::kDevices:
      set(r, "request", "devices");
      refused = add_query(r, request.query, kDevicesFields);
      break;
    case ApiRoute::kSession:
    case ApiRoute::kDevice: {
      const bool session = route.route == ApiRoute::kSession;
      set(r, "request", method == ApiMethod::kDelete ? "kick" : "info");
      refused = add_query(r, request.query, {});
      if (refused) break;
      auto id = path_id(route.id, session ? "media_session" : "device_id");
      if (auto* error = std::get_if<Response>(&id)) {
        refused = std::move(*error);
        break;
      }
      set(r, session ? "media_session" : "device_id", std::move(std::get<JsonPtr>(id)));
      if (method == ApiMethod::kDelete) set(r, "reason", "operator");
      break;
    }
    case ApiRoute::kDrain:
      if (request.body_too_large) {
        return done(error_response(413, "the body is larger than drain's {\"enabled\":bool}"));
      }
      if (!is_json_type(request.content_type)) {
        return done(error_response(415, "the body must be sent as Content-Type: application/json"));
      }
      set(r, "request", "drain");
      refused = add_query(r, request.query, {});
      if (!refused) refused = add_drain_body(r, request.body);
      break;
    case ApiRoute::kUnknown:
      break;
  }
  if (refused) return done(std::move(*refused));

  JsonPtr reply = write ? view->command(r) : view->read(r);
  if (!reply) return done(error_response(503, "janus.plugin.media is stopping"));
  return done(json_response(status_for(reply.get()), reply.get()));
}

std::string MediaApi::describe_access() const {
  std::string reads;
  if (read_token_.required() || metrics_auth_.required()) {
    reads = std::string("reads need ") +
            (read_token_.required() && metrics_auth_.required() ? "api_token or the metrics "
                                                                  "credentials"
             : read_token_.required()                           ? "api_token"
                                                                : "the metrics credentials") +
            (admin_token_.required() ? " (or api_admin_token)" : "");
  } else {
    reads = "reads are served to loopback clients only (no api_token configured)";
  }
  const std::string writes = admin_token_.required()
                                 ? "writes need api_admin_token"
                                 : "writes are served to loopback clients only (no "
                                   "api_admin_token configured)";
  return reads + "; " + writes;
}

}  // namespace jmedia::transport
