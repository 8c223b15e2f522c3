// janus.transport.prometheus's HTTP handling, the pure part: the input is one raw HTTP
// request, e.g.
//   GET /metrics HTTP/1.1\r\nAuthorization: Bearer s3cret\r\n\r\n
// from which a minimal parser of this harness takes the method, the path and query, the
// Authorization, Host and Content-Type headers and the body, as libmicrohttpd would hand them
// to on_request, and gives them to HttpServer::handle: auth, routing, method check, readiness,
// a real scrape of a small registry, and the session REST API under /api/ (its view checks
// every request object it gets). The answer must follow the documented rules (401 exactly
// when Authenticator::allows says no, with both challenges; 404 for other paths; 405 with
// Allow; 200/503 by readiness; the metrics content type; for /api/: JSON answers with the
// API's codes, nothing reaches the plugin without the credential its method needs, or, on an
// API without tokens, without being a loopback client naming the host by address outside
// token mode), the secret must be in any header let in, and constant_time_equals is checked
// against its contract; jmedia::dump must write what jansson writes for any JSON body. The
// input's length picks readiness, whether the client is loopback and the plugin's token mode.
// transport_mhd sends the same inputs through a running server (libmicrohttpd).
#include <strings.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "../transport/media_api.h"
#include "../transport_shared/auth.h"
#include "transport_rig.h"

namespace {

using namespace jmedia::transport;
using jmedia::constant_time_equals;
using jmedia::JsonPtr;
using jmedia::fuzz::kAdminToken;
using jmedia::fuzz::kBasic;
using jmedia::fuzz::kReadToken;
using jmedia::fuzz::kToken;
using jmedia::fuzz::Rig;

Rig* rig = nullptr;

struct ParsedRequest {
  std::string method;
  std::string path;
  std::string query;
  std::optional<std::string> authorization;
  std::optional<std::string> host;
  std::optional<std::string> content_type;
  std::string body;
};

// Just enough HTTP/1.x for the pure path: the request line, three headers and what follows
// the blank line as the body.
ParsedRequest parse_request(std::string_view input) {
  ParsedRequest request;
  const std::size_t line_end = input.find("\r\n");
  std::string_view line = input.substr(0, line_end);
  const std::size_t space = line.find(' ');
  request.method = std::string(line.substr(0, space));
  if (space != std::string_view::npos) {
    std::string_view target = line.substr(space + 1);
    target = target.substr(0, target.find(' '));
    const std::size_t mark = target.find('?');
    request.path = std::string(target.substr(0, mark));
    if (mark != std::string_view::npos) request.query = std::string(target.substr(mark + 1));
  }
  std::string_view headers =
      line_end == std::string_view::npos ? std::string_view() : input.substr(line_end + 2);
  auto value_of = [](std::string_view header, std::size_t colon) {
    std::string_view value = header.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    return std::string(value);
  };
  while (!headers.empty()) {
    const std::size_t end = headers.find("\r\n");
    std::string_view header = headers.substr(0, end);
    if (header.empty()) {
      request.body = std::string(headers.substr(std::min<std::size_t>(2, headers.size())));
      break;
    }
    const std::size_t colon = header.find(':');
    if (colon == 13 && strncasecmp(header.data(), "authorization", 13) == 0) {
      request.authorization = value_of(header, colon);
    } else if (colon == 4 && strncasecmp(header.data(), "host", 4) == 0) {
      request.host = value_of(header, colon);
    } else if (colon == 12 && strncasecmp(header.data(), "content-type", 12) == 0) {
      request.content_type = value_of(header, colon);
    }
    if (end == std::string_view::npos) break;
    headers.remove_prefix(end + 2);
  }
  // C strings: the server sees nothing past a NUL.
  for (auto* header : {&request.authorization, &request.host, &request.content_type}) {
    if (*header) **header = (*header)->c_str();
  }
  return request;
}

const char* c_str(const std::optional<std::string>& text) {
  return text ? text->c_str() : nullptr;
}

Request as_request(const ParsedRequest& parsed, bool loopback) {
  Request request{parsed.method, parsed.path, c_str(parsed.authorization)};
  request.query = parsed.query;
  request.body = parsed.body;
  request.body_too_large = parsed.body.size() > rig->server.options().max_body_bytes;
  request.peer_loopback = loopback;
  request.host = c_str(parsed.host);
  request.content_type = c_str(parsed.content_type);
  return request;
}

// An API answer: JSON with one of the API's codes, Allow on a 405, a challenge on a 401.
void check_api_answer(const Response& response) {
  bool known = false;
  for (unsigned code : kApiCodes) known |= code == response.status;
  FUZZ_CHECK(known, "API status %u", response.status);
  FUZZ_CHECK(response.content_type == "application/json", "API answer of type '%s'",
             response.content_type.c_str());
  JsonPtr body = jmedia::fuzz::parse_json(response.body);
  FUZZ_CHECK(json_is_object(body.get()), "API body not a JSON object: %.80s",
             response.body.c_str());
  std::size_t allow = 0, challenges = 0;
  for (const auto& [name, value] : response.headers) {
    allow += name == "Allow";
    challenges += name == "WWW-Authenticate";
  }
  FUZZ_CHECK((response.status == 405) == (allow == 1), "%u with %zu Allow", response.status, allow);
  FUZZ_CHECK((response.status == 401) == (challenges > 0), "%u with %zu challenges",
             response.status, challenges);
}

bool is_write(std::string_view method) {
  return method == "POST" || method == "DELETE";
}

// The rig's API (tokens configured): nothing reaches the view without the right credential.
void check_api(const ParsedRequest& parsed, bool loopback) {
  const int reads = rig->view.reads.load(), commands = rig->view.commands.load();
  const Response response = rig->server.handle(as_request(parsed, loopback));
  check_api_answer(response);
  const bool reached = rig->view.reads.load() != reads || rig->view.commands.load() != commands;
  const std::string auth = parsed.authorization.value_or("");
  if (reached) {
    FUZZ_CHECK(response.status == 200 || response.status == 400 || response.status == 404,
               "the view was called, then %u", response.status);
    if (is_write(parsed.method)) {
      FUZZ_CHECK(auth.find(kAdminToken) != std::string::npos, "a write let in with '%s'",
                 auth.c_str());
      FUZZ_CHECK(rig->view.reads.load() == reads, "a write reached read()");
    } else {
      FUZZ_CHECK(auth.find(kToken) != std::string::npos || auth.find(kBasic) != std::string::npos ||
                     auth.find(kReadToken) != std::string::npos ||
                     auth.find(kAdminToken) != std::string::npos,
                 "a read let in with '%s'", auth.c_str());
      FUZZ_CHECK(rig->view.commands.load() == commands, "a read reached command()");
    }
  }
  if (auth == std::string("Bearer ") + std::string(kAdminToken) &&
      (parsed.method == "DELETE" || parsed.method == "GET") &&
      parsed.path.rfind("/api/media/sessions/", 0) == 0 && parsed.path.size() > 20 &&
      parsed.path.find('/', 20) == std::string::npos && parsed.query.empty() &&
      std::all_of(parsed.path.begin(), parsed.path.end(),
                  [](char c) { return c > 0x20 && c < 0x7f && c != '%'; })) {
    FUZZ_CHECK(reached, "the admin token on a plain session path was refused: %u", response.status);
  }
}

// An API with no token configured: only a loopback client naming the host by address, outside
// token mode, reaches the view.
void check_open_api(const ParsedRequest& parsed, bool loopback) {
  static ApiMetrics metrics;
  static MediaApi open(MediaApiOptions{}, metrics);
  const int reads = rig->view.reads.load(), commands = rig->view.commands.load();
  const Response response = open.handle(as_request(parsed, loopback));
  check_api_answer(response);
  const bool reached = rig->view.reads.load() != reads || rig->view.commands.load() != commands;
  if (reached) {
    FUZZ_CHECK(loopback && !rig->view.token_mode.load(), "let in: loopback %d, token mode %d",
               loopback, rig->view.token_mode.load());
    FUZZ_CHECK(!parsed.host || host_is_address(*parsed.host), "let in with Host '%s'",
               parsed.host->c_str());
  }
  FUZZ_CHECK(response.status != 401, "401 without a configured token");
}

// jmedia::dump (which serialises every REST answer) writes what jansson writes, for whatever
// JSON the input's body holds.
void check_dump(const ParsedRequest& request) {
  JsonPtr value = jmedia::fuzz::parse_json(request.body, JSON_ALLOW_NUL);
  if (!value) return;
  char* text = json_dumps(value.get(), JSON_COMPACT | JSON_ENCODE_ANY);
  if (text == nullptr) return;
  const std::string expected(text);
  std::free(text);
  FUZZ_CHECK(jmedia::dump(value.get()) == expected, "dump differs from jansson for %.80s",
             expected.c_str());
}

void check_auth_contracts(std::string_view input) {
  // constant_time_equals is equality, for every split of the input.
  const std::size_t half = input.size() / 2;
  const std::string_view a = input.substr(0, half), b = input.substr(half);
  if (!a.empty()) FUZZ_CHECK(constant_time_equals(a, b) == (a == b), "constant_time_equals(a, b)");
  if (!a.empty()) FUZZ_CHECK(constant_time_equals(a, a), "constant_time_equals(a, a)");
}

void check_pure_path(const ParsedRequest& request, bool loopback) {
  if (rig->api.owns(request.path)) {
    check_api(request, loopback);
    check_open_api(request, loopback);
    return;
  }
  const char* authorization = request.authorization ? request.authorization->c_str() : nullptr;
  const Response response = rig->server.handle(as_request(request, loopback));
  bool known_status = false;
  for (unsigned code : TransportMetrics::kCodes) known_status |= code == response.status;
  FUZZ_CHECK(known_status, "status %u", response.status);

  const std::string_view auth = authorization ? authorization : "";
  const bool allowed = Authenticator({std::string(kToken), "fuzz", "pa:ss"}).allows(authorization);
  FUZZ_CHECK((response.status == 401) == !allowed, "status %u but allows() says %d",
             response.status, allowed);
  if (allowed) {
    FUZZ_CHECK(
        auth.find(kToken) != std::string_view::npos || auth.find(kBasic) != std::string_view::npos,
        "'%s' was let in without the secret", std::string(auth).c_str());
  }
  if (auth == "Bearer s3cret" || auth == "Basic ZnV6ejpwYTpzcw==") {
    FUZZ_CHECK(allowed, "the right credentials were refused");
  }
  std::size_t challenges = 0, allow = 0;
  for (const auto& [name, value] : response.headers) {
    challenges += name == "WWW-Authenticate";
    allow += name == "Allow";
  }
  if (response.status == 401) {
    FUZZ_CHECK(challenges == 2, "401 with %zu challenges", challenges);
    return;
  }
  const bool known_path =
      request.path == "/metrics" || request.path == "/healthz" || request.path == "/readyz";
  FUZZ_CHECK((response.status == 404) == !known_path, "%u for path '%s'", response.status,
             request.path.c_str());
  if (!known_path) return;
  const bool get = request.method == "GET" || request.method == "HEAD";
  FUZZ_CHECK((response.status == 405) == !get, "%u for method '%s'", response.status,
             request.method.c_str());
  if (response.status == 405) {
    FUZZ_CHECK(allow == 1, "405 without Allow");
    return;
  }
  if (request.path == "/metrics") {
    FUZZ_CHECK(response.status == 200 && response.content_type == kMetricsContentType &&
                   response.body.find("fuzz_requests_total{code=\"200\"} 3") != std::string::npos,
               "a bad scrape: %u", response.status);
  } else if (request.path == "/readyz") {
    FUZZ_CHECK(response.status == (rig->host.ready.load() ? 200u : 503u), "readyz %u",
               response.status);
  } else {
    FUZZ_CHECK(response.status == 200 && response.body == "ok\n", "healthz %u", response.status);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  jmedia::fuzz::quiet_logs();
  rig = new Rig();  // never started: handle() is the pure request -> response path
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  rig->host.ready = size % 3 != 0;
  rig->view.token_mode = size % 5 == 0;
  check_auth_contracts(input);
  const ParsedRequest request = parse_request(input);
  check_dump(request);
  check_pure_path(request, size % 2 == 0);
  return 0;
}
