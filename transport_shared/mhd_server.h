// A libmicrohttpd daemon on one numeric address, with its errors reported in one line: what
// janus.transport.prometheus (operators' endpoint) and janus.transport.edge (the Janus API)
// share. The owner supplies MHD's own callbacks (request, completed, connection, URI); this class
// only binds, starts MHD's internal polling thread (or its thread pool), reports the bound port
// and joins the threads on stop(). Responses built as a Response are queued with
// queue_response().
#pragma once

#include <microhttpd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace jmedia::transport {

struct MhdOptions {
  std::string ip = "127.0.0.1";  // numeric IPv4 or IPv6 address
  std::uint16_t port = 0;        // 0: any free port (see port())
  unsigned connection_limit = 64;
  unsigned connection_timeout_seconds = 10;
  unsigned per_ip_connection_limit = 0;     // 0: no limit of MHD's own
  std::size_t connection_memory_limit = 0;  // bytes per connection for headers; 0: MHD's default
  bool suspend_resume = false;              // answers may come later (MHD_resume_connection)
  unsigned threads = 1;                     // MHD's polling threads (its thread pool when > 1)
};

// MHD's callbacks and their closures; only `request` is required.
struct MhdCallbacks {
  MHD_AccessHandlerCallback request = nullptr;
  void* request_cls = nullptr;
  MHD_RequestCompletedCallback completed = nullptr;
  void* completed_cls = nullptr;
  MHD_NotifyConnectionCallback connection = nullptr;
  void* connection_cls = nullptr;
  // Called first for each request with its target as sent (path and query, not decoded); what
  // it returns is the request's initial *request_state (MHD_OPTION_URI_LOG_CALLBACK).
  void* (*uri)(void* cls, const char* uri, MHD_Connection* connection) = nullptr;
  void* uri_cls = nullptr;
};

// One answer, independent of the HTTP library.
struct Response {
  unsigned status = 200;
  std::string body;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (may repeat)
};

// Queues response on connection (the body is copied). For HEAD, MHD sends the same headers
// (Content-Length included) and no body.
MHD_Result queue_response(MHD_Connection* connection, const Response& response);

class MhdServer {
 public:
  // log_prefix: what MHD's later messages are logged under ("http", "edge http").
  explicit MhdServer(std::string log_prefix);
  ~MhdServer();
  MhdServer(const MhdServer&) = delete;
  MhdServer& operator=(const MhdServer&) = delete;

  // Binds ip:port and starts the server thread. On failure (bad address, port taken, no
  // thread) returns false with a one-line reason in error, and nothing is left open.
  bool start(const MhdOptions& options, const MhdCallbacks& callbacks, std::string& error);
  // Stops accepting, lets the request in progress finish and joins the thread. Idempotent.
  void stop() noexcept;
  bool running() const { return daemon_ != nullptr; }
  // The bound port (the chosen one when options.port was 0); 0 when not running.
  std::uint16_t port() const { return port_; }
  MHD_Daemon* daemon() const { return daemon_; }

  // Called by MHD's error logger.
  void library_message(const char* message) noexcept;

 private:
  const std::string log_prefix_;
  MHD_Daemon* daemon_ = nullptr;
  std::uint16_t port_ = 0;
  // While start() runs, library messages are kept for its error instead of being logged.
  std::atomic<bool> starting_{false};
  std::mutex start_messages_mutex_;
  std::vector<std::string> start_messages_;
};

// Whether address (an IPv4 or IPv6 socket address) is a loopback one: 127.0.0.0/8, ::1, or
// ::ffff:127.0.0.0/104 (IPv4 loopback on a dual-stack socket). Any address of the machine's
// other interfaces is not: a client connecting from it may be anywhere a route leads to.
bool is_loopback(const sockaddr* address) noexcept;
// The client's address of connection (MHD_CONNECTION_INFO_CLIENT_ADDRESS); nullptr if unknown.
const sockaddr* peer_address(MHD_Connection* connection) noexcept;

// Whether text is a numeric IPv4 or IPv6 address (what MhdServer listens on).
bool is_numeric_ip(const std::string& text);

// "ip:port", with brackets around an IPv6 address.
std::string endpoint(const std::string& ip, std::uint16_t port);

}  // namespace jmedia::transport
