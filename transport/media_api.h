// The session REST API on the metrics listener, answered from janus.plugin.media's published
// view (runtime/media_view.h) on the server's threads, never through the Janus core:
//
//   GET    /api/media/sessions?device_id=&role=&limit=&cursor=&detail=   the plugin's list
//   GET    /api/media/sessions/{media_session}                           info
//   GET    /api/media/devices?limit=&cursor=                             devices
//   DELETE /api/media/sessions/{media_session}                           admin kick (operator)
//   DELETE /api/media/devices/{device_id}                                admin kick (operator)
//   POST   /api/media/drain   {"enabled":bool}   (Content-Type: application/json)   admin drain
//
// Each request becomes the plugin's own request object (query parameters typed as the plugin
// reads them: limit an integer, detail a boolean when they look like one, the rest strings) and
// goes through the plugin's parser, validation and JSON builders: the answers, paging and error
// codes are the admin API's. The reply is serialised once, here.
//
// Answers: JSON, 200 with the plugin's object; 400 for bad parameters (the plugin's error
// object, or ours with the same codes: 1004 for an unknown, repeated or badly encoded
// parameter, 1001 for a body that is not a JSON object); 404 for an unknown path ({"error"})
// or an unknown session or device (the plugin's 1018 / 1015); 405 with Allow; 401 with
// WWW-Authenticate, 403; 413 and 415 for drain's body; 503 while janus.plugin.media is not
// running in this process; 500 for a bug.
//
// Order of the checks: path (404), method (405), access (401/403), the plugin (503), the body
// (413, 415), the parameters (400).
//
// Access (constant-time comparisons, auth.h): a read (GET, HEAD) is let in with the metrics
// credentials, api_token or api_admin_token; a write (DELETE, POST) with api_admin_token only.
// When no credential of the kind is configured, a request without one is served only to a
// loopback client (is_loopback: 127.0.0.0/8, ::1), whose Host header, when it sends one, names
// an IP address or localhost (a web page cannot reach it through a rebound DNS name), and not at
// all while the plugin runs in token access mode. A wrong or missing credential where one is
// configured gets 401; a read credential for a write gets 403.
#pragma once

#include <string>
#include <string_view>

#include "api_metrics.h"
#include "auth.h"
#include "http_server.h"

namespace jmedia::transport {

struct MediaApiOptions {
  AuthConfig metrics_auth;      // /metrics' credentials: they let reads in too
  std::string api_token;        // bearer token for reads; "" = none
  std::string api_admin_token;  // bearer token for writes (and reads); "" = none
};

class MediaApi final : public RouteHandler {
 public:
  MediaApi(const MediaApiOptions& options, ApiMetrics& metrics);

  bool owns(std::string_view path) const override;  // "/api" and everything under "/api/"
  bool takes_body(std::string_view method, std::string_view path) const override;
  Response handle(const Request& request) override;

  // Who may read and who may write, for the start-up log (never the secrets).
  std::string describe_access() const;

 private:
  struct Access;
  Access decide(bool write, const Request& request, bool token_mode) const;

  const Authenticator metrics_auth_;
  const Authenticator read_token_;
  const Authenticator admin_token_;
  ApiMetrics& metrics_;
};

// Whether a Host header names an IP address (IPv4, or IPv6 in brackets) or localhost, with an
// optional port: what a browser sends only for a page that named the address itself.
bool host_is_address(std::string_view host) noexcept;

}  // namespace jmedia::transport
