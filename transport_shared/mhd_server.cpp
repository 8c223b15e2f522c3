#include "mhd_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdarg>
#include <cstdio>
#include <memory>

#include "../common/log.h"

namespace jmedia::transport {
namespace {

struct ResponseDestroy {
  void operator()(MHD_Response* response) const noexcept { MHD_destroy_response(response); }
};

__attribute__((format(printf, 2, 0))) void on_library_message(void* cls, const char* format,
                                                              va_list args) noexcept {
  char message[512];
  std::vsnprintf(message, sizeof message, format, args);
  std::size_t length = std::char_traits<char>::length(message);
  while (length > 0 && (message[length - 1] == '\n' || message[length - 1] == '\r')) {
    message[--length] = '\0';
  }
  static_cast<MhdServer*>(cls)->library_message(message);
}

}  // namespace

bool is_numeric_ip(const std::string& text) {
  unsigned char buffer[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

std::string endpoint(const std::string& ip, std::uint16_t port) {
  const bool v6 = ip.find(':') != std::string::npos;
  return (v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

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

const sockaddr* peer_address(MHD_Connection* connection) noexcept {
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  return info != nullptr ? info->client_addr : nullptr;
}

MHD_Result queue_response(MHD_Connection* connection, const Response& response) {
  // MUST_COPY: the body lives in the caller's Response, which is gone when MHD sends it.
  std::unique_ptr<MHD_Response, ResponseDestroy> out(MHD_create_response_from_buffer(
      response.body.size(), const_cast<char*>(response.body.data()), MHD_RESPMEM_MUST_COPY));
  if (!out) return MHD_NO;
  MHD_add_response_header(out.get(), MHD_HTTP_HEADER_CONTENT_TYPE, response.content_type.c_str());
  MHD_add_response_header(out.get(), MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  for (const auto& [name, value] : response.headers) {
    MHD_add_response_header(out.get(), name.c_str(), value.c_str());
  }
  return MHD_queue_response(connection, response.status, out.get());
}

MhdServer::MhdServer(std::string log_prefix) : log_prefix_(std::move(log_prefix)) {}

MhdServer::~MhdServer() {
  stop();
}

bool MhdServer::start(const MhdOptions& options, const MhdCallbacks& callbacks,
                      std::string& error) {
  if (daemon_ != nullptr) {
    error = "already running";
    return false;
  }
  if (callbacks.request == nullptr) {
    error = "no request handler";
    return false;
  }
  sockaddr_storage address{};
  unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
  if (options.suspend_resume) flags |= MHD_ALLOW_SUSPEND_RESUME;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
  if (inet_pton(AF_INET, options.ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(options.port);
  } else if (inet_pton(AF_INET6, options.ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(options.port);
    flags |= MHD_USE_IPv6;
  } else {
    error = "invalid listen address '" + options.ip + "' (expected a numeric IPv4 or IPv6 address)";
    return false;
  }

  // The logger goes first: MHD reports problems with the options that follow through it.
  std::vector<MHD_OptionItem> items;
  items.push_back(
      {MHD_OPTION_EXTERNAL_LOGGER, reinterpret_cast<intptr_t>(&on_library_message), this});
  items.push_back({MHD_OPTION_SOCK_ADDR, 0, &address});
  items.push_back({MHD_OPTION_CONNECTION_LIMIT, options.connection_limit, nullptr});
  items.push_back({MHD_OPTION_CONNECTION_TIMEOUT, options.connection_timeout_seconds, nullptr});
  if (options.per_ip_connection_limit != 0) {
    items.push_back({MHD_OPTION_PER_IP_CONNECTION_LIMIT, options.per_ip_connection_limit, nullptr});
  }
  if (options.connection_memory_limit != 0) {
    items.push_back({MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                     static_cast<intptr_t>(options.connection_memory_limit), nullptr});
  }
  if (callbacks.completed != nullptr) {
    items.push_back({MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(callbacks.completed),
                     callbacks.completed_cls});
  }
  if (callbacks.uri != nullptr) {
    items.push_back({MHD_OPTION_URI_LOG_CALLBACK, reinterpret_cast<intptr_t>(callbacks.uri),
                     callbacks.uri_cls});
  }
  // A pool of one is no pool: MHD then polls on its one internal thread.
  if (options.threads > 1) {
    items.push_back({MHD_OPTION_THREAD_POOL_SIZE, options.threads, nullptr});
  }
  if (callbacks.connection != nullptr) {
    items.push_back({MHD_OPTION_NOTIFY_CONNECTION, reinterpret_cast<intptr_t>(callbacks.connection),
                     callbacks.connection_cls});
  }
  items.push_back({MHD_OPTION_END, 0, nullptr});

  {
    std::lock_guard lock(start_messages_mutex_);
    start_messages_.clear();
  }
  starting_.store(true);
  daemon_ = MHD_start_daemon(flags, options.port, nullptr, nullptr, callbacks.request,
                             callbacks.request_cls, MHD_OPTION_ARRAY, items.data(), MHD_OPTION_END);
  starting_.store(false);
  std::vector<std::string> messages;
  {
    std::lock_guard lock(start_messages_mutex_);
    messages.swap(start_messages_);
  }

  if (daemon_ == nullptr) {
    error = "cannot listen on " + endpoint(options.ip, options.port) + ": ";
    if (messages.empty()) error += "libmicrohttpd could not start";
    for (std::size_t i = 0; i < messages.size(); ++i) error += (i ? "; " : "") + messages[i];
    return false;
  }
  for (const auto& message : messages) log_warn("%s: %s", log_prefix_.c_str(), message.c_str());
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  port_ = info != nullptr ? info->port : options.port;
  return true;
}

void MhdServer::stop() noexcept {
  if (daemon_ == nullptr) return;
  MHD_stop_daemon(daemon_);  // closes the listen socket and joins the server thread
  daemon_ = nullptr;
  port_ = 0;
}

void MhdServer::library_message(const char* message) noexcept {
  if (starting_.load()) {
    try {
      std::lock_guard lock(start_messages_mutex_);
      start_messages_.emplace_back(message);
      return;
    } catch (...) {
      // Out of memory: log it instead.
    }
  }
  log_warn("%s: %s", log_prefix_.c_str(), message);
}

}  // namespace jmedia::transport
