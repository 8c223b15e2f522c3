// The operators' HTTP endpoint: GET /metrics (Prometheus text format 0.0.4), /healthz and
// /readyz, optionally behind bearer or basic auth, plus the routes of a RouteHandler mounted on
// it (the session REST API, media_api.h). libmicrohttpd serves it (transport_shared's MhdServer)
// from internal polling threads (a pool of `threads`) that start() creates and stop() joins.
//
// The server asks its owner for everything it reports through ServerHost, the interface that
// unit tests fake (their own registry, readiness they flip).
#pragma once

#include <prometheus/metric_family.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth.h"
#include "mhd_server.h"
#include "transport_metrics.h"

namespace jmedia::transport {

struct Readiness {
  bool ready = true;
  std::string reason;  // why not, for the 503 body
};

class ServerHost {
 public:
  virtual ~ServerHost() = default;
  // Everything to expose on one scrape. Called on the server thread.
  virtual std::vector<prometheus::MetricFamily> collect() = 0;
  // Whether new sessions are accepted. Called on the server thread.
  virtual Readiness readiness() = 0;
};

struct HttpServerOptions {
  std::string ip = "127.0.0.1";  // numeric IPv4 or IPv6 address
  std::uint16_t port = 0;        // 0: any free port (see port())
  AuthConfig auth;               // of /metrics, /healthz, /readyz (a RouteHandler has its own)
  unsigned connection_limit = 64;
  unsigned connection_timeout_seconds = 10;
  unsigned threads = 1;  // libmicrohttpd's polling threads (its thread pool when > 1)
  // Per connection: what libmicrohttpd may allocate for one request's line, headers and
  // buffers (larger headers get 431), and the most body bytes read for a route that takes one.
  std::size_t connection_memory_limit = std::size_t{16} * 1024;
  std::size_t max_body_bytes = 4096;
};

// One request, as the router sees it (independent of the HTTP library).
struct Request {
  std::string_view method;
  std::string_view path;               // as sent, up to '?' (not percent-decoded)
  const char* authorization;           // the Authorization header, nullptr when absent
  std::string_view query = {};         // after '?', as sent; empty when none
  std::string_view body = {};          // read only for routes that take one (RouteHandler)
  bool body_too_large = false;         // its announced length is over max_body_bytes: not read
  bool peer_loopback = false;          // the client's address is a loopback one (is_loopback)
  const char* host = nullptr;          // the Host header, nullptr when absent
  const char* content_type = nullptr;  // the Content-Type header, nullptr when absent
};

inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// Routes that the server hands whole requests to, ahead of its own (and of its auth): the
// session REST API under /api/. Called on the server's threads, several at once.
class RouteHandler {
 public:
  virtual ~RouteHandler() = default;
  virtual bool owns(std::string_view path) const = 0;
  // Whether this request's body is read (up to max_body_bytes) before handle(). A longer one
  // is not: handle() gets body_too_large when its length was announced, and its connection is
  // closed when it was not (chunked). Other requests are answered on their headers, their body
  // discarded.
  virtual bool takes_body(std::string_view method, std::string_view path) const = 0;
  virtual Response handle(const Request& request) = 0;
};

class HttpServer {
 public:
  // routes, when given, must outlive the server.
  HttpServer(ServerHost& host, TransportMetrics& metrics, HttpServerOptions options,
             RouteHandler* routes = nullptr);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds ip:port and starts the server thread. On failure (bad address, port taken, no
  // thread) returns false with a one-line reason in error, and nothing is left open.
  bool start(std::string& error);
  // Stops accepting, lets the request in progress finish and joins the thread. Idempotent.
  void stop() noexcept;
  bool running() const { return mhd_.running(); }
  // The bound port (the chosen one when options.port was 0); 0 when not running.
  std::uint16_t port() const { return mhd_.port(); }

  // Routes one request: a mounted RouteHandler's paths go to it; the others: auth, then path,
  // then method. Counts the response. Thread-safe.
  Response handle(const Request& request);
  // Whether the request's body must be read before handle() (RouteHandler::takes_body).
  bool takes_body(std::string_view method, std::string_view path) const;
  const HttpServerOptions& options() const { return options_; }
  // Counts a request refused before routing (a chunked body over max_body_bytes).
  void count_refused(unsigned status) noexcept { metrics_.count_response(status); }

 private:
  Response metrics();
  static Response respond(unsigned status, std::string body);

  ServerHost& host_;
  TransportMetrics& metrics_;
  const HttpServerOptions options_;
  const Authenticator auth_;
  RouteHandler* const routes_;
  MhdServer mhd_{"http"};
};

}  // namespace jmedia::transport
