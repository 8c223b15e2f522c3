#include "http_api.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "../common/abi_guard.h"
#include "../common/log.h"
#include "outbox.h"

namespace jmedia::edge {

using transport::Response;

namespace {

constexpr auto kTickerPeriod = std::chrono::milliseconds(100);
// The core's answers to the keepalives a long poll stands for: nobody waits for them.
constexpr std::uint64_t kKeepaliveRequestId = UINT64_MAX;
// MHD's own hard limits sit above ours, so that a connection over ours can still be told why.
constexpr unsigned kConnectionSlack = 64;
constexpr unsigned kPerIpSlack = 16;
constexpr unsigned kIdleTimeoutSeconds = 120;  // as Janus's HTTP transport

std::string client_address(MHD_Connection* connection) {
  const sockaddr* address = transport::peer_address(connection);
  if (address == nullptr) return "unknown";
  char text[INET6_ADDRSTRLEN] = {0};
  if (address->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, text, sizeof text);
  } else if (address->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, text,
              sizeof text);
  }
  return text[0] != '\0' ? text : "unknown";
}

std::string header(MHD_Connection* connection, const char* name) {
  const char* value = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, name);
  return value != nullptr ? value : "";
}

std::string random_transaction() {
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string out(12, 'x');
  for (char& c : out)
    c = kAlphabet[static_cast<std::size_t>(g_random_int()) % (sizeof kAlphabet - 1)];
  return out;
}

const char* keepalive_body(std::uint32_t maxev) {
  return maxev > 1 ? R"([{"janus":"keepalive"}])" : R"({"janus":"keepalive"})";
}

}  // namespace

// One TCP connection (MHD's socket context): its rate guard, and whether it is over the
// connection limits.
struct HttpClient {
  std::string ip;
  bool counted = false;
  RateGuard rate;
  Disconnect reason = Disconnect::kClient;
};

// One Janus session created (or claimed) over HTTP: its long-poll queue and waiting poll.
struct HttpSession {
  HttpSession(std::uint64_t session_id, janus_transport_session* from, const OutboxLimits& limits,
              std::atomic<std::int64_t>* queued)
      : id(session_id), source(from), outbox(limits, queued) {}
  const std::uint64_t id;
  janus_transport_session* const source;  // held (CoreLink::hold) until the session goes
  Outbox outbox;
  std::mutex mutex;                      // poller
  std::shared_ptr<HttpExchange> poller;  // the long poll waiting, if any
};

// One HTTP request, from its headers to its answer.
class HttpExchange final : public Endpoint, public std::enable_shared_from_this<HttpExchange> {
 public:
  enum class State : std::uint8_t { kReceiving, kWaiting, kAnswered, kDone };

  HttpExchange(HttpApi& api, MHD_Connection* connection, HttpClient* client, std::string method,
               std::string url)
      : api_(api),
        connection_(connection),
        client_(client),
        method_(std::move(method)),
        url_(std::move(url)) {}

  // --- Endpoint: the core's threads ----------------------------------------------------------
  void deliver(std::uint64_t request_id, JsonPtr message) override {
    if (message == nullptr) return;
    if (request_id == 0) {
      api_.event(std::move(message));  // an event of a session: to its long-poll queue
      return;
    }
    if (request_id != request_id_) return;  // a long poll's keepalive answered
    api_.edge().answered(Transport::kHttp, pending_, message.get());
    answer(Response{
        .status = 200, .body = serialize(message.get()), .content_type = "application/json"});
  }
  void session_created(janus_transport_session* session, std::uint64_t session_id) override {
    api_.session_created(session, session_id);
  }
  void session_over(std::uint64_t session_id) override { api_.session_over(session_id); }

  // Answers a waiting exchange (resumes its connection); false when it was not waiting.
  bool answer(Response response) {
    {
      std::lock_guard lock(mutex_);
      if (state_ != State::kWaiting) return false;
      response_ = std::move(response);
      state_ = State::kAnswered;
      MHD_resume_connection(connection_);
    }
    api_.answered(shared_from_this());
    return true;
  }

  // --- MHD's thread ---------------------------------------------------------------------------
  // Suspends the connection until answer(); call with the answer's deadline.
  void suspend(Clock::time_point deadline) {
    std::lock_guard lock(mutex_);
    deadline_ = deadline;
    state_ = State::kWaiting;
    MHD_suspend_connection(connection_);
  }
  // The answer, once resumed (kAnswered -> kDone); nullopt otherwise.
  std::optional<Response> take_answer() {
    std::lock_guard lock(mutex_);
    if (state_ != State::kAnswered) return std::nullopt;
    state_ = State::kDone;
    return std::move(response_);
  }
  void done() {
    std::lock_guard lock(mutex_);
    state_ = State::kDone;
  }
  Clock::time_point deadline() const {
    std::lock_guard lock(mutex_);
    return deadline_;
  }

  HttpApi& api_;
  MHD_Connection* const connection_;
  HttpClient* const client_;  // null when MHD gave no socket context
  const std::string method_;
  const std::string url_;
  std::string origin_;  // Origin (or Referer), Access-Control-Request-Method / -Headers
  std::string request_method_;
  std::string request_headers_;
  std::string body_;
  bool responded_ = false;  // a response was queued before the body ended (413, OPTIONS)
  Clock::time_point arrival_ = Clock::now();

  janus_transport_session* ts_ = nullptr;  // ours, destroyed when the request completes
  std::uint64_t request_id_ = 0;
  Pending pending_;
  std::uint64_t poll_session_ = 0;  // a long poll's session
  std::uint32_t maxev_ = 1;

 private:
  mutable std::mutex mutex_;
  State state_ = State::kReceiving;
  Response response_;
  Clock::time_point deadline_{};
};

namespace {

HttpApi* api_of(void* cls) {
  return static_cast<HttpApi*>(cls);
}

MHD_Result request_trampoline(void* cls, MHD_Connection* connection, const char* url,
                              const char* method, const char* /*version*/, const char* upload_data,
                              size_t* upload_data_size, void** state) noexcept {
  return guarded("edge http request", MHD_NO, [&] {
    return api_of(cls)->on_request(connection, url, method, upload_data, upload_data_size, state);
  });
}

void completed_trampoline(void* cls, MHD_Connection* /*connection*/, void** state,
                          MHD_RequestTerminationCode /*code*/) noexcept {
  guarded_void("edge http completed", [&] { api_of(cls)->on_completed(state); });
}

void connection_trampoline(void* cls, MHD_Connection* connection, void** socket_context,
                           MHD_ConnectionNotificationCode code) noexcept {
  guarded_void("edge http connection",
               [&] { api_of(cls)->on_connection(connection, socket_context, code); });
}

}  // namespace

HttpApi::HttpApi(Edge& edge) : edge_(edge) {}

HttpApi::~HttpApi() {
  stop();
}

std::size_t HttpApi::sessions() const {
  std::lock_guard lock(sessions_mutex_);
  return sessions_.size();
}

bool HttpApi::start(std::string& error) {
  const EdgeConfig& config = edge_.config();
  {
    std::lock_guard lock(ticker_mutex_);
    ticker_stop_ = false;
  }
  try {
    ticker_ = guarded_thread("edge http ticker", "jm-edge-http", [this] { run_ticker(); });
  } catch (const std::system_error& e) {
    error = std::string("cannot start the http ticker thread: ") + e.what();
    return false;
  }
  const bool started = mhd_.start(
      transport::MhdOptions{.ip = config.http.ip,
                            .port = config.http.port,
                            .connection_limit = config.max_connections + kConnectionSlack,
                            .connection_timeout_seconds = kIdleTimeoutSeconds,
                            .per_ip_connection_limit = config.max_connections_per_ip + kPerIpSlack,
                            .connection_memory_limit = 0,
                            .suspend_resume = true},
      transport::MhdCallbacks{.request = &request_trampoline,
                              .request_cls = this,
                              .completed = &completed_trampoline,
                              .completed_cls = this,
                              .connection = &connection_trampoline,
                              .connection_cls = this},
      error);
  if (!started) {
    error += " (http)";
    stop();
  }
  return started;
}

void HttpApi::stop() noexcept {
  // What waits is answered first: MHD resumes and completes it before its thread ends.
  std::vector<std::shared_ptr<HttpExchange>> waiting;
  {
    std::lock_guard lock(waiting_mutex_);
    waiting.assign(waiting_.begin(), waiting_.end());
  }
  for (const auto& exchange : waiting) {
    guarded_void("edge http stop", [&] {
      exchange->answer(
          Response{.status = 503,
                   .body = error_reply(kErrorTransportSpecific, "shutting down", "", 0),
                   .content_type = "application/json"});
    });
  }
  mhd_.stop();
  {
    std::lock_guard lock(ticker_mutex_);
    ticker_stop_ = true;
  }
  ticker_wake_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  std::unordered_map<std::uint64_t, std::shared_ptr<HttpSession>> sessions;
  {
    std::lock_guard lock(sessions_mutex_);
    sessions.swap(sessions_);
  }
  for (auto& [id, session] : sessions) {
    session->outbox.close();
    edge_.core().release(session->source);
  }
  std::lock_guard lock(waiting_mutex_);
  waiting_.clear();
}

void HttpApi::on_connection(MHD_Connection* connection, void** socket_context,
                            MHD_ConnectionNotificationCode code) {
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    auto* client =
        new HttpClient{client_address(connection), false,
                       make_rate_guard(edge_.config(), Clock::now()), Disconnect::kClient};
    client->counted = edge_.connections().open(client->ip);
    if (!client->counted) client->reason = Disconnect::kLimit;
    edge_.metrics().connection_opened(Transport::kHttp);
    *socket_context = client;
    return;
  }
  auto* client = static_cast<HttpClient*>(*socket_context);
  *socket_context = nullptr;
  if (client == nullptr) return;
  if (client->counted) edge_.connections().close(client->ip);
  edge_.metrics().connection_closed(Transport::kHttp, client->reason);
  delete client;
}

MHD_Result HttpApi::on_request(MHD_Connection* connection, const char* url, const char* method,
                               const char* upload_data, std::size_t* upload_data_size,
                               void** state) {
  const EdgeConfig& config = edge_.config();
  auto* holder = static_cast<std::shared_ptr<HttpExchange>*>(*state);
  if (holder == nullptr) {
    const MHD_ConnectionInfo* info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    auto* client = info != nullptr ? static_cast<HttpClient*>(info->socket_context) : nullptr;
    auto exchange = std::make_shared<HttpExchange>(
        *this, connection, client, method != nullptr ? method : "", url != nullptr ? url : "");
    exchange->origin_ = header(connection, "Origin");
    if (exchange->origin_.empty()) exchange->origin_ = header(connection, "Referer");
    exchange->request_method_ = header(connection, "Access-Control-Request-Method");
    exchange->request_headers_ = header(connection, "Access-Control-Request-Headers");
    *state = new std::shared_ptr<HttpExchange>(std::move(exchange));
    holder = static_cast<std::shared_ptr<HttpExchange>*>(*state);
    const std::string length = header(connection, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!length.empty() && std::strtoull(length.c_str(), nullptr, 10) > config.max_message_bytes) {
      (*holder)->responded_ = true;
      return respond_too_big(*holder);
    }
    return MHD_YES;
  }
  const std::shared_ptr<HttpExchange>& exchange = *holder;
  if (std::optional<Response> answer = exchange->take_answer()) {
    return queue(exchange, *answer);  // resumed with the core's answer (or a deadline's)
  }
  if (*upload_data_size != 0) {
    if (!exchange->responded_) {
      edge_.metrics().received(Transport::kHttp, *upload_data_size);
      if (exchange->body_.size() + *upload_data_size > config.max_message_bytes) {
        exchange->responded_ = true;
        std::string().swap(exchange->body_);
        *upload_data_size = 0;
        return respond_too_big(exchange);
      }
      exchange->body_.append(upload_data, *upload_data_size);
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (exchange->responded_) return MHD_YES;
  return route(exchange);
}

void HttpApi::on_completed(void** state) {
  auto* holder = static_cast<std::shared_ptr<HttpExchange>*>(*state);
  *state = nullptr;
  if (holder == nullptr) return;
  std::shared_ptr<HttpExchange> exchange = std::move(*holder);
  delete holder;
  exchange->done();
  {
    std::lock_guard lock(waiting_mutex_);
    waiting_.erase(exchange);
  }
  if (exchange->poll_session_ != 0) {
    if (std::shared_ptr<HttpSession> session = find(exchange->poll_session_)) {
      std::lock_guard lock(session->mutex);
      if (session->poller == exchange) session->poller.reset();
    }
  }
  if (exchange->ts_ != nullptr) {
    edge_.core().destroy_session(exchange->ts_);
    exchange->ts_ = nullptr;
  }
}

MHD_Result HttpApi::queue(const std::shared_ptr<HttpExchange>& exchange, Response response) {
  // CORS as Janus's HTTP transport sends it.
  const std::string& origin = edge_.config().allow_origin;
  response.headers.emplace_back("Access-Control-Allow-Origin", origin.empty() ? "*" : origin);
  if (!origin.empty()) {
    response.headers.emplace_back("Access-Control-Allow-Credentials", "true");
    response.headers.emplace_back("Vary", "Origin");
  }
  response.headers.emplace_back("Access-Control-Max-Age", "86400");
  if (!exchange->request_method_.empty()) {
    response.headers.emplace_back("Access-Control-Allow-Methods", exchange->request_method_);
  }
  if (!exchange->request_headers_.empty()) {
    response.headers.emplace_back("Access-Control-Allow-Headers", exchange->request_headers_);
  }
  edge_.metrics().sent(Transport::kHttp, response.body.size());
  return transport::queue_response(exchange->connection_, response);
}

MHD_Result HttpApi::respond(const std::shared_ptr<HttpExchange>& exchange, unsigned status,
                            std::string body, bool close) {
  Response response{.status = status, .body = std::move(body), .content_type = "application/json"};
  if (close) response.headers.emplace_back(MHD_HTTP_HEADER_CONNECTION, "close");
  return queue(exchange, std::move(response));
}

MHD_Result HttpApi::respond_too_big(const std::shared_ptr<HttpExchange>& exchange) {
  const std::string why = "message too big: over max_message_bytes = " +
                          std::to_string(edge_.config().max_message_bytes);
  return respond(exchange, MHD_HTTP_CONTENT_TOO_LARGE,
                 edge_.refuse(Transport::kHttp, Verb::kOther, Refusal::kMessageTooBig,
                              kErrorMessageTooBig, why, "", 0),
                 true);
}

MHD_Result HttpApi::route(const std::shared_ptr<HttpExchange>& exchange) {
  const EdgeConfig& config = edge_.config();
  const Clock::time_point now = Clock::now();
  HttpClient* client = exchange->client_;
  if (client != nullptr && !client->counted) {
    return respond(
        exchange, MHD_HTTP_SERVICE_UNAVAILABLE,
        edge_.refuse(
            Transport::kHttp, Verb::kOther, Refusal::kConnectionLimit, kErrorTooManyConnections,
            "too many connections: over max_connections = " +
                std::to_string(config.max_connections) +
                " or max_connections_per_ip = " + std::to_string(config.max_connections_per_ip),
            "", 0),
        true);
  }
  if (exchange->method_ == "OPTIONS") return queue(exchange, Response{.status = 200});

  // The path: <base>[/info | /<session>[/<handle>]].
  auto routed = parse_api_path(config.http_base_path, exchange->url_);
  if (auto* error = std::get_if<RequestError>(&routed)) {
    return respond(exchange, MHD_HTTP_NOT_FOUND, edge_.invalid(Transport::kHttp, *error));
  }
  const ApiPath& path = std::get<ApiPath>(routed);
  const std::optional<std::uint64_t> session_id = path.session_id;
  const std::optional<std::uint64_t> handle_id = path.handle_id;
  const std::string& base = config.http_base_path;

  ClientRequest request;
  bool poll = false;
  if (path.info && exchange->method_ != "GET") {
    // As Janus's HTTP transport: /info is GET only.
    return respond(exchange, MHD_HTTP_BAD_REQUEST,
                   edge_.invalid(Transport::kHttp, {kErrorInvalidPath, "/info is GET only"}));
  }
  if (exchange->method_ == "GET") {
    if (path.info) {
      request.json = adopt(json_object());
      set_unchecked(request.json.get(), "janus", "info");
      set_unchecked(request.json.get(), "transaction", random_transaction());
      inspect(request);
    } else if (!session_id) {
      return respond(
          exchange, MHD_HTTP_NOT_FOUND,
          edge_.invalid(Transport::kHttp, {kErrorSessionNotFound, "a long poll needs a session"}));
    } else {
      poll = true;
      request.verb = Verb::kKeepalive;
      request.session_id = *session_id;
    }
  } else if (exchange->method_ == "POST") {
    if (exchange->body_.empty()) {
      return respond(exchange, MHD_HTTP_OK,
                     edge_.invalid(Transport::kHttp, {kErrorInvalidJson, "JSON error: no body"}));
    }
    auto parsed = parse_request(exchange->body_);
    std::string().swap(exchange->body_);
    if (auto* error = std::get_if<RequestError>(&parsed)) {
      return respond(exchange, MHD_HTTP_OK, edge_.invalid(Transport::kHttp, *error));
    }
    request = std::move(std::get<ClientRequest>(parsed));
    // Ids may come from the path, as with Janus's HTTP transport (the payload's must agree).
    if (session_id) {
      if (request.session_id != 0 && request.session_id != *session_id) {
        return respond(
            exchange, MHD_HTTP_OK,
            edge_.invalid(Transport::kHttp,
                          {kErrorInvalidPath, "Conflicting session ID (payload and path)"}));
      }
      set_unchecked(request.json.get(), "session_id", *session_id);
    }
    if (handle_id) {
      if (request.handle_id != 0 && request.handle_id != *handle_id) {
        return respond(
            exchange, MHD_HTTP_OK,
            edge_.invalid(Transport::kHttp,
                          {kErrorInvalidPath, "Conflicting handle ID (payload and path)"}));
      }
      set_unchecked(request.json.get(), "handle_id", *handle_id);
    }
    inspect(request);
  } else {
    return respond(exchange, MHD_HTTP_OK,
                   edge_.invalid(Transport::kHttp, {kErrorTransportSpecific,
                                                    "Unsupported method " + exchange->method_}));
  }

  if (client != nullptr) {
    switch (client->rate.admit(now)) {
      case RateGuard::Verdict::kAdmit:
        break;
      case RateGuard::Verdict::kRefuse:
        return respond(exchange, MHD_HTTP_TOO_MANY_REQUESTS,
                       edge_.refuse(Transport::kHttp, request.verb, Refusal::kRateLimited,
                                    kErrorTooManyRequests,
                                    "too many requests: over max_requests_per_s = " +
                                        std::to_string(config.max_requests_per_s),
                                    request.transaction, request.session_id));
      case RateGuard::Verdict::kClose:
        edge_.refuse(Transport::kHttp, request.verb, Refusal::kRateLimited, kErrorTooManyRequests,
                     "", "", 0);
        client->reason = Disconnect::kRateLimited;
        return MHD_NO;  // MHD closes the connection
    }
  }
  if (poll) {
    if (handle_id) {
      // Janus's HTTP transport sends a long poll on a handle's path to the session's.
      Response redirect{.status = MHD_HTTP_FOUND};
      redirect.headers.emplace_back(MHD_HTTP_HEADER_LOCATION,
                                    base + "/" + std::to_string(*session_id));
      return queue(exchange, std::move(redirect));
    }
    return long_poll(exchange, *session_id);
  }
  if (std::optional<std::string> refusal = edge_.admit(Transport::kHttp, request)) {
    return respond(exchange, MHD_HTTP_OK, std::move(*refusal));
  }
  return forward(exchange, std::move(request));
}

MHD_Result HttpApi::forward(const std::shared_ptr<HttpExchange>& exchange, ClientRequest request) {
  auto* ref = new EndpointRef{exchange};
  exchange->ts_ = edge_.core().create_session(ref, &EndpointRef::free);
  if (exchange->ts_ == nullptr) {
    delete ref;
    if (request.candidates != 0) {
      edge_.candidates().release({request.session_id, request.handle_id}, request.candidates);
    }
    return respond(exchange, MHD_HTTP_INTERNAL_SERVER_ERROR,
                   error_reply(kErrorTransportSpecific, "no transport session", "", 0));
  }
  exchange->request_id_ = edge_.next_request_id();
  exchange->pending_ = edge_.pending_for(request, exchange->arrival_);
  // Suspended first: the core may answer on another thread before this handler returns.
  exchange->suspend(Clock::now() + std::chrono::seconds(edge_.config().request_timeout_s));
  waiting(exchange);
  if (edge_.may_hold(request)) {
    auto held = std::make_shared<HeldRequest>(edge_.core(), exchange->ts_, std::move(request));
    // Edge, not HttpApi: the hold thread may outlive the HTTP server.
    HoldQueue::Forward later = [&edge = edge_, held, id = exchange->request_id_] {
      edge.forwarding(held->request);
      edge.core().incoming_request(held->source.get(), id, held->request.json.release());
    };
    std::string refusal;
    switch (edge_.hold(Transport::kHttp, held->request, exchange->arrival_, later, refusal)) {
      case HoldQueue::Verdict::kHeld:
        return MHD_YES;  // answered when the core answers it, once forwarded
      case HoldQueue::Verdict::kFull:
        exchange->answer(Response{
            .status = MHD_HTTP_OK, .body = std::move(refusal), .content_type = "application/json"});
        return MHD_YES;
      case HoldQueue::Verdict::kForward:
        break;
    }
    request = std::move(held->request);
  }
  edge_.forwarding(request);
  edge_.core().incoming_request(exchange->ts_, exchange->request_id_, request.json.release());
  return MHD_YES;
}

MHD_Result HttpApi::long_poll(const std::shared_ptr<HttpExchange>& exchange,
                              std::uint64_t session_id) {
  MHD_Connection* connection = exchange->connection_;
  const char* secret = MHD_lookup_connection_value(connection, MHD_GET_ARGUMENT_KIND, "apisecret");
  const char* token = MHD_lookup_connection_value(connection, MHD_GET_ARGUMENT_KIND, "token");
  CoreLink& core = edge_.core();
  const bool secret_needed = core.api_secret_needed();
  const bool token_needed = core.auth_token_needed();
  if ((secret_needed || token_needed) && !(secret_needed && core.api_secret_valid(secret)) &&
      !(token_needed && core.auth_token_valid(token))) {
    edge_.metrics().request(Transport::kHttp, Verb::kKeepalive, Result::kError);
    return respond(
        exchange, MHD_HTTP_FORBIDDEN,
        error_reply(403, "Unauthorized request (wrong or missing secret/token)", "", session_id));
  }
  std::shared_ptr<HttpSession> session = find(session_id);
  if (session == nullptr) {
    edge_.metrics().request(Transport::kHttp, Verb::kKeepalive, Result::kError);
    return respond(exchange, MHD_HTTP_NOT_FOUND,
                   error_reply(kErrorSessionNotFound,
                               "No such session " + std::to_string(session_id), "", session_id));
  }
  // A long poll is also a keepalive for the core (as with Janus's HTTP transport).
  auto* ref = new EndpointRef{exchange};
  exchange->ts_ = core.create_session(ref, &EndpointRef::free);
  if (exchange->ts_ == nullptr) {
    delete ref;
  } else {
    JsonPtr keepalive = adopt(json_object());
    set_unchecked(keepalive.get(), "janus", "keepalive");
    set_unchecked(keepalive.get(), "session_id", session_id);
    set_unchecked(keepalive.get(), "transaction", random_transaction());
    if (secret != nullptr) set(keepalive.get(), "apisecret", secret);
    if (token != nullptr) set(keepalive.get(), "token", token);
    core.incoming_request(exchange->ts_, kKeepaliveRequestId, keepalive.release());
  }
  edge_.metrics().request(Transport::kHttp, Verb::kKeepalive, Result::kSuccess);

  std::uint32_t maxev = 1;
  if (const char* text = MHD_lookup_connection_value(connection, MHD_GET_ARGUMENT_KIND, "maxev")) {
    const long long asked = std::atoll(text);
    maxev = static_cast<std::uint32_t>(
        std::clamp<long long>(asked, 1, edge_.config().max_queued_messages));
  }
  exchange->poll_session_ = session_id;
  exchange->maxev_ = maxev;
  std::vector<Outgoing> events;
  std::shared_ptr<HttpExchange> older;
  {
    std::lock_guard lock(session->mutex);
    session->outbox.pop_some(events, maxev);
    if (events.empty()) {
      older = std::exchange(session->poller, exchange);
      exchange->suspend(Clock::now() + std::chrono::seconds(edge_.config().longpoll_timeout_s));
    }
  }
  if (!events.empty()) return respond(exchange, MHD_HTTP_OK, poll_body(events, maxev));
  waiting(exchange);
  if (older != nullptr) {
    older->answer(Response{
        .status = 200, .body = keepalive_body(older->maxev_), .content_type = "application/json"});
  }
  return MHD_YES;
}

std::string HttpApi::poll_body(std::vector<Outgoing>& events, std::uint32_t maxev) {
  if (maxev <= 1 && events.size() == 1) return std::move(events.front().text);
  std::string body = "[";
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (i != 0) body += ',';
    body += events[i].text;
  }
  body += ']';
  return body;
}

void HttpApi::session_created(janus_transport_session* source, std::uint64_t session_id) {
  edge_.core().hold(source);
  auto session = std::make_shared<HttpSession>(session_id, source, edge_.outbox_limits(),
                                               &edge_.metrics().queued_bytes());
  std::shared_ptr<HttpSession> replaced;
  {
    std::lock_guard lock(sessions_mutex_);
    std::shared_ptr<HttpSession>& slot = sessions_[session_id];
    replaced = std::exchange(slot, std::move(session));
  }
  if (replaced != nullptr) {
    replaced->outbox.close();
    edge_.core().release(replaced->source);
  }
}

void HttpApi::session_over(std::uint64_t session_id) {
  std::shared_ptr<HttpSession> session;
  {
    std::lock_guard lock(sessions_mutex_);
    auto it = sessions_.find(session_id);
    if (it == sessions_.end()) return;
    session = std::move(it->second);
    sessions_.erase(it);
  }
  {
    // A poll waiting now gets its keepalive at its own timeout (tick()), as with Janus's HTTP
    // transport: answered at once, janus.js would poll again while its destroy is in flight
    // and log that poll's 404 as an error.
    std::lock_guard lock(session->mutex);
    session->poller.reset();
  }
  session->outbox.close();
  edge_.session_gone(session_id);
  // Called by the core with its locks held: only our reference goes, no call into the core.
  edge_.core().release(session->source);
}

void HttpApi::event(JsonPtr event) {
  const std::optional<std::int64_t> id = integer_member(event.get(), "session_id");
  if (!id || *id <= 0) return;
  std::shared_ptr<HttpSession> session = find(static_cast<std::uint64_t>(*id));
  if (session == nullptr) return;
  edge_.event(event.get());
  std::string text = serialize(event.get());
  event.reset();
  for (;;) {
    std::shared_ptr<HttpExchange> poller;
    bool overflow = false;
    {
      std::lock_guard lock(session->mutex);
      poller = std::move(session->poller);
      if (poller == nullptr) {
        overflow = session->outbox.push(std::move(text), Clock::now()) == Outbox::Push::kOverflow;
      }
    }
    if (poller == nullptr) {
      // Never from here (the core may hold its session lock): the ticker drops it.
      if (overflow) ticker_wake_.notify_all();
      return;
    }
    // text was moved from only when no poll waited, and that returned above.
    std::string body =
        poller->maxev_ > 1 ? "[" + text + "]" : text;  // NOLINT(bugprone-use-after-move)
    if (poller->answer(
            Response{.status = 200, .body = std::move(body), .content_type = "application/json"})) {
      return;
    }
    // That poll ended meanwhile (its client went): queue the event instead.
  }
}

void HttpApi::waiting(const std::shared_ptr<HttpExchange>& exchange) {
  std::lock_guard lock(waiting_mutex_);
  waiting_.insert(exchange);
}

void HttpApi::answered(const std::shared_ptr<HttpExchange>& exchange) {
  std::lock_guard lock(waiting_mutex_);
  waiting_.erase(exchange);
}

std::shared_ptr<HttpSession> HttpApi::find(std::uint64_t session_id) const {
  std::lock_guard lock(sessions_mutex_);
  auto it = sessions_.find(session_id);
  return it == sessions_.end() ? nullptr : it->second;
}

void HttpApi::drop(const std::shared_ptr<HttpSession>& session, Disconnect reason) {
  {
    std::lock_guard lock(sessions_mutex_);
    auto it = sessions_.find(session->id);
    if (it == sessions_.end() || it->second != session) return;  // gone meanwhile
    sessions_.erase(it);
  }
  std::shared_ptr<HttpExchange> poller;
  {
    std::lock_guard lock(session->mutex);
    poller = std::move(session->poller);
  }
  const std::size_t queued = session->outbox.size();
  session->outbox.close();
  if (poller != nullptr) {
    poller->answer(
        Response{.status = MHD_HTTP_NOT_FOUND,
                 .body = error_reply(kErrorSessionNotFound, "session dropped", "", session->id),
                 .content_type = "application/json"});
  }
  log_info(
      "http session %llu: slow consumer (%zu events waited, max_queued_messages = %u, "
      "send_timeout_ms = %u): its queue is dropped and the core told its transport is gone",
      static_cast<unsigned long long>(session->id), queued, edge_.config().max_queued_messages,
      edge_.config().send_timeout_ms);
  edge_.metrics().dropped(Transport::kHttp, reason);
  edge_.session_gone(session->id);
  edge_.core().transport_gone(session->source);
  edge_.core().release(session->source);
}

void HttpApi::run_ticker() noexcept {
  std::unique_lock lock(ticker_mutex_);
  while (!ticker_stop_) {
    ticker_wake_.wait_for(lock, kTickerPeriod);
    if (ticker_stop_) break;
    lock.unlock();
    guarded_void("edge http ticker", [this] { tick(Clock::now()); });
    lock.lock();
  }
}

void HttpApi::tick(Clock::time_point now) {
  std::vector<std::shared_ptr<HttpExchange>> due;
  {
    std::lock_guard lock(waiting_mutex_);
    for (const auto& exchange : waiting_) {
      if (exchange->deadline() <= now) due.push_back(exchange);
    }
  }
  for (const auto& exchange : due) {
    if (exchange->poll_session_ != 0) {
      bool mine = true;
      if (std::shared_ptr<HttpSession> session = find(exchange->poll_session_)) {
        std::lock_guard lock(session->mutex);
        mine = session->poller == exchange;
        if (mine) session->poller.reset();
      }
      if (mine) {
        exchange->answer(Response{.status = 200,
                                  .body = keepalive_body(exchange->maxev_),
                                  .content_type = "application/json"});
      }
    } else if (exchange->answer(
                   Response{.status = 200,
                            .body = error_reply(kErrorTransportSpecific,
                                                "the core did not answer within request_timeout_s",
                                                "", exchange->pending_.key.session_id),
                            .content_type = "application/json"})) {
      edge_.metrics().request(Transport::kHttp, exchange->pending_.verb, Result::kError);
    }
  }
  std::vector<std::shared_ptr<HttpSession>> slow;
  {
    std::lock_guard lock(sessions_mutex_);
    for (const auto& [id, session] : sessions_) {
      if (session->outbox.closed() || session->outbox.expired(now)) slow.push_back(session);
    }
  }
  for (const auto& session : slow) drop(session, Disconnect::kSlowConsumer);
}

}  // namespace jmedia::edge
