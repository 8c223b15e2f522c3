#include "http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <prometheus/text_serializer.h>

#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <new>
#include <optional>

#include "../common/abi_guard.h"
#include "../common/log.h"

namespace jmedia::transport {
namespace {

struct ResponseDestroy {
  void operator()(MHD_Response* response) const noexcept { MHD_destroy_response(response); }
};

MHD_Result queue(MHD_Connection* connection, const Response& response) {
  // MUST_COPY: the body lives in our Response, which is gone when MHD sends it.
  std::unique_ptr<MHD_Response, ResponseDestroy> out(MHD_create_response_from_buffer(
      response.body.size(), const_cast<char*>(response.body.data()), MHD_RESPMEM_MUST_COPY));
  if (!out) return MHD_NO;
  MHD_add_response_header(out.get(), MHD_HTTP_HEADER_CONTENT_TYPE, response.content_type.c_str());
  MHD_add_response_header(out.get(), MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  for (const auto& [name, value] : response.headers) {
    MHD_add_response_header(out.get(), name.c_str(), value.c_str());
  }
  // For HEAD, MHD sends the same headers (Content-Length included) and no body.
  return MHD_queue_response(connection, response.status, out.get());
}

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
  const MHD_ConnectionInfo* peer =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  request.peer_loopback = peer != nullptr && is_loopback(peer->client_addr);
  request.host = header(connection, MHD_HTTP_HEADER_HOST);
  request.content_type = header(connection, MHD_HTTP_HEADER_CONTENT_TYPE);
  return queue(connection, server.handle(request));
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

__attribute__((format(printf, 2, 0))) void on_library_message(void* cls, const char* format,
                                                              va_list args) noexcept {
  char message[512];
  std::vsnprintf(message, sizeof message, format, args);
  std::size_t length = std::char_traits<char>::length(message);
  while (length > 0 && (message[length - 1] == '\n' || message[length - 1] == '\r')) {
    message[--length] = '\0';
  }
  static_cast<HttpServer*>(cls)->library_message(message);
}

std::string endpoint(const std::string& ip, std::uint16_t port) {
  const bool v6 = ip.find(':') != std::string::npos;
  return (v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

}  // namespace

HttpServer::HttpServer(ServerHost& host, TransportMetrics& metrics, HttpServerOptions options,
                       RouteHandler* routes)
    : host_(host),
      metrics_(metrics),
      options_(std::move(options)),
      auth_(options_.auth),
      routes_(routes) {}

bool is_loopback(const sockaddr* address) noexcept {
  if (address == nullptr) return false;
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  }
  if (address->sa_family == AF_INET6) {
    const in6_addr& ip = reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&ip)) return true;
    return IN6_IS_ADDR_V4MAPPED(&ip) && ip.s6_addr[12] == 127;
  }
  return false;
}

HttpServer::~HttpServer() {
  stop();
}

bool HttpServer::start(std::string& error) {
  if (daemon_ != nullptr) {
    error = "already running";
    return false;
  }
  sockaddr_storage address{};
  unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
  if (inet_pton(AF_INET, options_.ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(options_.port);
  } else if (inet_pton(AF_INET6, options_.ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(options_.port);
    flags |= MHD_USE_IPv6;
  } else {
    error =
        "invalid listen address '" + options_.ip + "' (expected a numeric IPv4 or IPv6 address)";
    return false;
  }

  {
    std::lock_guard lock(start_messages_mutex_);
    start_messages_.clear();
  }
  starting_.store(true);
  // The logger goes first: MHD reports problems with the options that follow through it.
  // A pool of one is no pool: libmicrohttpd then polls on its one internal thread.
  const unsigned pool = options_.threads > 1 ? options_.threads : 0;
  daemon_ = MHD_start_daemon(
      flags, options_.port, nullptr, nullptr, &on_request, this, MHD_OPTION_EXTERNAL_LOGGER,
      &on_library_message, this, MHD_OPTION_SOCK_ADDR, reinterpret_cast<const sockaddr*>(&address),
      MHD_OPTION_CONNECTION_LIMIT, options_.connection_limit, MHD_OPTION_CONNECTION_TIMEOUT,
      options_.connection_timeout_seconds, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
      static_cast<size_t>(options_.connection_memory_limit), MHD_OPTION_URI_LOG_CALLBACK, &on_uri,
      this, MHD_OPTION_NOTIFY_COMPLETED, &on_completed, this,
      pool > 0 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, pool, MHD_OPTION_END);
  starting_.store(false);
  std::vector<std::string> messages;
  {
    std::lock_guard lock(start_messages_mutex_);
    messages.swap(start_messages_);
  }

  if (daemon_ == nullptr) {
    error = "cannot listen on " + endpoint(options_.ip, options_.port) + ": ";
    if (messages.empty()) error += "libmicrohttpd could not start";
    for (std::size_t i = 0; i < messages.size(); ++i) error += (i ? "; " : "") + messages[i];
    return false;
  }
  for (const auto& message : messages) log_warn("http: %s", message.c_str());
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  port_ = info != nullptr ? info->port : options_.port;
  return true;
}

void HttpServer::stop() noexcept {
  if (daemon_ == nullptr) return;
  MHD_stop_daemon(daemon_);  // closes the listen socket and joins the server thread
  daemon_ = nullptr;
  port_ = 0;
}

void HttpServer::library_message(const char* message) noexcept {
  if (starting_.load()) {
    try {
      std::lock_guard lock(start_messages_mutex_);
      start_messages_.emplace_back(message);
      return;
    } catch (...) {
      // Out of memory: log it instead.
    }
  }
  log_warn("http: %s", message);
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
