// A minimal blocking WebSocket client for the edge's tests (RFC 6455, client side): the
// upgrade with subprotocol janus-protocol, masked text frames out, frames in with a bounded
// wait. Raw enough to misbehave on purpose: never read, claim a huge frame, ignore pings.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

namespace jmedia::testing {

struct WsFrame {
  int opcode = 0;  // 1 text, 8 close, 9 ping, 10 pong
  std::string payload;
  // A close frame's code (0 when none).
  int close_code() const {
    return opcode == 8 && payload.size() >= 2 ? (static_cast<unsigned char>(payload[0]) << 8) |
                                                    static_cast<unsigned char>(payload[1])
                                              : 0;
  }
  std::string close_reason() const { return payload.size() > 2 ? payload.substr(2) : ""; }
};

class WsClient {
 public:
  // receive_buffer: SO_RCVBUF to ask for (0: the default), small to make the server choke.
  // stall_with: bytes sent instead of the upgrade request, whose handshake then never ends.
  explicit WsClient(std::uint16_t port, int receive_buffer = 0, const char* from = "127.0.0.1",
                    const char* stall_with = nullptr) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (receive_buffer > 0) {
      setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    sockaddr_in local{};
    local.sin_family = AF_INET;
    inet_pton(AF_INET, from, &local.sin_addr);
    bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return;
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const std::string upgrade =
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: janus-protocol\r\n\r\n";
    if (stall_with != nullptr) {
      send_all(stall_with);
      return;
    }
    if (!send_all(upgrade)) return;
    // The 101 response, up to its blank line.
    std::string head;
    while (head.find("\r\n\r\n") == std::string::npos) {
      char c;
      if (!read_exact(&c, 1, 5000)) return;
      head += c;
    }
    open_ = head.rfind("HTTP/1.1 101", 0) == 0;
  }
  ~WsClient() {
    if (fd_ >= 0) close(fd_);
  }
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  bool open() const { return open_; }

  bool send_text(const std::string& text) { return send_frame(1, text, true); }
  bool send_pong(const std::string& payload) { return send_frame(10, payload, true); }
  // A frame header that announces length bytes, then only the bytes given.
  bool send_partial(std::uint64_t length, const std::string& first_bytes) {
    return send_all(header(1, length, true) + masked(first_bytes));
  }
  bool send_frame(int opcode, const std::string& payload, bool fin) {
    return send_all(header(opcode, payload.size(), fin) + masked(payload));
  }

  // The next frame, or nullopt at the deadline or when the server closed the socket.
  std::optional<WsFrame> read(int timeout_ms = 5000) {
    unsigned char head[2];
    if (!read_exact(head, 2, timeout_ms)) return std::nullopt;
    WsFrame frame;
    frame.opcode = head[0] & 0x0f;
    std::uint64_t length = head[1] & 0x7f;
    if (length == 126) {
      unsigned char ext[2];
      if (!read_exact(ext, 2, timeout_ms)) return std::nullopt;
      length = (std::uint64_t{ext[0]} << 8) | ext[1];
    } else if (length == 127) {
      unsigned char ext[8];
      if (!read_exact(ext, 8, timeout_ms)) return std::nullopt;
      length = 0;
      for (unsigned char b : ext) length = (length << 8) | b;
    }
    frame.payload.resize(length);
    if (length != 0 && !read_exact(frame.payload.data(), length, timeout_ms)) return std::nullopt;
    return frame;
  }
  // Frames until a text frame (answering pings when asked), or nullopt.
  std::optional<WsFrame> read_text(int timeout_ms = 5000, bool answer_pings = true) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            deadline - std::chrono::steady_clock::now())
                                            .count());
      if (left <= 0) return std::nullopt;
      std::optional<WsFrame> frame = read(left);
      if (!frame) return std::nullopt;
      if (frame->opcode == 9) {
        if (answer_pings) send_pong(frame->payload);
        continue;
      }
      return frame;
    }
  }
  // Reads (and drops) frames until a close frame or the end of the stream; the close frame if
  // one came.
  std::optional<WsFrame> read_until_close(int timeout_ms = 10000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            deadline - std::chrono::steady_clock::now())
                                            .count());
      if (left <= 0) return std::nullopt;
      std::optional<WsFrame> frame = read(left);
      if (!frame) return std::nullopt;
      if (frame->opcode == 8) return frame;
    }
  }
  // Whether the server closed the TCP connection (reads until EOF or the deadline).
  bool closed_by_server(int timeout_ms = 10000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    char buffer[65536];
    for (;;) {
      const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            deadline - std::chrono::steady_clock::now())
                                            .count());
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, left) <= 0) continue;
      const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) return true;
    }
  }

 private:
  static std::string header(int opcode, std::uint64_t length, bool fin) {
    std::string out;
    out += static_cast<char>((fin ? 0x80 : 0) | opcode);
    if (length < 126) {
      out += static_cast<char>(0x80 | length);
    } else if (length < 65536) {
      out += static_cast<char>(0x80 | 126);
      out += static_cast<char>(length >> 8);
      out += static_cast<char>(length & 0xff);
    } else {
      out += static_cast<char>(0x80 | 127);
      for (int shift = 56; shift >= 0; shift -= 8)
        out += static_cast<char>((length >> shift) & 0xff);
    }
    out += std::string("\x01\x02\x03\x04", 4);  // the mask
    return out;
  }
  static std::string masked(const std::string& payload) {
    std::string out = payload;
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(out[i] ^ ((i % 4) + 1));
    return out;
  }
  bool send_all(const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }
  bool read_exact(void* out, std::size_t size, int timeout_ms) {
    auto* bytes = static_cast<char*>(out);
    std::size_t got = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (got < size) {
      const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            deadline - std::chrono::steady_clock::now())
                                            .count());
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, left) <= 0) continue;
      const ssize_t n = recv(fd_, bytes + got, size - got, 0);
      if (n <= 0) return false;
      got += static_cast<std::size_t>(n);
    }
    return true;
  }

  int fd_ = -1;
  bool open_ = false;
};

}  // namespace jmedia::testing
