#include "http_server.h"

#include <microhttpd.h>

#include <prometheus/text_serializer.h>

#include <chrono>
#include <cstdint>
#include <new>
#include <optional>

#include "../common/abi_guard.h"
#include "../common/log.h"

namespace jmedia::transport {
namespace {

// One request's state, from its request line (the URI callback) to its completion
// (on_completed, which libmicrohttpd calls for every request the URI callback saw).
struct RequestState {
  std::string target;  // the request target as sent: path and query, not decoded
  bool started = false;
  bool answered = false;
  bool collect = false;    // the route takes a body: read it before answering
  bool too_large = false;  // its announced length is over max_body_bytes
  std::string body;        // read for routes that take one, at most max_body_bytes
};

void* on_uri(void* /*cls*/, const char* uri, MHD_Connection* /*connection*/) noexcept {
  return guarded("http request", static_cast<void*>(nullptr), [&]() -> void* {
    auto* state = new (std::nothrow) RequestState();
    if (state != nullptr) state->target = uri != nullptr ? uri : "";
    return state;
  });
}

void on_completed(void* /*cls*/, MHD_Connection* /*connection*/, void** request_state,
                  MHD_RequestTerminationCode /*code*/) noexcept {
  delete static_cast<RequestState*>(*request_state);
  *request_state = nullptr;
}

const char* header(MHD_Connection* connection, const char* name) {
  return MHD_lookup_connection_value(connection, MHD_HEADER_KIND, name);
}

MHD_Result answer(HttpServer& server, MHD_Connection* connection, const char* method,
                  RequestState& state) {
  state.answered = true;
  const std::string_view target(state.target);
  const std::size_t mark = target.find('?');
  Request request{method != nullptr ? method : "", target.substr(0, mark),
                  header(connection, MHD_HTTP_HEADER_AUTHORIZATION)};
  if (mark != std::string_view::npos) request.query = target.substr(mark + 1);
  request.body = state.body;
  request.body_too_large = state.too_large;
  request.peer_loopback = is_loopback(peer_address(connection));
  request.host = header(connection, MHD_HTTP_HEADER_HOST);
  request.content_type = header(connection, MHD_HTTP_HEADER_CONTENT_TYPE);
  return queue_response(connection, server.handle(request));
}

// The announced body length when it is a plain decimal number, else nullopt.
std::optional<std::uint64_t> content_length(MHD_Connection* connection) {
  const char* text = header(connection, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (text == nullptr || *text == '\0') return std::nullopt;
  std::uint64_t value = 0;
  for (const char* c = text; *c != '\0'; ++c) {
    if (*c < '0' || *c > '9' || value > (UINT64_MAX - 9) / 10) return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(*c - '0');
  }
  return value;
}

MHD_Result on_request(void* cls, MHD_Connection* connection, const char* url, const char* method,
                      const char* /*version*/, const char* upload_data, size_t* upload_data_size,
                      void** request_state) noexcept {
  auto* state = static_cast<RequestState*>(*request_state);
  if (state == nullptr) return MHD_NO;  // no memory for it: drop the connection
  if (state->answered) {
    // A later call for an answered request (a body we never asked for): discard it.
    *upload_data_size = 0;
    return MHD_YES;
  }
  auto* server = static_cast<HttpServer*>(cls);
  return guarded("http request", MHD_NO, [&] {
    if (state->target.empty() && url != nullptr) state->target = url;
    if (!state->started) {
      state->started = true;
      const std::string_view target(state->target);
      state->collect =
          server->takes_body(method != nullptr ? method : "", target.substr(0, target.find('?')));
      const char* length_header = header(connection, MHD_HTTP_HEADER_CONTENT_LENGTH);
      const auto announced = content_length(connection);
      if (state->collect) {
        if (announced && *announced > server->options().max_body_bytes) {
          state->too_large = true;  // answered now (413), the body discarded unread
          return answer(*server, connection, method, *state);
        }
        return MHD_YES;  // libmicrohttpd calls again with the body, then once with none
      }
      const bool has_body = header(connection, MHD_HTTP_HEADER_TRANSFER_ENCODING) != nullptr ||
                            (length_header != nullptr && announced.value_or(1) != 0);
      // A body nobody reads: answered now, which makes libmicrohttpd discard it and close the
      // connection after the answer. Without one: answered on the next call, once the request
      // is complete, so that the connection stays open for the next request (libmicrohttpd
      // 0.9.75 closes every connection whose answer was queued on this first call).
      if (has_body) return answer(*server, connection, method, *state);
      return MHD_YES;
    }
    if (*upload_data_size != 0) {
      if (!state->collect) {
        *upload_data_size = 0;  // not announced, so not expected: dropped
        return MHD_YES;
      }
      if (state->body.size() + *upload_data_size > server->options().max_body_bytes) {
        // An unannounced (chunked) body over the limit: no answer can be queued mid-body, so
        // the connection is closed before more of it is read.
        server->count_refused(413);
        return MHD_NO;
      }
      state->body.append(upload_data, *upload_data_size);
      *upload_data_size = 0;
      return MHD_YES;
    }
    return answer(*server, connection, method, *state);
  });
}

}  // namespace

HttpServer::HttpServer(ServerHost& host, TransportMetrics& metrics, HttpServerOptions options,
                       RouteHandler* routes)
    : host_(host),
      metrics_(metrics),
      options_(std::move(options)),
      auth_(options_.auth),
      routes_(routes) {}

HttpServer::~HttpServer() {
  stop();
}

bool HttpServer::start(std::string& error) {
  return mhd_.start(MhdOptions{.ip = options_.ip,
                               .port = options_.port,
                               .connection_limit = options_.connection_limit,
                               .connection_timeout_seconds = options_.connection_timeout_seconds,
                               .connection_memory_limit = options_.connection_memory_limit,
                               .threads = options_.threads},
                    MhdCallbacks{.request = &on_request,
                                 .request_cls = this,
                                 .completed = &on_completed,
                                 .completed_cls = this,
                                 .uri = &on_uri,
                                 .uri_cls = this},
                    error);
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

bool HttpServer::takes_body(std::string_view method, std::string_view path) const {
  return routes_ != nullptr && routes_->owns(path) && routes_->takes_body(method, path);
}

Response HttpServer::handle(const Request& request) {
  Response response;
  if (routes_ != nullptr && routes_->owns(request.path)) {
    response = routes_->handle(request);
  } else if (!auth_.allows(request.authorization)) {
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
