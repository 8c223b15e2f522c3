#include "http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace jmedia::testing {
namespace {

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

}  // namespace

std::string HttpReply::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

std::optional<HttpReply> http_request(std::uint16_t port, const std::string& method,
                                      const std::string& path,
                                      const std::vector<std::string>& headers, std::string& error,
                                      int timeout_ms, const std::string& body) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto remaining_ms = [&] {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return static_cast<int>(std::max<std::int64_t>(0, left.count()));
  };

  Fd sock{socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (sock.fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return std::nullopt;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(sock.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    error = std::string("connect: ") + std::strerror(errno);
    return std::nullopt;
  }

  std::string request =
      method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "Connection: close\r\n";
  for (const auto& line : headers) request += line + "\r\n";
  if (!body.empty()) request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  request += "\r\n" + body;
  std::size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = send(sock.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // The server may answer and close before reading a body it refuses: read what it sent.
      if (sent > 0 && !body.empty()) break;
      error = std::string("send: ") + std::strerror(errno);
      return std::nullopt;
    }
    sent += static_cast<std::size_t>(n);
  }

  std::string raw;
  char buffer[4096];
  for (;;) {
    pollfd waiting{sock.fd, POLLIN, 0};
    int ready = poll(&waiting, 1, remaining_ms());
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      error = "timed out waiting for the reply (got " + std::to_string(raw.size()) + " bytes)";
      return std::nullopt;
    }
    if (ready < 0) {
      error = std::string("poll: ") + std::strerror(errno);
      return std::nullopt;
    }
    ssize_t n = recv(sock.fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ECONNRESET && !raw.empty()) break;
    if (n < 0) {
      error = std::string("recv: ") + std::strerror(errno);
      return std::nullopt;
    }
    if (n == 0) break;
    raw.append(buffer, static_cast<std::size_t>(n));
  }

  const auto end_of_headers = raw.find("\r\n\r\n");
  if (end_of_headers == std::string::npos) {
    error = "no end of headers in: " + raw;
    return std::nullopt;
  }
  HttpReply reply;
  std::size_t line_start = 0;
  bool first = true;
  while (line_start < end_of_headers) {
    std::size_t line_end = raw.find("\r\n", line_start);
    std::string line = raw.substr(line_start, line_end - line_start);
    line_start = line_end + 2;
    if (first) {
      first = false;
      // "HTTP/1.1 200 OK"
      if (line.rfind("HTTP/1.", 0) != 0 || line.size() < 12) {
        error = "bad status line: " + line;
        return std::nullopt;
      }
      reply.status = std::stoi(line.substr(9, 3));
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    reply.headers.emplace(lower(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }
  reply.body = raw.substr(end_of_headers + 4);
  return reply;
}

double sample_value(const std::string& exposition, const std::string& series) {
  const std::string prefix = series + " ";
  std::size_t pos = 0;
  while (pos < exposition.size()) {
    std::size_t end = exposition.find('\n', pos);
    if (end == std::string::npos) end = exposition.size();
    const std::string line = exposition.substr(pos, end - pos);
    if (line.rfind(prefix, 0) == 0) return std::strtod(line.c_str() + prefix.size(), nullptr);
    pos = end + 1;
  }
  return -1;
}

}  // namespace jmedia::testing
