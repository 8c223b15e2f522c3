// janus.transport.prometheus's HTTP handling, the pure part: the input is one raw HTTP
// request, e.g.
//   GET /metrics HTTP/1.1\r\nAuthorization: Bearer s3cret\r\n\r\n
// from which a minimal parser of this harness takes the method, the path (query stripped)
// and the Authorization header, as libmicrohttpd would hand them to on_request, and gives
// them to HttpServer::handle: auth, routing, method check, readiness, and a real scrape of a
// small registry. The answer must follow the documented rules (401 exactly when
// Authenticator::allows says no, with both challenges; 404 for other paths; 405 with Allow;
// 200/503 by readiness; the metrics content type), the secret must be in any header let in,
// and constant_time_equals is checked against its contract.
// transport_mhd sends the same inputs through a running server (libmicrohttpd).
#include <strings.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "../transport_shared/auth.h"
#include "transport_rig.h"

namespace {

using namespace jmedia::transport;
using jmedia::fuzz::kBasic;
using jmedia::fuzz::kToken;
using jmedia::fuzz::Rig;

Rig* rig = nullptr;

struct ParsedRequest {
  std::string method;
  std::string path;
  std::optional<std::string> authorization;
};

// Just enough HTTP/1.x for the pure path: the request line and an Authorization header.
ParsedRequest parse_request(std::string_view input) {
  ParsedRequest request;
  const std::size_t line_end = input.find("\r\n");
  std::string_view line = input.substr(0, line_end);
  const std::size_t space = line.find(' ');
  request.method = std::string(line.substr(0, space));
  if (space != std::string_view::npos) {
    std::string_view target = line.substr(space + 1);
    target = target.substr(0, target.find(' '));
    request.path = std::string(target.substr(0, target.find('?')));
  }
  std::string_view headers =
      line_end == std::string_view::npos ? std::string_view() : input.substr(line_end + 2);
  while (!headers.empty()) {
    const std::size_t end = headers.find("\r\n");
    std::string_view header = headers.substr(0, end);
    if (header.empty()) break;
    const std::size_t colon = header.find(':');
    if (colon == 13 && strncasecmp(header.data(), "authorization", 13) == 0) {
      std::string_view value = header.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
      }
      request.authorization = std::string(value);
    }
    if (end == std::string_view::npos) break;
    headers.remove_prefix(end + 2);
  }
  // C strings: the server sees nothing past a NUL.
  if (request.authorization) request.authorization = request.authorization->c_str();
  return request;
}

void check_auth_contracts(std::string_view input) {
  // constant_time_equals is equality, for every split of the input.
  const std::size_t half = input.size() / 2;
  const std::string_view a = input.substr(0, half), b = input.substr(half);
  if (!a.empty()) FUZZ_CHECK(constant_time_equals(a, b) == (a == b), "constant_time_equals(a, b)");
  if (!a.empty()) FUZZ_CHECK(constant_time_equals(a, a), "constant_time_equals(a, a)");
}

void check_pure_path(const ParsedRequest& request) {
  const char* authorization = request.authorization ? request.authorization->c_str() : nullptr;
  const Response response = rig->server.handle({request.method, request.path, authorization});
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
  check_auth_contracts(input);
  check_pure_path(parse_request(input));
  return 0;
}
