#include "http_server.h"

#include <microhttpd.h>

#include <prometheus/text_serializer.h>

#include <chrono>

#include "../common/abi_guard.h"
#include "../common/log.h"

namespace jmedia::transport {
namespace {

int answered;  // request state marker: this request already has its response

MHD_Result on_request(void* cls, MHD_Connection* connection, const char* url, const char* method,
                      const char* /*version*/, const char* /*upload_data*/,
                      size_t* upload_data_size, void** request_state) noexcept {
  if (*request_state != nullptr) {
    // A later call for an answered request (a body we never asked for): discard it.
    *upload_data_size = 0;
    return MHD_YES;
  }
  *request_state = &answered;
  auto* server = static_cast<HttpServer*>(cls);
  return guarded("http request", MHD_NO, [&] {
    const char* authorization =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    const Response response =
        server->handle({method != nullptr ? method : "", url != nullptr ? url : "", authorization});
    return queue_response(connection, response);
  });
}

}  // namespace

HttpServer::HttpServer(ServerHost& host, TransportMetrics& metrics, HttpServerOptions options)
    : host_(host), metrics_(metrics), options_(std::move(options)), auth_(options_.auth) {}

HttpServer::~HttpServer() {
  stop();
}

bool HttpServer::start(std::string& error) {
  return mhd_.start(MhdOptions{.ip = options_.ip,
                               .port = options_.port,
                               .connection_limit = options_.connection_limit,
                               .connection_timeout_seconds = options_.connection_timeout_seconds},
                    MhdCallbacks{.request = &on_request, .request_cls = this}, error);
}

void HttpServer::stop() noexcept {
  mhd_.stop();
}

Response HttpServer::respond(unsigned status, std::string body) {
  Response response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

Response HttpServer::handle(const Request& request) {
  Response response;
  if (!auth_.allows(request.authorization)) {
    response = respond(401, "unauthorized\n");
    for (const auto& challenge : auth_.challenges()) {
      response.headers.emplace_back(MHD_HTTP_HEADER_WWW_AUTHENTICATE, challenge);
    }
  } else if (request.path != "/metrics" && request.path != "/healthz" &&
             request.path != "/readyz") {
    response = respond(404, "not found\n");
  } else if (request.method != "GET" && request.method != "HEAD") {
    response = respond(405, "method not allowed\n");
    response.headers.emplace_back(MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  } else if (request.path == "/metrics") {
    response = metrics();
  } else if (request.path == "/healthz") {
    response = respond(200, "ok\n");
  } else {
    const Readiness readiness = host_.readiness();
    response = readiness.ready ? respond(200, "ready\n")
                               : respond(503, "not ready: " + readiness.reason + "\n");
  }
  metrics_.count_response(response.status);
  return response;
}

Response HttpServer::metrics() {
  const auto started = std::chrono::steady_clock::now();
  metrics_.count_scrape();
  Response response;
  try {
    response = respond(200, prometheus::TextSerializer().Serialize(host_.collect()));
    response.content_type = kMetricsContentType;
  } catch (const std::exception& e) {
    log_error("metrics: scrape failed: %s", e.what());
    return respond(500, "scrape failed\n");
  }
  metrics_.observe_scrape_duration(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return response;
}

}  // namespace jmedia::transport
