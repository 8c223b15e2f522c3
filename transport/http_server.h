// The operators' HTTP endpoint: GET /metrics (Prometheus text format 0.0.4), /healthz and
// /readyz, optionally behind bearer or basic auth. libmicrohttpd serves it from one internal
// polling thread that start() creates and stop() joins.
//
// The server asks its owner for everything it reports through ServerHost, the interface that
// unit tests fake (their own registry, readiness they flip).
#pragma once

#include <prometheus/metric_family.h>

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
  AuthConfig auth;
  unsigned connection_limit = 64;
  unsigned connection_timeout_seconds = 10;
};

// One request, as the router sees it (independent of the HTTP library).
struct Request {
  std::string_view method;
  std::string_view path;      // without the query string
  const char* authorization;  // the Authorization header, nullptr when absent
};

inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

class HttpServer {
 public:
  HttpServer(ServerHost& host, TransportMetrics& metrics, HttpServerOptions options);
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

  // Routes one request: auth, then path, then method. Counts the response. Thread-safe.
  Response handle(const Request& request);

 private:
  Response metrics();
  Response respond(unsigned status, std::string body);

  ServerHost& host_;
  TransportMetrics& metrics_;
  const HttpServerOptions options_;
  const Authenticator auth_;
  MhdServer mhd_{"http"};
};

}  // namespace jmedia::transport
