// The Janus REST API (as Janus 1.1.2's janus.transport.http serves it: POST /janus,
// /janus/<session>, /janus/<session>/<handle>, GET /janus/info, long polls GET /janus/<session>
// ?maxev=N, CORS headers and OPTIONS), on libmicrohttpd, with the edge's bounds.
//
// Every HTTP request is a transport session of its own for the core (as in Janus's transport):
// its answer comes back through that session and resumes the suspended MHD connection. Events
// of a Janus session created over HTTP are queued in that session's Outbox (bounded like a
// WebSocket connection's) until a long poll takes them; a session whose queue overflows, or
// whose oldest event has waited send_timeout_ms with no long poll to take it, is a slow
// consumer: its queue is dropped and the core is told its transport is gone (transport_gone on
// the request that created it), which ends it as for a client that left. One long poll waits
// per session at most (a newer one answers the older with a keepalive). Bodies are read up to
// max_message_bytes (beyond: 413), requests go through each connection's rate guard (over it:
// 429; for abuse_window_s: the connection is closed), connections over max_connections /
// max_connections_per_ip get 503.
//
// Threads: MHD's one polling thread runs every request (never waiting for the core); a ticker
// thread answers long polls and requests past their deadline and finds slow consumers; the
// core's threads deliver answers and events. Lock order: sessions_mutex_ -> a session's mutex ->
// an exchange's mutex; waiting_mutex_ is taken alone.
#pragma once

#include <microhttpd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "edge.h"
#include "mhd_server.h"
#include "outbox.h"

namespace jmedia::edge {

class HttpExchange;
struct HttpSession;

class HttpApi {
 public:
  explicit HttpApi(Edge& edge);
  ~HttpApi();
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  bool start(std::string& error);
  // Answers what still waits, stops MHD and the ticker.
  void stop() noexcept;
  std::uint16_t port() const { return mhd_.port(); }
  std::size_t sessions() const;

  // --- MHD's callbacks (implementation details) ----------------------------------------------
  MHD_Result on_request(MHD_Connection* connection, const char* url, const char* method,
                        const char* upload_data, std::size_t* upload_data_size, void** state);
  void on_completed(void** state);
  void on_connection(MHD_Connection* connection, void** socket_context,
                     MHD_ConnectionNotificationCode code);

  // --- from the exchanges (the core's threads) -----------------------------------------------
  void session_created(janus_transport_session* source, std::uint64_t session_id);
  void session_over(std::uint64_t session_id);
  void event(JsonPtr event);
  void waiting(const std::shared_ptr<HttpExchange>& exchange);
  void answered(const std::shared_ptr<HttpExchange>& exchange);
  Edge& edge() { return edge_; }

 private:
  MHD_Result route(const std::shared_ptr<HttpExchange>& exchange);
  MHD_Result queue(const std::shared_ptr<HttpExchange>& exchange, transport::Response response);
  MHD_Result respond(const std::shared_ptr<HttpExchange>& exchange, unsigned status,
                     std::string body, bool close = false);
  MHD_Result respond_too_big(const std::shared_ptr<HttpExchange>& exchange);
  static std::string poll_body(std::vector<Outgoing>& events, std::uint32_t maxev);
  MHD_Result long_poll(const std::shared_ptr<HttpExchange>& exchange, std::uint64_t session_id);
  MHD_Result forward(const std::shared_ptr<HttpExchange>& exchange, ClientRequest request);
  std::shared_ptr<HttpSession> find(std::uint64_t session_id) const;
  // Drops a slow consumer's session (its queue, and the core's session through transport_gone).
  void drop(const std::shared_ptr<HttpSession>& session, Disconnect reason);
  void run_ticker() noexcept;
  void tick(Clock::time_point now);

  Edge& edge_;
  transport::MhdServer mhd_{"edge http"};

  mutable std::mutex sessions_mutex_;
  std::unordered_map<std::uint64_t, std::shared_ptr<HttpSession>> sessions_;

  std::mutex waiting_mutex_;
  std::unordered_set<std::shared_ptr<HttpExchange>> waiting_;

  std::mutex ticker_mutex_;
  std::condition_variable ticker_wake_;
  bool ticker_stop_ = false;
  std::thread ticker_;
};

}  // namespace jmedia::edge
